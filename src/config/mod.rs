//! Every knob of the service, declared once in [`knobs!`] below: field,
//! type, environment variable, default, parser and `--help` text. The
//! `--flag` is the variable's name in kebab case (`LISTEN_PORT` →
//! `--listen-port 1` or `--listen-port=1`; a flag wins over the
//! environment). From that one declaration come [`KNOBS`] (flags, `--help`,
//! the README check), the [`Config`] fields and their parsing, so they
//! cannot drift, and a misspelled variable is a compile error. A bad value
//! becomes a [`ConfigError`] naming the variable; `main` prints it on one
//! line and exits with status 2.
//!
//! `cli` parses the command line, `check_id` the check names, `parse` the
//! values, `values` the value types that name things of other layers
//! (condition rules, gateways).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub mod check_id;
pub mod cli;
mod parse;
mod service_ref;
mod values;

pub use check_id::{BadName, CheckId, parse_list};
/// The listener's two parsers, for the `status` command: it asks where a
/// service started with the same environment listens, without the rest of
/// the configuration.
pub use parse::{listen_address, port};
pub use service_ref::{ServiceRef, parse_service_refs};
pub use values::{ConditionRule, Gateway, parse_condition_rules};

/// One configuration knob, as `--help` and the flag parser see it.
pub struct Knob {
    pub env: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// Declares every knob once: `field: Type = "ENV", "default", parser, "help";`
/// where `parser: fn(&'static str, &str) -> Result<Type, ConfigError>` gets
/// the variable's name and its trimmed effective value. Generates [`KNOBS`],
/// the knob fields of [`Config`] (after the `derived` ones, which
/// [`Config::from_raw`] computes from several knobs) and their parsing.
macro_rules! knobs {
    (
        derived { $( $(#[$dmeta:meta])* $dfield:ident : $dty:ty, )* }
        knobs { $( $(#[$kmeta:meta])* $field:ident : $ty:ty = $env:literal, $default:literal, $parse:expr, $help:literal; )* }
    ) => {
        /// Every knob, in `--help` order.
        pub const KNOBS: &[Knob] = &[ $( Knob { env: $env, default: $default, help: $help } ),* ];

        /// The validated, immutable configuration: what several knobs
        /// decide together, then one field per knob.
        #[derive(Debug, Clone)]
        pub struct Config {
            $( $(#[$dmeta])* pub $dfield: $dty, )*
            $( $(#[$kmeta])* #[doc = concat!("`", $env, "`: ", $help)] pub $field: $ty, )*
        }

        /// Every knob parsed on its own, in declaration order.
        struct Parsed {
            $( $field: $ty, )*
        }

        impl Parsed {
            fn from_raw(raw: &Raw) -> Result<Parsed, ConfigError> {
                Ok(Parsed {
                    $( $field: {
                        let parse: fn(&'static str, &str) -> Result<$ty, ConfigError> = $parse;
                        parse($env, raw.str($env))?
                    }, )*
                })
            }

            fn into_config(self, $( $dfield: $dty ),*) -> Config {
                Config { $( $dfield, )* $( $field: self.$field, )* }
            }
        }
    };
}

knobs! {
    derived {
        /// Every knob's effective string, in `KNOBS` order (for the status page).
        effective: Vec<(&'static str, String)>,
        node_name_source: NodeNameSource,
        /// TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE together.
        tls: Option<TlsFiles>,
    }
    knobs {
        // --- service core
        /// the given name; `from_raw` replaces it with the validated one (or the hostname)
        node_name: String = "NODE_NAME", "", |_, s| Ok(s.to_string()),
            "Name of this Kubernetes Node; empty = the hostname lowercased, the kubelet's default (DaemonSet: fieldRef spec.nodeName)";
        listen_address: Option<IpAddr> = "LISTEN_ADDRESS", "", parse::listen_address,
            "Address to bind; empty = dual-stack [::], falling back to 0.0.0.0 when IPv6 is off";
        listen_port: u16 = "LISTEN_PORT", "25001", parse::port,
            "TCP port of /health, /livez, /metrics (0 = any free port, logged at start)";
        default_checks: Vec<CheckId> = "DEFAULT_CHECKS", "node_ready", parse::check_names,
            "Checks a bare GET /health runs (comma-separated)";
        check_timeout: Duration = "CHECK_TIMEOUT_MS", "1000", |e, s| parse::millis(e, s, 1, 600_000),
            "Deadline of one check run; past it the check reports 'timed out'";
        check_timeouts: HashMap<CheckId, Duration> = "CHECK_TIMEOUTS_MS", "", parse::check_timeouts,
            "Per-check deadline overrides, e.g. network=2000,disk_pressure=3000";
        check_min_interval: Duration = "CHECK_MIN_INTERVAL_MS", "500", |e, s| parse::millis(e, s, 0, 600_000),
            "A check result younger than this is reused (0 = run on every request)";
        max_connections: usize = "MAX_CONNECTIONS", "512", |e, s| parse::int(e, s, 1, 100_000).map(|v| v as usize),
            "Concurrent HTTP connections; more are closed at once";
        max_connections_per_client: usize = "MAX_CONNECTIONS_PER_CLIENT", "32", |e, s| parse::int(e, s, 1, 100_000).map(|v| v as usize),
            "Concurrent HTTP connections from one client address";
        log_format: LogFormat = "LOG_FORMAT", "text", parse::log_format,
            "Log line format on stderr: text or json";
        // --- local HTTP probes
        kubelet_healthz_url: String = "KUBELET_HEALTHZ_URL", "http://127.0.0.1:10248/healthz", parse::url,
            "URL probed by the kubelet check";
        okd_router_healthz_url: String = "OKD_ROUTER_HEALTHZ_URL", "http://127.0.0.1:1936/healthz/ready", parse::url,
            "URL probed by the okd_router_1936 check";
        kube_proxy_healthz_url: String = "KUBE_PROXY_HEALTHZ_URL", "http://127.0.0.1:10256/healthz", parse::url,
            "URL probed by the kube_proxy check";
        local_http_ca_file: Option<PathBuf> = "LOCAL_HTTP_CA_FILE", "", parse::opt_path,
            "CA bundle for https:// probe URLs; empty = no verification for loopback hosts";
        // --- Kubernetes API (node_ready, custom_conditions, node_eligible)
        /// as given (may list several files)
        kubeconfig: Option<String> = "KUBECONFIG", "", parse::opt_str,
            "kubeconfig file(s), ':'-separated (e.g. /etc/kubernetes/kubelet.conf); empty = in-cluster";
        kubernetes_service_host: Option<String> = "KUBERNETES_SERVICE_HOST", "", parse::opt_str,
            "API server address; Kubernetes sets it in every pod (in-cluster mode)";
        kubernetes_service_port: u16 = "KUBERNETES_SERVICE_PORT", "443", |e, s| parse::int(e, s, 1, 65535).map(|v| v as u16),
            "API server port; Kubernetes sets it in every pod (in-cluster mode)";
        serviceaccount_dir: PathBuf = "KUBERNETES_SERVICEACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount", |_, s| Ok(PathBuf::from(s)),
            "Folder with the in-cluster token and ca.crt";
        node_poll_interval: Duration = "NODE_POLL_INTERVAL_SECONDS", "5", |e, s| parse::seconds(e, s, 1, 3600),
            "GET interval when RBAC forbids list/watch on nodes (fallback mode)";
        /// `None` = keep serving the last known state however old it is
        node_state_max_staleness: Option<Duration> = "NODE_STATE_MAX_STALENESS_SECONDS", "0", |e, s| Ok(Some(parse::seconds(e, s, 0, 86_400)?).filter(|d| !d.is_zero())),
            "API checks report unknown when the API has not answered for this long (0 = keep the last known state); a quiet watch is confirmed with a cheap list after half of it";
        node_watch_idle_timeout: Duration = "NODE_WATCH_IDLE_TIMEOUT_SECONDS", "150", |e, s| parse::seconds(e, s, 1, 3600),
            "A node watch silent this long (no event, no bookmark) is replaced; 2.5x the ~60 s bookmark period";
        node_api_timeout: Duration = "NODE_API_TIMEOUT_MS", "10000", |e, s| parse::millis(e, s, 100, 600_000),
            "Deadline of one list/get request to the API server";
        /// `None` = default rule (any non-Ready condition that is True is bad)
        custom_conditions: Option<Vec<ConditionRule>> = "CUSTOM_CONDITIONS", "", |e, s| parse_condition_rules(s).map_err(|why| bad(e, s, &why)),
            "Conditions custom_conditions checks: Type (bad when True) or Type=True|False (required); empty = any non-Ready condition True is bad";
        node_eligible_ignore_cordon: bool = "NODE_ELIGIBLE_IGNORE_CORDON", "false", parse::bool,
            "node_eligible passes on a cordoned (spec.unschedulable) node";
        /// Empty = no EndpointSlice watch at all
        service_endpoints: Vec<ServiceRef> = "SERVICE_ENDPOINTS", "", |e, s| parse_service_refs(s).map_err(|why| bad(e, s, &why)),
            "Services (namespace/name,…) service_endpoints requires a ready, non-terminating endpoint of on this node (EndpointSlice watch)";
        // --- host checks (filesystem_ro, disk_pressure, network)
        host_root: PathBuf = "HOST_ROOT", "/", parse::abs_path,
            "Where the host's / is mounted (container: /host/root); host paths are read below it";
        host_proc: PathBuf = "HOST_PROC", "/proc", parse::abs_path,
            "Where the host's /proc is mounted (container: /host/proc, with hostPID)";
        filesystem_ro_paths: Vec<PathBuf> = "FILESYSTEM_RO_PATHS", "/var,/var/lib/kubelet,/var/lib/containers,/var/lib/containerd,/var/log,/etc", parse::abs_paths,
            "Host paths filesystem_ro requires writable (absent paths are skipped)";
        disk_pressure_paths: Vec<PathBuf> = "DISK_PRESSURE_PATHS", "/,/var,/var/lib/kubelet,/var/lib/containerd,/var/lib/containers", parse::abs_paths,
            "Host paths disk_pressure judges (absent paths skipped, each filesystem once)";
        min_free_percent: f64 = "MIN_FREE_PERCENT", "10", parse::percent,
            "disk_pressure fails below this percentage of free space (f_bavail)";
        min_free_inodes_percent: f64 = "MIN_FREE_INODES_PERCENT", "5", parse::percent,
            "disk_pressure fails below this percentage of free inodes (f_favail)";
        network_dns_name: Option<String> = "NETWORK_DNS_NAME", "", parse::dns_name,
            "Name that must resolve to an A/AAAA record; empty = ask the root NS (any answer)";
        network_dns_timeout: Duration = "NETWORK_DNS_TIMEOUT_MS", "500", |e, s| parse::millis(e, s, 1, 60_000),
            "Wait for a DNS answer (the next nameserver is tried halfway)";
        network_gateways: Gateways = "NETWORK_GATEWAYS", "", parse::gateways,
            "Gateways to ping (ip,ip; fe80::1%eth0); empty = default routes; none = skip";
        network_ping_timeout: Duration = "NETWORK_PING_TIMEOUT_MS", "500", |e, s| parse::millis(e, s, 1, 60_000),
            "Wait for an ICMP echo reply from each gateway (echo resent meanwhile)";
        // --- container runtime
        container_runtime_endpoint: Option<PathBuf> = "CONTAINER_RUNTIME_ENDPOINT", "", parse::cri_endpoint,
            "CRI socket (unix:///run/containerd/containerd.sock or a path), taken as given; empty = first existing of containerd, CRI-O, cri-dockerd defaults under HOST_ROOT";
        container_runtime_require_network: bool = "CONTAINER_RUNTIME_REQUIRE_NETWORK", "true", parse::bool,
            "container_runtime also requires the CRI NetworkReady condition";
        // --- operations (metrics, agent-check, TLS)
        agent_port: Option<u16> = "AGENT_PORT", "", |e, s| parse::optional(e, s, parse::port),
            "TCP port of the HAProxy agent-check answer (same LISTEN_ADDRESS; unset = off; 0 = any free port)";
        /// empty until `from_raw` fills in the default (DEFAULT_CHECKS + node_eligible)
        agent_checks: Vec<CheckId> = "AGENT_CHECKS", "", |e, s| parse::optional(e, s, parse::check_names).map(Option::unwrap_or_default),
            "Checks behind the agent-check answer (comma-separated; unset = DEFAULT_CHECKS + node_eligible)";
        tls_cert_file: Option<PathBuf> = "TLS_CERT_FILE", "", parse::opt_path,
            "PEM certificate chain: serve /health over HTTPS (re-read when the file changes)";
        tls_key_file: Option<PathBuf> = "TLS_KEY_FILE", "", parse::opt_path,
            "PEM private key of TLS_CERT_FILE (required with it)";
        tls_client_ca_file: Option<PathBuf> = "TLS_CLIENT_CA_FILE", "", parse::opt_path,
            "PEM CA bundle: with TLS, require a client certificate signed by it";
    }
}

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
    List(Vec<Gateway>),
}

impl Config {
    pub fn from_raw(raw: &Raw) -> Result<Config, ConfigError> {
        // First, as before every other knob: NODE_NAME or the hostname.
        let (node_name, node_name_source) = raw.node_name()?;
        let mut p = Parsed::from_raw(raw)?;
        p.node_name = node_name;
        // Both sockets use SO_REUSEPORT: on one port they would silently
        // split connections between HTTP and the agent.
        if p.agent_port.is_some_and(|port| port != 0 && port == p.listen_port) {
            return Err(bad("AGENT_PORT", raw.str("AGENT_PORT"), "must differ from LISTEN_PORT"));
        }
        if p.agent_checks.is_empty() {
            p.agent_checks = default_agent_checks(&p.default_checks);
        }
        // A check every probe runs that could only ever fail is a mistake
        // worth refusing at start (a ?check= request still gets a reason).
        for (env, listed) in [("DEFAULT_CHECKS", &p.default_checks), ("AGENT_CHECKS", &p.agent_checks)] {
            if p.service_endpoints.is_empty() && listed.contains(&CheckId::ServiceEndpoints) {
                return Err(ConfigError(format!(
                    "SERVICE_ENDPOINTS is empty but {env} runs service_endpoints: list the Services, e.g. SERVICE_ENDPOINTS=ingress-nginx/ingress-nginx-controller"
                )));
            }
        }
        let tls = tls_files(p.tls_cert_file.clone(), p.tls_key_file.clone(), p.tls_client_ca_file.clone())?;
        Ok(p.into_config(raw.effective(), node_name_source, tls))
    }

    /// The deadline of one run of `check`.
    pub fn timeout_for(&self, check: CheckId) -> Duration {
        self.check_timeouts.get(&check).copied().unwrap_or(self.check_timeout)
    }
}

/// DEFAULT_CHECKS plus `node_eligible` (cordoned → the agent says drain).
fn default_agent_checks(default_checks: &[CheckId]) -> Vec<CheckId> {
    let mut out = default_checks.to_vec();
    if !out.contains(&CheckId::NodeEligible) {
        out.push(CheckId::NodeEligible);
    }
    out
}

/// TLS_CERT_FILE and TLS_KEY_FILE come together; TLS_CLIENT_CA_FILE only
/// with them (alone it would silently serve plain HTTP to no client).
fn tls_files(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
) -> Result<Option<TlsFiles>, ConfigError> {
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
        assert_eq!(c.default_checks, [CheckId::NodeReady]);
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
        assert_eq!(c.timeout_for(CheckId::Kubelet), Duration::from_millis(2500));
        assert_eq!(c.timeout_for(CheckId::NodeReady), Duration::from_millis(1000));
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
    fn operations_knobs() {
        let c = config(&[("NODE_NAME", "n1")]).unwrap();
        assert_eq!(c.agent_port, None);
        assert_eq!(c.tls, None);
        assert_eq!(c.agent_checks, [CheckId::NodeReady, CheckId::NodeEligible], "DEFAULT_CHECKS + node_eligible");
        let c = config(&[("NODE_NAME", "n1"), ("DEFAULT_CHECKS", "node_eligible,kubelet")]).unwrap();
        assert_eq!(c.agent_checks, [CheckId::NodeEligible, CheckId::Kubelet], "node_eligible not added twice");
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
        assert_eq!(c.agent_checks, [CheckId::Kubelet]);
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
