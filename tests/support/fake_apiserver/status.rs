//! metav1.Status bodies worded like k8s.io/apimachinery's errors package and
//! k8s.io/apiserver's responsewriters (Forbidden, NotFound, Unauthorized,
//! InternalError, Expired), so a client's reason decoding is tested on the
//! real phrasing.

use super::selection::Kind;
use serde_json::{Value, json};

fn failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

/// 401 from the authentication filter (no details, fixed message).
pub fn unauthorized() -> Value {
    failure(401, "Unauthorized", "Unauthorized", None)
}

/// 403 from the authorization filter: `forbiddenMessage` + `NewForbidden(gr, name, err)`.
/// `name` is the object name, or for list/watch the `metadata.name` field selector
/// value (RequestInfoFactory copies it into the name so RBAC resourceNames apply);
/// `namespace` the request's namespace (`None`: cluster scope).
pub fn forbidden(user: &str, verb: &str, kind: Kind, namespace: Option<&str>, name: Option<&str>) -> Value {
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let why = format!(
        "User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
        kind.plural(),
        kind.group()
    );
    let mut details = json!({"kind": kind.plural()});
    if !kind.group().is_empty() {
        details["group"] = json!(kind.group());
    }
    let q = kind.qualified();
    let message = match name {
        Some(n) => {
            details["name"] = json!(n);
            format!("{q} \"{n}\" is forbidden: {why}")
        }
        None => format!("{q} is forbidden: {why}"),
    };
    failure(403, "Forbidden", &message, Some(details))
}

pub fn not_found(kind: Kind, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": kind.plural()});
    if !kind.group().is_empty() {
        details["group"] = json!(kind.group());
    }
    failure(404, "NotFound", &format!("{} \"{name}\" not found", kind.qualified()), Some(details))
}

/// 404 for a path that names no resource the fake serves.
pub fn no_such_resource() -> Value {
    failure(404, "NotFound", "the server could not find the requested resource", Some(json!({})))
}

pub fn bad_request(message: &str) -> Value {
    failure(400, "BadRequest", message, None)
}

pub fn method_not_allowed(method: &str) -> Value {
    failure(405, "MethodNotAllowed", &format!("{method} is not supported on this fake (read-only)"), Some(json!({})))
}

/// 410 as a watch ERROR event from the watch cache (cacher.go: getAllEventsSinceLocked).
pub fn expired(requested: u64, oldest: u64) -> Value {
    failure(410, "Expired", &format!("too old resource version: {requested} ({oldest})"), None)
}

/// A status for an arbitrary failure code, for the fixed-status fault switch.
pub fn for_code(code: u16) -> Value {
    let (reason, message) = match code {
        410 => ("Expired", "The resourceVersion for the provided list is too old.".to_string()),
        500 => ("InternalError", "Internal error occurred: fake apiserver fault switch".to_string()),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request".to_string()),
        504 => ("Timeout", "the server was unable to return a response in the time allotted".to_string()),
        c => ("", format!("fake apiserver fault: HTTP {c}")),
    };
    let details = (code == 500).then(|| json!({"causes": [{"message": "fake apiserver fault switch"}]}));
    failure(code, reason, &message, details)
}
