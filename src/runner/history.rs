//! What the runner remembers about each check between requests, for the
//! status page and /metrics (neither ever runs a check): the last result a
//! request got, since when the check has been in that state, and a bounded
//! ring of the last [`MAX_TRANSITIONS`] transitions. "Why was my node pulled
//! at 03:12?" is answered from here.
//!
//! A transition is a change of state (pass, fail, unknown) between results
//! callers saw; a new reason within the same state is not one. The first
//! result after start enters the ring as `not-run → state` (it says since
//! when), but is not counted in `node_readiness_check_transitions_total`: a
//! fleet-wide rolling restart must not look like flapping.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::checks::Outcome;
use crate::metrics::family;

/// Transitions kept; older ones are dropped (bounded memory and page size).
pub const MAX_TRANSITIONS: usize = 100;

/// The state of a check as the status page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No request has asked for the check since start.
    NotRun,
    Pass,
    Fail,
    Unknown,
}

impl State {
    pub fn of(outcome: &Outcome) -> State {
        match outcome {
            Outcome::Pass => State::Pass,
            Outcome::Fail(_) => State::Fail,
            Outcome::Unknown(_) => State::Unknown,
        }
    }

    /// Label in JSON and CSS classes: `not-run`, `pass`, `fail`, `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            State::NotRun => "not-run",
            State::Pass => "pass",
            State::Fail => "fail",
            State::Unknown => "unknown",
        }
    }
}

/// The last known result of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckStatus {
    pub name: &'static str,
    pub state: State,
    /// Reason of the last result (none when it passed).
    pub reason: Option<String>,
    pub duration: Duration,
    /// When the execution behind the last result finished.
    pub last_run: Option<SystemTime>,
    /// When the check entered `state` (its first result counts).
    pub since: Option<SystemTime>,
    /// State changes since start, the first result not counted.
    pub transitions: u64,
    /// Orders results (monotonic clock): one older than the last recorded
    /// (a slow request finishing late) is ignored.
    finished: Option<Instant>,
}

/// One entry of the ring.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub at: SystemTime,
    pub check: &'static str,
    pub from: State,
    pub to: State,
    /// Reason of the new state (none for pass).
    pub reason: Option<String>,
}

struct Inner {
    checks: Vec<CheckStatus>,
    ring: VecDeque<Transition>,
}

/// Per-check status and the transition ring, shared by request threads.
pub struct History {
    /// When recording began (process start, for the page's "up since").
    pub started: SystemTime,
    inner: Mutex<Inner>,
}

impl History {
    /// One entry per check name, in the given (registry) order.
    pub fn new(names: impl IntoIterator<Item = &'static str>) -> History {
        let checks = names
            .into_iter()
            .map(|name| CheckStatus {
                name,
                state: State::NotRun,
                reason: None,
                duration: Duration::ZERO,
                last_run: None,
                since: None,
                transitions: 0,
                finished: None,
            })
            .collect();
        History {
            started: SystemTime::now(),
            inner: Mutex::new(Inner { checks, ring: VecDeque::with_capacity(MAX_TRANSITIONS) }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain values, consistent between statements: keep serving after a panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a result a caller got: the execution behind it finished at
    /// `finished` (a reused result keeps its own time). Returns the
    /// transition when the state changed.
    pub fn record(&self, check: &str, outcome: &Outcome, duration: Duration, finished: Instant) -> Option<Transition> {
        let at = wall_clock(finished);
        let mut inner = self.lock();
        let status = inner.checks.iter_mut().find(|c| c.name == check)?;
        if status.finished.is_some_and(|last| finished < last) {
            return None;
        }
        let to = State::of(outcome);
        let from = status.state;
        status.reason = outcome.reason().map(str::to_string);
        status.duration = duration;
        status.last_run = Some(at);
        status.finished = Some(finished);
        if from == to {
            return None;
        }
        status.state = to;
        status.since = Some(at);
        if from != State::NotRun {
            status.transitions += 1;
        }
        let transition = Transition { at, check: status.name, from, to, reason: status.reason.clone() };
        if inner.ring.len() == MAX_TRANSITIONS {
            inner.ring.pop_front();
        }
        inner.ring.push_back(transition.clone());
        Some(transition)
    }

    /// Every check's status, in registry order.
    pub fn checks(&self) -> Vec<CheckStatus> {
        self.lock().checks.clone()
    }

    /// The ring, newest first.
    pub fn transitions(&self) -> Vec<Transition> {
        self.lock().ring.iter().rev().cloned().collect()
    }

    /// The transition families of /metrics, for checks that have run.
    pub fn render_metrics(&self, out: &mut String) {
        let checks = self.checks();
        let ran = || checks.iter().filter(|c| c.state != State::NotRun);
        family(
            out,
            "node_readiness_check_transitions_total",
            "counter",
            "Changes of a check's state (pass, fail, unknown) seen by requests; the first result is not counted.",
        );
        for c in ran() {
            let _ = writeln!(out, "node_readiness_check_transitions_total{{check=\"{}\"}} {}", c.name, c.transitions);
        }
        family(
            out,
            "node_readiness_check_last_transition_timestamp_seconds",
            "gauge",
            "Unix time since which the check has been in its current state (its first result counts).",
        );
        for c in ran() {
            let since = c.since.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
            let _ = writeln!(
                out,
                "node_readiness_check_last_transition_timestamp_seconds{{check=\"{}\"}} {:.3}",
                c.name,
                since.as_secs_f64()
            );
        }
    }
}

/// The wall-clock time of a past monotonic instant.
fn wall_clock(t: Instant) -> SystemTime {
    SystemTime::now() - Instant::now().saturating_duration_since(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        History::new(["node_ready", "kubelet"])
    }

    #[test]
    fn a_state_change_is_a_transition_a_new_reason_is_not() {
        let h = history();
        let t0 = Instant::now();
        let first = h.record("kubelet", &Outcome::Pass, Duration::from_millis(3), t0).unwrap();
        assert_eq!((first.from, first.to), (State::NotRun, State::Pass));
        assert_eq!(h.record("kubelet", &Outcome::Pass, Duration::ZERO, t0 + Duration::from_millis(1)), None);
        let down = h.record("kubelet", &Outcome::fail("refused"), Duration::ZERO, t0 + Duration::from_millis(2));
        assert_eq!(down.map(|t| (t.from, t.to, t.reason)), Some((State::Pass, State::Fail, Some("refused".into()))));
        let other = h.record("kubelet", &Outcome::fail("500"), Duration::ZERO, t0 + Duration::from_millis(3));
        assert_eq!(other, None, "same state, other reason");
        let status = h.checks().into_iter().find(|c| c.name == "kubelet").unwrap();
        assert_eq!((status.state, status.reason.as_deref(), status.transitions), (State::Fail, Some("500"), 1));
        assert!(status.since.unwrap() < status.last_run.unwrap());
        let untouched = h.checks().into_iter().find(|c| c.name == "node_ready").unwrap();
        assert_eq!((untouched.state, untouched.last_run), (State::NotRun, None));
    }

    #[test]
    fn the_ring_keeps_the_last_hundred_newest_first() {
        let h = history();
        let t0 = Instant::now();
        for i in 0..250u64 {
            let outcome = if i % 2 == 0 { Outcome::Pass } else { Outcome::unknown(format!("flap {i}")) };
            h.record("node_ready", &outcome, Duration::ZERO, t0 + Duration::from_millis(i));
        }
        let ring = h.transitions();
        assert_eq!(ring.len(), MAX_TRANSITIONS);
        assert_eq!(ring[0].reason.as_deref(), Some("flap 249"));
        assert_eq!((ring[99].from, ring[99].to), (State::Unknown, State::Pass), "entry of i=150");
        assert_eq!(h.checks()[0].transitions, 249);
    }

    #[test]
    fn a_result_older_than_the_recorded_one_is_ignored() {
        let h = history();
        let t0 = Instant::now();
        h.record("kubelet", &Outcome::fail("new"), Duration::ZERO, t0 + Duration::from_millis(10));
        assert_eq!(h.record("kubelet", &Outcome::Pass, Duration::ZERO, t0), None);
        assert_eq!(h.checks()[1].state, State::Fail);
    }

    #[test]
    fn metrics_cover_checks_that_ran() {
        let h = history();
        let t0 = Instant::now();
        h.record("kubelet", &Outcome::Pass, Duration::ZERO, t0);
        h.record("kubelet", &Outcome::fail("x"), Duration::ZERO, t0 + Duration::from_millis(1));
        h.record("kubelet", &Outcome::Pass, Duration::ZERO, t0 + Duration::from_millis(2));
        let mut out = String::new();
        h.render_metrics(&mut out);
        assert!(out.lines().any(|l| l == "node_readiness_check_transitions_total{check=\"kubelet\"} 2"), "{out}");
        let since = h.checks()[1].since.unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let line =
            out.lines().find(|l| l.starts_with("node_readiness_check_last_transition_timestamp_seconds{")).unwrap();
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((value - since).abs() < 0.01, "{line} vs {since}");
        assert!(!out.contains("node_ready\""), "a check never run has no series: {out}");
    }
}
