//! Check results → the `/health` JSON body and the ready verdict; the
//! caller maps the verdict to its status code or exit code. Field names and
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

/// The `/health` body (ends with a newline); its `status` is [`ready`].
pub fn health(results: &[CheckResult]) -> Vec<u8> {
    let ready = ready(results);
    let body = Body {
        status: if ready { "ready" } else { "not-ready" },
        checks: results
            .iter()
            .map(|r| Entry {
                name: r.name(),
                passed: r.outcome.passed(),
                reason: r.outcome.reason(),
                duration_ms: r.duration.as_millis() as u64,
            })
            .collect(),
    };
    let mut json = serde_json::to_vec(&body).expect("plain structs serialize");
    json.push(b'\n');
    json
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
    use crate::checks::{CheckId, Outcome};
    use std::time::Duration;

    fn r(name: &str, outcome: Outcome, ms: u64) -> CheckResult {
        CheckResult { id: CheckId::parse(name).unwrap(), outcome, duration: Duration::from_millis(ms) }
    }

    #[test]
    fn matches_the_readme_examples() {
        let results = [r("node_ready", Outcome::Pass, 42)];
        let body = health(&results);
        assert!(ready(&results));
        assert_eq!(
            body,
            b"{\"status\":\"ready\",\"checks\":[{\"name\":\"node_ready\",\"passed\":true,\"duration_ms\":42}]}\n"
        );
        let results = [
            r("node_ready", Outcome::Pass, 41),
            r("okd_router_1936", Outcome::fail("Failed to connect to OKD router: connection refused"), 5),
        ];
        let body = health(&results);
        assert!(!ready(&results));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], "not-ready");
        assert_eq!(v["checks"][1]["reason"], "Failed to connect to OKD router: connection refused");
        assert!(v["checks"][0].get("reason").is_none());
    }

    #[test]
    fn unknown_is_never_ready() {
        let results = [r("kubelet", Outcome::unknown("timed out after 1000 ms"), 1000)];
        assert!(!ready(&results));
        let body = String::from_utf8(health(&results)).unwrap();
        assert!(body.contains("\"status\":\"not-ready\""), "{body}");
        assert!(body.contains("\"passed\":false,\"reason\":\"timed out after 1000 ms\""), "{body}");
        assert!(!ready(&[]));
        assert!(String::from_utf8(health(&[])).unwrap().contains("not-ready"));
    }
}
