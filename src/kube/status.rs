//! `metav1.Status`: the body the API server sends with every error (and in
//! watch `ERROR` events). Turned into one short line for `reason` and logs.

use serde::Deserialize;

/// Longest API message quoted in a reason; the rest is cut.
const MESSAGE_CHARS: usize = 140;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApiStatus {
    pub code: u16,
    /// Machine word, e.g. `Forbidden`, `Expired`, `NotFound`.
    pub reason: String,
    pub message: String,
}

impl ApiStatus {
    /// Parses a Status object; `None` when `v` is not one.
    pub fn from_json(v: &serde_json::Value) -> Option<ApiStatus> {
        if v.get("kind").and_then(|k| k.as_str()) != Some("Status") {
            return None;
        }
        serde_json::from_value(v.clone()).ok()
    }
}

/// `API 403 Forbidden: nodes "n1" is forbidden: …` from an HTTP status and
/// its body (a Status object, or anything else a proxy in between sent).
pub fn http_error_reason(http_code: u16, body: &[u8]) -> String {
    let status = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| ApiStatus::from_json(&v));
    match status {
        Some(s) => status_reason(&ApiStatus { code: if s.code == 0 { http_code } else { s.code }, ..s }),
        None => {
            let text = String::from_utf8_lossy(body);
            let first = excerpt(text.lines().find(|l| !l.trim().is_empty()).unwrap_or(""));
            if first.is_empty() {
                format!("API returned {http_code}")
            } else {
                format!("API returned {http_code}: {first}")
            }
        }
    }
}

/// One line for a Status object.
pub fn status_reason(s: &ApiStatus) -> String {
    let msg = excerpt(&s.message);
    match (s.reason.as_str(), msg.as_str()) {
        ("", "") => format!("API {}", s.code),
        (r, "") => format!("API {} {r}", s.code),
        ("", m) => format!("API {}: {m}", s.code),
        (r, m) if m.eq_ignore_ascii_case(r) => format!("API {} {r}", s.code),
        (r, m) => format!("API {} {r}: {m}", s.code),
    }
}

fn excerpt(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= MESSAGE_CHARS {
        s
    } else {
        let mut out: String = s.chars().take(MESSAGE_CHARS - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bodies_become_short_reasons() {
        let forbidden = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes is forbidden: User \"system:serviceaccount:ns:sa\" cannot list resource \"nodes\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"kind":"nodes"},"code":403}"#;
        let cases: &[(u16, &[u8], &str)] = &[
            (
                403,
                forbidden,
                "API 403 Forbidden: nodes is forbidden: User \"system:serviceaccount:ns:sa\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
            ),
            (
                401,
                br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#,
                "API 401 Unauthorized",
            ),
            (
                410,
                br#"{"kind":"Status","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}"#,
                "API 410 Expired: too old resource version: 1 (5)",
            ),
            (502, b"<html>\n<head><title>502 Bad Gateway</title></head>", "API returned 502: <html>"),
            (500, b"", "API returned 500"),
            (429, br#"{"kind":"Status","code":0,"message":"too many requests"}"#, "API 429: too many requests"),
        ];
        for (code, body, want) in cases {
            assert_eq!(http_error_reason(*code, body), *want);
        }
    }

    #[test]
    fn long_messages_are_cut_to_one_line() {
        let msg = "x\n".repeat(400);
        let body = serde_json::json!({"kind": "Status", "code": 500, "message": msg}).to_string();
        let r = http_error_reason(500, body.as_bytes());
        assert!(r.chars().count() < 160 && !r.contains('\n') && r.ends_with('…'), "{r}");
    }

    #[test]
    fn only_status_objects_are_statuses() {
        assert!(ApiStatus::from_json(&serde_json::json!({"kind": "Node", "code": 1})).is_none());
        assert_eq!(ApiStatus::from_json(&serde_json::json!({"kind": "Status", "code": 410})).unwrap().code, 410);
    }
}
