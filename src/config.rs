//! Every knob of the service in one table: environment variable, matching
//! `--flag`, default and `--help` text, then typed parsing and validation.
//! A bad value becomes a [`ConfigError`] naming the variable; `main` prints it
//! on one line and exits with status 2.
//!
//! The flag for `LISTEN_PORT` is `--listen-port` (`--listen-port 1` or
//! `--listen-port=1`); a flag wins over the environment.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::checks;

mod service_ref;
pub use service_ref::{ServiceRef, parse_service_refs};

/// One configuration knob.
pub struct Knob {
    pub env: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

const fn knob(env: &'static str, default: &'static str, help: &'static str) -> Knob {
    Knob { env, default, help }
}

/// Every knob, in `--help` order. Sections per subsystem keep edits apart.
pub const KNOBS: &[Knob] = &[
    // --- service core
    knob(
        "NODE_NAME",
        "",
        "Name of this Kubernetes Node; empty = the hostname lowercased, the kubelet's default (DaemonSet: fieldRef spec.nodeName)",
    ),
    knob("LISTEN_ADDRESS", "", "Address to bind; empty = dual-stack [::], falling back to 0.0.0.0 when IPv6 is off"),
    knob("LISTEN_PORT", "25001", "TCP port of /health, /livez, /metrics (0 = any free port, logged at start)"),
    knob("DEFAULT_CHECKS", "node_ready", "Checks a bare GET /health runs (comma-separated)"),
    knob("CHECK_TIMEOUT_MS", "1000", "Deadline of one check run; past it the check reports 'timed out'"),
    knob("CHECK_TIMEOUTS_MS", "", "Per-check deadline overrides, e.g. network=2000,disk_pressure=3000"),
    knob("CHECK_MIN_INTERVAL_MS", "500", "A check result younger than this is reused (0 = run on every request)"),
    knob("MAX_CONNECTIONS", "512", "Concurrent HTTP connections; more are closed at once"),
    knob("MAX_CONNECTIONS_PER_CLIENT", "32", "Concurrent HTTP connections from one client address"),
    knob("LOG_FORMAT", "text", "Log line format on stderr: text or json"),
    // --- local HTTP probes
    knob("KUBELET_HEALTHZ_URL", "http://127.0.0.1:10248/healthz", "URL probed by the kubelet check"),
    knob("OKD_ROUTER_HEALTHZ_URL", "http://127.0.0.1:1936/healthz/ready", "URL probed by the okd_router_1936 check"),
    knob("KUBE_PROXY_HEALTHZ_URL", "http://127.0.0.1:10256/healthz", "URL probed by the kube_proxy check"),
    knob("LOCAL_HTTP_CA_FILE", "", "CA bundle for https:// probe URLs; empty = no verification for loopback hosts"),
    // --- Kubernetes API (node_ready, custom_conditions, node_eligible)
    knob("KUBECONFIG", "", "kubeconfig file(s), ':'-separated (e.g. /etc/kubernetes/kubelet.conf); empty = in-cluster"),
    knob("KUBERNETES_SERVICE_HOST", "", "API server address; Kubernetes sets it in every pod (in-cluster mode)"),
    knob("KUBERNETES_SERVICE_PORT", "443", "API server port; Kubernetes sets it in every pod (in-cluster mode)"),
    knob(
        "KUBERNETES_SERVICEACCOUNT_DIR",
        "/var/run/secrets/kubernetes.io/serviceaccount",
        "Folder with the in-cluster token and ca.crt",
    ),
    knob("NODE_POLL_INTERVAL_SECONDS", "5", "GET interval when RBAC forbids list/watch on nodes (fallback mode)"),
    knob(
        "NODE_STATE_MAX_STALENESS_SECONDS",
        "0",
        "API checks report unknown when the API has not answered for this long (0 = keep the last known state); a quiet watch is confirmed with a cheap list after half of it",
    ),
    knob(
        "NODE_WATCH_IDLE_TIMEOUT_SECONDS",
        "150",
        "A node watch silent this long (no event, no bookmark) is replaced; 2.5x the ~60 s bookmark period",
    ),
    knob("NODE_API_TIMEOUT_MS", "10000", "Deadline of one list/get request to the API server"),
    knob(
        "CUSTOM_CONDITIONS",
        "",
        "Conditions custom_conditions checks: Type (bad when True) or Type=True|False (required); empty = any non-Ready condition True is bad",
    ),
    knob("NODE_ELIGIBLE_IGNORE_CORDON", "false", "node_eligible passes on a cordoned (spec.unschedulable) node"),
    knob(
        "SERVICE_ENDPOINTS",
        "",
        "Services (namespace/name,…) service_endpoints requires a ready, non-terminating endpoint of on this node (EndpointSlice watch)",
    ),
    // --- host checks (filesystem_ro, disk_pressure, network)
    knob("HOST_ROOT", "/", "Where the host's / is mounted (container: /host/root); host paths are read below it"),
    knob("HOST_PROC", "/proc", "Where the host's /proc is mounted (container: /host/proc, with hostPID)"),
    knob(
        "FILESYSTEM_RO_PATHS",
        "/var,/var/lib/kubelet,/var/lib/containers,/var/lib/containerd,/var/log,/etc",
        "Host paths filesystem_ro requires writable (absent paths are skipped)",
    ),
    knob(
        "DISK_PRESSURE_PATHS",
        "/,/var,/var/lib/kubelet,/var/lib/containerd,/var/lib/containers",
        "Host paths disk_pressure judges (absent paths skipped, each filesystem once)",
    ),
    knob("MIN_FREE_PERCENT", "10", "disk_pressure fails below this percentage of free space (f_bavail)"),
    knob("MIN_FREE_INODES_PERCENT", "5", "disk_pressure fails below this percentage of free inodes (f_favail)"),
    knob("NETWORK_DNS_NAME", "", "Name that must resolve to an A/AAAA record; empty = ask the root NS (any answer)"),
    knob("NETWORK_DNS_TIMEOUT_MS", "500", "Wait for a DNS answer (the next nameserver is tried halfway)"),
    knob("NETWORK_GATEWAYS", "", "Gateways to ping (ip,ip; fe80::1%eth0); empty = default routes; none = skip"),
    knob("NETWORK_PING_TIMEOUT_MS", "500", "Wait for an ICMP echo reply from each gateway (echo resent meanwhile)"),
    // --- container runtime
    knob(
        "CONTAINER_RUNTIME_ENDPOINT",
        "",
        "CRI socket (unix:///run/containerd/containerd.sock or a path), taken as given; empty = first existing of containerd, CRI-O, cri-dockerd defaults under HOST_ROOT",
    ),
    knob("CONTAINER_RUNTIME_REQUIRE_NETWORK", "true", "container_runtime also requires the CRI NetworkReady condition"),
    // --- operations (metrics, agent-check, TLS)
    knob(
        "AGENT_PORT",
        "",
        "TCP port of the HAProxy agent-check answer (same LISTEN_ADDRESS; unset = off; 0 = any free port)",
    ),
    knob(
        "AGENT_CHECKS",
        "",
        "Checks behind the agent-check answer (comma-separated; unset = DEFAULT_CHECKS + node_eligible)",
    ),
    knob("TLS_CERT_FILE", "", "PEM certificate chain: serve /health over HTTPS (re-read when the file changes)"),
    knob("TLS_KEY_FILE", "", "PEM private key of TLS_CERT_FILE (required with it)"),
    knob("TLS_CLIENT_CA_FILE", "", "PEM CA bundle: with TLS, require a client certificate signed by it"),
];

/// A configuration problem, worded for the operator: names the variable
/// and what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn bad(env: &str, value: &str, allowed: &str) -> ConfigError {
    ConfigError(format!("invalid {env}={value:?}: {allowed}"))
}

/// Effective string value of every knob: default, then environment, then flag.
pub struct Raw {
    values: HashMap<&'static str, String>,
    /// Knobs set by a `--flag` (the others come from the environment or the default).
    from_flag: Vec<&'static str>,
    /// The kernel hostname, NODE_NAME's fallback (read once, in [`Raw::new`]).
    hostname: Option<String>,
}

/// Where the node name came from, for the start line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NodeNameSource {
    Env,
    Flag,
    /// NODE_NAME empty or unset: the hostname, lowercased (the kubelet's default).
    Hostname,
}

impl fmt::Display for NodeNameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeNameSource::Env => "env NODE_NAME",
            NodeNameSource::Flag => "flag --node-name",
            NodeNameSource::Hostname => "hostname",
        })
    }
}

/// The hostname as the kubelet reads it (Go's `os.Hostname` on Linux reads
/// this file first): the UTS namespace's name, so with `hostNetwork` the node's.
pub fn kernel_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl Raw {
    /// Builds the raw values from an environment lookup and `--flag` arguments.
    pub fn new(env: impl Fn(&str) -> Option<String>, flags: &[(String, String)]) -> Result<Raw, ConfigError> {
        Raw::with_hostname(env, flags, kernel_hostname())
    }

    /// [`Raw::new`] with the hostname given (tests).
    pub fn with_hostname(
        env: impl Fn(&str) -> Option<String>,
        flags: &[(String, String)],
        hostname: Option<String>,
    ) -> Result<Raw, ConfigError> {
        let mut values = HashMap::new();
        for k in KNOBS {
            let v = env(k.env).unwrap_or_else(|| k.default.to_string());
            values.insert(k.env, v);
        }
        let mut from_flag = Vec::new();
        for (flag, value) in flags {
            let knob =
                knob_for_flag(flag).ok_or_else(|| ConfigError(format!("unknown option --{flag} (see --help)")))?;
            values.insert(knob.env, value.clone());
            from_flag.push(knob.env);
        }
        Ok(Raw { values, from_flag, hostname })
    }

    /// NODE_NAME as given, else the hostname, lowercased both ways (the
    /// kubelet names its Node after the lowercased hostname, so
    /// `NODE_NAME=$(hostname)` must work on a host called `Worker-1` too).
    fn node_name(&self) -> Result<(String, NodeNameSource), ConfigError> {
        let given = self.str("NODE_NAME");
        if !given.is_empty() {
            let source = if self.from_flag.contains(&"NODE_NAME") { NodeNameSource::Flag } else { NodeNameSource::Env };
            let name = given.to_ascii_lowercase();
            validate_node_name(&name)?;
            return Ok((name, source));
        }
        let Some(host) = &self.hostname else {
            return Err(ConfigError(
                "NODE_NAME is not set and the hostname cannot be read: set NODE_NAME to this node's name \
                 (DaemonSet: fieldRef spec.nodeName)"
                    .into(),
            ));
        };
        let name = host.to_ascii_lowercase();
        validate_node_name(&name).map_err(|_| {
            ConfigError(format!(
                "NODE_NAME is not set and the hostname {host:?} is not a valid Node name: set NODE_NAME \
                 (a lowercase DNS name, as the kubelet's --hostname-override)"
            ))
        })?;
        Ok((name, NodeNameSource::Hostname))
    }

    /// The effective string (trimmed) of a knob.
    pub fn str(&self, env: &str) -> &str {
        self.values.get(env).map(|s| s.trim()).unwrap_or("")
    }

    pub fn opt_str(&self, env: &str) -> Option<String> {
        let s = self.str(env);
        (!s.is_empty()).then(|| s.to_string())
    }

    pub fn opt_path(&self, env: &str) -> Option<PathBuf> {
        self.opt_str(env).map(PathBuf::from)
    }

    /// An unsigned integer within `min..=max`.
    pub fn u64_in(&self, env: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
        let s = self.str(env);
        match s.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(bad(env, s, &format!("expected an integer from {min} to {max}"))),
        }
    }

    pub fn millis(&self, env: &str, min: u64, max: u64) -> Result<Duration, ConfigError> {
        self.u64_in(env, min, max).map(Duration::from_millis)
    }

    pub fn seconds(&self, env: &str, min: u64, max: u64) -> Result<Duration, ConfigError> {
        self.u64_in(env, min, max).map(Duration::from_secs)
    }

    /// A percentage `0..=100`, fractions allowed.
    pub fn percent(&self, env: &str) -> Result<f64, ConfigError> {
        let s = self.str(env);
        match s.parse::<f64>() {
            Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
            _ => Err(bad(env, s, "expected a number from 0 to 100")),
        }
    }

    pub fn bool(&self, env: &str) -> Result<bool, ConfigError> {
        let s = self.str(env);
        match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(bad(env, s, "expected true or false")),
        }
    }

    /// Comma-separated list, empty items dropped.
    pub fn list(&self, env: &str) -> Vec<String> {
        split_list(self.str(env))
    }

    /// A list of registered check names; unknown names are an error.
    pub fn check_names(&self, env: &str) -> Result<Vec<&'static str>, ConfigError> {
        let items = self.list(env);
        if items.is_empty() {
            return Err(bad(env, self.str(env), "expected at least one check name"));
        }
        let mut out = Vec::new();
        for item in items {
            let check = checks::find(&item)
                .ok_or_else(|| bad(env, &item, &format!("unknown check; known: {}", checks::names().join(","))))?;
            if !out.contains(&check.name) {
                out.push(check.name);
            }
        }
        Ok(out)
    }

    /// An `http://` or `https://` URL.
    pub fn url(&self, env: &str) -> Result<String, ConfigError> {
        let s = self.str(env);
        let rest = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://"));
        match rest {
            Some(r) if !r.is_empty() && !r.starts_with('/') && !s.contains(char::is_whitespace) => Ok(s.to_string()),
            _ => Err(bad(env, s, "expected an http:// or https:// URL")),
        }
    }
}

impl Raw {
    /// An absolute path (host paths are always absolute).
    pub fn abs_path(&self, env: &str) -> Result<PathBuf, ConfigError> {
        parse_abs_path(env, self.str(env))
    }

    /// A comma-separated list of absolute paths; may be empty (check does nothing).
    pub fn abs_paths(&self, env: &str) -> Result<Vec<PathBuf>, ConfigError> {
        let mut out: Vec<PathBuf> = Vec::new();
        for item in self.list(env) {
            if !item.starts_with('/') {
                return Err(bad(env, &item, "expected comma-separated absolute paths"));
            }
            let p = PathBuf::from(item);
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Ok(out)
    }
}

/// `NETWORK_DNS_NAME`: empty, or a DNS name we can put in a query (labels
/// 1–63 bytes of letters, digits, `-`, `_`; at most 253 bytes).
fn parse_dns_name(s: &str) -> Result<Option<String>, ConfigError> {
    let name = s.trim_end_matches('.');
    if name.is_empty() {
        return if s.is_empty() { Ok(None) } else { Err(bad("NETWORK_DNS_NAME", s, "expected a DNS name")) };
    }
    let ok = name.len() <= 253
        && name.split('.').all(|l| {
            (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(Some(name.to_ascii_lowercase()))
    } else {
        Err(bad("NETWORK_DNS_NAME", s, "expected a DNS name such as kubernetes.default.svc.cluster.local"))
    }
}

/// `NETWORK_GATEWAYS`: empty (default routes), `none`, or `ip,ip` where an
/// IPv6 link-local address names its interface (`fe80::1%eth0`).
fn parse_gateways(s: &str) -> Result<Gateways, ConfigError> {
    const ENV: &str = "NETWORK_GATEWAYS";
    match s {
        "" => return Ok(Gateways::DefaultRoutes),
        "none" => return Ok(Gateways::Skip),
        _ => {}
    }
    let mut out = Vec::new();
    for item in split_list(s) {
        let gw = crate::host::gateways::Gateway::parse(&item).ok_or_else(|| {
            bad(ENV, &item, "expected none or comma-separated IP addresses (fe80::1%eth0 for link-local)")
        })?;
        if gw.is_link_local() && gw.dev.is_none() {
            return Err(bad(ENV, &item, "a link-local gateway needs its interface, e.g. fe80::1%eth0"));
        }
        out.push(gw);
    }
    if out.is_empty() {
        return Err(bad(ENV, s, "expected none or comma-separated IP addresses"));
    }
    Ok(Gateways::List(out))
}

pub fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

fn knob_for_flag(flag: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|k| flag_name(k.env) == flag)
}

/// `LISTEN_PORT` → `listen-port`.
pub fn flag_name(env: &str) -> String {
    env.to_ascii_lowercase().replace('_', "-")
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated, immutable configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Every knob's effective string, in `KNOBS` order (for the status page).
    pub effective: Vec<(&'static str, String)>,
    pub node_name: String,
    pub node_name_source: NodeNameSource,
    pub listen_address: Option<IpAddr>,
    pub listen_port: u16,
    pub default_checks: Vec<&'static str>,
    pub check_timeout: Duration,
    pub check_timeouts: HashMap<&'static str, Duration>,
    pub check_min_interval: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub log_format: LogFormat,
    pub kubelet_healthz_url: String,
    pub okd_router_healthz_url: String,
    pub kube_proxy_healthz_url: String,
    pub local_http_ca_file: Option<PathBuf>,
    /// `KUBECONFIG` as given (may list several files).
    pub kubeconfig: Option<String>,
    pub kubernetes_service_host: Option<String>,
    pub kubernetes_service_port: u16,
    pub serviceaccount_dir: PathBuf,
    pub node_poll_interval: Duration,
    /// `None` = keep serving the last known state however old it is.
    pub node_state_max_staleness: Option<Duration>,
    pub node_watch_idle_timeout: Duration,
    pub node_api_timeout: Duration,
    /// `None` = default rule (any non-Ready condition that is True is bad).
    pub custom_conditions: Option<Vec<checks::ConditionRule>>,
    pub node_eligible_ignore_cordon: bool,
    pub service_endpoints: Vec<ServiceRef>,
    pub agent_port: Option<u16>,
    pub agent_checks: Vec<&'static str>,
    pub tls: Option<TlsFiles>,
    pub container_runtime_endpoint: Option<PathBuf>,
    pub container_runtime_require_network: bool,
    pub host_root: PathBuf,
    pub host_proc: PathBuf,
    pub filesystem_ro_paths: Vec<PathBuf>,
    pub disk_pressure_paths: Vec<PathBuf>,
    pub min_free_percent: f64,
    pub min_free_inodes_percent: f64,
    pub network_dns_name: Option<String>,
    pub network_dns_timeout: Duration,
    pub network_gateways: Gateways,
    pub network_ping_timeout: Duration,
}

/// Where the /health listener's TLS material lives (checked, loaded and
/// re-read by `tls.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// Which gateways the `network` check pings.
#[derive(Debug, Clone, PartialEq)]
pub enum Gateways {
    /// The default routes' gateways from HOST_PROC/net/route and ipv6_route.
    DefaultRoutes,
    /// `NETWORK_GATEWAYS=none`: DNS only.
    Skip,
    /// An explicit list; IPv6 link-local addresses carry their interface.
    List(Vec<crate::host::gateways::Gateway>),
}

impl Config {
    pub fn from_raw(raw: &Raw) -> Result<Config, ConfigError> {
        let (node_name, node_name_source) = raw.node_name()?;
        let listen_address = match raw.str("LISTEN_ADDRESS") {
            "" => None,
            s => Some(
                s.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| bad("LISTEN_ADDRESS", s, "expected an IPv4 or IPv6 address"))?,
            ),
        };
        let log_format = match raw.str("LOG_FORMAT") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            s => return Err(bad("LOG_FORMAT", s, "expected text or json")),
        };
        let default_checks = raw.check_names("DEFAULT_CHECKS")?;
        let listen_port = raw.u64_in("LISTEN_PORT", 0, 65535)? as u16;
        let agent_port = match raw.str("AGENT_PORT") {
            "" => None,
            _ => Some(raw.u64_in("AGENT_PORT", 0, 65535)? as u16),
        };
        // Both sockets use SO_REUSEPORT: on one port they would silently
        // split connections between HTTP and the agent.
        if agent_port.is_some_and(|p| p != 0 && p == listen_port) {
            return Err(bad("AGENT_PORT", raw.str("AGENT_PORT"), "must differ from LISTEN_PORT"));
        }
        let agent_checks = match raw.str("AGENT_CHECKS") {
            "" => default_agent_checks(&default_checks),
            _ => raw.check_names("AGENT_CHECKS")?,
        };
        let service_endpoints = parse_service_refs(raw.str("SERVICE_ENDPOINTS"))
            .map_err(|why| bad("SERVICE_ENDPOINTS", raw.str("SERVICE_ENDPOINTS"), &why))?;
        // A check every probe runs that could only ever fail is a mistake
        // worth refusing at start (a ?check= request still gets a reason).
        for env in ["DEFAULT_CHECKS", "AGENT_CHECKS"] {
            let listed = if env == "DEFAULT_CHECKS" { &default_checks } else { &agent_checks };
            if service_endpoints.is_empty() && listed.contains(&"service_endpoints") {
                return Err(ConfigError(format!(
                    "SERVICE_ENDPOINTS is empty but {env} runs service_endpoints: list the Services, e.g. SERVICE_ENDPOINTS=ingress-nginx/ingress-nginx-controller"
                )));
            }
        }
        Ok(Config {
            effective: raw.effective(),
            node_name,
            node_name_source,
            listen_address,
            listen_port,
            default_checks,
            check_timeout: raw.millis("CHECK_TIMEOUT_MS", 1, 600_000)?,
            check_timeouts: parse_check_timeouts(raw.str("CHECK_TIMEOUTS_MS"))?,
            check_min_interval: raw.millis("CHECK_MIN_INTERVAL_MS", 0, 600_000)?,
            max_connections: raw.u64_in("MAX_CONNECTIONS", 1, 100_000)? as usize,
            max_connections_per_client: raw.u64_in("MAX_CONNECTIONS_PER_CLIENT", 1, 100_000)? as usize,
            log_format,
            kubelet_healthz_url: raw.url("KUBELET_HEALTHZ_URL")?,
            okd_router_healthz_url: raw.url("OKD_ROUTER_HEALTHZ_URL")?,
            kube_proxy_healthz_url: raw.url("KUBE_PROXY_HEALTHZ_URL")?,
            local_http_ca_file: raw.opt_path("LOCAL_HTTP_CA_FILE"),
            kubeconfig: raw.opt_str("KUBECONFIG"),
            kubernetes_service_host: raw.opt_str("KUBERNETES_SERVICE_HOST"),
            kubernetes_service_port: raw.u64_in("KUBERNETES_SERVICE_PORT", 1, 65535)? as u16,
            serviceaccount_dir: PathBuf::from(raw.str("KUBERNETES_SERVICEACCOUNT_DIR")),
            node_poll_interval: raw.seconds("NODE_POLL_INTERVAL_SECONDS", 1, 3600)?,
            node_state_max_staleness: Some(raw.seconds("NODE_STATE_MAX_STALENESS_SECONDS", 0, 86_400)?)
                .filter(|d| !d.is_zero()),
            node_watch_idle_timeout: raw.seconds("NODE_WATCH_IDLE_TIMEOUT_SECONDS", 1, 3600)?,
            node_api_timeout: raw.millis("NODE_API_TIMEOUT_MS", 100, 600_000)?,
            custom_conditions: checks::parse_condition_rules(raw.str("CUSTOM_CONDITIONS"))
                .map_err(|why| bad("CUSTOM_CONDITIONS", raw.str("CUSTOM_CONDITIONS"), &why))?,
            node_eligible_ignore_cordon: raw.bool("NODE_ELIGIBLE_IGNORE_CORDON")?,
            service_endpoints,
            agent_port,
            agent_checks,
            tls: tls_files(raw)?,
            container_runtime_endpoint: parse_cri_endpoint(raw.str("CONTAINER_RUNTIME_ENDPOINT"))?,
            container_runtime_require_network: raw.bool("CONTAINER_RUNTIME_REQUIRE_NETWORK")?,
            host_root: raw.abs_path("HOST_ROOT")?,
            host_proc: raw.abs_path("HOST_PROC")?,
            filesystem_ro_paths: raw.abs_paths("FILESYSTEM_RO_PATHS")?,
            disk_pressure_paths: raw.abs_paths("DISK_PRESSURE_PATHS")?,
            min_free_percent: raw.percent("MIN_FREE_PERCENT")?,
            min_free_inodes_percent: raw.percent("MIN_FREE_INODES_PERCENT")?,
            network_dns_name: parse_dns_name(raw.str("NETWORK_DNS_NAME"))?,
            network_dns_timeout: raw.millis("NETWORK_DNS_TIMEOUT_MS", 1, 60_000)?,
            network_gateways: parse_gateways(raw.str("NETWORK_GATEWAYS"))?,
            network_ping_timeout: raw.millis("NETWORK_PING_TIMEOUT_MS", 1, 60_000)?,
        })
    }

    /// The deadline of one run of `check`.
    pub fn timeout_for(&self, check: &str) -> Duration {
        self.check_timeouts.get(check).copied().unwrap_or(self.check_timeout)
    }
}

/// DEFAULT_CHECKS plus `node_eligible` (cordoned → the agent says drain).
fn default_agent_checks(default_checks: &[&'static str]) -> Vec<&'static str> {
    let mut out = default_checks.to_vec();
    if let Some(c) = checks::find("node_eligible")
        && !out.contains(&c.name)
    {
        out.push(c.name);
    }
    out
}

/// TLS_CERT_FILE and TLS_KEY_FILE come together; TLS_CLIENT_CA_FILE only
/// with them (alone it would silently serve plain HTTP to no client).
fn tls_files(raw: &Raw) -> Result<Option<TlsFiles>, ConfigError> {
    let (cert, key, client_ca) =
        (raw.opt_path("TLS_CERT_FILE"), raw.opt_path("TLS_KEY_FILE"), raw.opt_path("TLS_CLIENT_CA_FILE"));
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key, client_ca })),
        (None, None) if client_ca.is_none() => Ok(None),
        (None, None) => Err(ConfigError("TLS_CLIENT_CA_FILE is set but TLS_CERT_FILE and TLS_KEY_FILE are not".into())),
        (Some(_), None) => Err(ConfigError("TLS_CERT_FILE is set but TLS_KEY_FILE is not: set both or neither".into())),
        (None, Some(_)) => Err(ConfigError("TLS_KEY_FILE is set but TLS_CERT_FILE is not: set both or neither".into())),
    }
}

/// Kubernetes object names are DNS subdomains; anything else cannot be a Node
/// (and must never be pasted into an API URL).
fn validate_node_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(bad("NODE_NAME", name, "expected a lowercase DNS name (RFC 1123 subdomain), as Kubernetes Node names are"))
    }
}

/// crictl's convention: `unix:///path` or a bare absolute path. Other
/// transports (tcp://, npipe://) are not CRI sockets we can reach.
fn parse_cri_endpoint(s: &str) -> Result<Option<PathBuf>, ConfigError> {
    const ENV: &str = "CONTAINER_RUNTIME_ENDPOINT";
    if s.is_empty() {
        return Ok(None);
    }
    let path = s.strip_prefix("unix://").unwrap_or(s);
    if !path.starts_with('/') {
        return Err(bad(ENV, s, "expected unix:///absolute/path.sock or an absolute path"));
    }
    Ok(Some(PathBuf::from(path)))
}

fn parse_abs_path(env: &str, s: &str) -> Result<PathBuf, ConfigError> {
    if s.starts_with('/') { Ok(PathBuf::from(s)) } else { Err(bad(env, s, "expected an absolute path")) }
}

fn parse_check_timeouts(s: &str) -> Result<HashMap<&'static str, Duration>, ConfigError> {
    const ENV: &str = "CHECK_TIMEOUTS_MS";
    let mut out = HashMap::new();
    for item in split_list(s) {
        let (name, ms) = item.split_once('=').ok_or_else(|| bad(ENV, &item, "expected name=milliseconds"))?;
        let check = checks::find(name.trim()).ok_or_else(|| bad(ENV, name, "unknown check name"))?;
        let ms: u64 = ms
            .trim()
            .parse()
            .ok()
            .filter(|v| (1..=600_000).contains(v))
            .ok_or_else(|| bad(ENV, &item, "expected name=milliseconds with 1 to 600000 ms"))?;
        out.insert(check.name, Duration::from_millis(ms));
    }
    Ok(out)
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Run checks once (`--check a,b` or the defaults), print JSON, exit 0/1.
    Check(Option<Vec<&'static str>>),
    Help,
    Version,
}

/// Parses `[check] [--check a,b] [--flag VALUE | --flag=VALUE]... [--help] [--version]`.
/// Returns the command and the `(flag, value)` pairs for [`Raw::new`].
pub fn parse_args(args: &[String]) -> Result<(Command, Vec<(String, String)>), ConfigError> {
    let mut command = Command::Serve;
    let mut flags = Vec::new();
    let mut check_list: Option<String> = None;
    let mut it = args.iter().enumerate();
    while let Some((i, arg)) = it.next() {
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok((Command::Help, flags)),
            "-V" | "--version" => return Ok((Command::Version, flags)),
            "check" if i == 0 => command = Command::Check(None),
            _ => {
                let Some(flag) = arg.strip_prefix("--") else {
                    return Err(ConfigError(format!("unexpected argument {arg:?} (see --help)")));
                };
                let (name, value) = match flag.split_once('=') {
                    Some((n, v)) => (n.to_string(), v.to_string()),
                    None => {
                        let v = it.next().map(|(_, v)| v.clone());
                        (flag.to_string(), v.ok_or_else(|| ConfigError(format!("option --{flag} needs a value")))?)
                    }
                };
                if name == "check" {
                    if command == Command::Serve {
                        return Err(ConfigError("--check is only valid after the `check` subcommand".into()));
                    }
                    check_list = Some(value);
                } else {
                    flags.push((name, value));
                }
            }
        }
    }
    if let (Command::Check(_), Some(list)) = (&command, check_list) {
        let mut names = Vec::new();
        for item in list.split(',').map(str::trim) {
            let check = checks::find(item).ok_or_else(|| {
                ConfigError(format!("unknown check {item:?} in --check; known: {}", checks::names().join(",")))
            })?;
            if !names.contains(&check.name) {
                names.push(check.name);
            }
        }
        command = Command::Check(Some(names));
    }
    Ok((command, flags))
}

impl Raw {
    /// `KEY=value` pairs of every knob for the startup log line. No knob holds
    /// a secret (tokens and keys are given as file paths), so all are shown.
    pub fn summary(&self) -> String {
        KNOBS.iter().map(|k| format!("{}={}", k.env, self.str(k.env))).collect::<Vec<_>>().join(" ")
    }

    /// `(variable, effective value)` of every knob, in `KNOBS` order.
    pub fn effective(&self) -> Vec<(&'static str, String)> {
        KNOBS.iter().map(|k| (k.env, self.str(k.env).to_string())).collect()
    }
}

/// A valid config for unit tests: defaults plus `NODE_NAME=test-node`, with
/// `overrides` applied.
#[cfg(test)]
pub fn test_config(overrides: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let raw = Raw::new(|k| map.get(k).cloned().or_else(|| (k == "NODE_NAME").then(|| "test-node".into())), &[]);
    Config::from_raw(&raw.expect("test knobs exist")).expect("test config is valid")
}

/// `--help` text: usage, then every knob with its flag, variable and default.
pub fn help_text() -> String {
    let mut s = String::from(concat!(
        "harmony-node-readiness-endpoint ",
        env!("CARGO_PKG_VERSION"),
        "\nAnswers GET /health on every Kubernetes node: 200 = send traffic here, 503 = take this node out of the pool.\n\n",
        "USAGE:\n",
        "    harmony-node-readiness-endpoint [--flag VALUE]...          serve HTTP\n",
        "    harmony-node-readiness-endpoint check [--check a,b] [...]  run checks once, print JSON,\n",
        "                                                               exit 0 ready / 1 not ready / 2 usage\n",
        "    harmony-node-readiness-endpoint status [--url URL]         print the running service's status\n",
        "                                                               (default http://127.0.0.1:25001), exit 0 ready /\n",
        "                                                               1 not ready / 2 unreachable\n",
        "    harmony-node-readiness-endpoint --help | --version\n\n",
        "Every option is an environment variable or the matching flag (the flag wins):\n\n",
    ));
    for k in KNOBS {
        let default = if k.default.is_empty() { "(unset)".to_string() } else { k.default.to_string() };
        s.push_str(&format!("  --{:<30} {}\n      {}  [default: {}]\n", flag_name(k.env), k.env, k.help, default));
    }
    s.push_str(&format!("\nChecks: {}\n", checks::names().join(", ")));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> Raw {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Raw::with_hostname(|k| map.get(k).cloned(), &[], None).unwrap()
    }

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_raw(&raw(pairs))
    }

    #[test]
    fn defaults_are_valid() {
        let c = config(&[("NODE_NAME", "n1")]).unwrap();
        assert_eq!(c.listen_port, 25001);
        assert_eq!(c.default_checks, vec!["node_ready"]);
        assert_eq!(c.check_timeout, Duration::from_millis(1000));
        assert_eq!(c.check_min_interval, Duration::from_millis(500));
        assert_eq!(c.listen_address, None);
        assert_eq!(c.node_poll_interval, Duration::from_secs(5));
        assert_eq!(c.node_state_max_staleness, None);
        assert_eq!(c.node_watch_idle_timeout, Duration::from_secs(150));
        // A staleness limit does not shorten the watch's idle timeout: a quiet
        // watch is confirmed by a request instead of being torn down.
        let limited = config(&[("NODE_NAME", "n1"), ("NODE_STATE_MAX_STALENESS_SECONDS", "2")]).unwrap();
        assert_eq!(limited.node_watch_idle_timeout, Duration::from_secs(150));
        assert_eq!(c.custom_conditions, None);
        assert!(!c.node_eligible_ignore_cordon);
        assert_eq!(c.serviceaccount_dir, PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("NODE_NAME", "n1"), ("LISTEN_PORT", "abc")], "LISTEN_PORT"),
            (&[("NODE_NAME", "n1"), ("LISTEN_PORT", "65536")], "LISTEN_PORT"),
            (&[("NODE_NAME", "n1"), ("CHECK_TIMEOUT_MS", "-1")], "CHECK_TIMEOUT_MS"),
            (&[("NODE_NAME", "n1"), ("DEFAULT_CHECKS", "node_ready,nope")], "DEFAULT_CHECKS"),
            (&[("NODE_NAME", "n1"), ("DEFAULT_CHECKS", " , ")], "DEFAULT_CHECKS"),
            (&[("NODE_NAME", "n1"), ("LOG_FORMAT", "xml")], "LOG_FORMAT"),
            (&[("NODE_NAME", "n1"), ("CHECK_TIMEOUTS_MS", "kubelet")], "CHECK_TIMEOUTS_MS"),
            (&[("NODE_NAME", "n1"), ("KUBELET_HEALTHZ_URL", "127.0.0.1:10248")], "KUBELET_HEALTHZ_URL"),
            (&[("NODE_NAME", "n1"), ("LISTEN_ADDRESS", "localhost")], "LISTEN_ADDRESS"),
            (&[("NODE_NAME", "n1"), ("HOST_ROOT", "host/root")], "HOST_ROOT"),
            (&[("NODE_NAME", "n1"), ("HOST_PROC", "")], "HOST_PROC"),
            (&[("NODE_NAME", "n1"), ("FILESYSTEM_RO_PATHS", "/var,var/log")], "FILESYSTEM_RO_PATHS"),
            (&[("NODE_NAME", "n1"), ("DISK_PRESSURE_PATHS", "./x")], "DISK_PRESSURE_PATHS"),
            (&[("NODE_NAME", "n1"), ("MIN_FREE_PERCENT", "101")], "MIN_FREE_PERCENT"),
            (&[("NODE_NAME", "n1"), ("MIN_FREE_INODES_PERCENT", "x")], "MIN_FREE_INODES_PERCENT"),
            (&[("NODE_NAME", "n1"), ("NETWORK_DNS_NAME", "bad name")], "NETWORK_DNS_NAME"),
            (&[("NODE_NAME", "n1"), ("NETWORK_DNS_NAME", "a..b")], "NETWORK_DNS_NAME"),
            (&[("NODE_NAME", "n1"), ("NETWORK_DNS_TIMEOUT_MS", "0")], "NETWORK_DNS_TIMEOUT_MS"),
            (&[("NODE_NAME", "n1"), ("NETWORK_GATEWAYS", "gw.example")], "NETWORK_GATEWAYS"),
            (&[("NODE_NAME", "n1"), ("NETWORK_GATEWAYS", ",")], "NETWORK_GATEWAYS"),
            (&[("NODE_NAME", "n1"), ("NETWORK_GATEWAYS", "fe80::1")], "NETWORK_GATEWAYS"),
            (&[("NODE_NAME", "n1"), ("NETWORK_PING_TIMEOUT_MS", "")], "NETWORK_PING_TIMEOUT_MS"),
            (&[], "NODE_NAME"),
            (&[("NODE_NAME", "bad/name")], "NODE_NAME"),
            (&[("NODE_NAME", "n1"), ("KUBERNETES_SERVICE_PORT", "https")], "KUBERNETES_SERVICE_PORT"),
            (&[("NODE_NAME", "n1"), ("NODE_POLL_INTERVAL_SECONDS", "0")], "NODE_POLL_INTERVAL_SECONDS"),
            (&[("NODE_NAME", "n1"), ("NODE_STATE_MAX_STALENESS_SECONDS", "-5")], "NODE_STATE_MAX_STALENESS_SECONDS"),
            (&[("NODE_NAME", "n1"), ("NODE_WATCH_IDLE_TIMEOUT_SECONDS", "0")], "NODE_WATCH_IDLE_TIMEOUT_SECONDS"),
            (&[("NODE_NAME", "n1"), ("CUSTOM_CONDITIONS", "Foo=Maybe")], "CUSTOM_CONDITIONS"),
            (&[("NODE_NAME", "n1"), ("CUSTOM_CONDITIONS", "=True")], "CUSTOM_CONDITIONS"),
            (&[("NODE_NAME", "n1"), ("NODE_ELIGIBLE_IGNORE_CORDON", "maybe")], "NODE_ELIGIBLE_IGNORE_CORDON"),
            (&[("NODE_NAME", "n1"), ("AGENT_PORT", "x")], "AGENT_PORT"),
            (&[("NODE_NAME", "n1"), ("AGENT_PORT", "25001")], "AGENT_PORT"),
            (&[("NODE_NAME", "n1"), ("AGENT_CHECKS", "nope")], "AGENT_CHECKS"),
            (&[("NODE_NAME", "n1"), ("SERVICE_ENDPOINTS", "traefik")], "SERVICE_ENDPOINTS"),
            (&[("NODE_NAME", "n1"), ("SERVICE_ENDPOINTS", "kube-system/Traefik")], "SERVICE_ENDPOINTS"),
            (&[("NODE_NAME", "n1"), ("DEFAULT_CHECKS", "service_endpoints")], "SERVICE_ENDPOINTS"),
            (&[("NODE_NAME", "n1"), ("AGENT_CHECKS", "node_ready,service_endpoints")], "SERVICE_ENDPOINTS"),
            (&[("NODE_NAME", "n1"), ("TLS_CERT_FILE", "/c")], "TLS_KEY_FILE"),
            (&[("NODE_NAME", "n1"), ("TLS_KEY_FILE", "/k")], "TLS_CERT_FILE"),
            (&[("NODE_NAME", "n1"), ("TLS_CLIENT_CA_FILE", "/ca")], "TLS_CERT_FILE"),
            (&[("NODE_NAME", "n1"), ("CONTAINER_RUNTIME_ENDPOINT", "tcp://1.2.3.4:10")], "CONTAINER_RUNTIME_ENDPOINT"),
            (&[("NODE_NAME", "n1"), ("CONTAINER_RUNTIME_ENDPOINT", "run/x.sock")], "CONTAINER_RUNTIME_ENDPOINT"),
            (
                &[("NODE_NAME", "n1"), ("CONTAINER_RUNTIME_REQUIRE_NETWORK", "maybe")],
                "CONTAINER_RUNTIME_REQUIRE_NETWORK",
            ),
            (&[("NODE_NAME", "n1"), ("HOST_ROOT", "host")], "HOST_ROOT"),
        ];
        for (pairs, var) in cases {
            let err = config(pairs).unwrap_err();
            assert!(err.0.contains(var), "{pairs:?}: {err}");
            assert!(!err.0.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn node_name_is_lowercased_like_the_kubelet_does() {
        assert_eq!(config(&[("NODE_NAME", "Worker-1.Example")]).unwrap().node_name, "worker-1.example");
    }

    #[test]
    fn node_name_defaults_to_the_lowercased_hostname_and_says_where_it_came_from() {
        let host = |env: &[(&str, &str)], flags: &[(&str, &str)], hostname: Option<&str>| {
            let map: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let flags: Vec<(String, String)> = flags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let raw = Raw::with_hostname(|k| map.get(k).cloned(), &flags, hostname.map(String::from)).unwrap();
            Config::from_raw(&raw).map(|c| (c.node_name, c.node_name_source.to_string()))
        };
        assert_eq!(host(&[], &[], Some("Worker-7")), Ok(("worker-7".into(), "hostname".into())));
        assert_eq!(host(&[("NODE_NAME", " ")], &[], Some("w8.lan")), Ok(("w8.lan".into(), "hostname".into())));
        assert_eq!(host(&[("NODE_NAME", "n1")], &[], Some("w")), Ok(("n1".into(), "env NODE_NAME".into())));
        let flag = host(&[("NODE_NAME", "n1")], &[("node-name", "N2")], Some("w"));
        assert_eq!(flag, Ok(("n2".into(), "flag --node-name".into())));
        let bad = host(&[], &[], Some("my_host")).unwrap_err().0;
        assert!(bad.contains("NODE_NAME") && bad.contains("\"my_host\""), "{bad}");
        assert!(host(&[], &[], None).unwrap_err().0.contains("NODE_NAME"));
    }

    #[test]
    fn flags_win_over_environment() {
        let r =
            Raw::new(|k| (k == "LISTEN_PORT").then(|| "1".to_string()), &[("listen-port".into(), "2".into())]).unwrap();
        assert_eq!(r.str("LISTEN_PORT"), "2");
        assert!(Raw::new(|_| None, &[("no-such-flag".into(), "x".into())]).is_err());
    }

    #[test]
    fn per_check_timeouts() {
        let c = config(&[("NODE_NAME", "n1"), ("CHECK_TIMEOUTS_MS", "kubelet=2500")]).unwrap();
        assert_eq!(c.timeout_for("kubelet"), Duration::from_millis(2500));
        assert_eq!(c.timeout_for("node_ready"), Duration::from_millis(1000));
    }

    #[test]
    fn cri_endpoint_forms() {
        let c = config(&[("NODE_NAME", "n1")]).unwrap();
        assert_eq!(c.container_runtime_endpoint, None);
        assert!(c.container_runtime_require_network);
        for v in ["unix:///run/containerd/containerd.sock", "/run/containerd/containerd.sock"] {
            let c = config(&[("NODE_NAME", "n1"), ("CONTAINER_RUNTIME_ENDPOINT", v)]).unwrap();
            assert_eq!(c.container_runtime_endpoint, Some(PathBuf::from("/run/containerd/containerd.sock")));
        }
        let c = config(&[("NODE_NAME", "n1"), ("CONTAINER_RUNTIME_REQUIRE_NETWORK", "false")]).unwrap();
        assert!(!c.container_runtime_require_network);
    }

    #[test]
    fn command_line() {
        let args = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(args(&[]).unwrap().0, Command::Serve);
        let (cmd, flags) = args(&["check", "--check", "kubelet,kubelet", "--listen-port=1"]).unwrap();
        assert_eq!(cmd, Command::Check(Some(vec!["kubelet"])));
        assert_eq!(flags, vec![("listen-port".to_string(), "1".to_string())]);
        assert_eq!(args(&["--log-format", "json"]).unwrap().1, vec![("log-format".into(), "json".into())]);
        assert_eq!(args(&["--help"]).unwrap().0, Command::Help);
        assert!(args(&["check", "--check", "nope"]).is_err());
        assert!(args(&["--check", "kubelet"]).is_err());
        assert!(args(&["serve"]).is_err());
        assert!(args(&["--listen-port"]).is_err());
    }

    #[test]
    fn operations_knobs() {
        let c = config(&[("NODE_NAME", "n1")]).unwrap();
        assert_eq!(c.agent_port, None);
        assert_eq!(c.tls, None);
        assert_eq!(c.agent_checks, default_agent_checks(&["node_ready"]));
        assert_eq!(c.agent_checks[0], "node_ready");
        let c = config(&[
            ("NODE_NAME", "n1"),
            ("AGENT_PORT", "0"),
            ("LISTEN_PORT", "0"),
            ("AGENT_CHECKS", "kubelet"),
            ("TLS_CERT_FILE", "/c"),
            ("TLS_KEY_FILE", "/k"),
        ])
        .unwrap();
        assert_eq!(c.agent_port, Some(0));
        assert_eq!(c.agent_checks, ["kubelet"]);
        assert_eq!(c.tls, Some(TlsFiles { cert: "/c".into(), key: "/k".into(), client_ca: None }));
    }

    #[test]
    fn host_check_knobs() {
        let c = config(&[("NODE_NAME", "n1")]).unwrap();
        assert_eq!(c.host_root, PathBuf::from("/"));
        assert_eq!(c.host_proc, PathBuf::from("/proc"));
        assert_eq!(c.filesystem_ro_paths.len(), 6);
        assert!(!c.filesystem_ro_paths.contains(&PathBuf::from("/")), "/ is not judged by default (ostree)");
        assert_eq!(c.disk_pressure_paths[0], PathBuf::from("/"));
        assert_eq!((c.min_free_percent, c.min_free_inodes_percent), (10.0, 5.0));
        assert_eq!(c.network_dns_name, None);
        assert_eq!(c.network_gateways, Gateways::DefaultRoutes);
        let c = config(&[
            ("NODE_NAME", "n1"),
            ("NETWORK_DNS_NAME", "Ready.Example.Test."),
            ("NETWORK_GATEWAYS", "192.0.2.1, fe80::1%lo,2001:db8::1"),
            ("FILESYSTEM_RO_PATHS", ""),
            ("MIN_FREE_PERCENT", "2.5"),
        ])
        .unwrap();
        assert_eq!(c.network_dns_name.as_deref(), Some("ready.example.test"));
        assert!(matches!(&c.network_gateways, Gateways::List(l) if l.len() == 3));
        assert!(c.filesystem_ro_paths.is_empty());
        assert_eq!(c.min_free_percent, 2.5);
        let c = config(&[("NODE_NAME", "n1"), ("NETWORK_GATEWAYS", "none")]).unwrap();
        assert_eq!(c.network_gateways, Gateways::Skip);
    }

    #[test]
    fn ipv6_listen_address_with_brackets() {
        let c = config(&[("NODE_NAME", "n1"), ("LISTEN_ADDRESS", "[::1]")]).unwrap();
        assert_eq!(c.listen_address, Some("::1".parse().unwrap()));
    }
}
