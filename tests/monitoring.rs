//! monitoring/: the alert rules pass `promtool check rules` and their own
//! `promtool test rules`; every metric and label they and the dashboard use
//! is one the running service really exposes; and a real Prometheus server
//! scraping the running service loads the rules (all healthy) and evaluates
//! every PromQL expression of the dashboard without an error, each with data.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::fake_apiserver::FakeApiServer;
use support::fake_http::{FakeHttp, Mode};
use support::kube_env::{Creds, as_env, env_for};
use support::{Service, TempDir, skip_unless_program, wait_for};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DASHBOARD: &str = "monitoring/dashboards/harmony-node-readiness-endpoint.json";
const JOB: &str = "harmony-node-readiness-endpoint";

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool").args(args).current_dir(ROOT).output().expect("run promtool");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The Prometheus operator's copies of the rule file (the kustomize
/// component's PrometheusRule and the chart's files/alerts.yaml, both
/// written by scripts/prometheus-rule) carry exactly its groups: editing
/// alerts.yaml without running the script fails here.
#[test]
fn the_prometheus_rule_copies_carry_the_rule_file_unchanged() {
    let rules = support::manifests::parse_yaml(&read("monitoring/alerts.yaml"));
    let objects = support::manifests::parse_yaml(&read("deploy/components/prometheus-rule/prometheusrule.yaml"));
    let [rule] = objects.as_slice() else { panic!("one PrometheusRule expected: {objects:?}") };
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert!(!rules[0]["groups"].as_array().unwrap().is_empty());
    assert_eq!(
        rule["spec"], rules[0],
        "the component differs from monitoring/alerts.yaml: run scripts/prometheus-rule"
    );
    assert!(
        read("deploy/helm/harmony-node-readiness-endpoint/files/alerts.yaml") == read("monitoring/alerts.yaml"),
        "the chart's files/alerts.yaml differs from monitoring/alerts.yaml: run scripts/prometheus-rule"
    );
}

#[test]
fn promtool_accepts_the_rules_and_their_tests_pass() {
    if skip_unless_program("promtool") {
        return;
    }
    let (ok, said) = promtool(&["check", "rules", "monitoring/alerts.yaml"]);
    assert!(ok && said.contains("SUCCESS"), "promtool check rules:\n{said}");
    let (ok, said) = promtool(&["test", "rules", "monitoring/tests/alerts_test.yaml"]);
    assert!(ok && said.contains("SUCCESS"), "promtool test rules:\n{said}");
}

/// A service watching node `n1` on a fake API server; its kubelet passes,
/// okd_router_1936 (nothing listens there) fails. Requests give every
/// family samples: 200 and 503 answers, passing and failing checks.
fn service_with_traffic(api: &FakeApiServer, kubelet: &FakeHttp) -> Service {
    api.add_node("n1");
    let mut env = env_for(api, "n1", Creds::KubeconfigTokenFile);
    env.push(("KUBELET_HEALTHZ_URL".into(), kubelet.url("/healthz")));
    env.push(("OKD_ROUTER_HEALTHZ_URL".into(), "http://127.0.0.1:9/healthz/ready".into()));
    env.push(("CHECK_MIN_INTERVAL_MS".into(), "0".into()));
    let svc = Service::start(&as_env(&env));
    wait_for("the node watch", Duration::from_secs(10), || {
        svc.get("/metrics").body.lines().any(|l| l == "node_readiness_node_watch_connected 1").then_some(())
    });
    svc
}

fn traffic(svc: &Service) {
    assert_eq!(svc.get("/health?check=node_ready,kubelet").status, 200);
    assert_eq!(svc.get("/health?check=okd_router_1936").status, 503);
}

/// Metric name → label names of each sample in an exposition.
fn exposed(text: &str) -> BTreeMap<String, BTreeSet<BTreeSet<String>>> {
    let mut out: BTreeMap<String, BTreeSet<BTreeSet<String>>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let series = line.rsplit_once(' ').map_or(line, |(s, _)| s);
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        out.entry(name.to_string()).or_default().insert(label_names(labels.trim_end_matches('}')));
    }
    out
}

/// `a="x",b="y"` → {a, b} (values here hold no `,` or `=`).
fn label_names(labels: &str) -> BTreeSet<String> {
    labels.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, _)| k.trim().to_string()).collect()
}

/// Every `node_readiness_…` metric name in `text` (recording rules, which
/// are `node_readiness:…`, are not metrics of the service).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("node_readiness_") {
        let start = i + at;
        let before_ok = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_' || bytes[start - 1] == b':');
        let end =
            text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(text.len(), |e| start + e);
        if before_ok {
            names.insert(text[start..end].to_string());
        }
        i = end;
    }
    names
}

#[test]
fn rules_tests_and_dashboard_use_only_what_the_service_exposes() {
    let api = FakeApiServer::start();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = service_with_traffic(&api, &kubelet);
    traffic(&svc);
    let real = exposed(&svc.get("/metrics").body);
    let used: BTreeSet<String> =
        [read("monitoring/alerts.yaml"), read("monitoring/tests/alerts_test.yaml"), read(DASHBOARD)]
            .iter()
            .flat_map(|t| metric_names(t))
            .collect();
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        assert!(real.contains_key(name), "{name} is used in monitoring/ but the service does not expose it");
    }
    // The test series are shaped like the real ones: the same label names,
    // plus the job/instance/node labels the monitors add.
    let tests: Value =
        serde_json::to_value(support::manifests::parse_yaml(&read("monitoring/tests/alerts_test.yaml"))).unwrap();
    let added: BTreeSet<String> = ["job", "instance", "node"].map(String::from).into();
    for test in tests[0]["tests"].as_array().unwrap() {
        for s in test["input_series"].as_array().unwrap() {
            let series = s["series"].as_str().unwrap();
            let (name, labels) = series.split_once('{').unwrap();
            if name == "up" {
                continue;
            }
            let labels: BTreeSet<String> =
                label_names(labels.trim_end_matches('}')).difference(&added).cloned().collect();
            let shapes = &real[name];
            assert!(shapes.contains(&labels), "test series {series}: the service's {name} has labels {shapes:?}");
        }
    }
}

/// A Prometheus server of our own on loopback; killed (by pid) on drop.
struct Prometheus {
    child: Child,
    url: String,
    _dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrapes `target` every second as job JOB, node n1, with the rules.
    fn start(target: std::net::SocketAddr) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let rules = Path::new(ROOT).join("monitoring/alerts.yaml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{target}']\n        labels:\n          node: n1\n",
            rules = rules.display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        // A free loopback port (the kernel's pick, released just before use).
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        wait_for("Prometheus to be ready", Duration::from_secs(30), || p.get("/-/ready", &[]).map(|_| ()));
        p
    }

    /// GET `path?params` → the body, when the answer is 200.
    fn get(&self, path: &str, params: &[(&str, &str)]) -> Option<String> {
        let (status, body) = self.get_any(path, params)?;
        (status == 200).then_some(body)
    }

    fn get_any(&self, path: &str, params: &[(&str, &str)]) -> Option<(u16, String)> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut req = agent.get(format!("{}{path}", self.url));
        for (k, v) in params {
            req = req.query(*k, *v);
        }
        let mut resp = req.call().ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.body_mut().read_to_string().ok()?))
    }

    /// An instant query: Ok(result array) or Err(Prometheus' error).
    fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let (status, body) = self.get_any("/api/v1/query", &[("query", expr)]).ok_or("no answer")?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{status}: {e}: {body}"))?;
        if v["status"] != "success" {
            return Err(format!("{status}: {} {}", v["errorType"], v["error"]));
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }
}

/// Every `expr` of the dashboard's panels (rows included), and the metric
/// selectors of its template variables (`label_values(<selector>, label)`).
fn dashboard_expressions(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &[Value], out: &mut Vec<(String, String)>) {
        for p in panels {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((
                    p["title"].as_str().unwrap_or("").to_string(),
                    t["expr"].as_str().expect("expr").to_string(),
                ));
            }
            walk(p["panels"].as_array().map(Vec::as_slice).unwrap_or(&[]), out);
        }
    }
    let mut out = Vec::new();
    walk(dashboard["panels"].as_array().unwrap(), &mut out);
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            let selector = q.strip_prefix("label_values(").and_then(|r| r.rsplit_once(',')).map(|(s, _)| s.trim());
            out.push((
                format!("variable {}", var["name"]),
                selector.expect("label_values(selector, label)").to_string(),
            ));
        }
    }
    out
}

/// Grafana's variables as a dashboard user's defaults resolve them.
fn resolve(expr: &str) -> String {
    // $__rate_interval is at least 4 scrape intervals: 4 s here.
    expr.replace("$__rate_interval", "4s").replace("$job", JOB).replace("$node", ".*")
}

#[test]
fn a_real_prometheus_scrapes_the_service_and_evaluates_every_dashboard_expression() {
    if skip_unless_program("prometheus") {
        return;
    }
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard is JSON");
    let exprs = dashboard_expressions(&dashboard);
    assert!(exprs.len() >= 15, "{exprs:?}");

    let api = FakeApiServer::start();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = service_with_traffic(&api, &kubelet);
    let prom = Prometheus::start(svc.addr);
    // Traffic in every scrape interval until rates over 4 s have data.
    wait_for("rates of /health answers in Prometheus", Duration::from_secs(60), || {
        traffic(&svc);
        let rate = format!(r#"sum(rate(node_readiness_http_requests_total{{job="{JOB}",code="503"}}[4s])) > 0"#);
        prom.query(&rate).ok().filter(|r| !r.is_empty()).map(|_| ())
    });
    for (title, expr) in &exprs {
        let resolved = resolve(expr);
        let result = prom.query(&resolved).unwrap_or_else(|e| panic!("panel {title:?}: {resolved}\nPrometheus: {e}"));
        assert!(!result.is_empty(), "panel {title:?} has no data: {resolved}");
    }

    // The rules loaded from monitoring/alerts.yaml evaluate without error.
    let rules = wait_for("every rule evaluated once", Duration::from_secs(30), || {
        let v: Value = serde_json::from_str(&prom.get("/api/v1/rules", &[])?).ok()?;
        let rules: Vec<Value> = v["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        rules.iter().all(|r| r["health"] != "unknown").then_some(rules)
    });
    assert_eq!(rules.len(), 10, "{rules:?}");
    for r in &rules {
        assert_eq!(r["health"], "ok", "rule {} fails: {}", r["name"], r["lastError"]);
    }
    // Shaped like the real service: the rule's recorded node count sees it.
    assert_eq!(prom.query("node_readiness:nodes:count").unwrap().len(), 1);
}
