//! The network on the wire: DNS queries and ICMP echo, each a pure packet
//! codec plus the socket that sends it.

pub mod dns;
pub mod icmp;
