//! What a request selects: the resource (nodes, cluster-scoped; or
//! EndpointSlices, namespaced), the namespace, the `metadata.name` field
//! selector and the label selector — and whether an object matches.
//!
//! Label selectors as `labels.Parse` reads the equality-based forms:
//! `k=v`, `k==v`, `k!=v` (also true when the label is absent), `k`
//! (exists) and `!k` (absent), comma-separated and AND-ed. The set-based
//! forms (`k in (a,b)`, `notin`) answer 400 here: unsupported by the fake.

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Node,
    EndpointSlice,
}

impl Kind {
    pub fn kind(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::EndpointSlice => "EndpointSlice",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Node => "v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
        }
    }

    /// The resource as RBAC and the URL name it.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::EndpointSlice => "endpointslices",
        }
    }

    /// `""` for the core group.
    pub fn group(self) -> &'static str {
        match self {
            Kind::Node => "",
            Kind::EndpointSlice => "discovery.k8s.io",
        }
    }

    /// `nodes`, `endpointslices.discovery.k8s.io`: how Status messages name it.
    pub fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_string(),
            g => format!("{}.{g}", self.plural()),
        }
    }

    /// The BOOKMARK object: an empty object of the kind with only the
    /// resourceVersion set, Go zero values serialized (`creationTimestamp:
    /// null`; a Node's empty `status.nodeInfo`; an EndpointSlice's
    /// `addressType: ""` and `endpoints: null`) — clients must not read it
    /// as a real object.
    pub fn bookmark_object(self, metadata: Value) -> Value {
        match self {
            Kind::Node => {
                let node_info: serde_json::Map<String, Value> = [
                    "machineID",
                    "systemUUID",
                    "bootID",
                    "kernelVersion",
                    "osImage",
                    "containerRuntimeVersion",
                    "kubeletVersion",
                    "kubeProxyVersion",
                    "operatingSystem",
                    "architecture",
                ]
                .iter()
                .map(|k| (k.to_string(), json!("")))
                .collect();
                json!({
                    "kind": "Node", "apiVersion": "v1", "metadata": metadata, "spec": {},
                    "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": node_info},
                })
            }
            Kind::EndpointSlice => json!({
                "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "metadata": metadata,
                "addressType": "", "endpoints": null, "ports": null,
            }),
        }
    }
}

/// Where an object lives: kind, namespace (`""` when cluster-scoped), name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn node(name: &str) -> Key {
        Key { kind: Kind::Node, namespace: String::new(), name: name.to_string() }
    }

    pub fn slice(namespace: &str, name: &str) -> Key {
        Key { kind: Kind::EndpointSlice, namespace: namespace.to_string(), name: name.to_string() }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LabelReq {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

/// The objects a list or watch selects.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub kind: Kind,
    /// `None`: every namespace (and cluster-scoped kinds).
    pub namespace: Option<String>,
    /// From the path or a `metadata.name` field selector.
    pub name: Option<String>,
    pub labels: Vec<LabelReq>,
}

impl Selection {
    pub fn all(kind: Kind) -> Selection {
        Selection { kind, namespace: None, name: None, labels: Vec::new() }
    }

    pub fn node(name: Option<&str>) -> Selection {
        Selection { name: name.map(str::to_string), ..Selection::all(Kind::Node) }
    }

    pub fn matches(&self, key: &Key, object: &Value) -> bool {
        key.kind == self.kind
            && self.namespace.as_ref().is_none_or(|ns| *ns == key.namespace)
            && self.name.as_ref().is_none_or(|n| *n == key.name)
            && self.labels.iter().all(|r| label_matches(r, &object["metadata"]["labels"]))
    }
}

fn label_matches(req: &LabelReq, labels: &Value) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    match req {
        LabelReq::Equals(k, v) => get(k) == Some(v.as_str()),
        LabelReq::NotEquals(k, v) => get(k) != Some(v.as_str()),
        LabelReq::Exists(k) => get(k).is_some(),
        LabelReq::Absent(k) => get(k).is_none(),
    }
}

/// Parses a `labelSelector` value; `Err` is the 400 message.
pub fn parse_label_selector(s: &str) -> Result<Vec<LabelReq>, String> {
    let mut out = Vec::new();
    for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if term.contains('(') || term.contains(' ') {
            return Err(format!("unable to parse requirement: set-based selector {term:?} not supported by the fake"));
        }
        let req = if let Some((k, v)) = term.split_once("!=") {
            LabelReq::NotEquals(k.to_string(), v.to_string())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            LabelReq::Equals(k.to_string(), v.to_string())
        } else if let Some(k) = term.strip_prefix('!') {
            LabelReq::Absent(k.to_string())
        } else {
            LabelReq::Exists(term.to_string())
        };
        let key = match &req {
            LabelReq::Equals(k, _) | LabelReq::NotEquals(k, _) | LabelReq::Exists(k) | LabelReq::Absent(k) => k,
        };
        if key.is_empty() {
            return Err(format!("unable to parse requirement: empty key in {term:?}"));
        }
        out.push(req);
    }
    Ok(out)
}
