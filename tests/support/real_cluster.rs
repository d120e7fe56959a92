//! A real one-node Kubernetes cluster (scripts/cluster: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, containerd and a kubelet, built
//! from source) shared by every test of one test binary: started on first use,
//! stopped (`scripts/cluster down`) when the process exits. Tests that change
//! it take `serial()` first, and leave it as they found it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde_json::Value;

use super::{is_root, skip, wait_for};

pub struct Cluster {
    pub dir: PathBuf,
    pub info: Value,
    /// The kubelet's Node.
    pub node: String,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn script() -> PathBuf {
    repo().join("scripts/cluster")
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time on the shared cluster (a failed test must not block
/// the others: a poisoned lock is taken anyway).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The shared cluster, or `None` (after `skip`) when it cannot run here.
/// A cluster that fails to come up fails every test with its log lines.
pub fn cluster() -> Option<&'static Cluster> {
    if !is_root() {
        skip("the real cluster (kubelet, containerd) needs root");
        return None;
    }
    let c = CLUSTER.get_or_init(start);
    match c {
        Ok(c) => Some(c),
        Err(why) if why.starts_with("SKIP ") => {
            skip(&why[5..]);
            None
        }
        Err(why) => panic!("{why}"),
    }
}

extern "C" fn down_at_exit() {
    if let Some(Ok(c)) = CLUSTER.get() {
        let _ = Command::new(script()).arg("down").arg(&c.dir).stdin(Stdio::null()).status();
    }
}

fn start() -> Result<Cluster, String> {
    // Built by `make test` (scripts/cluster build); a plain `cargo test`
    // does not start a build of many minutes by surprise.
    let check = Command::new(repo().join("scripts/cluster.d/build.sh")).arg("--check").output();
    if !check.as_ref().is_ok_and(|o| o.status.success()) {
        return Err("SKIP the cluster binaries are not built (`scripts/cluster build`, run by `make test`)".into());
    }
    for p in ["containerd", "buildah", "openssl"] {
        if super::which(p).is_none() {
            return Err(format!("SKIP {p} not installed (`make test` installs it as root on Debian)"));
        }
    }
    let dir = std::env::temp_dir().join(format!("hnre-cluster-{}", std::process::id()));
    // SAFETY: registering a plain extern "C" function; it runs at exit.
    unsafe { libc::atexit(down_at_exit) };
    let out = Command::new(script()).arg("up").arg(&dir).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
    let info: Value = match std::fs::read(dir.join("cluster.json")) {
        Ok(b) if out.status.success() => serde_json::from_slice(&b).map_err(|e| e.to_string())?,
        _ => {
            let _ = Command::new(script()).arg("down").arg(&dir).status();
            return Err(format!(
                "scripts/cluster up failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    };
    let node = info["node"].as_str().unwrap().to_string();
    let c = Cluster { dir, info, node };
    // The next `cluster()` returns it through the OnceLock.
    Ok(c)
}

/// `(success, stdout, stderr)` of a command.
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Cluster {
    pub fn str(&self, key: &str) -> &str {
        self.info[key].as_str().unwrap_or_else(|| panic!("cluster.json has no {key}"))
    }

    pub fn kubectl_cmd(&self) -> Command {
        let mut cmd = Command::new(self.str("kubectl"));
        cmd.arg("--kubeconfig").arg(self.str("kubeconfig"));
        cmd
    }

    /// `kubectl ARGS` as admin: its stdout, or a panic with its stderr.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let (ok, out, err) = run(self.kubectl_cmd().args(args));
        assert!(ok, "kubectl {args:?} failed: {err}{out}");
        out
    }

    /// `kubectl ARGS` that may fail: `(success, stdout + stderr)`.
    pub fn kubectl_try(&self, args: &[&str]) -> (bool, String) {
        let (ok, out, err) = run(self.kubectl_cmd().args(args));
        (ok, out + &err)
    }

    /// `kubectl ARGS` with `input` on stdin (`apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> String {
        let mut child = self
            .kubectl_cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&a)).unwrap()
    }

    /// `scripts/cluster stop DIR NAME SIGNAL`.
    pub fn stop(&self, component: &str, signal: &str) {
        let (ok, _, err) = run(Command::new(script()).arg("stop").arg(&self.dir).args([component, signal]));
        assert!(ok, "stop {component}: {err}");
    }

    /// `scripts/cluster start DIR NAME`, then waits until it serves.
    pub fn start(&self, component: &str) {
        let (ok, _, err) = run(Command::new(script()).arg("start").arg(&self.dir).arg(component));
        assert!(ok, "start {component}: {err}");
        match component {
            "kube-apiserver" => self.wait_api(),
            "kubelet" => self.wait_node_ready(&self.node.clone(), Duration::from_secs(120)),
            _ => {}
        }
    }

    pub fn wait_api(&self) {
        wait_for("kube-apiserver /readyz", Duration::from_secs(120), || {
            self.kubectl_try(&["get", "--raw", "/readyz"]).0.then_some(())
        });
    }

    pub fn ready_status(&self, node: &str) -> Option<String> {
        let (ok, out) = self.kubectl_try(&[
            "get",
            "node",
            node,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        ok.then(|| out.trim().to_string())
    }

    pub fn wait_node_ready(&self, node: &str, limit: Duration) {
        wait_for(&format!("Node {node} Ready"), limit, || (self.ready_status(node)? == "True").then_some(()));
    }

    /// A ServiceAccount token from the TokenRequest API.
    pub fn token(&self, namespace: &str, sa: &str, extra: &[&str]) -> String {
        let mut args = vec!["-n", namespace, "create", "token", sa];
        args.extend(extra);
        self.kubectl(&args).trim().to_string()
    }

    /// A folder laid out like a pod's service-account mount (token, ca.crt)
    /// and the environment that points the binary at this API server with it.
    pub fn in_cluster_env(&self, sa_dir: &Path, token: &str) -> Vec<(String, String)> {
        std::fs::write(sa_dir.join("token"), token).unwrap();
        std::fs::copy(self.str("ca"), sa_dir.join("ca.crt")).unwrap();
        let api = self.str("api").trim_start_matches("https://");
        let (host, port) = api.rsplit_once(':').unwrap();
        vec![
            ("NODE_NAME".into(), self.node.clone()),
            ("KUBERNETES_SERVICE_HOST".into(), host.into()),
            ("KUBERNETES_SERVICE_PORT".into(), port.into()),
            ("KUBERNETES_SERVICEACCOUNT_DIR".into(), sa_dir.display().to_string()),
        ]
    }

    /// Audit events (one per request to nodes, stage ResponseComplete or
    /// ResponseStarted for watches) whose user agent starts with `agent`,
    /// after the first `skip` lines of the audit log.
    pub fn audit(&self, agent: &str, skip: usize) -> Vec<Value> {
        let text = std::fs::read_to_string(self.str("audit_log")).unwrap_or_default();
        text.lines()
            .skip(skip)
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["userAgent"].as_str().is_some_and(|u| u.starts_with(agent)))
            .filter(|e| e["stage"] == "ResponseComplete" || e["stage"] == "ResponseStarted")
            .collect()
    }

    pub fn audit_lines(&self) -> usize {
        std::fs::read_to_string(self.str("audit_log")).map(|t| t.lines().count()).unwrap_or(0)
    }

    /// A Node without a kubelet, created through the API; its status is
    /// whatever `set_ready` posts.
    pub fn create_api_node(&self, name: &str) {
        self.kubectl_stdin(
            &["apply", "-f", "-"],
            &format!(r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}","labels":{{"hnre-test":"api-only"}}}}}}"#),
        );
        self.set_ready(name, true);
    }

    /// Posts the Ready condition through the status subresource, with a fresh
    /// heartbeat so the node lifecycle controller leaves it alone.
    pub fn set_ready(&self, node: &str, ready: bool) {
        let now = now_rfc3339();
        let (status, reason) = if ready { ("True", "TestReady") } else { ("False", "TestNotReady") };
        let patch = format!(
            r#"{{"status":{{"conditions":[{{"type":"Ready","status":"{status}","reason":"{reason}","message":"set by the test","lastHeartbeatTime":"{now}","lastTransitionTime":"{now}"}}]}}}}"#
        );
        self.kubectl(&["patch", "node", node, "--subresource=status", "--type=strategic", "-p", &patch]);
    }
}

pub fn now_rfc3339() -> String {
    let out = Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Cluster {
    /// The Ready flip of the benchmark: one PATCH of the status subresource
    /// with curl and the admin certificate (no kubectl start-up in the
    /// measured time). Returns once the API server has answered.
    pub fn set_ready_fast(&self, node: &str, ready: bool) {
        let now = now_rfc3339();
        let status = if ready { "True" } else { "False" };
        let body = format!(
            r#"{{"status":{{"conditions":[{{"type":"Ready","status":"{status}","reason":"Bench","message":"flip","lastHeartbeatTime":"{now}","lastTransitionTime":"{now}"}}]}}}}"#
        );
        let pki = self.dir.join("pki");
        let (ok, out, err) = run(Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH"])
            .arg("--cacert")
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join("admin.crt"))
            .arg("--key")
            .arg(pki.join("admin.key"))
            .args(["-H", "Content-Type: application/strategic-merge-patch+json", "--data", &body])
            .arg(format!("{}/api/v1/nodes/{node}/status", self.str("api"))));
        assert!(ok && out == "200", "PATCH status: {out} {err}");
    }
}
