//! Request → response: `/health` (check selection, runner, report), `/livez`,
//! `/metrics`, the status page (`/`, `/status`), and JSON 400/404/405 for
//! everything else.

use super::http::{QueryError, Request, Response, query_pairs};
use super::report;
use crate::checks::CheckId;
use crate::config::{BadName, parse_list};
use crate::runner::Runner;

const ALLOW: &str = "GET, HEAD";

/// Handles one request. Returns the response and the path label for metrics
/// (a fixed set, so scanners cannot grow the label space).
pub fn handle(req: &Request, runner: &Runner) -> (Response, &'static str) {
    let label = match req.path.as_str() {
        "/health" => "/health",
        "/livez" => "/livez",
        "/metrics" => "/metrics",
        "/" | "/status" => "/status",
        _ => {
            let body = report::error("no such path; try /health, /livez, /metrics or /status", None);
            return (Response::json(404, body), "other");
        }
    };
    if req.method != "GET" && req.method != "HEAD" {
        let body = report::error(&format!("method {} not allowed; use GET or HEAD", req.method), None);
        return (Response::json(405, body).with_header("Allow", ALLOW), label);
    }
    let resp = match label {
        "/health" => match select_checks(req.query.as_deref(), &runner.ctx().config.default_checks) {
            Ok(ids) => {
                let results = runner.run(&ids);
                Response::json(if report::ready(&results) { 200 } else { 503 }, report::health(&results))
            }
            Err(resp) => resp,
        },
        "/livez" => Response::text(200, "ok\n"),
        "/status" => super::status_page::handle(req, runner),
        _ => {
            let mut resp = Response::text(200, runner.metrics().render());
            resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
            resp
        }
    };
    (resp, label)
}

/// The checks a `/health` request selects: every `check=` value, split on
/// commas, in order, duplicates once; none given → the defaults. Unknown or
/// empty names are a 400 listing the known ones — never a silent 200.
pub fn select_checks(query: Option<&str>, defaults: &[CheckId]) -> Result<Vec<CheckId>, Response> {
    let pairs = match query.map(query_pairs).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(QueryError::BadPercentEncoding) => return Err(bad_request("invalid percent-encoding in query", false)),
        Err(QueryError::NotUtf8) => return Err(bad_request("query is not valid UTF-8", false)),
    };
    // A typo such as `checks=kubelet` must not silently run the defaults
    // (and answer 200 for a node whose kubelet is dead).
    if let Some((key, _)) = pairs.iter().find(|(k, _)| k != "check") {
        let shown: String = key.chars().take(32).collect();
        return Err(bad_request(&format!("unknown query parameter {shown:?}; use check=a,b"), true));
    }
    if pairs.is_empty() {
        return Ok(defaults.to_vec());
    }
    parse_list(pairs.iter().flat_map(|(_, value)| value.split(','))).map_err(|e| match e {
        BadName::Empty => bad_request("empty check name", true),
        BadName::Unknown(name) => {
            let shown: String = name.chars().take(64).collect();
            bad_request(&format!("unknown check {shown:?}"), true)
        }
    })
}

fn bad_request(message: &str, list_known: bool) -> Response {
    let known = CheckId::names();
    Response::json(400, report::error(message, list_known.then_some(known.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(q: Option<&str>) -> Result<Vec<&'static str>, u16> {
        select_checks(q, &[CheckId::NodeReady])
            .map(|ids| ids.iter().map(|id| id.name()).collect())
            .map_err(|r| r.status)
    }

    #[test]
    fn selection() {
        assert_eq!(sel(None), Ok(vec!["node_ready"]));
        assert_eq!(sel(Some("")), Ok(vec!["node_ready"]));
        assert_eq!(sel(Some("check=kubelet")), Ok(vec!["kubelet"]));
        assert_eq!(sel(Some("check=kubelet%2Cokd_router_1936")), Ok(vec!["kubelet", "okd_router_1936"]));
        assert_eq!(sel(Some("check=okd_router_1936,kubelet,kubelet")), Ok(vec!["okd_router_1936", "kubelet"]));
        assert_eq!(sel(Some("check=kubelet&check=node_ready")), Ok(vec!["kubelet", "node_ready"]));
        assert_eq!(sel(Some("check=")), Err(400));
        assert_eq!(sel(Some("check=kubelet,,node_ready")), Err(400));
        assert_eq!(sel(Some("check=nope")), Err(400));
        assert_eq!(sel(Some("check=%zz")), Err(400));
        assert_eq!(sel(Some("check=%c3%28")), Err(400));
        assert_eq!(sel(Some("checks=kubelet")), Err(400), "a typo never falls back to the defaults");
        assert_eq!(sel(Some("check=kubelet&Check=node_ready")), Err(400));
    }

    #[test]
    fn unknown_check_body_lists_known_checks() {
        let resp = select_checks(Some("check=bogus"), &[]).unwrap_err();
        let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(v["error"], "unknown check \"bogus\"");
        assert!(v["known_checks"].as_array().unwrap().iter().any(|n| n == "kubelet"));
    }
}
