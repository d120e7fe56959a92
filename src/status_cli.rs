//! `harmony-node-readiness-endpoint status [--url URL]`: fetches
//! `/status?format=json` from the running service and prints it as a
//! terminal table (checks, state, since, reason, the last transitions).
//! Without `--url` it asks where the service listens when it runs with the
//! same environment: LISTEN_PORT, LISTEN_ADDRESS (an unspecified address
//! means loopback), `https` when TLS_CERT_FILE is set ([`default_url`]).
//! Exit status: 0 ready, 1 not ready, 2 the service cannot be reached (or
//! answers something that is not its status). Colour only on a terminal,
//! and never with `NO_COLOR` set.
//!
//! It reads the public JSON like any other client would (its own structs,
//! unknown fields ignored), and every string from the service is stripped
//! of control characters before it reaches the terminal: Node condition
//! messages are set by whoever may patch the Node, and an escape sequence
//! in one must not rewrite the operator's screen.

use std::io::{IsTerminal, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::config::{self, ConfigError};
use crate::server::status_report::human_duration;
use crate::timefmt;

/// Where the service listens by default (LISTEN_PORT's default, loopback).
pub const DEFAULT_URL: &str = "http://127.0.0.1:25001";
/// The knobs [`default_url`] reads, as the service does.
const PORT_VAR: &str = "LISTEN_PORT";
const ADDRESS_VAR: &str = "LISTEN_ADDRESS";
const TLS_VAR: &str = "TLS_CERT_FILE";
/// The whole exchange; the page is built from memory, so this is generous.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Largest body read (the JSON is well below: see status_report).
const MAX_BODY_BYTES: u64 = 2 * 1024 * 1024;
/// Transitions printed (the service keeps 100; /status shows them all).
const SHOWN_TRANSITIONS: usize = 15;

#[derive(Deserialize)]
struct Status {
    node: String,
    version: String,
    generated_at: String,
    started_at: String,
    ready: bool,
    default_checks: Vec<String>,
    checks: Vec<Check>,
    node_state: NodeState,
    /// Absent from services older than this field.
    #[serde(default)]
    service_watches: Vec<ServiceWatch>,
    transitions: Vec<Transition>,
}

#[derive(Deserialize)]
struct Check {
    name: String,
    state: String,
    reason: Option<String>,
    since: Option<String>,
    last_run: Option<String>,
}

#[derive(Deserialize)]
struct NodeState {
    source: String,
    presence: String,
    api_server: Option<String>,
    age_seconds: Option<u64>,
    last_error: Option<String>,
    watch_restarts: u64,
}

#[derive(Deserialize)]
struct ServiceWatch {
    service: String,
    source: String,
    slices: Option<u64>,
    ready_here: Option<u64>,
    ready_elsewhere: Option<u64>,
    age_seconds: Option<u64>,
    last_error: Option<String>,
    forbidden: Option<String>,
    no_credentials: Option<String>,
    watch_restarts: u64,
}

#[derive(Deserialize)]
struct Transition {
    at: String,
    check: String,
    from: String,
    to: String,
    reason: Option<String>,
}

/// Runs the subcommand on its arguments (after `status`); returns the exit
/// status. A usage error is a [`ConfigError`] (exit 2, one line).
pub fn run(args: &[String]) -> Result<i32, ConfigError> {
    let url = match parse_args(args)? {
        Parsed::Help => {
            print!("{}", usage());
            return Ok(0);
        }
        Parsed::Url(url) => url,
        Parsed::Default => default_url(|k| std::env::var(k).ok())?,
    };
    let endpoint = status_url(&url);
    let status = match fetch(&endpoint) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("harmony-node-readiness-endpoint status: {endpoint}: {why}");
            return Ok(2);
        }
    };
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
    let text = render(&status, &Style { colour });
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    Ok(if status.ready { 0 } else { 1 })
}

fn usage() -> String {
    format!(
        "usage: harmony-node-readiness-endpoint status [--url URL]\n\
         Prints the status of the running service (GET URL/status?format=json) as a table.\n\
         URL defaults to where the service listens with this environment: {DEFAULT_URL}, or\n\
         LISTEN_ADDRESS (loopback when unset or 0.0.0.0/::) and LISTEN_PORT, https with TLS_CERT_FILE.\n\
         Exit status: 0 ready, 1 not ready, 2 unreachable.\n"
    )
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Help,
    Url(String),
    /// No `--url`: [`default_url`].
    Default,
}

fn parse_args(args: &[String]) -> Result<Parsed, ConfigError> {
    let mut url = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--url" => url = Some(it.next().ok_or_else(|| ConfigError("option --url needs a value".into()))?.clone()),
            a if a.starts_with("--url=") => url = Some(a["--url=".len()..].to_string()),
            a => return Err(ConfigError(format!("unexpected argument {a:?} for status (usage: status [--url URL])"))),
        }
    }
    let Some(url) = url else { return Ok(Parsed::Default) };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError(format!("invalid --url {url:?}: expected http://host:port or https://host:port")));
    }
    Ok(Parsed::Url(url))
}

/// Where a service started with this environment listens (`env` reads a
/// variable): the operator on a node with LISTEN_PORT=8080 in the unit's
/// environment runs `status` with the same and needs no `--url`. An
/// unspecified LISTEN_ADDRESS (unset, `0.0.0.0`, `::`) is asked on
/// loopback; a bad value is the service's own one-line error, so the
/// operator learns the service would not start either.
fn default_url(env: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    // The service trims values too; empty is taken as unset here.
    let set = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let default_port = || config::KNOBS.iter().find(|k| k.env == PORT_VAR).map_or("", |k| k.default).to_string();
    let port = match config::port(PORT_VAR, &set(PORT_VAR).unwrap_or_else(default_port))? {
        0 => {
            return Err(ConfigError(format!(
                "{PORT_VAR}=0 (any free port, logged at start): pass the logged address with --url"
            )));
        }
        p => p,
    };
    let ip = match config::listen_address(ADDRESS_VAR, &set(ADDRESS_VAR).unwrap_or_default())? {
        None | Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(ip) => ip,
    };
    let scheme = if set(TLS_VAR).is_some() { "https" } else { "http" };
    Ok(format!("{scheme}://{}", std::net::SocketAddr::new(ip, port)))
}

/// The JSON endpoint under a base URL (`http://h:p`, `http://h:p/` or the
/// page's own URL `http://h:p/status`).
fn status_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/status").unwrap_or(base);
    format!("{base}/status?format=json")
}

fn fetch(url: &str) -> Result<Status, String> {
    let tls = crate::checks::local_http::tls_config(url, None)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("harmony-node-readiness-endpoint-status/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .into();
    let mut resp = agent.get(url).header("Accept", "application/json").call().map_err(|e| match e {
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused (is the service running?)".into(),
            _ => io.to_string(),
        },
        ureq::Error::Timeout(_) => format!("no answer within {} s", TIMEOUT.as_secs()),
        other => other.to_string(),
    })?;
    let code = resp.status().as_u16();
    if code != 200 {
        return Err(format!("answered HTTP {code}, not the status (is this harmony-node-readiness-endpoint?)"));
    }
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(MAX_BODY_BYTES)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the answer: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| format!("the answer is not the status JSON ({e})"))
}

/// ANSI styling, or none.
struct Style {
    colour: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    fn state(&self, state: &str) -> String {
        let code = match state {
            "pass" => "32",
            "fail" => "1;31",
            "unknown" => "33",
            _ => "2",
        };
        self.paint(code, &state_label(state))
    }
}

fn state_label(state: &str) -> String {
    if state == "not-run" { "not run".into() } else { safe(state) }
}

/// Strips what could drive the terminal: control characters (escape
/// sequences start with one) and bidirectional overrides.
fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c) {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// `12 s ago`, from the service's own clock (no skew with ours).
fn ago(t: Option<&str>, now: Option<SystemTime>) -> String {
    match (t.and_then(timefmt::parse_rfc3339), now) {
        (Some(t), Some(now)) => format!("{} ago", human_duration(now.duration_since(t).unwrap_or_default())),
        _ => "-".into(),
    }
}

/// `2026-11-25 03:12:05Z`.
fn short_time(t: &str) -> String {
    let t = safe(t);
    match t.get(..19) {
        Some(head) if t.ends_with('Z') => format!("{}Z", head.replace('T', " ")),
        _ => t,
    }
}

/// Left-aligned columns; `widths` from the unstyled cells, the last
/// column unpadded.
fn table(style: &Style, header: &[&str], rows: &[Vec<(String, String)>]) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, (plain, _)) in row.iter().enumerate() {
            widths[i] = widths[i].max(plain.chars().count());
        }
    }
    let line = |cells: Vec<(String, String)>| {
        let mut s = String::new();
        for (i, (plain, shown)) in cells.into_iter().enumerate() {
            s.push_str(&shown);
            if i + 1 < n {
                s.push_str(&" ".repeat(widths[i] - plain.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| (h.to_string(), style.paint("1", h))).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// `confirmed 12 s ago` / `never confirmed`.
fn confirmed(age_seconds: Option<u64>) -> String {
    match age_seconds {
        Some(a) => format!("confirmed {} ago", human_duration(Duration::from_secs(a))),
        None => "never confirmed".to_string(),
    }
}

/// One EndpointSlice watch, like the Node line: what the
/// service_endpoints check reads, and what keeps it from telling.
fn service_watch_line(w: &ServiceWatch) -> String {
    let known = match (w.slices, w.ready_here, w.ready_elsewhere) {
        (Some(n), Some(here), Some(elsewhere)) => {
            format!("{n} slice{}, {here} ready here, {elsewhere} elsewhere", if n == 1 { "" } else { "s" })
        }
        _ => "not listed yet".to_string(),
    };
    let problem = match (&w.no_credentials, &w.forbidden, &w.last_error) {
        (Some(why), _, _) => format!("; no credentials: {}", safe(why)),
        (None, Some(why), _) => format!("; {}", safe(why)),
        (None, None, Some(why)) => format!("; last error: {}", safe(why)),
        _ => String::new(),
    };
    format!(
        "Service {}; source {}; {known}; state {}; {} watch restarts{problem}\n",
        safe(&w.service),
        safe(&w.source),
        confirmed(w.age_seconds),
        w.watch_restarts,
    )
}

fn render(s: &Status, style: &Style) -> String {
    let now = timefmt::parse_rfc3339(&s.generated_at);
    let mut out = String::new();
    let verdict = if s.ready { style.paint("1;32", "READY") } else { style.paint("1;31", "NOT READY") };
    let defaults = safe(&s.default_checks.join(","));
    out.push_str(&format!("node {}: {verdict}  (last results of the default checks: {defaults})\n", safe(&s.node)));
    let n = &s.node_state;
    let age = confirmed(n.age_seconds);
    out.push_str(&format!(
        "Node {}; source {}; state {age}; API {}; {} watch restarts{}\n",
        safe(&n.presence),
        safe(&n.source),
        safe(n.api_server.as_deref().unwrap_or("-")),
        n.watch_restarts,
        n.last_error.as_deref().map(|e| format!("; last error: {}", safe(e))).unwrap_or_default(),
    ));
    for w in &s.service_watches {
        out.push_str(&service_watch_line(w));
    }
    out.push_str(&format!(
        "service {} up {}, as of {}\n\n",
        safe(&s.version),
        ago(Some(&s.started_at), now).trim_end_matches(" ago"),
        short_time(&s.generated_at)
    ));
    let rows: Vec<_> = s
        .checks
        .iter()
        .map(|c| {
            let cell = |t: String| (t.clone(), t);
            vec![
                cell(safe(&c.name)),
                (state_label(&c.state), style.state(&c.state)),
                cell(ago(c.since.as_deref(), now)),
                cell(ago(c.last_run.as_deref(), now)),
                cell(safe(c.reason.as_deref().unwrap_or(""))),
            ]
        })
        .collect();
    out.push_str(&table(style, &["CHECK", "STATE", "SINCE", "LAST RUN", "REASON"], &rows));
    out.push('\n');
    if s.transitions.is_empty() {
        out.push_str("No transitions yet.\n");
        return out;
    }
    let shown = s.transitions.len().min(SHOWN_TRANSITIONS);
    out.push_str(&format!("Last transitions (newest first, {shown} of {}):\n", s.transitions.len()));
    let rows: Vec<_> = s.transitions[..shown]
        .iter()
        .map(|t| {
            let (from, to) = (state_label(&t.from), state_label(&t.to));
            let change = (format!("{from} → {to}"), format!("{} → {}", style.state(&t.from), style.state(&t.to)));
            let time = format!("{} ({})", short_time(&t.at), ago(Some(&t.at), now));
            vec![(time.clone(), time), (safe(&t.check), safe(&t.check)), change, {
                let r = safe(t.reason.as_deref().unwrap_or(""));
                (r.clone(), r)
            }]
        })
        .collect();
    out.push_str(&table(style, &["TIME", "CHECK", "FROM → TO", "REASON"], &rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        serde_json::from_str(
            r#"{"node":"n1","version":"0.1.0","generated_at":"2026-11-25T03:14:05.000Z",
            "started_at":"2026-11-25T03:00:00.000Z","ready":false,"default_checks":["node_ready"],
            "checks":[{"name":"node_ready","state":"fail","reason":"KubeletNotReady: \u001b[2Jgone","duration_ms":0,
              "last_run":"2026-11-25T03:14:04.000Z","since":"2026-11-25T03:12:05.000Z","transitions":1,"default":true},
              {"name":"kubelet","state":"not-run","reason":null,"duration_ms":null,"last_run":null,"since":null,
              "transitions":0,"default":false}],
            "node_state":{"source":"watch","presence":"present","api_server":"https://192.0.2.1:6443",
              "age_seconds":0,"last_error":null,"no_credentials":null,"watch_restarts":2,"watch_restarts_by_reason":{}},
            "transitions":[{"at":"2026-11-25T03:12:05.000Z","check":"node_ready","from":"pass","to":"fail",
              "reason":"KubeletNotReady"}],"config":{"NODE_NAME":"n1"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_table_says_what_why_and_since_when() {
        let text = render(&sample(), &Style { colour: false });
        assert!(text.starts_with("node n1: NOT READY"), "{text}");
        assert!(text.contains(
            "Node present; source watch; state confirmed 0 s ago; API https://192.0.2.1:6443; 2 watch restarts"
        ));
        let row = text.lines().find(|l| l.starts_with("node_ready")).unwrap();
        assert!(row.contains("fail") && row.contains("2 min 0 s ago") && row.contains("1 s ago"), "{row}");
        assert!(row.contains("KubeletNotReady: \u{fffd}[2Jgone"), "escape stripped: {row:?}");
        assert!(text.lines().any(|l| l.starts_with("kubelet") && l.contains("not run")), "{text}");
        assert!(text.contains("2026-11-25 03:12:05Z (2 min 0 s ago)  node_ready  pass → fail"), "{text}");
        assert!(!text.contains('\x1b'), "no colour off a terminal");
        let coloured = render(&sample(), &Style { colour: true });
        assert!(coloured.contains("\x1b[1;31mfail\x1b[0m"));
        // Colour changes nothing else, alignment included.
        let mut plain = String::new();
        let mut rest = coloured.as_str();
        while let Some(i) = rest.find('\x1b') {
            plain.push_str(&rest[..i]);
            rest = &rest[i + rest[i..].find('m').unwrap() + 1..];
        }
        plain.push_str(rest);
        assert_eq!(plain, text);
    }

    #[test]
    fn each_endpoint_slice_watch_gets_a_line() {
        let mut status = sample();
        status.service_watches = serde_json::from_str(
            r#"[{"service":"ingress/router","source":"watch","slices":2,"ready_here":1,"ready_elsewhere":3,
                 "age_seconds":4,"last_error":null,"forbidden":null,"no_credentials":null,"watch_restarts":1},
                {"service":"kube-system/traefik","source":"none","slices":null,"ready_here":null,
                 "ready_elsewhere":null,"age_seconds":null,"last_error":"API 500","watch_restarts":0,
                 "forbidden":"cannot list endpointslices.discovery.k8s.io in namespace \"kube-system\" (RBAC)",
                 "no_credentials":null}]"#,
        )
        .unwrap();
        let text = render(&status, &Style { colour: false });
        assert!(text.contains(
            "Service ingress/router; source watch; 2 slices, 1 ready here, 3 elsewhere; state confirmed 4 s ago; \
             1 watch restarts\n"
        ));
        assert!(text.contains(
            "Service kube-system/traefik; source none; not listed yet; state never confirmed; 0 watch restarts; \
             cannot list endpointslices.discovery.k8s.io in namespace \"kube-system\" (RBAC)\n"
        ));
        // An older service sends no service_watches: no line, no error.
        assert!(!render(&sample(), &Style { colour: false }).contains("Service "));
    }

    #[test]
    fn the_readme_example_is_what_the_command_prints() {
        let status: Status = serde_json::from_str(crate::testutil::readme_block("json")).unwrap();
        assert_eq!(render(&status, &Style { colour: false }), crate::testutil::readme_block("text"));
    }

    #[test]
    fn arguments_and_urls() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(args(&[]), Ok(Parsed::Default));
        assert_eq!(args(&["--url", "http://[::1]:9"]), Ok(Parsed::Url("http://[::1]:9".into())));
        assert_eq!(args(&["--url=https://x:1"]), Ok(Parsed::Url("https://x:1".into())));
        assert_eq!(args(&["--help"]), Ok(Parsed::Help));
        assert!(args(&["--url"]).is_err());
        assert!(args(&["--url", "127.0.0.1:25001"]).is_err());
        assert!(args(&["--check", "x"]).is_err());
        assert_eq!(status_url("http://h:1"), "http://h:1/status?format=json");
        assert_eq!(status_url("http://h:1/"), "http://h:1/status?format=json");
        assert_eq!(status_url("http://h:1/status"), "http://h:1/status?format=json");
    }

    #[test]
    fn without_url_it_asks_where_the_service_listens() {
        let url = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            default_url(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).map_err(|e| e.0)
        };
        assert_eq!(url(&[]), Ok(DEFAULT_URL.into()));
        assert_eq!(url(&[("LISTEN_PORT", ""), ("LISTEN_ADDRESS", "")]), Ok(DEFAULT_URL.into()), "empty = unset");
        assert_eq!(url(&[("LISTEN_PORT", "8080")]), Ok("http://127.0.0.1:8080".into()));
        assert_eq!(url(&[("LISTEN_ADDRESS", "0.0.0.0"), ("LISTEN_PORT", "8080")]), Ok("http://127.0.0.1:8080".into()));
        assert_eq!(url(&[("LISTEN_ADDRESS", "[::]")]), Ok("http://[::1]:25001".into()));
        assert_eq!(url(&[("LISTEN_ADDRESS", "192.0.2.7")]), Ok("http://192.0.2.7:25001".into()));
        assert_eq!(url(&[("LISTEN_ADDRESS", "2001:db8::7")]), Ok("http://[2001:db8::7]:25001".into()));
        assert_eq!(url(&[("TLS_CERT_FILE", "/etc/tls/tls.crt")]), Ok("https://127.0.0.1:25001".into()));
        for bad in ["abc", "65536", "-1"] {
            let e = url(&[("LISTEN_PORT", bad)]).unwrap_err();
            assert!(e.starts_with("invalid LISTEN_PORT=") && !e.contains('\n'), "{e}");
        }
        assert!(url(&[("LISTEN_PORT", "0")]).unwrap_err().contains("--url"));
        assert!(
            url(&[("LISTEN_ADDRESS", "localhost")]).unwrap_err().starts_with("invalid LISTEN_ADDRESS=\"localhost\"")
        );
    }
}
