//! The status page (`GET /`, `/status`, `/status?format=json`) against the
//! built binary and the fake API server: what an operator asking "why was
//! my node pulled, and since when?" gets, that hostile strings from the API
//! stay text, and that looking never runs a check.

mod support;

use support::status_rig::{HOSTILE, NODE, StatusRig};
use support::wait_for;

/// The JSON status.
fn status(rig: &StatusRig) -> serde_json::Value {
    let r = rig.svc.get("/status?format=json");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn check<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn a_node_condition_message_reaches_the_page_as_text() {
    let rig = StatusRig::start(&[]);
    rig.node_goes_not_ready(&format!("runtime down {HOSTILE}"));
    for path in ["/", "/status"] {
        let r = rig.svc.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(!r.body.contains("<script") && !r.body.contains("<img"), "unescaped markup on {path}:\n{}", r.body);
        let escaped = "KubeletNotReady: runtime down &lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;";
        // Once in the checks table, once in the transitions.
        assert_eq!(r.body.matches(escaped).count(), 2, "{path}:\n{}", r.body);
        // The page forbids scripts and frames even if escaping ever failed.
        assert_eq!(r.header("content-security-policy"), Some("default-src 'none'; style-src 'unsafe-inline'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // The JSON carries the same message verbatim (JSON escaping is the reader's).
    let s = status(&rig);
    assert_eq!(check(&s, "node_ready")["reason"], format!("KubeletNotReady: runtime down {HOSTILE}"));
}

#[test]
fn the_status_tells_what_failed_since_when_and_what_changed() {
    let rig = StatusRig::start(&[]);
    assert_eq!(rig.svc.get("/health?check=kubelet").status, 200);
    rig.node_goes_not_ready("container runtime network not ready");
    let s = status(&rig);
    assert_eq!(s["node"], NODE);
    assert_eq!(s["ready"], false, "node_ready (the default check) fails");
    let ready = check(&s, "node_ready");
    assert_eq!(ready["state"], "fail");
    assert_eq!(ready["reason"], "KubeletNotReady: container runtime network not ready");
    assert_eq!(ready["transitions"], 1);
    assert_eq!(ready["default"], true);
    assert!(ready["since"].as_str().unwrap() <= ready["last_run"].as_str().unwrap());
    assert_eq!(check(&s, "kubelet")["state"], "pass");
    assert!(check(&s, "kubelet")["duration_ms"].is_u64());
    // Checks nobody asked for.
    for name in ["okd_router_1936", "network", "container_runtime"] {
        let c = check(&s, name);
        assert_eq!((c["state"].as_str(), c["last_run"].is_null()), (Some("not-run"), true), "{name}");
    }
    // The last transition first: node_ready pass → fail, with the reason.
    let t = &s["transitions"][0];
    assert_eq!(
        (t["check"].as_str(), t["from"].as_str(), t["to"].as_str()),
        (Some("node_ready"), Some("pass"), Some("fail"))
    );
    assert_eq!(t["reason"], "KubeletNotReady: container runtime network not ready");
    assert_eq!(t["at"], ready["since"]);
    // The Node state: where it comes from and how fresh it is.
    let n = &s["node_state"];
    assert_eq!(n["source"], "watch");
    assert_eq!(n["presence"], "present");
    assert_eq!(n["api_server"], rig.api.url());
    assert!(n["age_seconds"].as_u64().is_some_and(|a| a < 60), "just answered: {n}");
    assert!(n["watch_restarts"].is_u64());
    // The effective config, as the startup line logs it.
    assert_eq!(s["config"]["NODE_NAME"], NODE);
    assert_eq!(s["config"]["CHECK_MIN_INTERVAL_MS"], "0");
    // Recovery is another transition; the HTML shows the same rows.
    rig.api.set_ready(NODE, "True", "KubeletReady", "kubelet is posting ready status");
    rig.probe_until("", 200);
    let s = status(&rig);
    assert_eq!((s["ready"].as_bool(), s["transitions"][0]["to"].as_str()), (Some(true), Some("pass")));
    let page = rig.svc.get("/").body;
    assert!(page.contains("<tr id=\"check-node_ready\" class=\"pass\">"), "{page}");
    assert!(page.contains("<tr id=\"check-okd_router_1936\" class=\"not-run\"><td>okd_router_1936<td><b>not run</b>"));
    assert!(page.contains("<b class=\"fail\">fail</b> → <b>pass</b>"));
}

#[test]
fn looking_at_the_status_never_runs_a_check() {
    let rig = StatusRig::start(&[]);
    wait_for("the node watch", support::status_rig::FLIP, || {
        (status(&rig)["node_state"]["source"] == "watch").then_some(())
    });
    for _ in 0..5 {
        assert_eq!(rig.svc.get("/").status, 200);
        status(&rig);
        rig.get_with("/status", "Accept: application/json\r\n");
    }
    assert_eq!(rig.kubelet.hits() + rig.router.hits(), 0, "the page probed a dependency");
    let s = status(&rig);
    assert!(s["checks"].as_array().unwrap().iter().all(|c| c["state"] == "not-run"), "{s}");
    assert_eq!(s["transitions"].as_array().unwrap().len(), 0);
}

#[test]
fn json_by_query_or_accept_header_and_errors_as_json() {
    let rig = StatusRig::start(&[]);
    let by_accept = rig.get_with("/", "Accept: application/json\r\n");
    assert_eq!(by_accept.header("content-type"), Some("application/json"));
    assert_eq!(by_accept.json()["node"], NODE);
    assert_eq!(by_accept.header("content-security-policy"), Some("default-src 'none'; style-src 'unsafe-inline'"));
    let browser = rig.get_with("/status", "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n");
    assert_eq!(browser.header("content-type"), Some("text/html; charset=utf-8"));
    let forced = rig.get_with("/status?format=html", "Accept: application/json\r\n");
    assert!(forced.body.starts_with("<!DOCTYPE html>"));
    for bad in ["/status?format=xml", "/status?formt=json", "/?format=%zz"] {
        let r = rig.svc.get(bad);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"].is_string(), "{bad}");
    }
    let head = support::service::exchange(rig.svc.addr, b"HEAD / HTTP/1.0\r\n\r\n", std::time::Duration::from_secs(10));
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK") && head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
    let post = support::service::exchange(
        rig.svc.addr,
        b"POST /status HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        std::time::Duration::from_secs(10),
    );
    let (post, _) = support::Response::parse(&post).unwrap();
    assert_eq!((post.status, post.header("allow")), (405, Some("GET, HEAD")));
    // The page lives under the same head limits as every path.
    let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    let bytes = support::service::exchange(rig.svc.addr, huge.as_bytes(), std::time::Duration::from_secs(10));
    assert_eq!(support::Response::parse(&bytes).map(|(r, _)| r.status), Some(431));
}

#[test]
fn transitions_are_counted_in_metrics() {
    let rig = StatusRig::start(&[]);
    rig.node_goes_not_ready("down");
    rig.api.set_ready(NODE, "True", "KubeletReady", "ok");
    rig.probe_until("", 200);
    let metrics = rig.svc.get("/metrics").body;
    let sample =
        |series: &str| metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse::<f64>().ok());
    assert_eq!(sample("node_readiness_check_transitions_total{check=\"node_ready\"}"), Some(2.0), "{metrics}");
    let since = sample("node_readiness_check_last_transition_timestamp_seconds{check=\"node_ready\"}").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(since <= now && since > now - 60.0, "{since} vs {now}");
    assert_eq!(sample("node_readiness_check_transitions_total{check=\"kubelet\"}"), None, "never run: no series");
    assert!(metrics.contains("node_readiness_http_requests_total{path=\"/health\""));
}
