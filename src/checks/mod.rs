//! The check registry: a static table of name → function, blackbox_exporter
//! style. A check reads what it needs from [`Ctx`], does bounded work and
//! returns an [`Outcome`]; the runner adds deadlines, caching and parallelism.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::host::HostPaths;
use crate::kube::{NodeStore, SliceStore};

mod container_runtime;
pub mod custom_conditions;
mod disk_pressure;
mod filesystem_ro;
pub(crate) mod local_http;
mod network;
mod network_dns;
mod network_gateway;
pub mod node_eligible;
pub mod node_ready;
mod node_snapshot;
#[cfg(test)]
mod node_verdict_tests;
pub mod service_endpoints;

pub use crate::config::CheckId;
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
    pub host: HostPaths,
    /// The Node snapshot the API-backed checks read, kept current by the
    /// watcher `app` starts (`kube::start`); tests hand in a store of their own.
    pub node: Arc<NodeStore>,
    /// The EndpointSlice snapshots of the SERVICE_ENDPOINTS Services, in
    /// their order (`kube::start_services`; empty when none is listed).
    pub services: Vec<Arc<SliceStore>>,
}

impl Ctx {
    /// The context over `config` and the stores someone else keeps
    /// current. Starts nothing.
    pub fn new(config: Config, node: Arc<NodeStore>, services: Vec<Arc<SliceStore>>) -> Ctx {
        let host = HostPaths::from_config(&config);
        Ctx { config, host, node, services }
    }

    /// Before a one-shot run (`check` subcommand) or before listening: wait,
    /// at most until `deadline`, for background state (the Node snapshot).
    /// Only waits when one of `ids` is a snapshot check.
    pub fn prepare_one_shot(&self, ids: &[CheckId], deadline: Instant) {
        if ids.iter().any(|&id| get(id).exec == Exec::Snapshot) {
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
    pub id: CheckId,
    pub exec: Exec,
    pub run: fn(&Ctx, Instant) -> Outcome,
}

impl Check {
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
}

/// Every check, in [`CheckId::ALL`] order, so [`get`] is an index.
pub static REGISTRY: [Check; CheckId::ALL.len()] = [
    node_ready::CHECK,
    custom_conditions::CHECK,
    node_eligible::CHECK,
    local_http::KUBELET,
    local_http::OKD_ROUTER,
    local_http::KUBE_PROXY,
    container_runtime::CHECK,
    filesystem_ro::CHECK,
    disk_pressure::CHECK,
    network::CHECK,
    service_endpoints::CHECK,
];

/// The registered check of `id`.
pub fn get(id: CheckId) -> &'static Check {
    &REGISTRY[id.index()]
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
    fn the_registry_is_in_id_order() {
        for id in CheckId::ALL {
            assert_eq!(get(id).id, id);
        }
    }
}
