//! A minimal synchronous CRI client: `RuntimeService/Status` as a unary gRPC
//! call over HTTP/2 cleartext (prior knowledge) on the runtime's unix socket.
//! No async runtime, no code generation; the parts live in `cri/`:
//! `h2` (frames), `hpack` + `huffman` (header compression), `grpc` (call
//! framing and status), `proto` (the two messages).
//!
//! The whole exchange — connect, both calls of the v1 → v1alpha2 fallback —
//! is bounded by one deadline; no byte from the peer can make it panic.

pub mod grpc;
pub mod h2;
pub mod hpack;
pub mod huffman;
pub mod proto;

use std::fmt;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use socket2::{Domain, SockAddr, Socket, Type};

#[cfg(test)]
pub use proto::Condition;
pub use proto::RuntimeStatus;

const PATH_V1: &str = "/runtime.v1.RuntimeService/Status";
/// containerd < 1.7 and CRI-O < 1.24 may only serve the pre-v1 API.
const PATH_V1ALPHA2: &str = "/runtime.v1alpha2.RuntimeService/Status";

/// Why a Status call failed. `Display` is a short, human phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriError {
    /// The socket path does not exist.
    NotFound,
    /// The path exists but nobody listens (stale socket of a dead runtime).
    Refused,
    PermissionDenied,
    Connect(String),
    /// The deadline passed.
    Timeout,
    Io(String),
    /// The peer closed the connection before the response was complete.
    Closed,
    /// The peer does not speak HTTP/2.
    NotHttp2(String),
    /// The peer broke HTTP/2, HPACK, gRPC framing or protobuf.
    Protocol(String),
    /// The peer speaks HTTP/2 but answered something that is not gRPC.
    NotGrpc(String),
    Reset(u32),
    GoAway(u32),
    /// A gRPC status other than OK.
    Grpc {
        code: u32,
        message: String,
    },
}

impl fmt::Display for CriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CriError::NotFound => f.write_str("not found"),
            CriError::Refused => f.write_str("connection refused"),
            CriError::PermissionDenied => f.write_str("permission denied"),
            CriError::Connect(e) => write!(f, "connect: {e}"),
            CriError::Timeout => f.write_str("timed out"),
            CriError::Io(e) => write!(f, "I/O error: {e}"),
            CriError::Closed => f.write_str("connection closed before a complete response"),
            CriError::NotHttp2(why) => write!(f, "not an HTTP/2 gRPC server: {why}"),
            CriError::Protocol(why) => write!(f, "protocol error: {why}"),
            CriError::NotGrpc(why) => write!(f, "not a gRPC answer: {why}"),
            CriError::Reset(code) => write!(f, "stream reset by the runtime (HTTP/2 error {code})"),
            CriError::GoAway(code) => write!(f, "runtime sent GOAWAY (HTTP/2 error {code})"),
            CriError::Grpc { code, message } => write!(f, "CRI error {code}: {message}"),
        }
    }
}

impl std::error::Error for CriError {}

/// Asks the runtime behind `socket` for its status, within `deadline`.
pub fn runtime_status(socket: &Path, deadline: Instant) -> Result<RuntimeStatus, CriError> {
    let stream = connect(socket, deadline)?;
    let mut conn = h2::Conn::new(stream, deadline)?;
    let result = match call(&mut conn, PATH_V1, deadline) {
        Err(v1 @ CriError::Grpc { code: grpc::UNIMPLEMENTED, .. }) => match call(&mut conn, PATH_V1ALPHA2, deadline) {
            // Neither API: the v1 error names what a current kubelet needs.
            Err(CriError::Grpc { code: grpc::UNIMPLEMENTED, .. }) => Err(v1),
            other => other,
        },
        other => other,
    };
    conn.close();
    result
}

fn call(conn: &mut h2::Conn<UnixStream>, path: &str, deadline: Instant) -> Result<RuntimeStatus, CriError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let headers = grpc::request_headers(path, left);
    let body = grpc::frame_message(&proto::encode_status_request(false));
    let resp = conn.request(&headers, &body)?;
    let msg = grpc::reply_message(&resp)?;
    proto::decode_status_response(&msg).map_err(|e| CriError::Protocol(e.to_string()))
}

/// Connects within the deadline (a runtime whose accept backlog is full
/// would otherwise block a plain `connect`).
fn connect(socket: &Path, deadline: Instant) -> Result<UnixStream, CriError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(CriError::Timeout);
    }
    let addr = SockAddr::unix(socket).map_err(|e| CriError::Connect(e.to_string()))?;
    let sock = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(|e| CriError::Connect(e.to_string()))?;
    match sock.connect_timeout(&addr, left) {
        Ok(()) => Ok(UnixStream::from(sock)),
        Err(e) => Err(match e.kind() {
            io::ErrorKind::NotFound => CriError::NotFound,
            io::ErrorKind::ConnectionRefused => CriError::Refused,
            io::ErrorKind::PermissionDenied => CriError::PermissionDenied,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => CriError::Timeout,
            _ => CriError::Connect(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    //! Random bytes from the peer, at every layer: errors, never panics.

    use std::io::Cursor;
    use std::time::{Duration, Instant};

    use super::{grpc, h2, hpack, proto};

    /// xorshift64*: deterministic, dependency-free noise.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let n = (self.next() % (max as u64 + 1)) as usize;
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn random_header_blocks_and_messages() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut d = hpack::Decoder::default();
        for _ in 0..20_000 {
            let b = rng.bytes(64);
            let _ = d.decode(&b);
            let _ = proto::decode_status_response(&b);
            let _ = grpc::percent_decode(&b);
        }
    }

    #[test]
    fn random_frames_after_a_valid_settings() {
        let mut rng = Rng(42);
        for _ in 0..5_000 {
            let mut input = vec![0, 0, 0, h2::SETTINGS, 0, 0, 0, 0, 0];
            // Plausible frame headers with random payloads, then raw noise.
            for _ in 0..(rng.next() % 4) {
                let payload = rng.bytes(40);
                let kind = (rng.next() % 11) as u8;
                let flags = rng.next() as u8;
                let stream = (rng.next() % 4) as u32;
                h2::put_frame(&mut input, kind, flags, stream, &payload);
            }
            input.extend(rng.bytes(32));
            let mock = h2::tests::Mock { input: Cursor::new(input), output: Vec::new(), hung_up: false };
            let mut conn = h2::Conn::new(mock, Instant::now() + Duration::from_secs(5)).unwrap();
            if let Ok(resp) = conn.request(b"", b"") {
                let _ = grpc::reply_message(&resp);
            }
        }
    }
}
