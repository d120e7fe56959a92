//! The HTTP listener: std::net, one (reused) thread per connection under hard limits.
//!
//! Why not tiny_http: it has no read/write timeouts, no header size cap,
//! spawns a thread per connection without bound and stops accepting for good
//! after one accept() error (EMFILE). Each of those turns a probe flood or a
//! slow client into a node dropped from the load balancer. Here every limit
//! is explicit: head size and deadline, idle keep-alive, write timeout,
//! requests per connection, connections overall and per client address
//! (excess connections are closed at once, never queued), and accept()
//! errors are logged, backed off and survived. When every slot is taken, a
//! newcomer is not turned away: the idle or slow connection (no request in
//! progress) of the address holding the most connections is shut down to
//! make room, so slow clients spread over many addresses cannot lock the
//! load balancer's probe out.
//!
//! With TLS configured the same code serves [`TlsConn`]s: [`Conn`] is the
//! little a connection needs besides Read + Write, and the head deadline
//! bounds the handshake too (it is part of the first read).
//!
//! Below: `http` parses and writes HTTP/1.1, `routes` maps a request to a
//! response, `report` is the JSON body, `tls` the TLS connection, `agent`
//! the HAProxy agent-check port.

pub mod agent;
pub mod chunked;
mod conn;
pub mod http;
mod pool;
pub mod report;
pub mod routes;
pub mod status_page;
pub mod status_report;
pub mod tls;

pub use conn::Conn;
use pool::{Job, Workers};

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use socket2::{Domain, Protocol, Socket, Type};

use crate::log;
use crate::runner::Runner;
use crate::sys;
use chunked::{ChunkError, Chunked};
use http::{BodyFraming, HeadError, MAX_BODY_BYTES, MAX_HEAD_BYTES, Response};
use tls::TlsConn;

/// The whole request head must arrive within this time of its first byte
/// (or of accept, for the first request).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A kept-alive connection with no new request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// A client that does not take our response within this time is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests served on one connection before we close it.
pub const MAX_REQUESTS_PER_CONNECTION: u32 = 1000;
/// Listen backlog; the kernel caps it at net.core.somaxconn.
const LISTEN_BACKLOG: i32 = 1024;
/// accept() error backoff bounds (EMFILE: wait for descriptors to free up).
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Binds `addr:port` with SO_REUSEADDR and SO_REUSEPORT (a new instance may
/// share the port during a rolling update). `None` = dual-stack `[::]`,
/// falling back to `0.0.0.0` where IPv6 is disabled.
pub fn bind(addr: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    match addr {
        Some(ip) => bind_one(SocketAddr::new(ip, port), false),
        None => bind_one(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), true).or_else(|e| {
            let v4 = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), port);
            match bind_one(v4, false) {
                Ok(l) => {
                    log::info(&format!("IPv6 unavailable ({e}); listening on IPv4 only"));
                    Ok(l)
                }
                Err(_) => Err(e),
            }
        }),
    }
}

fn bind_one(addr: SocketAddr, dual_stack: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    // Linux copies both into every accepted socket: two setsockopt calls
    // fewer per connection, which new-connection-per-request monitors pay.
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    let listener: TcpListener = socket.into();
    // Without it a rolling update can reset a probe queued on the old
    // instance as it closes (see sys/reuseport.rs). Not fatal: the service
    // still serves, with the kernel's default spreading.
    if let Err(e) = sys::prefer_newest_listener(listener.as_raw_fd()) {
        log::warn_limited("reuseport", &format!("cannot steer new connections to the newest listener on {addr}: {e}"));
    }
    Ok(listener)
}

/// What a listener does with an admitted connection (HTTP, or the agent),
/// given its [`client_key`] as accept() reported it. The listener's socket
/// options (TCP_NODELAY, the write timeout) are already set on it.
pub type Handler = fn(TcpStream, IpAddr, &Shared);

/// The "client" the per-client limit counts: an IPv4 address, or the /64 an
/// IPv6 address belongs to (one host usually owns a whole /64, so counting
/// single IPv6 addresses would make the limit meaningless).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Connection limits, from the config.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_client: usize,
}

/// State shared by the accept loop, connection threads and shutdown.
pub struct Shared {
    runner: Arc<Runner>,
    limits: Limits,
    tls: Option<Arc<ServerConfig>>,
    open: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    in_flight: AtomicUsize,
    unanswered: AtomicUsize,
    stopping: AtomicBool,
    /// Open HTTP connections that may be evicted when every slot is taken.
    evictable: Mutex<HashMap<u64, Evictable>>,
    next_id: AtomicU64,
}

/// What eviction needs of an open connection.
struct Evictable {
    ip: IpAddr,
    since: Instant,
    /// The connection's socket; open for as long as the entry exists (see
    /// [`Registration`]).
    fd: RawFd,
    /// A request is being handled: not a candidate.
    busy: Arc<AtomicBool>,
}

impl Shared {
    /// `tls`: serve HTTPS instead of HTTP on the /health listener.
    pub fn new(runner: Arc<Runner>, limits: Limits, tls: Option<Arc<ServerConfig>>) -> Arc<Shared> {
        Arc::new(Shared {
            runner,
            limits,
            tls,
            open: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            unanswered: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            evictable: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// Stop accepting and finish in-flight requests (their connections close).
    pub fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Requests being handled right now (read, not yet fully answered),
    /// counting an accepted connection whose first request has not arrived
    /// yet: its client waits as much, and shutdown must not drop it.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst) + self.unanswered.load(Ordering::SeqCst)
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Counts a request as in flight until the guard drops (shutdown waits).
    pub fn begin_request(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Unanswered::request_arrived(); // counted by in_flight from here on
        InFlight(self)
    }

    /// Takes a connection slot for `ip`, or `None` when a limit is reached.
    /// At the overall limit, a connection of another address is evicted to
    /// make room (see [`Shared::evict_one`]); `ip`'s own limit is never lifted.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admission> {
        let mut per = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        if per.get(&ip).is_some_and(|&n| n >= self.limits.max_connections_per_client) {
            return None;
        }
        if self.open.load(Ordering::SeqCst) >= self.limits.max_connections && !self.evict_one(&per, ip) {
            return None;
        }
        let n = per.entry(ip).or_insert(0);
        if *n >= self.limits.max_connections_per_client {
            return None;
        }
        *n += 1;
        self.open.fetch_add(1, Ordering::SeqCst);
        Some(Admission { shared: self.clone(), ip })
    }
}

impl Shared {
    /// Shuts down the oldest connection that has no request in progress,
    /// of the address (not `newcomer`) holding the most connections. Its
    /// thread sees end-of-stream at once and frees the slot; until then the
    /// newcomer is admitted beyond the limit (by at most one per evicted
    /// connection, each evicted once). False when there is no candidate.
    fn evict_one(&self, per_client: &HashMap<IpAddr, usize>, newcomer: IpAddr) -> bool {
        let mut evictable = self.evictable.lock().unwrap_or_else(|p| p.into_inner());
        let victim = evictable
            .iter()
            .filter(|(_, e)| e.ip != newcomer && !e.busy.load(Ordering::SeqCst))
            .max_by_key(|(_, e)| (per_client.get(&e.ip).copied().unwrap_or(0), std::cmp::Reverse(e.since)))
            .map(|(&id, _)| id);
        let Some(entry) = victim.and_then(|id| evictable.remove(&id)) else {
            return false;
        };
        // Under the lock: the owner unregisters (same lock) before it closes
        // the socket, so `fd` is still that connection's.
        sys::shutdown_socket(entry.fd);
        log::warn_limited(
            "evict",
            &format!("all {} connection slots taken; closed an idle one of {}", self.limits.max_connections, entry.ip),
        );
        true
    }

    /// Makes an open connection a candidate for eviction.
    fn register(&self, ip: IpAddr, fd: RawFd) -> Registration<'_> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let busy = Arc::new(AtomicBool::new(false));
        let entry = Evictable { ip, since: Instant::now(), fd, busy: busy.clone() };
        self.evictable.lock().unwrap_or_else(|p| p.into_inner()).insert(id, entry);
        Registration { shared: self, id, busy }
    }
}

/// A connection's entry among the eviction candidates. It must be dropped
/// before the connection's socket is closed (see [`handle_connection`]).
struct Registration<'a> {
    shared: &'a Shared,
    id: u64,
    busy: Arc<AtomicBool>,
}

impl Registration<'_> {
    /// A request is being handled (true) or awaited (false).
    fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::SeqCst);
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.shared.evictable.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

/// A request being handled; see [`Shared::begin_request`].
pub struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A taken connection slot, released on drop (also when a handler panics).
struct Admission {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut per = self.shared.per_client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
        self.shared.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An accepted connection whose first request is not read yet; counted in
/// [`Shared::in_flight`] until dropped (then the request itself counts).
/// Each connection thread holds its own in [`UNANSWERED`].
struct Unanswered(Arc<Shared>);

thread_local! {
    /// The connection this thread serves, until its first request arrives.
    static UNANSWERED: std::cell::RefCell<Option<Unanswered>> = const { std::cell::RefCell::new(None) };
}

impl Unanswered {
    fn new(shared: Arc<Shared>) -> Unanswered {
        shared.unanswered.fetch_add(1, Ordering::SeqCst);
        Unanswered(shared)
    }

    /// Makes this connection thread the holder (dropped at thread exit at the latest).
    fn hold(self) {
        UNANSWERED.with(|u| *u.borrow_mut() = Some(self));
    }

    /// This thread's connection has a request in flight: stop counting it here.
    fn request_arrived() {
        UNANSWERED.with(|u| drop(u.borrow_mut().take()));
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        self.0.unanswered.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves HTTP (or HTTPS) on `listener` until shutdown.
pub fn serve(listener: &TcpListener, shared: &Arc<Shared>) {
    serve_with(listener, shared, handle_http);
}

/// Accepts until shutdown, handing each admitted connection to `handler` on
/// a thread of its own (a reused one when available). Never returns on accept() errors: they are logged
/// (rate-limited) and backed off.
pub fn serve_with(listener: &TcpListener, shared: &Arc<Shared>, handler: Handler) {
    let workers = Workers::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    while !shared.stopping() {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => {
                backoff = ACCEPT_BACKOFF_MIN;
                conn
            }
            Err(_) if shared.stopping() => break,
            Err(e) => {
                match e.kind() {
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted => continue,
                    _ => {
                        log::warn_limited("accept", &format!("accept() failed: {e}; retrying in {backoff:?}"));
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    }
                }
                continue;
            }
        };
        let ip = client_key(peer.ip());
        let Some(admission) = shared.admit(ip) else {
            // Over a limit: close at once (RST-free close; the client sees EOF).
            drop(stream);
            continue;
        };
        let conn_shared = shared.clone();
        let unanswered = Unanswered::new(shared.clone());
        let job: Job = Box::new(move || {
            let _admission = admission;
            unanswered.hold();
            handler(stream, ip, &conn_shared);
            // The thread lives on for the next connection: release this one's
            // count now if no request ever arrived.
            Unanswered::request_arrived();
        });
        if let Err(e) = workers.run(job) {
            log::warn_limited("spawn-conn", &format!("cannot start a connection thread: {e}"));
        }
    }
}

/// Plain HTTP, or HTTPS when TLS is configured.
fn handle_http(stream: TcpStream, ip: IpAddr, shared: &Shared) {
    let fd = stream.as_raw_fd();
    match &shared.tls {
        None => handle_connection(stream, shared, shared.register(ip, fd)),
        Some(config) => match TlsConn::new(config, stream) {
            Ok(conn) => handle_connection(conn, shared, shared.register(ip, fd)),
            Err(e) => log::warn_limited("tls-conn", &format!("cannot start a TLS connection: {e}")),
        },
    }
}

/// Serves requests on one connection until close, a limit or an error,
/// then leaves the eviction candidates before the socket is closed.
fn handle_connection(mut stream: impl Conn, shared: &Shared, registration: Registration<'_>) {
    serve_requests(&mut stream, shared, &registration);
    drop(registration);
    drop(stream);
}

fn serve_requests(stream: &mut impl Conn, shared: &Shared, registration: &Registration<'_>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut first_byte_deadline = Instant::now() + HEAD_TIMEOUT;
    for served in 1..=MAX_REQUESTS_PER_CONNECTION {
        let req = match read_head(stream, &mut buf, first_byte_deadline) {
            Ok(Some(req)) => {
                registration.set_busy(true);
                req
            }
            Ok(None) => return,
            Err(status) => {
                let resp = Response::json(status, error_body(status));
                shared.runner.metrics().request_served("other", status);
                let _ = http::write_response(stream, &resp, false, false);
                return;
            }
        };
        if let Err(status) = discard_body(stream, &mut buf, req.body) {
            let resp = Response::json(status, error_body(status));
            shared.runner.metrics().request_served("other", status);
            let _ = http::write_response(stream, &resp, false, false);
            return;
        }
        let request = shared.begin_request();
        let (resp, label) = routes::handle(&req, &shared.runner);
        let keep_alive = req.keep_alive && served < MAX_REQUESTS_PER_CONNECTION && !shared.stopping();
        let written = http::write_response(stream, &resp, req.method == "HEAD", keep_alive);
        drop(request);
        shared.runner.metrics().request_served(label, resp.status);
        if written.is_err() || !keep_alive {
            return;
        }
        registration.set_busy(false);
        first_byte_deadline = Instant::now() + IDLE_TIMEOUT;
    }
}

fn error_body(status: u16) -> Vec<u8> {
    let msg = match status {
        431 => "request head too large",
        413 => "request body too large",
        408 => "request body not received within 5 s",
        _ => "malformed HTTP request",
    };
    crate::server::report::error(msg, None)
}

/// Reads until `buf` holds a full request head. `Ok(None)`: the client closed
/// or was too slow (close silently). `Err(status)`: answer and close.
fn read_head(
    stream: &mut impl Conn,
    buf: &mut Vec<u8>,
    first_byte_deadline: Instant,
) -> Result<Option<http::Request>, u16> {
    let mut head_deadline = (!buf.is_empty()).then(|| Instant::now() + HEAD_TIMEOUT);
    let mut chunk = [0u8; 2048];
    loop {
        if !buf.is_empty() {
            match http::parse_head(buf) {
                Ok(Some((req, n))) => {
                    buf.drain(..n);
                    return Ok(Some(req));
                }
                Ok(None) => {}
                Err(HeadError::TooLarge) => return Err(431),
                Err(HeadError::Malformed(_)) => return Err(400),
            }
        }
        let deadline = *head_deadline.get_or_insert(first_byte_deadline);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Ok(None);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                if buf.is_empty() {
                    head_deadline = Some(Instant::now() + HEAD_TIMEOUT);
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_HEAD_BYTES + chunk.len() {
                    return Err(431);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(None),
        }
    }
}

/// Reads and drops a request body, `Content-Length` or chunked, under the
/// same limits: at most [`MAX_BODY_BYTES`] of data, all of it within
/// [`HEAD_TIMEOUT`] (a per-read timeout alone would let a client trickling
/// one byte every few seconds hold the connection for hours). `Err` is the
/// status to answer before closing: 413 too large, 400 malformed chunked
/// framing, 408 not all there in time. What follows the body stays in `buf`.
fn discard_body(stream: &mut impl Conn, buf: &mut Vec<u8>, framing: BodyFraming) -> Result<(), u16> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    match framing {
        BodyFraming::Length(len) => {
            if len > MAX_BODY_BYTES {
                return Err(413);
            }
            let in_buf = (len as usize).min(buf.len());
            buf.drain(..in_buf);
            let mut left = len - in_buf as u64;
            let mut sink = [0u8; 2048];
            while left > 0 {
                let n = read_before(stream, &mut sink[..(left as usize).min(2048)], deadline)?;
                left -= n as u64;
            }
            Ok(())
        }
        BodyFraming::Chunked => {
            let mut chunked = Chunked::default();
            let status = |e: ChunkError| -> u16 {
                match e {
                    ChunkError::Malformed(_) => 400,
                    ChunkError::TooLarge => 413,
                }
            };
            let used = chunked.feed(buf).map_err(status)?;
            buf.drain(..used);
            let mut sink = [0u8; 2048];
            while !chunked.is_done() {
                let n = read_before(stream, &mut sink, deadline)?;
                let used = chunked.feed(&sink[..n]).map_err(status)?;
                // Pipelined bytes after the body: the next request's head.
                buf.extend_from_slice(&sink[used..n]);
            }
            Ok(())
        }
    }
}

/// One read of at least a byte before `deadline`; `Err(408)` when the time
/// is up or the client closed (nobody reads the answer then, but the
/// connection ends the same way).
fn read_before(stream: &mut impl Conn, into: &mut [u8], deadline: Instant) -> Result<usize, u16> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(408);
        }
        match stream.read(into) {
            Ok(0) => return Err(408),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(408),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_sockets_inherit_nodelay_and_the_write_timeout() {
        let listener = bind(Some("127.0.0.1".parse().unwrap()), 0).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
        assert_eq!(accepted.write_timeout().unwrap(), Some(WRITE_TIMEOUT));
    }

    #[test]
    fn clients_are_ipv4_addresses_or_ipv6_64s() {
        let key = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7", "dual-stack listeners see v4 as mapped");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::9"), key("2001:db8:1:2:ffff::1"));
        assert_ne!(key("2001:db8:1:2::9"), key("2001:db8:1:3::9"));
        assert_eq!(key("::1"), "::");
    }
}
