//! Configures and starts a FakeApiServer: TLS or plain, token file and user,
//! allowed verbs, anonymous access, bookmark period.

use super::shared::{Knobs, Shared};
use super::{FakeApiServer, Verb, certs, server, store};
use crate::support::TempDir;
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub struct Builder {
    tls: bool,
    token_file: Option<PathBuf>,
    token_user: String,
    allowed: Vec<Verb>,
    allow_anonymous: bool,
    bookmark_period: Duration,
}

impl Builder {
    pub(super) fn new() -> Builder {
        Builder {
            tls: true,
            token_file: None,
            token_user: "system:serviceaccount:harmony:node-readiness".into(),
            allowed: vec![Verb::Get, Verb::List, Verb::Watch],
            allow_anonymous: false,
            bookmark_period: Duration::from_secs(60),
        }
    }

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
                slice_namespaces: None,
            }),
            counts: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            drop_gen: AtomicU64::new(0),
            stall_gen: AtomicU64::new(0),
            end_gen: AtomicU64::new(0),
            open_watches: AtomicUsize::new(0),
            frozen: AtomicBool::new(false),
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

fn write(dir: &TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}
