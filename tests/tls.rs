//! Optional TLS on the /health listener, black-box: HTTPS with our CA,
//! client certificates when TLS_CLIENT_CA_FILE is set, a replaced
//! certificate served without a restart, bad files refused at start (exit
//! 2 naming the path), and a stalled handshake bounded like a plain head.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::fake_http::{FakeHttp, Mode};
use support::tls_files::{TestCa, client_config, client_config_versions, https_get};
use support::{Response, Service, TempDir, run_check_cli, wait_for};

fn start(kubelet: &FakeHttp, tls: &[(&str, &str)]) -> Service {
    let url = kubelet.url("/healthz");
    let mut env = vec![("KUBELET_HEALTHZ_URL", url.as_str()), ("DEFAULT_CHECKS", "kubelet")];
    env.extend_from_slice(tls);
    Service::start(&env)
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn parse(bytes: &[u8]) -> Response {
    Response::parse(bytes).unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(bytes))).0
}

#[test]
fn health_over_https() {
    let dir = TempDir::new("tls-basic");
    let ca = TestCa::new("test-ca");
    let server = ca.server(dir.path(), "server");
    let ca_file = ca.write_ca(dir.path(), "ca.crt");
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = start(&kubelet, &[("TLS_CERT_FILE", s(&server.cert)), ("TLS_KEY_FILE", s(&server.key))]);

    let got = https_get(svc.addr, client_config(&ca_file, None), "/health");
    let r = parse(&got.response.expect("HTTPS exchange"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "ready");
    assert_eq!(got.peer_cert, Some(server.cert_der()));
    // TLS 1.2 clients (older F5 monitors) are served too.
    let tls12 = client_config_versions(&ca_file, None, &[&rustls::version::TLS12]);
    assert_eq!(parse(&https_get(svc.addr, tls12, "/health").response.expect("TLS 1.2")).status, 200);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let raw = support::service::exchange(svc.addr, b"GET /health HTTP/1.0\r\n\r\n", Duration::from_secs(10));
    assert!(!raw.starts_with(b"HTTP/"), "{:?}", String::from_utf8_lossy(&raw));
    // A client that does not trust our CA refuses us.
    let other = TestCa::new("other-ca").write_ca(dir.path(), "other.crt");
    assert!(https_get(svc.addr, client_config(&other, None), "/health").response.is_err());
}

#[test]
fn client_certificate_required_with_client_ca() {
    let dir = TempDir::new("tls-mtls");
    let ca = TestCa::new("server-ca");
    let clients = TestCa::new("client-ca");
    let server = ca.server(dir.path(), "server");
    let ca_file = ca.write_ca(dir.path(), "ca.crt");
    let client_ca = clients.write_ca(dir.path(), "client-ca.crt");
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = start(
        &kubelet,
        &[("TLS_CERT_FILE", s(&server.cert)), ("TLS_KEY_FILE", s(&server.key)), ("TLS_CLIENT_CA_FILE", s(&client_ca))],
    );

    let without = https_get(svc.addr, client_config(&ca_file, None), "/health");
    assert!(without.response.is_err(), "no client certificate must be refused");
    let stranger = TestCa::new("stranger").client(dir.path(), "stranger");
    let wrong = https_get(svc.addr, client_config(&ca_file, Some(&stranger)), "/health");
    assert!(wrong.response.is_err(), "a certificate from another CA must be refused");
    let haproxy = clients.client(dir.path(), "haproxy");
    let with = https_get(svc.addr, client_config(&ca_file, Some(&haproxy)), "/health");
    assert_eq!(parse(&with.response.expect("HTTPS with a client certificate")).status, 200);
    assert_eq!(kubelet.hits(), 1, "refused clients never reach the checks");
    assert!(svc.log().contains("TLS with 127.0.0.1 failed"), "refusals are logged: {}", svc.log());
}

#[test]
fn replaced_certificate_is_served_without_restart() {
    let dir = TempDir::new("tls-reload");
    let ca = TestCa::new("test-ca");
    let ca_file = ca.write_ca(dir.path(), "ca.crt");
    let live = ca.server(dir.path(), "live");
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = start(&kubelet, &[("TLS_CERT_FILE", s(&live.cert)), ("TLS_KEY_FILE", s(&live.key))]);
    let client = client_config(&ca_file, None);
    let first = https_get(svc.addr, client.clone(), "/livez");
    assert_eq!(first.peer_cert, Some(live.cert_der()));

    // A half-done rotation (key of another pair) keeps the old certificate.
    let next = ca.server(dir.path(), "next");
    std::fs::copy(&next.key, &live.key).unwrap();
    wait_for("a warning about the unusable pair", Duration::from_secs(10), || {
        let got = https_get(svc.addr, client.clone(), "/livez");
        assert_eq!(got.peer_cert, Some(first.peer_cert.clone().unwrap()), "old certificate until the pair matches");
        svc.log().contains("still serving the previous certificate").then_some(())
    });
    // The rotation completes: the new certificate is served, no restart.
    std::fs::copy(&next.cert, &live.cert).unwrap();
    let got = wait_for("the new certificate served", Duration::from_secs(10), || {
        let got = https_get(svc.addr, client.clone(), "/livez");
        (got.peer_cert == Some(next.cert_der())).then_some(got)
    });
    assert!(got.response.is_ok(), "{:?}", got.response);
    assert!(svc.log().contains("TLS certificate reloaded"), "{}", svc.log());
}

#[test]
fn stalled_handshake_is_dropped_at_the_head_deadline() {
    let dir = TempDir::new("tls-stall");
    let server = TestCa::new("test-ca").server(dir.path(), "server");
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = start(&kubelet, &[("TLS_CERT_FILE", s(&server.cert)), ("TLS_KEY_FILE", s(&server.key))]);
    let mut sock = TcpStream::connect(svc.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    // A handshake record header (512 bytes to come), then a byte every second: each byte
    // arrives well within a read timeout, yet the whole handshake may not
    // outlast the 5 s head deadline.
    sock.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).unwrap();
    let mut buf = [0u8; 64];
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let closed_after = loop {
        match sock.read(&mut buf) {
            Ok(0) => break started.elapsed(),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if sock.write_all(&[0x00]).is_err() {
                    break started.elapsed();
                }
            }
            Err(_) => break started.elapsed(),
        }
        assert!(started.elapsed() < Duration::from_secs(20), "server still holds the stalled handshake");
    };
    assert!(closed_after >= Duration::from_secs(4), "closed too early: {closed_after:?}");
    assert!(closed_after < Duration::from_secs(9), "closed too late: {closed_after:?}");
}

#[test]
fn bad_tls_settings_exit_2_naming_the_problem() {
    let dir = TempDir::new("tls-bad");
    let ca = TestCa::new("test-ca");
    let good = ca.server(dir.path(), "good");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let other = ca.server(dir.path(), "other");
    let (c, k, g, m, ok) = (s(&good.cert), s(&good.key), s(&garbage), s(&missing), s(&other.key));
    // (environment, words the one error line must contain)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (&[("TLS_CERT_FILE", c)], &["TLS_CERT_FILE", "TLS_KEY_FILE"]),
        (&[("TLS_KEY_FILE", k)], &["TLS_CERT_FILE", "TLS_KEY_FILE"]),
        (&[("TLS_CLIENT_CA_FILE", c)], &["TLS_CLIENT_CA_FILE", "TLS_CERT_FILE"]),
        (&[("TLS_CERT_FILE", m), ("TLS_KEY_FILE", k)], &[m]),
        (&[("TLS_CERT_FILE", g), ("TLS_KEY_FILE", k)], &[g]),
        (&[("TLS_CERT_FILE", c), ("TLS_KEY_FILE", g)], &[g]),
        (&[("TLS_CERT_FILE", c), ("TLS_KEY_FILE", ok)], &[c, ok]),
        (&[("TLS_CERT_FILE", c), ("TLS_KEY_FILE", k), ("TLS_CLIENT_CA_FILE", m)], &[m]),
    ];
    for (env, words) in cases {
        let mut env = env.to_vec();
        env.extend([("LISTEN_ADDRESS", "127.0.0.1"), ("LISTEN_PORT", "0")]);
        let (code, _, stderr) = run_check_cli(&[], &env);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        for w in *words {
            assert!(stderr.contains(w), "{env:?}: {stderr:?} should name {w}");
        }
    }
}
