//! The reaction-time measurement shared by `scripts/reaction-bench` (10 ms
//! poll step) and `scripts/bench` (1 ms): flip the Node's Ready condition in
//! the fake API server and time until /health answers the new status.

use std::time::{Duration, Instant};

use super::Service;
use super::fake_apiserver::FakeApiServer;
use super::kube_env::{Creds, as_env, env_for};

const NODE: &str = "n1";
/// Longest wait for one status before the benchmark gives up.
const LIMIT: Duration = Duration::from_secs(20);

/// Polls /health every `step` until it answers `want`; the time since `t0`.
pub fn until_status(svc: &Service, want: u16, t0: Instant, step: Duration) -> Duration {
    while svc.get("/health").status != want {
        assert!(t0.elapsed() < LIMIT, "no {want} within {LIMIT:?}:\n{}", svc.log());
        std::thread::sleep(step);
    }
    t0.elapsed()
}

/// `flips` Ready changes (alternating False/True), with `CHECK_MIN_INTERVAL_MS`
/// set to `min_interval` when given; the sorted reaction times.
pub fn samples(flips: usize, min_interval: Option<&str>, step: Duration) -> Vec<Duration> {
    let api = FakeApiServer::start();
    api.add_node(NODE);
    let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    if let Some(v) = min_interval {
        env.push(("CHECK_MIN_INTERVAL_MS".into(), v.into()));
    }
    let svc = Service::start(&as_env(&env));
    until_status(&svc, 200, Instant::now(), step);
    let mut samples = Vec::with_capacity(flips);
    for i in 0..flips {
        let (status, want) = if i % 2 == 0 { ("False", 503) } else { ("True", 200) };
        // Spread the flips over the result-reuse window instead of aligning with it.
        std::thread::sleep(Duration::from_millis(37 * (i as u64 % 17)));
        let t0 = Instant::now();
        api.set_ready(NODE, status, "Bench", "flip");
        samples.push(until_status(&svc, want, t0, step));
    }
    samples.sort();
    samples
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(p * sorted.len()).div_ceil(100).max(1) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
