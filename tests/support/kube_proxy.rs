//! A real kube-proxy (the cluster's pinned version, `scripts/cluster build`)
//! for the real cluster's Node, in a network namespace of its own: the
//! cluster's Service range is 127.0.0.0/24, so its rules in the host's
//! namespace would rewrite the loopback traffic of every other test on the
//! machine. A veth pair joins the namespace to the host (HOST_IP, NS_IP);
//! kube-proxy reaches the API server (127.0.0.1:443 on the host) through a
//! forwarder thread on HOST_IP, and serves its healthz on NS_IP. `Drop`
//! kills it by pid and deletes the namespace and the veth pair.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::TempDir;
use super::real_cluster::{Cluster, run};

/// A /30 of TEST-NET-1 of its own: the other namespace tests use lower
/// addresses of 192.0.2.0/24, and the more specific route keeps them apart.
pub const HOST_IP: &str = "192.0.2.221";
pub const NS_IP: &str = "192.0.2.222";
const PREFIX: &str = "/30";
pub const HEALTHZ_PORT: u16 = 10256;

pub struct KubeProxy {
    netns: String,
    veth: String,
    forwarder: Option<Forwarder>,
    child: Option<Child>,
    bin: PathBuf,
    args: Vec<String>,
    dir: TempDir,
}

fn ip(args: &[&str]) {
    let (ok, out, err) = run(Command::new("ip").args(args));
    assert!(ok, "ip {args:?}: {err}{out}");
}

impl KubeProxy {
    /// `http://NS_IP:10256/healthz`: the URL for KUBE_PROXY_HEALTHZ_URL.
    pub fn healthz_url() -> String {
        format!("http://{NS_IP}:{HEALTHZ_PORT}/healthz")
    }

    /// Starts kube-proxy (iptables mode, in the namespace) for `c`'s Node.
    pub fn start(c: &Cluster) -> KubeProxy {
        let bin = Path::new(c.str("kubectl")).with_file_name("kube-proxy");
        assert!(bin.is_file(), "{} missing (scripts/cluster build)", bin.display());
        let pid = std::process::id();
        let mut kp = KubeProxy {
            netns: format!("hnre-kp-{pid}"),
            veth: format!("hkp{pid}"),
            forwarder: None,
            child: None,
            bin,
            args: Vec::new(),
            dir: TempDir::new("kube-proxy"),
        };
        // From here on, Drop removes whatever was made.
        let peer = format!("hkpn{pid}");
        ip(&["netns", "add", &kp.netns]);
        ip(&["link", "add", &kp.veth, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "netns", &kp.netns]);
        ip(&["addr", "add", &format!("{HOST_IP}{PREFIX}"), "dev", &kp.veth]);
        ip(&["link", "set", &kp.veth, "up"]);
        ip(&["-n", &kp.netns, "addr", "add", &format!("{NS_IP}{PREFIX}"), "dev", &peer]);
        ip(&["-n", &kp.netns, "link", "set", &peer, "up"]);
        ip(&["-n", &kp.netns, "link", "set", "lo", "up"]);

        let api: SocketAddr = c.str("api").trim_start_matches("https://").parse().expect("api host:port");
        let fwd = Forwarder::start((HOST_IP, 0), api);
        let kubeconfig = kp.write_credentials(c, fwd.addr);
        kp.forwarder = Some(fwd);
        kp.args = [
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--hostname-override",
            &c.node,
            "--proxy-mode",
            "iptables",
            "--healthz-bind-address",
            &format!("{NS_IP}:{HEALTHZ_PORT}"),
            "--metrics-bind-address",
            "127.0.0.1:10249", // the namespace's own loopback
            // Leave the kernel's conntrack sysctls (some are not per
            // namespace) as they are.
            "--conntrack-max-per-core",
            "0",
            "--conntrack-tcp-timeout-established",
            "0",
            "--conntrack-tcp-timeout-close-wait",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        kp.spawn();
        kp
    }

    /// A client certificate for `system:kube-proxy` (the user the API
    /// server's bootstrap policy binds to system:node-proxier, as on a
    /// kubeadm cluster) and a kubeconfig reaching the API through `api`.
    fn write_credentials(&self, c: &Cluster, api: SocketAddr) -> PathBuf {
        let pki = c.dir.join("pki");
        let d = self.dir.path();
        let (key, csr, crt, ext) = (d.join("kp.key"), d.join("kp.csr"), d.join("kp.crt"), d.join("kp.ext"));
        std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").unwrap();
        let (ok, out, err) = run(Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=system:kube-proxy", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&csr));
        assert!(ok, "openssl req: {err}{out}");
        let (ok, out, err) = run(Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-set_serial", &std::process::id().to_string(), "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(pki.join("ca.crt"))
            .arg("-CAkey")
            .arg(pki.join("ca.key"))
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&crt));
        assert!(ok, "openssl x509: {err}{out}");
        // The API server's certificate names 127.0.0.1 and localhost, not
        // the forwarder's address: verify it as `localhost`.
        let kubeconfig = d.join("kube-proxy.kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{api}\n    \
                 certificate-authority: {}\n    tls-server-name: localhost\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\n\
                 current-context: c\nusers:\n- name: u\n  user:\n    client-certificate: {}\n    client-key: {}\n",
                pki.join("ca.crt").display(),
                crt.display(),
                key.display()
            ),
        )
        .unwrap();
        kubeconfig
    }

    fn spawn(&mut self) {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("kube-proxy.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .arg(&self.bin)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start kube-proxy");
        self.child = Some(child);
    }

    /// SIGKILL by pid (`ip netns exec` execs kube-proxy: same pid), reaped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same command line.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kube-proxy.log")).unwrap_or_default()
    }
}

impl Drop for KubeProxy {
    fn drop(&mut self) {
        self.kill();
        drop(self.forwarder.take());
        // Deleting the namespace destroys the peer end, and with it the pair;
        // the explicit delete covers a peer that never got moved there.
        let _ = run(Command::new("ip").args(["netns", "del", &self.netns]));
        let _ = run(Command::new("ip").args(["link", "del", &self.veth]));
    }
}

/// A TCP forwarder: every connection to `addr` is piped to `target`.
struct Forwarder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    fn start(bind: (&str, u16), target: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind(bind).expect("bind the forwarder");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(down) = conn else { continue };
                let Ok(up) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else { continue };
                pipe(down.try_clone().unwrap(), up.try_clone().unwrap());
                pipe(up, down);
            }
        });
        Forwarder { addr, stop, thread: Some(thread) }
    }
}

/// Copies `from` to `to` on a thread of its own until either side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)); // wakes accept()
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
