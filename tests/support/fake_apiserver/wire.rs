//! HTTP/1.1 on the wire: the connection (plain or rustls), request parsing
//! with httparse, fixed-length and chunked responses with the headers the
//! real apiserver sends (Go net/http: `Date`, `Content-Type`,
//! `Cache-Control: no-cache, private`, `Audit-Id`).

use rustls::{ServerConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// DER of the client certificate the TLS peer presented (verified against the CA by rustls).
    pub fn peer_cert(&self) -> Option<Vec<u8>> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(s) => s.conn.peer_certificates()?.first().map(|c| c.as_ref().to_vec()),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    /// Raw query string (after `?`), for the request log.
    pub raw_query: String,
    /// Decoded query pairs, in order (Go's url.ParseQuery: `+` is a space).
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub close: bool,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Go's strconv.ParseBool, as the apiserver decodes boolean query parameters.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

const MAX_HEAD: usize = 64 * 1024;

/// Reads one request head from `stream`, keeping bytes past it in `buf` for
/// the next request on a kept-alive connection. `Ok(None)` on a clean EOF.
pub fn read_request(stream: &mut Stream, buf: &mut Vec<u8>) -> io::Result<Option<Request>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let parsed = to_request(&req);
                let body_len = parsed.header("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                buf.drain(..n);
                discard_body(stream, buf, body_len)?;
                return Ok(Some(parsed));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => return Err(io::Error::other("request head too large")),
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn discard_body(stream: &mut Stream, buf: &mut Vec<u8>, mut len: usize) -> io::Result<()> {
    let take = len.min(buf.len());
    buf.drain(..take);
    len -= take;
    let mut chunk = [0u8; 8192];
    while len > 0 {
        let n = stream.read(&mut chunk[..len.min(8192)])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        len -= n;
    }
    Ok(())
}

fn to_request(req: &httparse::Request) -> Request {
    let target = req.path.unwrap_or("/");
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> =
        req.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
    let conn = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("connection")).map(|(_, v)| v.to_ascii_lowercase());
    let close = conn.as_deref() == Some("close") || (req.version == Some(0) && conn.as_deref() != Some("keep-alive"));
    Request {
        method: req.method.unwrap_or("").to_string(),
        path: percent_decode(path),
        raw_query: raw_query.to_string(),
        query: raw_query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
            })
            .collect(),
        headers,
        close,
    }
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A complete response with a Content-Length body.
pub fn write_response(
    stream: &mut Stream,
    code: u16,
    content_type: &str,
    extra_headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = status_line_and_common(code, content_type);
    for (k, v) in extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut all = head.into_bytes();
    all.extend_from_slice(body);
    stream.write_all(&all)?;
    stream.flush()
}

/// Head of a chunked (streamed) response, as Go's net/http sends for a watch.
pub fn write_chunked_head(stream: &mut Stream, code: u16, content_type: &str) -> io::Result<()> {
    let mut head = status_line_and_common(code, content_type);
    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.flush()
}

/// One chunk, flushed at once (the apiserver flushes after every watch event).
pub fn write_chunk(stream: &mut Stream, data: &[u8]) -> io::Result<()> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    stream.write_all(&out)?;
    stream.flush()
}

/// The zero-length chunk that ends a chunked body cleanly.
pub fn write_last_chunk(stream: &mut Stream) -> io::Result<()> {
    stream.write_all(b"0\r\n\r\n")?;
    stream.flush()
}

fn status_line_and_common(code: u16, content_type: &str) -> String {
    static AUDIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let audit = AUDIT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "HTTP/1.1 {code} {}\r\nAudit-Id: 00000000-0000-4000-8000-{audit:012x}\r\nCache-Control: no-cache, private\r\n\
         Content-Type: {content_type}\r\nDate: {}\r\n",
        reason_phrase(code),
        http_date()
    )
}

pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// IMF-fixdate from the RFC 3339 helper (only the format differs).
fn http_date() -> String {
    let t = super::store::now_rfc3339(); // 2026-01-01T00:00:00Z
    let (y, m, d) = (&t[0..4], t[5..7].parse::<usize>().unwrap_or(1), &t[8..10]);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let wd = DAYS[((secs / 86400) % 7) as usize];
    format!("{wd}, {d} {} {y} {} GMT", MONTHS[m - 1], &t[11..19])
}
