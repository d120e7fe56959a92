//! Optional TLS on the /health listener (TLS_CERT_FILE + TLS_KEY_FILE, and
//! TLS_CLIENT_CA_FILE to require client certificates).
//!
//! The certificate is re-read when its files change (cert-manager, kubelet
//! style rotation, a Secret's symlink swap) without a restart: the resolver
//! looks at the files at most once per second, from a handshake, and keeps
//! serving the old certificate if the new pair does not load (half-written,
//! key and cert not matching yet).
//!
//! [`TlsConn`] wraps one connection so that the server's read timeout bounds
//! a whole `read` call, handshake included, exactly like on a plain socket:
//! a client that drips a handshake byte by byte cannot hold a slot longer.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

use super::conn::Conn;
use crate::log;

/// The certificate files are looked at no more often than this.
const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server config: TLS 1.2 and 1.3 only, our certificate (reloaded
/// on change), client certificates required iff `client_ca` is given.
/// Errors name the file at fault, for a one-line exit-2 message.
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Arc<ServerConfig>, String> {
    let resolver = ReloadingCert::load(cert.to_path_buf(), key.to_path_buf())?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in read_certs(ca, "TLS_CLIENT_CA_FILE")? {
                roots.add(c).map_err(|e| format!("TLS_CLIENT_CA_FILE {}: bad CA certificate: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("TLS_CLIENT_CA_FILE {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(Arc::new(builder.with_cert_resolver(Arc::new(resolver))))
}

fn read_certs(path: &Path, env: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = fs::read(path).map_err(|e| format!("{env} {}: cannot read: {e}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{env} {}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{env} {}: no PEM certificate in the file", path.display()));
    }
    Ok(certs)
}

fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = read_certs(cert, "TLS_CERT_FILE")?;
    let pem = fs::read(key).map_err(|e| format!("TLS_KEY_FILE {}: cannot read: {e}", key.display()))?;
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("TLS_KEY_FILE {}: no usable PEM private key: {e}", key.display()))?;
    CertifiedKey::from_der(chain, der, &provider())
        .map_err(|e| format!("TLS_CERT_FILE {} / TLS_KEY_FILE {}: unusable pair: {e}", cert.display(), key.display()))
}

/// What identifies one version of a file: a change of any of these (a
/// rewrite, a rename over it, a Secret's symlink swap) means re-read.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

struct Current {
    key: Arc<CertifiedKey>,
    stamps: (Stamp, Stamp),
    checked: Instant,
}

/// Serves the certificate of `cert`/`key`, re-read when the files change.
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<Current>,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert").field("cert", &self.cert).field("key", &self.key).finish()
    }
}

impl ReloadingCert {
    fn load(cert: PathBuf, key: PathBuf) -> Result<ReloadingCert, String> {
        let stamps = (stamp(&cert), stamp(&key));
        let loaded = load_pair(&cert, &key)?;
        let current = Mutex::new(Current { key: Arc::new(loaded), stamps, checked: Instant::now() });
        Ok(ReloadingCert { cert, key, current })
    }

    /// The certificate to serve now, reloaded first if the files changed.
    fn get(&self) -> Arc<CertifiedKey> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.checked.elapsed() >= RELOAD_CHECK_INTERVAL {
            cur.checked = Instant::now();
            let stamps = (stamp(&self.cert), stamp(&self.key));
            if stamps != cur.stamps {
                match load_pair(&self.cert, &self.key) {
                    Ok(k) => {
                        cur.key = Arc::new(k);
                        cur.stamps = stamps;
                        log::info(&format!("TLS certificate reloaded from {}", self.cert.display()));
                    }
                    // Stamps stay old: the next check (a second later) tries again.
                    Err(e) => log::warn_limited("tls-reload", &format!("{e}; still serving the previous certificate")),
                }
            }
        }
        cur.key.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// One server-side TLS connection over a blocking socket.
pub struct TlsConn {
    tls: ServerConnection,
    sock: TcpStream,
    /// Set by [`Conn::set_read_timeout`]: how long one read call may take.
    read_timeout: Option<Duration>,
}

impl TlsConn {
    pub fn new(config: &Arc<ServerConfig>, sock: TcpStream) -> io::Result<TlsConn> {
        let tls = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        Ok(TlsConn { tls, sock, read_timeout: None })
    }

    /// Writes every pending TLS record (handshake, alerts, data) to the socket.
    fn send_pending(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            self.tls.write_tls(&mut self.sock)?;
        }
        Ok(())
    }
}

impl Conn for TlsConn {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout = timeout;
        self.sock.set_read_timeout(timeout)
    }
}

impl Read for TlsConn {
    /// Like a socket read: returns plaintext, 0 at the end, or an error
    /// once the read timeout has passed, however the peer paces its bytes.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.read_timeout.map(|t| Instant::now() + t);
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                self.sock.set_read_timeout(Some(left))?;
            }
            if self.tls.read_tls(&mut self.sock)? == 0 {
                return Ok(0);
            }
            let processed = self.tls.process_new_packets();
            // Send what the handshake produced, or the alert on an error.
            let sent = self.send_pending();
            if let Err(e) = processed {
                // A load balancer with the wrong CA or client certificate
                // shows up here and nowhere else: say so, once a minute.
                let peer = self.sock.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
                log::warn_limited("tls-handshake", &format!("TLS with {peer} failed: {e}"));
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            sent?;
        }
    }
}

impl Write for TlsConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tls.writer().write(buf)?;
        self.send_pending()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tls.writer().flush()?;
        self.send_pending()
    }
}

impl Drop for TlsConn {
    /// A clean TLS close (close_notify) so clients do not see a truncation.
    fn drop(&mut self) {
        self.tls.send_close_notify();
        let _ = self.send_pending();
    }
}
