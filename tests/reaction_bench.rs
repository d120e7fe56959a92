//! Reaction-time benchmark (not an asserted test; `scripts/reaction-bench`
//! runs it): flips the Node's Ready condition in the fake API server and
//! measures how long the built binary takes to answer /health with the new
//! status. Prints p50/p99/max per configuration.
mod support;

use std::time::{Duration, Instant};
use support::Service;
use support::fake_apiserver::FakeApiServer;
use support::kube_env::{Creds, as_env, env_for};

const NODE: &str = "n1";

#[test]
#[ignore = "benchmark: run scripts/reaction-bench"]
fn reaction_bench() {
    let flips: usize = std::env::var("BENCH_FLIPS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    // The shipped default (results reused up to 500 ms) and no reuse at all.
    for interval in [None, Some("0")] {
        let samples = run(flips, interval);
        let label = interval.map_or("default".to_string(), |v| v.to_string());
        println!(
            "reaction-bench CHECK_MIN_INTERVAL_MS={label}: flips={} p50={:.1}ms p99={:.1}ms max={:.1}ms",
            samples.len(),
            ms(percentile(&samples, 50)),
            ms(percentile(&samples, 99)),
            ms(*samples.last().unwrap()),
        );
    }
}

/// `flips` Ready changes (alternating False/True); the sorted reaction times.
fn run(flips: usize, min_interval: Option<&str>) -> Vec<Duration> {
    let api = FakeApiServer::start();
    api.add_node(NODE);
    let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    if let Some(v) = min_interval {
        env.push(("CHECK_MIN_INTERVAL_MS".into(), v.into()));
    }
    let svc = Service::start(&as_env(&env));
    support::wait_for("/health 200", Duration::from_secs(10), || (svc.get("/health").status == 200).then_some(()));
    let mut samples = Vec::with_capacity(flips);
    for i in 0..flips {
        let (status, want) = if i % 2 == 0 { ("False", 503) } else { ("True", 200) };
        // Spread the flips over the result-reuse window instead of aligning with it.
        std::thread::sleep(Duration::from_millis(37 * (i as u64 % 17)));
        let start = Instant::now();
        api.set_ready(NODE, status, "Bench", "flip");
        support::wait_for("/health to follow the flip", Duration::from_secs(10), || {
            (svc.get("/health").status == want).then_some(())
        });
        samples.push(start.elapsed());
    }
    drop(svc);
    samples.sort();
    samples
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
