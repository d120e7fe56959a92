//! Starts the built binary as a real process on a free loopback port and
//! talks raw HTTP/1.x to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pass in `env` to start the binary without NODE_NAME.
pub const UNSET_NODE_NAME: (&str, &str) = ("-NODE_NAME", "");

pub const BIN: &str = env!("CARGO_BIN_EXE_harmony-node-readiness-endpoint");

/// The environment every test process starts from: nothing of the caller's
/// (no KUBECONFIG or HOST_ROOT leaking in) except PATH, plus
/// `NODE_NAME=test-node` unless `env` names it; [`UNSET_NODE_NAME`] in `env`
/// leaves it unset (the hostname default).
/// `BENCH_BINARY` (scripts/bench only) runs another build of the binary,
/// e.g. the static musl one, under the same tests.
fn base_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let program = std::env::var_os("BENCH_BINARY").unwrap_or_else(|| BIN.into());
    program_command(&[program.as_os_str()], args, env)
}

/// `program` (an executable and leading arguments, e.g. an emulator and the
/// binary it runs) with `args`, in the same clean environment.
fn program_command(program: &[&std::ffi::OsStr], args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program[0]);
    cmd.args(&program[1..]).args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    if !env.iter().any(|(k, _)| *k == "NODE_NAME" || *k == UNSET_NODE_NAME.0) {
        cmd.env("NODE_NAME", "test-node");
    }
    for (k, v) in env.iter().filter(|(k, _)| *k != UNSET_NODE_NAME.0) {
        cmd.env(k, v);
    }
    cmd
}

/// A running service; killed (by pid) on drop.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Service {
    /// Starts the service with `env` on 127.0.0.1 and a free port, and waits
    /// until it is listening.
    pub fn start(env: &[(&str, &str)]) -> Service {
        Service::start_with_args(&[], env)
    }

    pub fn start_with_args(args: &[&str], env: &[(&str, &str)]) -> Service {
        let program = std::env::var_os("BENCH_BINARY").unwrap_or_else(|| BIN.into());
        Service::start_program(&[program.as_os_str()], args, env)
    }

    /// Like `start_with_args`, running `program` (an executable and its
    /// leading arguments, e.g. `qemu-aarch64 path/to/binary`) instead of BIN.
    pub fn start_program(program: &[&std::ffi::OsStr], args: &[&str], env: &[(&str, &str)]) -> Service {
        let mut env: Vec<(&str, &str)> = env.to_vec();
        if !env.iter().any(|(k, _)| *k == "LISTEN_ADDRESS") {
            env.push(("LISTEN_ADDRESS", "127.0.0.1"));
        }
        if !env.iter().any(|(k, _)| *k == "LISTEN_PORT") {
            env.push(("LISTEN_PORT", "0"));
        }
        let mut child =
            program_command(program, args, &env).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split(" listening on ").nth(1) {
                    let addr = rest.split(';').next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("service did not start; log:\n{}", log.lock().unwrap());
            }
        };
        Service { child, addr, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything the service logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `GET path` on a new connection (`Connection: close`).
    pub fn get(&self, path: &str) -> Response {
        get(self.addr, path)
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    /// The `reason` of check `name` in a /health body.
    pub fn reason(&self, name: &str) -> Option<String> {
        let v = self.json();
        let check = v["checks"].as_array()?.iter().find(|c| c["name"] == name)?.clone();
        check["reason"].as_str().map(str::to_string)
    }

    /// Parses one response from the start of `bytes`; returns it and its length.
    pub fn parse(bytes: &[u8]) -> Option<(Response, usize)> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(bytes).ok()? {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return None,
        };
        let headers: Vec<(String, String)> =
            resp.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).to_string())).collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let status = resp.code?;
        let body_bytes = bytes.get(n..n + len)?;
        let body = String::from_utf8_lossy(body_bytes).to_string();
        Some((Response { status, headers, body }, n + len))
    }
}

/// `GET path HTTP/1.1` with `Connection: close` to `addr`.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let bytes = exchange(addr, req.as_bytes(), Duration::from_secs(30));
    Response::parse(&bytes)
        .unwrap_or_else(|| panic!("no complete response to {path}: {:?}", String::from_utf8_lossy(&bytes)))
        .0
}

/// Sends `request` and reads until the server closes (or `limit`).
pub fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(request).expect("write request");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// One probe the way a load balancer sends it: a new connection (within
/// 2 s), `GET path HTTP/1.0`, read to the close (within `limit`). The error
/// says what the LB saw: refused, reset, timed out, or an answer cut short.
pub fn lb_probe(addr: SocketAddr, path: &str, limit: Duration) -> Result<Response, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    Response::parse(&raw)
        .map(|(r, _)| r)
        .ok_or_else(|| format!("incomplete answer {:?}", String::from_utf8_lossy(&raw)))
}

/// Runs `harmony-node-readiness-endpoint <args>` once; returns exit code, stdout, stderr.
pub fn run_check_cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = base_command(args, env).output().expect("run binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
