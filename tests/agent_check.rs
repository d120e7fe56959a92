//! The HAProxy agent-check listener (AGENT_PORT), black-box: one line per
//! TCP connection, then close; `up ready` / `down #reason`, the reason one
//! short line; off unless configured.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::fake_http::{FakeHttp, Mode};
use support::{Service, wait_for};

/// The agent address the service logged at start.
fn agent_addr(svc: &Service) -> SocketAddr {
    wait_for("the agent-check listener", Duration::from_secs(10), || {
        let log = svc.log();
        let rest = log.split("HAProxy agent-check answering on ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Connects, optionally sends `send` (like HAProxy's `agent-send`), and
/// reads until the service closes.
fn ask(addr: SocketAddr, send: &[u8]) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to agent port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(send).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("agent closes after its line");
    out
}

fn start(kubelet: &FakeHttp, router: &FakeHttp) -> Service {
    let (k, r) = (kubelet.url("/healthz"), router.url("/healthz/ready"));
    Service::start(&[
        ("KUBELET_HEALTHZ_URL", &k),
        ("OKD_ROUTER_HEALTHZ_URL", &r),
        ("AGENT_PORT", "0"),
        ("AGENT_CHECKS", "kubelet,okd_router_1936"),
        ("CHECK_MIN_INTERVAL_MS", "0"),
    ])
}

#[test]
fn up_ready_then_down_with_reason_then_up_again() {
    let ok = || Mode::Answer(200, "ok".into());
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = start(&kubelet, &router);
    let agent = agent_addr(&svc);
    assert_eq!(ask(agent, b""), "up ready\n");
    // HAProxy may send a line first (agent-send); the answer is the same.
    assert_eq!(ask(agent, b"backend/server\n"), "up ready\n");
    assert_eq!((kubelet.hits(), router.hits()), (2, 2), "the agent runs AGENT_CHECKS, through the runner");

    router.set(Mode::Answer(503, "no routes".into()));
    assert_eq!(ask(agent, b""), "down #okd_router_1936: OKD router healthz returned 503: no routes\n");
    kubelet.set(Mode::Answer(500, "x".into()));
    let line = ask(agent, b"");
    assert!(line.starts_with("down #kubelet: "), "first failing check named: {line:?}");

    kubelet.set(ok());
    router.set(ok());
    assert_eq!(ask(agent, b""), "up ready\n");
    // /health is unaffected and served on its own port.
    assert_eq!(svc.get("/health?check=kubelet").status, 200);
}

#[test]
fn reason_is_one_short_line() {
    let (kubelet, router) = (FakeHttp::start(Mode::Answer(200, "ok".into())), FakeHttp::start(Mode::Hang));
    let body = format!("line, one\t{}\r\nline two", "zz ".repeat(100));
    kubelet.set(Mode::Answer(500, body));
    let svc = start(&kubelet, &router);
    let line = ask(agent_addr(&svc), b"");
    let reason = line.strip_prefix("down #").and_then(|l| l.strip_suffix('\n')).expect("down #…\\n");
    assert!(reason.starts_with("kubelet: "), "{line:?}");
    // What HAProxy keeps whole (tests/haproxy.rs), cut after a word.
    assert!(reason.chars().count() <= 108, "{} chars: {reason:?}", reason.chars().count());
    assert!(reason.ends_with(" zz..."), "{reason:?}");
    assert!(!reason.contains(['\n', '\r', '\t', ',']), "{reason:?}");
    assert!(reason.is_ascii());
}

#[test]
fn a_hung_check_answers_down_at_its_deadline() {
    let (kubelet, router) = (FakeHttp::start(Mode::Hang), FakeHttp::start(Mode::Answer(200, "ok".into())));
    let (k, r) = (kubelet.url("/healthz"), router.url("/healthz/ready"));
    let svc = Service::start(&[
        ("KUBELET_HEALTHZ_URL", &k),
        ("OKD_ROUTER_HEALTHZ_URL", &r),
        ("AGENT_PORT", "0"),
        ("AGENT_CHECKS", "kubelet"),
        ("CHECK_TIMEOUT_MS", "200"),
    ]);
    assert_eq!(ask(agent_addr(&svc), b""), "down #kubelet: timed out after 200 ms\n");
}

#[test]
fn off_unless_configured() {
    let svc = Service::start(&[("DEFAULT_CHECKS", "kubelet")]);
    assert_eq!(svc.get("/livez").status, 200);
    assert!(!svc.log().contains("agent-check"), "{}", svc.log());
}

#[test]
fn agent_port_equal_to_listen_port_is_a_config_error() {
    let (code, _, stderr) =
        support::run_check_cli(&[], &[("NODE_NAME", "n1"), ("LISTEN_PORT", "25001"), ("AGENT_PORT", "25001")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("AGENT_PORT") && stderr.contains("LISTEN_PORT"), "{stderr}");
}

#[test]
fn cordon_drains_and_node_not_ready_is_down() {
    use support::fake_apiserver::FakeApiServer;
    use support::kube_env::{Creds, as_env, env_for};
    let api = FakeApiServer::start();
    api.add_node("n1");
    let mut env = env_for(&api, "n1", Creds::KubeconfigTokenFile);
    env.push(("AGENT_PORT".into(), "0".into()));
    let svc = Service::start(&as_env(&env));
    let agent = agent_addr(&svc);
    // Default AGENT_CHECKS = DEFAULT_CHECKS (node_ready) + node_eligible.
    let until = |want: &str| {
        wait_for(&format!("agent says {want:?}"), Duration::from_secs(10), || {
            let got = ask(agent, b"");
            got.starts_with(want).then_some(got)
        })
    };
    until("up ready\n");
    api.cordon("n1", true);
    until("up drain\n");
    api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
    let line = until("down #");
    assert_eq!(line, "down #node_ready: KubeletNotReady: container runtime is down\n");
    api.set_ready("n1", "True", "KubeletReady", "kubelet is posting ready status");
    until("up drain\n");
    api.cordon("n1", false);
    until("up ready\n");
}

/// `AGENT_CHECKS=kubelet,node_eligible`: `up drain` means cordoned (or being
/// deleted, or excluded), never "could not tell" — an API that was never
/// reached, no credentials, or a state gone stale are `down #node_eligible`.
#[test]
fn node_eligible_drains_only_when_the_api_says_so() {
    use support::fake_apiserver::{FakeApiServer, Fault};
    use support::kube_env::{Creds, as_env, env_for};
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let k = kubelet.url("/healthz");
    let agent_env = |extra: &[(&str, &str)]| {
        let env: Vec<(String, String)> = [
            ("KUBELET_HEALTHZ_URL", k.as_str()),
            ("AGENT_PORT", "0"),
            ("AGENT_CHECKS", "kubelet,node_eligible"),
            ("CHECK_MIN_INTERVAL_MS", "0"),
        ]
        .iter()
        .chain(extra)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        env
    };
    let down_unknown = |svc: &Service, what: &str| {
        let line = wait_for(what, Duration::from_secs(15), || {
            let line = ask(agent_addr(svc), b"");
            line.starts_with("down #node_eligible: ").then_some(line)
        });
        // The same reason on /health, passed:false, counted as `unknown`.
        let h = svc.get("/health?check=node_eligible");
        assert_eq!(h.status, 503);
        let why = h.reason("node_eligible").unwrap();
        assert!(line.contains(&why.replace(',', ";")[..20]), "{line:?} vs {why:?}");
        let runs = |outcome: &str| {
            let series = format!("node_readiness_check_runs_total{{check=\"node_eligible\",outcome=\"{outcome}\"}} ");
            let body = svc.get("/metrics").body;
            body.lines().find_map(|l| l.strip_prefix(&series)?.parse::<u64>().ok()).unwrap_or(0)
        };
        let (unknown, fail) = (runs("unknown"), runs("fail"));
        assert_eq!(svc.get("/health?check=node_eligible").status, 503);
        assert_eq!((runs("unknown"), runs("fail")), (unknown + 1, fail), "one more run, counted as unknown");
        line
    };

    // No credentials at all.
    let svc = Service::start(&as_env(&agent_env(&[])));
    let line = down_unknown(&svc, "down without credentials");
    assert!(line.contains("no Kubernetes credentials"), "{line:?}");
    drop(svc);

    // An API server never reached since start.
    let mut api = FakeApiServer::start();
    api.add_node("n1");
    api.set_fault(Some(Fault::Status(500)));
    let mut env = env_for(&api, "n1", Creds::KubeconfigTokenFile);
    env.extend(agent_env(&[("NODE_STATE_MAX_STALENESS_SECONDS", "2"), ("NODE_API_TIMEOUT_MS", "1000")]));
    let svc = Service::start(&as_env(&env));
    let line = down_unknown(&svc, "down while the API was never reached");
    assert!(line.contains("node state unknown"), "{line:?}");

    // Reached: ready; cordoned: drain (the one definite "not eligible").
    api.set_fault(None);
    wait_for("up ready", Duration::from_secs(45), || (ask(agent_addr(&svc), b"") == "up ready\n").then_some(()));
    api.cordon("n1", true);
    wait_for("up drain", Duration::from_secs(10), || (ask(agent_addr(&svc), b"") == "up drain\n").then_some(()));

    // Still cordoned as last seen, but the API is gone for longer than the limit: down, not drain.
    api.kill();
    let line = down_unknown(&svc, "down once the state is stale");
    assert!(line.contains("node state stale"), "{line:?}");
}
