//! Kubernetes manifests as the tests read them: YAML streams parsed into
//! JSON values, and `kubectl kustomize` of a folder of the repository.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s.parse::<f64>().map(Value::from).unwrap_or(Value::String(s.clone())),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter().map(|(k, v)| (k.as_str().expect("string keys").to_string(), yaml_to_json(v))).collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// Parses a multi-document YAML stream into JSON objects.
pub fn parse_yaml(text: &str) -> Vec<Value> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("invalid YAML: {e}\n{text}"));
    docs.iter().map(yaml_to_json).filter(|d| !d.is_null()).collect()
}

/// `kubectl kustomize <dir>` (relative to the repository), parsed; `None`
/// (after the skip line) without kubectl.
pub fn kustomize(dir: &str) -> Option<Vec<Value>> {
    if super::skip_unless_program("kubectl") {
        return None;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let out = Command::new("kubectl").arg("kustomize").arg(path).output().expect("run kubectl");
    assert!(out.status.success(), "kubectl kustomize {dir} failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(parse_yaml(&String::from_utf8_lossy(&out.stdout)))
}

/// Objects sorted by kind/namespace/name, so that two renderings compare
/// whatever their order.
pub fn sorted(mut docs: Vec<Value>) -> Vec<Value> {
    let key = |d: &Value| format!("{}/{}/{}", d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]);
    docs.sort_by_key(key);
    docs
}

pub fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

pub fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = find(docs, kind);
    assert_eq!(found.len(), 1, "expected one {kind}");
    found[0]
}
