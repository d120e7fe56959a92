//! Default gateways from `/proc/net/route` (IPv4) and `/proc/net/ipv6_route`
//! (IPv6). Pure parsers over the file text.
//!
//! Which gateways count: per address family, the default routes with the
//! lowest metric (the ones traffic takes; several on ECMP). A backup default
//! route with a higher metric is not judged: its gateway being down does not
//! stop traffic. Routes flagged reject/unreachable are ignored; a default
//! route without a gateway (`default dev wg0`) has nothing to ping.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The gateway type is the one NETWORK_GATEWAYS parses into (config sits
/// below host, so it owns the type).
pub use crate::config::Gateway;

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;

/// A default route as the kernel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultRoute {
    pub dev: String,
    /// `None` for a device route (`default dev wg0`).
    pub gateway: Option<IpAddr>,
    pub metric: u32,
}

/// Default routes in `/proc/net/route` text.
pub fn parse_ipv4(text: &str) -> Vec<DefaultRoute> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dest), Some(gw), Some(flags), Ok(metric), Some(mask)) =
            (hex(f[1]), hex(f[2]), hex(f[3]), f[6].parse::<u32>(), hex(f[7]))
        else {
            continue;
        };
        if dest != 0 || mask != 0 || flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
            continue;
        }
        // The kernel prints the __be32 as a native integer ("%08X"):
        // its native-endian bytes are the address in network order.
        let gateway = (flags & RTF_GATEWAY != 0 && gw != 0).then(|| IpAddr::V4(Ipv4Addr::from(gw.to_ne_bytes())));
        out.push(DefaultRoute { dev: f[0].to_string(), gateway, metric });
    }
    out
}

/// Default routes in `/proc/net/ipv6_route` text
/// (`dest plen src plen nexthop metric refcnt use flags dev`, all hex).
pub fn parse_ipv6(text: &str) -> Vec<DefaultRoute> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(dest), Ok(plen), Some(nexthop), Ok(metric), Ok(flags)) = (
            hex_ipv6(f[0]),
            u8::from_str_radix(f[1], 16),
            hex_ipv6(f[4]),
            u32::from_str_radix(f[5], 16),
            u32::from_str_radix(f[8], 16),
        ) else {
            continue;
        };
        if !dest.is_unspecified() || plen != 0 || flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
            continue;
        }
        let gateway = (flags & RTF_GATEWAY != 0 && !nexthop.is_unspecified()).then_some(IpAddr::V6(nexthop));
        out.push(DefaultRoute { dev: f[9].to_string(), gateway, metric });
    }
    out
}

fn hex_ipv6(s: &str) -> Option<Ipv6Addr> {
    if s.len() != 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from)
}

/// The gateways to ping: those of the lowest-metric default route(s) of
/// one family. Empty when the best routes have no gateway.
pub fn best_gateways(routes: &[DefaultRoute]) -> Vec<Gateway> {
    let Some(best) = routes.iter().map(|r| r.metric).min() else {
        return Vec::new();
    };
    let mut out: Vec<Gateway> = Vec::new();
    for r in routes.iter().filter(|r| r.metric == best) {
        if let Some(addr) = r.gateway {
            let gw = Gateway { addr, dev: Some(r.dev.clone()) };
            if !out.contains(&gw) {
                out.push(gw);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written in the kernel's format (net/ipv4/fib_trie.c): DHCP default
    // on eth0, a backup default on eth1, an on-link /24 and a static route.
    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT \n\
        eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0 \n\
        eth1\t00000000\tFE0200C0\t0003\t0\t0\t200\t00000000\t0\t0\t0 \n\
        eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0 \n\
        eth0\t000033C6\t010200C0\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0 \n";

    #[test]
    #[cfg(target_endian = "little")]
    fn ipv4_default_routes() {
        let r = parse_ipv4(ROUTE);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0], DefaultRoute { dev: "eth0".into(), gateway: Some("192.0.2.1".parse().unwrap()), metric: 100 });
        assert_eq!(r[1].gateway, Some("192.0.2.254".parse().unwrap()));
        let best = best_gateways(&r);
        assert_eq!(best, vec![Gateway { addr: "192.0.2.1".parse().unwrap(), dev: Some("eth0".into()) }]);
        assert_eq!(best[0].to_string(), "192.0.2.1 (eth0)");
    }

    #[test]
    fn ipv4_without_default_route_or_with_device_route() {
        let header = ROUTE.lines().next().unwrap();
        assert!(parse_ipv4(header).is_empty());
        assert!(parse_ipv4("").is_empty());
        let dev_only = format!("{header}\nwg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n");
        let r = parse_ipv4(&dev_only);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].gateway, None);
        assert!(best_gateways(&r).is_empty());
        let reject = format!("{header}\nlo\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n");
        assert!(parse_ipv4(&reject).is_empty());
    }

    // Hand-written in the kernel's format (net/ipv6/route.c): the RA default
    // route via a link-local router, the unreachable default on lo, a /64,
    // a local route and multicast.
    const IPV6_ROUTE: &str = "\
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00450003 eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001 lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000004 00000000 00000001 eth0
";

    #[test]
    fn ipv6_default_routes() {
        let r = parse_ipv6(IPV6_ROUTE);
        assert_eq!(
            r,
            vec![DefaultRoute { dev: "eth0".into(), gateway: Some("fe80::1".parse().unwrap()), metric: 1024 }]
        );
        assert_eq!(best_gateways(&r)[0].to_string(), "fe80::1 (eth0)");
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in ["x", "Iface\n\t\t\t\t\t\t\t\t", "a b c d e f g h i j", "00 zz 00 00 00 00 00 00 00 00"] {
            let _ = parse_ipv4(t);
            let _ = parse_ipv6(t);
        }
        assert!(parse_ipv6(&"0".repeat(32)).is_empty());
    }

    #[test]
    fn gateway_parsing() {
        assert_eq!(Gateway::parse("192.0.2.1").unwrap().dev, None);
        assert_eq!(Gateway::parse("fe80::1%eth0").unwrap().dev.as_deref(), Some("eth0"));
        assert!(Gateway::parse("fe80::1%eth0").unwrap().is_link_local());
        assert!(!Gateway::parse("2001:db8::1").unwrap().is_link_local());
        assert_eq!(Gateway::parse("[2001:db8::1]").unwrap().addr, "2001:db8::1".parse::<IpAddr>().unwrap());
        for bad in ["", "gw", "192.0.2.1%eth0", "fe80::1%", "300.1.1.1"] {
            assert_eq!(Gateway::parse(bad), None, "{bad}");
        }
    }
}
