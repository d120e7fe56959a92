//! The watch protocol of one Node on the wire: request paths, the list
//! answer, and the newline-delimited JSON events of a watch stream
//! (ADDED / MODIFIED / DELETED / BOOKMARK / ERROR with a Status object).

use super::node::Node;
use super::status::{ApiStatus, status_reason};

/// One decoded watch event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// ADDED or MODIFIED.
    Upsert(Node),
    Deleted(Node),
    /// Progress marker: only the resourceVersion is meaningful.
    Bookmark(String),
    /// ERROR with code 410: the version is compacted away; relist.
    Expired(String),
    /// Any other ERROR event.
    Error(String),
}

/// Decodes one line of a watch stream; `Ok(None)` for a blank line.
pub fn decode_event(line: &[u8]) -> Result<Option<Event>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let garbage = || "watch stream sent something that is not a JSON watch event".to_string();
    let v: serde_json::Value = serde_json::from_slice(line).map_err(|_| garbage())?;
    let kind = v.get("type").and_then(|t| t.as_str()).ok_or_else(garbage)?;
    let object = v.get("object").cloned().ok_or_else(garbage)?;
    let event = match kind {
        "ADDED" | "MODIFIED" => Event::Upsert(Node::from_json(object)?),
        "DELETED" => Event::Deleted(Node::from_json(object)?),
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

/// `/api/v1/nodes?fieldSelector=metadata.name%3DNAME&resourceVersion=0`.
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

pub fn list_path(node: &str, from: &ListFrom) -> String {
    let base = format!("/api/v1/nodes?fieldSelector=metadata.name%3D{node}");
    match from {
        ListFrom::WatchCache => format!("{base}&resourceVersion=0"),
        ListFrom::NotOlderThan(rv) => {
            format!("{base}&resourceVersion={}&resourceVersionMatch=NotOlderThan", encode_query(rv))
        }
        ListFrom::Consistent => base,
    }
}

pub fn watch_path(node: &str, rv: &str, timeout_secs: u64) -> String {
    format!(
        "/api/v1/nodes?fieldSelector=metadata.name%3D{node}&watch=1&allowWatchBookmarks=true\
         &timeoutSeconds={timeout_secs}&resourceVersion={}",
        encode_query(rv)
    )
}

pub fn get_path(node: &str) -> String {
    format!("/api/v1/nodes/{node}")
}

/// resourceVersions are opaque strings: percent-encode all but unreserved.
fn encode_query(s: &str) -> String {
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

/// The node and resourceVersion out of a list answer.
pub fn decode_list(v: &serde_json::Value, node: &str) -> Result<(Option<Node>, String), String> {
    let rv = v.pointer("/metadata/resourceVersion").and_then(|r| r.as_str()).unwrap_or("").to_string();
    let items = v.get("items").and_then(|i| i.as_array()).ok_or("list answer has no items")?;
    let mut found = None;
    for item in items {
        let n = Node::from_json(item.clone())?;
        if n.metadata.name == node {
            found = Some(n);
        }
    }
    if rv.is_empty() {
        return Err("list answer has no resourceVersion".into());
    }
    Ok((found, rv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_event_type() {
        let node = r#"{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1","resourceVersion":"7"},"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"PLEG is not healthy"}]}}"#;
        let cases: Vec<(String, Event)> = vec![
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
            assert_eq!(decode_event(line.as_bytes()), Ok(Some(want)), "{line}");
        }
        let Some(Event::Upsert(n)) = decode_event(format!(r#"{{"type":"ADDED","object":{node}}}"#).as_bytes()).unwrap()
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
            assert!(decode_event(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(decode_event(b"\r\n"), Ok(None));
        assert!(matches!(decode_event(br#"{"type":"ERROR","object":{"kind":"Node"}}"#), Ok(Some(Event::Error(_)))));
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
        let (n, rv) = decode_list(&v, "n1").unwrap();
        assert_eq!((n.unwrap().metadata.name.as_str(), rv.as_str()), ("n1", "99"));
        let empty = serde_json::json!({"kind": "NodeList", "metadata": {"resourceVersion": "5"}, "items": []});
        assert_eq!(decode_list(&empty, "n1").unwrap(), (None, "5".to_string()));
        assert!(decode_list(&serde_json::json!({"items": []}), "n1").is_err());
        assert!(decode_list(&serde_json::json!({"kind": "Status"}), "n1").is_err());
    }
}
