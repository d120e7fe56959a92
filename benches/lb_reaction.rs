//! Benchmark, not a test (`cargo bench --bench lb_reaction`, run by `scripts/lb-reaction`, i.e.
//! `make bench`): how long from a Ready flip in the API until a real HAProxy
//! marks the server DOWN, and from the flip back until UP again, with the
//! HAProxy settings of tests/haproxy.rs (`inter 200ms fall 2 rise 2`).
//! Prints p50/p99/max per direction; asserts nothing about the numbers.
//!
//! LB_REACTION_ROUNDS (default 20) sets the rounds; LB_REACTION_MIN_INTERVAL_MS
//! (default: the service default) is passed as CHECK_MIN_INTERVAL_MS.

#[path = "../tests/support/mod.rs"]
mod support;

use support::bench::selected;

use std::time::{Duration, Instant};

use support::lb_rig::{HTTPCHK, NODE, TIMING, rig};

/// Admin-socket polling period: the resolution of the measurement.
const POLL: Duration = Duration::from_millis(5);
const LIMIT: Duration = Duration::from_secs(30);

fn time_until(r: &support::lb_rig::Rig, status: &str, since: Instant) -> Duration {
    loop {
        if r.haproxy.stat("be", "node1").status() == status {
            return since.elapsed();
        }
        assert!(since.elapsed() < LIMIT, "HAProxy never reported {status}");
        std::thread::sleep(POLL);
    }
}

/// A spread-out pause in 0..600 ms (longer than `inter` and the cache).
fn phase(i: usize) -> Duration {
    Duration::from_millis(((i as u64).wrapping_mul(7919) + 131) % 600)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{name:<5} n={:<3} p50={:>6.0} ms  p99={:>6.0} ms  min={:>6.0} ms  max={:>6.0} ms",
        v.len(),
        ms(percentile(&v, 50.0)),
        ms(percentile(&v, 99.0)),
        ms(v[0]),
        ms(v[v.len() - 1])
    )
}

fn lb_reaction() {
    if support::skip_unless_program("haproxy") {
        return;
    }
    let rounds: usize = std::env::var("LB_REACTION_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let interval = std::env::var("LB_REACTION_MIN_INTERVAL_MS").ok().filter(|v| !v.is_empty());
    let env: Vec<(&str, &str)> = interval.iter().map(|v| ("CHECK_MIN_INTERVAL_MS", v.as_str())).collect();
    let r = rig(&env, "");
    r.wait("UP");
    let (mut down, mut up) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Land each flip at a different phase of HAProxy's check cycle and
        // of the runner's result cache, as a real change would.
        std::thread::sleep(phase(round));
        let flip = Instant::now();
        r.api.set_ready(NODE, "False", "KubeletNotReady", "benchmark");
        down.push(time_until(&r, "DOWN", flip));
        std::thread::sleep(phase(round + rounds));
        let flip = Instant::now();
        r.api.set_ready(NODE, "True", "KubeletReady", "benchmark");
        up.push(time_until(&r, "UP", flip));
    }
    let min_interval = interval.as_deref().unwrap_or("500 (default)");
    println!("lb-reaction: Ready flip in the API → HAProxy server state, {rounds} rounds");
    println!("lb-reaction:   haproxy: {HTTPCHK}; server … check {TIMING}; CHECK_MIN_INTERVAL_MS={min_interval}");
    println!("lb-reaction:   {}", summary("DOWN", down));
    println!("lb-reaction:   {}", summary("UP", up));
}

fn main() {
    for part in selected(&["lb_reaction"]) {
        match part.as_str() {
            "lb_reaction" => lb_reaction(),
            _ => unreachable!(),
        }
    }
}
