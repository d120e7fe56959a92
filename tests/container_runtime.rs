//! `container_runtime` end to end: the built binary's one-shot
//! `check --check container_runtime` (and the service's `/health`) against a
//! real containerd started by each test (root and the Debian `containerd`
//! package needed), and against a fake CRI server for what containerd cannot
//! act out.

#[path = "support/grpc_server.rs"]
mod grpc_server;
// support re-exports helpers this file does not use (Service, Response).
#[allow(unused_imports)]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use grpc_server::{Behavior, FakeCri};
use serde_json::Value;
use support::{Service, TempDir, run_check_cli, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_harmony-node-readiness-endpoint");

/// Result of one `check` run: exit code, the check's JSON entry, wall time.
struct Run {
    code: i32,
    check: Value,
    took: Duration,
}

impl Run {
    fn passed(&self) -> bool {
        self.check["passed"] == Value::Bool(true)
    }
    fn reason(&self) -> String {
        self.check["reason"].as_str().unwrap_or("").to_string()
    }
}

fn parse(code: i32, stdout: &str, stderr: &str, took: Duration) -> Run {
    let v: Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?}; stderr: {stderr}"));
    let check = v["checks"][0].clone();
    assert_eq!(check["name"], "container_runtime", "{v}");
    Run { code, check, took }
}

fn parse_output(out: &std::process::Output, took: Duration) -> Run {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    parse(out.status.code().unwrap_or(-1), &stdout, &stderr, took)
}

/// One-shot `check --check container_runtime` with a clean environment
/// plus `env`; a generous default deadline for a loaded CI machine.
fn run_check(env: &[(&str, &str)]) -> Run {
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "CHECK_TIMEOUT_MS") {
        env.push(("CHECK_TIMEOUT_MS", "5000"));
    }
    let start = Instant::now();
    let (code, stdout, stderr) = run_check_cli(&["check", "--check", "container_runtime"], &env);
    parse(code, &stdout, &stderr, start.elapsed())
}

fn assert_fails_with(r: &Run, want: &str) {
    assert_eq!(r.code, 1, "{}", r.check);
    assert!(!r.passed(), "{}", r.check);
    assert!(r.reason().contains(want), "reason {:?} lacks {want:?}", r.reason());
}

// ---------------------------------------------------------------- fake CRI

fn fake(tag: &str, behavior: Behavior) -> (TempDir, FakeCri) {
    let dir = TempDir::new(tag);
    let server = FakeCri::start(&dir.path().join("cri.sock"), behavior);
    (dir, server)
}

#[test]
fn fake_ready_runtime_passes_with_both_endpoint_forms() {
    let (_dir, server) = fake("ready", Behavior::Ready);
    let sock = server.socket.display().to_string();
    for endpoint in [sock.clone(), format!("unix://{sock}")] {
        let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &endpoint)]);
        assert!(r.passed() && r.code == 0, "{}", r.check);
    }
    assert_eq!(server.paths(), ["/runtime.v1.RuntimeService/Status"; 2]);
}

#[test]
fn v1alpha2_fallback_after_unimplemented() {
    let (_dir, server) = fake("alpha", Behavior::V1alpha2Only);
    let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &server.socket.display().to_string())]);
    assert!(r.passed(), "{}", r.check);
    assert_eq!(server.paths(), ["/runtime.v1.RuntimeService/Status", "/runtime.v1alpha2.RuntimeService/Status"]);
}

#[test]
fn no_cri_service_reports_the_v1_error() {
    let (_dir, server) = fake("nocri", Behavior::NoCri);
    let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &server.socket.display().to_string())]);
    assert_fails_with(&r, "CRI error 12: unknown service runtime.v1.RuntimeService");
    assert_eq!(r.reason(), "CRI error 12: unknown service runtime.v1.RuntimeService");
}

#[test]
fn silent_listener_is_unknown_at_the_deadline() {
    let (_dir, server) = fake("silent", Behavior::Silent);
    let r =
        run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &server.socket.display().to_string()), ("CHECK_TIMEOUT_MS", "300")]);
    assert_fails_with(&r, "timed out after");
    // Bounded: the deadline plus process start-up, never a hang.
    assert!(r.took < Duration::from_secs(3), "took {:?}", r.took);
}

#[test]
fn garbage_answer_has_a_clear_reason() {
    let (_dir, server) = fake("garbage", Behavior::Garbage);
    let sock = server.socket.display().to_string();
    let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &sock)]);
    assert_fails_with(&r, &format!("runtime socket {sock}: not an HTTP/2 gRPC server"));
}

#[test]
fn non_grpc_http2_answer_has_a_clear_reason() {
    let (_dir, server) = fake("http404", Behavior::NotGrpc);
    let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &server.socket.display().to_string())]);
    assert_fails_with(&r, "not a gRPC answer: HTTP status 404 without grpc-status");
}

#[test]
fn missing_and_stale_sockets_without_a_runtime() {
    let dir = TempDir::new("nosock");
    let sock = dir.path().join("x.sock");
    let s = sock.display().to_string();
    assert_fails_with(&run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &s)]), &format!("runtime socket {s} not found"));
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap()); // leaves the file behind
    assert_fails_with(
        &run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &s)]),
        &format!("runtime socket {s}: connection refused"),
    );
    // No endpoint and nothing under HOST_ROOT.
    let r = run_check(&[("HOST_ROOT", &dir.path().display().to_string())]);
    assert_fails_with(&r, "no CRI socket found (looked in ");
}

/// The runtime's socket is root's (0660 root:root): a DaemonSet running as
/// another user must be told why, not left guessing.
#[test]
fn socket_without_permission_names_it() {
    if support::skip_unless_root("switching to an unprivileged user") || support::skip_unless_program("setpriv") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (dir, server) = fake("perm", Behavior::Ready);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&server.socket, std::fs::Permissions::from_mode(0o600)).unwrap();
    let sock = server.socket.display().to_string();
    let start = Instant::now();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "check", "--check", "container_runtime"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([("NODE_NAME", "n1"), ("CONTAINER_RUNTIME_ENDPOINT", &sock)])
        .output()
        .expect("run setpriv");
    let r = parse_output(&out, start.elapsed());
    assert_eq!(r.reason(), format!("runtime socket {sock}: permission denied"));
    assert!(server.paths().is_empty());
}

// -------------------------------------------------------------- containerd

/// A containerd of our own: config, root, state, sockets and CNI dirs all in
/// one temp dir; stopped by pid on drop.
struct Containerd {
    child: Option<Child>,
    socket: PathBuf,
    conf_dir: PathBuf,
    dir: TempDir,
}

impl Containerd {
    fn start(tag: &str) -> Containerd {
        let dir = TempDir::new(tag);
        let d = dir.path().display().to_string();
        for sub in ["sock", "net.d", "cni-bin", "opt"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        // Version 2 is what Debian's containerd 1.6 reads. The opt plugin
        // would otherwise create /opt/containerd; unused snapshotters off.
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{d}/sock/containerd.sock"

[ttrpc]
  address = "{d}/sock/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/net.d"
"#
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let socket = dir.path().join("sock/containerd.sock");
        let c = Containerd { child: Some(child), socket, conf_dir: dir.path().join("net.d"), dir };
        // On failure the Drop guard prints containerd's log.
        wait_for("containerd's socket", Duration::from_secs(20), || c.socket.exists().then_some(()));
        c
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGTERM by pid, then waits (bounded) for the exit.
    fn terminate(&mut self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
        let mut child = self.child.take().unwrap();
        let exited =
            wait_for("containerd to exit after SIGTERM", Duration::from_secs(15), || child.try_wait().ok().flatten());
        assert!(exited.success(), "containerd exited with {exited} after SIGTERM");
    }

    /// SIGKILL by pid: no cleanup, the socket file stays behind.
    fn kill(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// A valid bridge network list; containerd only parses it for
    /// NetworkReady, the plugin binaries are not needed until a pod starts.
    fn write_cni_config(&self) {
        let conf = r#"{"cniVersion":"0.4.0","name":"hnre-test","plugins":[{"type":"bridge","bridge":"hnre0","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.254.0.0/24"}]]}}]}"#;
        // Written in place, as CNI installers do: containerd 1.6 reloads on
        // Write/Rename/Remove events of conf_dir and ignores Create, so a
        // file renamed into the directory would go unnoticed.
        std::fs::write(self.conf_dir.join("10-hnre.conflist"), conf).unwrap();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("containerd log:\n{}", self.log());
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn skip_containerd(what: &str) -> bool {
    support::skip_unless_root(what) || support::skip_unless_program("containerd")
}

#[test]
fn containerd_network_readiness_follows_the_cni_config() {
    if skip_containerd("starting containerd") {
        return;
    }
    let ctd = Containerd::start("net");
    let endpoint = ctd.endpoint();
    let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &endpoint)]);
    assert_fails_with(&r, "NetworkReady=false NetworkPluginNotReady: ");
    assert!(r.reason().contains("cni plugin not initialized"), "{}", r.reason());

    let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &endpoint), ("CONTAINER_RUNTIME_REQUIRE_NETWORK", "false")]);
    assert!(r.passed() && r.code == 0, "{}", r.check);

    // What the load balancer sees: /health through the running service.
    let svc = Service::start(&[
        ("CONTAINER_RUNTIME_ENDPOINT", &endpoint),
        ("CHECK_MIN_INTERVAL_MS", "0"),
        ("CHECK_TIMEOUT_MS", "5000"),
    ]);
    let resp = svc.get("/health?check=container_runtime");
    assert_eq!(resp.status, 503, "{}", resp.body);
    let reason = resp.reason("container_runtime").unwrap_or_default();
    assert!(reason.starts_with("NetworkReady=false NetworkPluginNotReady: "), "{reason}");

    ctd.write_cni_config();
    wait_for("/health 200 after writing a CNI config", Duration::from_secs(15), || {
        (svc.get("/health?check=container_runtime").status == 200).then_some(())
    });
    let r = run_check(&[("CONTAINER_RUNTIME_ENDPOINT", &endpoint)]);
    assert!(r.passed() && r.code == 0, "{}", r.check);
}

#[test]
fn containerd_sigterm_removes_the_socket() {
    if skip_containerd("starting containerd") {
        return;
    }
    let mut ctd = Containerd::start("term");
    let endpoint = ctd.endpoint();
    let env = [("CONTAINER_RUNTIME_ENDPOINT", endpoint.as_str()), ("CONTAINER_RUNTIME_REQUIRE_NETWORK", "false")];
    assert!(run_check(&env).passed());
    ctd.terminate();
    assert!(!ctd.socket.exists(), "containerd left its socket after SIGTERM");
    let want = format!("runtime socket {} not found", ctd.socket.display());
    let r = run_check(&env);
    assert_fails_with(&r, &want);
    assert_eq!(r.reason(), want);
}

#[test]
fn containerd_sigkill_leaves_a_stale_socket() {
    if skip_containerd("starting containerd") {
        return;
    }
    let mut ctd = Containerd::start("kill");
    let endpoint = ctd.endpoint();
    let env = [("CONTAINER_RUNTIME_ENDPOINT", endpoint.as_str()), ("CONTAINER_RUNTIME_REQUIRE_NETWORK", "false")];
    assert!(run_check(&env).passed());
    ctd.kill();
    assert!(ctd.socket.exists(), "socket vanished although containerd could not clean up");
    let want = format!("runtime socket {}: connection refused", ctd.socket.display());
    let r = run_check(&env);
    assert_fails_with(&r, &want);
    assert_eq!(r.reason(), want);
}

/// As the DaemonSet sees it: the host's /run/containerd mounted read-only
/// under HOST_ROOT, the socket found by auto-detection.
#[test]
fn containerd_through_a_read_only_bind_mount() {
    if skip_containerd("bind mounts in a mount namespace") || support::skip_unless_program("unshare") {
        return;
    }
    let ctd = Containerd::start("ro");
    let host = TempDir::new("rohost");
    let sock_dir = ctd.socket.parent().unwrap().display().to_string();
    let host_root = host.path().display().to_string();
    // In a private mount namespace: nothing leaks into the test's mounts.
    let script = r#"set -e
mkdir -p "$H/run/containerd"
mount --bind -o ro "$S" "$H/run/containerd"
if touch "$H/run/containerd/probe" 2>/dev/null; then echo "bind mount is writable" >&2; exit 90; fi
exec "$BIN" check --check container_runtime"#;
    let start = Instant::now();
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([("H", host_root.as_str()), ("S", &sock_dir), ("BIN", BIN), ("HOST_ROOT", &host_root)])
        .envs([("NODE_NAME", "n1"), ("CONTAINER_RUNTIME_REQUIRE_NETWORK", "false"), ("CHECK_TIMEOUT_MS", "5000")])
        .output()
        .expect("run unshare");
    assert!(out.status.code() != Some(90), "mount not read-only: {}", String::from_utf8_lossy(&out.stderr));
    let r = parse_output(&out, start.elapsed());
    assert!(r.passed() && r.code == 0, "{}", r.check);
}
