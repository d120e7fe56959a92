//! Abuse scenarios against the built binary (loopback only): slowloris, a
//! request flood, garbage on the wire. The service sits on every node's public
//! address; none of this may crash it, starve a probe from another address, or
//! make the node hammer its kubelet. Every loop is bounded in count and time;
//! timing goals live in `scripts/bench`, not here.
//!
//! 127.0.0.2, 127.0.0.3, ... act as distinct client addresses: the client
//! socket is bound to them before connecting to the service on 127.0.0.1.

#[path = "support/grpc_server.rs"]
mod grpc_server;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use grpc_server::{Behavior, FakeCri};
use support::fake_http::{FakeHttp, Mode};
use support::{Response, Service, TempDir, wait_for};

fn kubelet_ok() -> FakeHttp {
    FakeHttp::start(Mode::Answer(200, "ok".into()))
}

/// A service whose kubelet check points at `kubelet`, default check `kubelet`.
fn service(kubelet: &FakeHttp, extra: &[(&str, &str)]) -> Service {
    let url = kubelet.url("/healthz");
    let mut env = vec![("KUBELET_HEALTHZ_URL", url.as_str()), ("DEFAULT_CHECKS", "kubelet")];
    env.extend_from_slice(extra);
    Service::start(&env)
}

fn connect_from(src: &str, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&format!("{src}:0").parse::<SocketAddr>().unwrap().into())?;
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))?;
    Ok(sock.into())
}

/// Sends `request` from `src`, half-closes, reads until the server closes
/// (or 10 s). Write errors are fine (the server may answer and close early).
/// Returns what was read, and whether reading ended in an error (reset).
fn send_raw(src: &str, dst: SocketAddr, request: &[u8]) -> (Vec<u8>, bool) {
    let mut s = connect_from(src, dst).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    if s.write_all(request).is_ok() {
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (out, false),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                assert_ne!(e.kind(), ErrorKind::WouldBlock, "server neither answered nor closed within 10 s");
                return (out, true);
            }
        }
    }
}

/// `GET path HTTP/1.0` from `src`: what a load balancer's monitor sends.
fn probe_from(src: &str, dst: SocketAddr, path: &str) -> Response {
    let req = format!("GET {path} HTTP/1.0\r\n\r\n");
    let (bytes, _) = send_raw(src, dst, req.as_bytes());
    Response::parse(&bytes).unwrap_or_else(|| panic!("no response to {path}: {:?}", String::from_utf8_lossy(&bytes))).0
}

fn proc_status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("service process is alive");
    let line = status.lines().find_map(|l| l.strip_prefix(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    proc_status_field(pid, "VmRSS:")
}

fn threads(pid: u32) -> u64 {
    proc_status_field(pid, "Threads:")
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("service process is alive").count()
}

/// Raises this process's RLIMIT_NOFILE soft limit to at least `want` (up to
/// the hard limit); returns the soft limit in force.
fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

#[test]
fn slowloris_from_one_address_does_not_starve_a_probe_from_another() {
    const CONNECTIONS: usize = 2000;
    const ROUNDS: usize = 7; // one header byte per second per connection
    if raise_nofile(CONNECTIONS as u64 + 500) < CONNECTIONS as u64 + 100 {
        support::skip("RLIMIT_NOFILE hard limit too low for 2,000 client sockets");
        return;
    }
    let kubelet = kubelet_ok();
    let svc = service(&kubelet, &[]);
    let pid = svc.pid();
    assert_eq!(probe_from("127.0.0.3", svc.addr, "/health").status, 200);
    let (rss0, threads0) = (rss_kib(pid), threads(pid));

    let mut conns: Vec<Option<TcpStream>> = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        // Connects complete in the kernel; the service closes all but
        // MAX_CONNECTIONS_PER_CLIENT at once.
        let s = connect_from("127.0.0.2", svc.addr).expect("connect (slowloris)");
        s.set_nonblocking(true).unwrap();
        conns.push(Some(s));
    }
    let head = b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaa";
    let (mut peak_rss, mut peak_threads, mut probes) = (rss0, threads0, Vec::new());
    for round in 0..ROUNDS {
        let byte = &head[round..round + 1];
        for slot in conns.iter_mut() {
            if let Some(s) = slot
                && s.write(byte).is_err()
            {
                *slot = None; // closed by the service (limit or head deadline)
            }
        }
        let started = Instant::now();
        let r = probe_from("127.0.0.3", svc.addr, "/health");
        probes.push(started.elapsed());
        assert_eq!(r.status, 200, "probe during slowloris round {round}: {}", r.body);
        peak_rss = peak_rss.max(rss_kib(pid));
        peak_threads = peak_threads.max(threads(pid));
        // Pacing of the attack (one byte per second), not synchronisation.
        std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
    }
    let alive = conns.iter().filter(|c| c.is_some()).count();
    eprintln!(
        "slowloris: {CONNECTIONS} connections, {alive} not yet closed after {ROUNDS} s; probe latencies {probes:?}; \
         RSS {rss0} → peak {peak_rss} KiB; threads {threads0} → peak {peak_threads}"
    );
    // One address holds at most MAX_CONNECTIONS_PER_CLIENT (32) threads.
    assert!(peak_threads <= threads0 + 32 + 4, "threads grew from {threads0} to {peak_threads}");
    assert!(peak_rss <= rss0 + 16 * 1024, "RSS grew from {rss0} KiB to {peak_rss} KiB");
    drop(conns);
    wait_for("slowloris threads to end", Duration::from_secs(10), || (threads(pid) <= threads0 + 1).then_some(()));
}

#[test]
fn slowloris_from_many_addresses_does_not_lock_out_a_new_client() {
    // 12 addresses × 8 slow connections = 96 > MAX_CONNECTIONS 64: every
    // slot is taken by clients that never finish a head. A probe from yet
    // another address must still be served (an idle slow connection of the
    // busiest address is evicted for it), not closed at once.
    let kubelet = kubelet_ok();
    let knobs = [("MAX_CONNECTIONS", "64"), ("MAX_CONNECTIONS_PER_CLIENT", "8")];
    let svc = service(&kubelet, &knobs);
    let pid = svc.pid();
    let threads0 = threads(pid);
    let fds0 = fds(pid);
    let mut slow = Vec::new();
    for a in 0..12 {
        for _ in 0..8 {
            let mut s = connect_from(&format!("127.0.1.{}", 10 + a), svc.addr).expect("connect (slowloris)");
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nX-Slow: a");
            slow.push(s);
        }
    }
    wait_for("every slot taken", Duration::from_secs(10), || (threads(pid) >= threads0 + 64).then_some(()));
    for i in 0..5 {
        let r = probe_from(&format!("127.0.2.{}", 10 + i), svc.addr, "/health");
        assert_eq!(r.status, 200, "probe {i} while every slot is held by slow clients");
    }
    // Admission beyond the limit is bounded by the evictions (open sockets;
    // threads of ended connections linger a moment for reuse).
    assert!(fds(pid) <= fds0 + 64 + 5 + 2, "fds {} (baseline {fds0})", fds(pid));
    drop(slow);
    wait_for("slow connections to end", Duration::from_secs(10), || (threads(pid) <= threads0 + 1).then_some(()));
}

/// Keep-alive client: `GET path` until `until` or `max` requests.
fn keep_alive_load(src: &str, dst: SocketAddr, path: &str, until: Instant, max: u64, done: &AtomicU64) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut n = 0;
    'outer: while Instant::now() < until && n < max {
        let Ok(mut s) = connect_from(src, dst) else { continue };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        while Instant::now() < until && n < max {
            if s.write_all(req.as_bytes()).is_err() {
                continue 'outer;
            }
            loop {
                if let Some((r, len)) = Response::parse(&buf) {
                    assert!(r.status == 200 || r.status == 503, "flood answer {}: {}", r.status, r.body);
                    buf.drain(..len);
                    break;
                }
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => continue 'outer, // closed after 1000 requests
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            n += 1;
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// New connection per request (how monitors connect).
fn new_connection_load(src: &str, dst: SocketAddr, path: &str, until: Instant, max: u64, done: &AtomicU64) {
    let mut n = 0;
    while Instant::now() < until && n < max {
        let r = probe_from(src, dst, path);
        assert!(r.status == 200 || r.status == 503, "flood answer {}: {}", r.status, r.body);
        n += 1;
        done.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn request_flood_is_served_from_the_cache_and_leaves_nothing_behind() {
    const SECONDS: u64 = 4;
    const PATH: &str = "/health?check=kubelet,container_runtime";
    let kubelet = kubelet_ok();
    let dir = TempDir::new("abuse-cri");
    let cri = FakeCri::start(&dir.path().join("cri.sock"), Behavior::Ready);
    let endpoint = cri.socket.display().to_string();
    let svc = service(&kubelet, &[("CHECK_MIN_INTERVAL_MS", "500"), ("CONTAINER_RUNTIME_ENDPOINT", &endpoint)]);
    let pid = svc.pid();
    let r = probe_from("127.0.0.3", svc.addr, PATH);
    assert_eq!(r.status, 200, "{}", r.body);
    let (rss0, threads0, fds0) = (rss_kib(pid), threads(pid), fds(pid));
    let (hits0, cri0) = (kubelet.hits(), cri.paths().len());

    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(SECONDS);
    let addr = svc.addr;
    let mut load = Vec::new();
    for i in 0..4 {
        let done = done.clone();
        let src = format!("127.0.0.{}", 10 + i);
        load.push(std::thread::spawn(move || keep_alive_load(&src, addr, PATH, until, 200_000, &done)));
    }
    for i in 0..2 {
        let done = done.clone();
        let src = format!("127.0.0.{}", 20 + i);
        load.push(std::thread::spawn(move || new_connection_load(&src, addr, PATH, until, 50_000, &done)));
    }
    let mut peak_rss = rss0;
    while load.iter().any(|t| !t.is_finished()) {
        peak_rss = peak_rss.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(100)); // sampling period, not synchronisation
    }
    for t in load {
        t.join().expect("load thread");
    }
    let elapsed = started.elapsed();
    let (requests, hits, cri_calls) = (done.load(Ordering::Relaxed), kubelet.hits() - hits0, cri.paths().len() - cri0);
    eprintln!(
        "flood: {requests} requests in {elapsed:?} ({:.0}/s); kubelet fake saw {hits}, CRI fake {cri_calls}; \
         RSS {rss0} → peak {peak_rss} KiB",
        requests as f64 / elapsed.as_secs_f64()
    );
    assert!(requests > 100, "the flood did not run ({requests} requests)");
    // CHECK_MIN_INTERVAL_MS=500 + single-flight: at most ~2 calls/s each.
    let allowed = 2 * elapsed.as_secs() + 3;
    assert!(hits as u64 <= allowed, "kubelet fake saw {hits} calls in {elapsed:?} (allowed {allowed})");
    assert!(cri_calls as u64 <= allowed, "CRI fake saw {cri_calls} calls in {elapsed:?} (allowed {allowed})");

    // Nothing left behind: threads, descriptors, memory.
    wait_for("threads back to baseline", Duration::from_secs(10), || (threads(pid) <= threads0 + 1).then_some(()));
    wait_for("fds back to baseline", Duration::from_secs(10), || (fds(pid) <= fds0 + 1).then_some(()));
    let rss1 = rss_kib(pid);
    eprintln!("after flood: RSS {rss1} KiB, threads {}, fds {}", threads(pid), fds(pid));
    assert!(rss1 <= rss0 + 8 * 1024, "RSS {rss0} KiB before the flood, {rss1} KiB after");
    assert_eq!(probe_from("127.0.0.3", svc.addr, PATH).status, 200);
}

/// A minimal TLS 1.2/1.3 ClientHello with SNI, as a browser or scanner sends
/// to a plain-HTTP port.
fn tls_client_hello() -> Vec<u8> {
    let sni = b"node.example";
    let mut ext = Vec::new();
    let sni_list_len = sni.len() + 3;
    ext.extend_from_slice(&[0x00, 0x00]);
    ext.extend_from_slice(&((sni_list_len + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&(sni_list_len as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    ext.extend_from_slice(sni);
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]); // supported_versions: TLS 1.3
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f]); // cipher suites
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01, 0x00];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Deterministic xorshift64* bytes (no rand dependency; reproducible).
fn random_bytes(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed >> 12;
            *seed ^= *seed << 25;
            *seed ^= *seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn garbage_cases() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("header without colon".into(), b"GET /health HTTP/1.1\r\nNoColonHere\r\n\r\n".to_vec()),
        ("huge request line".into(), format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64 * 1024)).into_bytes()),
        ("huge header".into(), format!("GET /health HTTP/1.1\r\nX: {}\r\n\r\n", "b".repeat(20_000)).into_bytes()),
        ("65 headers".into(), {
            let h: String = (0..65).map(|i| format!("X-{i}: v\r\n")).collect();
            format!("GET /health HTTP/1.1\r\n{h}\r\n").into_bytes()
        }),
        ("raw invalid UTF-8 in query".into(), b"GET /health?check=\xff\xfe\xc3\x28 HTTP/1.1\r\n\r\n".to_vec()),
        ("percent-encoded invalid UTF-8".into(), b"GET /health?check=%ff%fe%c3%28 HTTP/1.1\r\n\r\n".to_vec()),
        ("bad percent escape %zz".into(), b"GET /health?check=%zz HTTP/1.1\r\n\r\n".to_vec()),
        ("truncated percent escape".into(), b"GET /health?check=kubelet% HTTP/1.1\r\n\r\n".to_vec()),
        ("percent-encoded NUL".into(), b"GET /health?check=kube%00let HTTP/1.1\r\n\r\n".to_vec()),
        ("1,000 check= items (over 8 KiB)".into(), {
            let q: Vec<&str> = vec!["check=kubelet"; 1000];
            format!("GET /health?{} HTTP/1.1\r\n\r\n", q.join("&")).into_bytes()
        }),
        ("1,000 comma-separated unknown checks".into(), {
            let q: Vec<&str> = vec!["x"; 1000];
            format!("GET /health?check={} HTTP/1.1\r\n\r\n", q.join(",")).into_bytes()
        }),
        (
            "1,000 empty check= items".into(),
            format!("GET /health?{} HTTP/1.1\r\n\r\n", "check=&".repeat(1000)).into_bytes(),
        ),
        ("HTTP/2 preface".into(), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00".to_vec()),
        ("TLS ClientHello".into(), tls_client_hello()),
        ("NUL in the request line".into(), b"GET /health\x00 HTTP/1.1\r\n\r\n".to_vec()),
        ("NUL in a header value".into(), b"GET /health HTTP/1.1\r\nX: a\x00b\r\n\r\n".to_vec()),
        ("only NUL bytes".into(), vec![0u8; 4096]),
        ("HTTP/3.0 version".into(), b"GET /health HTTP/3.0\r\n\r\n".to_vec()),
        ("no version".into(), b"GET /health\r\n\r\n".to_vec()),
        ("negative Content-Length".into(), b"GET /health HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec()),
        (
            "huge Content-Length".into(),
            b"GET /health HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
        ),
        ("body over 16 KiB".into(), b"POST /health HTTP/1.1\r\nContent-Length: 1000000\r\n\r\nxx".to_vec()),
        (
            "chunked body".into(),
            b"POST /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        ("binary method".into(), b"G\x01T /health HTTP/1.1\r\n\r\n".to_vec()),
        ("long method".into(), format!("{} /health HTTP/1.1\r\n\r\n", "A".repeat(7000)).into_bytes()),
        ("CONNECT".into(), b"CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n".to_vec()),
        ("absolute URI without path".into(), b"GET http:// HTTP/1.1\r\n\r\n".to_vec()),
        ("obs-fold header".into(), b"GET /health HTTP/1.1\r\nX: a\r\n b\r\n\r\n".to_vec()),
        ("space before colon".into(), b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n".to_vec()),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for i in 0..40 {
        let len = 1 + (i * 97) % 3000;
        cases.push((format!("random bytes #{i} ({len} B)"), random_bytes(&mut seed, len)));
    }
    cases
}

/// Status classes a garbage request may get: a 4xx — never a 5xx, which
/// some monitors log as "node down" (the chunked POST is parsed and gets
/// its 405) — or no answer at all (close).
fn acceptable(status: u16) -> bool {
    (400..500).contains(&status)
}

#[test]
fn garbage_gets_a_4xx_or_a_close_and_the_next_probe_is_served() {
    let kubelet = kubelet_ok();
    let svc = service(&kubelet, &[]);
    let pid = svc.pid();
    let threads0 = threads(pid);
    let (mut answered, mut closed, mut reset) = (0, 0, 0);
    for (name, payload) in garbage_cases() {
        let (bytes, was_reset) = send_raw("127.0.0.2", svc.addr, &payload);
        match Response::parse(&bytes) {
            Some((r, _)) => {
                assert!(acceptable(r.status), "{name}: answered {} {}", r.status, r.body);
                answered += 1;
            }
            None => {
                assert!(
                    bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 4"),
                    "{name}: neither a response nor a close: {:?}",
                    String::from_utf8_lossy(&bytes)
                );
                if was_reset { reset += 1 } else { closed += 1 }
            }
        }
        let r = probe_from("127.0.0.3", svc.addr, "/health");
        assert_eq!(r.status, 200, "probe after {name}: {}", r.body);
    }
    eprintln!("garbage: {answered} answered 4xx, {closed} closed, {reset} reset");
    wait_for("connection threads to end", Duration::from_secs(10), || (threads(pid) <= threads0 + 1).then_some(()));
    assert!(svc.log().lines().all(|l| !l.contains("panicked")), "a thread panicked:\n{}", svc.log());
}

#[test]
fn query_edge_cases_get_the_documented_answers() {
    let kubelet = kubelet_ok();
    let svc = service(&kubelet, &[]);
    let get = |path: &str| probe_from("127.0.0.2", svc.addr, path);
    // 500 copies of one valid check run it once.
    let r = get(&format!("/health?{}", ["check=kubelet"; 500].join("&")));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["checks"].as_array().unwrap().len(), 1);
    assert_eq!(get("/health?check=%ff%fe").status, 400);
    assert_eq!(get("/health?check=kube%zzlet").status, 400);
    assert_eq!(get("/health?check=kube%00let").status, 400);
    // An unknown name is echoed back bounded, never the whole query.
    let r = get(&format!("/health?check={}", "x".repeat(5000)));
    assert_eq!(r.status, 400);
    assert!(r.body.len() < 2048, "400 body of {} bytes", r.body.len());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let kubelet = kubelet_ok();
    let svc = service(&kubelet, &[]);
    let req = b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n\
                HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n\
                GET /nope HTTP/1.1\r\n\r\n\
                GET /health?check=kubelet HTTP/1.1\r\nConnection: close\r\n\r\n";
    let (bytes, _) = send_raw("127.0.0.2", svc.addr, req);
    let mut rest = &bytes[..];
    let mut statuses = Vec::new();
    for i in 0..4 {
        let (r, mut n) = Response::parse(rest).unwrap_or_else(|| panic!("response {i} missing"));
        if i == 1 {
            n -= r.body.len(); // HEAD: Content-Length without a body
        }
        statuses.push(r.status);
        rest = &rest[n..];
    }
    assert_eq!(statuses, [200, 200, 404, 200]);
    assert!(rest.is_empty(), "trailing bytes: {:?}", String::from_utf8_lossy(rest));
}

#[test]
fn a_pipelined_flood_past_the_request_limit_gets_exactly_1000_answers() {
    let kubelet = kubelet_ok();
    let svc = service(&kubelet, &[]);
    let req = "GET /livez HTTP/1.1\r\n\r\n".repeat(1010);
    let mut s = connect_from("127.0.0.2", svc.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let (mut rest, mut n) = (&bytes[..], 0);
    let mut last = None;
    while let Some((r, len)) = Response::parse(rest) {
        assert_eq!(r.status, 200);
        last = r.header("connection").map(str::to_string);
        rest = &rest[len..];
        n += 1;
    }
    assert_eq!(n, 1000, "answers on one connection");
    assert_eq!(last.as_deref(), Some("close"));
}

#[test]
fn a_body_trickled_byte_by_byte_does_not_hold_the_connection_forever() {
    // The head deadline (5 s) must also bound the body: a client sending one
    // body byte every second (each read well under a per-read timeout) is
    // cut off long before its declared 60 bytes (or endless valid chunks)
    // have arrived.
    let kubelet = kubelet_ok();
    let svc = service(&kubelet, &[]);
    let framings: [(&[u8], &[u8]); 2] = [
        (b"POST /health HTTP/1.1\r\nContent-Length: 60\r\n\r\n", b"x"),
        (b"POST /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"1;e\r\nx\r\n"),
    ];
    for (head, body) in framings {
        let mut s = connect_from("127.0.0.2", svc.addr).unwrap();
        s.write_all(head).unwrap();
        s.set_nonblocking(true).unwrap();
        let mut cut_off = false;
        for i in 0..60 {
            let mut b = [0u8; 256];
            match s.read(&mut b) {
                Ok(_) => {
                    cut_off = true; // EOF or an error answer: the service gave up on us
                    break;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => {
                    cut_off = true;
                    break;
                }
            }
            if s.write_all(&body[i % body.len()..][..1]).is_err() {
                cut_off = true;
                break;
            }
            std::thread::sleep(Duration::from_secs(1)); // pacing of the attack
        }
        let what = String::from_utf8_lossy(head);
        assert!(cut_off, "the service waited for a body trickled over 60 s: {what}");
    }
}
