//! The watchers' metric families for /metrics, rendered at scrape time from
//! the stores (no API call): connected, state age, restarts, requests.
//!
//! The Node watch keeps its `node_readiness_node_*` families; every watch
//! (the Node's too) is also in the `node_readiness_watch_*` families,
//! labelled `resource="nodes"` or `resource="endpointslices",service="ns/name"`.
//! `node_readiness_service_endpoints_ready{service}` counts the ready,
//! non-terminating endpoints on this node in the last known state.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use super::endpoint_slice::Tally;
use super::resource::ApiState;
use super::store::{Store, WatchStats};
use super::{NodeStore, SliceStore};
use crate::metrics::{ExtraRenderer, family};

/// A renderer for `Metrics::add_renderer`.
pub fn renderer(node: Arc<NodeStore>, services: Vec<Arc<SliceStore>>) -> ExtraRenderer {
    let started = Instant::now();
    Box::new(move |out: &mut String| {
        let now = Instant::now();
        render(&node, started, now, out);
        render_watches(&node, &services, started, now, out);
    })
}

/// Seconds since the API last answered, or since `started` if it never did.
fn age<S: ApiState>(store: &Store<S>, started: Instant, now: Instant) -> f64 {
    let at = store.snapshot().confirmed_at().unwrap_or(started);
    now.saturating_duration_since(at).as_secs_f64()
}

/// The `node_readiness_watch_*` families and the Services' ready counts.
pub fn render_watches(
    node: &NodeStore,
    services: &[Arc<SliceStore>],
    started: Instant,
    now: Instant,
    out: &mut String,
) {
    let mut watches: Vec<(String, &WatchStats, f64)> =
        vec![("resource=\"nodes\"".into(), node.stats(), age(node, started, now))];
    for s in services {
        let labels = format!("resource=\"endpointslices\",service=\"{}\"", s.snapshot().service);
        watches.push((labels, s.stats(), age(s, started, now)));
    }
    family(out, "node_readiness_watch_connected", "gauge", "1 while the watch is open, by resource.");
    for (l, stats, _) in &watches {
        let _ = writeln!(out, "node_readiness_watch_connected{{{l}}} {}", u8::from(stats.connected()));
    }
    family(
        out,
        "node_readiness_watch_state_age_seconds",
        "gauge",
        "Seconds since the API last answered this watch (uptime if never), by resource.",
    );
    for (l, _, age) in &watches {
        let _ = writeln!(out, "node_readiness_watch_state_age_seconds{{{l}}} {age}");
    }
    family(
        out,
        "node_readiness_watch_restarts_total",
        "counter",
        "Watches ended and reopened, by resource and reason.",
    );
    for (l, stats, _) in &watches {
        for (reason, n) in stats.restarts() {
            let _ = writeln!(out, "node_readiness_watch_restarts_total{{{l},reason=\"{reason}\"}} {n}");
        }
    }
    family(
        out,
        "node_readiness_watch_api_requests_total",
        "counter",
        "Requests sent to the Kubernetes API, by resource and verb.",
    );
    for (l, stats, _) in &watches {
        for (verb, n) in stats.requests() {
            let _ = writeln!(out, "node_readiness_watch_api_requests_total{{{l},verb=\"{verb}\"}} {n}");
        }
    }
    if services.is_empty() {
        return;
    }
    family(
        out,
        "node_readiness_service_endpoints_ready",
        "gauge",
        "Ready, non-terminating endpoints of the Service on this node (last known state; 0 before the first list).",
    );
    let node_name = node.snapshot().name.clone();
    for s in services {
        let snap = s.snapshot();
        let ready = snap.slices.as_ref().map_or(0, |m| Tally::of(m.values().map(|s| &**s), &node_name).ready_here);
        let _ = writeln!(out, "node_readiness_service_endpoints_ready{{service=\"{}\"}} {ready}", snap.service);
    }
}

/// The Node watch's own families. `started`: when the service started; a
/// state never confirmed is as old as the process, so an alert on the age
/// fires in that case too.
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
    fn every_watch_is_labelled_by_resource_and_services_count_local_ready_endpoints() {
        use crate::config::ServiceRef;
        use crate::kube::SliceState;
        use crate::kube::endpoint_slice::EndpointSlice;
        let node = NodeStore::new("n1");
        let svc = ServiceRef { namespace: "kube-system".into(), name: "traefik".into() };
        let slices = Arc::new(SliceStore::with(SliceState::new(&svc)));
        let now = Instant::now();
        let slice = EndpointSlice::from_json(serde_json::json!({"metadata": {"name": "t-1"}, "endpoints": [
            {"addresses": ["10.0.0.1"], "nodeName": "n1"},
            {"addresses": ["10.0.0.2"], "nodeName": "n1", "conditions": {"ready": false}},
            {"addresses": ["10.0.0.3"], "nodeName": "n2"},
        ]}))
        .unwrap();
        slices.update(|s| {
            s.slices = Some([("t-1".to_string(), Arc::new(slice))].into());
            s.confirmed_at = Some(now - std::time::Duration::from_secs(2));
        });
        let mut out = String::new();
        render_watches(&node, &[slices], now - std::time::Duration::from_secs(7), now, &mut out);
        for line in [
            "node_readiness_watch_connected{resource=\"nodes\"} 0",
            "node_readiness_watch_connected{resource=\"endpointslices\",service=\"kube-system/traefik\"} 0",
            "node_readiness_watch_state_age_seconds{resource=\"nodes\"} 7",
            "node_readiness_watch_state_age_seconds{resource=\"endpointslices\",service=\"kube-system/traefik\"} 2",
            "node_readiness_watch_restarts_total{resource=\"endpointslices\",service=\"kube-system/traefik\",reason=\"expired\"} 0",
            "node_readiness_watch_api_requests_total{resource=\"nodes\",verb=\"list\"} 0",
            "node_readiness_service_endpoints_ready{service=\"kube-system/traefik\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        let mut none = String::new();
        render_watches(&node, &[], now, now, &mut none);
        assert!(!none.contains("service_endpoints_ready"), "no Service, no family");
    }

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
