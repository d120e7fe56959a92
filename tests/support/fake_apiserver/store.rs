//! The object store behind the fake: Nodes and EndpointSlices, one global
//! monotonically increasing resourceVersion (like etcd's revision shared by
//! every kind), and the event history watches resume from. `compact()`
//! imitates etcd compaction + the watch cache window: a watch from an RV
//! older than the compaction point gets 410 "too old resource version".
//!
//! A watch with a selector sees history as the watch cache's
//! `cacheWatcher.convertToWatchEvent` makes it: an object that starts to
//! match is ADDED, one that stops matching is DELETED (carrying its
//! previous content at the event's RV), one that never matched is skipped.

use super::selection::{Key, Kind, Selection};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change as stored: the object after it (the last state for a
/// deletion) and before it (`None` for a creation).
#[derive(Clone, Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: EventType,
    pub key: Key,
    pub object: Value,
    pub prev: Option<Value>,
}

/// One event as a selecting watcher sees it.
#[derive(Clone, Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub object: Value,
}

pub struct Store {
    /// Current objects.
    objects: BTreeMap<Key, Value>,
    /// Last resourceVersion handed out (global, like etcd's revision).
    pub rv: u64,
    /// Every change ever made; watches keep their own position in it, and
    /// `compacted` only limits where a *new* watch may resume from.
    pub history: Vec<Change>,
    /// Watches may resume from an RV >= this; older → 410 Expired.
    pub compacted: u64,
}

impl Store {
    pub fn new() -> Store {
        // Real clusters never hand out small RVs; start high so a client that
        // confuses "0" (any) with a real RV is caught.
        Store { objects: BTreeMap::new(), rv: 1000, history: Vec::new(), compacted: 0 }
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects `sel` selects, in namespace and name order.
    pub fn select(&self, sel: &Selection) -> Vec<Value> {
        self.objects.iter().filter(|(k, v)| sel.matches(k, v)).map(|(_, v)| v.clone()).collect()
    }

    /// Creates or replaces the object named by its `metadata` (namespace
    /// required for a namespaced kind); returns its new RV.
    pub fn put(&mut self, kind: Kind, mut object: Value) -> u64 {
        let name = object["metadata"]["name"].as_str().expect("object needs metadata.name").to_string();
        let namespace = match kind {
            Kind::Node => String::new(),
            Kind::EndpointSlice => object["metadata"]["namespace"]
                .as_str()
                .expect("a namespaced object needs metadata.namespace")
                .to_string(),
        };
        let key = Key { kind, namespace, name };
        self.rv += 1;
        let obj = object.as_object_mut().expect("object must be a JSON object");
        obj.insert("kind".into(), json!(kind.kind()));
        obj.insert("apiVersion".into(), json!(kind.api_version()));
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let prev = self.objects.insert(key.clone(), object.clone());
        let kind = if prev.is_some() { EventType::Modified } else { EventType::Added };
        self.history.push(Change { rv: self.rv, kind, key, object, prev });
        self.rv
    }

    /// Applies `f` to a copy of the current object and stores it (a MODIFIED event).
    pub fn update(&mut self, key: &Key, f: impl FnOnce(&mut Value)) -> u64 {
        let mut object = self.objects.get(key).unwrap_or_else(|| panic!("fake apiserver: no {key:?}")).clone();
        f(&mut object);
        object["metadata"]["name"] = json!(key.name);
        if key.kind != Kind::Node {
            object["metadata"]["namespace"] = json!(key.namespace);
        }
        self.put(key.kind, object)
    }

    /// Deletes the object: a DELETED event carrying the last state at a new RV.
    pub fn delete(&mut self, key: &Key) -> Option<u64> {
        let prev = self.objects.remove(key)?;
        self.rv += 1;
        let mut object = prev.clone();
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.history.push(Change { rv: self.rv, kind: EventType::Deleted, key: key.clone(), object, prev: Some(prev) });
        Some(self.rv)
    }

    /// Forgets history up to now: resuming from any RV older than the current one fails with 410.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
    }

    /// Events after `rv` as a watcher selecting `sel` sees them.
    pub fn events_after(&self, rv: u64, sel: &Selection) -> Vec<Event> {
        let start = self.history.partition_point(|e| e.rv <= rv);
        self.history[start..].iter().filter_map(|c| as_seen(c, sel)).collect()
    }
}

/// cacher's convertToWatchEvent: judge the object before and after.
fn as_seen(c: &Change, sel: &Selection) -> Option<Event> {
    let now = c.kind != EventType::Deleted && sel.matches(&c.key, &c.object);
    let before = c.prev.as_ref().is_some_and(|p| sel.matches(&c.key, p));
    let (kind, object) = match (before, now) {
        (false, true) => (EventType::Added, c.object.clone()),
        (true, true) => (EventType::Modified, c.object.clone()),
        (true, false) => {
            let mut gone = c.prev.clone().expect("matched before");
            gone["metadata"]["resourceVersion"] = json!(c.rv.to_string());
            (EventType::Deleted, gone)
        }
        (false, false) => return None,
    };
    Some(Event { rv: c.rv, kind, object })
}

/// Sets the `Ready` condition like the kubelet / node lifecycle controller do:
/// `lastHeartbeatTime` always moves, `lastTransitionTime` only when the status changes.
pub fn set_condition(node: &mut Value, type_: &str, status: &str, reason: &str, message: &str) {
    let now = now_rfc3339();
    if !node["status"].is_object() {
        node["status"] = json!({});
    }
    if !node["status"]["conditions"].is_array() {
        node["status"]["conditions"] = json!([]);
    }
    let conds = node["status"]["conditions"].as_array_mut().unwrap();
    let new = |transition: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": transition,
        })
    };
    match conds.iter_mut().find(|c| c["type"] == type_) {
        Some(c) => {
            let transition = if c["status"] == status { c["lastTransitionTime"].clone() } else { json!(now) };
            *c = new(transition.as_str().unwrap_or(&now));
        }
        None => conds.push(new(&now)),
    }
}

/// A minimal Node as the kubelet registers it, Ready=True.
pub fn minimal_node(name: &str) -> Value {
    let mut node = json!({
        "kind": "Node", "apiVersion": "v1",
        "metadata": {
            "name": name, "uid": format!("00000000-0000-4000-8000-{:012x}", fxhash(name)),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        },
        "spec": {},
        "status": {"conditions": []},
    });
    set_condition(
        &mut node,
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    );
    set_condition(&mut node, "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure");
    set_condition(&mut node, "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available");
    set_condition(&mut node, "Ready", "True", "KubeletReady", "kubelet is posting ready status");
    node
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3)) & 0xffff_ffff_ffff
}

/// UTC now as RFC 3339 seconds (metav1.Time's wire format), without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An EndpointSlice as the EndpointSlice controller writes it for a
/// Service `service` with a selector: generated name, the
/// `kubernetes.io/service-name` and managed-by labels, the Service as
/// owner, IPv4, one `http` port. `endpoints` from [`endpoint`].
pub fn endpoint_slice(namespace: &str, name: &str, service: &str, endpoints: Vec<Value>) -> Value {
    json!({
        "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {
            "name": name, "generateName": format!("{service}-"), "namespace": namespace,
            "uid": format!("00000000-0000-4000-9000-{:012x}", fxhash(&format!("{namespace}/{name}"))),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                "kubernetes.io/service-name": service,
            },
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": service, "blockOwnerDeletion": true,
                                 "controller": true, "uid": format!("00000000-0000-4000-a000-{:012x}", fxhash(service))}],
        },
        "addressType": "IPv4",
        "endpoints": if endpoints.is_empty() { Value::Null } else { Value::Array(endpoints) },
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    })
}

/// How the EndpointSlice controller reports a pod's endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    Ready,
    /// Running, readiness probe failing.
    NotReady,
    /// Being deleted, still serving (its readiness still passes).
    Terminating,
}

/// One endpoint for pod `pod` at `ip` on node `node`: conditions as the
/// controller sets them (`ready` = serving and not terminating).
pub fn endpoint(ip: &str, node: &str, pod: &str, phase: Phase) -> Value {
    let (ready, serving, terminating) = match phase {
        Phase::Ready => (true, true, false),
        Phase::NotReady => (false, false, false),
        Phase::Terminating => (false, true, true),
    };
    json!({
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "nodeName": node,
        "targetRef": {"kind": "Pod", "name": pod, "uid": format!("00000000-0000-4000-b000-{:012x}", fxhash(pod))},
    })
}
