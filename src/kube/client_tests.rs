//! The API client against the scripted loopback server: token rotation
//! (re-read after a 401), Status bodies and Retry-After, garbage, refused
//! connections, client certificate reload.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::{ApiError, Client};
use super::credentials::{ApiConfig, ClientCertSource, PemSource, TokenSource};
use super::test_server::{Reply, Server};
use crate::testutil::TempDir;

/// A file in a directory of its own, removed on drop.
struct TempFile {
    path: PathBuf,
    _dir: TempDir,
}

impl TempFile {
    fn new(tag: &str, text: &str) -> TempFile {
        let dir = TempDir::new(&format!("client-{tag}"));
        TempFile { path: dir.write("file", text), _dir: dir }
    }
}

fn api(port: u16, token: Option<TokenSource>) -> ApiConfig {
    ApiConfig {
        server: format!("http://127.0.0.1:{port}"),
        ca_pem: None,
        insecure_skip_tls_verify: false,
        tls_server_name: None,
        token,
        client_cert: None,
        origin: "test".into(),
    }
}

fn client(api: ApiConfig) -> Client {
    Client::new(api, Duration::from_secs(5), Duration::from_secs(5))
}

const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

/// A server that accepts only `Bearer <accepted>` and records what it got.
fn token_server(accepted: Arc<Mutex<String>>, seen: Arc<Mutex<Vec<String>>>) -> Server {
    Server::start(Box::new(move |req| {
        let auth = req.header("authorization").unwrap_or("").to_string();
        seen.lock().unwrap().push(auth.clone());
        if auth == format!("Bearer {}", accepted.lock().unwrap()) {
            Reply::Json(200, r#"{"kind":"Node","metadata":{"name":"n1"}}"#.into())
        } else {
            Reply::Json(401, UNAUTHORIZED.into())
        }
    }))
}

#[test]
fn rotated_token_file_is_reread_after_a_401() {
    let accepted = Arc::new(Mutex::new("old-token".to_string()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = token_server(accepted.clone(), seen.clone());
    let file = TempFile::new("token", "old-token\n");
    let mut c = client(api(server.port, Some(TokenSource::File(file.path.clone()))));
    assert!(c.get_json("/api/v1/nodes/n1").is_ok());
    // The kubelet rotates the projected token; the server stops taking the old one.
    std::fs::write(&file.path, "new-token").unwrap();
    *accepted.lock().unwrap() = "new-token".into();
    assert!(c.get_json("/api/v1/nodes/n1").is_ok(), "recovers without a restart");
    assert_eq!(*seen.lock().unwrap(), ["Bearer old-token", "Bearer old-token", "Bearer new-token"]);
}

#[test]
fn inline_token_401_is_reported_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = token_server(Arc::new(Mutex::new("right".into())), seen.clone());
    let mut c = client(api(server.port, Some(TokenSource::Inline("wrong".into()))));
    let e = c.get_json("/api/v1/nodes/n1").unwrap_err();
    assert_eq!(e.to_string(), "API 401 Unauthorized");
    assert_eq!(seen.lock().unwrap().len(), 1, "nothing to re-read: no retry");
}

#[test]
fn error_answers_become_short_reasons() {
    let server = Server::start(Box::new(|req| {
        match req.path.as_str() {
        "/500" => Reply::Json(
            500,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: leader changed","code":500}"#
                .into(),
        ),
        "/429" => Reply::Raw(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
             Connection: close\r\n\r\n{}"
                .into(),
        ),
        "/garbage" => Reply::Raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n<html".into()),
        _ => Reply::Raw("this is not HTTP\r\n\r\n".into()),
    }
    }));
    let mut c = client(api(server.port, None));
    let e = c.get_json("/500").unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (Some(500), "API 500: etcdserver: leader changed"));
    let e = c.get_json("/429").unwrap_err();
    assert_eq!((e.code(), e.retry_after()), (Some(429), Some(Duration::from_secs(7))));
    assert!(matches!(c.get_json("/garbage"), Err(ApiError::Decode(_))));
    assert!(matches!(c.get_json("/nonsense"), Err(ApiError::Transport(_))));
}

#[test]
fn refused_connection_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = client(api(port, None)).get_json("/api/v1/nodes/n1").unwrap_err();
    assert_eq!(e, ApiError::Transport("connection refused".into()));
}

const PEM_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZQ==\n-----END CERTIFICATE-----\n";
const PEM_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgE=\n-----END PRIVATE KEY-----\n";

#[test]
fn client_certificate_file_is_reloaded_when_it_changes() {
    let server = Server::start(Box::new(|_| Reply::Json(200, "{}".into())));
    let combined = TempFile::new("combined-pem", &format!("{PEM_CERT}{PEM_KEY}"));
    let mut a = api(server.port, None);
    let pem = PemSource::File(combined.path.clone());
    a.client_cert = Some(ClientCertSource { cert: pem.clone(), key: pem });
    let mut c = client(a);
    c.get_json("/").unwrap();
    c.get_json("/").unwrap();
    assert_eq!(c.agents_built(), 1, "unchanged file: same agent");
    // kubelet rotates kubelet-client-current.pem.
    std::fs::write(&combined.path, format!("{PEM_KEY}{PEM_CERT}{PEM_CERT}")).unwrap();
    c.get_json("/").unwrap();
    assert_eq!(c.agents_built(), 2, "changed file: new agent");
    // Caught mid-rotation (no key yet): keep working with the previous one.
    std::fs::write(&combined.path, PEM_CERT).unwrap();
    c.get_json("/").unwrap();
    assert_eq!(c.agents_built(), 2);
}

#[test]
fn unusable_credentials_are_reported() {
    let server = Server::start(Box::new(|_| Reply::Json(200, "{}".into())));
    let mut a = api(server.port, Some(TokenSource::File("/nonexistent/token".into())));
    let e = client(a.clone()).get_json("/").unwrap_err();
    assert!(matches!(&e, ApiError::Credentials(s) if s.contains("/nonexistent/token")), "{e:?}");
    a.token = None;
    let only_cert = TempFile::new("cert-only", PEM_CERT);
    let pem = PemSource::File(only_cert.path.clone());
    a.client_cert = Some(ClientCertSource { cert: pem.clone(), key: pem });
    let e = client(a).get_json("/").unwrap_err();
    assert!(matches!(&e, ApiError::Credentials(s) if s.contains("no private key")), "{e:?}");
}

#[test]
fn tls_server_name_reaches_the_real_server() {
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let h = hosts.clone();
    let server = Server::start(Box::new(move |req| {
        h.lock().unwrap().push(req.header("host").unwrap_or("").to_string());
        Reply::Json(200, "{}".into())
    }));
    let mut a = api(server.port, None);
    a.tls_server_name = Some("kubernetes.default.svc".into());
    client(a).get_json("/api/v1/nodes/n1").unwrap();
    assert_eq!(*hosts.lock().unwrap(), [format!("kubernetes.default.svc:{}", server.port)]);
}
