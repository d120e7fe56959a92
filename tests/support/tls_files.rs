//! Certificate files for the service's own TLS listener (TLS_CERT_FILE,
//! TLS_KEY_FILE, TLS_CLIENT_CA_FILE), made at test time with rcgen, and a
//! small blocking rustls client to talk HTTPS to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A test CA that issues server and client certificates as PEM files.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, written to files.
#[derive(Clone, Debug)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    pub fn cert_der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(&self.cert).expect("cert PEM")
    }

    /// Certificate then key in one file (HAProxy's `crt` format).
    pub fn write_combined(&self, path: &Path) -> PathBuf {
        let mut pem = std::fs::read(&self.cert).unwrap();
        pem.extend(std::fs::read(&self.key).unwrap());
        std::fs::write(path, pem).unwrap();
        path.to_path_buf()
    }
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).expect("CA certificate");
        TestCa { issuer }
    }

    /// Writes the CA certificate to `dir/<file>`.
    pub fn write_ca(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.issuer.pem()).unwrap();
        path
    }

    /// A server certificate for 127.0.0.1 and localhost, as `dir/<tag>.crt` + `.key`.
    pub fn server(&self, dir: &Path, tag: &str) -> Pair {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, tag);
        params.subject_alt_names =
            vec![SanType::IpAddress("127.0.0.1".parse().unwrap()), SanType::DnsName("localhost".try_into().unwrap())];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, dir, tag)
    }

    /// A client certificate (CN = `tag`), as `dir/<tag>.crt` + `.key`.
    pub fn client(&self, dir: &Path, tag: &str) -> Pair {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, tag);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, dir, tag)
    }

    fn issue(&self, params: CertificateParams, dir: &Path, tag: &str) -> Pair {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).expect("issue certificate");
        let pair = Pair { cert: dir.join(format!("{tag}.crt")), key: dir.join(format!("{tag}.key")) };
        std::fs::write(&pair.cert, cert.pem()).unwrap();
        std::fs::write(&pair.key, key.serialize_pem()).unwrap();
        pair
    }
}

/// A rustls client config trusting `ca_file`, presenting `client` if given.
pub fn client_config(ca_file: &Path, client: Option<&Pair>) -> Arc<ClientConfig> {
    client_config_versions(ca_file, client, rustls::DEFAULT_VERSIONS)
}

/// Same, limited to the given TLS versions (e.g. only TLS 1.2).
pub fn client_config_versions(
    ca_file: &Path,
    client: Option<&Pair>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_file).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some(p) => {
            let chain = CertificateDer::pem_file_iter(&p.cert).unwrap().map(|c| c.unwrap()).collect();
            builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(&p.key).unwrap()).unwrap()
        }
    };
    // Every exchange a full handshake: a resumed session would report the
    // certificate of the session it resumes, not the one served now.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// What one HTTPS exchange gave: the server's certificate and the raw
/// response, or the error that ended it.
pub struct Exchange {
    pub peer_cert: Option<CertificateDer<'static>>,
    pub response: Result<Vec<u8>, std::io::Error>,
}

/// `GET path` over TLS (Connection: close), reading until the server closes.
pub fn https_get(addr: SocketAddr, config: Arc<ClientConfig>, path: &str) -> Exchange {
    let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = ClientConnection::new(config, name).unwrap();
    let mut tls = StreamOwned::new(conn, sock);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let response = tls.write_all(req.as_bytes()).and_then(|_| tls.read_to_end(&mut out)).map(|_| out);
    let peer_cert = tls.conn.peer_certificates().and_then(|c| c.first()).map(|c| c.clone().into_owned());
    Exchange { peer_cert, response }
}
