//! Wires the parts together: command line → config → checks context →
//! runner → HTTP server, plus signals and graceful shutdown. `main` only
//! maps the result to an exit code.

use std::fmt;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use crate::checks::CheckId;
use crate::checks::Ctx;
use crate::config::cli::{self, Command};
use crate::config::{Config, ConfigError, LogFormat, Raw};
use crate::metrics::Metrics;
use crate::runner::Runner;
use crate::server::{self, Limits, Shared};
use crate::server::{agent, report, tls};
use crate::{log, sys};

/// After SIGTERM, in-flight requests get this long to finish (the process
/// must be gone within 2 s).
const DRAIN_TIMEOUT: Duration = Duration::from_millis(1800);
/// Longest wait for the first Node state before listening (see `serve`).
const STARTUP_STATE_WAIT: Duration = Duration::from_secs(3);

/// A fatal error, worded for the operator.
#[derive(Debug)]
pub enum Error {
    /// Bad configuration or usage: exit status 2.
    Config(ConfigError),
    /// The service could not start (port taken, ...): exit status 1.
    Startup(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            Error::Startup(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => e.fmt(f),
            Error::Startup(s) => f.write_str(s),
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}

/// Runs the command line; returns the process exit code.
pub fn run(args: &[String]) -> Result<i32, Error> {
    // A client of the running service: needs none of its configuration.
    if args.first().is_some_and(|a| a == "status") {
        return Ok(crate::status_cli::run(&args[1..])?);
    }
    let (command, flags) = cli::parse_args(args)?;
    match command {
        Command::Help => {
            print!("{}", cli::help_text());
            return Ok(0);
        }
        Command::Version => {
            // The commit comes from build.rs ("unknown" when built without git).
            println!(
                "harmony-node-readiness-endpoint {} (commit {})",
                env!("CARGO_PKG_VERSION"),
                env!("HNRE_GIT_COMMIT")
            );
            return Ok(0);
        }
        Command::Serve | Command::Check(_) => {}
    }
    let raw = Raw::new(|k| std::env::var(k).ok(), &flags)?;
    let config = Config::from_raw(&raw)?;
    log::set_json(config.log_format == LogFormat::Json);
    // Before anything starts: bad TLS files are a one-line exit 2.
    let tls = match (&command, &config.tls) {
        (Command::Serve, Some(f)) => {
            Some(tls::server_config(&f.cert, &f.key, f.client_ca.as_deref()).map_err(ConfigError)?)
        }
        _ => None,
    };
    // Serving: before any thread starts, so that every thread inherits the
    // mask and SIGTERM means a graceful stop. The one-shot `check` keeps the
    // default dispositions: Ctrl-C or a timeout's SIGTERM end it at once.
    if command == Command::Serve {
        sys::block_termination_signals().map_err(|e| Error::Startup(format!("cannot block signals: {e}")))?;
    }
    let metrics = Arc::new(Metrics::new());
    // The watchers keep the stores current in the background; the checks
    // only read them.
    let node = crate::kube::start(&config);
    let services = crate::kube::start_services(&config);
    metrics.add_renderer(crate::kube::metrics::renderer(node.clone(), services.clone()));
    let ctx = Arc::new(Ctx::new(config, node, services));
    let runner = Arc::new(Runner::new(ctx.clone(), metrics));
    match command {
        Command::Check(names) => Ok(check_once(&runner, names)),
        _ => serve(runner, &raw, tls),
    }
}

/// `check` subcommand: runs the checks once, prints the /health JSON,
/// returns 0 when ready, 1 when not.
fn check_once(runner: &Runner, ids: Option<Vec<CheckId>>) -> i32 {
    let ctx = runner.ctx();
    let ids = ids.unwrap_or_else(|| ctx.config.default_checks.clone());
    let longest = ids.iter().map(|&id| ctx.config.timeout_for(id)).max().unwrap_or_default();
    ctx.prepare_one_shot(&ids, Instant::now() + longest);
    let results = runner.run(&ids);
    print!("{}", String::from_utf8_lossy(&report::health(&results)));
    if report::ready(&results) { 0 } else { 1 }
}

/// The HAProxy agent-check listener, on its own accept thread; it shares
/// the connection limits of the HTTP listener and stops with the process.
fn start_agent(addr: Option<std::net::IpAddr>, port: u16, shared: &Arc<Shared>) -> Result<(), Error> {
    let listener = server::bind(addr, port)
        .map_err(|e| Error::Startup(format!("cannot listen on LISTEN_ADDRESS/AGENT_PORT port {port}: {e}")))?;
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    log::info(&format!("HAProxy agent-check answering on {local}"));
    let shared = shared.clone();
    std::thread::Builder::new()
        .name("agent-accept".into())
        .spawn(move || server::serve_with(&listener, &shared, agent::handle))
        .map_err(|e| Error::Startup(format!("cannot start the agent-check thread: {e}")))?;
    Ok(())
}

fn serve(runner: Arc<Runner>, raw: &Raw, tls: Option<Arc<ServerConfig>>) -> Result<i32, Error> {
    let config = &runner.ctx().config;
    // During a rolling update the new pod shares the port with the old one
    // (SO_REUSEPORT) and gets half the probes as soon as it binds: give the
    // first list a moment, so it does not answer "node state unknown" while
    // the old pod still knows. Bounded: an unreachable API delays start only
    // this long (the DaemonSet's minReadySeconds is longer).
    let served: Vec<CheckId> = config.default_checks.iter().chain(&config.agent_checks).copied().collect();
    runner.ctx().prepare_one_shot(&served, Instant::now() + STARTUP_STATE_WAIT);
    let listener = server::bind(config.listen_address, config.listen_port).map_err(|e| {
        Error::Startup(format!("cannot listen on LISTEN_ADDRESS/LISTEN_PORT port {}: {e}", config.listen_port))
    })?;
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    log::info(&format!(
        "harmony-node-readiness-endpoint {} listening on {local}; node {} (from {}); effective config: {}",
        env!("CARGO_PKG_VERSION"),
        config.node_name,
        config.node_name_source,
        raw.summary()
    ));
    let limits = Limits {
        max_connections: config.max_connections,
        max_connections_per_client: config.max_connections_per_client,
    };
    let shared = Shared::new(runner.clone(), limits, tls);
    if let Some(port) = config.agent_port {
        start_agent(config.listen_address, port, &shared)?;
    }
    if let Err(e) = sys::sd_notify::ready() {
        log::warn_limited("sd_notify", &e);
    }
    let fd = listener.as_raw_fd();
    let on_signal = shared.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let sig = sys::wait_termination_signal();
            log::info(&format!("signal {sig}: no longer accepting; finishing in-flight requests"));
            on_signal.begin_shutdown();
            sys::shutdown_listener(fd);
        })
        .map_err(|e| Error::Startup(format!("cannot start the signal thread: {e}")))?;
    server::serve(&listener, &shared);
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while shared.in_flight() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    log::info(&format!("stopped ({} requests still in flight)", shared.in_flight()));
    Ok(0)
}
