//! The test's handle on a running fake: where to connect, the objects, the
//! switches, and what clients did. Dropping it stops the server.

use super::builder::Builder;
use super::selection::{Key, Kind};
use super::shared::Shared;
use super::{ClientCert, Fault, RequestRecord, Verb, certs, minimal_node, store};
use crate::support::TempDir;
use serde_json::Value;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct FakeApiServer {
    pub(super) shared: Arc<Shared>,
    pub(super) addr: SocketAddr,
    pub(super) pki: Option<certs::Pki>,
    pub(super) ca_path: Option<PathBuf>,
    pub(super) dir: TempDir,
    pub(super) accept: Option<JoinHandle<()>>,
}

impl FakeApiServer {
    /// Defaults: HTTPS, token auth (user `system:serviceaccount:harmony:node-readiness`),
    /// get/list/watch allowed, bookmarks every 60 s (the watch cache's period).
    pub fn builder() -> Builder {
        Builder::new()
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
        self.mutate(|s| s.put(Kind::Node, node))
    }

    /// A minimal kubelet-registered Node named `name`, Ready=True.
    pub fn add_node(&self, name: &str) -> u64 {
        self.set_node(minimal_node(name))
    }

    pub fn node(&self, name: &str) -> Option<Value> {
        self.shared.store.lock().unwrap().get(&Key::node(name)).cloned()
    }

    /// Applies `f` to the Node (panics if absent) and stores it as a MODIFIED event.
    pub fn update_node(&self, name: &str, f: impl FnOnce(&mut Value)) -> u64 {
        self.mutate(|s| s.update(&Key::node(name), f))
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
        self.mutate(|s| s.delete(&Key::node(name)))
    }

    /// Creates or replaces an EndpointSlice (namespace from its metadata;
    /// see `endpoint_slice`); returns its resourceVersion.
    pub fn set_endpoint_slice(&self, slice: Value) -> u64 {
        self.mutate(|s| s.put(Kind::EndpointSlice, slice))
    }

    pub fn endpoint_slice(&self, namespace: &str, name: &str) -> Option<Value> {
        self.shared.store.lock().unwrap().get(&Key::slice(namespace, name)).cloned()
    }

    /// Applies `f` to the EndpointSlice (panics if absent): a MODIFIED event.
    pub fn update_endpoint_slice(&self, namespace: &str, name: &str, f: impl FnOnce(&mut Value)) -> u64 {
        self.mutate(|s| s.update(&Key::slice(namespace, name), f))
    }

    /// Replaces the EndpointSlice's endpoints (`endpoint`), as the
    /// controller does when a pod changes.
    pub fn set_endpoints(&self, namespace: &str, name: &str, endpoints: Vec<Value>) -> u64 {
        self.update_endpoint_slice(namespace, name, |s| {
            s["endpoints"] = if endpoints.is_empty() { Value::Null } else { Value::Array(endpoints) }
        })
    }

    pub fn delete_endpoint_slice(&self, namespace: &str, name: &str) -> Option<u64> {
        self.mutate(|s| s.delete(&Key::slice(namespace, name)))
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

    /// RBAC on EndpointSlices only in these namespaces (`None`: in all).
    pub fn allow_endpointslices_in(&self, namespaces: Option<&[&str]>) {
        self.shared.knobs.lock().unwrap().slice_namespaces =
            namespaces.map(|nss| nss.iter().map(|n| n.to_string()).collect());
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

    /// As if the server process got SIGSTOP: connections are still accepted
    /// (by the kernel) and held open, but nothing is read, answered or sent
    /// — no TLS handshake, no response, no watch event or bookmark — until
    /// [`thaw`](Self::thaw), when everything resumes where it stopped.
    /// `drop` while frozen is a SIGKILL of the stopped process.
    pub fn freeze(&self) {
        self.shared.frozen.store(true, Ordering::SeqCst);
        self.shared.notify();
    }

    /// SIGCONT after [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        self.shared.frozen.store(false, Ordering::SeqCst);
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
        self.kill();
    }
}

impl FakeApiServer {
    /// As if the process were killed: every connection closed, the port no
    /// longer listening (connection refused from now on). The files in
    /// `dir()` (kubeconfig, token) stay until the handle is dropped.
    pub fn kill(&mut self) {
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
