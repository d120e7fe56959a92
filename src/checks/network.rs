//! `network`: a resolver from the host's `/etc/resolv.conf` answers (or
//! `NETWORK_DNS_NAME` resolves) **and** the default gateway(s) answer ICMP
//! echo. DNS and ping run side by side, each bounded by its own timeout and
//! by the check's deadline, so the default 500 ms + 500 ms fit in the
//! default 1000 ms deadline.
//!
//! Routes come from `HOST_PROC/net/route` and `HOST_PROC/net/ipv6_route`:
//! the network namespace of this process, which is the host's with
//! `hostNetwork: true` (and the one the echoes leave from anyway).

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Check, CheckId, Ctx, Exec, Outcome, network_dns, network_gateway};
use crate::config::Gateways;
use crate::host::HostPaths;
use crate::host::gateways::{self, Gateway};
use crate::host::resolv_conf;

pub const CHECK: Check = Check { id: CheckId::Network, exec: Exec::Probe, run };

/// Time kept back before the deadline to build the reason and return.
const MARGIN: Duration = Duration::from_millis(30);

fn run(ctx: &Ctx, deadline: Instant) -> Outcome {
    let c = &ctx.config;
    let end = work_end(Instant::now(), deadline);
    let gateways = match &c.network_gateways {
        Gateways::Skip => Ok(Vec::new()),
        Gateways::List(list) => Ok(list.clone()),
        Gateways::DefaultRoutes => default_gateways(&ctx.host),
    };
    let servers = match ctx.host.read_to_string(Path::new("/etc/resolv.conf")) {
        Ok(text) => Ok(resolv_conf::nameservers(&text)),
        Err(e) => Err(Outcome::fail(format!("cannot read /etc/resolv.conf: {e}"))),
    };
    let name = c.network_dns_name.as_deref();
    let dns = |servers: Result<Vec<_>, Outcome>| match servers {
        Ok(s) => network_dns::probe(&s, name, c.network_dns_timeout, end),
        Err(o) => o,
    };
    let ping = |gws: Result<Vec<Gateway>, Outcome>| match gws {
        Ok(g) => network_gateway::probe(&g, c.network_ping_timeout, end),
        Err(o) => o,
    };
    let (dns_out, ping_out) = std::thread::scope(|s| {
        let handle = std::thread::Builder::new().name("check-network-ping".into()).spawn_scoped(s, || ping(gateways));
        match handle {
            Ok(h) => {
                let d = dns(servers);
                (d, h.join().unwrap_or_else(|_| Outcome::unknown("gateway probe crashed (a bug)")))
            }
            // Out of threads: one after the other, still within `end`.
            Err(_) => (dns(servers), Outcome::unknown("gateway not probed: cannot start a thread")),
        }
    });
    combine(&[dns_out, ping_out])
}

/// The moment to stop waiting: a little before the runner's deadline.
fn work_end(now: Instant, deadline: Instant) -> Instant {
    let budget = deadline.saturating_duration_since(now);
    now + budget.saturating_sub(MARGIN.min(budget / 10))
}

/// Gateways of the best default routes, IPv4 and IPv6.
fn default_gateways(host: &HostPaths) -> Result<Vec<Gateway>, Outcome> {
    let v4_file = host.proc_path("net/route");
    let v4 = match std::fs::read_to_string(&v4_file) {
        Ok(t) => gateways::parse_ipv4(&t),
        Err(e) => return Err(Outcome::unknown(format!("cannot read {}: {e}", v4_file.display()))),
    };
    // Absent when IPv6 is disabled: no IPv6 routes then.
    let v6 =
        std::fs::read_to_string(host.proc_path("net/ipv6_route")).map(|t| gateways::parse_ipv6(&t)).unwrap_or_default();
    if v4.is_empty() && v6.is_empty() {
        return Err(Outcome::fail("no default route"));
    }
    let mut out = gateways::best_gateways(&v4);
    out.extend(gateways::best_gateways(&v6));
    Ok(out)
}

/// Pass when all passed; otherwise every reason, Fail if anything failed.
pub fn combine(outcomes: &[Outcome]) -> Outcome {
    let reasons: Vec<&str> = outcomes.iter().filter_map(Outcome::reason).collect();
    if reasons.is_empty() {
        Outcome::Pass
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Fail(_))) {
        Outcome::fail(reasons.join("; "))
    } else {
        Outcome::unknown(reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_reasons() {
        assert_eq!(combine(&[Outcome::Pass, Outcome::Pass]), Outcome::Pass);
        assert_eq!(combine(&[Outcome::fail("a"), Outcome::unknown("b")]), Outcome::fail("a; b"));
        assert_eq!(combine(&[Outcome::Pass, Outcome::unknown("b")]), Outcome::unknown("b"));
    }

    #[test]
    fn work_ends_before_the_deadline() {
        let now = Instant::now();
        assert_eq!(work_end(now, now + Duration::from_millis(1000)), now + Duration::from_millis(970));
        assert_eq!(work_end(now, now + Duration::from_millis(100)), now + Duration::from_millis(90));
        assert_eq!(work_end(now, now), now);
    }

    #[test]
    fn no_default_route() {
        let dir = crate::testutil::TempDir::new("noroute");
        dir.write("net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n");
        let host = HostPaths::new("/", &dir.0);
        assert_eq!(default_gateways(&host), Err(Outcome::fail("no default route")));
    }
}
