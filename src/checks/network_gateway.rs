//! The gateway half of `network`: every gateway must answer an ICMP echo
//! within `NETWORK_PING_TIMEOUT_MS`. Echoes go out to all gateways at once
//! and are resent every quarter of the timeout, so one lost packet does not
//! drain the node; the first reply from a gateway settles it.

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::Outcome;
use crate::host::gateways::Gateway;
use crate::net::icmp::Pinger;
use crate::net::{describe, random_id, scope_id};
use crate::sys;

/// Never resend faster than this, whatever the timeout.
const MIN_RESEND: Duration = Duration::from_millis(10);

struct Target<'a> {
    gw: &'a Gateway,
    pinger: Result<Pinger, String>,
    seq: u16,
    next_send: Instant,
    answered: bool,
    /// Last socket error (host unreachable, network down), for the reason.
    error: Option<String>,
}

impl Target<'_> {
    fn waiting(&self) -> bool {
        !self.answered && self.pinger.is_ok()
    }
}

fn open(gw: &Gateway) -> Result<Pinger, String> {
    let scope = match gw.addr {
        IpAddr::V6(a) => scope_id(a, gw.dev.as_deref())?,
        IpAddr::V4(_) => 0,
    };
    Pinger::open(gw.addr, scope, random_id())
}

/// Pings every gateway; passes when each answered within `timeout` (never
/// waiting past `end`).
pub fn probe(gateways: &[Gateway], timeout: Duration, end: Instant) -> Outcome {
    let start = Instant::now();
    let stop = (start + timeout).min(end);
    let resend = (timeout / 4).max(MIN_RESEND);
    let mut targets: Vec<Target> = gateways
        .iter()
        .map(|gw| Target { gw, pinger: open(gw), seq: 0, next_send: start, answered: false, error: None })
        .collect();
    loop {
        let now = Instant::now();
        if now >= stop || !targets.iter().any(Target::waiting) {
            break;
        }
        for t in targets.iter_mut().filter(|t| t.waiting() && t.next_send <= now) {
            t.seq = t.seq.wrapping_add(1);
            if let Ok(p) = &t.pinger
                && let Err(e) = p.send(t.seq)
            {
                t.error = Some(describe(&e));
            }
            t.next_send = now + resend;
        }
        let waiting: Vec<usize> = (0..targets.len()).filter(|&i| targets[i].waiting()).collect();
        let wake = waiting.iter().map(|&i| targets[i].next_send).min().unwrap_or(stop).min(stop);
        let fds: Vec<_> =
            waiting.iter().filter_map(|&i| targets[i].pinger.as_ref().ok().map(|p| p.socket.as_fd())).collect();
        let ready = match sys::poll_readable(&fds, wake.saturating_duration_since(Instant::now())) {
            Ok(r) => r,
            Err(e) => return Outcome::unknown(format!("gateway: poll: {e}")),
        };
        for (k, &i) in waiting.iter().enumerate() {
            if ready.get(k) != Some(&true) {
                continue;
            }
            let t = &mut targets[i];
            if let Ok(p) = &t.pinger {
                match p.drain() {
                    Ok(got) => t.answered |= got,
                    Err(e) => t.error = Some(describe(&e)),
                }
            }
        }
    }
    // Capped: poll rounds up, and "501 ms" for a 500 ms timeout reads as a bug.
    let waited = Instant::now().saturating_duration_since(start).min(timeout).as_millis();
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    for t in &targets {
        match (&t.pinger, t.answered, &t.error) {
            (_, true, _) => {}
            (Err(why), _, _) => unknown.push(format!("gateway {}: {why}", t.gw)),
            (Ok(_), false, None) => fails.push(format!("gateway {}: no ICMP reply in {waited} ms", t.gw)),
            (Ok(_), false, Some(e)) => fails.push(format!("gateway {}: no ICMP reply in {waited} ms ({e})", t.gw)),
        }
    }
    // A gateway we could not ping at all is Unknown: that says nothing about it.
    Outcome::from_findings(fails, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw(s: &str) -> Gateway {
        Gateway::parse(s).unwrap()
    }

    fn within(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    /// Loopback answers echo when this process may ping at all (root, or a
    /// ping_group_range that includes us); otherwise the reason says why.
    #[test]
    fn loopback_answers_or_reason_says_why_not() {
        let out = probe(&[gw("127.0.0.1")], Duration::from_millis(300), within(1000));
        match &out {
            Outcome::Pass => {}
            Outcome::Unknown(r) => assert!(r.contains("ping_group_range") || r.contains("cannot ping"), "{r}"),
            Outcome::Fail(r) => panic!("{r}"),
        }
    }

    #[test]
    fn nothing_to_ping_passes() {
        assert_eq!(probe(&[], Duration::from_millis(100), within(1000)), Outcome::Pass);
    }

    #[test]
    fn link_local_without_interface_is_explained() {
        let out = probe(&[gw("fe80::1")], Duration::from_millis(100), within(1000));
        assert_eq!(out, Outcome::unknown("gateway fe80::1: link-local address without %interface"));
    }
}
