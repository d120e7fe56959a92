//! HPACK (RFC 7541): a decoder with the static table, the dynamic table and
//! Huffman strings, and the one encoding we send: literal header fields
//! without indexing, no Huffman (§6.2.2) — valid for any peer and no state.
//!
//! Every length from the peer is checked: a malformed block is an error,
//! never a panic, and the decoded header list is capped.

use std::collections::VecDeque;

use super::huffman;

/// Our SETTINGS_HEADER_TABLE_SIZE: we never advertise another value, so the
/// peer may not grow the dynamic table past the protocol default.
pub const TABLE_SIZE: usize = 4096;

/// Cap of one decoded header list (name + value + 32 per field, §4.1 style).
/// CRI responses carry a handful of small headers; this is generous.
pub const MAX_HEADER_LIST: usize = 64 * 1024;

/// RFC 7541 Appendix A.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// One decoded header field, as raw octets (HTTP/2 field values are bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

impl Field {
    fn size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HpackError {
    Truncated,
    IntegerOverflow,
    BadIndex(u64),
    Huffman,
    /// A size update above our advertised maximum, or not at block start.
    BadSizeUpdate,
    TooLarge,
}

impl std::fmt::Display for HpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HpackError::Truncated => f.write_str("truncated header block"),
            HpackError::IntegerOverflow => f.write_str("integer overflow in header block"),
            HpackError::BadIndex(i) => write!(f, "header table index {i} out of range"),
            HpackError::Huffman => f.write_str("invalid Huffman string in header block"),
            HpackError::BadSizeUpdate => f.write_str("invalid dynamic table size update"),
            HpackError::TooLarge => f.write_str("header list too large"),
        }
    }
}

/// Decoder state of one connection: the dynamic table (newest first).
pub struct Decoder {
    table: VecDeque<Field>,
    size: usize,
    max_size: usize,
    /// Upper bound for size updates (our SETTINGS_HEADER_TABLE_SIZE).
    limit: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(TABLE_SIZE)
    }
}

impl Decoder {
    pub fn new(limit: usize) -> Decoder {
        Decoder { table: VecDeque::new(), size: 0, max_size: limit, limit }
    }

    /// Current dynamic table size in RFC octets (for tests and debugging).
    #[cfg(test)]
    pub fn table_size(&self) -> usize {
        self.size
    }

    /// Decodes one complete header block.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, HpackError> {
        let mut r = Reader { buf: block, pos: 0 };
        let mut out = Vec::new();
        let mut list_size = 0usize;
        let mut at_start = true;
        while let Some(first) = r.peek() {
            if first & 0x80 != 0 {
                let idx = r.integer(7)?;
                out.push(self.get(idx)?);
            } else if first & 0x40 != 0 {
                let field = self.literal(&mut r, 6)?;
                self.insert(field.clone());
                out.push(field);
            } else if first & 0x20 != 0 {
                // §4.2: size updates only at the start of a block.
                if !at_start {
                    return Err(HpackError::BadSizeUpdate);
                }
                let size = r.integer(5)?;
                if size > self.limit as u64 {
                    return Err(HpackError::BadSizeUpdate);
                }
                self.max_size = size as usize;
                self.evict(0);
                continue;
            } else {
                // 0000xxxx without indexing, 0001xxxx never indexed.
                out.push(self.literal(&mut r, 4)?);
            }
            at_start = false;
            list_size = list_size.saturating_add(out.last().map_or(0, Field::size));
            if list_size > MAX_HEADER_LIST {
                return Err(HpackError::TooLarge);
            }
        }
        Ok(out)
    }

    fn get(&self, idx: u64) -> Result<Field, HpackError> {
        let i = usize::try_from(idx).map_err(|_| HpackError::BadIndex(idx))?;
        if i == 0 {
            return Err(HpackError::BadIndex(idx));
        }
        if let Some((n, v)) = STATIC.get(i - 1) {
            return Ok(Field { name: n.as_bytes().to_vec(), value: v.as_bytes().to_vec() });
        }
        self.table.get(i - 1 - STATIC.len()).cloned().ok_or(HpackError::BadIndex(idx))
    }

    fn literal(&mut self, r: &mut Reader, prefix: u8) -> Result<Field, HpackError> {
        let idx = r.integer(prefix)?;
        let name = if idx == 0 { r.string()? } else { self.get(idx)?.name };
        let value = r.string()?;
        Ok(Field { name, value })
    }

    /// §4.4: evicts until the entry fits; an entry larger than the table
    /// empties it and is not added.
    fn insert(&mut self, field: Field) {
        let size = field.size();
        self.evict(size);
        if size <= self.max_size {
            self.size += size;
            self.table.push_front(field);
        }
    }

    /// Evicts oldest entries until `room` more octets fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            match self.table.pop_back() {
                Some(f) => self.size -= f.size(),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8, HpackError> {
        let b = self.peek().ok_or(HpackError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// §5.1 integer with an N-bit prefix; the first byte's flag bits are
    /// masked off. Values past 2^32 are refused (nothing legitimate is that big).
    fn integer(&mut self, prefix: u8) -> Result<u64, HpackError> {
        let max_prefix = (1u16 << prefix) as u64 - 1;
        let mut value = u64::from(self.byte()?) & max_prefix;
        if value < max_prefix {
            return Ok(value);
        }
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            // Also bounds the shift: endless 0x80 continuation bytes add nothing.
            if shift > 28 {
                return Err(HpackError::IntegerOverflow);
            }
            value += u64::from(b & 0x7f) << shift;
            if value > u64::from(u32::MAX) {
                return Err(HpackError::IntegerOverflow);
            }
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// §5.2 string literal, Huffman-coded or plain.
    fn string(&mut self) -> Result<Vec<u8>, HpackError> {
        let huffman = self.peek().ok_or(HpackError::Truncated)? & 0x80 != 0;
        let len = self.integer(7)?;
        let len = usize::try_from(len).map_err(|_| HpackError::TooLarge)?;
        if len > MAX_HEADER_LIST {
            return Err(HpackError::TooLarge);
        }
        let end = self.pos.checked_add(len).ok_or(HpackError::Truncated)?;
        let raw = self.buf.get(self.pos..end).ok_or(HpackError::Truncated)?;
        self.pos = end;
        if huffman {
            let mut out = Vec::with_capacity(len * 8 / 5);
            huffman::decode(raw, &mut out).map_err(|_| HpackError::Huffman)?;
            Ok(out)
        } else {
            Ok(raw.to_vec())
        }
    }
}

/// Appends `n` as an HPACK integer with an N-bit prefix under `flags`.
pub fn encode_integer(out: &mut Vec<u8>, flags: u8, prefix: u8, mut n: usize) {
    let max_prefix = (1usize << prefix) - 1;
    if n < max_prefix {
        out.push(flags | n as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    n -= max_prefix;
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends a literal header field without indexing, new name, no Huffman.
pub fn encode_literal(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0x00);
    encode_integer(out, 0, 7, name.len());
    out.extend_from_slice(name.as_bytes());
    encode_integer(out, 0, 7, value.len());
    out.extend_from_slice(value.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
    }

    fn fields(list: &[(&str, &str)]) -> Vec<Field> {
        list.iter().map(|(n, v)| Field { name: n.as_bytes().to_vec(), value: v.as_bytes().to_vec() }).collect()
    }

    fn table(d: &Decoder) -> Vec<(String, String)> {
        d.table
            .iter()
            .map(|f| (String::from_utf8(f.name.clone()).unwrap(), String::from_utf8(f.value.clone()).unwrap()))
            .collect()
    }

    /// One block of an Appendix C sequence: input, expected list, expected
    /// dynamic table (newest first) and its size.
    struct Step<'a> {
        input: &'a str,
        output: &'a [(&'a str, &'a str)],
        table: &'a [(&'a str, &'a str)],
        size: usize,
    }

    fn run(limit: usize, steps: &[Step]) {
        let mut d = Decoder::new(limit);
        for (i, s) in steps.iter().enumerate() {
            let got = d.decode(&hex(s.input)).unwrap_or_else(|e| panic!("step {i}: {e}"));
            assert_eq!(got, fields(s.output), "step {i}");
            let want: Vec<(String, String)> = s.table.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            assert_eq!(table(&d), want, "step {i} table");
            assert_eq!(d.table_size(), s.size, "step {i} size");
        }
    }

    #[test]
    fn c1_integers() {
        let cases: &[(usize, u8, &[u8])] = &[(10, 5, &[0x0a]), (1337, 5, &[0x1f, 0x9a, 0x0a]), (42, 8, &[0x2a])];
        for &(n, prefix, bytes) in cases {
            let mut out = Vec::new();
            encode_integer(&mut out, 0, prefix, n);
            assert_eq!(out, bytes, "{n}");
            let mut r = Reader { buf: bytes, pos: 0 };
            assert_eq!(r.integer(prefix).unwrap(), n as u64);
        }
    }

    #[test]
    fn c2_literal_and_indexed_fields() {
        let c21 = "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572";
        run(
            4096,
            &[Step {
                input: c21,
                output: &[("custom-key", "custom-header")],
                table: &[("custom-key", "custom-header")],
                size: 55,
            }],
        );
        run(
            4096,
            &[Step {
                input: "040c 2f73 616d 706c 652f 7061 7468",
                output: &[(":path", "/sample/path")],
                table: &[],
                size: 0,
            }],
        );
        run(
            4096,
            &[Step {
                input: "1008 7061 7373 776f 7264 0673 6563 7265 74",
                output: &[("password", "secret")],
                table: &[],
                size: 0,
            }],
        );
        run(4096, &[Step { input: "82", output: &[(":method", "GET")], table: &[], size: 0 }]);
    }

    const REQ1: &[(&str, &str)] =
        &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    const REQ_T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
    const REQ_T2: &[(&str, &str)] = &[("cache-control", "no-cache"), (":authority", "www.example.com")];
    const REQ_T3: &[(&str, &str)] =
        &[("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")];

    #[test]
    fn c3_requests_without_huffman() {
        run(
            4096,
            &[
                Step {
                    input: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    output: REQ1,
                    table: REQ_T1,
                    size: 57,
                },
                Step { input: "8286 84be 5808 6e6f 2d63 6163 6865", output: REQ2, table: REQ_T2, size: 110 },
                Step {
                    input: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                    output: REQ3,
                    table: REQ_T3,
                    size: 164,
                },
            ],
        );
    }

    #[test]
    fn c4_requests_with_huffman() {
        run(
            4096,
            &[
                Step { input: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", output: REQ1, table: REQ_T1, size: 57 },
                Step { input: "8286 84be 5886 a8eb 1064 9cbf", output: REQ2, table: REQ_T2, size: 110 },
                Step {
                    input: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                    output: REQ3,
                    table: REQ_T3,
                    size: 164,
                },
            ],
        );
    }

    const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
    const DATE2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
    const LOC: &str = "https://www.example.com";
    const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
    const RESP1: &[(&str, &str)] =
        &[(":status", "302"), ("cache-control", "private"), ("date", DATE1), ("location", LOC)];
    const RESP2: &[(&str, &str)] =
        &[(":status", "307"), ("cache-control", "private"), ("date", DATE1), ("location", LOC)];
    const RESP3: &[(&str, &str)] = &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", DATE2),
        ("location", LOC),
        ("content-encoding", "gzip"),
        ("set-cookie", COOKIE),
    ];
    const RESP_T1: &[(&str, &str)] =
        &[("location", LOC), ("date", DATE1), ("cache-control", "private"), (":status", "302")];
    const RESP_T2: &[(&str, &str)] =
        &[(":status", "307"), ("location", LOC), ("date", DATE1), ("cache-control", "private")];
    const RESP_T3: &[(&str, &str)] = &[("set-cookie", COOKIE), ("content-encoding", "gzip"), ("date", DATE2)];

    #[test]
    fn c5_responses_without_huffman_evicting_at_256() {
        run(
            256,
            &[
                Step {
                    input: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                        2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                        6c65 2e63 6f6d",
                    output: RESP1,
                    table: RESP_T1,
                    size: 222,
                },
                Step { input: "4803 3330 37c1 c0bf", output: RESP2, table: RESP_T2, size: 222 },
                Step {
                    input: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                        54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                        5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                        3d31",
                    output: RESP3,
                    table: RESP_T3,
                    size: 215,
                },
            ],
        );
    }

    #[test]
    fn c6_responses_with_huffman_evicting_at_256() {
        run(
            256,
            &[
                Step {
                    input: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                        2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    output: RESP1,
                    table: RESP_T1,
                    size: 222,
                },
                Step { input: "4883 640e ffc1 c0bf", output: RESP2, table: RESP_T2, size: 222 },
                Step {
                    input: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                        77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                        9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                    output: RESP3,
                    table: RESP_T3,
                    size: 215,
                },
            ],
        );
    }

    #[test]
    fn size_update_evicts_and_is_bounded() {
        let mut d = Decoder::new(4096);
        d.decode(&hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")).unwrap();
        assert_eq!(d.table_size(), 55);
        // Size update to 0 (001 00000) empties the table; the index is then gone.
        assert_eq!(d.decode(&[0x20]).unwrap(), vec![]);
        assert_eq!(d.table_size(), 0);
        assert_eq!(d.decode(&[0xbe]), Err(HpackError::BadIndex(62)));
        // Above our advertised limit (4097 = 0x3f e2 1f).
        let mut big = Vec::new();
        encode_integer(&mut big, 0x20, 5, 4097);
        assert_eq!(d.decode(&big), Err(HpackError::BadSizeUpdate));
        // Not at the start of the block.
        assert_eq!(d.decode(&[0x82, 0x20]), Err(HpackError::BadSizeUpdate));
        // An entry larger than the table empties it and is not stored.
        let mut d = Decoder::new(40);
        d.decode(&hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")).unwrap();
        assert_eq!(d.table_size(), 0);
    }

    #[test]
    fn malformed_blocks_are_errors() {
        let mut d = Decoder::default();
        assert_eq!(d.decode(&[0x80]), Err(HpackError::BadIndex(0)));
        assert_eq!(d.decode(&[0xff, 0x80]), Err(HpackError::Truncated));
        assert_eq!(d.decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), Err(HpackError::IntegerOverflow));
        assert_eq!(
            d.decode(&[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]),
            Err(HpackError::IntegerOverflow)
        );
        assert_eq!(d.decode(&[0x00, 0x05, b'a']), Err(HpackError::Truncated));
        assert_eq!(d.decode(&[0x00, 0x01, b'a']), Err(HpackError::Truncated));
        assert_eq!(d.decode(&[0x00, 0x81, 0x00, 0x00]), Err(HpackError::Huffman));
        // A length prefix claiming more than the cap.
        let mut huge = vec![0x00];
        encode_integer(&mut huge, 0, 7, MAX_HEADER_LIST + 1);
        assert_eq!(d.decode(&huge), Err(HpackError::TooLarge));
        // Many small fields past the list cap.
        let mut many = Vec::new();
        for _ in 0..3000 {
            encode_literal(&mut many, "x-padding", "0123456789");
        }
        assert_eq!(d.decode(&many), Err(HpackError::TooLarge));
    }

    #[test]
    fn our_literals_decode() {
        let mut block = Vec::new();
        encode_literal(&mut block, ":path", "/runtime.v1.RuntimeService/Status");
        encode_literal(&mut block, "x-long", &"v".repeat(300));
        let got = Decoder::default().decode(&block).unwrap();
        assert_eq!(got, fields(&[(":path", "/runtime.v1.RuntimeService/Status"), ("x-long", &"v".repeat(300))]));
    }
}
