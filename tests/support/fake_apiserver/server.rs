//! Accept loop and per-connection threads: TLS (rustls, ring) with optional
//! client certificates verified against the test CA — like kube-apiserver's
//! `--client-ca-file` (`VerifyClientCertIfGiven`): no certificate is fine
//! (token or anonymous), an untrusted one fails the handshake. HTTP/1.1
//! keep-alive; ALPN offers only `http/1.1` (the real server also offers h2).

use super::handler::{self, Next};
use super::wire::{self, Stream};
use super::{Fault, Shared};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub fn tls_config(pki: &super::certs::Pki) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der()).expect("CA into root store");
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .expect("client verifier");
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.server_cert.clone()], pki.server_key())
        .expect("server cert");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<Arc<ServerConfig>>) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(tcp) = conn else { continue };
        let _ = tcp.set_nodelay(true);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = tcp.try_clone() {
            shared.conns.lock().unwrap().insert(id, clone);
        }
        let (shared, tls) = (shared.clone(), tls.clone());
        let spawned = std::thread::Builder::new().name(format!("fakeapi-conn-{id}")).spawn(move || {
            serve_connection(tcp, &shared, tls);
            shared.conns.lock().unwrap().remove(&id);
        });
        if spawned.is_err() {
            eprintln!("fake apiserver: cannot spawn a connection thread");
        }
    }
}

fn serve_connection(tcp: TcpStream, shared: &Shared, tls: Option<Arc<ServerConfig>>) {
    // Accepted by the kernel's backlog while stopped: no handshake until thawed.
    wait_thawed(shared);
    if matches!(shared.knobs().fault, Some((Fault::HangAccept, _))) {
        hold(shared);
        return;
    }
    let mut stream = match tls {
        Some(cfg) => match ServerConnection::new(cfg) {
            Ok(conn) => Stream::Tls(Box::new(StreamOwned::new(conn, tcp))),
            Err(_) => return,
        },
        None => Stream::Plain(tcp),
    };
    let mut buf = Vec::new();
    loop {
        // A failed TLS handshake (untrusted client certificate) or a closed
        // connection ends here, like Go's server closing the conn.
        let req = match wire::read_request(&mut stream, &mut buf) {
            Ok(Some(req)) => req,
            Ok(None) => break,
            Err(_) => break,
        };
        wait_thawed(shared);
        match handler::handle(&mut stream, &req, shared) {
            Next::KeepAlive if !req.close => continue,
            Next::KeepAlive | Next::Close => break,
            Next::Hang => {
                hold(shared);
                break;
            }
            Next::Reset => {
                // SO_LINGER 0: close() sends RST instead of FIN.
                let _ = socket2::SockRef::from(stream.tcp()).set_linger(Some(Duration::ZERO));
                return;
            }
        }
    }
    if let Stream::Tls(s) = &mut stream {
        s.conn.send_close_notify();
        let _ = s.conn.complete_io(&mut s.sock);
    }
}

/// Keeps a connection open and silent until the server stops.
pub fn hold(shared: &Shared) {
    let mut guard = shared.store.lock().unwrap();
    while !shared.stopping.load(Ordering::SeqCst) {
        guard = shared.changed.wait_timeout(guard, Duration::from_millis(200)).unwrap().0;
    }
}

/// Returns once the server is not frozen (or is stopping): a stopped
/// process resumes where it was.
pub fn wait_thawed(shared: &Shared) {
    let mut guard = shared.store.lock().unwrap();
    while shared.frozen.load(Ordering::SeqCst) && !shared.stopping.load(Ordering::SeqCst) {
        guard = shared.changed.wait_timeout(guard, Duration::from_millis(200)).unwrap().0;
    }
}
