//! `GET /metrics`: accepted (parse and lint) by Prometheus' own `promtool`,
//! and its counters move as requests and checks happen — while scraping
//! itself never runs a check.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::Service;
use support::fake_http::{FakeHttp, Mode};

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
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let url = kubelet.url("/healthz");
    let svc = Service::start(&[("KUBELET_HEALTHZ_URL", &url), ("DEFAULT_CHECKS", "kubelet")]);
    // Every family with samples: pass and fail runs, several paths and codes.
    assert_eq!(svc.get("/health").status, 200);
    assert_eq!(svc.get("/health?check=okd_router_1936").status, 503);
    assert_eq!(svc.get("/nope").status, 404);
    assert_eq!(svc.get("/livez").status, 200);
    let resp = svc.get("/metrics");
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    assert!(resp.body.contains("node_readiness_check_duration_seconds_bucket{check=\"kubelet\",le=\"+Inf\"} 1"));
    assert!(resp.body.contains("node_readiness_build_info{version=\""));
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
