//! Check results → the `/health` JSON body and status code. Field names and
//! order are the public contract of the original README:
//! `{"status":"ready","checks":[{"name":…,"passed":…,"reason":…,"duration_ms":…}]}`.

use serde::Serialize;

use crate::runner::CheckResult;

#[derive(Serialize)]
struct Body<'a> {
    status: &'static str,
    checks: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    duration_ms: u64,
}

/// True iff every check passed (an empty selection is never ready).
pub fn ready(results: &[CheckResult]) -> bool {
    !results.is_empty() && results.iter().all(|r| r.outcome.passed())
}

/// `200` iff every selected check passed, else `503`; body ends with a newline.
pub fn health(results: &[CheckResult]) -> (u16, Vec<u8>) {
    let ready = ready(results);
    let body = Body {
        status: if ready { "ready" } else { "not-ready" },
        checks: results
            .iter()
            .map(|r| Entry {
                name: r.name,
                passed: r.outcome.passed(),
                reason: r.outcome.reason(),
                duration_ms: r.duration.as_millis() as u64,
            })
            .collect(),
    };
    let mut json = serde_json::to_vec(&body).expect("plain structs serialize");
    json.push(b'\n');
    (if ready { 200 } else { 503 }, json)
}

/// A JSON error body: `{"error":"…"}` plus optional `known_checks`.
pub fn error(message: &str, known_checks: Option<&[&str]>) -> Vec<u8> {
    let mut v = serde_json::json!({ "error": message });
    if let Some(known) = known_checks {
        v["known_checks"] = serde_json::json!(known);
    }
    let mut json = serde_json::to_vec(&v).expect("json value serializes");
    json.push(b'\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Outcome;
    use std::time::Duration;

    fn r(name: &'static str, outcome: Outcome, ms: u64) -> CheckResult {
        CheckResult { name, outcome, duration: Duration::from_millis(ms) }
    }

    #[test]
    fn matches_the_readme_examples() {
        let (code, body) = health(&[r("node_ready", Outcome::Pass, 42)]);
        assert_eq!(code, 200);
        assert_eq!(
            body,
            b"{\"status\":\"ready\",\"checks\":[{\"name\":\"node_ready\",\"passed\":true,\"duration_ms\":42}]}\n"
        );
        let (code, body) = health(&[
            r("node_ready", Outcome::Pass, 41),
            r("okd_router_1936", Outcome::fail("Failed to connect to OKD router: connection refused"), 5),
        ]);
        assert_eq!(code, 503);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], "not-ready");
        assert_eq!(v["checks"][1]["reason"], "Failed to connect to OKD router: connection refused");
        assert!(v["checks"][0].get("reason").is_none());
    }

    #[test]
    fn unknown_is_never_ready() {
        let (code, body) = health(&[r("kubelet", Outcome::unknown("timed out after 1000 ms"), 1000)]);
        assert_eq!(code, 503);
        assert!(String::from_utf8(body).unwrap().contains("\"passed\":false,\"reason\":\"timed out after 1000 ms\""));
        assert_eq!(health(&[]).0, 503);
    }
}
