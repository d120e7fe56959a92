//! Nameservers from `resolv.conf(5)`, read the way glibc's resolver reads
//! them: `nameserver ADDR` lines, `#` or `;` comments, invalid addresses
//! skipped, at most [`MAXNS`] kept. IPv6 addresses may carry a scope
//! (`fe80::1%eth0` or `fe80::1%2`).

use std::fmt;
use std::net::IpAddr;

/// glibc's limit: further nameserver lines are ignored.
pub const MAXNS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Nameserver {
    pub addr: IpAddr,
    /// Interface name or number after `%` (IPv6 link-local).
    pub scope: Option<String>,
}

impl fmt::Display for Nameserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Some(s) => write!(f, "{}%{s}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// The nameservers of a resolv.conf text, in order, at most [`MAXNS`].
pub fn nameservers(text: &str) -> Vec<Nameserver> {
    let mut out = Vec::new();
    for line in text.lines() {
        // glibc matches the keyword at the very start of the line, so
        // indented lines and comments ('#', ';') never match.
        let mut words = line.split_whitespace();
        if !line.starts_with("nameserver") || words.next() != Some("nameserver") {
            continue;
        }
        let Some(word) = words.next() else { continue };
        let (ip, scope) = match word.split_once('%') {
            Some((ip, s)) => (ip, Some(s.to_string()).filter(|s| !s.is_empty())),
            None => (word, None),
        };
        let Ok(addr) = ip.parse::<IpAddr>() else { continue };
        if addr.is_ipv4() && scope.is_some() {
            continue;
        }
        out.push(Nameserver { addr, scope });
        if out.len() == MAXNS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_resolved_stub() {
        let text = "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n\
                    nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.test\n";
        assert_eq!(nameservers(text), vec![Nameserver { addr: "127.0.0.53".parse().unwrap(), scope: None }]);
    }

    #[test]
    fn ipv6_scopes_limits_comments_and_junk() {
        let text = "; comment\n#nameserver 192.0.2.9\nnameserver\nnameserver not-an-ip\n\
                    nameserver  2001:db8::53 # trailing comment\n\
                    \tnameserver 192.0.2.8\nnameserver fe80::1%eth0\nnameserver 192.0.2.1%eth0\nnameserver 192.0.2.53\n\
                    nameserver 192.0.2.54\n";
        let ns = nameservers(text);
        let shown: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["2001:db8::53", "fe80::1%eth0", "192.0.2.53"]);
    }

    #[test]
    fn empty_and_garbage() {
        assert!(nameservers("").is_empty());
        assert!(nameservers("search a\noptions ndots:5\n").is_empty());
        assert!(nameservers("nameserver \u{0}\u{ff}\nnameserver%\n").is_empty());
    }
}
