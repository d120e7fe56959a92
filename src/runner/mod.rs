//! Runs checks for requests: in parallel, each under its deadline, at most one
//! execution per check at a time (single-flight), and a recent result reused
//! for `CHECK_MIN_INTERVAL_MS`. A flood of probes therefore costs the kubelet,
//! the CRI socket and the API nothing extra, and a check that hangs (statfs on
//! a dead NFS mount) holds exactly one thread: later requests join it and get
//! `Unknown` at their deadline instead of starting another one.
//!
//! Snapshot checks (the Node checks, which only read memory) skip all that:
//! they run inline and uncached, so an API change shows on the next probe.

pub mod history;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::checks::{self, Check, CheckId, Ctx, Exec, Outcome};
use crate::log;
use crate::metrics::Metrics;
use history::History;

/// Stack of a check thread: checks do bounded, shallow work.
const CHECK_THREAD_STACK: usize = 256 * 1024;

/// What one request learns about one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub id: CheckId,
    pub outcome: Outcome,
    pub duration: Duration,
}

impl CheckResult {
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
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
    /// Per check id (`CheckId::index`): the check, `None` when the registry
    /// has no such check (a test registry), and its slot.
    checks: Vec<Option<&'static Check>>,
    slots: Vec<Arc<Mutex<Slot>>>,
    metrics: Arc<Metrics>,
    /// Last results and transitions, for the status page and /metrics.
    history: Arc<History>,
}

enum Joined {
    Cached(Arc<Done>),
    Flight(Arc<Flight>),
    /// A snapshot check, evaluated on the caller's thread once every probe
    /// of the request has been started: it only reads memory, so it needs no
    /// thread, no deadline enforcement and no cache.
    Inline(&'static Check),
    /// Not in this runner's registry (only test registries lack checks).
    Missing,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks; if one ever did, the data
    // (plain values) would still be consistent: keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runner {
    pub fn new(ctx: Arc<Ctx>, metrics: Arc<Metrics>) -> Runner {
        Runner::with_registry(ctx, metrics, &checks::REGISTRY)
    }

    /// A runner over another table of checks (tests use fake checks).
    pub fn with_registry(ctx: Arc<Ctx>, metrics: Arc<Metrics>, registry: &'static [Check]) -> Runner {
        let mut checks = vec![None; CheckId::ALL.len()];
        for c in registry {
            checks[c.id.index()] = Some(c);
        }
        let slots = CheckId::ALL.iter().map(|_| Arc::new(Mutex::new(Slot::default()))).collect();
        let history = Arc::new(History::new(registry.iter().map(|c| c.name())));
        let h = history.clone();
        metrics.add_renderer(Box::new(move |out: &mut String| h.render_metrics(out)));
        Runner { ctx, checks, slots, metrics, history }
    }

    /// What requests saw of each check; reading it never runs one.
    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs the given checks (deduplicated by the caller) and returns their
    /// results in the same order, by the largest deadline among them at the
    /// latest.
    pub fn run(&self, ids: &[CheckId]) -> Vec<CheckResult> {
        let now = Instant::now();
        let pending: Vec<_> = ids
            .iter()
            .map(|&id| {
                let timeout = self.ctx.config.timeout_for(id);
                let joined = match self.checks[id.index()] {
                    Some(check) => self.join_or_start(check, now, timeout),
                    None => Joined::Missing,
                };
                (id, timeout, joined)
            })
            .collect();
        pending
            .into_iter()
            .map(|(id, timeout, joined)| {
                let name = id.name();
                let (outcome, duration, finished) = match joined {
                    Joined::Missing => {
                        (Outcome::unknown(format!("{name}: no such check here")), Duration::ZERO, Instant::now())
                    }
                    Joined::Inline(check) => {
                        let (outcome, duration) = execute(check, &self.ctx, &self.metrics, now + timeout);
                        (outcome, duration, Instant::now())
                    }
                    Joined::Cached(done) => (done.outcome.clone(), done.duration, done.finished),
                    Joined::Flight(flight) => match wait(&flight, now + timeout) {
                        Some(done) => (done.outcome.clone(), done.duration, done.finished),
                        None => {
                            self.metrics.check_timed_out(name);
                            let reason = timeout_reason(timeout, flight.started, now);
                            (Outcome::unknown(reason), timeout, Instant::now())
                        }
                    },
                };
                self.note_verdict(id, &outcome);
                self.history.record(name, &outcome, duration, finished);
                CheckResult { id, outcome, duration }
            })
            .collect()
    }

    fn join_or_start(&self, check: &'static Check, now: Instant, timeout: Duration) -> Joined {
        if check.exec == Exec::Snapshot {
            return Joined::Inline(check);
        }
        let min_interval = self.ctx.config.check_min_interval;
        let mut slot = lock(&self.slots[check.id.index()]);
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
        self.spawn(check, flight.clone(), now + timeout);
        Joined::Flight(flight)
    }

    fn spawn(&self, check: &'static Check, flight: Arc<Flight>, deadline: Instant) {
        let slot = &self.slots[check.id.index()];
        let (ctx, metrics, thread_slot) = (self.ctx.clone(), self.metrics.clone(), slot.clone());
        let thread_flight = flight.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("check-{}", check.name()))
            .stack_size(CHECK_THREAD_STACK)
            .spawn(move || {
                let (outcome, duration) = execute(check, &ctx, &metrics, deadline);
                finish(&thread_slot, &thread_flight, Done { outcome, duration, finished: Instant::now() });
            });
        if let Err(e) = spawned {
            log::warn_limited("spawn-check", &format!("cannot start a thread for check {}: {e}", check.name()));
            let outcome = Outcome::unknown("could not start the check (out of threads)");
            finish(slot, &flight, Done { outcome, duration: Duration::ZERO, finished: Instant::now() });
        }
    }

    /// Logs a line when a check's verdict flips (pass ↔ fail), once per flip.
    fn note_verdict(&self, id: CheckId, outcome: &Outcome) {
        let passed = outcome.passed();
        let previous = lock(&self.slots[id.index()]).last_passed.replace(passed);
        let name = id.name();
        // A flapping check logs each distinct line at most once a minute.
        match (previous, outcome.reason()) {
            (Some(true), Some(reason)) | (None, Some(reason)) => {
                let line = format!("check {name} failing: {reason}");
                log::warn_limited(&line, &line);
            }
            (Some(false), None) => {
                let line = format!("check {name} passing again");
                log::info_limited(&line, &line);
            }
            _ => {}
        }
    }
}

/// One execution of `check`, timed and recorded; a panic in the check is
/// caught and reported as a failed check, never taking the caller down.
fn execute(check: &Check, ctx: &Ctx, metrics: &Metrics, deadline: Instant) -> (Outcome, Duration) {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| (check.run)(ctx, deadline)))
        .unwrap_or_else(|_| Outcome::unknown(format!("{} check crashed (a bug; see the log)", check.name())));
    let duration = started.elapsed();
    metrics.check_finished(check.name(), outcome.passed(), outcome.kind(), duration);
    (outcome, duration)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;
    use crate::testutil::wait_for;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, OnceLock};

    fn runner(registry: &'static [Check], knobs: &[(&str, &str)]) -> Runner {
        let config = test_config(knobs);
        let node = Arc::new(crate::kube::NodeStore::new(&config.node_name));
        Runner::with_registry(Arc::new(Ctx::new(config, node, Vec::new())), Arc::new(Metrics::new()), registry)
    }

    /// A gate that tests open to release checks blocked on it.
    struct Gate(Mutex<bool>, Condvar);
    impl Gate {
        const fn new() -> Gate {
            Gate(Mutex::new(false), Condvar::new())
        }
        fn wait(&self, limit: Duration) {
            let g = self.0.lock().unwrap();
            let _ = self.1.wait_timeout_while(g, limit, |open| !*open).unwrap();
        }
        fn open(&self) {
            *self.0.lock().unwrap() = true;
            self.1.notify_all();
        }
    }

    #[test]
    fn checks_of_one_request_run_in_parallel() {
        static BARRIER: OnceLock<Barrier> = OnceLock::new();
        // Each check waits until both have started: run one after the other,
        // the first would wait forever (and time out).
        fn meet(_: &Ctx, _: Instant) -> Outcome {
            BARRIER.get_or_init(|| Barrier::new(2)).wait();
            Outcome::Pass
        }
        static REG: &[Check] = &[
            Check { id: CheckId::Kubelet, exec: Exec::Probe, run: meet },
            Check { id: CheckId::NodeReady, exec: Exec::Probe, run: meet },
        ];
        let r = runner(REG, &[("CHECK_TIMEOUT_MS", "5000")]);
        let results = r.run(&[CheckId::Kubelet, CheckId::NodeReady]);
        assert!(results.iter().all(|r| r.outcome == Outcome::Pass), "{results:?}");
        assert_eq!(results.iter().map(|r| r.name()).collect::<Vec<_>>(), ["kubelet", "node_ready"]);
    }

    #[test]
    fn a_hung_check_is_unknown_at_its_deadline_and_holds_one_thread() {
        static GATE: Gate = Gate::new();
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        fn hang(_: &Ctx, _: Instant) -> Outcome {
            STARTED.fetch_add(1, Ordering::SeqCst);
            GATE.wait(Duration::from_secs(30));
            Outcome::Pass
        }
        static REG: &[Check] = &[Check { id: CheckId::Kubelet, exec: Exec::Probe, run: hang }];
        let r = Arc::new(runner(REG, &[("CHECK_TIMEOUT_MS", "50"), ("CHECK_MIN_INTERVAL_MS", "0")]));
        let first = r.run(&[CheckId::Kubelet]);
        assert_eq!(first[0].outcome, Outcome::Unknown("timed out after 50 ms".into()));
        // 50 concurrent probes while it hangs: all Unknown, no new execution.
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || r.run(&[CheckId::Kubelet]))
            })
            .collect();
        for h in handles {
            let res = h.join().unwrap();
            assert!(!res[0].outcome.passed());
            assert!(res[0].outcome.reason().unwrap().starts_with("timed out after 50 ms"), "{res:?}");
        }
        assert_eq!(STARTED.load(Ordering::SeqCst), 1);
        // Once it returns, its result is used and the next probe runs anew.
        GATE.open();
        wait_for("the check to recover", Duration::from_secs(10), || {
            (r.run(&[CheckId::Kubelet])[0].outcome == Outcome::Pass).then_some(())
        });
    }

    #[test]
    fn concurrent_requests_share_one_execution() {
        static GATE: Gate = Gate::new();
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        fn slow(_: &Ctx, _: Instant) -> Outcome {
            RUNS.fetch_add(1, Ordering::SeqCst);
            GATE.wait(Duration::from_secs(10));
            Outcome::fail("down")
        }
        static REG: &[Check] = &[Check { id: CheckId::Kubelet, exec: Exec::Probe, run: slow }];
        // Late joiners that miss the flight reuse its result (min interval).
        let r = Arc::new(runner(REG, &[("CHECK_TIMEOUT_MS", "20000"), ("CHECK_MIN_INTERVAL_MS", "600000")]));
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || r.run(&[CheckId::Kubelet]))
            })
            .collect();
        // Let them all join the flight, then release it.
        wait_for("the execution to start", Duration::from_secs(10), || (RUNS.load(Ordering::SeqCst) > 0).then_some(()));
        GATE.open();
        for h in handles {
            assert_eq!(h.join().unwrap()[0].outcome, Outcome::Fail("down".into()));
        }
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn recent_results_are_reused_for_the_min_interval() {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        fn count(_: &Ctx, _: Instant) -> Outcome {
            RUNS.fetch_add(1, Ordering::SeqCst);
            Outcome::Pass
        }
        static REG: &[Check] = &[Check { id: CheckId::Kubelet, exec: Exec::Probe, run: count }];
        let cached = runner(REG, &[("CHECK_MIN_INTERVAL_MS", "600000")]);
        for _ in 0..5 {
            assert!(cached.run(&[CheckId::Kubelet])[0].outcome.passed());
        }
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        let uncached = runner(REG, &[("CHECK_MIN_INTERVAL_MS", "0")]);
        for _ in 0..5 {
            uncached.run(&[CheckId::Kubelet]);
        }
        assert_eq!(RUNS.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn snapshot_checks_are_never_cached() {
        static READS: AtomicUsize = AtomicUsize::new(0);
        fn read(_: &Ctx, _: Instant) -> Outcome {
            // Odd reads fail: a cached result would repeat the first verdict.
            if READS.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                Outcome::Pass
            } else {
                Outcome::fail("changed")
            }
        }
        static REG: &[Check] = &[Check { id: CheckId::NodeReady, exec: Exec::Snapshot, run: read }];
        let r = runner(REG, &[("CHECK_MIN_INTERVAL_MS", "600000")]);
        let verdicts: Vec<bool> = (0..4).map(|_| r.run(&[CheckId::NodeReady])[0].outcome.passed()).collect();
        assert_eq!(verdicts, [true, false, true, false]);
    }

    #[test]
    fn results_requests_got_are_the_history_timeouts_included() {
        static GATE: Gate = Gate::new();
        fn hang(_: &Ctx, _: Instant) -> Outcome {
            GATE.wait(Duration::from_secs(30));
            Outcome::Pass
        }
        fn fine(_: &Ctx, _: Instant) -> Outcome {
            Outcome::Pass
        }
        static REG: &[Check] = &[
            Check { id: CheckId::Kubelet, exec: Exec::Probe, run: hang },
            Check { id: CheckId::NodeReady, exec: Exec::Snapshot, run: fine },
        ];
        let r = runner(REG, &[("CHECK_TIMEOUT_MS", "50"), ("CHECK_MIN_INTERVAL_MS", "0")]);
        r.run(&[CheckId::NodeReady, CheckId::Kubelet]);
        GATE.open();
        wait_for("the check to recover", Duration::from_secs(10), || {
            r.run(&[CheckId::Kubelet])[0].outcome.passed().then_some(())
        });
        use crate::runner::history::State;
        let ring: Vec<_> = r.history().transitions().iter().map(|t| (t.check, t.from, t.to)).collect();
        assert_eq!(
            ring,
            [
                ("kubelet", State::Unknown, State::Pass),
                ("kubelet", State::NotRun, State::Unknown),
                ("node_ready", State::NotRun, State::Pass)
            ]
        );
        assert_eq!(r.history().transitions()[1].reason.as_deref(), Some("timed out after 50 ms"));
        assert!(r.metrics().render().contains("node_readiness_check_transitions_total{check=\"kubelet\"} 1"));
    }

    #[test]
    fn a_panicking_check_fails_and_the_runner_keeps_working() {
        fn boom(_: &Ctx, _: Instant) -> Outcome {
            panic!("bug in a check");
        }
        static REG: &[Check] = &[Check { id: CheckId::Kubelet, exec: Exec::Probe, run: boom }];
        let r = runner(REG, &[("CHECK_MIN_INTERVAL_MS", "0")]);
        for _ in 0..2 {
            let res = r.run(&[CheckId::Kubelet]);
            assert!(matches!(&res[0].outcome, Outcome::Unknown(m) if m.contains("crashed")), "{res:?}");
        }
    }

    /// disk_pressure with a statvfs that hangs like one on a dead NFS mount (simulated through
    /// the `HostPaths::fs_stats` seam): every request gets Unknown at its
    /// deadline, and however many requests come, only one thread is stuck.
    #[test]
    fn hung_statvfs_is_bounded_by_the_runner_with_one_stuck_thread() {
        use crate::host::FsStats;
        use crate::sys::StatVfs;
        use std::io;

        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static RELEASED: Mutex<bool> = Mutex::new(false);
        static WAKE: Condvar = Condvar::new();
        fn hanging(_: &std::path::Path) -> io::Result<FsStats> {
            CALLS.fetch_add(1, Ordering::SeqCst);
            let mut released = RELEASED.lock().unwrap();
            while !*released {
                released = WAKE.wait(released).unwrap();
            }
            let vfs = StatVfs { frsize: 4096, blocks: 100, bavail: 50, files: 100, favail: 50, fsid: 0 };
            Ok(FsStats { dev: 1, vfs })
        }

        let env = |k: &str| {
            let v = match k {
                "NODE_NAME" => "n1",
                "CHECK_TIMEOUT_MS" => "200",
                "CHECK_MIN_INTERVAL_MS" => "0",
                "DISK_PRESSURE_PATHS" => "/",
                _ => return None,
            };
            Some(v.to_string())
        };
        let config = crate::config::Config::from_raw(&crate::config::Raw::new(env, &[]).unwrap()).unwrap();
        let node = Arc::new(crate::kube::NodeStore::new(&config.node_name));
        let mut ctx = Ctx::new(config, node, Vec::new());
        ctx.host.fs_stats = hanging;
        let runner = Arc::new(Runner::new(Arc::new(ctx), Arc::new(Metrics::new())));

        // Sequential and concurrent requests while statvfs hangs.
        let one = |runner: &Runner| {
            let started = Instant::now();
            let r = runner.run(&[CheckId::DiskPressure]).remove(0);
            (r.outcome, started.elapsed())
        };
        for _ in 0..3 {
            let (out, took) = one(&runner);
            assert!(matches!(&out, Outcome::Unknown(r) if r.starts_with("timed out after 200 ms")), "{out:?}");
            // Never a hang: answered at the deadline (generous bound for a loaded CI).
            assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(1700), "{took:?}");
        }
        let parallel: Vec<_> = (0..8)
            .map(|_| {
                let r = runner.clone();
                std::thread::spawn(move || one(&r))
            })
            .collect();
        for h in parallel {
            let (out, took) = h.join().unwrap();
            assert!(matches!(out, Outcome::Unknown(_)) && took < Duration::from_millis(1700), "{out:?} {took:?}");
        }
        assert_eq!(CALLS.load(Ordering::SeqCst), 1, "one stuck statvfs, not one per request");

        // The mount comes back: the stuck run finishes (its waiter gets its
        // Pass), and the next request runs the check afresh.
        *RELEASED.lock().unwrap() = true;
        WAKE.notify_all();
        wait_for("a Pass once the mount is back", Duration::from_secs(5), || {
            (one(&runner).0 == Outcome::Pass).then_some(())
        });
        assert_eq!(one(&runner).0, Outcome::Pass);
        // The stuck run plus at least one fresh run (two if the first probe
        // after the release missed the stuck flight's end).
        assert!((2..=3).contains(&CALLS.load(Ordering::SeqCst)), "{}", CALLS.load(Ordering::SeqCst));
    }
}
