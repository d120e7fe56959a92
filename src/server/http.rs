//! HTTP/1.x on the wire: request heads parsed with `httparse`, responses
//! written in one buffer. Only what health monitors send is supported:
//! GET/HEAD (other methods are parsed and answered 405); request bodies,
//! `Content-Length` or chunked (`crate::chunked`), are read and discarded.

use std::fmt::Write as _;
use std::io::Write;
use std::time::SystemTime;

use crate::timefmt;

/// Largest request head (request line + headers) we accept; larger → 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most header lines in one request; more → 431.
pub const MAX_HEADERS: usize = 64;
/// Largest request body we read and discard on a kept-alive connection.
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// Path without the query, e.g. `/health`.
    pub path: String,
    /// Raw query after `?`, still percent-encoded.
    pub query: Option<String>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub keep_alive: bool,
    pub body: BodyFraming,
    /// The `Accept` header (the status page answers JSON when asked for it).
    pub accept: Option<String>,
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BodyFraming {
    /// `Content-Length` bytes (0 without a body).
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
}

#[derive(Debug, PartialEq)]
pub enum HeadError {
    /// Head larger than [`MAX_HEAD_BYTES`] or too many headers → 431.
    TooLarge,
    /// Not HTTP/1.x, or a body whose length cannot be told → 400 and close.
    Malformed(&'static str),
}

/// Parses a complete request head from `buf`. `Ok(None)`: need more bytes.
/// `Ok(Some((req, n)))`: the head is `buf[..n]`.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Request, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= MAX_HEAD_BYTES { Err(HeadError::TooLarge) } else { Ok(None) };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => return Err(HeadError::Malformed("not an HTTP/1.x request")),
        Err(_) => return Err(HeadError::Malformed("malformed request head")),
    };
    if n > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let minor_version = req.version.unwrap_or(0);
    let mut keep_alive = minor_version == 1;
    let mut content_length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    let mut te_seen = false;
    let mut accept = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in String::from_utf8_lossy(h.value).split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or(HeadError::Malformed("invalid Content-Length"))?;
            if content_length.is_some_and(|c| c != n) {
                return Err(HeadError::Malformed("conflicting Content-Length headers"));
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let value = std::str::from_utf8(h.value).map_err(|_| HeadError::Malformed("invalid Transfer-Encoding"))?;
            te_seen = true;
            codings.extend(value.split(',').map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()));
        } else if h.name.eq_ignore_ascii_case("accept") {
            accept = Some(String::from_utf8_lossy(h.value).into_owned());
        }
    }
    // RFC 9112 §6.3: chunked must be the final coding, or the length cannot
    // be told (400, never 501: the client is at fault). With both headers
    // the request is a smuggling attempt or a broken client: 400 too.
    let body = match (codings.last().map(String::as_str), content_length) {
        (None, _) if te_seen => return Err(HeadError::Malformed("empty Transfer-Encoding")),
        (None, n) => BodyFraming::Length(n.unwrap_or(0)),
        (Some(_), Some(_)) => return Err(HeadError::Malformed("both Transfer-Encoding and Content-Length")),
        (Some("chunked"), None) => BodyFraming::Chunked,
        (Some(_), None) => return Err(HeadError::Malformed("Transfer-Encoding does not end with chunked")),
    };
    // A transfer coding in HTTP/1.0 is faulty framing: answer, then close.
    if body == BodyFraming::Chunked && minor_version == 0 {
        keep_alive = false;
    }
    let target = req.path.unwrap_or("/");
    let target = strip_absolute_form(target).ok_or(HeadError::Malformed("absolute URI without a host"))?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (target, None),
    };
    let request = Request {
        method: req.method.unwrap_or("").to_string(),
        path: path.to_string(),
        query,
        minor_version,
        keep_alive,
        body,
        accept,
    };
    Ok(Some((request, n)))
}

/// `http://host:port/health?x` → `/health?x` (absolute-form, RFC 9112 §3.2.2).
/// `None` for `http://` without a host, which RFC 9110 §4.2.1 makes invalid
/// (it must not become a request for `/`, the status page).
fn strip_absolute_form(target: &str) -> Option<&str> {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            if rest.find(['/', '?', '#']).unwrap_or(rest.len()) == 0 {
                return None;
            }
            return Some(rest.find('/').map(|i| &rest[i..]).unwrap_or("/"));
        }
    }
    Some(target)
}

/// Why a query string could not be decoded.
#[derive(Debug, PartialEq)]
pub enum QueryError {
    BadPercentEncoding,
    NotUtf8,
}

/// Decodes `application/x-www-form-urlencoded`-style pairs of a query. `+`
/// stays `+` (check names never contain spaces; decoding it would only turn
/// one unknown name into another).
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, QueryError> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(QueryError::BadPercentEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| QueryError::BadPercentEncoding)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| QueryError::BadPercentEncoding)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8)
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra headers such as `Allow`.
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn json(status: u16, body: Vec<u8>) -> Response {
        Response { status, content_type: "application/json", body, headers: Vec::new() }
    }

    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type: "text/plain; charset=utf-8", body: body.into(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Serializes the response; `head_only` (HEAD) keeps headers, drops the body.
pub fn encode(resp: &Response, head_only: bool, keep_alive: bool, now: SystemTime) -> Vec<u8> {
    let mut head = String::with_capacity(256);
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nDate: {}\r\nConnection: {}\r\n",
        resp.status,
        reason_phrase(resp.status),
        resp.content_type,
        resp.body.len(),
        timefmt::http_date(now),
        if keep_alive { "keep-alive" } else { "close" },
    );
    for (name, value) in &resp.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    out
}

pub fn write_response(w: &mut impl Write, resp: &Response, head_only: bool, keep_alive: bool) -> std::io::Result<()> {
    w.write_all(&encode(resp, head_only, keep_alive, SystemTime::now()))?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(Request, usize)>, HeadError> {
        parse_head(s.as_bytes())
    }

    #[test]
    fn haproxy_request_without_headers() {
        let (req, n) = parse("GET /health?check=kubelet HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!(n, 38);
        assert_eq!(req.path, "/health");
        assert_eq!(req.query.as_deref(), Some("check=kubelet"));
        assert!(!req.keep_alive);
        assert_eq!(req.minor_version, 0);
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |s: &str| parse(s).unwrap().unwrap().0.keep_alive;
        assert!(ka("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
    }

    #[test]
    fn partial_large_and_bad_heads() {
        assert_eq!(parse("GET /health HTTP/1.1\r\nHost:"), Ok(None));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(parse(&big), Err(HeadError::TooLarge));
        let many: String = (0..70).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(parse(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(HeadError::TooLarge));
        assert!(matches!(parse("\x16\x03\x01\x02\x00\x01\x00"), Err(HeadError::Malformed(_))));
        assert!(matches!(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Err(HeadError::Malformed(_))));
        assert!(matches!(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), Err(HeadError::Malformed(_))));
    }

    #[test]
    fn body_framing() {
        let framing = |s: &str| parse(s).map(|r| r.map(|(req, _)| (req.body, req.keep_alive)));
        let ok = |b, ka| Ok(Some((b, ka)));
        assert_eq!(framing("GET / HTTP/1.1\r\n\r\n"), ok(BodyFraming::Length(0), true));
        assert_eq!(framing("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"), ok(BodyFraming::Length(5), true));
        assert_eq!(framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), ok(BodyFraming::Chunked, true));
        assert_eq!(
            framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            ok(BodyFraming::Chunked, true)
        );
        assert_eq!(
            framing("POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ok(BodyFraming::Chunked, false),
            "HTTP/1.0 with a transfer coding: close after"
        );
        for bad in [
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        ] {
            assert!(matches!(framing(bad), Err(HeadError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn absolute_form_target() {
        let (req, _) = parse("GET http://10.0.0.1:25001/health?check=a HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!(req.path, "/health");
        assert_eq!(req.query.as_deref(), Some("check=a"));
        let path = |t: &str| parse(&format!("GET {t} HTTP/1.1\r\n\r\n")).map(|r| r.unwrap().0.path);
        assert_eq!(path("http://10.0.0.1:25001").as_deref(), Ok("/"));
        assert!(matches!(path("http://"), Err(HeadError::Malformed(_))), "no host: not the status page");
        assert!(matches!(path("https:///health"), Err(HeadError::Malformed(_))));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("node_ready%2Ckubelet").unwrap(), "node_ready,kubelet");
        assert_eq!(percent_decode("a+b").unwrap(), "a+b");
        assert_eq!(percent_decode("%zz"), Err(QueryError::BadPercentEncoding));
        assert_eq!(percent_decode("%4"), Err(QueryError::BadPercentEncoding));
        assert_eq!(percent_decode("%ff"), Err(QueryError::NotUtf8));
        assert_eq!(
            query_pairs("check=a&x&check=b%2Cc").unwrap(),
            vec![("check".into(), "a".into()), ("x".into(), "".into()), ("check".into(), "b,c".into())]
        );
    }

    #[test]
    fn response_has_every_contract_header() {
        let resp = Response::json(503, b"{}".to_vec()).with_header("Allow", "GET, HEAD");
        let text = String::from_utf8(encode(&resp, false, false, std::time::UNIX_EPOCH)).unwrap();
        for h in [
            "HTTP/1.1 503 Service Unavailable\r\n",
            "Content-Type: application/json\r\n",
            "Content-Length: 2\r\n",
            "Cache-Control: no-store\r\n",
            "X-Content-Type-Options: nosniff\r\n",
            "Connection: close\r\n",
            "Allow: GET, HEAD\r\n",
            "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
        ] {
            assert!(text.contains(h), "missing {h:?} in {text}");
        }
        assert!(text.ends_with("\r\n\r\n{}"));
        let head = String::from_utf8(encode(&resp, true, true, std::time::UNIX_EPOCH)).unwrap();
        assert!(head.ends_with("\r\n\r\n") && head.contains("Content-Length: 2\r\n"));
    }
}
