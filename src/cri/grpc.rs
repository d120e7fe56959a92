//! gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md) for one unary call: the
//! request headers, the 5-byte message framing, and reading the outcome
//! from trailers (or a trailers-only response): `grpc-status` and the
//! percent-encoded `grpc-message`.

use std::time::Duration;

use super::CriError;
use super::h2::Response;
use super::hpack::{self, Field};

/// gRPC status UNIMPLEMENTED: the runtime lacks this service or method.
pub const UNIMPLEMENTED: u32 = 12;

/// The request header block: literals only (no HPACK state to keep).
pub fn request_headers(path: &str, timeout: Duration) -> Vec<u8> {
    // grpc-timeout: at most 8 digits; milliseconds, at least 1.
    let ms = timeout.as_millis().clamp(1, 99_999_999);
    let mut b = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("user-agent", concat!("harmony-node-readiness-endpoint/", env!("CARGO_PKG_VERSION"))),
        ("grpc-timeout", &format!("{ms}m")),
    ] {
        hpack::encode_literal(&mut b, name, value);
    }
    b
}

/// Length-prefixed message: compressed flag 0, u32 big-endian length.
pub fn frame_message(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + msg.len());
    out.push(0);
    out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    out.extend_from_slice(msg);
    out
}

fn header<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields.iter().find(|f| f.name == name.as_bytes()).map(|f| f.value.as_slice())
}

/// The single response message of a successful call, or the call's error.
pub fn reply_message(resp: &Response) -> Result<Vec<u8>, CriError> {
    let http_status = header(&resp.headers, ":status").unwrap_or_default();
    // Trailers normally; the headers themselves in a trailers-only response.
    let grpc_status = header(&resp.trailers, "grpc-status").or_else(|| header(&resp.headers, "grpc-status"));
    let Some(grpc_status) = grpc_status else {
        if http_status != b"200" {
            let s = String::from_utf8_lossy(http_status);
            return Err(CriError::NotGrpc(format!("HTTP status {s} without grpc-status")));
        }
        let ct = header(&resp.headers, "content-type").unwrap_or_default();
        if !ct.starts_with(b"application/grpc") {
            let ct = String::from_utf8_lossy(ct);
            return Err(CriError::NotGrpc(format!("content-type {ct:?} is not gRPC")));
        }
        return Err(CriError::Protocol("response without grpc-status".into()));
    };
    let code = std::str::from_utf8(grpc_status)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .ok_or_else(|| CriError::Protocol("invalid grpc-status".into()))?;
    if code != 0 {
        let trailers = if header(&resp.trailers, "grpc-status").is_some() { &resp.trailers } else { &resp.headers };
        let message = percent_decode(header(trailers, "grpc-message").unwrap_or_default());
        return Err(CriError::Grpc { code, message });
    }
    let (prefix, rest) =
        resp.body.split_at_checked(5).ok_or_else(|| CriError::Protocol("no response message".into()))?;
    if prefix[0] != 0 {
        // We send no grpc-accept-encoding, so compression is a peer bug.
        return Err(CriError::Protocol("compressed response message".into()));
    }
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    let msg = rest.get(..len).ok_or_else(|| CriError::Protocol("truncated response message".into()))?;
    Ok(msg.to_vec())
}

/// `grpc-message` is percent-encoded UTF-8; a broken escape is kept as is.
pub fn percent_decode(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: &str, v: &str) -> Field {
        Field { name: n.as_bytes().to_vec(), value: v.as_bytes().to_vec() }
    }

    fn resp(headers: Vec<Field>, trailers: Vec<Field>, body: &[u8]) -> Response {
        Response { headers, trailers, body: body.to_vec() }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode(b"unknown service runtime.v1.RuntimeService"),
            "unknown service runtime.v1.RuntimeService"
        );
        assert_eq!(percent_decode(b"a%20b%25c%0A"), "a b%c\n");
        assert_eq!(percent_decode(b"caf%C3%A9"), "café");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz%4"), "%zz%4");
        assert_eq!(percent_decode(b"%FF"), "\u{fffd}");
    }

    #[test]
    fn framing() {
        assert_eq!(frame_message(b""), [0, 0, 0, 0, 0]);
        assert_eq!(frame_message(b"ab"), [0, 0, 0, 0, 2, b'a', b'b']);
    }

    #[test]
    fn request_headers_decode() {
        let fields = hpack::Decoder::default().decode(&request_headers("/p", Duration::from_millis(1500))).unwrap();
        assert_eq!(header(&fields, ":path"), Some(&b"/p"[..]));
        assert_eq!(header(&fields, "grpc-timeout"), Some(&b"1500m"[..]));
        assert_eq!(header(&fields, "te"), Some(&b"trailers"[..]));
    }

    #[test]
    fn outcomes() {
        let ok_h = vec![f(":status", "200"), f("content-type", "application/grpc")];
        let ok = resp(ok_h.clone(), vec![f("grpc-status", "0")], &[0, 0, 0, 0, 2, 8, 1, 0xff]);
        assert_eq!(reply_message(&ok).unwrap(), [8, 1]);

        let unimpl = resp(
            vec![f(":status", "200"), f("grpc-status", "12"), f("grpc-message", "unknown%20service")],
            vec![],
            b"",
        );
        assert_eq!(reply_message(&unimpl), Err(CriError::Grpc { code: 12, message: "unknown service".into() }));

        let cases: Vec<(Response, &str)> = vec![
            (resp(vec![f(":status", "404")], vec![], b""), "HTTP status 404"),
            (resp(vec![f(":status", "200"), f("content-type", "text/html")], vec![], b""), "not gRPC"),
            (resp(ok_h.clone(), vec![], b""), "without grpc-status"),
            (resp(ok_h.clone(), vec![f("grpc-status", "x")], b""), "invalid grpc-status"),
            (resp(ok_h.clone(), vec![f("grpc-status", "0")], b"\0\0"), "no response message"),
            (resp(ok_h.clone(), vec![f("grpc-status", "0")], &[1, 0, 0, 0, 0]), "compressed"),
            (resp(ok_h.clone(), vec![f("grpc-status", "0")], &[0, 0, 0, 0, 9, 1]), "truncated"),
        ];
        for (r, want) in cases {
            let e = reply_message(&r).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        }
    }
}
