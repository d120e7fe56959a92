//! The few fields of a `discovery.k8s.io/v1` EndpointSlice we read, and
//! what they say about one node ([`Tally`]).
//!
//! Condition semantics (EndpointConditions, API reference): `ready` nil
//! means unknown, "in most cases consumers should interpret this unknown
//! state as ready"; `terminating` nil means not terminating; `serving`
//! is ready regardless of terminating, not used here (a terminating
//! endpoint fails the check even while it still serves: early drain).
//! Go encodes an empty `endpoints` as `null`: every field is optional.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// The label the EndpointSlice controller puts on every slice of a Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSlice {
    pub metadata: Metadata,
    pub address_type: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    pub namespace: String,
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Endpoint {
    pub addresses: Vec<String>,
    pub conditions: Conditions,
    pub node_name: Option<String>,
    pub target_ref: Option<TargetRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Conditions {
    pub ready: Option<bool>,
    pub terminating: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TargetRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl EndpointSlice {
    pub fn from_json(v: serde_json::Value) -> Result<EndpointSlice, String> {
        serde_json::from_value(super::node::strip_nulls(v)).map_err(|e| format!("not an EndpointSlice object: {e}"))
    }

    /// The Service this slice belongs to (its `kubernetes.io/service-name`).
    pub fn service_name(&self) -> Option<&str> {
        self.metadata.labels.get(SERVICE_NAME_LABEL).map(String::as_str)
    }
}

impl Endpoint {
    /// Ready: `conditions.ready` true or absent (unknown reads as ready).
    pub fn ready(&self) -> bool {
        self.conditions.ready != Some(false)
    }

    /// Terminating: `conditions.terminating` true (absent reads as not).
    pub fn terminating(&self) -> bool {
        self.conditions.terminating == Some(true)
    }

    /// Ready to take new connections: ready and not terminating (a Service
    /// with publishNotReadyAddresses marks terminating endpoints ready).
    pub fn usable(&self) -> bool {
        self.ready() && !self.terminating()
    }

    /// The first address, for reasons.
    pub fn address(&self) -> &str {
        self.addresses.first().map(String::as_str).unwrap_or("(no address)")
    }

    /// One key per backend: the target (a pod) when named, else the first
    /// address. A dual-stack Service lists each pod in an IPv4 and an IPv6
    /// slice, and a slice being rebalanced may briefly repeat an endpoint:
    /// both must count once.
    fn key(&self) -> String {
        match &self.target_ref {
            Some(t) if !t.name.is_empty() => format!("{}/{}/{}", t.kind, t.namespace, t.name),
            _ => self.address().to_string(),
        }
    }
}

/// What a Service's slices say about one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Backends on this node that are ready and not terminating.
    pub ready_here: usize,
    /// Addresses of this node's terminating backends, in slice order.
    pub terminating_here: Vec<String>,
    /// Backends on other nodes (or on none) that are ready and not terminating.
    pub ready_elsewhere: usize,
}

impl Tally {
    pub fn of<'a>(slices: impl IntoIterator<Item = &'a EndpointSlice>, node: &str) -> Tally {
        let (mut here, mut elsewhere, mut terminating) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
        let mut seen_terminating = BTreeSet::new();
        for e in slices.into_iter().flat_map(|s| &s.endpoints) {
            let local = e.node_name.as_deref() == Some(node);
            if e.usable() {
                if local { &mut here } else { &mut elsewhere }.insert(e.key());
            } else if local && e.terminating() && seen_terminating.insert(e.key()) {
                terminating.push(e.address().to_string());
            }
        }
        Tally { ready_here: here.len(), terminating_here: terminating, ready_elsewhere: elsewhere.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slice(endpoints: serde_json::Value) -> EndpointSlice {
        EndpointSlice::from_json(json!({
            "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": "s-abc", "namespace": "ns", "resourceVersion": "5",
                         "labels": {"kubernetes.io/service-name": "svc"}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": null,
        }))
        .unwrap()
    }

    #[test]
    fn absent_ready_is_ready_and_absent_terminating_is_not() {
        let s = slice(json!([
            {"addresses": ["10.0.0.1"], "conditions": {}, "nodeName": "n1"},
            {"addresses": ["10.0.0.2"], "nodeName": "n1", "conditions": {"ready": null, "terminating": null}},
        ]));
        assert!(s.endpoints.iter().all(|e| e.ready() && !e.terminating() && e.usable()));
        assert_eq!(s.service_name(), Some("svc"));
    }

    #[test]
    fn tally_counts_each_backend_once_by_node() {
        let pod = |name: &str| json!({"kind": "Pod", "namespace": "ns", "name": name});
        let v4 = slice(json!([
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}, "nodeName": "n1", "targetRef": pod("a")},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": true}, "nodeName": "n2", "targetRef": pod("b")},
            {"addresses": ["10.0.0.3"], "conditions": {"ready": false}, "nodeName": "n3", "targetRef": pod("c")},
            {"addresses": ["10.0.0.4"], "conditions": {"ready": true}},
        ]));
        let v6 = slice(json!([
            {"addresses": ["fd00::1"], "conditions": {"ready": true}, "nodeName": "n1", "targetRef": pod("a")},
            {"addresses": ["fd00::2"], "conditions": {"ready": true}, "nodeName": "n2", "targetRef": pod("b")},
        ]));
        let t = Tally::of([&v4, &v6], "n1");
        assert_eq!(t, Tally { ready_here: 1, terminating_here: vec![], ready_elsewhere: 2 });
    }

    #[test]
    fn a_terminating_endpoint_is_not_usable_even_when_marked_ready() {
        // publishNotReadyAddresses: ready stays true while the pod terminates.
        let s = slice(json!([
            {"addresses": ["10.0.0.5"], "conditions": {"ready": true, "serving": true, "terminating": true},
             "nodeName": "n1"},
            {"addresses": ["10.0.0.6"], "conditions": {"ready": false, "serving": true, "terminating": true},
             "nodeName": "n2"},
        ]));
        let t = Tally::of([&s], "n1");
        assert_eq!(t, Tally { ready_here: 0, terminating_here: vec!["10.0.0.5".into()], ready_elsewhere: 0 });
    }

    #[test]
    fn null_endpoints_and_a_wrong_shape() {
        assert!(slice(serde_json::Value::Null).endpoints.is_empty());
        assert!(EndpointSlice::from_json(json!({"endpoints": "x"})).is_err());
        assert!(EndpointSlice::from_json(json!([1])).is_err());
    }
}
