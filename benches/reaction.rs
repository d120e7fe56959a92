//! Reaction-time benchmark (not an asserted test; `scripts/reaction-bench`
//! runs it): flips the Node's Ready condition in the fake API server and
//! measures how long the built binary takes to answer /health with the new
//! status. Prints p50/p99/max per configuration.
#[path = "../tests/support/mod.rs"]
mod support;

use support::bench::selected;

use std::time::Duration;
use support::reaction::{ms, percentile, samples};

/// Poll step of /health while waiting for the new status.
const STEP: Duration = Duration::from_millis(10);

fn reaction_bench() {
    let flips: usize = std::env::var("BENCH_FLIPS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    // The shipped default (results reused up to 500 ms) and no reuse at all.
    for interval in [None, Some("0")] {
        let samples = samples(flips, interval, STEP);
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

fn main() {
    for part in selected(&["reaction_bench"]) {
        match part.as_str() {
            "reaction_bench" => reaction_bench(),
            _ => unreachable!(),
        }
    }
}
