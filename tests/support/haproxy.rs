//! A real HAProxy (Debian's `haproxy`) for end-to-end tests: started in the
//! foreground (`-db`) with a generated config and an admin socket in a temp
//! dir, queried through that socket, stopped by pid on drop.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::TempDir;

pub struct Haproxy {
    child: Child,
    pub dir: TempDir,
    socket: PathBuf,
    log: Arc<Mutex<String>>,
}

/// One row of `show stat` (a server or a proxy), by CSV column name.
#[derive(Clone, Debug)]
pub struct Stat(pub HashMap<String, String>);

impl Stat {
    pub fn get(&self, column: &str) -> &str {
        self.0.get(column).map(String::as_str).unwrap_or("")
    }

    /// `status` column: UP, DOWN, DRAIN, MAINT, or a transition like `UP 1/2`.
    pub fn status(&self) -> &str {
        self.get("status")
    }
}

/// A free loopback port (bound, then released for HAProxy to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Haproxy {
    /// Starts HAProxy with `body` (the defaults/frontend/backend sections)
    /// after a `global` section with the admin socket; waits until the
    /// socket answers. `body` may use `{dir}` for the temp dir.
    pub fn start(body: &str) -> Haproxy {
        let dir = TempDir::new("haproxy");
        let socket = dir.path().join("admin.sock");
        let config = format!(
            "global\n    stats socket {sock} mode 600 level admin\n    log stderr format short local0 info\n\n{body}",
            sock = socket.display(),
            body = body.replace("{dir}", &dir.path().display().to_string()),
        );
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, &config).unwrap();
        let mut child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start haproxy");
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in
            [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut h = Haproxy { child, dir, socket, log };
        super::wait_for("haproxy's admin socket", Duration::from_secs(10), || {
            if let Ok(Some(status)) = h.child.try_wait() {
                panic!("haproxy exited ({status}):\n{}\n--- config:\n{config}", h.log());
            }
            h.try_cmd("show info")
        });
        h
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything HAProxy printed (its log goes to stderr).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn try_cmd(&self, command: &str) -> Option<String> {
        let mut s = UnixStream::connect(&self.socket).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(format!("{command}\n").as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// Runs one admin-socket command and returns its output.
    pub fn cmd(&self, command: &str) -> String {
        self.try_cmd(command).unwrap_or_else(|| panic!("admin socket command {command:?} failed:\n{}", self.log()))
    }

    /// The `show stat` row of `backend`/`server`.
    pub fn stat(&self, backend: &str, server: &str) -> Stat {
        let csv = self.cmd("show stat");
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").trim_start_matches("# ").split(',').collect();
        lines
            .map(|l| Stat(header.iter().map(|h| h.to_string()).zip(l.split(',').map(str::to_string)).collect()))
            .find(|s| s.get("pxname") == backend && s.get("svname") == server)
            .unwrap_or_else(|| panic!("no {backend}/{server} in show stat:\n{csv}"))
    }

    /// Polls `show stat` until `want` holds for `backend`/`server`; returns that row.
    pub fn wait_server(
        &self,
        backend: &str,
        server: &str,
        what: &str,
        limit: Duration,
        want: impl Fn(&Stat) -> bool,
    ) -> Stat {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.stat(backend, server);
            if want(&s) {
                return s;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{backend}/{server} not {what} after {limit:?}: status={} check={} last_chk={:?} agent={} last_agt={:?}\n{}",
                    s.status(),
                    s.get("check_status"),
                    s.get("last_chk"),
                    s.get("agent_status"),
                    s.get("last_agt"),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the `status` column is exactly `status` (UP, DOWN, DRAIN).
    pub fn wait_status(&self, backend: &str, server: &str, status: &str, limit: Duration) -> Stat {
        self.wait_server(backend, server, status, limit, |s| s.status() == status)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` through HAProxy's frontend at `addr`: (status, body), or
/// `None` when the connection failed.
pub fn get_through(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let (resp, _) = super::Response::parse(&out)?;
    Some((resp.status, resp.body))
}
