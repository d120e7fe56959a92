//! The network on the wire: DNS queries (`dns`) and ICMP echo (`icmp`), each
//! a pure packet codec plus the socket that sends it, and the helpers both
//! probes share (scope ids, random ids, socket errors worded for reasons).

pub mod dns;
pub mod icmp;

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::Ipv6Addr;

use crate::sys;

/// Interface index for a link-local address: `%2` or `%eth0`; 0 otherwise.
pub fn scope_id(addr: Ipv6Addr, scope: Option<&str>) -> Result<u32, String> {
    match scope {
        _ if !addr.is_unicast_link_local() => Ok(0),
        None => Err("link-local address without %interface".into()),
        Some(s) => s.parse().ok().or_else(|| sys::if_nametoindex(s)).ok_or_else(|| format!("no interface {s}")),
    }
}

/// A socket error worded for a reason.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EHOSTUNREACH) => "host unreachable".into(),
        Some(libc::ENETUNREACH) => "network unreachable".into(),
        Some(libc::ENETDOWN) => "network is down".into(),
        Some(libc::EINVAL) => "invalid address (link-local needs its interface)".into(),
        _ => e.to_string(),
    }
}

/// A DNS query ID or ICMP echo identifier that is hard to guess (std seeds `RandomState` from the OS).
pub fn random_id() -> u16 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_ids() {
        assert_eq!(scope_id("2001:db8::1".parse().unwrap(), None), Ok(0));
        assert_eq!(scope_id("fe80::1".parse().unwrap(), Some("7")), Ok(7));
        assert!(scope_id("fe80::1".parse().unwrap(), Some("lo")).is_ok());
        assert!(scope_id("fe80::1".parse().unwrap(), None).is_err());
        assert!(scope_id("fe80::1".parse().unwrap(), Some("no-such-if0")).is_err());
    }

    #[test]
    fn ids_vary() {
        let ids: std::collections::HashSet<u16> = (0..50).map(|_| random_id()).collect();
        assert!(ids.len() > 40);
    }
}
