//! The data behind the status page (`GET /`, `/status`) and its JSON form
//! (`/status?format=json`), gathered from what the runner's history, the
//! Node store, the EndpointSlice stores (SERVICE_ENDPOINTS) and the config
//! already hold. Gathering never runs a check and
//! never calls the API, like /metrics.
//!
//! Every string that comes from outside (reasons carry Node condition
//! messages, which any pod allowed to patch a Node can set) is cut to
//! [`MAX_FIELD_CHARS`], so the page's size stays bounded; URLs lose any
//! `user:password@`, so no secret shows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use serde::{Serialize, Serializer};

use crate::kube::endpoint_slice::Tally;
use crate::kube::{NodeState, NodeStore, Presence, SliceStore, WatchStats};
use crate::runner::Runner;
use crate::runner::history::{CheckStatus, State, Transition};
use crate::timefmt;

/// Longest string shown for one field (reasons are ≤ 200 already).
pub const MAX_FIELD_CHARS: usize = 300;

/// The whole status, as the page and the JSON show it.
#[derive(Serialize, Debug)]
pub struct Report {
    pub node: String,
    pub version: &'static str,
    #[serde(serialize_with = "time")]
    pub generated_at: SystemTime,
    #[serde(serialize_with = "time")]
    pub started_at: SystemTime,
    /// The last result of every default check passed (what a bare
    /// `GET /health` said last). A default check not run yet is not ready.
    pub ready: bool,
    pub default_checks: Vec<&'static str>,
    pub checks: Vec<CheckRow>,
    pub node_state: NodeStateRow,
    /// One per SERVICE_ENDPOINTS Service, in its order (empty when unset).
    pub service_watches: Vec<ServiceWatchRow>,
    /// Newest first, at most `history::MAX_TRANSITIONS`.
    pub transitions: Vec<TransitionRow>,
    /// Every knob's effective value, as the startup log line shows it.
    #[serde(serialize_with = "pairs_as_map")]
    pub config: Vec<(&'static str, String)>,
}

#[derive(Serialize, Debug)]
pub struct CheckRow {
    pub name: &'static str,
    /// `pass`, `fail`, `unknown` or `not-run`.
    pub state: &'static str,
    pub reason: Option<String>,
    pub duration_ms: Option<u64>,
    #[serde(serialize_with = "opt_time")]
    pub last_run: Option<SystemTime>,
    #[serde(serialize_with = "opt_time")]
    pub since: Option<SystemTime>,
    pub transitions: u64,
    /// One of `DEFAULT_CHECKS`.
    pub default: bool,
}

#[derive(Serialize, Debug)]
pub struct NodeStateRow {
    /// `watch` (a watch is open), `poll` (RBAC forbids list/watch: GET
    /// polling) or `none` (no answer from the API right now).
    pub source: &'static str,
    /// `present`, `not-found` or `unknown` (never heard from the API).
    pub presence: &'static str,
    pub api_server: Option<String>,
    /// Seconds since the API last answered (an event, a bookmark, a list or
    /// get); null if it never did. A healthy quiet watch keeps it under the
    /// bookmark period (about a minute).
    pub age_seconds: Option<u64>,
    pub last_error: Option<String>,
    pub no_credentials: Option<String>,
    pub watch_restarts: u64,
    pub watch_restarts_by_reason: BTreeMap<&'static str, u64>,
}

/// The EndpointSlice watch of one Service, as the Node's: what the
/// service_endpoints check reads, and why it may not be able to tell.
#[derive(Serialize, Debug)]
pub struct ServiceWatchRow {
    /// `namespace/name`.
    pub service: String,
    /// `watch` (a watch is open) or `none` (no answer from the API right
    /// now); there is no polling fallback for slices.
    pub source: &'static str,
    /// EndpointSlices of the Service in the last known state; null until
    /// the first list answered.
    pub slices: Option<usize>,
    /// Ready, non-terminating endpoints on this node / on other nodes, in
    /// the last known state (null with `slices`).
    pub ready_here: Option<usize>,
    pub ready_elsewhere: Option<usize>,
    /// As `node_state.age_seconds`, for this watch.
    pub age_seconds: Option<u64>,
    pub last_error: Option<String>,
    /// RBAC forbids list or watch: the reason the check gives.
    pub forbidden: Option<String>,
    pub no_credentials: Option<String>,
    pub watch_restarts: u64,
    pub watch_restarts_by_reason: BTreeMap<&'static str, u64>,
}

#[derive(Serialize, Debug, Clone)]
pub struct TransitionRow {
    #[serde(serialize_with = "time")]
    pub at: SystemTime,
    pub check: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub reason: Option<String>,
}

impl Report {
    /// Gathers the report at `now` (wall clock) / `mono` (monotonic).
    pub fn collect(runner: &Runner, now: SystemTime, mono: Instant) -> Report {
        let ctx = runner.ctx();
        let config = &ctx.config;
        let history = runner.history();
        let statuses = history.checks();
        let ready = !config.default_checks.is_empty()
            && config
                .default_checks
                .iter()
                .all(|d| statuses.iter().any(|c| c.name == d.name() && c.state == State::Pass));
        let is_default = |name: &str| config.default_checks.iter().any(|d| d.name() == name);
        let checks = statuses.iter().map(|c| check_row(c, is_default(c.name))).collect();
        Report {
            node: field(&config.node_name),
            version: env!("CARGO_PKG_VERSION"),
            generated_at: now,
            started_at: history.started,
            ready,
            default_checks: config.default_checks.iter().map(|id| id.name()).collect(),
            checks,
            node_state: node_state_row(&ctx.node, &ctx.node.snapshot(), mono),
            service_watches: ctx.services.iter().map(|s| service_watch_row(s, &config.node_name, mono)).collect(),
            transitions: history.transitions().iter().map(transition_row).collect(),
            config: config.effective.iter().map(|(k, v)| (*k, field(&redact_userinfo(v)))).collect(),
        }
    }

    /// The JSON body, ending with a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec(self).expect("plain structs serialize");
        json.push(b'\n');
        json
    }
}

fn check_row(c: &CheckStatus, default: bool) -> CheckRow {
    let ran = c.state != State::NotRun;
    CheckRow {
        name: c.name,
        state: c.state.label(),
        reason: c.reason.as_deref().map(field),
        duration_ms: ran.then_some(c.duration.as_millis() as u64),
        last_run: c.last_run,
        since: c.since,
        transitions: c.transitions,
        default,
    }
}

fn transition_row(t: &Transition) -> TransitionRow {
    TransitionRow {
        at: t.at,
        check: t.check,
        from: t.from.label(),
        to: t.to.label(),
        reason: t.reason.as_deref().map(field),
    }
}

fn node_state_row(store: &NodeStore, snap: &NodeState, now: Instant) -> NodeStateRow {
    let stats = store.stats();
    let source = if stats.connected() {
        "watch"
    } else if stats.polling() {
        "poll"
    } else {
        "none"
    };
    let presence = match snap.presence {
        Presence::Present(_) => "present",
        Presence::NotFound => "not-found",
        Presence::Unknown => "unknown",
    };
    let by_reason = restarts_by_reason(stats);
    NodeStateRow {
        source,
        presence,
        api_server: store.api_server().map(|s| field(&redact_userinfo(s))),
        age_seconds: snap.confirmed_at.map(|_| snap.age(now).as_secs()),
        last_error: snap.last_error.as_deref().map(field),
        no_credentials: snap.no_credentials.as_deref().map(field),
        watch_restarts: by_reason.values().sum(),
        watch_restarts_by_reason: by_reason,
    }
}

fn restarts_by_reason(stats: &WatchStats) -> BTreeMap<&'static str, u64> {
    stats.restarts().into_iter().collect()
}

fn service_watch_row(store: &SliceStore, node: &str, now: Instant) -> ServiceWatchRow {
    let snap = store.snapshot();
    let tally = snap.slices.as_ref().map(|s| Tally::of(s.values().map(|s| s.as_ref()), node));
    let by_reason = restarts_by_reason(store.stats());
    ServiceWatchRow {
        service: field(&snap.service.to_string()),
        source: if store.stats().connected() { "watch" } else { "none" },
        slices: snap.slices.as_ref().map(|s| s.len()),
        ready_here: tally.as_ref().map(|t| t.ready_here),
        ready_elsewhere: tally.as_ref().map(|t| t.ready_elsewhere),
        age_seconds: snap.confirmed_at.map(|t| now.saturating_duration_since(t).as_secs()),
        last_error: snap.last_error.as_deref().map(field),
        forbidden: snap.forbidden.as_deref().map(field),
        no_credentials: snap.no_credentials.as_deref().map(field),
        watch_restarts: by_reason.values().sum(),
        watch_restarts_by_reason: by_reason,
    }
}

/// `s` cut to [`MAX_FIELD_CHARS`] characters (with `…` when cut).
pub fn field(s: &str) -> String {
    if s.chars().count() <= MAX_FIELD_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_FIELD_CHARS - 1).collect();
    out.push('…');
    out
}

/// `scheme://user:password@host/…` → `scheme://***@host/…`: a URL knob
/// may carry credentials, and the page must never show a secret.
pub fn redact_userinfo(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', '?', '#', ',', ' ']).unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// A duration for humans: `0 s`, `45 s`, `12 min 5 s`, `3 h 12 min`, `2 d 4 h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s / 60 % 60),
        _ => format!("{} d {} h", s / 86_400, s / 3600 % 24),
    }
}

fn time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timefmt::rfc3339(*t))
}

fn opt_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => time(t, s),
        None => s.serialize_none(),
    }
}

/// Keeps `KNOBS` order in the JSON object.
fn pairs_as_map<S: Serializer>(pairs: &[(&'static str, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_and_other_values_kept() {
        assert_eq!(redact_userinfo("http://127.0.0.1:10248/healthz"), "http://127.0.0.1:10248/healthz");
        assert_eq!(redact_userinfo("https://admin:s3cret@10.0.0.1:6443/x"), "https://***@10.0.0.1:6443/x");
        assert_eq!(redact_userinfo("http://a@b/c?d=e@f"), "http://***@b/c?d=e@f", "an @ after the path stays");
        assert_eq!(redact_userinfo("x://u:p@h,y://v@i"), "x://***@h,y://***@i");
        assert_eq!(redact_userinfo("/etc/kubernetes/kubelet.conf"), "/etc/kubernetes/kubelet.conf");
    }

    #[test]
    fn long_fields_are_cut() {
        let long = "é".repeat(1000);
        let cut = field(&long);
        assert_eq!(cut.chars().count(), MAX_FIELD_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(field("short"), "short");
    }

    #[test]
    fn durations_for_humans() {
        let h = |s| human_duration(Duration::from_secs(s));
        assert_eq!([h(0), h(59), h(61), h(3725), h(200_000)], ["0 s", "59 s", "1 min 1 s", "1 h 2 min", "2 d 7 h"]);
    }
}
