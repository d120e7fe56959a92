//! The DNS half of `network`: does a resolver from the host's resolv.conf
//! answer? One UDP query to the first nameserver; halfway through the wait,
//! or as soon as it answers badly, once more to the next nameserver (to the
//! same one again when there is only one), glibc-style "attempts:2", but both
//! inside one `NETWORK_DNS_TIMEOUT_MS` so a lost datagram or one dead server
//! does not drain the node, and the whole check stays under its deadline.
//!
//! With `NETWORK_DNS_NAME` the A and AAAA questions go out together and
//! one address in either answer passes. Without it we ask for the root's NS
//! records: any NOERROR or NXDOMAIN reply proves the resolver answers.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::Outcome;
use crate::host::resolv_conf::Nameserver;
use crate::net::dns::{self, BadReply, Reply};
use crate::net::{self, random_id, scope_id};
use crate::sys;

/// One question we ask (A, AAAA or root NS) and whether it came back empty.
struct Query {
    id: u16,
    qtype: u16,
    empty: bool,
}

/// Queries to one nameserver over one connected UDP socket.
struct Attempt {
    server: String,
    socket: Option<UdpSocket>,
    queries: Vec<Query>,
    sent: Instant,
    /// `Some(Ok)` answered well, `Some(Err(why))` answered badly or broke.
    verdict: Option<Result<(), String>>,
}

impl Attempt {
    fn start(server: &Nameserver, port: u16, qname: &str, qtypes: &[u16]) -> Attempt {
        let queries = qtypes.iter().map(|&qtype| Query { id: random_id(), qtype, empty: false }).collect();
        let mut a = Attempt { server: server.to_string(), socket: None, queries, sent: Instant::now(), verdict: None };
        match open(server, port) {
            Ok(s) => {
                a.socket = Some(s);
                a.send(qname);
            }
            Err(e) => a.verdict = Some(Err(e)),
        }
        a
    }

    fn send(&mut self, qname: &str) {
        let Some(socket) = &self.socket else { return };
        for q in &self.queries {
            if let Err(e) = socket.send(&dns::build_query(q.id, qname, q.qtype)) {
                self.verdict = Some(Err(describe(&e)));
                return;
            }
        }
    }

    /// Reads every queued datagram and judges the ones that are ours.
    fn receive(&mut self, qname: &str) {
        // Taken out for the loop so `judge` may borrow `self` mutably.
        let Some(socket) = self.socket.take() else { return };
        let mut buf = [0u8; 1500];
        while self.verdict.is_none() {
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.verdict = Some(Err(describe(&e)));
                    break;
                }
            };
            self.datagram(&buf[..n], qname);
        }
        self.socket = Some(socket);
    }

    fn datagram(&mut self, buf: &[u8], qname: &str) {
        for i in 0..self.queries.len() {
            let q = &self.queries[i];
            match dns::parse_reply(buf, q.id, qname, q.qtype) {
                Ok(reply) => return self.judge(i, &reply, qname),
                Err(BadReply::NotOurs) => {}
                Err(BadReply::Malformed(why)) => {
                    self.verdict = Some(Err(format!("bad reply ({why})")));
                    return;
                }
            }
        }
    }

    fn judge(&mut self, i: usize, reply: &Reply, qname: &str) {
        if qname.is_empty() {
            // Root NS: any NOERROR or NXDOMAIN proves a working resolver.
            self.verdict = Some(match reply.rcode {
                dns::RCODE_NOERROR | dns::RCODE_NXDOMAIN => Ok(()),
                r => Err(dns::rcode_name(r)),
            });
            return;
        }
        match reply.rcode {
            dns::RCODE_NOERROR if reply.addresses > 0 => self.verdict = Some(Ok(())),
            dns::RCODE_NOERROR => {
                // NODATA (or a truncated reply without an address): wait for
                // the other question; both empty means no address at all.
                self.queries[i].empty = true;
                if self.queries.iter().all(|q| q.empty) {
                    self.verdict = Some(Err(format!("{qname} has no A/AAAA record")));
                }
            }
            dns::RCODE_NXDOMAIN => self.verdict = Some(Err(format!("{qname}: NXDOMAIN"))),
            r => self.verdict = Some(Err(dns::rcode_name(r))),
        }
    }
}

/// A non-blocking UDP socket connected to `server` (a connected socket only
/// receives datagrams from that address and port).
fn open(server: &Nameserver, port: u16) -> Result<UdpSocket, String> {
    let dest = match server.addr {
        IpAddr::V4(a) => SocketAddr::new(a.into(), port),
        IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, port, 0, scope_id(a, server.scope.as_deref())?)),
    };
    let local: SocketAddr = match dest {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let s = UdpSocket::bind(local).map_err(|e| describe(&e))?;
    s.connect(dest).map_err(|e| describe(&e))?;
    s.set_nonblocking(true).map_err(|e| describe(&e))?;
    Ok(s)
}

fn describe(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        "ICMP port unreachable (no DNS server listening)".into()
    } else {
        net::describe(e)
    }
}

/// Asks `servers` (at most the first two) within `timeout`, never past
/// `end`. `name` is `NETWORK_DNS_NAME` or `None` for the root NS.
pub fn probe(servers: &[Nameserver], name: Option<&str>, timeout: Duration, end: Instant) -> Outcome {
    probe_port(servers, 53, name, timeout, end)
}

/// [`probe`] on another port than 53 (tests with unprivileged fake servers).
fn probe_port(servers: &[Nameserver], port: u16, name: Option<&str>, timeout: Duration, end: Instant) -> Outcome {
    let Some(first) = servers.first() else {
        return Outcome::fail("no nameserver in /etc/resolv.conf");
    };
    let (qname, qtypes): (&str, &[u16]) = match name {
        Some(n) => (n, &[dns::TYPE_A, dns::TYPE_AAAA]),
        None => ("", &[dns::TYPE_NS]),
    };
    let start = Instant::now();
    let stop = (start + timeout).min(end);
    let retry_at = start + timeout / 2;
    let mut attempts = vec![Attempt::start(first, port, qname, qtypes)];
    let mut retried = false;
    loop {
        if attempts.iter().any(|a| matches!(a.verdict, Some(Ok(())))) {
            return Outcome::Pass;
        }
        let now = Instant::now();
        let all_done = attempts.iter().all(|a| a.verdict.is_some());
        if now >= stop || (all_done && retried) {
            break;
        }
        if !retried && (now >= retry_at || all_done) {
            retried = true;
            match servers.get(1) {
                Some(next) => attempts.push(Attempt::start(next, port, qname, qtypes)),
                // One server: ask it again (same IDs, so a late first reply
                // still counts) unless it already answered badly.
                None if !all_done => attempts[0].send(qname),
                None => break,
            }
            continue;
        }
        let wake = if retried { stop } else { retry_at.min(stop) };
        let waiting: Vec<usize> = (0..attempts.len()).filter(|&i| attempts[i].verdict.is_none()).collect();
        let fds: Vec<_> = waiting.iter().filter_map(|&i| attempts[i].socket.as_ref().map(|s| s.as_fd())).collect();
        let ready = match sys::poll_readable(&fds, wake.saturating_duration_since(now)) {
            Ok(r) => r,
            Err(e) => return Outcome::unknown(format!("DNS: poll: {e}")),
        };
        for (k, &i) in waiting.iter().enumerate() {
            if ready.get(k) == Some(&true) {
                attempts[i].receive(qname);
            }
        }
    }
    let now = Instant::now();
    let problems: Vec<String> = attempts
        .iter()
        .map(|a| match &a.verdict {
            Some(Err(why)) => format!("DNS {}: {why}", a.server),
            // Capped: poll rounds up, and "501 ms" for a 500 ms timeout reads as a bug.
            _ => format!(
                "DNS {}: no reply in {} ms",
                a.server,
                now.saturating_duration_since(a.sent).min(timeout).as_millis()
            ),
        })
        .collect();
    Outcome::fail(problems.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Nameserver {
        crate::host::resolv_conf::nameservers(&format!("nameserver {s}\n")).remove(0)
    }

    #[test]
    fn no_nameserver() {
        assert_eq!(
            probe(&[], None, Duration::from_millis(100), Instant::now() + Duration::from_secs(1)),
            Outcome::fail("no nameserver in /etc/resolv.conf")
        );
    }

    /// A fake DNS server on `ip`:`port` (0 = any) answering with
    /// `answer(query)`; counts the queries it received. Stops after 2 s of
    /// silence or when the test drops the returned socket clone's peer.
    struct Fake {
        port: u16,
        queries: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    fn fake(ip: &str, port: u16, answer: fn(&[u8]) -> Option<Vec<u8>>) -> Fake {
        use std::sync::atomic::Ordering;
        let s = UdpSocket::bind((ip, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let port = s.local_addr().unwrap().port();
        let queries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = queries.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                counter.fetch_add(1, Ordering::SeqCst);
                if let Some(r) = answer(&buf[..n]) {
                    let _ = s.send_to(&r, from);
                }
            }
        });
        Fake { port, queries }
    }

    /// The query turned into a reply with `rcode` and, for A/AAAA questions
    /// when `address`, one record of the right size.
    fn reply(q: &[u8], rcode: u8, address: bool) -> Vec<u8> {
        let mut r = q.to_vec();
        r[2] |= 0x80;
        r[3] = (r[3] & 0xf0) | rcode;
        let qtype = u16::from_be_bytes([q[q.len() - 4], q[q.len() - 3]]);
        if address && (qtype == dns::TYPE_A || qtype == dns::TYPE_AAAA) {
            r[7] = 1;
            let len = if qtype == dns::TYPE_A { 4 } else { 16 };
            r.extend_from_slice(&[0xc0, 12]);
            r.extend_from_slice(&qtype.to_be_bytes());
            r.extend_from_slice(&[0, 1, 0, 0, 1, 0, 0, len]);
            r.extend(std::iter::repeat_n(7u8, len as usize));
        }
        r
    }

    fn within(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    const T: Duration = Duration::from_millis(300);

    #[test]
    fn root_query_any_noerror_or_nxdomain_passes() {
        let ok = fake("127.0.0.1", 0, |q| Some(reply(q, 0, false)));
        assert_eq!(probe_port(&[ns("127.0.0.1")], ok.port, None, T, within(1000)), Outcome::Pass);
        let nx = fake("127.0.0.1", 0, |q| Some(reply(q, 3, false)));
        assert_eq!(probe_port(&[ns("127.0.0.1")], nx.port, None, T, within(1000)), Outcome::Pass);
        let refused = fake("127.0.0.1", 0, |q| Some(reply(q, 5, false)));
        assert_eq!(
            probe_port(&[ns("127.0.0.1")], refused.port, None, T, within(1000)),
            Outcome::fail("DNS 127.0.0.1: REFUSED")
        );
    }

    #[test]
    fn name_needs_an_address() {
        let ok = fake("127.0.0.1", 0, |q| Some(reply(q, 0, true)));
        assert_eq!(probe_port(&[ns("127.0.0.1")], ok.port, Some("ready.test"), T, within(1000)), Outcome::Pass);
        let nodata = fake("127.0.0.1", 0, |q| Some(reply(q, 0, false)));
        assert_eq!(
            probe_port(&[ns("127.0.0.1")], nodata.port, Some("ready.test"), T, within(1000)),
            Outcome::fail("DNS 127.0.0.1: ready.test has no A/AAAA record")
        );
        let nx = fake("127.0.0.1", 0, |q| Some(reply(q, 3, false)));
        assert_eq!(
            probe_port(&[ns("127.0.0.1")], nx.port, Some("ready.test"), T, within(1000)),
            Outcome::fail("DNS 127.0.0.1: ready.test: NXDOMAIN")
        );
        // Only AAAA answers: still an address.
        let v6_only = fake("127.0.0.1", 0, |q| {
            let aaaa = u16::from_be_bytes([q[q.len() - 4], q[q.len() - 3]]) == dns::TYPE_AAAA;
            Some(reply(q, 0, aaaa))
        });
        assert_eq!(probe_port(&[ns("127.0.0.1")], v6_only.port, Some("ready.test"), T, within(1000)), Outcome::Pass);
    }

    #[test]
    fn silent_server_is_asked_twice_then_fails_at_the_timeout() {
        use std::sync::atomic::Ordering;
        let silent = fake("127.0.0.1", 0, |_| None);
        let started = Instant::now();
        let out = probe_port(&[ns("127.0.0.1")], silent.port, None, T, within(1000));
        let took = started.elapsed();
        assert_eq!(out, Outcome::fail("DNS 127.0.0.1: no reply in 300 ms"));
        assert!(took >= T && took < T + Duration::from_millis(100), "{took:?}");
        assert_eq!(silent.queries.load(Ordering::SeqCst), 2, "asked again halfway");
        // The check's deadline wins over the DNS timeout.
        let started = Instant::now();
        let out = probe_port(&[ns("127.0.0.1")], silent.port, None, T, within(100));
        assert!(started.elapsed() < Duration::from_millis(150), "{out:?}");
    }

    #[test]
    fn bad_first_server_is_retried_on_the_next_at_once() {
        let servfail = fake("127.0.0.1", 0, |q| Some(reply(q, 2, false)));
        let Ok(good) = std::panic::catch_unwind(|| fake("127.0.0.2", servfail.port, |q| Some(reply(q, 0, true))))
        else {
            eprintln!("SKIP: port taken on 127.0.0.2");
            return;
        };
        let started = Instant::now();
        let servers = [ns("127.0.0.1"), ns("127.0.0.2")];
        assert_eq!(probe_port(&servers, good.port, Some("ready.test"), T, within(1000)), Outcome::Pass);
        assert!(started.elapsed() < T / 2, "no wait for the halfway mark");
        // Both bad: both named.
        let servers = [ns("127.0.0.1"), ns("127.0.0.3")];
        let out = probe_port(&servers, servfail.port, None, T, within(1000));
        let Outcome::Fail(r) = out else { panic!("{out:?}") };
        assert!(r.starts_with("DNS 127.0.0.1: SERVFAIL, DNS 127.0.0.3: "), "{r}");
    }

    #[test]
    fn closed_port_fails_fast() {
        // Bind then drop: nobody listens on that port any more, so the
        // kernel answers with ICMP port unreachable.
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let started = Instant::now();
        let out = probe_port(&[ns("127.0.0.1")], port, None, T, within(1000));
        assert_eq!(out, Outcome::fail("DNS 127.0.0.1: ICMP port unreachable (no DNS server listening)"));
        assert!(started.elapsed() < T, "the second try goes out at once and fails too");
    }

    #[test]
    fn garbage_replies_are_ignored_or_reported() {
        // Wrong ID: not ours, keep waiting → no reply.
        let wrong_id = fake("127.0.0.1", 0, |q| {
            let mut r = reply(q, 0, false);
            r[0] ^= 0xff;
            Some(r)
        });
        let out = probe_port(&[ns("127.0.0.1")], wrong_id.port, None, T, within(1000));
        assert_eq!(out, Outcome::fail("DNS 127.0.0.1: no reply in 300 ms"));
        // Our ID but another question: a bad reply.
        let other_q = fake("127.0.0.1", 0, |q| {
            let mut r = reply(q, 0, false);
            let n = r.len();
            r[n - 3] ^= 0x10;
            Some(r)
        });
        let out = probe_port(&[ns("127.0.0.1")], other_q.port, None, T, within(1000));
        assert_eq!(out, Outcome::fail("DNS 127.0.0.1: bad reply (reply to another question)"));
    }
}
