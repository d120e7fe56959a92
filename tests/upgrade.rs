//! A zero-failure handover between two instances on one port (the
//! DaemonSet's surge update), with the kernel's default settings.
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::fake_http::{FakeHttp, Mode};
use support::service::lb_probe;
use support::{Response, Service, skip_unless_program, skip_unless_root, wait_for};

use support::repo::run;

/// One probe the way an LB sends it; its status, or what went wrong.
fn probe(addr: SocketAddr) -> Result<u16, String> {
    lb_probe(addr, "/health?check=kubelet", Duration::from_secs(5)).map(|r| r.status)
}

/// Moves the calling thread (and the threads and processes it starts) into a
/// new network namespace with loopback up and `net.ipv4.tcp_migrate_req=0`,
/// the kernel's default and what nodes run with: a listener that closes
/// resets the connections still queued on it. The handover must not depend
/// on the host changing that.
fn private_network_without_request_migration() {
    // SAFETY: unshare(2) with CLONE_NEWNET touches no memory; it only moves
    // this thread into a new network namespace.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
    let (ok, _, err) = run(Command::new("ip").args(["link", "set", "lo", "up"]));
    assert!(ok, "ip link set lo up: {err}");
    // /proc/sys/net is the namespace of the thread that opens it.
    std::fs::write("/proc/sys/net/ipv4/tcp_migrate_req", "0").expect("set net.ipv4.tcp_migrate_req");
}

/// Probers hammering the port at once during the handover: with one, the
/// moment the old listener closes rarely finds a connection in its queue;
/// with several, some connection is nearly always there.
const PROBERS: usize = 4;

/// The DaemonSet's surge update on one node: the new instance binds the same
/// port (SO_REUSEPORT) while the old one runs; the old one gets SIGTERM and
/// exits. Clients probing all the while never see a failure, on a kernel
/// that resets what is queued on a closing listener.
#[test]
fn surge_handover_on_one_port_loses_no_probe() {
    if skip_unless_root("a network namespace with net.ipv4.tcp_migrate_req=0") || skip_unless_program("ip") {
        return;
    }
    private_network_without_request_migration();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let url = kubelet.url("/healthz");
    let mut old = Service::start(&[("KUBELET_HEALTHZ_URL", url.as_str())]);
    let port = old.port().to_string();
    let addr = old.addr;

    let (done, probes) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let probers: Vec<_> = (0..PROBERS)
        .map(|_| {
            let (done, probes, failures) = (done.clone(), probes.clone(), failures.clone());
            std::thread::spawn(move || {
                let limit = Instant::now() + Duration::from_secs(60);
                while !done.load(Ordering::SeqCst) && Instant::now() < limit {
                    match probe(addr) {
                        Ok(200) => {}
                        Ok(other) => failures.lock().unwrap().push(format!("status {other}")),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                    probes.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let wait_probes = |what: &str, more: usize| {
        let from = probes.load(Ordering::SeqCst);
        wait_for(what, Duration::from_secs(20), || (probes.load(Ordering::SeqCst) >= from + more).then_some(()));
    };
    wait_probes("probes before the new instance", 300);
    let new = Service::start(&[("KUBELET_HEALTHZ_URL", url.as_str()), ("LISTEN_PORT", port.as_str())]);
    wait_probes("probes with both instances", 300);
    old.signal(libc::SIGTERM);
    let status = old.wait_exit(Duration::from_secs(3)).expect("old instance did not exit within 3 s of SIGTERM");
    assert!(status.success(), "old instance exited with {status}");
    wait_probes("probes after the handover", 300);
    done.store(true, Ordering::SeqCst);
    probers.into_iter().for_each(|p| p.join().unwrap());
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} probes failed during the handover, e.g. {:?}",
        failures.len(),
        probes.load(Ordering::SeqCst),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(new.get("/livez").status, 200);
}

/// Why the handover holds, deterministic: once a second instance listens on
/// the port, every new connection goes to it, none to the old one (which
/// is stopped here, so a connection queued on it would go unanswered). When
/// the newer instance goes away, the remaining one gets them all again.
#[test]
fn a_second_instance_on_the_port_takes_every_new_connection() {
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let url = kubelet.url("/healthz");
    let old = Service::start(&[("KUBELET_HEALTHZ_URL", url.as_str())]);
    let port = old.port().to_string();
    let mut new = Service::start(&[("KUBELET_HEALTHZ_URL", url.as_str()), ("LISTEN_PORT", port.as_str())]);
    let answered = |n: usize| (0..n).filter(|_| probe(old.addr) == Ok(200)).count();

    old.signal(libc::SIGSTOP);
    // With the kernel's hash alone, each probe would reach the stopped
    // instance with probability 1/2 and time out.
    let by_new = answered(40);
    old.signal(libc::SIGCONT);
    assert_eq!(by_new, 40, "probes answered while the old instance was stopped");

    new.signal(libc::SIGTERM);
    new.wait_exit(Duration::from_secs(3)).expect("new instance did not exit within 3 s of SIGTERM");
    assert_eq!(answered(40), 40, "probes answered by the remaining instance");
}

/// Connections waiting in the accept queue of the IPv4 listener on `port`
/// (the rx_queue of a LISTEN socket in /proc/net/tcp).
fn accept_queue_len(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        (local_port == port && f.get(3) == Some(&"0A"))
            .then(|| u64::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok())
            .flatten()
    })
}

/// The old instance's half of the handover, deterministic: a probe whose
/// connection was accepted just before SIGTERM but whose request arrives
/// after it is still answered before the process exits.
#[test]
fn sigterm_answers_a_probe_connected_just_before() {
    let mut svc = Service::start(&[]);
    let mut conn = TcpStream::connect(svc.addr).unwrap();
    wait_for("the service to accept the connection", Duration::from_secs(10), || {
        (accept_queue_len(svc.port()) == Some(0)).then_some(())
    });
    svc.signal(libc::SIGTERM);
    wait_for("the service to stop accepting", Duration::from_secs(10), || {
        svc.log().contains("no longer accepting").then_some(())
    });
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"GET /livez HTTP/1.0\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let read = conn.read_to_end(&mut raw);
    let answer = Response::parse(&raw).map(|(r, _)| r.status);
    assert_eq!(answer, Some(200), "no answer ({read:?}): {:?}", String::from_utf8_lossy(&raw));
    let status = svc.wait_exit(Duration::from_secs(3)).expect("exit within 3 s of SIGTERM");
    assert!(status.success(), "{status}");
}
