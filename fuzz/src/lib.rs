//! The service's parsers, compiled from `../src` for the fuzz targets (the
//! binary crate has no library target). `#[path = "../../src"]` on an inline
//! module makes every `mod x;` below load `../src/x.rs` exactly as the binary
//! does, nested modules included; `crate::…` paths inside them resolve
//! through the re-exports at the bottom. Each `fuzz_*` function is one
//! target's whole body, so the targets stay one line and the regression
//! tests (`tests/regressions.rs`) replay crashes through the same code.
#![allow(dead_code, unused_imports, clippy::all)]

#[path = "../../src"]
pub mod src {
    pub mod cri;
    pub mod http;
    pub mod timefmt;
}

pub use src::{cri, http, timefmt};

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// HTTP request head: `parse_head` never panics, and a parsed head is
/// consistent with the buffer.
pub fn fuzz_http_head(data: &[u8]) {
    match http::parse_head(data) {
        Ok(Some((req, n))) => {
            assert!(n <= data.len() && n <= http::MAX_HEAD_BYTES);
            assert!(!req.path.contains('?'));
            if let Some(q) = req.query.as_deref() {
                let _ = http::query_pairs(q);
            }
        }
        Ok(None) => assert!(data.len() < http::MAX_HEAD_BYTES),
        Err(_) => {}
    }
}

/// Query decoding: `query_pairs` never panics; a decoded query re-encoded
/// decodes to the same pairs.
pub fn fuzz_http_query(data: &[u8]) {
    let Ok(q) = std::str::from_utf8(data) else { return };
    if let Ok(pairs) = http::query_pairs(q) {
        let encoded: Vec<String> =
            pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
        let again = http::query_pairs(&encoded.join("&")).expect("re-encoded query decodes");
        assert_eq!(again, pairs);
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b',' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// HPACK header block decoding with a small dynamic table, several blocks
/// per input (the table carries over, as on a connection).
pub fn fuzz_hpack(data: &[u8]) {
    let mut dec = cri::hpack::Decoder::new(4096);
    for block in data.split(|&b| b == 0xff).take(8) {
        let _ = dec.decode(block);
    }
    let mut out = Vec::new();
    let _ = cri::huffman::decode(data, &mut out);
}

/// An in-memory peer: reads come from the fuzz input, writes are dropped.
struct Peer<'a> {
    input: &'a [u8],
}

impl Read for Peer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Peer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl cri::h2::Transport for Peer<'_> {
    fn set_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }
}

/// The whole client side of one unary gRPC call against arbitrary server
/// bytes: HTTP/2 frames, HPACK, gRPC framing, protobuf.
pub fn fuzz_h2_response(data: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let Ok(mut conn) = cri::h2::Conn::new(Peer { input: data }, deadline) else { return };
    let headers = cri::grpc::request_headers("/runtime.v1.RuntimeService/Status", Duration::from_secs(1));
    let body = cri::grpc::frame_message(&cri::proto::encode_status_request(false));
    if let Ok(resp) = conn.request(&headers, &body)
        && let Ok(msg) = cri::grpc::reply_message(&resp)
    {
        let _ = cri::proto::decode_status_response(&msg);
    }
}

/// Protobuf `StatusResponse` decoding, and gRPC's percent-decoding.
pub fn fuzz_proto(data: &[u8]) {
    let _ = cri::proto::decode_status_response(data);
    let _ = cri::grpc::percent_decode(data);
}
