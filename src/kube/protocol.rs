//! The list/watch protocol on the wire, for any resource: request paths,
//! the list answer, and the newline-delimited JSON events of a watch stream
//! (ADDED / MODIFIED / DELETED / BOOKMARK / ERROR with a Status object).
//! The Node paths are here too (`list_path`, `watch_path`, `get_path`).

use super::status::{ApiStatus, status_reason};

/// One decoded watch event of objects `T`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<T> {
    /// ADDED or MODIFIED.
    Upsert(T),
    Deleted(T),
    /// Progress marker: only the resourceVersion is meaningful.
    Bookmark(String),
    /// ERROR with code 410: the version is compacted away; relist.
    Expired(String),
    /// Any other ERROR event.
    Error(String),
}

/// Decodes one line of a watch stream with `decode` for its object;
/// `Ok(None)` for a blank line.
pub fn decode_event<T>(
    line: &[u8],
    decode: impl Fn(serde_json::Value) -> Result<T, String>,
) -> Result<Option<Event<T>>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let garbage = || "watch stream sent something that is not a JSON watch event".to_string();
    let v: serde_json::Value = serde_json::from_slice(line).map_err(|_| garbage())?;
    let kind = v.get("type").and_then(|t| t.as_str()).ok_or_else(garbage)?;
    let object = v.get("object").cloned().ok_or_else(garbage)?;
    let event = match kind {
        "ADDED" | "MODIFIED" => Event::Upsert(decode(object)?),
        "DELETED" => Event::Deleted(decode(object)?),
        "BOOKMARK" => {
            let rv = object.pointer("/metadata/resourceVersion").and_then(|r| r.as_str()).unwrap_or("");
            if rv.is_empty() {
                return Err("watch BOOKMARK without a resourceVersion".into());
            }
            Event::Bookmark(rv.to_string())
        }
        "ERROR" => match ApiStatus::from_json(&object) {
            Some(s) if s.code == 410 => Event::Expired(status_reason(&s)),
            Some(s) => Event::Error(status_reason(&s)),
            None => Event::Error("watch ERROR event without a Status object".into()),
        },
        other => return Err(format!("unknown watch event type {:?}", other.chars().take(20).collect::<String>())),
    };
    Ok(Some(event))
}

/// Where a list may be served from (the reflector's choices in client-go).
#[derive(Debug, Clone, PartialEq)]
pub enum ListFrom {
    /// First list: `resourceVersion=0`, any API server's watch cache, so a
    /// fleet-wide restart costs etcd nothing.
    WatchCache,
    /// Relist after a broken stream: a cache no older than what we already
    /// saw (`resourceVersionMatch=NotOlderThan`), so state never goes back
    /// in time when another API server with a lagging cache answers.
    NotOlderThan(String),
    /// Relist after `410 Expired`: a consistent read (no resourceVersion),
    /// as a cache that just expired our version may be lagging itself.
    Consistent,
}

/// Our Node's collection: `/api/v1/nodes?fieldSelector=metadata.name%3DNAME`.
pub fn node_collection(node: &str) -> String {
    format!("/api/v1/nodes?fieldSelector=metadata.name%3D{node}")
}

/// `/api/v1/nodes?fieldSelector=metadata.name%3DNAME&resourceVersion=0`.
pub fn list_path(node: &str, from: &ListFrom) -> String {
    collection_list_path(&node_collection(node), from)
}

/// A list of `collection` (a path with its selector query) served `from`.
pub fn collection_list_path(collection: &str, from: &ListFrom) -> String {
    let base = collection;
    match from {
        ListFrom::WatchCache => format!("{base}&resourceVersion=0"),
        ListFrom::NotOlderThan(rv) => {
            format!("{base}&resourceVersion={}&resourceVersionMatch=NotOlderThan", encode_query(rv))
        }
        ListFrom::Consistent => base.to_string(),
    }
}

pub fn watch_path(node: &str, rv: &str, timeout_secs: u64) -> String {
    collection_watch_path(&node_collection(node), rv, timeout_secs)
}

/// A watch of `collection` from `rv`, with bookmarks.
pub fn collection_watch_path(collection: &str, rv: &str, timeout_secs: u64) -> String {
    format!(
        "{collection}&watch=1&allowWatchBookmarks=true&timeoutSeconds={timeout_secs}&resourceVersion={}",
        encode_query(rv)
    )
}

pub fn get_path(node: &str) -> String {
    format!("/api/v1/nodes/{node}")
}

/// Query values (resourceVersions are opaque strings, label selectors hold
/// `/` and `=`): percent-encode all but unreserved.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The items (decoded with `decode`) and the resourceVersion of a list answer.
pub fn decode_list<T>(
    v: &serde_json::Value,
    decode: impl Fn(serde_json::Value) -> Result<T, String>,
) -> Result<(Vec<T>, String), String> {
    let rv = v.pointer("/metadata/resourceVersion").and_then(|r| r.as_str()).unwrap_or("").to_string();
    // `"items": null` is how Go encodes an empty list that was never allocated.
    let items = match v.get("items") {
        Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(a)) => a.iter().map(|item| decode(item.clone())).collect::<Result<_, _>>()?,
        _ => return Err("list answer has no items".into()),
    };
    if rv.is_empty() {
        return Err("list answer has no resourceVersion".into());
    }
    Ok((items, rv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::node::Node;

    #[test]
    fn decodes_every_event_type() {
        let node = r#"{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1","resourceVersion":"7"},"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"PLEG is not healthy"}]}}"#;
        let cases: Vec<(String, Event<Node>)> = vec![
            (format!(r#"{{"type":"ADDED","object":{node}}}"#), Event::Upsert(Node::from_json(serde_json::from_str(node).unwrap()).unwrap())),
            (format!("{{\"type\":\"MODIFIED\",\"object\":{node}}}\n"), Event::Upsert(Node::from_json(serde_json::from_str(node).unwrap()).unwrap())),
            (format!(r#"{{"type":"DELETED","object":{node}}}"#), Event::Deleted(Node::from_json(serde_json::from_str(node).unwrap()).unwrap())),
            (
                r#"{"type":"BOOKMARK","object":{"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":"12345","annotations":{"k8s.io/initial-events-end":"true"}}}}"#.into(),
                Event::Bookmark("12345".into()),
            ),
            (
                r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (4212)","reason":"Expired","code":410}}"#.into(),
                Event::Expired("API 410 Expired: too old resource version: 1 (4212)".into()),
            ),
            (
                r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"etcdserver: request timed out","code":500}}"#.into(),
                Event::Error("API 500: etcdserver: request timed out".into()),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(decode_event(line.as_bytes(), Node::from_json), Ok(Some(want)), "{line}");
        }
        let Some(Event::Upsert(n)) =
            decode_event(format!(r#"{{"type":"ADDED","object":{node}}}"#).as_bytes(), Node::from_json).unwrap()
        else {
            panic!("not an upsert")
        };
        assert_eq!(n.metadata.resource_version, "7");
        assert_eq!(n.condition("Ready").unwrap().describe(), "KubeletNotReady: PLEG is not healthy");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for line in [
            &b"<html>502 Bad Gateway</html>\n"[..],
            b"{\"type\":\"ADDED\"}",
            b"{\"type\":\"ADDED\",\"object\":{\"spec\":{\"taints\":7}}}",
            b"{\"type\":\"WHATEVER\",\"object\":{}}",
            b"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}",
            b"{\"object\":{}}",
            b"\xff\xfe",
            b"[1,2,3]",
        ] {
            assert!(decode_event(line, Node::from_json).is_err(), "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(decode_event(b"\r\n", Node::from_json), Ok(None));
        assert!(matches!(
            decode_event(br#"{"type":"ERROR","object":{"kind":"Node"}}"#, Node::from_json),
            Ok(Some(Event::Error(_)))
        ));
    }

    #[test]
    fn request_paths() {
        assert_eq!(
            list_path("n1", &ListFrom::WatchCache),
            "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&resourceVersion=0"
        );
        assert_eq!(
            list_path("n1", &ListFrom::NotOlderThan("42".into())),
            "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&resourceVersion=42&resourceVersionMatch=NotOlderThan"
        );
        assert_eq!(list_path("n1", &ListFrom::Consistent), "/api/v1/nodes?fieldSelector=metadata.name%3Dn1");
        assert_eq!(
            watch_path("n1.example", "123", 431),
            "/api/v1/nodes?fieldSelector=metadata.name%3Dn1.example&watch=1&allowWatchBookmarks=true\
             &timeoutSeconds=431&resourceVersion=123"
        );
        assert!(watch_path("n1", "a b&c", 300).ends_with("resourceVersion=a%20b%26c"));
        assert_eq!(get_path("n1"), "/api/v1/nodes/n1");
    }

    #[test]
    fn list_answers() {
        let v = serde_json::json!({"kind": "NodeList", "metadata": {"resourceVersion": "99"},
            "items": [{"metadata": {"name": "n1", "resourceVersion": "90"}}]});
        let (n, rv) = decode_list(&v, Node::from_json).unwrap();
        assert_eq!((n[0].metadata.name.as_str(), rv.as_str()), ("n1", "99"));
        let empty = serde_json::json!({"kind": "NodeList", "metadata": {"resourceVersion": "5"}, "items": []});
        assert_eq!(decode_list(&empty, Node::from_json).unwrap(), (vec![], "5".to_string()));
        let null = serde_json::json!({"kind": "NodeList", "metadata": {"resourceVersion": "5"}, "items": null});
        assert_eq!(decode_list(&null, Node::from_json).unwrap(), (vec![], "5".to_string()));
        assert!(decode_list(&serde_json::json!({"items": []}), Node::from_json).is_err());
        assert!(decode_list(&serde_json::json!({"kind": "Status"}), Node::from_json).is_err());
        assert!(
            decode_list(&serde_json::json!({"metadata": {"resourceVersion": "5"}, "items": [7]}), Node::from_json)
                .is_err()
        );
    }
}
