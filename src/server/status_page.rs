//! `GET /` and `/status`: the operator's view of this node, as HTML that
//! needs no JavaScript (readable in a browser and, line by line, in curl),
//! or as JSON with `?format=json` or `Accept: application/json`. The page
//! only reads [`Report`]: it never runs a check.
//!
//! Every string is HTML-escaped (Node condition messages reach the page,
//! and any pod that may patch a Node can set them), and the headers forbid
//! scripts, frames and sniffing outright, so even an escaping bug could not
//! run code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Instant, SystemTime};

use crate::runner::Runner;
use crate::server::http::{QueryError, Request, Response, query_pairs};
use crate::server::report;
use crate::server::status_report::{Report, human_duration};
use crate::timefmt;

/// Headers of every /status answer, on top of the usual nosniff/no-store.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Vary", "Accept"),
];

#[derive(Debug, PartialEq, Clone, Copy)]
enum Format {
    Html,
    Json,
}

/// Answers `/` or `/status` (method already checked by the caller).
pub fn handle(req: &Request, runner: &Runner) -> Response {
    let format = match format(req) {
        Ok(f) => f,
        Err(message) => return Response::json(400, report::error(&message, None)),
    };
    let report = Report::collect(runner, SystemTime::now(), Instant::now());
    let mut resp = match format {
        Format::Json => Response::json(200, report.to_json()),
        Format::Html => {
            let mut resp = Response::text(200, render(&report));
            resp.content_type = "text/html; charset=utf-8";
            resp
        }
    };
    for (name, value) in SECURITY_HEADERS {
        resp = resp.with_header(name, value);
    }
    resp
}

/// `format=json|html` wins; else JSON when `Accept` names
/// `application/json` and not `text/html` (browsers name the latter, curl
/// sends `*/*`: both get HTML). Any other parameter is a 400, as on /health.
fn format(req: &Request) -> Result<Format, String> {
    let pairs = match req.query.as_deref().map(query_pairs).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(QueryError::BadPercentEncoding) => return Err("invalid percent-encoding in query".into()),
        Err(QueryError::NotUtf8) => return Err("query is not valid UTF-8".into()),
    };
    let mut chosen = None;
    for (key, value) in &pairs {
        if key != "format" {
            let shown: String = key.chars().take(32).collect();
            return Err(format!("unknown query parameter {shown:?}; use format=html or format=json"));
        }
        chosen = Some(match value.as_str() {
            "json" => Format::Json,
            "html" => Format::Html,
            other => {
                let shown: String = other.chars().take(32).collect();
                return Err(format!("unknown format {shown:?}; use html or json"));
            }
        });
    }
    if let Some(f) = chosen {
        return Ok(f);
    }
    let accept = req.accept.as_deref().unwrap_or("").to_ascii_lowercase();
    let names = |media: &str| accept.split(',').any(|r| r.split(';').next().unwrap_or("").trim() == media);
    Ok(if names("application/json") && !names("text/html") { Format::Json } else { Format::Html })
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Columns are styled by position (`td:nth-child`), so rows carry no
/// per-cell markup and read as text in `curl` output.
const STYLE: &str = "\
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em 2em;color:#1d1d1f;background:#fff;max-width:110em}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.5em 0 .4em}
p{color:#555;margin:0 0 1em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .7em;border-bottom:1px solid #e3e3e8;vertical-align:top}
th{background:#f4f4f6;font-weight:600;white-space:nowrap}
#checks td:nth-child(1),#transitions td:nth-child(2),#service-watches td:nth-child(1),#config th,#config td{font-family:ui-monospace,monospace}
#checks td:nth-child(1){white-space:nowrap}
#checks td:nth-child(3),#checks td:nth-child(4),#transitions td:nth-child(1){white-space:nowrap;color:#444}
#transitions td:nth-child(3){white-space:nowrap}
#checks td:nth-child(5),#checks td:nth-child(6){text-align:right;white-space:nowrap}
#node-state th,#config th{width:16em}
b{display:inline-block;padding:0 .5em;border-radius:.3em;white-space:nowrap}
.pass b,b.pass{background:#d8f3dc;color:#1b5e20}
.fail b,b.fail{background:#fde0e0;color:#b00020}
.unknown b,b.unknown{background:#fff1cc;color:#8a5a00}
.not-run b,b.not-run{background:#eee;color:#666}
tr.fail td{background:#fff8f8}tr.unknown td{background:#fffcf2}
";

/// The page. One table row per line, so `curl` output reads as text too.
pub fn render(r: &Report) -> Vec<u8> {
    let mut h = String::with_capacity(16 * 1024);
    let (class, verdict) = if r.ready { ("pass", "READY") } else { ("fail", "NOT READY") };
    let node = escape(&r.node);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{node}: {} - harmony-node-readiness-endpoint</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        verdict.to_ascii_lowercase()
    );
    let _ = writeln!(h, "<h1>Node {node}: <b class=\"{class}\">{verdict}</b></h1>");
    let _ = writeln!(
        h,
        "<p>From the last results of the default checks ({}), as a bare GET /health gives it. \
         This page never runs a check: it shows the last result each one gave a request.<br>\n\
         As of {}; up {} (since {}); harmony-node-readiness-endpoint {}.</p>",
        escape(&r.default_checks.join(", ")),
        time(r.generated_at),
        human_duration(r.generated_at.duration_since(r.started_at).unwrap_or_default()),
        time(r.started_at),
        escape(r.version),
    );
    checks_table(&mut h, r);
    node_table(&mut h, r);
    service_watches_table(&mut h, r);
    transitions_table(&mut h, r);
    config_table(&mut h, r);
    h.push_str(
        "<p>Also: <code>/status?format=json</code> (this page as JSON), \
         <code>harmony-node-readiness-endpoint status</code> (as a terminal table), <code>/metrics</code>.</p>\n",
    );
    h.push_str("</body>\n</html>\n");
    h.into_bytes()
}

/// `2026-11-25 03:12:05Z` (UTC, to the second).
fn time(t: SystemTime) -> String {
    let s = timefmt::rfc3339(t);
    format!("{}Z", s.get(..19).unwrap_or(&s).replace('T', " "))
}

/// `2026-11-25 03:12:05Z, 2 min 5 s ago`, or `-`.
fn when(t: Option<SystemTime>, now: SystemTime) -> String {
    match t {
        Some(t) => format!("{}, {} ago", time(t), human_duration(now.duration_since(t).unwrap_or_default())),
        None => "-".into(),
    }
}

/// [`when`] without the date when it is `now`'s (UTC) day: `03:12:05Z, 5 s ago`.
fn when_short(t: Option<SystemTime>, now: SystemTime) -> String {
    let full = when(t, now);
    let today = time(now);
    match full.strip_prefix(today.get(..11).unwrap_or("")) {
        Some(rest) if t.is_some() => rest.to_string(),
        _ => full,
    }
}

fn state_label(state: &str) -> &str {
    if state == "not-run" { "not run" } else { state }
}

fn checks_table(h: &mut String, r: &Report) {
    h.push_str(
        "<h2>Checks</h2>\n<table id=\"checks\">\n<tr><th>check<th>state<th>since<th>last run<th>duration\
         <th>transitions<th>reason</tr>\n",
    );
    for c in &r.checks {
        let name = escape(c.name);
        let _ = writeln!(
            h,
            "<tr id=\"check-{name}\" class=\"{}\"><td>{name}{}<td><b>{}</b><td>{}<td>{}<td>{}<td>{}<td>{}</tr>",
            c.state,
            if c.default { " (default)" } else { "" },
            state_label(c.state),
            when_short(c.since, r.generated_at),
            when_short(c.last_run, r.generated_at),
            c.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "-".into()),
            c.transitions,
            escape(c.reason.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</table>\n");
}

fn node_table(h: &mut String, r: &Report) {
    let n = &r.node_state;
    let rows: [(&str, String); 7] = [
        ("source", n.source.to_string()),
        ("Node", format!("{} ({})", r.node, n.presence)),
        ("age", age_text(n.age_seconds)),
        ("API server", n.api_server.clone().unwrap_or_else(|| "-".into())),
        ("watch restarts", restarts_text(n.watch_restarts, &n.watch_restarts_by_reason)),
        ("last API error", n.last_error.clone().unwrap_or_else(|| "-".into())),
        ("credentials", n.no_credentials.as_ref().map(|w| format!("none: {w}")).unwrap_or_else(|| "found".into())),
    ];
    h.push_str("<h2>Node state</h2>\n<table id=\"node-state\">\n");
    for (key, value) in rows {
        let _ = writeln!(h, "<tr><th>{key}<td>{}</tr>", escape(&value));
    }
    h.push_str("</table>\n");
}

/// How long ago the API last answered a watch (Node or EndpointSlices).
fn age_text(age_seconds: Option<u64>) -> String {
    match age_seconds {
        Some(s) => format!("{} since the API last answered", human_duration(std::time::Duration::from_secs(s))),
        None => "never confirmed by the API".to_string(),
    }
}

/// `3 (closed 2, error 1, …)`: a watch's restarts, then by reason.
fn restarts_text(total: u64, by_reason: &BTreeMap<&'static str, u64>) -> String {
    let reasons = by_reason.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    format!("{total} ({reasons})")
}

/// The EndpointSlice watches SERVICE_ENDPOINTS started, one row each, the
/// Node state's fields as columns (nothing when SERVICE_ENDPOINTS is unset).
fn service_watches_table(h: &mut String, r: &Report) {
    if r.service_watches.is_empty() {
        return;
    }
    h.push_str(
        "<h2>EndpointSlice watches (SERVICE_ENDPOINTS)</h2>\n<table id=\"service-watches\">\n\
         <tr><th>Service<th>source<th>slices<th>ready endpoints<th>age<th>watch restarts<th>last API error</tr>\n",
    );
    for w in &r.service_watches {
        let (slices, ready) = match (w.slices, w.ready_here, w.ready_elsewhere) {
            (Some(n), Some(here), Some(elsewhere)) => (n.to_string(), format!("{here} here, {elsewhere} elsewhere")),
            _ => ("not listed yet".to_string(), "-".to_string()),
        };
        // What keeps the check from telling, most fundamental first.
        let error = match (&w.no_credentials, &w.forbidden, &w.last_error) {
            (Some(why), _, _) => format!("no credentials: {why}"),
            (None, Some(why), _) => why.clone(),
            (None, None, Some(why)) => why.clone(),
            _ => "-".to_string(),
        };
        let service = escape(&w.service);
        let _ = writeln!(
            h,
            "<tr id=\"watch-{service}\"><td>{service}<td>{}<td>{}<td>{}<td>{}<td>{}<td>{}</tr>",
            w.source,
            escape(&slices),
            escape(&ready),
            escape(&age_text(w.age_seconds)),
            escape(&restarts_text(w.watch_restarts, &w.watch_restarts_by_reason)),
            escape(&error),
        );
    }
    h.push_str("</table>\n");
}

fn transitions_table(h: &mut String, r: &Report) {
    h.push_str("<h2>Last transitions (newest first, at most 100)</h2>\n");
    if r.transitions.is_empty() {
        h.push_str("<p>None yet.</p>\n");
        return;
    }
    h.push_str("<table id=\"transitions\">\n<tr><th>time<th>check<th>from → to<th>reason</tr>\n");
    for t in &r.transitions {
        let _ = writeln!(
            h,
            "<tr class=\"{}\"><td>{}<td>{}<td><b class=\"{}\">{}</b> → <b>{}</b><td>{}</tr>",
            t.to,
            when(Some(t.at), r.generated_at),
            escape(t.check),
            t.from,
            state_label(t.from),
            state_label(t.to),
            escape(t.reason.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</table>\n");
}

fn config_table(h: &mut String, r: &Report) {
    h.push_str("<h2>Effective configuration</h2>\n<table id=\"config\">\n");
    for (key, value) in &r.config {
        let _ =
            writeln!(h, "<tr><th>{key}<td>{}</tr>", if value.is_empty() { "(unset)".into() } else { escape(value) });
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Check, CheckId, Ctx, Exec, Outcome};
    use crate::config::test_config;
    use crate::metrics::Metrics;
    use crate::runner::history::MAX_TRANSITIONS;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn request(query: Option<&str>, accept: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: "/status".into(),
            query: query.map(str::to_string),
            minor_version: 1,
            keep_alive: false,
            body: crate::server::http::BodyFraming::Length(0),
            accept: accept.map(str::to_string),
        }
    }

    #[test]
    fn format_negotiation() {
        let f = |q, a| format(&request(q, a));
        assert_eq!(f(None, None), Ok(Format::Html));
        assert_eq!(f(None, Some("*/*")), Ok(Format::Html), "curl");
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(f(None, Some(browser)), Ok(Format::Html));
        assert_eq!(f(None, Some("application/json")), Ok(Format::Json));
        assert_eq!(f(None, Some("Application/JSON; charset=utf-8")), Ok(Format::Json));
        assert_eq!(f(Some("format=json"), Some(browser)), Ok(Format::Json));
        assert_eq!(f(Some("format=html"), Some("application/json")), Ok(Format::Html));
        assert!(f(Some("format=xml"), None).unwrap_err().contains("unknown format"));
        assert!(f(Some("fromat=json"), None).unwrap_err().contains("unknown query parameter"));
        assert!(f(Some("format=%zz"), None).is_err());
    }

    #[test]
    fn times_drop_the_date_of_today_only() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_953_600); // 2026-11-29 12:00:00Z
        let ago = |s| Some(now - std::time::Duration::from_secs(s));
        assert_eq!(when_short(ago(5), now), "11:59:55Z, 5 s ago");
        assert_eq!(when_short(ago(13 * 3600), now), "2026-11-28 23:00:00Z, 13 h 0 min ago");
        assert_eq!(when_short(None, now), "-");
    }

    #[test]
    fn escaping_covers_elements_and_attributes() {
        assert_eq!(escape(r#"<script>"a"&'b'</script>"#), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
    }

    static RUNS: AtomicUsize = AtomicUsize::new(0);
    fn hostile(_: &Ctx, _: std::time::Instant) -> Outcome {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Outcome::fail(format!("{}<script>alert(1)</script>\"><img src=x onerror=alert(2)>", "&".repeat(100)))
    }
    static REG: &[Check] = &[
        Check { id: CheckId::NodeReady, exec: Exec::Snapshot, run: hostile },
        Check { id: CheckId::Kubelet, exec: Exec::Probe, run: hostile },
    ];

    /// The EndpointSlice store of `ingress/router`: one slice, a ready
    /// endpoint on this node and one elsewhere, and a hostile API error.
    fn slice_store(node: &str) -> Arc<crate::kube::SliceStore> {
        let svc = crate::config::ServiceRef { namespace: "ingress".into(), name: "router".into() };
        let store = Arc::new(crate::kube::SliceStore::with(crate::kube::SliceState::new(&svc)));
        let slice = crate::kube::endpoint_slice::EndpointSlice::from_json(serde_json::json!({
            "metadata": {"name": "router-x7k2p", "namespace": "ingress", "resourceVersion": "7",
                         "labels": {"kubernetes.io/service-name": "router"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}, "nodeName": node},
                          {"addresses": ["10.0.0.2"], "conditions": {"ready": true}, "nodeName": "n2"}],
        }))
        .unwrap();
        store.update(|s| {
            s.slices = Some([(slice.metadata.name.clone(), Arc::new(slice))].into_iter().collect());
            s.confirmed_at = Some(std::time::Instant::now());
            s.last_error = Some("API 500: <script>alert(3)</script>".into());
        });
        store
    }

    fn runner() -> Runner {
        let config =
            test_config(&[("CHECK_MIN_INTERVAL_MS", "0"), ("KUBELET_HEALTHZ_URL", "http://u:pw@127.0.0.1:1/")]);
        let node = Arc::new(crate::kube::NodeStore::new(&config.node_name));
        let services = vec![slice_store(&config.node_name)];
        Runner::with_registry(Arc::new(Ctx::new(config, node, services)), Arc::new(Metrics::new()), REG)
    }

    #[test]
    fn the_page_escapes_every_string_and_never_runs_a_check() {
        let r = runner();
        r.run(&[CheckId::NodeReady]);
        let before = RUNS.load(Ordering::SeqCst);
        let resp = handle(&request(None, None), &r);
        let json = handle(&request(Some("format=json"), None), &r);
        assert_eq!(RUNS.load(Ordering::SeqCst), before, "rendering ran a check");
        let page = String::from_utf8(resp.body).unwrap();
        assert!(!page.contains("<script") && !page.contains("<img"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
        assert!(!page.contains("pw@"), "secret in the page");
        assert!(page.contains("<tr id=\"check-kubelet\" class=\"not-run\">"), "{page}");
        assert!(page.contains("<tr id=\"check-node_ready\" class=\"fail\">"));
        assert!(
            page.contains(
                "<tr id=\"watch-ingress/router\"><td>ingress/router<td>none<td>1<td>1 here, 1 elsewhere\
                 <td>0 s since the API last answered<td>0 (closed 0, error 0, expired 0, idle 0)\
                 <td>API 500: &lt;script&gt;alert(3)&lt;/script&gt;</tr>"
            ),
            "{page}"
        );
        assert_eq!(resp.content_type, "text/html; charset=utf-8");
        for (name, value) in SECURITY_HEADERS {
            assert!(resp.headers.iter().any(|(n, v)| *n == name && v == value), "{name}");
        }
        let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(v["ready"], false);
        assert_eq!(v["checks"][0]["state"], "fail");
        assert_eq!(v["checks"][1]["state"], "not-run");
        assert_eq!(v["checks"][1]["last_run"], serde_json::Value::Null);
        assert_eq!(v["transitions"][0]["from"], "not-run");
        assert_eq!(v["config"]["KUBELET_HEALTHZ_URL"], "http://***@127.0.0.1:1/");
        assert_eq!(v["node_state"]["source"], "none");
        let w = &v["service_watches"][0];
        assert_eq!((&w["service"], &w["source"], &w["slices"]), (&"ingress/router".into(), &"none".into(), &1.into()));
        assert_eq!(
            (&w["ready_here"], &w["ready_elsewhere"], &w["forbidden"]),
            (&1.into(), &1.into(), &None::<u8>.into())
        );
    }

    #[test]
    fn without_service_endpoints_there_is_no_watch_section() {
        let config = test_config(&[]);
        let node = Arc::new(crate::kube::NodeStore::new(&config.node_name));
        let r = Runner::with_registry(Arc::new(Ctx::new(config, node, Vec::new())), Arc::new(Metrics::new()), REG);
        let page = String::from_utf8(handle(&request(None, None), &r).body).unwrap();
        assert!(!page.contains("id=\"service-watches\"") && !page.contains("EndpointSlice watches"), "{page}");
        let v: serde_json::Value =
            serde_json::from_slice(&handle(&request(Some("format=json"), None), &r).body).unwrap();
        assert_eq!(v["service_watches"], serde_json::json!([]));
    }

    /// Object keys, recursively (arrays: their first element's).
    fn shape(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) if path != ".config" => {
                for (k, v) in m {
                    out.push(format!("{path}.{k}"));
                    shape(v, &format!("{path}.{k}"), out);
                }
            }
            serde_json::Value::Array(a) if !a.is_empty() => shape(&a[0], &format!("{path}[]"), out),
            _ => {}
        }
    }

    #[test]
    fn the_readme_json_example_has_the_fields_of_the_real_one() {
        let r = runner();
        r.run(&[CheckId::NodeReady]);
        let real: serde_json::Value =
            serde_json::from_slice(&handle(&request(Some("format=json"), None), &r).body).unwrap();
        let readme: serde_json::Value = serde_json::from_str(crate::testutil::readme_block("json")).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        shape(&real, "", &mut a);
        shape(&readme, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn the_page_size_is_bounded() {
        // Worst case: every field at its longest, all escaped 6x, a full ring.
        let r = runner();
        let hostile_reason = "\"".repeat(1000);
        let mut report = Report::collect(&r, SystemTime::now(), std::time::Instant::now());
        for c in &mut report.checks {
            c.reason = Some(crate::server::status_report::field(&hostile_reason));
        }
        for (_, v) in &mut report.config {
            *v = crate::server::status_report::field(&hostile_reason);
        }
        let t = crate::server::status_report::TransitionRow {
            at: SystemTime::now(),
            check: "kubelet",
            from: "pass",
            to: "fail",
            reason: Some(crate::server::status_report::field(&hostile_reason)),
        };
        report.transitions = vec![t; MAX_TRANSITIONS];
        let size = render(&report).len();
        assert!(size < 512 * 1024, "page of {size} bytes");
        assert!(report.to_json().len() < 512 * 1024);
    }
}
