//! `GET /metrics`: accepted (parse and lint) by Prometheus' own `promtool`,
//! and its counters move as requests and checks happen — while scraping
//! itself never runs a check.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::fake_apiserver::FakeApiServer;
use support::fake_http::{FakeHttp, Mode};
use support::kube_env::{Creds, as_env, env_for};
use support::{Service, wait_for};

/// Runs `promtool check metrics` on `text`; returns its complaints, if any.
fn promtool_problems(text: &str) -> Option<String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (!out.status.success() || !said.trim().is_empty()).then_some(said)
}

/// The value of the sample written exactly as `series` (name plus labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or(0.0)
}

#[test]
fn promtool_accepts_the_exposition() {
    if support::skip_unless_program("promtool") {
        return;
    }
    // With the node watcher connected to the fake API, so that its
    // families (added by the kube module at scrape time) carry samples too.
    let api = FakeApiServer::start();
    api.add_node("n1");
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let mut env = env_for(&api, "n1", Creds::KubeconfigTokenFile);
    env.push(("KUBELET_HEALTHZ_URL".into(), kubelet.url("/healthz")));
    env.push(("DEFAULT_CHECKS".into(), "kubelet".into()));
    let svc = Service::start(&as_env(&env));
    wait_for("the node watch", Duration::from_secs(10), || {
        (sample(&svc.get("/metrics").body, "node_readiness_node_watch_connected") == Some(1.0)).then_some(())
    });
    // Every family with samples: pass and fail runs, several paths and codes.
    assert_eq!(svc.get("/health?check=node_ready,node_eligible").status, 200);
    assert_eq!(svc.get("/health").status, 200);
    assert_eq!(svc.get("/health?check=okd_router_1936").status, 503);
    assert_eq!(svc.get("/nope").status, 404);
    assert_eq!(svc.get("/livez").status, 200);
    let resp = svc.get("/metrics");
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    assert!(resp.body.contains("node_readiness_check_duration_seconds_bucket{check=\"kubelet\",le=\"+Inf\"} 1"));
    for family in [
        "node_readiness_build_info{version=\"",
        "node_readiness_node_state_age_seconds ",
        "node_readiness_node_watch_restarts_total{reason=",
        "node_readiness_check_passed{check=\"node_ready\"} 1",
    ] {
        assert!(resp.body.contains(family), "no {family} in\n{}", resp.body);
    }
    if let Some(problems) = promtool_problems(&resp.body) {
        panic!("promtool check metrics complains:\n{problems}\n--- exposition:\n{}", resp.body);
    }
}

#[test]
fn counters_move_with_requests_and_checks_but_not_with_scrapes() {
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let url = kubelet.url("/healthz");
    let svc =
        Service::start(&[("KUBELET_HEALTHZ_URL", &url), ("DEFAULT_CHECKS", "kubelet"), ("CHECK_MIN_INTERVAL_MS", "0")]);
    let ok_requests = r#"node_readiness_http_requests_total{path="/health",code="200"}"#;
    let bad_requests = r#"node_readiness_http_requests_total{path="/health",code="503"}"#;
    let passes = r#"node_readiness_check_runs_total{check="kubelet",outcome="pass"}"#;
    let fails = r#"node_readiness_check_runs_total{check="kubelet",outcome="fail"}"#;
    let passed = r#"node_readiness_check_passed{check="kubelet"}"#;
    let count = r#"node_readiness_check_duration_seconds_count{check="kubelet"}"#;

    for _ in 0..3 {
        assert_eq!(svc.get("/health").status, 200);
    }
    let m1 = svc.get("/metrics").body;
    assert_eq!(value(&m1, ok_requests), 3.0, "{m1}");
    assert_eq!(value(&m1, passes), 3.0, "{m1}");
    assert_eq!(value(&m1, count), 3.0, "{m1}");
    assert_eq!(sample(&m1, passed), Some(1.0), "{m1}");

    // Scrapes are counted as requests but run no check.
    let hits = kubelet.hits();
    let m2 = svc.get("/metrics").body;
    assert_eq!(kubelet.hits(), hits);
    assert_eq!(value(&m2, passes), 3.0);
    assert_eq!(value(&m2, r#"node_readiness_http_requests_total{path="/metrics",code="200"}"#), 1.0, "{m2}");

    kubelet.set(Mode::Answer(500, "sick".into()));
    for _ in 0..2 {
        assert_eq!(svc.get("/health").status, 503);
    }
    let m3 = svc.get("/metrics").body;
    assert_eq!(value(&m3, bad_requests), 2.0, "{m3}");
    assert_eq!(value(&m3, fails), 2.0, "{m3}");
    assert_eq!(value(&m3, passes), 3.0, "{m3}");
    assert_eq!(value(&m3, count), 5.0, "{m3}");
    assert_eq!(sample(&m3, passed), Some(0.0), "{m3}");
    // Unknown paths land in one fixed label, whatever the path.
    svc.get("/a");
    svc.get("/b");
    let m4 = svc.get("/metrics").body;
    assert_eq!(value(&m4, r#"node_readiness_http_requests_total{path="other",code="404"}"#), 2.0, "{m4}");
}
