//! A scripted plain-HTTP/1.1 server on loopback for the client and watcher
//! unit tests: each request is answered by a closure; a watch reply is a
//! chunked stream held open until the server is dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// One request as the script sees it.
pub struct Request {
    pub path: String,
    /// Lower-cased header names.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the scripted server answers to one request.
pub enum Reply {
    Json(u16, String),
    /// The whole response, verbatim.
    Raw(String),
    /// Chunked watch: these event lines, then hold the stream open (never
    /// sending another byte) until the test ends.
    Stream(Vec<String>),
}

pub type Script = Box<dyn Fn(&Request) -> Reply + Send>;

/// Serves requests with `script(request)`; records request paths.
pub struct Server {
    pub port: u16,
    paths: Arc<Mutex<Vec<String>>>,
    _hold: mpsc::Sender<()>,
}

impl Server {
    pub fn start(script: Script) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        let hold_rx = Arc::new(Mutex::new(hold_rx));
        let p = paths.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let Some(req) = read_request(&conn) else { continue };
                p.lock().unwrap().push(req.path.clone());
                let reply = script(&req);
                let hold = hold_rx.clone();
                std::thread::spawn(move || write_reply(conn, reply, hold));
            }
        });
        Server { port, paths, _hold: hold_tx }
    }

    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

fn read_request(conn: &TcpStream) -> Option<Request> {
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Some(Request { path: first.split_whitespace().nth(1)?.to_string(), headers })
}

fn write_reply(mut conn: TcpStream, reply: Reply, hold: Arc<Mutex<mpsc::Receiver<()>>>) {
    match reply {
        Reply::Json(code, body) => {
            let _ = write!(
                conn,
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Reply::Raw(text) => {
            let _ = conn.write_all(text.as_bytes());
        }
        Reply::Stream(lines) => {
            let _ =
                write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            for l in lines {
                let l = format!("{l}\n");
                let _ = write!(conn, "{:x}\r\n{l}\r\n", l.len());
            }
            let _ = conn.flush();
            // Hold the stream open until the server is dropped.
            let _ = hold.lock().map(|rx| rx.recv());
        }
    }
}
