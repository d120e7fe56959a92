//! Runs checks for requests: in parallel, each under its deadline, at most one
//! execution per check at a time (single-flight), and a recent result reused
//! for `CHECK_MIN_INTERVAL_MS`. A flood of probes therefore costs the kubelet,
//! the CRI socket and the API nothing extra, and a check that hangs (statfs on
//! a dead NFS mount) holds exactly one thread: later requests join it and get
//! `Unknown` at their deadline instead of starting another one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::checks::{self, Check, Ctx, Outcome};
use crate::log;
use crate::metrics::Metrics;

/// Stack of a check thread: checks do bounded, shallow work.
const CHECK_THREAD_STACK: usize = 256 * 1024;

/// What one request learns about one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: &'static str,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// A finished execution.
struct Done {
    outcome: Outcome,
    duration: Duration,
    finished: Instant,
}

/// An execution in progress; waiters block on `cv` until `done` is set.
struct Flight {
    started: Instant,
    done: Mutex<Option<Arc<Done>>>,
    cv: Condvar,
}

#[derive(Default)]
struct Slot {
    last: Option<Arc<Done>>,
    inflight: Option<Arc<Flight>>,
    /// Last verdict a caller saw (including timeouts), for transition logs.
    last_passed: Option<bool>,
}

pub struct Runner {
    ctx: Arc<Ctx>,
    /// One slot per registered check, same index as `checks::REGISTRY`.
    slots: Vec<Arc<Mutex<Slot>>>,
    registry: &'static [Check],
    metrics: Arc<Metrics>,
}

enum Joined {
    Cached(Arc<Done>),
    Flight(Arc<Flight>),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks; if one ever did, the data
    // (plain values) would still be consistent: keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runner {
    pub fn new(ctx: Arc<Ctx>, metrics: Arc<Metrics>) -> Runner {
        Runner::with_registry(ctx, metrics, checks::REGISTRY)
    }

    /// A runner over another table of checks (tests use fake checks).
    pub fn with_registry(ctx: Arc<Ctx>, metrics: Arc<Metrics>, registry: &'static [Check]) -> Runner {
        let slots = registry.iter().map(|_| Arc::new(Mutex::new(Slot::default()))).collect();
        Runner { ctx, slots, registry, metrics }
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs the named checks (registered names, deduplicated by the caller)
    /// and returns their results in the same order, by the largest deadline
    /// among them at the latest.
    pub fn run(&self, names: &[&'static str]) -> Vec<CheckResult> {
        let now = Instant::now();
        let pending: Vec<_> = names
            .iter()
            .map(|&name| {
                let idx = self.registry.iter().position(|c| c.name == name).expect("registered check name");
                let timeout = self.ctx.config.timeout_for(name);
                (idx, timeout, self.join_or_start(idx, now, timeout))
            })
            .collect();
        pending
            .into_iter()
            .map(|(idx, timeout, joined)| {
                let name = self.registry[idx].name;
                let (outcome, duration) = match joined {
                    Joined::Cached(done) => (done.outcome.clone(), done.duration),
                    Joined::Flight(flight) => match wait(&flight, now + timeout) {
                        Some(done) => (done.outcome.clone(), done.duration),
                        None => {
                            let outcome = Outcome::unknown(timeout_reason(timeout, flight.started, now));
                            self.metrics.check_finished(name, &outcome, timeout);
                            (outcome, timeout)
                        }
                    },
                };
                self.note_verdict(idx, &outcome);
                CheckResult { name, outcome, duration }
            })
            .collect()
    }

    fn join_or_start(&self, idx: usize, now: Instant, timeout: Duration) -> Joined {
        let min_interval = self.ctx.config.check_min_interval;
        let mut slot = lock(&self.slots[idx]);
        if let Some(last) = &slot.last
            && now.saturating_duration_since(last.finished) < min_interval
        {
            return Joined::Cached(last.clone());
        }
        if let Some(flight) = &slot.inflight {
            return Joined::Flight(flight.clone());
        }
        let flight = Arc::new(Flight { started: now, done: Mutex::new(None), cv: Condvar::new() });
        slot.inflight = Some(flight.clone());
        drop(slot);
        self.spawn(idx, flight.clone(), now + timeout);
        Joined::Flight(flight)
    }

    fn spawn(&self, idx: usize, flight: Arc<Flight>, deadline: Instant) {
        let check: &'static Check = &self.registry[idx];
        let (ctx, metrics, slot) = (self.ctx.clone(), self.metrics.clone(), self.slots[idx].clone());
        let thread_flight = flight.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("check-{}", check.name))
            .stack_size(CHECK_THREAD_STACK)
            .spawn(move || {
                let started = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| (check.run)(&ctx, deadline)))
                    .unwrap_or_else(|_| Outcome::unknown(format!("{} check crashed (a bug; see the log)", check.name)));
                let duration = started.elapsed();
                metrics.check_finished(check.name, &outcome, duration);
                finish(&slot, &thread_flight, Done { outcome, duration, finished: Instant::now() });
            });
        if let Err(e) = spawned {
            log::warn_limited("spawn-check", &format!("cannot start a thread for check {}: {e}", check.name));
            let outcome = Outcome::unknown("could not start the check (out of threads)");
            finish(&self.slots[idx], &flight, Done { outcome, duration: Duration::ZERO, finished: Instant::now() });
        }
    }

    /// Logs a line when a check's verdict flips (pass ↔ fail), once per flip.
    fn note_verdict(&self, idx: usize, outcome: &Outcome) {
        let passed = outcome.passed();
        let previous = std::mem::replace(&mut lock(&self.slots[idx]).last_passed, Some(passed));
        let name = self.registry[idx].name;
        match (previous, outcome.reason()) {
            (Some(true), Some(reason)) | (None, Some(reason)) => {
                log::warn(&format!("check {name} failing: {reason}"));
            }
            (Some(false), None) => log::info(&format!("check {name} passing again")),
            _ => {}
        }
    }
}

/// Stores a finished execution, clears the flight and wakes every waiter.
fn finish(slot: &Mutex<Slot>, flight: &Arc<Flight>, done: Done) {
    let done = Arc::new(done);
    {
        let mut slot = lock(slot);
        slot.last = Some(done.clone());
        if slot.inflight.as_ref().is_some_and(|f| Arc::ptr_eq(f, flight)) {
            slot.inflight = None;
        }
    }
    *lock(&flight.done) = Some(done);
    flight.cv.notify_all();
}

/// Waits for the flight until `deadline`; `None` when it is still running.
fn wait(flight: &Flight, deadline: Instant) -> Option<Arc<Done>> {
    let mut done = lock(&flight.done);
    loop {
        if let Some(d) = done.as_ref() {
            return Some(d.clone());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        done = flight.cv.wait_timeout(done, left).unwrap_or_else(|p| p.into_inner()).0;
    }
}

fn timeout_reason(timeout: Duration, started: Instant, now: Instant) -> String {
    let ms = timeout.as_millis();
    let stuck = now.saturating_duration_since(started);
    if stuck > timeout {
        format!("timed out after {ms} ms (still running after {} s)", stuck.as_secs())
    } else {
        format!("timed out after {ms} ms")
    }
}
