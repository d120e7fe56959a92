//! State shared by the accept loop, the connection threads and the test's
//! handle: the store and its change signal, the switches, counters, and the
//! generations that end, drop or stall open watches.

use super::{Fault, RequestRecord, Verb, store};
use std::collections::HashMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Clone)]
pub struct Knobs {
    pub allowed: Vec<Verb>,
    pub allow_anonymous: bool,
    pub latency: Duration,
    /// The fault and the verbs it applies to (`None` = every request).
    pub fault: Option<(Fault, Option<Vec<Verb>>)>,
    pub bookmark_period: Duration,
    /// RBAC on EndpointSlices: `None` allows the `allowed` verbs in every
    /// namespace; `Some` only in these (a Role + RoleBinding per namespace,
    /// so a cluster-wide request is forbidden too).
    pub slice_namespaces: Option<Vec<String>>,
}

/// State shared by the accept loop, connection threads and the test's handle.
pub struct Shared {
    pub store: Mutex<store::Store>,
    /// Notified on every store change and every switch a watch must notice.
    pub changed: Condvar,
    pub knobs: Mutex<Knobs>,
    pub counts: Mutex<HashMap<Verb, u64>>,
    pub log: Mutex<Vec<RequestRecord>>,
    pub stopping: AtomicBool,
    /// Bumped by `drop_watches`: watches started before it close abruptly.
    pub drop_gen: AtomicU64,
    /// Bumped by `stall_watches`: watches started before it go silent for good.
    pub stall_gen: AtomicU64,
    /// Bumped by `end_watches`: watches started before it end cleanly.
    pub end_gen: AtomicU64,
    pub open_watches: AtomicUsize,
    /// Set by `freeze`: the process is stopped (SIGSTOP) — nothing is read,
    /// answered or sent until `thaw`; the kernel still accepts connections.
    pub frozen: AtomicBool,
    /// Clones of open sockets, shut down when the server stops.
    pub conns: Mutex<HashMap<u64, TcpStream>>,
    /// Client certificates this fake issued (DER → user name).
    pub client_certs: Mutex<HashMap<Vec<u8>, String>>,
    pub token_file: PathBuf,
    pub token_user: String,
}

impl Shared {
    pub fn knobs(&self) -> Knobs {
        self.knobs.lock().unwrap().clone()
    }

    pub fn notify(&self) {
        let _guard = self.store.lock().unwrap();
        self.changed.notify_all();
    }

    pub fn record(&self, rec: RequestRecord) {
        self.log.lock().unwrap().push(rec);
    }
}
