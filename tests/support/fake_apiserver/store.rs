//! The object store behind the fake: Node objects, one global monotonically
//! increasing resourceVersion (like etcd's revision shared by every kind), and
//! the event history watches resume from. `compact()` imitates etcd
//! compaction + the watch cache window: a watch from an RV older than the
//! compaction point gets 410 "too old resource version".

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

#[derive(Clone, Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub name: String,
    pub object: Value,
}

pub struct Store {
    /// Current objects by name.
    nodes: BTreeMap<String, Value>,
    /// Last resourceVersion handed out (global, like etcd's revision).
    pub rv: u64,
    /// Every event ever made; watches keep their own position in it, and
    /// `compacted` only limits where a *new* watch may resume from.
    pub history: Vec<Event>,
    /// Watches may resume from an RV >= this; older → 410 Expired.
    pub compacted: u64,
}

impl Store {
    pub fn new() -> Store {
        // Real clusters never hand out small RVs; start high so a client that
        // confuses "0" (any) with a real RV is caught.
        Store { nodes: BTreeMap::new(), rv: 1000, history: Vec::new(), compacted: 0 }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.nodes.get(name)
    }

    /// Objects matching the name selector (all when `None`), in name order.
    pub fn matching(&self, name: Option<&str>) -> Vec<Value> {
        self.nodes.iter().filter(|(n, _)| name.is_none_or(|s| s == n.as_str())).map(|(_, v)| v.clone()).collect()
    }

    /// Creates or replaces the Node named by `metadata.name`; returns its new RV.
    pub fn put(&mut self, mut node: Value) -> u64 {
        let name = node["metadata"]["name"].as_str().expect("node object needs metadata.name").to_string();
        self.rv += 1;
        let obj = node.as_object_mut().expect("node must be a JSON object");
        obj.insert("kind".into(), json!("Node"));
        obj.insert("apiVersion".into(), json!("v1"));
        node["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let kind = if self.nodes.contains_key(&name) { EventType::Modified } else { EventType::Added };
        self.nodes.insert(name.clone(), node.clone());
        self.history.push(Event { rv: self.rv, kind, name, object: node });
        self.rv
    }

    /// Applies `f` to a copy of the current object and stores it (a MODIFIED event).
    pub fn update(&mut self, name: &str, f: impl FnOnce(&mut Value)) -> u64 {
        let mut node = self.nodes.get(name).unwrap_or_else(|| panic!("fake apiserver: no node {name:?}")).clone();
        f(&mut node);
        node["metadata"]["name"] = json!(name);
        self.put(node)
    }

    /// Deletes the Node: a DELETED event carrying the last state at a new RV.
    pub fn delete(&mut self, name: &str) -> Option<u64> {
        let mut node = self.nodes.remove(name)?;
        self.rv += 1;
        node["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.history.push(Event { rv: self.rv, kind: EventType::Deleted, name: name.to_string(), object: node });
        Some(self.rv)
    }

    /// Forgets history up to now: resuming from any RV older than the current one fails with 410.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
    }

    /// Events after `rv` for the selected name (all names when `None`).
    pub fn events_after(&self, rv: u64, name: Option<&str>) -> Vec<Event> {
        let start = self.history.partition_point(|e| e.rv <= rv);
        self.history[start..].iter().filter(|e| name.is_none_or(|n| n == e.name)).cloned().collect()
    }
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
