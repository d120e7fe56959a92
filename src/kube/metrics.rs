//! The watcher's metric families for /metrics, rendered at scrape time from
//! the store (no API call): connected, state age, restarts, requests.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use super::NodeStore;
use crate::metrics::{ExtraRenderer, family};

/// A renderer for `Metrics::add_renderer`.
pub fn renderer(store: Arc<NodeStore>) -> ExtraRenderer {
    let started = Instant::now();
    Box::new(move |out: &mut String| render(&store, started, Instant::now(), out))
}

/// `started`: when the service started; a state never confirmed is as old
/// as the process, so an alert on the age fires in that case too.
pub fn render(store: &NodeStore, started: Instant, now: Instant, out: &mut String) {
    let stats = store.stats();
    let snap = store.snapshot();
    family(out, "node_readiness_node_watch_connected", "gauge", "1 while a watch on this Node is open.");
    let _ = writeln!(out, "node_readiness_node_watch_connected {}", u8::from(stats.connected()));
    family(
        out,
        "node_readiness_node_watch_polling",
        "gauge",
        "1 when RBAC forbids list/watch and the Node is polled with GET instead.",
    );
    let _ = writeln!(out, "node_readiness_node_watch_polling {}", u8::from(stats.polling()));
    family(
        out,
        "node_readiness_node_state_age_seconds",
        "gauge",
        "Seconds since the API last answered (watch line, list or confirmation; uptime if never).",
    );
    let age = if snap.confirmed_at.is_none() { now.saturating_duration_since(started) } else { snap.age(now) };
    let _ = writeln!(out, "node_readiness_node_state_age_seconds {}", age.as_secs_f64());
    family(out, "node_readiness_node_watch_restarts_total", "counter", "Node watches ended and reopened, by reason.");
    for (reason, n) in stats.restarts() {
        let _ = writeln!(out, "node_readiness_node_watch_restarts_total{{reason=\"{reason}\"}} {n}");
    }
    family(out, "node_readiness_node_api_requests_total", "counter", "Requests sent to the Kubernetes API, by verb.");
    for (verb, n) in stats.requests() {
        let _ = writeln!(out, "node_readiness_node_api_requests_total{{verb=\"{verb}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_values() {
        let store = NodeStore::new("n1");
        let mut out = String::new();
        let now = Instant::now();
        render(&store, now - std::time::Duration::from_secs(7), now, &mut out);
        for line in [
            "node_readiness_node_watch_connected 0",
            // Never confirmed: as old as the process.
            "node_readiness_node_state_age_seconds 7",
            "node_readiness_node_watch_restarts_total{reason=\"idle\"} 0",
            "node_readiness_node_api_requests_total{verb=\"list\"} 0",
            "# TYPE node_readiness_node_watch_restarts_total counter",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
    }
}
