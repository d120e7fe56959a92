//! The few fields of a `v1.Node` the checks read. Everything is optional on
//! the wire (old servers omit `taints`, `message`, even `apiVersion`), so
//! every field has a default and unknown fields are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Node {
    pub metadata: Metadata,
    pub spec: Spec,
    pub status: Status,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339 string as sent; only its presence matters.
    pub deletion_timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Spec {
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Status {
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// "True", "False" or "Unknown".
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Node {
    pub fn from_json(v: serde_json::Value) -> Result<Node, String> {
        // `null` for an optional string field (seen in real objects) must not
        // reject the whole Node: normalise nulls away first.
        let node: Node = serde_json::from_value(strip_nulls(v)).map_err(|e| format!("not a Node object: {e}"))?;
        Ok(node)
    }

    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status.conditions.iter().find(|c| c.type_ == type_)
    }
}

impl Condition {
    /// `reason: message`, or whichever of the two is present.
    pub fn describe(&self) -> String {
        match (self.reason.trim(), self.message.trim()) {
            ("", "") => format!("{}={}", self.type_, self.status),
            (r, "") => r.to_string(),
            ("", m) => m.to_string(),
            (r, m) => format!("{r}: {m}"),
        }
    }
}

pub(super) fn strip_nulls(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_checks_need_and_tolerates_nulls() {
        let v = serde_json::json!({
            "metadata": {"name": "n1", "resourceVersion": "42", "labels": {"a": "b"},
                         "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"unschedulable": true, "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": null, "lastHeartbeatTime": null}]}
        });
        let n = Node::from_json(v).unwrap();
        assert_eq!(n.metadata.resource_version, "42");
        assert!(n.spec.unschedulable);
        assert_eq!(n.spec.taints[0].key, "k");
        assert_eq!(n.condition("Ready").unwrap().describe(), "KubeletReady");
        assert!(n.metadata.deletion_timestamp.is_some());
    }

    #[test]
    fn a_wrong_shape_is_an_error_not_a_panic() {
        assert!(Node::from_json(serde_json::json!({"spec": {"taints": "x"}})).is_err());
        assert!(Node::from_json(serde_json::json!([1, 2])).is_err());
    }
}
