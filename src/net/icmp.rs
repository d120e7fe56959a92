//! ICMP echo: the packets (pure functions) and the socket to send them.
//!
//! Linux offers two ways to ping. An unprivileged ICMP *datagram* socket
//! (`SOCK_DGRAM`, `IPPROTO_ICMP`/`ICMPV6`) is allowed when our group is in
//! `net.ipv4.ping_group_range` (it also governs IPv6); the kernel then owns
//! the echo identifier and hands us only replies to our own echoes, without
//! the IP header. Otherwise a *raw* socket needs `CAP_NET_RAW`; it sees every
//! ICMP packet (IPv4 ones with their IP header), so replies are matched by
//! identifier and sequence here.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Protocol, Socket, Type};

use super::describe;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// Which kind of socket we got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Datagram,
    Raw,
}

/// A connected ICMP socket to one address.
pub struct Pinger {
    pub socket: Socket,
    pub kind: Kind,
    v6: bool,
    ident: u16,
}

impl Pinger {
    /// Opens a non-blocking socket connected to `addr` (IPv6 link-local:
    /// `scope_id` is the interface index). Datagram first, raw second; when
    /// neither is permitted the error says why both failed.
    pub fn open(addr: IpAddr, scope_id: u32, ident: u16) -> Result<Pinger, String> {
        let (domain, proto) = match addr {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
        };
        let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
            Ok(s) => (s, Kind::Datagram),
            Err(dgram) => match Socket::new(domain, Type::RAW, Some(proto)) {
                Ok(s) => (s, Kind::Raw),
                Err(raw) if is_permission(&dgram) && is_permission(&raw) => {
                    return Err("cannot ping: ICMP datagram socket not permitted (net.ipv4.ping_group_range) \
                                and raw socket needs CAP_NET_RAW"
                        .into());
                }
                Err(raw) => return Err(format!("cannot ping: ICMP datagram socket: {dgram}; raw socket: {raw}")),
            },
        };
        let dest = match addr {
            IpAddr::V4(a) => SocketAddr::new(a.into(), 0),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope_id)),
        };
        socket.set_nonblocking(true).map_err(|e| format!("cannot ping: {e}"))?;
        socket.connect(&dest.into()).map_err(|e| format!("cannot ping: {}", describe(&e)))?;
        Ok(Pinger { socket, kind, v6: addr.is_ipv6(), ident })
    }

    /// Sends echo request number `seq`.
    pub fn send(&self, seq: u16) -> io::Result<()> {
        self.socket.send(&echo_request(self.v6, self.ident, seq)).map(|_| ())
    }

    /// Reads every queued datagram; true if one is an echo reply to us.
    /// Errors other than "nothing more to read" are returned (an ICMP error
    /// queued on the socket, e.g. host unreachable).
    pub fn drain(&self) -> io::Result<bool> {
        let mut got = false;
        let mut buf = [0u8; 1500];
        loop {
            match io::Read::read(&mut &self.socket, &mut buf) {
                Ok(n) => got |= is_our_reply(&buf[..n], self.v6, self.kind, self.ident),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return if got { Ok(true) } else { Err(e) },
            }
        }
    }
}

fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
}

/// An echo request: type, code, checksum, identifier, sequence, 8 bytes of
/// payload. The checksum is needed for raw IPv4; the kernel fills it in for
/// datagram sockets and for ICMPv6.
pub fn echo_request(v6: bool, ident: u16, seq: u16) -> Vec<u8> {
    let ty = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    let mut p = vec![ty, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"hnre-gw?");
    if !v6 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// RFC 1071 Internet checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Is `packet` (as read from the socket) an echo reply to our requests?
/// Datagram sockets only deliver our own replies, with the identifier
/// rewritten by the kernel; raw sockets deliver everything.
pub fn is_our_reply(packet: &[u8], v6: bool, kind: Kind, ident: u16) -> bool {
    let icmp = match (v6, kind) {
        (false, Kind::Raw) => {
            // Raw IPv4 sockets include the IP header: skip IHL words.
            let Some(&vihl) = packet.first() else { return false };
            if vihl >> 4 != 4 {
                return false;
            }
            packet.get(((vihl & 0x0f) as usize) * 4..).unwrap_or(&[])
        }
        _ => packet,
    };
    if icmp.len() < 8 || icmp[1] != 0 {
        return false;
    }
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    icmp[0] == want && (kind == Kind::Datagram || u16::from_be_bytes([icmp[4], icmp[5]]) == ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksum_verifies() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!((p[0], p[4], p[5], p[6], p[7]), (8, 0x12, 0x34, 0, 7));
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(echo_request(true, 1, 1)[0], 128);
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2u16, "RFC 1071 example");
    }

    #[test]
    fn replies_are_matched() {
        let mut reply = echo_request(false, 0x1234, 1);
        reply[0] = 0;
        assert!(is_our_reply(&reply, false, Kind::Datagram, 0));
        let mut ip = vec![0x45u8; 1];
        ip.extend_from_slice(&[0; 19]);
        ip.extend_from_slice(&reply);
        assert!(is_our_reply(&ip, false, Kind::Raw, 0x1234));
        assert!(!is_our_reply(&ip, false, Kind::Raw, 0x9999), "another pinger's reply");
        assert!(!is_our_reply(&echo_request(false, 0x1234, 1), false, Kind::Datagram, 0), "a request");
        let mut v6 = echo_request(true, 5, 1);
        v6[0] = 129;
        assert!(is_our_reply(&v6, true, Kind::Raw, 5));
        for n in 0..ip.len() {
            let _ = is_our_reply(&ip[..n], false, Kind::Raw, 0x1234);
        }
        assert!(!is_our_reply(&[0x4f], false, Kind::Raw, 0));
    }
}
