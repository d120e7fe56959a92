//! Benchmark parts that need the fake Kubernetes API server (not asserted
//! tests; `scripts/bench` runs them with `cargo bench --bench api_cost` and reads the
//! `BENCH key=value` lines they print):
//!   - API requests per hour per node in steady state, next to what one GET
//!     per probe would cost at the same probe rate;
//!   - the cost of confirming a quiet watch alive under a staleness limit
//!     (NODE_STATE_MAX_STALENESS_SECONDS=30, bookmarks every 60 s as
//!     kube-apiserver sends them);
//!   - idle RSS and threads with the watch open;
//!   - time from process start to the first 200 with the API reachable.
#[path = "../tests/support/mod.rs"]
mod support;

use support::bench::selected;

use std::time::{Duration, Instant};

use support::Service;
use support::fake_apiserver::{FakeApiServer, Verb};
use support::kube_env::{Creds, as_env, env_for};
use support::reaction::{self, ms, percentile, until_status};

const NODE: &str = "n1";
/// /health poll step of these measurements (reaction-bench polls every 10 ms).
const POLL: Duration = Duration::from_millis(1);

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find_map(|l| l.strip_prefix(field)).unwrap();
    line.split_whitespace().next().unwrap().parse().unwrap()
}

fn total_requests(api: &FakeApiServer) -> u64 {
    [Verb::Get, Verb::List, Verb::Watch].iter().map(|&v| api.count(v)).sum()
}

fn bench_api_cost_and_idle() {
    let window = env_secs("BENCH_API_WINDOW_SECONDS", 60);
    let probe_rate = env_secs("BENCH_PROBES_PER_SECOND", 10);
    let api = FakeApiServer::start();
    api.add_node(NODE);
    let env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    let svc = Service::start(&as_env(&env));
    support::wait_for("/health 200", Duration::from_secs(20), || (svc.get("/health").status == 200).then_some(()));
    // Steady state starts once the watch is open (a 200 can come right after
    // the initial list, before the watch request).
    support::wait_for("the watch to open", Duration::from_secs(20), || (api.open_watches() >= 1).then_some(()));
    let startup_requests = total_requests(&api);

    // Steady state: the watch is open; monitors probe at `probe_rate`.
    api.reset_counts();
    let started = Instant::now();
    let mut probes = 0u64;
    while started.elapsed() < Duration::from_secs(window) {
        let r = svc.get("/health");
        assert_eq!(r.status, 200, "{}", r.body);
        probes += 1;
        let next = Duration::from_secs_f64(probes as f64 / probe_rate as f64);
        std::thread::sleep(next.saturating_sub(started.elapsed())); // probe pacing
    }
    let elapsed = started.elapsed().as_secs_f64();
    let in_window = total_requests(&api);
    for r in api.requests() {
        println!("BENCH-WINDOW-REQUEST {} {}?{} -> {}", r.method, r.path, r.query, r.status);
    }
    let rss = status_field(svc.pid(), "VmRSS:");
    let threads = status_field(svc.pid(), "Threads:");

    // One watch cycle: the server ends the stream at its timeoutSeconds; count
    // what the client sends to carry on (expected: one watch, no relist).
    api.reset_counts();
    api.end_watches();
    support::wait_for("the watch to be re-opened", Duration::from_secs(20), || {
        (api.count(Verb::Watch) >= 1 && api.open_watches() >= 1).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2)); // anything else the resume triggers
    let per_cycle = total_requests(&api);
    let log = api.requests();
    let timeouts: Vec<u64> = log
        .iter()
        .filter(|r| r.verb == Some(Verb::Watch))
        .filter_map(|r| r.query.split('&').find_map(|kv| kv.strip_prefix("timeoutSeconds=")))
        .filter_map(|v| v.parse().ok())
        .collect();
    assert!(!timeouts.is_empty(), "no timeoutSeconds in {log:?}");
    // The watcher draws timeoutSeconds uniformly from 300..=600 s (src/kube/watch.rs).
    let (mean_timeout, min_timeout) = (450.0, 300.0);
    println!(
        "BENCH startup_requests={startup_requests} window_s={elapsed:.0} probes={probes} probe_rate={probe_rate} \
         requests_in_window={in_window} requests_per_watch_cycle={per_cycle} watch_timeout_s={timeouts:?} \
         api_per_hour_mean={:.1} api_per_hour_worst={:.1} per_probe_get_per_hour={} idle_rss_kib={rss} \
         idle_threads={threads}",
        per_cycle as f64 * 3600.0 / mean_timeout + in_window as f64 * 3600.0 / elapsed,
        per_cycle as f64 * 3600.0 / min_timeout + in_window as f64 * 3600.0 / elapsed,
        probe_rate * 3600,
    );
}

/// Requests per hour per node with a staleness limit: a Node that does not
/// change, the fake's bookmarks every 60 s (kube-apiserver's period), over
/// `BENCH_CONFIRM_WINDOW_SECONDS` (120 s = two bookmark periods), plus one
/// watch cycle. Without a limit no confirmation is ever sent (the
/// steady-state window of `bench_api_cost_and_idle` shows it).
fn bench_api_cost_of_confirming_a_quiet_watch() {
    let limit = env_secs("BENCH_CONFIRM_LIMIT_SECONDS", 30);
    let window = env_secs("BENCH_CONFIRM_WINDOW_SECONDS", 120);
    let api = FakeApiServer::start();
    api.add_node(NODE);
    let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    env.push(("NODE_STATE_MAX_STALENESS_SECONDS".into(), limit.to_string()));
    let svc = Service::start(&as_env(&env));
    support::wait_for("the watch to open", Duration::from_secs(20), || (api.open_watches() >= 1).then_some(()));
    api.reset_counts();
    let started = Instant::now();
    let mut not_200 = 0;
    while started.elapsed() < Duration::from_secs(window) {
        not_200 += u32::from(svc.get("/health").status != 200);
        std::thread::sleep(Duration::from_millis(500)); // probe pacing
    }
    let elapsed = started.elapsed().as_secs_f64();
    let confirmations = api.count(Verb::List);
    let in_window = total_requests(&api);
    assert_eq!(api.count(Verb::Watch), 0, "the quiet watch stays open: {:?}", api.requests());
    api.reset_counts();
    api.end_watches();
    support::wait_for("the watch to be re-opened", Duration::from_secs(20), || {
        (api.count(Verb::Watch) >= 1 && api.open_watches() >= 1).then_some(())
    });
    let per_cycle = api.count(Verb::Watch);
    let per_hour = in_window as f64 * 3600.0 / elapsed;
    println!(
        "BENCH confirm_limit_s={limit} confirm_window_s={elapsed:.0} confirm_requests={confirmations} \
         confirm_not_200={not_200} confirm_per_hour={:.0} confirm_total_per_hour_mean={:.0}",
        confirmations as f64 * 3600.0 / elapsed,
        per_hour + per_cycle as f64 * 3600.0 / 450.0,
    );
}

fn bench_start_to_first_200() {
    let runs = env_secs("BENCH_START_RUNS", 10) as usize;
    let api = FakeApiServer::start();
    api.add_node(NODE);
    // The shipped default, and without result reuse (shows what the 500 ms
    // reuse of the first, not-yet-synced 503 costs).
    for (label, interval) in [("default", None), ("0", Some("0"))] {
        let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
        if let Some(v) = interval {
            env.push(("CHECK_MIN_INTERVAL_MS".into(), v.into()));
        }
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t0 = Instant::now();
            let svc = Service::start(&as_env(&env));
            samples.push(until_status(&svc, 200, t0, POLL));
        }
        samples.sort();
        println!(
            "BENCH start_{label}_runs={runs} start_{label}_p50_ms={:.1} start_{label}_max_ms={:.1}",
            ms(percentile(&samples, 50)),
            ms(*samples.last().unwrap())
        );
    }
}

/// Reaction time API change → /health status, polled every millisecond
/// (scripts/reaction-bench polls every 10 ms, which bounds its resolution).
fn bench_reaction_1ms() {
    let flips = env_secs("BENCH_FLIPS", 50) as usize;
    for (label, interval) in [("default", None), ("0", Some("0"))] {
        let samples = reaction::samples(flips, interval, POLL);
        println!(
            "BENCH react_{label}_flips={flips} react_{label}_p50_ms={:.1} react_{label}_p99_ms={:.1} react_{label}_max_ms={:.1}",
            ms(percentile(&samples, 50)),
            ms(percentile(&samples, 99)),
            ms(*samples.last().unwrap())
        );
    }
}

fn main() {
    for part in selected(&[
        "bench_api_cost_and_idle",
        "bench_api_cost_of_confirming_a_quiet_watch",
        "bench_start_to_first_200",
        "bench_reaction_1ms",
    ]) {
        match part.as_str() {
            "bench_api_cost_and_idle" => bench_api_cost_and_idle(),
            "bench_api_cost_of_confirming_a_quiet_watch" => bench_api_cost_of_confirming_a_quiet_watch(),
            "bench_start_to_first_200" => bench_start_to_first_200(),
            "bench_reaction_1ms" => bench_reaction_1ms(),
            _ => unreachable!(),
        }
    }
}
