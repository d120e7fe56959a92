//! A raw HTTP/1.1 client (plain or rustls) for the fake API server's
//! self-tests: it exposes the wire — status line, headers, each chunk of a
//! chunked body, how a connection ends — which a normal client hides.

use crate::support::fake_apiserver::{ClientCert, FakeApiServer};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

pub struct RawClient {
    r: BufReader<Conn>,
}

#[derive(Debug)]
pub struct Head {
    pub code: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl RawClient {
    /// Connects (TLS when the fake serves HTTPS, trusting its CA) with a 10 s read timeout.
    pub fn connect(api: &FakeApiServer) -> io::Result<RawClient> {
        RawClient::connect_with(api, None, Duration::from_secs(10))
    }

    pub fn connect_with(
        api: &FakeApiServer,
        cert: Option<&ClientCert>,
        read_timeout: Duration,
    ) -> io::Result<RawClient> {
        let tcp = TcpStream::connect(api.addr())?;
        tcp.set_read_timeout(Some(read_timeout))?;
        let conn = if api.url().starts_with("https") {
            let mut roots = RootCertStore::empty();
            roots.add(api.ca_der()).map_err(io::Error::other)?;
            let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(io::Error::other)?
                .with_root_certificates(roots);
            let cfg = match cert {
                Some(c) => builder
                    .with_client_auth_cert(
                        vec![c.cert_der.clone()],
                        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key_der.clone())),
                    )
                    .map_err(io::Error::other)?,
                None => builder.with_no_client_auth(),
            };
            let name = ServerName::try_from("127.0.0.1").unwrap();
            let mut tls = StreamOwned::new(ClientConnection::new(Arc::new(cfg), name).map_err(io::Error::other)?, tcp);
            // Handshake now so certificate errors surface from connect.
            while tls.conn.is_handshaking() {
                tls.conn.complete_io(&mut tls.sock)?;
            }
            Conn::Tls(Box::new(tls))
        } else {
            Conn::Plain(tcp)
        };
        Ok(RawClient { r: BufReader::new(conn) })
    }

    /// Sends `GET target` with the given headers (HTTP/1.1, keep-alive).
    pub fn get(&mut self, target: &str, headers: &[(&str, &str)]) -> io::Result<()> {
        let mut req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let w = self.r.get_mut();
        w.write_all(req.as_bytes())?;
        w.flush()
    }

    pub fn head(&mut self) -> io::Result<Head> {
        let status = self.line()?;
        let code = status.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| bad(&status))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                return Ok(Head { code, headers });
            }
            let (k, v) = line.split_once(':').ok_or_else(|| bad(&line))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }

    /// The whole body of a Content-Length response.
    pub fn body(&mut self, head: &Head) -> io::Result<Vec<u8>> {
        let len: usize = head.header("content-length").and_then(|v| v.parse().ok()).ok_or_else(|| bad("no length"))?;
        let mut body = vec![0; len];
        self.r.read_exact(&mut body)?;
        Ok(body)
    }

    /// GET and parse a JSON response: (status code, head, body).
    pub fn get_json(&mut self, target: &str, headers: &[(&str, &str)]) -> io::Result<(Head, serde_json::Value)> {
        self.get(target, headers)?;
        let head = self.head()?;
        let body = self.body(&head)?;
        let v = serde_json::from_slice(&body).map_err(|e| bad(&format!("{e}: {}", String::from_utf8_lossy(&body))))?;
        Ok((head, v))
    }

    /// The next chunk of a chunked body; `None` for the zero-length last chunk.
    pub fn chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let size_line = self.line()?;
        let size =
            usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16).map_err(|_| bad(&size_line))?;
        let mut data = vec![0; size];
        self.r.read_exact(&mut data)?;
        let crlf = self.line()?;
        if !crlf.is_empty() {
            return Err(bad("chunk not followed by CRLF"));
        }
        Ok((size > 0).then_some(data))
    }

    /// The next watch event: one chunk holding exactly one JSON line.
    pub fn event(&mut self) -> io::Result<Option<serde_json::Value>> {
        let Some(data) = self.chunk()? else { return Ok(None) };
        if data.last() != Some(&b'\n') || data[..data.len() - 1].contains(&b'\n') {
            return Err(bad("a watch chunk must be one JSON line ending in \\n"));
        }
        serde_json::from_slice(&data).map(Some).map_err(|e| bad(&e.to_string()))
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}
