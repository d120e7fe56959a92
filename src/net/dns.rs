//! DNS over UDP wire format (RFC 1035 §4), just enough to ask one question
//! and judge the answer: build a query, validate a reply (ID, QR, opcode,
//! question echoed back), read RCODE and count A/AAAA answers. Pure
//! functions over bytes; a reply that does not parse is an error, never a
//! panic.

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const HEADER_LEN: usize = 12;
/// Longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_NXDOMAIN: u8 = 3;

/// What a valid reply says.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub rcode: u8,
    pub truncated: bool,
    /// A and AAAA records in the answer section (any owner: CNAME chains
    /// end in one).
    pub addresses: usize,
}

/// Why a datagram is not the reply to our query.
#[derive(Debug, Clone, PartialEq)]
pub enum BadReply {
    /// Not for this query (other ID, or a query instead of a reply): keep
    /// waiting, it may be a late reply to an earlier probe.
    NotOurs,
    /// Ours but unreadable or answering another question.
    Malformed(&'static str),
}

/// A query for `name` (`""` = the root) of `qtype`, class IN, recursion desired.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&FLAG_RD.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1 AN=0 NS=0 AR=0
    for label in name.split('.').filter(|l| !l.is_empty()) {
        // Config validation keeps labels ≤ 63 bytes; cut defensively anyway.
        let l = &label.as_bytes()[..label.len().min(63)];
        q.push(l.len() as u8);
        q.extend_from_slice(l);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

/// Validates `buf` as the reply to `build_query(id, name, qtype)`.
pub fn parse_reply(buf: &[u8], id: u16, name: &str, qtype: u16) -> Result<Reply, BadReply> {
    if buf.len() < HEADER_LEN {
        return Err(BadReply::NotOurs);
    }
    let flags = u16::from_be_bytes([buf[2], buf[3]]);
    if u16::from_be_bytes([buf[0], buf[1]]) != id || flags & FLAG_QR == 0 {
        return Err(BadReply::NotOurs);
    }
    if (flags >> 11) & 0xf != 0 {
        return Err(BadReply::Malformed("reply with another opcode"));
    }
    let rcode = (flags & 0xf) as u8;
    let truncated = flags & FLAG_TC != 0;
    let qdcount = u16::from_be_bytes([buf[4], buf[5]]);
    let ancount = u16::from_be_bytes([buf[6], buf[7]]);
    let mut pos = HEADER_LEN;
    match qdcount {
        // Some servers drop the question from error replies.
        0 if rcode != RCODE_NOERROR => return Ok(Reply { rcode, truncated, addresses: 0 }),
        1 => {
            let (qname, next) = read_name(buf, pos).ok_or(BadReply::Malformed("bad question"))?;
            let rest = buf.get(next..next + 4).ok_or(BadReply::Malformed("bad question"))?;
            let same_name = qname.eq_ignore_ascii_case(name.trim_end_matches('.'));
            if !same_name || u16::from_be_bytes([rest[0], rest[1]]) != qtype {
                return Err(BadReply::Malformed("reply to another question"));
            }
            pos = next + 4;
        }
        _ => return Err(BadReply::Malformed("bad question count")),
    }
    let mut addresses = 0;
    for _ in 0..ancount {
        let Some((_, next)) = read_name(buf, pos) else {
            // A truncated reply may end mid-record: count what arrived.
            return if truncated {
                Ok(Reply { rcode, truncated, addresses })
            } else {
                Err(BadReply::Malformed("bad answer"))
            };
        };
        let Some(rr) = buf.get(next..next + 10) else {
            return if truncated {
                Ok(Reply { rcode, truncated, addresses })
            } else {
                Err(BadReply::Malformed("bad answer"))
            };
        };
        let rtype = u16::from_be_bytes([rr[0], rr[1]]);
        let class = u16::from_be_bytes([rr[2], rr[3]]);
        let rdlen = u16::from_be_bytes([rr[8], rr[9]]) as usize;
        pos = next + 10 + rdlen;
        if pos > buf.len() {
            return if truncated {
                Ok(Reply { rcode, truncated, addresses })
            } else {
                Err(BadReply::Malformed("bad answer"))
            };
        }
        if class == CLASS_IN && ((rtype == TYPE_A && rdlen == 4) || (rtype == TYPE_AAAA && rdlen == 16)) {
            addresses += 1;
        }
    }
    Ok(Reply { rcode, truncated, addresses })
}

/// Reads the (possibly compressed) name at `pos`: the dotted name (`""` for
/// the root) and the position after it in the message. `None` on loops,
/// overlong names, bad label types or running off the end.
fn read_name(buf: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None; // position after the name, fixed at the first pointer
    let mut wire_len = 0;
    for _ in 0..MAX_NAME_LEN {
        let len = *buf.get(pos)? as usize;
        match len >> 6 {
            0 if len == 0 => return Some((name, end.unwrap_or(pos + 1))),
            0 => {
                let label = buf.get(pos + 1..pos + 1 + len)?;
                wire_len += len + 1;
                if wire_len > MAX_NAME_LEN {
                    return None;
                }
                if !name.is_empty() {
                    name.push('.');
                }
                name.extend(label.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }));
                pos += 1 + len;
            }
            3 => {
                let target = ((len & 0x3f) << 8) | *buf.get(pos + 1)? as usize;
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None, // 0b01 / 0b10 label types are obsolete
        }
    }
    None // more hops than a name can have: a pointer loop
}

/// `NOERROR`, `SERVFAIL`, … for reasons.
pub fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply the way a server would send it: header, question echoed back,
    /// `answers` as (type, rdata) with a compression pointer to the question.
    fn reply(id: u16, flags: u16, name: &str, qtype: u16, answers: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = build_query(id, name, qtype);
        b[2..4].copy_from_slice(&(flags | FLAG_QR).to_be_bytes());
        b[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for (rtype, rdata) in answers {
            b.extend_from_slice(&[0xc0, 12]); // pointer to the question name
            b.extend_from_slice(&rtype.to_be_bytes());
            b.extend_from_slice(&CLASS_IN.to_be_bytes());
            b.extend_from_slice(&300u32.to_be_bytes());
            b.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            b.extend_from_slice(rdata);
        }
        b
    }

    #[test]
    fn query_bytes() {
        assert_eq!(
            build_query(0xabcd, "a.bc", TYPE_A),
            [0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1]
        );
        // The root: a single zero byte for the name.
        assert_eq!(&build_query(1, "", TYPE_NS)[12..], [0, 0, 2, 0, 1]);
    }

    #[test]
    fn answers_are_counted() {
        let cname: &[u8] = &[1, b'x', 0];
        let r = reply(7, 0x0180, "ready.test", TYPE_A, &[(5, cname), (TYPE_A, &[192, 0, 2, 10])]);
        assert_eq!(parse_reply(&r, 7, "ready.test", TYPE_A), Ok(Reply { rcode: 0, truncated: false, addresses: 1 }));
        assert_eq!(parse_reply(&r, 7, "READY.test.", TYPE_A).unwrap().addresses, 1, "names compare case-insensitively");
        let aaaa = reply(
            8,
            0x0180,
            "ready.test",
            TYPE_AAAA,
            &[(TYPE_AAAA, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])],
        );
        assert_eq!(parse_reply(&aaaa, 8, "ready.test", TYPE_AAAA).unwrap().addresses, 1);
        // An A record with the wrong length does not count.
        let bad_a = reply(9, 0x0180, "ready.test", TYPE_A, &[(TYPE_A, &[1, 2, 3])]);
        assert_eq!(parse_reply(&bad_a, 9, "ready.test", TYPE_A).unwrap().addresses, 0);
    }

    #[test]
    fn rcodes_and_root() {
        let nx = reply(1, 0x0183, "nope.test", TYPE_A, &[]);
        assert_eq!(parse_reply(&nx, 1, "nope.test", TYPE_A).unwrap().rcode, RCODE_NXDOMAIN);
        let root = reply(2, 0x0180, "", TYPE_NS, &[(TYPE_NS, &[1, b'a', 0])]);
        assert_eq!(parse_reply(&root, 2, "", TYPE_NS), Ok(Reply { rcode: 0, truncated: false, addresses: 0 }));
        // REFUSED without the question section.
        let mut refused = reply(3, 0x0105, "", TYPE_NS, &[]);
        refused.truncate(HEADER_LEN);
        refused[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(parse_reply(&refused, 3, "", TYPE_NS).unwrap().rcode, 5);
        assert_eq!(rcode_name(2), "SERVFAIL");
        assert_eq!(rcode_name(11), "RCODE 11");
    }

    #[test]
    fn not_ours_and_mismatches() {
        let r = reply(7, 0x0180, "ready.test", TYPE_A, &[]);
        assert_eq!(parse_reply(&r, 8, "ready.test", TYPE_A), Err(BadReply::NotOurs));
        let q = build_query(7, "ready.test", TYPE_A);
        assert_eq!(parse_reply(&q, 7, "ready.test", TYPE_A), Err(BadReply::NotOurs), "a query is not a reply");
        assert!(matches!(parse_reply(&r, 7, "other.test", TYPE_A), Err(BadReply::Malformed(_))));
        assert!(matches!(parse_reply(&r, 7, "ready.test", TYPE_AAAA), Err(BadReply::Malformed(_))));
    }

    #[test]
    fn truncated_and_garbage_never_panic() {
        let full = reply(7, 0x0180, "ready.test", TYPE_A, &[(TYPE_A, &[192, 0, 2, 10]), (TYPE_A, &[192, 0, 2, 11])]);
        for n in 0..full.len() {
            let _ = parse_reply(&full[..n], 7, "ready.test", TYPE_A);
        }
        // With TC set, a cut answer section counts what arrived.
        let mut tc = full.clone();
        tc[2..4].copy_from_slice(&(0x0180 | FLAG_TC | FLAG_QR).to_be_bytes());
        let cut = &tc[..tc.len() - 3];
        assert_eq!(parse_reply(cut, 7, "ready.test", TYPE_A), Ok(Reply { rcode: 0, truncated: true, addresses: 1 }));
        // Pointer loops and forward garbage.
        let mut looped = full.clone();
        looped[12] = 0xc0;
        looped[13] = 12;
        assert!(parse_reply(&looped, 7, "ready.test", TYPE_A).is_err());
        let mut x: u32 = 0x1234_5678;
        for len in 0..300usize {
            let mut g: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            if g.len() >= 4 {
                g[0..2].copy_from_slice(&7u16.to_be_bytes());
                g[2] |= 0x80;
            }
            let _ = parse_reply(&g, 7, "ready.test", TYPE_A);
        }
    }
}
