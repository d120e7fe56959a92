//! The check registry: a static table of name → function, blackbox_exporter
//! style. A check reads what it needs from [`Ctx`], does bounded work and
//! returns an [`Outcome`]; the runner adds deadlines, caching and parallelism.

use std::time::Instant;

use crate::config::Config;

mod container_runtime;
pub mod custom_conditions;
mod disk_pressure;
mod filesystem_ro;
mod kube_proxy;
mod kubelet;
pub(crate) mod local_http;
mod network;
mod network_dns;
mod network_gateway;
pub mod node_eligible;
pub mod node_ready;
mod node_snapshot;
#[cfg(test)]
mod node_verdict_tests;
mod okd_router;
pub mod service_endpoints;

pub use custom_conditions::{ConditionRule, parse_condition_rules};

/// Longest `reason` we ever send: reasons are for humans on one line.
pub const MAX_REASON_CHARS: usize = 200;

/// Result of one check run. `Unknown` (timed out, could not tell) is reported
/// as `passed:false` with a reason: never silently ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Unknown(String),
}

impl Outcome {
    /// A failure with a reason cleaned to one short line.
    pub fn fail(reason: impl AsRef<str>) -> Outcome {
        Outcome::Fail(clean_reason(reason.as_ref()))
    }

    /// "Could not tell" with a reason cleaned to one short line.
    pub fn unknown(reason: impl AsRef<str>) -> Outcome {
        Outcome::Unknown(clean_reason(reason.as_ref()))
    }

    /// The verdict of a check that judged several things: Fail when any
    /// failed (every reason listed, failures first), else Unknown when some
    /// could not be judged, else Pass.
    pub fn from_findings(mut fails: Vec<String>, unknown: Vec<String>) -> Outcome {
        if !fails.is_empty() {
            fails.extend(unknown);
            Outcome::fail(fails.join(", "))
        } else if !unknown.is_empty() {
            Outcome::unknown(unknown.join(", "))
        } else {
            Outcome::Pass
        }
    }

    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::Fail(r) | Outcome::Unknown(r) => Some(r),
        }
    }

    /// Label for metrics and logs: pass, fail, unknown.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "fail",
            Outcome::Unknown(_) => "unknown",
        }
    }
}

/// Collapses whitespace (newlines included) and cuts to [`MAX_REASON_CHARS`].
pub fn clean_reason(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_REASON_CHARS));
    let mut chars = 0;
    for word in s.split_whitespace() {
        let sep = usize::from(!out.is_empty());
        let n = word.chars().count();
        if chars + sep + n > MAX_REASON_CHARS {
            let room = MAX_REASON_CHARS.saturating_sub(chars + sep + 1);
            if room > 0 {
                if sep == 1 {
                    out.push(' ');
                }
                out.extend(word.chars().take(room));
            } else if chars == MAX_REASON_CHARS {
                out.pop(); // the words so far fill the limit exactly: make room for '…'
            }
            out.push('…');
            return out;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(word);
        chars += sep + n;
    }
    out
}

/// Everything a check may read. Built once at start, shared by all threads.
pub struct Ctx {
    pub config: Config,
    /// Where the host's `/` and `/proc` are (HOST_ROOT, HOST_PROC).
    pub host: crate::host::HostPaths,
    /// The Node snapshot the API-backed checks read (kube::start).
    pub node: std::sync::Arc<crate::kube::NodeStore>,
    /// The EndpointSlice snapshots of the SERVICE_ENDPOINTS Services, in
    /// their order (kube::start_services; empty when none is listed).
    pub services: Vec<std::sync::Arc<crate::kube::SliceStore>>,
}

impl Ctx {
    /// Builds the context and starts what the checks read in the background.
    pub fn new(config: Config) -> Ctx {
        let host = crate::host::HostPaths::from_config(&config);
        let node = crate::kube::start(&config);
        let services = crate::kube::start_services(&config);
        Ctx { config, host, node, services }
    }

    /// Before a one-shot run (`check` subcommand) or before listening: wait,
    /// at most until `deadline`, for background state (the Node snapshot).
    /// Only waits when one of `names` is a snapshot check.
    pub fn prepare_one_shot(&self, names: &[&str], deadline: std::time::Instant) {
        if names.iter().filter_map(|n| find(n)).any(|c| c.exec == Exec::Snapshot) {
            self.node.wait_first(deadline);
            for s in &self.services {
                s.wait_until(deadline, |s| s.settled());
            }
        }
    }
}

/// How the runner executes a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exec {
    /// Reads in-memory state (the Node snapshot): runs inline on the request
    /// thread and is never cached, so an API change shows on the very next
    /// probe.
    Snapshot,
    /// Talks to something that can be slow or hang (HTTP, sockets, syscalls
    /// on mounts): runs on its own thread under the deadline, single-flight,
    /// result reused for `CHECK_MIN_INTERVAL_MS`.
    Probe,
}

/// One registered check. `run` gets the deadline of this run and should not
/// block past it; the runner stops waiting at the deadline regardless.
pub struct Check {
    pub name: &'static str,
    pub exec: Exec,
    pub run: fn(&Ctx, Instant) -> Outcome,
}

/// Every check, by public name. Names are API: never rename one.
pub static REGISTRY: &[Check] = &[
    node_ready::CHECK,
    custom_conditions::CHECK,
    node_eligible::CHECK,
    kubelet::CHECK,
    okd_router::CHECK,
    kube_proxy::CHECK,
    container_runtime::CHECK,
    filesystem_ro::CHECK,
    disk_pressure::CHECK,
    network::CHECK,
    service_endpoints::CHECK,
];

pub fn find(name: &str) -> Option<&'static Check> {
    REGISTRY.iter().find(|c| c.name == name)
}

pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|c| c.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_short_line() {
        assert_eq!(clean_reason("a\n b\tc  "), "a b c");
        let long = "x".repeat(500);
        let r = clean_reason(&format!("prefix {long}"));
        assert_eq!(r.chars().count(), MAX_REASON_CHARS);
        assert!(r.starts_with("prefix x") && r.ends_with('…'));
    }

    #[test]
    fn a_reason_filling_the_limit_exactly_keeps_the_ellipsis_within_it() {
        // Found by fuzzing (fuzz/regressions/kube_node_json): words ending
        // exactly at the limit, then more words, gave 201 characters.
        let exact = format!("{} {}", "a".repeat(99), "b".repeat(100));
        assert_eq!(exact.chars().count(), MAX_REASON_CHARS);
        let r = clean_reason(&format!("{exact} more"));
        assert_eq!(r.chars().count(), MAX_REASON_CHARS);
        assert!(r.starts_with("aaa") && r.ends_with("b…"), "{r}");
        assert_eq!(clean_reason(&exact), exact);
    }

    #[test]
    fn names_are_unique() {
        let mut n = names();
        n.sort();
        n.dedup();
        assert_eq!(n.len(), REGISTRY.len());
    }
}
