//! A faithful fake Kubernetes API server for Nodes and EndpointSlices, in-process
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

mod builder;
mod certs;
mod handle;
mod handler;
mod selection;
mod server;
mod shared;
mod status;
mod store;
mod watch;
mod wire;

#[allow(unused_imports)] // part of the helper API; not every test binary names it
pub use builder::Builder;
pub use handle::FakeApiServer;
use shared::Shared;

pub use certs::ClientCert;
#[allow(unused_imports)] // part of the helper API; not every test binary uses it
pub use store::{Phase, endpoint, endpoint_slice, minimal_node, now_rfc3339};

use serde_json::Value;
use std::path::Path;

/// The API verbs the fake serves (what RBAC rules name).
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

/// Reads a Node fixture (`kubectl get node -o json` output) from testdata/nodes.
pub fn load_node_fixture(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}
