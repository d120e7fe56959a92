//! The HTTP contract of design §1 and the original README, black-box against
//! the built binary, with the local checks pointed at fake endpoints.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::fake_http::{FakeHttp, Mode};
use support::service::exchange;
use support::{Response, Service, run_check_cli, wait_for};

fn ok() -> Mode {
    Mode::Answer(200, "ok".into())
}

/// A service whose kubelet and router checks point at fakes.
fn service_with(kubelet: &FakeHttp, router: &FakeHttp, extra: &[(&str, &str)]) -> Service {
    let (k, r) = (kubelet.url("/healthz"), router.url("/healthz/ready"));
    let mut env = vec![("KUBELET_HEALTHZ_URL", k.as_str()), ("OKD_ROUTER_HEALTHZ_URL", r.as_str())];
    env.extend_from_slice(extra);
    Service::start(&env)
}

fn check_names(resp: &Response) -> Vec<String> {
    resp.json()["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn readme_examples_ready_and_not_ready() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[("DEFAULT_CHECKS", "kubelet"), ("CHECK_MIN_INTERVAL_MS", "0")]);

    // Healthy node (default check).
    let r = svc.get("/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["checks"][0]["name"], "kubelet");
    assert_eq!(v["checks"][0]["passed"], true);
    assert!(v["checks"][0]["duration_ms"].is_u64());
    assert!(v["checks"][0].get("reason").is_none());

    // Healthy node (multiple checks), in the order asked for.
    let r = svc.get("/health?check=okd_router_1936,kubelet");
    assert_eq!(r.status, 200);
    assert_eq!(check_names(&r), ["okd_router_1936", "kubelet"]);

    // Unhealthy node (one check failed).
    router.set(Mode::Answer(500, "router backend down\nsecond line".into()));
    let r = svc.get("/health?check=kubelet,okd_router_1936");
    assert_eq!(r.status, 503);
    let v = r.json();
    assert_eq!(v["status"], "not-ready");
    assert_eq!(v["checks"][0]["passed"], true);
    assert_eq!(v["checks"][1]["passed"], false);
    assert_eq!(v["checks"][1]["reason"], "OKD router healthz returned 500: router backend down");

    // Unhealthy node (default check).
    drop(kubelet);
    let r = wait_for("kubelet fake gone", Duration::from_secs(10), || {
        let r = svc.get("/health");
        (r.status == 503).then_some(r)
    });
    assert_eq!(r.json()["status"], "not-ready");
    assert_eq!(r.reason("kubelet").as_deref(), Some("kubelet healthz: connection refused"));
}

#[test]
fn every_response_carries_the_contract_headers() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    for path in
        ["/health?check=kubelet", "/livez", "/metrics", "/nope", "/health?check=bogus", "/", "/status?format=json"]
    {
        let r = svc.get(path);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(r.header("content-length").map(|l| l.parse::<usize>().unwrap()), Some(r.body.len()), "{path}");
    }
}

#[test]
fn haproxy_http10_request_without_headers_gets_a_full_response_and_close() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    // Exactly what HAProxy's `option httpchk GET /health?check=kubelet` sends.
    let bytes = exchange(svc.addr, b"GET /health?check=kubelet HTTP/1.0\r\n\r\n", Duration::from_secs(10));
    let (resp, len) = Response::parse(&bytes).expect("complete response");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(len, bytes.len(), "server closed right after the response");
    assert_eq!(resp.json()["status"], "ready");
}

#[test]
fn http11_keep_alive_serves_several_requests_on_one_connection() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(Mode::Answer(503, "".into())));
    let svc = service_with(&kubelet, &router, &[]);
    let mut s = TcpStream::connect(svc.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    for (path, want) in [("/health?check=kubelet", 200), ("/health?check=okd_router_1936", 503), ("/livez", 200)] {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
        let resp = loop {
            if let Some((resp, n)) = Response::parse(&buf) {
                buf.drain(..n);
                break resp;
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "server closed a keep-alive connection");
            buf.extend_from_slice(&chunk[..n]);
        };
        assert_eq!(resp.status, want, "{path}");
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn check_selection_percent_encoding_duplicates_unknown_and_empty() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    let r = svc.get("/health?check=kubelet%2Cokd_router_1936");
    assert_eq!((r.status, check_names(&r)), (200, vec!["kubelet".to_string(), "okd_router_1936".to_string()]));
    let r = svc.get("/health?check=kubelet,kubelet,kubelet");
    assert_eq!(check_names(&r), ["kubelet"]);
    for (query, error) in [
        ("check=bogus", "unknown check \"bogus\""),
        ("check=kubelet,nope", "unknown check \"nope\""),
        ("check=", "empty check name"),
        ("check=kubelet,", "empty check name"),
        ("checks=kubelet", "unknown query parameter \"checks\"; use check=a,b"),
    ] {
        let r = svc.get(&format!("/health?{query}"));
        assert_eq!(r.status, 400, "{query}");
        let v = r.json();
        assert_eq!(v["error"], error, "{query}");
        let known: Vec<_> = v["known_checks"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert!(known.contains(&"kubelet") && known.contains(&"node_ready"), "{known:?}");
    }
    assert_eq!(svc.get("/health?check=%E0%A4%A").status, 400);
}

/// Every response in `bytes` (a connection's whole output), in order.
fn responses(mut bytes: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some((r, n)) = Response::parse(bytes) {
        out.push(r);
        bytes = &bytes[n..];
    }
    out
}

#[test]
fn chunked_request_bodies_are_read_and_discarded_under_the_content_length_limits() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    let head = "GET /health?check=kubelet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let next = "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    // Valid bodies, extensions and trailers included: answered, and the
    // request pipelined after the body is served on the same connection.
    let valid = [
        "5\r\nhello\r\n0\r\n\r\n".to_string(),
        "5;name=value;flag\r\nhello\r\n6 ; q=\"a;b\"\r\n world\r\n0;end\r\n\r\n".to_string(),
        "3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nX-Other: y\r\n\r\n".to_string(),
        format!("4000\r\n{}\r\n0\r\n\r\n", "z".repeat(16 * 1024)), // exactly 16 KiB
    ];
    for body in &valid {
        let out = exchange(svc.addr, format!("{head}{body}{next}").as_bytes(), Duration::from_secs(10));
        let got: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
        assert_eq!(got, [200, 200], "{body:.60?}: {}", String::from_utf8_lossy(&out));
    }
    // Malformed framing → 400, over the limit → 413; then the connection is
    // closed (the pipelined request is never answered). Never a 5xx.
    let bad = [
        (head.to_string(), "zz\r\nhello\r\n0\r\n\r\n".to_string(), 400),
        (head.to_string(), "5\nhello\r\n0\r\n\r\n".to_string(), 400),
        (head.to_string(), "5\r\nhelloEXTRA\r\n0\r\n\r\n".to_string(), 400),
        (head.to_string(), "5;a\x01b\r\nhello\r\n0\r\n\r\n".to_string(), 400),
        (head.to_string(), "4001\r\n".to_string(), 413),
        (head.to_string(), format!("{}0\r\n\r\n", format!("1000\r\n{}\r\n", "y".repeat(4096)).repeat(5)), 413),
        (head.to_string(), format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(9000)), 413),
        (head.replace("chunked", "gzip"), "".to_string(), 400),
        (head.replace("chunked", "chunked, gzip"), "".to_string(), 400),
        (head.replace("\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n"), "5\r\nhello\r\n0\r\n\r\n".to_string(), 400),
    ];
    for (h, body, want) in &bad {
        let out = exchange(svc.addr, format!("{h}{body}{next}").as_bytes(), Duration::from_secs(10));
        let got: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
        assert_eq!(got, [*want], "{h:.60?} {body:.40?}: {}", String::from_utf8_lossy(&out));
        assert_eq!(responses(&out)[0].header("connection"), Some("close"));
    }
    assert_eq!(svc.get("/livez").status, 200);
}

#[test]
fn head_matches_get_without_a_body() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    let get = svc.get("/health?check=kubelet");
    let bytes = exchange(
        svc.addr,
        b"HEAD /health?check=kubelet HTTP/1.1\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    );
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(body.is_empty(), "HEAD must not send a body: {body:?}");
    assert!(head.contains(&format!("Content-Length: {}", get.body.len())), "{head}");
    assert!(head.contains("Content-Type: application/json"));
}

#[test]
fn not_found_and_method_not_allowed_are_json() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    let r = svc.get("/healthz");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
    let bytes = exchange(
        svc.addr,
        b"POST /health HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        Duration::from_secs(10),
    );
    let (r, _) = Response::parse(&bytes).unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert!(r.json()["error"].as_str().unwrap().contains("POST"));
    assert_eq!(svc.get("/livez").body, "ok\n");
}

#[test]
fn failing_dependencies_give_503_with_the_reason() {
    let (kubelet, router) = (FakeHttp::start(Mode::Answer(500, "kubelet is sad".into())), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[("CHECK_MIN_INTERVAL_MS", "0")]);
    let r = svc.get("/health?check=kubelet");
    assert_eq!((r.status, r.reason("kubelet").as_deref()), (503, Some("kubelet healthz returned 500: kubelet is sad")));
    kubelet.set(Mode::Answer(400, "Client sent an HTTP request to an HTTPS server.\n".into()));
    let r = svc.get("/health?check=kubelet");
    assert_eq!(r.reason("kubelet").as_deref(), Some("kubelet healthz: the endpoint speaks HTTPS; use an https:// URL"));
    // Nothing listens on port 9 of 127.0.0.1 (discard; not run here).
    let svc = Service::start(&[("KUBE_PROXY_HEALTHZ_URL", "http://127.0.0.1:9/healthz")]);
    let r = svc.get("/health?check=kube_proxy");
    assert_eq!((r.status, r.reason("kube_proxy").as_deref()), (503, Some("kube-proxy healthz: connection refused")));
}

fn thread_count(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).unwrap().trim().parse().unwrap()
}

#[test]
fn a_hanging_dependency_answers_at_the_deadline_with_one_stuck_thread() {
    let kubelet = FakeHttp::start(Mode::Hang);
    let router = FakeHttp::start(ok());
    let knobs = [("CHECK_TIMEOUT_MS", "300"), ("CHECK_MIN_INTERVAL_MS", "0"), ("MAX_CONNECTIONS_PER_CLIENT", "100")];
    let svc = service_with(&kubelet, &router, &knobs);
    let baseline = thread_count(svc.pid());
    let started = Instant::now();
    let r = svc.get("/health?check=kubelet");
    let took = started.elapsed();
    assert_eq!(r.status, 503);
    let reason = r.reason("kubelet").unwrap();
    assert!(reason.contains("timed out after"), "{reason}");
    // Never a hang: the answer comes at the deadline (generous bound for CI).
    assert!(took < Duration::from_millis(300 + 1500), "took {took:?}");

    // 50 concurrent probes while the kubelet still hangs.
    let addr = svc.addr;
    let probes: Vec<_> =
        (0..50).map(|_| std::thread::spawn(move || support::service::get(addr, "/health?check=kubelet"))).collect();
    for p in probes {
        let r = p.join().unwrap();
        assert_eq!(r.status, 503);
        let reason = r.reason("kubelet").unwrap();
        assert!(reason.contains("timed out after 300 ms"), "{reason}");
    }
    // Every probe joined the one stuck execution: the fake saw few requests,
    // and the service holds no extra threads once the probes are answered.
    assert!(kubelet.hits() <= 2, "kubelet fake saw {} requests", kubelet.hits());
    wait_for("connection threads to end", Duration::from_secs(10), || {
        (thread_count(svc.pid()) <= baseline + 1).then_some(())
    });
}

#[test]
fn an_oversized_head_gets_431_and_the_next_connection_is_served() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    let req = format!("GET /health HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9 * 1024));
    let bytes = exchange(svc.addr, req.as_bytes(), Duration::from_secs(10));
    let (r, _) = Response::parse(&bytes).expect("a response, not a reset");
    assert_eq!(r.status, 431);
    assert_eq!(svc.get("/health?check=kubelet").status, 200);
}

#[test]
fn a_stalled_client_does_not_delay_another_clients_probe() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[]);
    let mut stalled = TcpStream::connect(svc.addr).unwrap();
    stalled.write_all(b"GET /hea").unwrap();
    let started = Instant::now();
    assert_eq!(svc.get("/health?check=kubelet").status, 200);
    assert!(started.elapsed() < Duration::from_secs(2), "probe waited {:?}", started.elapsed());
    drop(stalled);
}

fn connect_from(src: &str, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&format!("{src}:0").parse::<SocketAddr>().unwrap().into())?;
    sock.connect(&dst.into())?;
    Ok(sock.into())
}

/// True when the server closed the connection without answering.
fn closed_at_once(mut s: TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn per_client_connection_limit_closes_excess_and_serves_others() {
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[("LISTEN_ADDRESS", "0.0.0.0"), ("MAX_CONNECTIONS_PER_CLIENT", "4")]);
    let dst: SocketAddr = format!("127.0.0.1:{}", svc.port()).parse().unwrap();
    let held: Vec<_> = (0..4).map(|_| connect_from("127.0.0.3", dst).unwrap()).collect();
    // The held connections are admitted before the fifth arrives.
    wait_for("held connections admitted", Duration::from_secs(5), || {
        let m = support::service::get(dst, "/metrics");
        (m.status == 200).then_some(())
    });
    let fifth = connect_from("127.0.0.3", dst).unwrap();
    assert!(closed_at_once(fifth), "fifth connection from one address must be closed");
    // Another client address is still served.
    let mut other = connect_from("127.0.0.4", dst).unwrap();
    other.write_all(b"GET /health?check=kubelet HTTP/1.0\r\n\r\n").unwrap();
    let mut out = Vec::new();
    other.read_to_end(&mut out).unwrap();
    assert_eq!(Response::parse(&out).unwrap().0.status, 200);
    drop(held);
}

#[test]
fn out_of_file_descriptors_is_survived() {
    if support::skip_unless_program("prlimit") {
        return;
    }
    let (kubelet, router) = (FakeHttp::start(ok()), FakeHttp::start(ok()));
    let svc = service_with(&kubelet, &router, &[("MAX_CONNECTIONS_PER_CLIENT", "1000")]);
    let limit = std::process::Command::new("prlimit")
        .args(["--pid", &svc.pid().to_string(), "--nofile=40:40"])
        .status()
        .unwrap();
    assert!(limit.success());
    // Idle connections eat the descriptors until accept() fails with EMFILE.
    let held: Vec<_> = (0..60).filter_map(|_| TcpStream::connect(svc.addr).ok()).collect();
    wait_for("accept() to report EMFILE", Duration::from_secs(10), || {
        svc.log().contains("accept() failed").then_some(())
    });
    drop(held);
    let r = wait_for("service to accept again", Duration::from_secs(20), || {
        let mut s = TcpStream::connect(svc.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /livez HTTP/1.0\r\n\r\n").ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        Response::parse(&out).map(|(r, _)| r)
    });
    assert_eq!(r.status, 200);
}

#[test]
fn bad_config_exits_2_naming_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("LISTEN_PORT", "abc")], "LISTEN_PORT"),
        (&[("CHECK_TIMEOUT_MS", "-1")], "CHECK_TIMEOUT_MS"),
        (&[("DEFAULT_CHECKS", "node_ready,bogus")], "DEFAULT_CHECKS"),
        (&[("LOG_FORMAT", "yaml")], "LOG_FORMAT"),
        (&[("NODE_NAME", "bad/name")], "NODE_NAME"),
    ];
    for (env, var) in cases {
        let (code, _, stderr) = run_check_cli(&[], env);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(var), "{env:?}: {stderr}");
    }
    let (code, _, stderr) = run_check_cli(&["--listen-port", "x"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("LISTEN_PORT"), "{stderr}");
    let (code, _, stderr) = run_check_cli(&["--bogus-flag", "1"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--bogus-flag"), "{stderr}");
}

/// The kubelet's default node name: the kernel hostname, lowercased.
fn kubelet_default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_ascii_lowercase()
}

#[test]
fn without_node_name_the_hostname_is_used_and_the_start_line_says_so() {
    // One-shot host checks need no NODE_NAME at all (exit 0 or 1, never 2).
    let (code, stdout, stderr) = run_check_cli(&["check", "--check", "filesystem_ro"], &[support::UNSET_NODE_NAME]);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    assert!(stdout.contains("\"filesystem_ro\""), "{stdout}");
    let host = kubelet_default_node_name();
    let cases = [
        (vec![], vec![support::UNSET_NODE_NAME], format!("; node {host} (from hostname);")),
        (vec![], vec![("NODE_NAME", "Worker-3")], "; node worker-3 (from env NODE_NAME);".to_string()),
        (vec!["--node-name", "w4"], vec![], "; node w4 (from flag --node-name);".to_string()),
    ];
    for (args, env, want) in cases {
        let svc = Service::start_with_args(&args, &env);
        wait_for(&want, Duration::from_secs(10), || svc.log().contains(&want).then_some(()));
    }
}

#[test]
fn help_lists_every_knob_and_version_prints() {
    let (code, out, _) = run_check_cli(&["--help"], &[]);
    assert_eq!(code, 0);
    for needle in ["NODE_NAME", "--listen-port", "CHECK_TIMEOUT_MS", "KUBELET_HEALTHZ_URL", "[default: 25001]"] {
        assert!(out.contains(needle), "--help lacks {needle}");
    }
    let (code, out, _) = run_check_cli(&["--version"], &[]);
    // The version, then the commit (tests/release.rs checks which one).
    let prefix = concat!("harmony-node-readiness-endpoint ", env!("CARGO_PKG_VERSION"), " (commit ");
    assert!(code == 0 && out.trim().starts_with(prefix) && out.trim().ends_with(')'), "--version: {out}");
}

#[test]
fn one_shot_check_prints_json_and_exits_0_or_1() {
    let kubelet = FakeHttp::start(ok());
    let url = kubelet.url("/healthz");
    let (code, out, _) = run_check_cli(&["check", "--check", "kubelet"], &[("KUBELET_HEALTHZ_URL", &url)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"], "ready");
    kubelet.set(Mode::Answer(500, "no".into()));
    let (code, out, _) = run_check_cli(&["check", "--check", "kubelet"], &[("KUBELET_HEALTHZ_URL", &url)]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"], "not-ready");
    let (code, _, err) = run_check_cli(&["check", "--check", "kubelet,bogus"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("bogus"));
}

#[test]
fn sigterm_finishes_the_in_flight_request_and_exits_0() {
    let kubelet = FakeHttp::start(Mode::Hang);
    let router = FakeHttp::start(ok());
    let mut svc = service_with(&kubelet, &router, &[("CHECK_TIMEOUT_MS", "1000")]);
    let addr = svc.addr;
    let slow = std::thread::spawn(move || support::service::get(addr, "/health?check=kubelet"));
    wait_for("the slow request to reach the kubelet fake", Duration::from_secs(10), || {
        (kubelet.hits() > 0).then_some(())
    });
    svc.signal(libc::SIGTERM);
    let r = slow.join().unwrap();
    assert_eq!(r.status, 503, "the in-flight request completed");
    let status = svc.wait_exit(Duration::from_secs(5)).expect("process exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(), "no longer accepting");
}

#[test]
fn one_shot_check_stops_on_sigterm_while_a_check_hangs() {
    let kubelet = FakeHttp::start(Mode::Hang);
    let url = kubelet.url("/healthz");
    let mut child = std::process::Command::new(support::service::BIN)
        .args(["check", "--check", "kubelet"])
        .env_clear()
        .env("NODE_NAME", "test-node")
        .env("KUBELET_HEALTHZ_URL", &url)
        .env("CHECK_TIMEOUT_MS", "60000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the check to reach the kubelet fake", Duration::from_secs(10), || (kubelet.hits() > 0).then_some(()));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_for("the one-shot check to exit", Duration::from_secs(10), || child.try_wait().unwrap());
    assert!(!status.success(), "ended by the signal, not by a verdict: {status:?}");
}
