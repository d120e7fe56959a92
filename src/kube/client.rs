//! HTTP to the API server: ureq 3 + rustls (ring), trusting the cluster CA
//! only, every timeout set, error bodies decoded into short reasons.
//!
//! Rotating credentials: a token file is re-read at least every minute and
//! once more after a 401 (projected service account tokens rotate and the old
//! one stops working); a client certificate file is re-stat'ed before each
//! request and a new Agent is built when it changed (rustls keeps the loaded
//! certificate for the Agent's lifetime).
//!
//! No HTTP proxy is used (`proxy(None)`), whatever HTTPS_PROXY says: the API
//! server must be reachable directly from every node (the kubelet needs it
//! too), and a forward proxy's idle timeout would cut long watches.
//!
//! Watches use `timeout_per_read` as the idle timeout: since ureq 3.5 it
//! bounds each transport read of a streamed body (the per-phase timeouts
//! alone cannot catch a silent stream, ureq issue #594), so no custom
//! connector or hand-made chunked decoder is needed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use ureq::tls::{ClientCert, PemItem, RootCerts, TlsConfig};

use ureq::unversioned::transport::DefaultConnector;

use super::connect_to::{ConnectTo, rewrite};
use super::credentials::{ApiConfig, ClientCertSource, PemSource, TokenSource};
use super::status::http_error_reason;

/// A token read from a file is trusted for this long before it is re-read.
const TOKEN_MAX_AGE: Duration = Duration::from_secs(60);
/// Largest list/get body accepted (one Node is tens of KiB).
const MAX_BODY_BYTES: u64 = 16 << 20;
/// Largest single watch event line accepted.
const MAX_EVENT_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with a non-2xx status.
    Http { code: u16, reason: String, retry_after: Option<Duration> },
    /// No answer: connection refused, TLS failure, timeout, reset.
    Transport(String),
    /// An answer that is not what the API sends.
    Decode(String),
    /// The credentials could not be loaded (unreadable file, bad PEM).
    Credentials(String),
    /// An open watch sent no byte for the idle timeout: presumed dead.
    Idle(Duration),
}

impl ApiError {
    pub fn code(&self) -> Option<u16> {
        match self {
            ApiError::Http { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Http { reason, .. } => f.write_str(reason),
            ApiError::Transport(s) | ApiError::Decode(s) | ApiError::Credentials(s) => f.write_str(s),
            ApiError::Idle(d) => write!(f, "watch silent for {} s", d.as_secs()),
        }
    }
}

pub struct Client {
    api: ApiConfig,
    /// Scheme, host, port and path prefix requests go to (the host is the
    /// kubeconfig's tls-server-name when it sets one).
    base: String,
    connect_to: Option<ConnectTo>,
    /// How many times agents were built (a client certificate change
    /// rebuilds them).
    agents_built: u64,
    request_timeout: Duration,
    watch_idle: Duration,
    token: Option<(String, Instant)>,
    agents: Option<Agents>,
}

/// One agent for short requests (global deadline), one for watches (idle
/// timeout per read, no total deadline), built from the same TLS config.
struct Agents {
    request: ureq::Agent,
    watch: ureq::Agent,
    cert_stamp: Option<CertStamp>,
}

/// What a client certificate file looked like when the agent was built.
type CertStamp = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// An open watch: newline-delimited JSON events over a chunked body.
pub struct WatchStream {
    reader: BufReader<ureq::BodyReader<'static>>,
    idle: Duration,
}

impl WatchStream {
    /// The next event line; `Ok(None)` when the server ended the stream.
    pub fn next_line(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        let mut line = Vec::new();
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) => {
                    return Err(match ureq::Error::from(e) {
                        ureq::Error::Timeout(_) => ApiError::Idle(self.idle),
                        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ApiError::Idle(self.idle),
                        other => transport_error(other, "watch"),
                    });
                }
            };
            if buf.is_empty() {
                return Ok(if line.is_empty() { None } else { Some(line) });
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if line.len() > MAX_EVENT_BYTES {
                return Err(ApiError::Decode(format!("watch event larger than {MAX_EVENT_BYTES} bytes")));
            }
            if done {
                return Ok(Some(line));
            }
        }
    }
}

impl Client {
    /// `request_timeout` bounds a list/get; `watch_idle` is how long an open
    /// watch may stay silent before it is presumed dead.
    pub fn new(api: ApiConfig, request_timeout: Duration, watch_idle: Duration) -> Client {
        let (base, connect_to) = match api.tls_server_name.as_deref().map(|n| rewrite(&api.server, n)) {
            Some(Ok((base, to))) => (base, Some(to)),
            Some(Err(e)) => {
                crate::log::warn(&format!("ignoring tls-server-name: {e}"));
                (api.server.clone(), None)
            }
            None => (api.server.clone(), None),
        };
        Client { api, base, connect_to, agents_built: 0, request_timeout, watch_idle, token: None, agents: None }
    }

    /// How many times the agents were built (tests: certificate reload).
    #[cfg(test)]
    pub fn agents_built(&self) -> u64 {
        self.agents_built
    }

    /// GET `path` (with query) and decode the JSON body of a 200.
    pub fn get_json(&mut self, path: &str) -> Result<serde_json::Value, ApiError> {
        let mut resp = self.send(path, false)?;
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| transport_error(e, "reading the response"))?;
        serde_json::from_slice(&body)
            .map_err(|_| ApiError::Decode("API answered 200 with a body that is not JSON".into()))
    }

    /// Opens a watch; a read that waits longer than the idle timeout fails
    /// the stream with [`ApiError::Idle`].
    pub fn watch(&mut self, path: &str) -> Result<WatchStream, ApiError> {
        let resp = self.send(path, true)?;
        let reader = BufReader::with_capacity(64 << 10, resp.into_body().into_reader());
        Ok(WatchStream { reader, idle: self.watch_idle })
    }

    /// Sends one GET; a 401 with a token file re-reads the token and retries once.
    fn send(&mut self, path: &str, watch: bool) -> Result<ureq::http::Response<ureq::Body>, ApiError> {
        for attempt in 0..2 {
            self.ensure_agents()?;
            let token = self.token(attempt > 0)?;
            let agents = self.agents.as_ref().expect("agents built above");
            let agent = if watch { &agents.watch } else { &agents.request };
            let mut req = agent.get(format!("{}{path}", self.base)).header("Accept", "application/json");
            if let Some(t) = &token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            let mut resp = req.call().map_err(|e| transport_error(e, "request"))?;
            let code = resp.status().as_u16();
            if code == 200 {
                return Ok(resp);
            }
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = resp.body_mut().with_config().limit(64 << 10).read_to_vec().unwrap_or_default();
            let retry = code == 401 && attempt == 0 && matches!(self.api.token, Some(TokenSource::File(_)));
            if !retry {
                return Err(ApiError::Http { code, reason: http_error_reason(code, &body), retry_after });
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// The bearer token to send, re-read from its file when older than a
    /// minute or when `force` (after a 401).
    fn token(&mut self, force: bool) -> Result<Option<String>, ApiError> {
        let path = match &self.api.token {
            None => return Ok(None),
            Some(TokenSource::Inline(t)) => return Ok(Some(t.clone())),
            Some(TokenSource::File(p)) => p,
        };
        let fresh = self.token.as_ref().is_some_and(|(_, at)| at.elapsed() < TOKEN_MAX_AGE);
        if force || !fresh {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ApiError::Credentials(format!("cannot read token file {}: {e}", path.display())))?;
            let t = text.trim().to_string();
            if t.is_empty() {
                return Err(ApiError::Credentials(format!("token file {} is empty", path.display())));
            }
            self.token = Some((t, Instant::now()));
        }
        Ok(self.token.as_ref().map(|(t, _)| t.clone()))
    }

    /// Builds the agents, or rebuilds them when the client certificate
    /// file changed since. A certificate that does not load (caught
    /// mid-rotation) keeps the old agents until the next try.
    fn ensure_agents(&mut self) -> Result<(), ApiError> {
        let stamp = self.api.client_cert.as_ref().map(cert_stamp);
        if let Some(a) = &self.agents
            && a.cert_stamp == stamp
        {
            return Ok(());
        }
        match build_agents(&self.api, self.connect_to.as_ref(), self.request_timeout, self.watch_idle) {
            Ok((request, watch)) => {
                self.agents = Some(Agents { request, watch, cert_stamp: stamp });
                self.agents_built += 1;
                Ok(())
            }
            Err(e) if self.agents.is_some() => {
                crate::log::warn_limited("kube-client-cert", &format!("keeping the previous client certificate: {e}"));
                Ok(())
            }
            Err(e) => Err(ApiError::Credentials(e)),
        }
    }
}

fn cert_stamp(c: &ClientCertSource) -> CertStamp {
    [&c.cert, &c.key]
        .into_iter()
        .filter_map(|s| match s {
            PemSource::File(p) => Some(p.clone()),
            PemSource::Data(_) => None,
        })
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let (mtime, len) = (meta.as_ref().and_then(|m| m.modified().ok()), meta.map(|m| m.len()).unwrap_or(0));
            (p, mtime, len)
        })
        .collect()
}

fn build_agents(
    api: &ApiConfig,
    connect_to: Option<&ConnectTo>,
    timeout: Duration,
    watch_idle: Duration,
) -> Result<(ureq::Agent, ureq::Agent), String> {
    let tls = tls_config(api)?;
    let base = |b: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>| {
        b.http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .user_agent(concat!("harmony-node-readiness-endpoint/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.clone())
            .timeout_resolve(Some(timeout))
            .timeout_connect(Some(timeout))
            .timeout_send_request(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_write(Some(timeout))
            .max_idle_connections_per_host(2)
    };
    let agent = |config: ureq::config::Config| match connect_to {
        Some(to) => ureq::Agent::with_parts(config, DefaultConnector::new(), to.clone()),
        None => ureq::Agent::new_with_config(config),
    };
    let request = agent(
        base(ureq::Agent::config_builder()).timeout_global(Some(timeout)).timeout_per_read(Some(timeout)).build(),
    );
    // A watch lasts up to timeoutSeconds (≤ 10 min) by design: no total
    // deadline, only the idle bound per read.
    let watch = agent(
        base(ureq::Agent::config_builder())
            .timeout_global(None)
            .timeout_recv_body(None)
            .timeout_per_read(Some(watch_idle))
            .build(),
    );
    Ok((request, watch))
}

fn tls_config(api: &ApiConfig) -> Result<TlsConfig, String> {
    let mut b = TlsConfig::builder().disable_verification(api.insecure_skip_tls_verify);
    if let Some(pem) = &api.ca_pem {
        let certs: Vec<_> = ureq::tls::parse_pem(pem)
            .filter_map(|i| match i {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() && !api.insecure_skip_tls_verify {
            return Err("the cluster CA holds no PEM certificate".into());
        }
        b = b.root_certs(RootCerts::new_with_certs(&certs));
    }
    if let Some(cc) = &api.client_cert {
        b = b.client_cert(Some(load_client_cert(cc)?));
    }
    Ok(b.build())
}

/// Certificate chain from `cert`, private key from `key` (the same combined
/// PEM file is fine).
fn load_client_cert(cc: &ClientCertSource) -> Result<ClientCert, String> {
    let cert_pem = read_pem(&cc.cert)?;
    let key_pem = if cc.key == cc.cert { cert_pem.clone() } else { read_pem(&cc.key)? };
    let certs: Vec<_> = ureq::tls::parse_pem(&cert_pem)
        .filter_map(|i| match i {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let key = ureq::tls::parse_pem(&key_pem).find_map(|i| match i {
        Ok(PemItem::PrivateKey(k)) => Some(k),
        _ => None,
    });
    match (certs.is_empty(), key) {
        (false, Some(key)) => Ok(ClientCert::new_with_certs(&certs, key)),
        (true, _) => Err(format!("no certificate in client certificate {}", describe(&cc.cert))),
        (false, None) => Err(format!("no private key in client key {}", describe(&cc.key))),
    }
}

fn read_pem(s: &PemSource) -> Result<Vec<u8>, String> {
    match s {
        PemSource::Data(d) => Ok(d.clone()),
        PemSource::File(p) => std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())),
    }
}

fn describe(s: &PemSource) -> String {
    match s {
        PemSource::Data(_) => "(inline data)".into(),
        PemSource::File(p) => display(p),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// One short line for a failed exchange; `what` names the phase.
fn transport_error(e: ureq::Error, what: &str) -> ApiError {
    use std::io::ErrorKind;
    let s = match &e {
        ureq::Error::Timeout(_) => format!("{what} timed out"),
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => "connection refused".into(),
            ErrorKind::ConnectionReset => "connection reset".into(),
            ErrorKind::UnexpectedEof => "connection closed early".into(),
            ErrorKind::TimedOut | ErrorKind::WouldBlock => format!("{what} timed out"),
            _ => format!("{what}: {io}"),
        },
        ureq::Error::HostNotFound => "API server host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Protocol(_) => "not an HTTP response".into(),
        ureq::Error::Tls(msg) => format!("TLS error: {msg}"),
        ureq::Error::BodyExceedsLimit(n) => format!("response larger than {n} bytes"),
        other => format!("{what}: {other}"),
    };
    ApiError::Transport(s)
}
