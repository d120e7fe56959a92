//! A faithful fake Kubernetes API server for the Node resource, in-process
//! (threads on 127.0.0.1:0, no async runtime), stopped on drop.
//!
//! What it imitates, and what it does not, is written down in
//! `tests/support/FAKE_APISERVER.md`; read that before relying on a detail.
//!
//! ```ignore
//! let api = FakeApiServer::start();            // HTTPS, token auth, get/list/watch allowed
//! api.add_node("n1");                          // Ready=True
//! api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
//! api.set_fault(Some(Fault::Status(500)));     // every request now gets a 500 Status
//! assert_eq!(api.count(Verb::List), 1);
//! ```

mod certs;
mod handler;
mod server;
mod status;
mod store;
mod watch;
mod wire;

pub use certs::ClientCert;
#[allow(unused_imports)] // part of the helper API; not every test binary uses it
pub use store::{minimal_node, now_rfc3339};

use crate::support::TempDir;
use serde_json::Value;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The API verbs the fake serves for nodes (what RBAC rules name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
        }
    }
}

/// Fault switches: what the server does to a request instead of answering it.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// A metav1.Status body with this HTTP code (500 InternalError, 503, 504, 410 …).
    Status(u16),
    /// 429 as the max-in-flight / priority-and-fairness filter sends it:
    /// `Retry-After` header and a **plain-text** body.
    TooManyRequests { retry_after_secs: u32 },
    /// Read the request, never answer (the connection stays open until the server stops).
    Hang,
    /// Accept the TCP connection and never read from it: no TLS handshake.
    HangAccept,
    /// Read the request, then close with RST (SO_LINGER 0).
    Reset,
    /// `200 OK`, `Content-Type: application/json`, a body that is not JSON.
    Garbage,
}

/// One request as the fake saw it, for asserting what a client sent.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub verb: Option<Verb>,
    pub method: String,
    pub path: String,
    /// Raw (still percent-encoded) query string.
    pub query: String,
    pub user: Option<String>,
    /// Status code sent, 0 when none was (hang, reset).
    pub status: u16,
}

#[derive(Clone)]
struct Knobs {
    allowed: Vec<Verb>,
    allow_anonymous: bool,
    latency: Duration,
    /// The fault and the verbs it applies to (`None` = every request).
    fault: Option<(Fault, Option<Vec<Verb>>)>,
    bookmark_period: Duration,
}

/// State shared by the accept loop, connection threads and the test's handle.
struct Shared {
    store: Mutex<store::Store>,
    /// Notified on every store change and every switch a watch must notice.
    changed: Condvar,
    knobs: Mutex<Knobs>,
    counts: Mutex<HashMap<Verb, u64>>,
    log: Mutex<Vec<RequestRecord>>,
    stopping: AtomicBool,
    /// Bumped by `drop_watches`: watches started before it close abruptly.
    drop_gen: AtomicU64,
    /// Bumped by `stall_watches`: watches started before it go silent for good.
    stall_gen: AtomicU64,
    /// Bumped by `end_watches`: watches started before it end cleanly.
    end_gen: AtomicU64,
    open_watches: AtomicUsize,
    /// Clones of open sockets, shut down when the server stops.
    conns: Mutex<HashMap<u64, TcpStream>>,
    /// Client certificates this fake issued (DER → user name).
    client_certs: Mutex<HashMap<Vec<u8>, String>>,
    token_file: PathBuf,
    token_user: String,
}

impl Shared {
    fn knobs(&self) -> Knobs {
        self.knobs.lock().unwrap().clone()
    }

    fn notify(&self) {
        let _guard = self.store.lock().unwrap();
        self.changed.notify_all();
    }

    fn record(&self, rec: RequestRecord) {
        self.log.lock().unwrap().push(rec);
    }
}

pub struct Builder {
    tls: bool,
    token_file: Option<PathBuf>,
    token_user: String,
    allowed: Vec<Verb>,
    allow_anonymous: bool,
    bookmark_period: Duration,
}

impl Builder {
    /// Serve plain HTTP instead of HTTPS (client certificates then do not exist).
    pub fn plain_http(mut self) -> Self {
        self.tls = false;
        self
    }

    /// Accept the bearer token found in this file (re-read on every request).
    /// Point the client at the same file to model a projected token the kubelet
    /// rotates: rewrite it and the old token is rejected from then on.
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    /// The user a valid bearer token authenticates as (appears in 403 messages).
    pub fn token_user(mut self, user: &str) -> Self {
        self.token_user = user.to_string();
        self
    }

    pub fn allow_verbs(mut self, verbs: &[Verb]) -> Self {
        self.allowed = verbs.to_vec();
        self
    }

    /// Let `system:anonymous` (no credentials) read nodes; default: 403 like RBAC.
    pub fn allow_anonymous(mut self) -> Self {
        self.allow_anonymous = true;
        self
    }

    pub fn bookmark_period(mut self, period: Duration) -> Self {
        self.bookmark_period = period;
        self
    }

    pub fn start(self) -> FakeApiServer {
        let dir = TempDir::new("fakeapi");
        let token_file = self.token_file.unwrap_or_else(|| write(&dir, "token", "fake-token-1"));
        let pki = self.tls.then(certs::Pki::new);
        let ca_path = pki.as_ref().map(|p| write(&dir, "ca.crt", &p.ca_pem()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake apiserver");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            store: Mutex::new(store::Store::new()),
            changed: Condvar::new(),
            knobs: Mutex::new(Knobs {
                allowed: self.allowed,
                allow_anonymous: self.allow_anonymous,
                latency: Duration::ZERO,
                fault: None,
                bookmark_period: self.bookmark_period,
            }),
            counts: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            drop_gen: AtomicU64::new(0),
            stall_gen: AtomicU64::new(0),
            end_gen: AtomicU64::new(0),
            open_watches: AtomicUsize::new(0),
            conns: Mutex::new(HashMap::new()),
            client_certs: Mutex::new(HashMap::new()),
            token_file,
            token_user: self.token_user,
        });
        let tls = pki.as_ref().map(server::tls_config);
        let accept = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("fakeapi-accept".into())
                .spawn(move || server::accept_loop(listener, shared, tls))
                .unwrap()
        };
        FakeApiServer { shared, addr, pki, ca_path, dir, accept: Some(accept) }
    }
}

pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    pki: Option<certs::Pki>,
    ca_path: Option<PathBuf>,
    dir: TempDir,
    accept: Option<JoinHandle<()>>,
}

impl FakeApiServer {
    /// Defaults: HTTPS, token auth (user `system:serviceaccount:harmony:node-readiness`),
    /// get/list/watch allowed, bookmarks every 60 s (the watch cache's period).
    pub fn builder() -> Builder {
        Builder {
            tls: true,
            token_file: None,
            token_user: "system:serviceaccount:harmony:node-readiness".into(),
            allowed: vec![Verb::Get, Verb::List, Verb::Watch],
            allow_anonymous: false,
            bookmark_period: Duration::from_secs(60),
        }
    }

    pub fn start() -> FakeApiServer {
        FakeApiServer::builder().start()
    }

    // ---- where and how to connect ----

    /// `https://127.0.0.1:PORT` (or `http://` in plain mode).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.pki.is_some() { "https" } else { "http" }, self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A directory that lives as long as the server, for kubeconfigs and keys.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ca_pem(&self) -> String {
        self.pki.as_ref().expect("plain-HTTP fake has no CA").ca_pem()
    }

    pub fn ca_der(&self) -> rustls::pki_types::CertificateDer<'static> {
        self.pki.as_ref().expect("plain-HTTP fake has no CA").ca_der()
    }

    /// `ca.crt` written in `dir()`.
    pub fn ca_path(&self) -> PathBuf {
        self.ca_path.clone().expect("plain-HTTP fake has no CA")
    }

    pub fn token_path(&self) -> PathBuf {
        self.shared.token_file.clone()
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(&self.shared.token_file).unwrap_or_default().trim().to_string()
    }

    /// Rotates the token: writes a temp file and renames it over the token
    /// file (atomic, as the kubelet's projected-volume writer swaps files).
    pub fn set_token(&self, token: &str) {
        let tmp = self.shared.token_file.with_extension("rotating");
        std::fs::write(&tmp, token).unwrap();
        std::fs::rename(&tmp, &self.shared.token_file).unwrap();
    }

    pub fn token_user(&self) -> &str {
        &self.shared.token_user
    }

    /// A client certificate signed by the test CA; the fake authenticates it as `user`.
    pub fn issue_client_cert(&self, user: &str, group: Option<&str>) -> ClientCert {
        let cert = self.pki.as_ref().expect("plain-HTTP fake has no CA").issue_client(user, group);
        self.shared.client_certs.lock().unwrap().insert(cert.cert_der.as_ref().to_vec(), user.to_string());
        cert
    }

    // ---- the objects ----

    /// Creates or replaces a Node (ADDED or MODIFIED); returns its resourceVersion.
    pub fn set_node(&self, node: Value) -> u64 {
        self.mutate(|s| s.put(node))
    }

    /// A minimal kubelet-registered Node named `name`, Ready=True.
    pub fn add_node(&self, name: &str) -> u64 {
        self.set_node(minimal_node(name))
    }

    pub fn node(&self, name: &str) -> Option<Value> {
        self.shared.store.lock().unwrap().get(name).cloned()
    }

    /// Applies `f` to the Node (panics if absent) and stores it as a MODIFIED event.
    pub fn update_node(&self, name: &str, f: impl FnOnce(&mut Value)) -> u64 {
        self.mutate(|s| s.update(name, f))
    }

    /// Sets a condition as the kubelet does (transition time moves only on a status change).
    pub fn set_condition(&self, name: &str, type_: &str, status: &str, reason: &str, message: &str) -> u64 {
        self.update_node(name, |n| store::set_condition(n, type_, status, reason, message))
    }

    pub fn set_ready(&self, name: &str, status: &str, reason: &str, message: &str) -> u64 {
        self.set_condition(name, "Ready", status, reason, message)
    }

    /// `kubectl cordon` / `uncordon`: sets or removes `spec.unschedulable`.
    pub fn cordon(&self, name: &str, cordoned: bool) -> u64 {
        self.update_node(name, |n| {
            let spec = n["spec"].as_object_mut().expect("spec object");
            if cordoned {
                spec.insert("unschedulable".into(), Value::Bool(true));
            } else {
                spec.remove("unschedulable");
            }
        })
    }

    /// Deletes the Node (a DELETED event); `None` if it did not exist.
    pub fn delete_node(&self, name: &str) -> Option<u64> {
        self.mutate(|s| s.delete(name))
    }

    /// Compacts history: a watch resuming from any older RV gets 410 Expired.
    pub fn compact(&self) {
        self.mutate(|s| s.compact())
    }

    /// The last resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.shared.store.lock().unwrap().rv
    }

    fn mutate<T>(&self, f: impl FnOnce(&mut store::Store) -> T) -> T {
        let mut s = self.shared.store.lock().unwrap();
        let out = f(&mut s);
        self.shared.changed.notify_all();
        out
    }

    // ---- switches ----

    /// Which verbs RBAC allows (the rest get a 403 Status).
    pub fn allow_verbs(&self, verbs: &[Verb]) {
        self.shared.knobs.lock().unwrap().allowed = verbs.to_vec();
    }

    /// Delay added before every request is handled.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.knobs.lock().unwrap().latency = latency;
    }

    /// Applies `fault` to every new request (`None` clears it). Open watches are
    /// not affected: combine with `drop_watches` to force clients to reconnect.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.knobs.lock().unwrap().fault = fault.map(|f| (f, None));
    }

    /// Applies `fault` only to requests of these verbs.
    pub fn set_fault_for(&self, verbs: &[Verb], fault: Fault) {
        self.shared.knobs.lock().unwrap().fault = Some((fault, Some(verbs.to_vec())));
    }

    pub fn set_bookmark_period(&self, period: Duration) {
        self.shared.knobs.lock().unwrap().bookmark_period = period;
        self.shared.notify();
    }

    /// Closes every open watch at once, without the chunked terminator (as an
    /// apiserver restart or a load balancer in front of it does).
    pub fn drop_watches(&self) {
        self.shared.drop_gen.fetch_add(1, Ordering::SeqCst);
        self.shared.notify();
    }

    /// Open watches stay connected but never send another byte, not even
    /// bookmarks (a half-open connection). Watches opened later are normal.
    pub fn stall_watches(&self) {
        self.shared.stall_gen.fetch_add(1, Ordering::SeqCst);
        self.shared.notify();
    }

    /// Ends every open watch cleanly (zero-length chunk), stalled ones too, as
    /// when their `timeoutSeconds` runs out: clients resume from their last RV.
    pub fn end_watches(&self) {
        self.shared.end_gen.fetch_add(1, Ordering::SeqCst);
        self.shared.notify();
    }

    /// Watch streams currently being served (stalled ones included).
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(Ordering::SeqCst)
    }

    // ---- what clients did ----

    /// Requests seen for this verb, whatever their outcome (401/403/faults included).
    pub fn count(&self, verb: Verb) -> u64 {
        self.shared.counts.lock().unwrap().get(&verb).copied().unwrap_or(0)
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Forgets counts and the request log (e.g. after a warm-up phase).
    pub fn reset_counts(&self) {
        self.shared.counts.lock().unwrap().clear();
        self.shared.log.lock().unwrap().clear();
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.notify();
        for (_, c) in self.shared.conns.lock().unwrap().drain() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        // Wake the blocking accept() so the loop sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Reads a Node fixture (`kubectl get node -o json` output) from ../shared/fixtures/nodes.
pub fn load_node_fixture(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn write(dir: &TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}
