//! The HTTP/2 part of one unary gRPC call (RFC 9113), cleartext with prior
//! knowledge: connection preface, SETTINGS and their ACKs, one request
//! (HEADERS + DATA with END_STREAM) per stream, and the response's HEADERS /
//! CONTINUATION / DATA / trailers. Server PING is answered, WINDOW_UPDATE and
//! PRIORITY are ignored, GOAWAY and RST_STREAM end the call.
//!
//! Every read and write is bounded by the call's deadline: the socket timeout
//! is recomputed from it before each system call, so a peer trickling bytes
//! cannot stretch the call. Frame lengths and sizes are checked before use.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::CriError;
use super::hpack::{self, Field};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// We never raise SETTINGS_MAX_FRAME_SIZE, so no valid frame is larger.
pub const MAX_FRAME_SIZE: usize = 16_384;
/// Flow-control window we grant: a Status response is a few hundred bytes.
const WINDOW: u32 = 1 << 20;
/// Cap of one response's DATA: a StatusResponse without `verbose` is tiny.
pub const MAX_BODY: usize = 1 << 20;

/// A socket whose I/O timeout can be set before each system call.
pub trait Transport: Read + Write {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()>;
}

impl Transport for UnixStream {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

/// One frame as read from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// Appends one frame to `out`. Callers keep payloads below 16 KiB.
pub fn put_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

/// The response of one stream: header fields, trailer fields, DATA bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    pub headers: Vec<Field>,
    pub trailers: Vec<Field>,
    pub body: Vec<u8>,
}

/// A header block being collected across HEADERS + CONTINUATION frames.
struct PendingBlock {
    stream: u32,
    block: Vec<u8>,
    end_stream: bool,
}

/// A client connection: preface sent at creation, one stream per request.
pub struct Conn<T: Transport> {
    io: T,
    deadline: Instant,
    decoder: hpack::Decoder,
    next_stream: u32,
    seen_settings: bool,
}

impl<T: Transport> Conn<T> {
    /// Sends the preface, our SETTINGS and a connection WINDOW_UPDATE. The
    /// server's SETTINGS are read with the first response.
    pub fn new(io: T, deadline: Instant) -> Result<Conn<T>, CriError> {
        let mut c = Conn { io, deadline, decoder: hpack::Decoder::default(), next_stream: 1, seen_settings: false };
        let mut out = PREFACE.to_vec();
        let mut settings = Vec::new();
        for (id, value) in [
            (SETTINGS_HEADER_TABLE_SIZE, hpack::TABLE_SIZE as u32),
            (SETTINGS_ENABLE_PUSH, 0),
            (SETTINGS_INITIAL_WINDOW_SIZE, WINDOW),
            (SETTINGS_MAX_HEADER_LIST_SIZE, hpack::MAX_HEADER_LIST as u32),
        ] {
            settings.extend_from_slice(&id.to_be_bytes());
            settings.extend_from_slice(&value.to_be_bytes());
        }
        put_frame(&mut out, SETTINGS, 0, 0, &settings);
        // The connection window starts at 65535 whatever SETTINGS say.
        put_frame(&mut out, WINDOW_UPDATE, 0, 0, &(WINDOW - 65_535).to_be_bytes());
        c.send(&out)?;
        Ok(c)
    }

    /// Sends one request (a complete header block and a body) on a new
    /// stream and reads that stream's whole response.
    pub fn request(&mut self, header_block: &[u8], body: &[u8]) -> Result<Response, CriError> {
        if header_block.len() > MAX_FRAME_SIZE || body.len() > MAX_FRAME_SIZE {
            return Err(CriError::Protocol("request too large for one frame".into()));
        }
        let stream = self.next_stream;
        self.next_stream += 2;
        let mut out = Vec::new();
        put_frame(&mut out, HEADERS, END_HEADERS, stream, header_block);
        put_frame(&mut out, DATA, END_STREAM, stream, body);
        self.send(&out)?;
        self.read_response(stream)
    }

    /// Best-effort polite close: GOAWAY(NO_ERROR), then the socket drops.
    pub fn close(mut self) {
        let mut out = Vec::new();
        put_frame(&mut out, GOAWAY, 0, 0, &[0; 8]);
        let _ = self.write_all(&out);
    }

    fn read_response(&mut self, stream: u32) -> Result<Response, CriError> {
        let mut resp = Response::default();
        let mut got_headers = false;
        let mut got_trailers = false;
        let mut pending: Option<PendingBlock> = None;
        loop {
            let f = self.read_frame()?;
            if pending.is_some() && f.kind != CONTINUATION {
                return Err(proto("expected a CONTINUATION frame"));
            }
            match f.kind {
                DATA => {
                    if f.stream != stream {
                        return Err(proto("DATA on an unexpected stream"));
                    }
                    if !got_headers {
                        return Err(proto("DATA before response HEADERS"));
                    }
                    let data = strip_padding(&f.payload, f.flags)?;
                    if resp.body.len() + data.len() > MAX_BODY {
                        return Err(proto("response body too large"));
                    }
                    resp.body.extend_from_slice(data);
                    if f.flags & END_STREAM != 0 {
                        return Ok(resp);
                    }
                    self.replenish(stream, f.payload.len())?;
                }
                HEADERS => {
                    if f.stream != stream {
                        return Err(proto("HEADERS on an unexpected stream"));
                    }
                    let fragment = headers_fragment(&f.payload, f.flags)?;
                    pending =
                        Some(PendingBlock { stream, block: fragment.to_vec(), end_stream: f.flags & END_STREAM != 0 });
                }
                CONTINUATION => {
                    let p = pending.as_mut().ok_or_else(|| proto("CONTINUATION without HEADERS"))?;
                    if f.stream != p.stream {
                        return Err(proto("CONTINUATION on another stream"));
                    }
                    if p.block.len() + f.payload.len() > hpack::MAX_HEADER_LIST {
                        return Err(proto("header block too large"));
                    }
                    p.block.extend_from_slice(&f.payload);
                }
                PRIORITY | WINDOW_UPDATE => {}
                RST_STREAM => {
                    let code = u32_at(&f.payload, 0).filter(|_| f.payload.len() == 4);
                    let code = code.ok_or_else(|| proto("RST_STREAM of wrong length"))?;
                    if f.stream == stream {
                        return Err(CriError::Reset(code));
                    }
                }
                SETTINGS => self.on_settings(&f)?,
                PING => {
                    if f.payload.len() != 8 || f.stream != 0 {
                        return Err(proto("malformed PING"));
                    }
                    if f.flags & ACK == 0 {
                        let mut out = Vec::new();
                        put_frame(&mut out, PING, ACK, 0, &f.payload);
                        self.write_all(&out)?;
                    }
                }
                GOAWAY => {
                    let last = u32_at(&f.payload, 0).ok_or_else(|| proto("GOAWAY too short"))? & 0x7fff_ffff;
                    let code = u32_at(&f.payload, 4).ok_or_else(|| proto("GOAWAY too short"))?;
                    // Streams up to `last` are still answered; ours is lost otherwise.
                    if last < stream {
                        return Err(CriError::GoAway(code));
                    }
                }
                PUSH_PROMISE => return Err(proto("PUSH_PROMISE although push is disabled")),
                _ => {} // RFC 9113 §4.1: unknown frame types are ignored.
            }
            // A header block is complete: decode it (keeps HPACK state in sync).
            if matches!(f.kind, HEADERS | CONTINUATION) && f.flags & END_HEADERS != 0 {
                let p = pending.take().ok_or_else(|| proto("header block state"))?;
                let fields =
                    self.decoder.decode(&p.block).map_err(|e| CriError::Protocol(format!("bad header block: {e}")))?;
                if !got_headers {
                    got_headers = true;
                    resp.headers = fields;
                } else if !got_trailers {
                    got_trailers = true;
                    resp.trailers = fields;
                } else {
                    return Err(proto("more than two header blocks"));
                }
                if p.end_stream {
                    return Ok(resp);
                }
                if got_trailers {
                    return Err(proto("trailers without END_STREAM"));
                }
            }
        }
    }

    fn on_settings(&mut self, f: &Frame) -> Result<(), CriError> {
        if f.stream != 0 {
            return Err(proto("SETTINGS on a stream"));
        }
        if f.flags & ACK != 0 {
            return if f.payload.is_empty() { Ok(()) } else { Err(proto("SETTINGS ACK with a payload")) };
        }
        if !f.payload.len().is_multiple_of(6) {
            return Err(proto("SETTINGS of wrong length"));
        }
        // We send one tiny request per stream and obey the defaults, so the
        // peer's values need no bookkeeping; they only have to be acknowledged.
        let mut out = Vec::new();
        put_frame(&mut out, SETTINGS, ACK, 0, &[]);
        self.write_all(&out)
    }

    /// Gives back the window a DATA frame consumed, so a larger-than-window
    /// (but capped) body keeps flowing.
    fn replenish(&mut self, stream: u32, n: usize) -> Result<(), CriError> {
        if n == 0 {
            return Ok(());
        }
        let inc = (n as u32).to_be_bytes();
        let mut out = Vec::new();
        put_frame(&mut out, WINDOW_UPDATE, 0, 0, &inc);
        put_frame(&mut out, WINDOW_UPDATE, 0, stream, &inc);
        self.write_all(&out)
    }

    /// Reads one frame. The very first one must be the server's SETTINGS:
    /// anything else means the peer is not an HTTP/2 (gRPC) server.
    fn read_frame(&mut self) -> Result<Frame, CriError> {
        let mut head = [0u8; 9];
        let n = self.read_full(&mut head)?;
        if !self.seen_settings {
            if n == 0 {
                return Err(CriError::Closed);
            }
            if head.starts_with(b"HTTP/") {
                return Err(CriError::NotHttp2("it answered HTTP/1.x".into()));
            }
            if n < head.len() || head[3] != SETTINGS || head[4] & ACK != 0 {
                return Err(CriError::NotHttp2("its first bytes are not an HTTP/2 SETTINGS frame".into()));
            }
            self.seen_settings = true;
        } else if n < head.len() {
            return Err(CriError::Closed);
        }
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        if len > MAX_FRAME_SIZE {
            return Err(CriError::Protocol(format!("frame of {len} bytes exceeds the maximum {MAX_FRAME_SIZE}")));
        }
        let mut payload = vec![0u8; len];
        if self.read_full(&mut payload)? < len {
            return Err(CriError::Closed);
        }
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        Ok(Frame { kind: head[3], flags: head[4], stream, payload })
    }

    /// Writes a request. A peer that already hung up may have said why
    /// first (an HTTP/1 error, garbage): that diagnosis beats "closed".
    fn send(&mut self, buf: &[u8]) -> Result<(), CriError> {
        match self.write_all(buf) {
            Err(CriError::Closed) if !self.seen_settings => match self.read_frame() {
                Err(e @ CriError::NotHttp2(_)) => Err(e),
                _ => Err(CriError::Closed),
            },
            other => other,
        }
    }

    fn remaining(&self) -> Result<Duration, CriError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() { Err(CriError::Timeout) } else { Ok(left) }
    }

    /// Fills `buf` unless the peer closes first; returns the bytes read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, CriError> {
        let mut filled = 0;
        while filled < buf.len() {
            let left = self.remaining()?;
            self.io.set_timeout(left).map_err(io_error)?;
            let rest = buf.get_mut(filled..).unwrap_or_default();
            match self.io.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(filled)
    }

    fn write_all(&mut self, mut buf: &[u8]) -> Result<(), CriError> {
        while !buf.is_empty() {
            let left = self.remaining()?;
            self.io.set_timeout(left).map_err(io_error)?;
            match self.io.write(buf) {
                Ok(0) => return Err(CriError::Closed),
                Ok(n) => buf = buf.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(())
    }
}

fn proto(msg: &str) -> CriError {
    CriError::Protocol(msg.to_string())
}

fn io_error(e: io::Error) -> CriError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => CriError::Timeout,
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => CriError::Closed,
        _ => CriError::Io(e.to_string()),
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The data of a (possibly PADDED) DATA or HEADERS payload.
fn strip_padding(payload: &[u8], flags: u8) -> Result<&[u8], CriError> {
    if flags & PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or_else(|| proto("padded frame without pad length"))?;
    let keep = rest.len().checked_sub(usize::from(pad)).ok_or_else(|| proto("padding longer than the frame"))?;
    Ok(rest.get(..keep).unwrap_or_default())
}

/// The header block fragment of a HEADERS payload (padding and the
/// deprecated priority fields removed).
fn headers_fragment(payload: &[u8], flags: u8) -> Result<&[u8], CriError> {
    let b = strip_padding(payload, flags)?;
    if flags & PRIORITY_FLAG != 0 {
        return b.get(5..).ok_or_else(|| proto("HEADERS too short for its priority fields"));
    }
    Ok(b)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::io::Cursor;

    /// In-memory peer: scripted server bytes in, client bytes out.
    pub struct Mock {
        pub input: Cursor<Vec<u8>>,
        pub output: Vec<u8>,
        /// Writes fail as to a peer that hung up.
        pub hung_up: bool,
    }

    impl Read for Mock {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Mock {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.hung_up {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Mock {
        fn set_timeout(&mut self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        put_frame(&mut v, kind, flags, stream, payload);
        v
    }

    fn server_settings() -> Vec<u8> {
        frame(SETTINGS, 0, 0, &[0, 5, 0, 0, 0x40, 0])
    }

    fn block(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (n, v) in fields {
            hpack::encode_literal(&mut b, n, v);
        }
        b
    }

    fn run(server: Vec<u8>) -> (Result<Response, CriError>, Vec<u8>) {
        let mock = Mock { input: Cursor::new(server), output: Vec::new(), hung_up: false };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut conn = Conn::new(mock, deadline).unwrap();
        let r = conn.request(&block(&[(":path", "/x")]), &[0, 0, 0, 0, 0]);
        (r, conn.io.output)
    }

    /// Splits the client's output into frames (after the preface).
    fn client_frames(out: &[u8]) -> Vec<Frame> {
        let mut rest = out.strip_prefix(PREFACE).unwrap();
        let mut frames = Vec::new();
        while rest.len() >= 9 {
            let len = (usize::from(rest[0]) << 16) | (usize::from(rest[1]) << 8) | usize::from(rest[2]);
            let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
            frames.push(Frame { kind: rest[3], flags: rest[4], stream, payload: rest[9..9 + len].to_vec() });
            rest = &rest[9 + len..];
        }
        frames
    }

    fn ok_response() -> Vec<u8> {
        let mut s = server_settings();
        s.extend(frame(HEADERS, END_HEADERS, 1, &block(&[(":status", "200"), ("content-type", "application/grpc")])));
        s.extend(frame(DATA, 0, 1, &[0, 0, 0, 0, 2, 8, 1]));
        s.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &block(&[("grpc-status", "0")])));
        s
    }

    #[test]
    fn plain_exchange() {
        let (r, out) = run(ok_response());
        let r = r.unwrap();
        assert_eq!(r.body, [0, 0, 0, 0, 2, 8, 1]);
        assert_eq!(r.trailers[0].value, b"0");
        let frames = client_frames(&out);
        let kinds: Vec<u8> = frames.iter().map(|f| f.kind).collect();
        // SETTINGS, WINDOW_UPDATE, HEADERS, DATA, SETTINGS ACK, WINDOW_UPDATE x2.
        assert_eq!(kinds, [SETTINGS, WINDOW_UPDATE, HEADERS, DATA, SETTINGS, WINDOW_UPDATE, WINDOW_UPDATE]);
        assert_eq!(frames[3].flags, END_STREAM);
        assert_eq!(frames[4].flags, ACK);
    }

    #[test]
    fn ping_is_acked_and_continuation_padding_priority_are_handled() {
        let mut s = server_settings();
        s.extend(frame(PING, 0, 0, b"12345678"));
        s.extend(frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]));
        s.extend(frame(0xfa, 0, 0, b"unknown type"));
        let b = block(&[(":status", "200"), ("content-type", "application/grpc")]);
        // HEADERS with padding and priority, split across a CONTINUATION.
        let mut h = vec![3, 0, 0, 0, 0, 16];
        h.extend_from_slice(&b[..4]);
        h.extend_from_slice(&[0, 0, 0]);
        s.extend(frame(HEADERS, PADDED | PRIORITY_FLAG, 1, &h));
        s.extend(frame(CONTINUATION, END_HEADERS, 1, &b[4..]));
        s.extend(frame(DATA, PADDED, 1, &[2, 0, 0, 0, 0, 0, 9, 9]));
        s.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &block(&[("grpc-status", "0")])));
        let (r, out) = run(s);
        let r = r.unwrap();
        assert_eq!(r.headers.len(), 2);
        assert_eq!(r.body, [0, 0, 0, 0, 0]);
        let frames = client_frames(&out);
        assert!(frames.iter().any(|f| f.kind == PING && f.flags == ACK && f.payload == b"12345678"));
    }

    #[test]
    fn trailers_only_response() {
        let mut s = server_settings();
        s.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &block(&[(":status", "200"), ("grpc-status", "12")])));
        let r = run(s).0.unwrap();
        assert_eq!(r.headers.len(), 2);
        assert!(r.trailers.is_empty() && r.body.is_empty());
    }

    #[test]
    fn truncated_input_at_every_length_is_an_error() {
        let full = ok_response();
        for n in 0..full.len() {
            let (r, _) = run(full[..n].to_vec());
            assert!(r.is_err(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn oversized_and_malformed_frames() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                {
                    let mut s = server_settings();
                    s.extend_from_slice(&[0x00, 0x40, 0x01, DATA, 0, 0, 0, 0, 1]);
                    s
                },
                "exceeds the maximum",
            ),
            ([server_settings(), frame(RST_STREAM, 0, 1, &[0, 0, 0, 8])].concat(), "reset"),
            ([server_settings(), frame(RST_STREAM, 0, 1, &[0, 0])].concat(), "wrong length"),
            ([server_settings(), frame(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 2])].concat(), "GOAWAY"),
            ([server_settings(), frame(GOAWAY, 0, 0, &[0, 0])].concat(), "too short"),
            ([server_settings(), frame(PING, 0, 0, b"short")].concat(), "PING"),
            ([server_settings(), frame(SETTINGS, 0, 0, &[1, 2, 3])].concat(), "SETTINGS"),
            ([server_settings(), frame(DATA, 0, 1, b"x")].concat(), "before response HEADERS"),
            ([server_settings(), frame(CONTINUATION, END_HEADERS, 1, b"")].concat(), "CONTINUATION without"),
            ([server_settings(), frame(HEADERS, END_HEADERS, 3, b"")].concat(), "unexpected stream"),
            ([server_settings(), frame(HEADERS, END_HEADERS, 1, &[0x80])].concat(), "bad header block"),
            ([server_settings(), frame(HEADERS, PADDED | END_HEADERS, 1, &[9, 1])].concat(), "padding"),
            ([server_settings(), frame(PUSH_PROMISE, END_HEADERS, 1, &[0; 4])].concat(), "PUSH_PROMISE"),
            (b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), "HTTP/1.x"),
            (b"garbage garbage garbage\n".to_vec(), "not an HTTP/2"),
            (b"short".to_vec(), "not an HTTP/2"),
            (frame(PING, 0, 0, b"12345678"), "not an HTTP/2"),
            (Vec::new(), "closed"),
        ];
        for (input, want) in cases {
            let err = run(input.clone()).0.unwrap_err().to_string();
            assert!(err.contains(want), "{input:?}: {err:?} lacks {want:?}");
        }
    }

    #[test]
    fn peer_that_hung_up_is_diagnosed_from_what_it_sent() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mock = |input: &[u8]| Mock { input: Cursor::new(input.to_vec()), output: Vec::new(), hung_up: true };
        let err = Conn::new(mock(b"HTTP/1.1 400 Bad Request\r\n\r\n"), deadline).err().unwrap();
        assert!(matches!(err, CriError::NotHttp2(_)), "{err:?}");
        assert_eq!(Conn::new(mock(b""), deadline).err().unwrap(), CriError::Closed);
    }

    #[test]
    fn body_is_capped() {
        let mut s = server_settings();
        s.extend(frame(HEADERS, END_HEADERS, 1, &block(&[(":status", "200")])));
        let chunk = vec![0u8; MAX_FRAME_SIZE];
        for _ in 0..(MAX_BODY / MAX_FRAME_SIZE + 1) {
            s.extend(frame(DATA, 0, 1, &chunk));
        }
        assert!(run(s).0.unwrap_err().to_string().contains("too large"));
    }
}
