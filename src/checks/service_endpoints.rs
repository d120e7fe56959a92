//! `service_endpoints`: every Service in SERVICE_ENDPOINTS has an endpoint
//! on this node (EndpointSlice `nodeName` = NODE_NAME) that is ready and
//! not terminating — the ingress controller the load balancer sends
//! traffic to is up here. Read from the EndpointSlice watches' snapshots
//! (no API call here).
//!
//! A terminating local endpoint fails at once (early drain: the load
//! balancer stops sending new connections while the pod still finishes
//! the ones in flight). Outage policy as the Node's: never listed, no
//! credentials, no RBAC or stale → Unknown; the last known state is kept
//! through an API blip.

use std::time::Instant;

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::config::Config;
use crate::kube::SliceState;
use crate::kube::endpoint_slice::Tally;

pub const CHECK: Check = Check { id: CheckId::ServiceEndpoints, exec: Exec::Snapshot, run };

fn run(ctx: &Ctx, _deadline: Instant) -> Outcome {
    let snapshots: Vec<_> = ctx.services.iter().map(|s| s.snapshot()).collect();
    verdict(snapshots.iter().map(|s| &**s), &ctx.config, Instant::now())
}

/// The verdict over every configured Service: Fail when one fails (all
/// failures listed), else Unknown when one cannot be told, else Pass.
pub fn verdict<'a>(states: impl IntoIterator<Item = &'a SliceState>, config: &Config, now: Instant) -> Outcome {
    let (mut fails, mut unknown, mut any) = (Vec::new(), Vec::new(), false);
    for state in states {
        any = true;
        let svc = &state.service;
        match state.usable(config.node_state_max_staleness, now) {
            Err(why) => unknown.push(format!("{svc}: {why}")),
            Ok(slices) if slices.is_empty() => {
                fails.push(format!("{svc}: no EndpointSlice (Service missing or has no selector)"))
            }
            Ok(slices) => {
                if let Err(why) = judge(&Tally::of(slices.values().map(|s| &**s), &config.node_name)) {
                    fails.push(format!("{svc}: {why}"));
                }
            }
        }
    }
    if !any {
        return Outcome::fail("SERVICE_ENDPOINTS is empty: no Service to check");
    }
    Outcome::from_findings(fails, unknown)
}

/// One Service's verdict on what its slices say about this node.
fn judge(t: &Tally) -> Result<(), String> {
    if t.ready_here > 0 {
        return Ok(());
    }
    match t.terminating_here.as_slice() {
        [] => Err(format!("no ready endpoint on this node ({} ready elsewhere)", t.ready_elsewhere)),
        [one] => Err(format!("endpoint {one} terminating")),
        many => Err(format!("endpoints {} terminating", many.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ServiceRef, test_config};
    use crate::kube::endpoint_slice::EndpointSlice;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    fn svc(s: &str) -> ServiceRef {
        let (namespace, name) = s.split_once('/').unwrap();
        ServiceRef { namespace: namespace.into(), name: name.into() }
    }

    fn state(service: &str, endpoints: Option<serde_json::Value>, now: Instant) -> SliceState {
        let slices = endpoints.map(|eps| {
            let mut m = BTreeMap::new();
            if !eps.is_null() {
                let s = EndpointSlice::from_json(serde_json::json!({"metadata": {"name": "s1"}, "endpoints": eps}));
                m.insert("s1".to_string(), Arc::new(s.unwrap()));
            }
            m
        });
        SliceState { slices, confirmed_at: Some(now), ..SliceState::new(&svc(service)) }
    }

    fn ep(ip: &str, node: &str, ready: bool, terminating: bool) -> serde_json::Value {
        serde_json::json!({"addresses": [ip], "nodeName": node,
            "conditions": {"ready": ready, "serving": ready || terminating, "terminating": terminating}})
    }

    fn check(states: &[SliceState]) -> Outcome {
        verdict(states, &test_config(&[("NODE_NAME", "n1")]), Instant::now())
    }

    #[test]
    fn each_reason() {
        let now = Instant::now();
        let router = "openshift-ingress/router-default";
        let cases = [
            (Some(serde_json::json!([ep("10.0.0.1", "n1", true, false)])), Outcome::Pass),
            (
                Some(serde_json::json!([
                    ep("10.0.0.1", "n1", false, false),
                    ep("10.0.0.2", "n2", true, false),
                    ep("10.0.0.3", "n3", true, false)
                ])),
                Outcome::fail(format!("{router}: no ready endpoint on this node (2 ready elsewhere)")),
            ),
            (
                Some(serde_json::json!([ep("10.0.0.5", "n1", false, true), ep("10.0.0.2", "n2", true, false)])),
                Outcome::fail(format!("{router}: endpoint 10.0.0.5 terminating")),
            ),
            // Another local pod still ready: the Service is served here.
            (
                Some(serde_json::json!([ep("10.0.0.5", "n1", false, true), ep("10.0.0.6", "n1", true, false)])),
                Outcome::Pass,
            ),
            (
                Some(serde_json::Value::Null),
                Outcome::fail(format!("{router}: no EndpointSlice (Service missing or has no selector)")),
            ),
            (None, Outcome::unknown(format!("{router}: endpoint state unknown: no answer from the API server yet"))),
        ];
        for (i, (eps, want)) in cases.into_iter().enumerate() {
            assert_eq!(check(&[state(router, eps, now)]), want, "case {i}");
        }
    }

    #[test]
    fn every_service_must_pass_and_failures_come_first() {
        let now = Instant::now();
        let ok = state("a/ok", Some(serde_json::json!([ep("10.0.0.1", "n1", true, false)])), now);
        let gone = state("kube-system/traefik", Some(serde_json::Value::Null), now);
        let never = state("b/never", None, now);
        assert_eq!(check(std::slice::from_ref(&ok)), Outcome::Pass);
        assert_eq!(
            check(&[never.clone(), ok.clone(), gone]),
            Outcome::fail(
                "kube-system/traefik: no EndpointSlice (Service missing or has no selector), \
                 b/never: endpoint state unknown: no answer from the API server yet"
            )
        );
        assert!(matches!(check(&[ok, never]), Outcome::Unknown(_)));
        assert_eq!(check(&[]), Outcome::fail("SERVICE_ENDPOINTS is empty: no Service to check"));
    }

    #[test]
    fn the_staleness_limit_applies() {
        let now = Instant::now() + Duration::from_secs(100);
        let mut s = state("a/b", Some(serde_json::json!([ep("10.0.0.1", "n1", true, false)])), now);
        s.confirmed_at = Some(now - Duration::from_secs(40));
        s.last_error = Some("connection refused".into());
        let limited = test_config(&[("NODE_NAME", "n1"), ("NODE_STATE_MAX_STALENESS_SECONDS", "30")]);
        assert_eq!(
            verdict([&s], &limited, now),
            Outcome::unknown("a/b: endpoint state stale for 40s: connection refused")
        );
        assert_eq!(verdict([&s], &test_config(&[("NODE_NAME", "n1")]), now), Outcome::Pass, "no limit: kept");
    }
}
