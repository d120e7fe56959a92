//! End-to-end with a real HAProxy: the service health-checks a backend
//! server the way an operator configures it (`option httpchk` on /health,
//! `agent-check` on AGENT_PORT, `check-ssl`), its node fed by the fake
//! Kubernetes API server, its kubelet by a fake healthz. What is asserted is
//! what HAProxy itself reports on its admin socket, and whether it forwards
//! traffic to the backend application.

mod support;

use support::fake_http::{FakeHttp, Mode};
use support::haproxy::get_through;
use support::lb_rig::{HTTPCHK, NODE, REACT, ok, rig, rig_with};
use support::tls_files::TestCa;

#[test]
fn http_check_follows_node_ready_kubelet_and_the_process() {
    if support::skip_unless_program("haproxy") {
        return;
    }
    let mut r = rig(&[], "");
    r.wait("UP");
    assert!(r.forwarded(), "UP server gets the traffic");
    let app_hits = r.app.hits();
    assert!(app_hits >= 1);

    r.api.set_ready(NODE, "False", "KubeletNotReady", "container runtime is down");
    let s = r.wait("DOWN");
    assert_eq!((s.get("check_status"), s.get("check_code")), ("L7STS", "503"), "{s:?}");
    assert_eq!(get_through(r.frontend, "/").map(|(code, _)| code), Some(503), "no server: HAProxy refuses");
    assert_eq!(r.app.hits(), app_hits, "nothing forwarded while DOWN");

    r.api.set_ready(NODE, "True", "KubeletReady", "kubelet is posting ready status");
    r.wait("UP");
    assert!(r.forwarded());

    // The kubelet's healthz goes away: connection refused → 503 → DOWN.
    drop(r.kubelet.take());
    let s = r.wait("DOWN");
    assert_eq!(s.get("check_status"), "L7STS", "{s:?}");
}

#[test]
fn killed_service_is_down_l4con() {
    if support::skip_unless_program("haproxy") {
        return;
    }
    let mut r = rig(&[], "");
    r.wait("UP");
    drop(r.svc.take());
    let s = r.wait("DOWN");
    assert_eq!(s.get("check_status"), "L4CON", "{s:?}");
    assert!(!r.forwarded());
}

#[test]
fn agent_check_drains_on_cordon_and_reports_why_it_is_down() {
    if support::skip_unless_program("haproxy") {
        return;
    }
    // The agent also watches the router, which the HTTP check does not: an
    // agent-only failure shows as DOWN (agent) with the agent's reason.
    let router = FakeHttp::start(ok());
    let router_url = router.url("/healthz/ready");
    let env = [
        ("AGENT_PORT", "0"),
        ("AGENT_CHECKS", "node_ready,node_eligible,okd_router_1936"),
        ("OKD_ROUTER_HEALTHZ_URL", router_url.as_str()),
    ];
    let r = rig(&env, "agent-check agent-port {agent} agent-inter 200ms");
    r.wait("UP");
    assert!(r.forwarded());

    r.api.cordon(NODE, true);
    let s = r.wait("DRAIN (agent)");
    assert_eq!(s.get("check_status"), "L7OK", "the HTTP check (node_ready,kubelet) still passes: {s:?}");
    let hits = r.app.hits();
    assert!(!r.forwarded(), "a draining server takes no new sessions");
    assert_eq!(r.app.hits(), hits);

    r.api.cordon(NODE, false);
    r.wait("UP");
    assert!(r.forwarded());

    // A reason longer than HAProxy keeps (127 characters with its own
    // `via agent : down (…)`): the agent cuts it after a whole word, so
    // what HAProxy shows and logs is complete, closing parenthesis included.
    let body = "no routes, at all: the router has not loaded a single route from the API server since it started";
    router.set(Mode::Answer(503, body.into()));
    let s = r.wait("DOWN (agent)");
    assert_eq!(s.get("check_status"), "L7OK", "{s:?}");
    let want = "via agent : down (okd_router_1936: OKD router healthz returned 503: no routes; at all: \
                the router has not loaded a single...)";
    assert_eq!(s.get("last_agt"), want, "reason not shown whole");
    assert!(r.haproxy.log().contains(&format!("info: \"{want}\"")), "nor logged: {}", r.haproxy.log());

    // From DOWN (agent) straight to cordoned-only: the agent says `up drain`
    // (a bare `drain` would leave the server DOWN), then `up ready`.
    r.api.cordon(NODE, true);
    router.set(ok());
    r.wait("DRAIN (agent)");
    r.api.cordon(NODE, false);
    r.wait("UP");
    assert!(r.forwarded());
}

#[test]
fn check_ssl_with_our_ca_and_a_client_certificate() {
    if support::skip_unless_program("haproxy") {
        return;
    }
    let dir = support::TempDir::new("haproxy-tls");
    let (ca, clients, stranger) = (TestCa::new("node-ca"), TestCa::new("lb-clients"), TestCa::new("stranger"));
    let server = ca.server(dir.path(), "node");
    let ca_file = ca.write_ca(dir.path(), "ca.crt");
    let wrong_ca = stranger.write_ca(dir.path(), "wrong-ca.crt");
    let client_pem = clients.client(dir.path(), "haproxy").write_combined(&dir.path().join("haproxy-client.pem"));
    let p = |p: &std::path::Path| p.display().to_string();
    let env = [
        ("TLS_CERT_FILE", p(&server.cert)),
        ("TLS_KEY_FILE", p(&server.key)),
        ("TLS_CLIENT_CA_FILE", p(&clients.write_ca(dir.path(), "client-ca.crt"))),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ssl = |ca: &str, crt: &str| format!("check-ssl verify required ca-file {ca}{crt}");
    let with_cert = format!(" crt {}", p(&client_pem));
    let more = format!(
        "backend be_wrong_ca\n    {HTTPCHK}\n    server node1 {{app}} check port {{svc}} {{timing}} {}\n\n\
         backend be_no_client_cert\n    {HTTPCHK}\n    server node1 {{app}} check port {{svc}} {{timing}} {}\n",
        ssl(&p(&wrong_ca), &with_cert),
        ssl(&p(&ca_file), ""),
    );
    let r = rig_with(&env, &ssl(&p(&ca_file), &with_cert), &more);
    let s = r.wait("UP");
    assert_eq!(s.get("check_status"), "L7OK", "{s:?}");
    assert!(r.forwarded());
    for be in ["be_wrong_ca", "be_no_client_cert"] {
        let s = r.haproxy.wait_status(be, "node1", "DOWN", REACT);
        // Refused in the handshake (L6RSP, or SOCKERR "SSL fatal error" when
        // TLS 1.3 rejects the client after its Finished): never an HTTP answer.
        assert!(["L6RSP", "SOCKERR"].contains(&s.get("check_status")), "{be}: {s:?}");
    }
    // The TLS-checked server still follows the node.
    r.api.set_ready(NODE, "False", "KubeletNotReady", "PLEG is not healthy");
    let s = r.wait("DOWN");
    assert_eq!((s.get("check_status"), s.get("check_code")), ("L7STS", "503"), "{s:?}");
}
