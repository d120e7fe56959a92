//! The fuzz targets' bodies, calling the parsers of the service's library.
//! Each `fuzz_*` function is one target's whole body: the targets stay one
//! line, and a crash input replays through the same code.

use harmony_node_readiness_endpoint::host::{gateways, mountinfo, resolv_conf};
use harmony_node_readiness_endpoint::net::{dns, icmp};
use harmony_node_readiness_endpoint::server::{chunked, http};
use harmony_node_readiness_endpoint::{checks, cri, kube};

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

/// Chunked request body: the decoder never panics, fed whole or in pieces
/// it reaches the same verdict, and it never claims more bytes than given.
pub fn fuzz_http_chunked(data: &[u8]) {
    let whole = {
        let mut c = chunked::Chunked::default();
        c.feed(data).map(|n| (n, c.is_done()))
    };
    if let Ok((n, _)) = whole {
        assert!(n <= data.len());
    }
    let split = data.first().map_or(1, |b| usize::from(*b % 7) + 1);
    let mut c = chunked::Chunked::default();
    let mut used = 0;
    let mut pieces = Ok((0, false));
    for piece in data.chunks(split) {
        match c.feed(piece) {
            Ok(n) => {
                used += n;
                pieces = Ok((used, c.is_done()));
                if c.is_done() {
                    break;
                }
            }
            Err(e) => {
                pieces = Err(e);
                break;
            }
        }
    }
    assert_eq!(whole, pieces, "the verdict does not depend on how the bytes arrive");
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

/// The verdicts of the three API checks on a Node, the way the service
/// forms them; every reason obeys the contract (one line, ≤ 200 chars).
fn verdicts(node: &kube::node::Node, rules: Option<&[checks::ConditionRule]>) {
    for outcome in [
        checks::node_ready::evaluate(node),
        checks::custom_conditions::evaluate(node, rules),
        checks::node_eligible::evaluate(node, false),
        checks::node_eligible::evaluate(node, true),
    ] {
        if let checks::Outcome::Fail(reason) | checks::Outcome::Unknown(reason) = &outcome {
            assert!(!reason.contains('\n'), "multi-line reason {reason:?}");
            assert!(reason.chars().count() <= checks::MAX_REASON_CHARS, "reason too long: {reason:?}");
        }
    }
}

/// Node JSON (a GET answer, a list answer, or the first line of the input
/// as a CUSTOM_CONDITIONS value followed by the JSON) → verdicts.
pub fn fuzz_node_json(data: &[u8]) {
    let (rules_text, json) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let rules = std::str::from_utf8(rules_text).ok().and_then(|t| checks::parse_condition_rules(t).ok()).flatten();
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else { return };
    if let Ok((Some(node), _rv)) = kube::protocol::decode_list(&v, "n1") {
        verdicts(&node, rules.as_deref());
    }
    let _ = kube::status::ApiStatus::from_json(&v);
    let _ = kube::status::http_error_reason(403, json);
    if let Ok(node) = kube::node::Node::from_json(v) {
        verdicts(&node, rules.as_deref());
    }
}

/// A watch stream body (newline-delimited JSON events) → events → verdicts.
pub fn fuzz_watch_stream(data: &[u8]) {
    for line in data.split_inclusive(|&b| b == b'\n').take(64) {
        match kube::protocol::decode_event(line) {
            Ok(Some(kube::protocol::Event::Upsert(node) | kube::protocol::Event::Deleted(node))) => {
                verdicts(&node, None)
            }
            Ok(Some(kube::protocol::Event::Expired(r) | kube::protocol::Event::Error(r))) => {
                assert!(!r.is_empty());
            }
            _ => {}
        }
    }
}

/// A kubeconfig file (YAML or JSON). Paths it names resolve inside a
/// scratch folder; inputs naming device or proc files are skipped (the
/// operator's kubeconfig is trusted to name real files).
pub fn fuzz_kubeconfig(data: &[u8]) {
    use std::sync::OnceLock;
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    if data.windows(4).any(|w| w == b"/dev" || w == b"/pro" || w == b"/sys") {
        return;
    }
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hnre-fuzz-kubeconfig-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, data).unwrap();
    if let Ok(api) = kube::credentials::from_kubeconfig(path.to_str().unwrap()) {
        assert!(api.server.starts_with("http"));
    }
}

/// `/proc/1/mountinfo`: parse, find the mount holding a few paths, unescape.
pub fn fuzz_mountinfo(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mounts = mountinfo::parse(&text);
    for p in ["/", "/var", "/var/lib/kubelet", "/etc"] {
        let _ = mountinfo::holding_mount(&mounts, std::path::Path::new(p));
    }
    let _ = mountinfo::unescape(&text);
}

/// `resolv.conf` → nameservers.
pub fn fuzz_resolv_conf(data: &[u8]) {
    let _ = resolv_conf::nameservers(&String::from_utf8_lossy(data));
}

/// `/proc/net/route` and `/proc/net/ipv6_route` → default routes → gateways.
pub fn fuzz_routes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut routes = gateways::parse_ipv4(&text);
    routes.extend(gateways::parse_ipv6(&text));
    let _ = gateways::best_gateways(&routes);
}

/// A DNS reply datagram to our query (its ID taken from the input so that
/// parsing gets past the ID check), and an ICMP echo reply.
pub fn fuzz_dns_reply(data: &[u8]) {
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    for (name, qtype) in [("kubernetes.default.svc.cluster.local", 1), ("", 2), ("example.org", 28)] {
        let _ = dns::parse_reply(data, id, name, qtype);
    }
    for v6 in [false, true] {
        for kind in [icmp::Kind::Raw, icmp::Kind::Datagram] {
            let _ = icmp::is_our_reply(data, v6, kind, id);
        }
    }
}
