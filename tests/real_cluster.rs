//! Black-box tests against a real Kubernetes control plane and kubelet
//! (scripts/cluster: Kubernetes and etcd built from source, containerd from
//! Debian, all on loopback). The built binary runs on the host with real
//! credentials, and the image from `make image` runs in the cluster as the
//! shipped DaemonSet. One cluster per test binary; tests take turns.
//! Needs root and `scripts/cluster build` (run by `make test`); skips
//! otherwise, fails under E2E_REQUIRED=1.

mod support;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::kube_env::as_env;
use support::kube_proxy::KubeProxy;
use support::real_cluster::{Cluster, cluster, run, serial};
use support::{Service, TempDir, wait_for};

const NS: &str = "harmony-node-readiness";
const SA: &str = "harmony-node-readiness-endpoint";
const UA: &str = "harmony-node-readiness-endpoint/";
/// Generous: shared CI machines. The sub-second figures come from
/// scripts/cluster-bench, not from these deadlines.
const REACT: Duration = Duration::from_secs(10);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped namespace + RBAC, and the service on the host with a token of
/// the shipped ServiceAccount (as in a pod, through KUBERNETES_SERVICE_*).
fn with_shipped_rbac(c: &Cluster, node: &str, extra: &[(&str, &str)]) -> (Service, TempDir) {
    let deploy = repo().join("deploy");
    c.kubectl(&["apply", "-f", deploy.join("namespace.yaml").to_str().unwrap()]);
    c.kubectl(&["apply", "-f", deploy.join("rbac.yaml").to_str().unwrap()]);
    let sa_dir = TempDir::new("real-sa");
    let token = c.token(NS, SA, &[]);
    let mut env = c.in_cluster_env(sa_dir.path(), &token);
    env.retain(|(k, _)| k != "NODE_NAME");
    env.push(("NODE_NAME".into(), node.into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    (Service::start(&as_env(&env)), sa_dir)
}

/// This test's turn on the shared cluster, from a Ready kubelet Node (an
/// earlier test's API outage may have left it Unknown for a moment).
fn turn(c: &Cluster) -> std::sync::MutexGuard<'static, ()> {
    let guard = serial();
    c.wait_node_ready(&c.node, Duration::from_secs(120));
    guard
}

fn wait_status(svc: &Service, path: &str, want: u16, limit: Duration) -> support::Response {
    let mut last;
    let deadline = Instant::now() + limit;
    loop {
        let r = svc.get(path);
        if r.status == want {
            return r;
        }
        last = format!("{} {}", r.status, r.body);
        if Instant::now() >= deadline {
            panic!("no {want} on {path} within {limit:?}; last answer {last}\nservice log:\n{}", svc.log());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A counter of the service's /metrics (0 when absent).
fn metric(svc: &Service, line_start: &str) -> f64 {
    svc.get("/metrics").body.lines().find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok()).unwrap_or(0.0)
}

fn agent_line(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut line = String::new();
    let _ = s.read_to_string(&mut line);
    line.trim().to_string()
}

/// Sets (or clears) a condition of our own on a Node: the kubelet and the
/// controllers leave unknown condition types alone, so `custom_conditions`
/// turns on it and on nothing else — a change that proves the watch is live.
fn set_test_condition(c: &Cluster, node: &str, bad: bool) {
    let now = support::real_cluster::now_rfc3339();
    let status = if bad { "True" } else { "False" };
    let patch = format!(
        r#"{{"status":{{"conditions":[{{"type":"HnreTestProblem","status":"{status}","reason":"Test","message":"set by tests/real_cluster.rs","lastHeartbeatTime":"{now}","lastTransitionTime":"{now}"}}]}}}}"#
    );
    c.kubectl(&["patch", "node", node, "--subresource=status", "--type=strategic", "-p", &patch]);
}

// ------------------------------------------------------------ node_ready

#[test]
fn node_ready_follows_the_ready_condition_cordon_and_deletion() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    let node = "hnre-api-node";
    c.create_api_node(node);
    let (svc, _sa) = with_shipped_rbac(c, node, &[("AGENT_PORT", "0"), ("AGENT_CHECKS", "node_ready,node_eligible")]);
    wait_status(&svc, "/health", 200, REACT);

    // Ready=False through the status subresource, and back.
    c.set_ready(node, false);
    let r = wait_status(&svc, "/health", 503, REACT);
    assert!(r.reason("node_ready").unwrap().starts_with("TestNotReady: set by the test"), "{}", r.body);
    c.set_ready(node, true);
    wait_status(&svc, "/health", 200, REACT);

    // kubectl cordon: node_eligible fails, the agent says drain.
    let agent = support::lb_rig::agent_port(&svc);
    c.kubectl(&["cordon", node]);
    let r = wait_status(&svc, "/health?check=node_ready,node_eligible", 503, REACT);
    assert!(r.reason("node_eligible").unwrap().contains("cordoned"), "{}", r.body);
    assert_eq!(agent_line(agent), "up drain");
    c.kubectl(&["uncordon", node]);
    wait_status(&svc, "/health?check=node_ready,node_eligible", 200, REACT);
    assert_eq!(agent_line(agent), "up ready");

    // Deleted: `node "X" not found`; created again: ready again.
    c.kubectl(&["delete", "node", node, "--wait=true"]);
    let r = wait_status(&svc, "/health", 503, REACT);
    assert_eq!(r.reason("node_ready").unwrap(), format!("node \"{node}\" not found"), "{}", r.body);
    c.create_api_node(node);
    wait_status(&svc, "/health", 200, REACT);
    c.kubectl(&["delete", "node", node]);
}

// ------------------------------------------------------------ credentials

#[test]
fn kubelet_conf_reads_its_own_node_through_the_node_authorizer_alone() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    // The kubelet's kubeconfig names its rotating client certificate
    // (kubelet-client-current.pem, issued through a CSR at bootstrap).
    let kubeconfig = c.str("kubelet_kubeconfig");
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    assert!(text.contains("kubelet-client-current.pem"), "{text}");
    // No RBAC grants system:nodes anything on nodes: only the Node authorizer.
    let bindings = c.json(&["get", "clusterrolebindings"]);
    for b in bindings["items"].as_array().unwrap() {
        let to_nodes = b["subjects"].as_array().is_some_and(|s| {
            s.iter().any(|s| {
                s["name"] == "system:nodes" || s["name"].as_str().is_some_and(|n| n.starts_with("system:node:"))
            })
        });
        let role = b["roleRef"]["name"].as_str().unwrap();
        assert!(!to_nodes || role.contains("certificatesigningrequests"), "RBAC binds {role} to nodes");
    }
    let skip = c.audit_lines();
    let svc = Service::start(&[("NODE_NAME", &c.node), ("KUBECONFIG", kubeconfig)]);
    wait_status(&svc, "/health", 200, REACT);
    set_test_condition(c, &c.node, true);
    let r = wait_status(&svc, "/health?check=custom_conditions", 503, REACT);
    assert!(r.reason("custom_conditions").unwrap().contains("HnreTestProblem=True"), "{}", r.body);
    set_test_condition(c, &c.node, false);
    wait_status(&svc, "/health?check=custom_conditions", 200, REACT);
    let events = c.audit(UA, skip);
    let user = format!("system:node:{}", c.node);
    for verb in ["list", "watch"] {
        assert!(
            events.iter().any(|e| e["verb"] == verb
                && e["user"]["username"] == user.as_str()
                && e["responseStatus"]["code"] == 200),
            "no successful {verb} as {user}: {events:?}"
        );
    }
    assert!(!events.iter().any(|e| e["responseStatus"]["code"] == 403), "{events:?}");
    assert!(!svc.log().contains("polling"), "{}", svc.log());
}

#[test]
fn get_only_rbac_falls_back_to_polling_and_says_so() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    c.kubectl(&["apply", "-f", repo().join("deploy/namespace.yaml").to_str().unwrap()]);
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: hnre-get-only, namespace: harmony-node-readiness}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: hnre-get-only}
rules: [{apiGroups: [""], resources: ["nodes"], verbs: ["get"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: hnre-get-only}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: hnre-get-only}
subjects: [{kind: ServiceAccount, name: hnre-get-only, namespace: harmony-node-readiness}]
"#,
    );
    let sa_dir = TempDir::new("real-get-only");
    let token = c.token(NS, "hnre-get-only", &[]);
    let mut env = c.in_cluster_env(sa_dir.path(), &token);
    env.push(("NODE_POLL_INTERVAL_SECONDS".into(), "1".into()));
    // RBAC bindings reach the authorizer's cache within a moment.
    let svc = Service::start(&as_env(&env));
    wait_status(&svc, "/health", 200, Duration::from_secs(30));
    wait_for("the polling log line", REACT, || svc.log().contains("polling GET /api/v1/nodes/").then_some(()));
    let metrics = svc.get("/metrics").body;
    assert!(metrics.contains("node_readiness_node_watch_polling 1"), "{metrics}");
    set_test_condition(c, &c.node, true);
    wait_status(&svc, "/health?check=custom_conditions", 503, REACT);
    set_test_condition(c, &c.node, false);
    wait_status(&svc, "/health?check=custom_conditions", 200, REACT);
}

// ------------------------------------------------------------ API faults

/// Probes `path` every 50 ms until `done` returns true; returns the failures.
fn probe_while(svc: &Service, path: &str, mut done: impl FnMut() -> bool) -> Vec<String> {
    let mut failures = vec![];
    let deadline = Instant::now() + Duration::from_secs(300);
    while !done() && Instant::now() < deadline {
        let r = svc.get(path);
        if r.status != 200 {
            failures.push(format!("{} {}", r.status, r.body));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    failures
}

/// Restarts kube-apiserver with `signal` while probing; the last state stays,
/// the watch resumes (a change after the restart is seen) and the service
/// asks the API only a handful of times. Returns the service's audit events.
fn restart_api_server(c: &Cluster, svc: &Service, signal: &str, between: impl FnOnce()) -> Vec<serde_json::Value> {
    // A restart longer than the grace period (SIGTERM: about 23 s of
    // graceful shutdown here) lets the controller-manager mark the Node
    // Unknown afterwards, until the kubelet posts again: start from, and
    // return to, a Ready Node.
    c.wait_node_ready(&c.node, Duration::from_secs(120));
    wait_status(svc, "/health", 200, Duration::from_secs(30));
    let skip = c.audit_lines();
    let t0 = Instant::now();
    c.stop("kube-apiserver", signal);
    between();
    // While it is down the last state is kept: probe through the outage.
    let restarted = std::thread::scope(|s| {
        let h = s.spawn(|| {
            c.start("kube-apiserver");
        });
        let failures = probe_while(svc, "/health", || h.is_finished());
        assert!(failures.is_empty(), "probes failed while the API server was down: {failures:?}");
        h.join().is_ok()
    });
    assert!(restarted);
    eprintln!("kube-apiserver {signal} restart took {:?}", t0.elapsed());
    set_test_condition(c, &c.node, true);
    wait_status(svc, "/health?check=custom_conditions", 503, Duration::from_secs(60));
    set_test_condition(c, &c.node, false);
    wait_status(svc, "/health?check=custom_conditions", 200, REACT);
    let events = c.audit(UA, skip);
    c.wait_node_ready(&c.node, Duration::from_secs(120));
    wait_status(svc, "/health", 200, Duration::from_secs(60));
    events
}

fn count(events: &[serde_json::Value], verb: &str) -> usize {
    events.iter().filter(|e| e["verb"] == verb && e["stage"] != "ResponseStarted").count()
}

#[test]
fn api_server_sigterm_restart_with_a_rotated_token_keeps_state_and_resumes() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    // Token A is bound to a Secret: deleting the Secret revokes it at once.
    c.kubectl(&["apply", "-f", repo().join("deploy/namespace.yaml").to_str().unwrap()]);
    c.kubectl(&["apply", "-f", repo().join("deploy/rbac.yaml").to_str().unwrap()]);
    for s in ["hnre-token-a", "hnre-token-b"] {
        c.kubectl_try(&["-n", NS, "delete", "secret", s]);
        c.kubectl(&["-n", NS, "create", "secret", "generic", s]);
    }
    let bound = |s: &str| {
        c.token(NS, SA, &["--duration=10m", "--bound-object-kind=Secret", &format!("--bound-object-name={s}")])
    };
    let sa_dir = TempDir::new("real-rotate");
    let env = c.in_cluster_env(sa_dir.path(), &bound("hnre-token-a"));
    let svc = Service::start(&as_env(&env));
    wait_status(&svc, "/health", 200, REACT);

    // Rotate in the file (as the kubelet does: write, rename), revoke A, and
    // restart the API server so that the service must authenticate again.
    let tmp = sa_dir.path().join("..token.tmp");
    std::fs::write(&tmp, bound("hnre-token-b")).unwrap();
    std::fs::rename(&tmp, sa_dir.path().join("token")).unwrap();
    c.kubectl(&["-n", NS, "delete", "secret", "hnre-token-a"]);
    let events = restart_api_server(c, &svc, "TERM", || {});
    let (lists, watches) = (count(&events, "list"), count(&events, "watch"));
    eprintln!("after a SIGTERM restart: {lists} list(s), {watches} watch(es): {:?}", summary(&events));
    assert!(lists <= 3 && watches <= 6, "relist storm: {:?}", summary(&events));
    // The revoked token A is refused once (401), the file is read again and
    // token B carries on: no probe failed meanwhile (restart_api_server).
    let served = events.iter().any(|e| e["verb"] == "watch" && e["responseStatus"]["code"] == 200);
    assert!(served, "no watch answered after the restart: {:?}", summary(&events));
}

#[test]
fn api_server_sigkill_restart_after_etcd_compaction_relists_once_on_410() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    // kubelet.conf: the Node authorizer answers at once after a restart,
    // where RBAC answers 403 for a moment (and the service relists then).
    let svc = Service::start(&[("NODE_NAME", &c.node), ("KUBECONFIG", c.str("kubelet_kubeconfig"))]);
    wait_status(&svc, "/health", 200, REACT);
    // Changes behind the open watch, then etcd compacted past all of them:
    // the resourceVersion the service resumes from is gone for good.
    for bad in [true, false, true, false] {
        set_test_condition(c, &c.node, bad);
    }
    wait_status(&svc, "/health?check=custom_conditions", 200, REACT);
    let events = restart_api_server(c, &svc, "KILL", || {
        let etcdctl = |args: &[&str]| {
            let (ok, out, err) = run(Command::new(c.str("etcdctl")).arg("--endpoints").arg(c.str("etcd")).args(args));
            assert!(ok, "etcdctl {args:?}: {err}");
            out
        };
        let status: serde_json::Value = serde_json::from_str(&etcdctl(&["endpoint", "status", "-w", "json"])).unwrap();
        let rev = status[0]["Status"]["header"]["revision"].as_i64().unwrap();
        etcdctl(&["compact", &rev.to_string()]);
    });
    eprintln!("after etcd compaction and a SIGKILL restart: {:?}", summary(&events));
    // The watch cache of the restarted server starts past the compacted
    // history: resuming answers 200 with one ERROR event carrying a 410
    // Expired Status ("too old resource version"), and the service relists.
    let expired = metric(&svc, "node_readiness_node_watch_restarts_total{reason=\"expired\"}");
    let lists = count(&events, "list");
    // Whether v1.36 answers the resumed watch with a 410 depends on where
    // its fresh watch cache starts (seen both ways); when it does, exactly
    // one relist follows. Either way no relist storm and no polling.
    eprintln!("410 Expired handled: {expired}, lists: {lists}");
    if expired >= 1.0 {
        assert!((1..=3).contains(&lists), "410 without one relist: {:?}", summary(&events));
    }
    assert!(lists <= 3, "relist storm: {:?}", summary(&events));
    assert!(!svc.log().contains("polling GET"), "{}", svc.log());
}

fn summary(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["stage"] != "ResponseStarted" || e["verb"] == "watch")
        .map(|e| format!("{} {} {} {}", e["stage"], e["verb"], e["responseStatus"]["code"], e["requestURI"]))
        .collect()
}

// ------------------------------------------------------------ kubelet death

#[test]
fn kubelet_death_fails_kubelet_at_once_and_node_ready_after_the_grace_period() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    let (svc, _sa) = with_shipped_rbac(c, &c.node.clone(), &[]);
    wait_status(&svc, "/health?check=node_ready,kubelet", 200, REACT);
    let t0 = Instant::now();
    c.stop("kubelet", "TERM");
    let r = wait_status(&svc, "/health?check=node_ready,kubelet", 503, REACT);
    let kubelet_after = t0.elapsed();
    assert_eq!(r.json()["checks"][0]["passed"], true, "{}", r.body);
    assert!(r.reason("kubelet").unwrap().starts_with("kubelet healthz:"), "{}", r.body);
    let grace = c.str("node_monitor_grace_period").to_string();
    let r = wait_status(&svc, "/health", 503, Duration::from_secs(180));
    let ready_after = t0.elapsed();
    let reason = r.reason("node_ready").unwrap();
    assert!(reason.starts_with("NodeStatusUnknown: Kubelet stopped posting node status"), "{reason}");
    eprintln!(
        "kubelet stopped: check=kubelet 503 after {kubelet_after:?}; node_ready 503 after {ready_after:?} \
         (controller-manager --node-monitor-grace-period={grace})"
    );
    c.start("kubelet");
    wait_status(&svc, "/health", 200, Duration::from_secs(120));
}

// ------------------------------------------------------------ kube-proxy

/// A real kube-proxy for the Node (its own network namespace) and the
/// service on the host probing its healthz, once it has synced.
fn with_kube_proxy(c: &Cluster) -> (KubeProxy, Service) {
    let t0 = Instant::now();
    let kp = KubeProxy::start(c);
    let url = KubeProxy::healthz_url();
    let svc = Service::start(&[("NODE_NAME", &c.node), ("KUBE_PROXY_HEALTHZ_URL", &url)]);
    let before = until_healthy(&kp, &svc);
    eprintln!("kube-proxy started: our check 200 after {:?}", t0.elapsed());
    assert_only_refused(&before);
    (kp, svc)
}

/// Polls `/health?check=kube_proxy` until 200; the reasons seen before.
fn until_healthy(kp: &KubeProxy, svc: &Service) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    // kube-proxy waits up to 30 s for its Node's addresses, which this
    // cluster's Node lacks (the kubelet refuses a loopback --node-ip).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = svc.get("/health?check=kube_proxy");
        if r.status == 200 {
            return seen;
        }
        seen.insert(r.reason("kube_proxy").unwrap_or(r.body));
        assert!(Instant::now() < deadline, "kube-proxy never healthy: {seen:?}\nkube-proxy log:\n{}", kp.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// kube-proxy opens its healthz port only once it knows its Node, and then
/// answers 200 at once (healthy until a queued rule change is late), so a
/// starting kube-proxy reads as refused, never as a 503 of its own.
fn assert_only_refused(before: &BTreeSet<String>) {
    assert!(before.iter().all(|r| r == "kube-proxy healthz: connection refused"), "{before:?}");
}

#[test]
fn kube_proxy_check_follows_a_real_kube_proxy_through_kill_and_restart() {
    if support::skip_unless_program("iptables") {
        return;
    }
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    let (mut kp, svc) = with_kube_proxy(c);
    let r = svc.get("/health?check=kube_proxy");
    assert_eq!(r.json()["checks"][0]["name"], "kube_proxy", "{}", r.body);

    kp.kill();
    let r = wait_status(&svc, "/health?check=kube_proxy", 503, REACT);
    assert_eq!(r.reason("kube_proxy").as_deref(), Some("kube-proxy healthz: connection refused"), "{}", r.body);

    let t0 = Instant::now();
    kp.restart();
    let before = until_healthy(&kp, &svc);
    eprintln!("kube-proxy restarted: our check 200 again after {:?}", t0.elapsed());
    assert_only_refused(&before);
}

/// Puts the Cluster Autoscaler's ToBeDeletedByClusterAutoscaler taint on a
/// Node; removes it when dropped, so later tests find the Node as it was.
struct AutoscalerTaint<'a>(&'a Cluster, String);

impl<'a> AutoscalerTaint<'a> {
    fn put(c: &'a Cluster, node: &str) -> Self {
        // The autoscaler's value is the Unix time it decided; kube-proxy
        // looks only at the key.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        c.kubectl(&["taint", "node", node, &format!("ToBeDeletedByClusterAutoscaler={now}:NoSchedule")]);
        AutoscalerTaint(c, node.to_string())
    }
}

impl Drop for AutoscalerTaint<'_> {
    fn drop(&mut self) {
        let _ = self.0.kubectl_try(&["taint", "node", &self.1, "ToBeDeletedByClusterAutoscaler-"]);
    }
}

#[test]
fn kube_proxy_check_fails_while_the_node_carries_the_autoscalers_to_be_deleted_taint() {
    if support::skip_unless_program("iptables") {
        return;
    }
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    let (_kp, svc) = with_kube_proxy(c);
    let taint = AutoscalerTaint::put(c, &c.node);
    let r = wait_status(&svc, "/health?check=kube_proxy", 503, REACT);
    let reason = r.reason("kube_proxy").unwrap();
    eprintln!("tainted: {reason}");
    assert_eq!(
        reason,
        "kube-proxy healthz returned 503: nodeEligible=false (Node being deleted or tainted ToBeDeletedByClusterAutoscaler)",
        "{}",
        r.body
    );
    drop(taint);
    wait_status(&svc, "/health?check=kube_proxy", 200, REACT);
}

// ------------------------------------------------------------ in-cluster

/// `make image`, then imported into the cluster's containerd under the name
/// and tag the shipped manifest uses (and `extra_tag` for a rolling update).
fn import_image(c: &Cluster, tags: &[&str]) {
    let version = env!("CARGO_PKG_VERSION");
    let local = format!("localhost/harmony-node-readiness-endpoint:{version}");
    let (ok, out, err) = run(Command::new("make").arg("-C").arg(repo()).args(["image", "ENGINE=buildah"]));
    assert!(ok, "make image: {out}{err}");
    let tar = TempDir::new("real-image");
    for tag in tags {
        let name = format!("registry.example.com/harmony-node-readiness-endpoint:{tag}");
        let file = tar.path().join(format!("{tag}.tar"));
        let (ok, _, err) = run(Command::new("buildah")
            .args(["push", "--quiet", &local])
            .arg(format!("docker-archive:{}:{name}", file.display())));
        assert!(ok, "buildah push: {err}");
        let (ok, _, err) = run(Command::new("ctr")
            .args(["--address", c.str("containerd_sock"), "-n", "k8s.io", "images", "import"])
            .arg(&file));
        assert!(ok, "ctr import: {err}");
    }
}

fn rollout(c: &Cluster) {
    c.kubectl(&["-n", NS, "rollout", "status", "daemonset/harmony-node-readiness-endpoint", "--timeout=180s"]);
}

fn health_on_node() -> Option<(u16, String)> {
    probe_on_node().ok()
}

/// `GET /health` on the node's port the way an LB sends it; the error says
/// what the LB would have seen.
fn probe_on_node() -> Result<(u16, String), String> {
    let r = support::service::lb_probe("127.0.0.1:25001".parse().unwrap(), "/health", Duration::from_secs(2))?;
    Ok((r.status, r.body))
}

/// /health on the node every 50 ms until the DaemonSet's rollout is done:
/// (probes sent, the answers that were not 200).
fn probe_through_rollout(c: &Cluster) -> (usize, Vec<String>) {
    let mut probes = 0;
    let failures = std::thread::scope(|s| {
        let h = s.spawn(|| rollout(c));
        let mut failures = vec![];
        while !h.is_finished() {
            probes += 1;
            match probe_on_node() {
                Ok((200, _)) => {}
                Ok((status, body)) => failures.push(format!("probe {probes}: {status} {body}")),
                Err(e) => failures.push(format!("probe {probes}: {e}")),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        h.join().unwrap();
        failures
    });
    (probes, failures)
}

/// Removes what an install of deploy/ (or the chart) made: the namespace,
/// and the cluster-scoped ClusterRole and ClusterRoleBinding a namespace
/// deletion leaves behind (Helm would refuse to adopt them).
fn remove_shipped(c: &Cluster) {
    c.kubectl(&["delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
    c.kubectl(&["delete", "clusterrolebinding,clusterrole", SA, "--ignore-not-found"]);
}

fn in_cluster_user_requests(c: &Cluster, skip: usize) -> bool {
    c.audit(UA, skip).iter().any(|e| {
        e["user"]["username"] == format!("system:serviceaccount:{NS}:{SA}").as_str()
            && e["responseStatus"]["code"] == 200
    })
}

#[test]
fn daemonset_from_kustomize_and_from_the_three_files_runs_and_rolls_without_a_failed_probe() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    import_image(c, &["0.1.0", "0.1.0-rollout"]);
    remove_shipped(c);

    // kubectl apply -k deploy/
    let skip = c.audit_lines();
    c.kubectl(&["apply", "-k", repo().join("deploy").to_str().unwrap()]);
    rollout(c);
    let (status, body) =
        wait_for("/health 200 from the pod", Duration::from_secs(60), || health_on_node().filter(|(s, _)| *s == 200));
    assert_eq!(status, 200, "{body}");
    assert!(in_cluster_user_requests(c, skip), "the pod did not use its own ServiceAccount");
    let pods = c.json(&["-n", NS, "get", "pods"]);
    assert_eq!(pods["items"][0]["status"]["phase"], "Running", "{pods}");

    // Rolling update to a new tag: a probe every 50 ms, not one fails.
    c.kubectl(&[
        "-n",
        NS,
        "set",
        "image",
        "daemonset/harmony-node-readiness-endpoint",
        "harmony-node-readiness-endpoint=registry.example.com/harmony-node-readiness-endpoint:0.1.0-rollout",
    ]);
    let (probes, failures) = probe_through_rollout(c);
    eprintln!("rolling update: {probes} probes, {} failed", failures.len());
    assert!(failures.is_empty(), "{failures:?}");
    assert!(probes > 20, "the rollout was too quick to observe ({probes} probes)");
    let ds = c.json(&["-n", NS, "get", "daemonset", SA]);
    assert!(ds["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap().ends_with(":0.1.0-rollout"));
    remove_shipped(c);

    // The original README's three commands, file by file.
    let skip = c.audit_lines();
    for f in ["namespace.yaml", "rbac.yaml", "daemonset.yaml"] {
        c.kubectl(&["apply", "-f", repo().join("deploy").join(f).to_str().unwrap()]);
    }
    rollout(c);
    wait_for("/health 200 from the pod", Duration::from_secs(60), || health_on_node().filter(|(s, _)| *s == 200));
    assert!(in_cluster_user_requests(c, skip), "the pod did not use its own ServiceAccount");
    remove_shipped(c);
}

// ------------------------------------------------------------ Helm

const RELEASE: &str = "hnre";

/// `helm ARGS` on the cluster with its admin kubeconfig, Helm's own cache
/// and config in `home` (not root's): `(success, stdout + stderr)`. The
/// release record goes to namespace `default`, as with the README's
/// `helm install` (the chart creates the namespace of its objects).
fn helm_on(c: &Cluster, helm: &Path, home: &Path, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(helm);
    cmd.args(args).arg("--kubeconfig").arg(c.str("kubeconfig"));
    for var in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] {
        cmd.env(var, home.join(var));
    }
    let (ok, out, err) = run(&mut cmd);
    (ok, out + &err)
}

/// Uninstalls the release and removes whatever it or an earlier test left
/// (on drop too, so a failed assertion leaves the next test a clean node).
struct Release<'a> {
    c: &'a Cluster,
    helm: &'a Path,
    home: &'a Path,
}

impl Release<'_> {
    fn remove(&self) {
        let (ok, out) = helm_on(self.c, self.helm, self.home, &["uninstall", RELEASE, "--ignore-not-found", "--wait"]);
        assert!(ok, "helm uninstall: {out}");
        remove_shipped(self.c);
    }
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = helm_on(self.c, self.helm, self.home, &["uninstall", RELEASE, "--ignore-not-found", "--wait"]);
            let _ = self.c.kubectl_try(&["delete", "namespace", NS, "--ignore-not-found", "--timeout=120s"]);
            let _ = self.c.kubectl_try(&["delete", "clusterrolebinding,clusterrole", SA, "--ignore-not-found"]);
        }
    }
}

/// The names of the checks a bare GET /health ran.
fn checks_run(body: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

/// Nothing listens on the node's `port` any more: connections are refused
/// and the port can be bound.
fn port_free(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err() && std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// The README's `helm install` into the real cluster: the pod serves 200
/// on its own ServiceAccount, a `--set` value changes what a bare /health
/// runs, `helm upgrade` with a new value rolls without a failed probe and
/// opens the agent port, `helm uninstall` leaves nothing behind.
#[test]
fn helm_install_serves_200_upgrade_rolls_and_uninstall_removes_everything() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    let Some(helm_bin) = support::helm::helm() else { return };
    let home = TempDir::new("helm-home");
    let release = Release { c, helm: &helm_bin, home: home.path() };
    let helm = |args: &[&str]| {
        let (ok, out) = helm_on(c, release.helm, release.home, args);
        assert!(ok, "helm {args:?}: {out}");
        out
    };
    let chart = repo().join(support::helm::CHART);
    let chart = chart.to_str().unwrap();
    let agent_port = 25002;
    import_image(c, &[env!("CARGO_PKG_VERSION")]);
    let t0 = Instant::now();
    release.remove();
    assert!(port_free(25001) && port_free(agent_port), "something already listens on 25001 or {agent_port}");

    // Installed with one non-default value: a bare /health now runs both checks.
    let skip = c.audit_lines();
    helm(&["install", RELEASE, chart, "--set", "defaultChecks=node_ready\\,kubelet"]);
    rollout(c);
    let (_, body) =
        wait_for("/health 200 from the pod", Duration::from_secs(60), || health_on_node().filter(|(s, _)| *s == 200));
    assert_eq!(checks_run(&body), ["node_ready", "kubelet"], "{body}");
    assert!(in_cluster_user_requests(c, skip), "the pod did not use its own ServiceAccount");
    let pods = c.json(&["-n", NS, "get", "pods"]);
    let [pod] = pods["items"].as_array().unwrap().as_slice() else { panic!("one pod expected: {pods}") };
    assert_eq!(pod["status"]["phase"], "Running", "{pod}");
    assert_eq!(pod["spec"]["serviceAccountName"], SA);
    let first_pod = pod["metadata"]["name"].as_str().unwrap().to_string();
    assert!(TcpStream::connect(("127.0.0.1", agent_port)).is_err(), "the agent port is open without agentPort");

    // helm upgrade with a new value: a new pod, a probe every 50 ms, not one
    // fails; the agent port answers; the install's value is kept.
    helm(&["upgrade", RELEASE, chart, "--reuse-values", "--set", &format!("agentPort={agent_port}")]);
    let (probes, failures) = probe_through_rollout(c);
    eprintln!("helm upgrade: {probes} probes, {} failed", failures.len());
    assert!(failures.is_empty(), "{failures:?}");
    assert!(probes > 20, "the rollout was too quick to observe ({probes} probes)");
    // The old pod may still be terminating beside it.
    let pods = c.json(&["-n", NS, "get", "pods"]);
    let live: Vec<_> =
        pods["items"].as_array().unwrap().iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
    let [pod] = live.as_slice() else { panic!("one live pod expected: {pods}") };
    assert_ne!(pod["metadata"]["name"], first_pod.as_str(), "helm upgrade did not replace the pod");
    assert_eq!(pod["metadata"]["labels"]["pod-template-generation"], "2", "{pod}");
    assert_eq!(agent_line(agent_port), "up ready");
    let (status, body) = health_on_node().unwrap();
    assert_eq!((status, checks_run(&body)), (200, vec!["node_ready".to_string(), "kubelet".to_string()]), "{body}");
    let history = helm(&["history", RELEASE]);
    assert_eq!(history.lines().count(), 3, "a header and two revisions expected: {history}");

    // helm uninstall: the release, its namespace (pods included), the
    // cluster-scoped RBAC and both ports are gone.
    helm(&["uninstall", RELEASE, "--wait"]);
    wait_for("namespace deleted", Duration::from_secs(120), || {
        let (found, out) = c.kubectl_try(&["get", "namespace", NS]);
        (!found && out.contains("NotFound")).then_some(())
    });
    for kind in ["clusterrole", "clusterrolebinding"] {
        let (found, out) = c.kubectl_try(&["get", kind, SA]);
        assert!(!found && out.contains("NotFound"), "{kind} {SA} left behind: {out}");
    }
    assert_eq!(helm(&["list", "--all-namespaces", "-q"]).trim(), "", "a release is left");
    let records = c.kubectl(&["get", "secrets", "--all-namespaces", "-l", "owner=helm", "-o", "name"]);
    assert_eq!(records.trim(), "", "Helm's release records are left");
    wait_for("ports 25001 and the agent's free", Duration::from_secs(30), || {
        (port_free(25001) && port_free(agent_port)).then_some(())
    });
    eprintln!("helm install, upgrade and uninstall took {:?} (image build and import before it)", t0.elapsed());
}

// ------------------------------------------------------------ service_endpoints

const SE_NS: &str = "hnre-service-endpoints";

/// A hand-made EndpointSlice of Service `web` (selector-less, so no
/// controller touches it): one endpoint on our node with the given
/// conditions, one ready endpoint on another node.
fn web_slice(node: &str, ready: bool, serving: bool, terminating: bool) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-manual\n  namespace: {SE_NS}\n  \
         labels:\n    kubernetes.io/service-name: web\naddressType: IPv4\nports:\n  - name: http\n    port: 8080\n    protocol: TCP\n\
         endpoints:\n  - addresses: [\"192.0.2.10\"]\n    nodeName: {node}\n    \
         conditions: {{ready: {ready}, serving: {serving}, terminating: {terminating}}}\n  \
         - addresses: [\"192.0.2.11\"]\n    nodeName: hnre-elsewhere\n    conditions: {{ready: true}}\n"
    )
}

fn wait_se_reason(svc: &Service, want: &str) -> Duration {
    let start = Instant::now();
    wait_for(&format!("service_endpoints reason {want:?}"), REACT, || {
        let r = svc.get("/health?check=service_endpoints");
        (r.status == 503 && r.reason("service_endpoints").as_deref() == Some(want)).then_some(())
    });
    start.elapsed()
}

/// The real API server's EndpointSlices through the check: the shipped RBAC
/// alone is not enough (the reason names the permission), the component's
/// Role + RoleBinding for the namespace is; then every reason follows the
/// slice. The slice is hand-made (a selector-less Service), so every
/// reason, "ready elsewhere" included (one node only), is reached at will;
/// the controller's own slices of a Deployment are the next test's.
#[test]
fn service_endpoints_follows_real_endpointslices_with_the_components_rbac() {
    let Some(c) = cluster() else { return };
    let _turn = serial();
    let node = c.node.clone();
    let svc_name = format!("{SE_NS}/web");
    c.kubectl(&["delete", "namespace", SE_NS, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
    c.kubectl(&["create", "namespace", SE_NS]);
    let service = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: {SE_NS}\nspec:\n  ports:\n    - name: http\n      port: 8080\n"
    );
    c.kubectl_stdin(&["apply", "-f", "-"], &service);
    c.kubectl_stdin(&["apply", "-f", "-"], &web_slice(&node, true, true, false));
    let (svc, _sa) = with_shipped_rbac(c, &node, &[("SERVICE_ENDPOINTS", &svc_name)]);

    // The base RBAC grants nothing on EndpointSlices: the real 403 becomes the reason.
    wait_se_reason(
        &svc,
        &format!("{svc_name}: cannot list endpointslices.discovery.k8s.io in namespace \"{SE_NS}\" (RBAC)"),
    );
    let rbac = std::fs::read_to_string(repo().join("deploy/components/service-endpoints/rbac.yaml")).unwrap();
    c.kubectl_stdin(&["apply", "-f", "-"], &rbac.replace("namespace: ingress-nginx", &format!("namespace: {SE_NS}")));
    wait_status(&svc, "/health?check=service_endpoints", 200, Duration::from_secs(60));

    // Readiness failing here, one ready elsewhere.
    c.kubectl_stdin(&["apply", "-f", "-"], &web_slice(&node, false, false, false));
    let took = wait_se_reason(&svc, &format!("{svc_name}: no ready endpoint on this node (1 ready elsewhere)"));
    eprintln!("not ready → 503 seen after {took:?} (poll included)");
    c.kubectl_stdin(&["apply", "-f", "-"], &web_slice(&node, true, true, false));
    wait_status(&svc, "/health?check=service_endpoints", 200, REACT);
    // The pod terminates (still serving): early drain.
    c.kubectl_stdin(&["apply", "-f", "-"], &web_slice(&node, false, true, true));
    let took = wait_se_reason(&svc, &format!("{svc_name}: endpoint 192.0.2.10 terminating"));
    eprintln!("terminating → 503 seen after {took:?} (poll included)");
    // The slice goes away (Service deleted, or given a selector-less life).
    c.kubectl(&["-n", SE_NS, "delete", "endpointslice", "web-manual"]);
    wait_se_reason(&svc, &format!("{svc_name}: no EndpointSlice (Service missing or has no selector)"));
    c.kubectl_stdin(&["apply", "-f", "-"], &web_slice(&node, true, true, false));
    wait_status(&svc, "/health?check=service_endpoints", 200, REACT);
    drop(svc);
    c.kubectl(&["delete", "namespace", SE_NS, "--wait=false"]);
}

// ------------------------------------------------------------ service_endpoints, from a real Deployment

const DEP_NS: &str = "hnre-se-deployment";

/// Service `web` selecting the pods of Deployment `web`: our own image on
/// port 8080 (no credentials; /livez needs none), pinned to the kubelet's
/// node, readiness on `readiness_path`. Recreate, so that a new template
/// replaces the pod instead of waiting beside it.
fn web_deployment(node: &str, replicas: u32, readiness_path: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {DEP_NS}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 8080, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {DEP_NS}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  strategy: {{type: Recreate}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {node}}}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 10
      containers:
        - name: web
          image: registry.example.com/harmony-node-readiness-endpoint:{version}
          imagePullPolicy: Never
          env:
            - {{name: LISTEN_PORT, value: "8080"}}
            - name: NODE_NAME
              valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}
          ports: [{{name: http, containerPort: 8080}}]
          readinessProbe:
            httpGet: {{path: "{readiness_path}", port: 8080}}
            periodSeconds: 1
            failureThreshold: 1
"#
    )
}

/// What the EndpointSlice controller wrote for Service `web`: the number of
/// slices and every endpoint as (address, nodeName, ready, terminating).
fn controller_endpoints(c: &Cluster) -> (usize, Vec<(String, String, bool, bool)>) {
    let v = c.json(&["-n", DEP_NS, "get", "endpointslices", "-l", "kubernetes.io/service-name=web"]);
    let slices = v["items"].as_array().cloned().unwrap_or_default();
    let endpoints = slices
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            let cond = &e["conditions"];
            (
                e["addresses"][0].as_str().unwrap_or("").to_string(),
                e["nodeName"].as_str().unwrap_or("").to_string(),
                cond["ready"] == true,
                cond["terminating"] == true,
            )
        })
        .collect();
    (slices.len(), endpoints)
}

/// The pods of Deployment `web`: (name, pod IP, Ready, being deleted).
fn web_pods(c: &Cluster) -> Vec<(String, String, bool, bool)> {
    let v = c.json(&["-n", DEP_NS, "get", "pods", "-l", "app=web"]);
    v["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            (
                p["metadata"]["name"].as_str().unwrap().to_string(),
                p["status"]["podIP"].as_str().unwrap_or("").to_string(),
                ready,
                !p["metadata"]["deletionTimestamp"].is_null(),
            )
        })
        .collect()
}

/// A change of the check's answer, and when (since the start) it was first seen.
struct Seen {
    at: Duration,
    status: u16,
    reason: String,
}

/// The check's answers, probed every 20 ms, kept as changes, until `done`
/// says so or `limit` passes.
fn record_answers(svc: &Service, limit: Duration, mut done: impl FnMut(&[Seen]) -> bool) -> Vec<Seen> {
    let (t0, mut seen): (Instant, Vec<Seen>) = (Instant::now(), vec![]);
    while t0.elapsed() < limit && !done(&seen) {
        let r = svc.get("/health?check=service_endpoints");
        let reason = r.reason("service_endpoints").unwrap_or_default();
        if seen.last().is_none_or(|s| s.status != r.status || s.reason != reason) {
            seen.push(Seen { at: t0.elapsed(), status: r.status, reason });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen
}

fn show(seen: &[Seen]) -> String {
    seen.iter().map(|s| format!("{:?} {} {:?}", s.at, s.status, s.reason)).collect::<Vec<_>>().join("; ")
}

/// The issue's real-cluster case: the EndpointSlice controller's own slices
/// of a Deployment's pod (our image, on the pod network of scripts/cluster)
/// drive the check through deletion (terminating first), a failing
/// readiness probe, scaling to 0 and back.
#[test]
fn service_endpoints_follows_a_real_deployment_through_deletion_readiness_and_scaling() {
    let Some(c) = cluster() else { return };
    let _turn = turn(c);
    let node = c.node.clone();
    let svc_name = format!("{DEP_NS}/web");
    let no_ready = format!("{svc_name}: no ready endpoint on this node (0 ready elsewhere)");
    let pod_start = Duration::from_secs(180);
    import_image(c, &[env!("CARGO_PKG_VERSION")]);
    c.kubectl(&["delete", "namespace", DEP_NS, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
    c.kubectl(&["create", "namespace", DEP_NS]);
    let rbac = std::fs::read_to_string(repo().join("deploy/components/service-endpoints/rbac.yaml")).unwrap();
    c.kubectl_stdin(&["apply", "-f", "-"], &rbac.replace("namespace: ingress-nginx", &format!("namespace: {DEP_NS}")));
    c.kubectl_stdin(&["apply", "-f", "-"], &web_deployment(&node, 1, "/livez"));
    let (svc, _sa) = with_shipped_rbac(c, &node, &[("SERVICE_ENDPOINTS", &svc_name)]);

    // Ready pod → 200; the controller's endpoint is the pod's address on
    // the pod network, on this node.
    wait_status(&svc, "/health?check=service_endpoints", 200, pod_start);
    let pods = web_pods(c);
    let [(old_pod, old_ip, true, false)] = pods.as_slice() else { panic!("one ready pod expected: {pods:?}") };
    assert!(old_ip.starts_with("198.51.100."), "pod IP {old_ip} not on the pod network");
    let (_, eps) = controller_endpoints(c);
    assert_eq!(eps, vec![(old_ip.clone(), node.clone(), true, false)]);

    // Deleted (grace period 10 s; our binary exits on SIGTERM at once): the
    // endpoint turns terminating before it goes; the ReplicaSet's new pod
    // brings 200 back. The slices are sampled beside the 20 ms probes.
    let old_in = |eps: &[(String, String, bool, bool)]| eps.iter().find(|e| e.0 == *old_ip).cloned();
    // Sample times count from the delete command's start, answers from its return.
    let t0 = Instant::now();
    let (seen, samples, returned) = std::thread::scope(|s| {
        // Until the old endpoint is gone (a kubectl round trip per sample;
        // its time is when the answer was back).
        let sampler = s.spawn(|| {
            let mut samples = vec![];
            while t0.elapsed() < pod_start {
                let eps = controller_endpoints(c).1;
                let gone = old_in(&eps).is_none();
                samples.push((t0.elapsed(), eps));
                if gone {
                    break;
                }
            }
            samples
        });
        c.kubectl(&["-n", DEP_NS, "delete", "pod", old_pod, "--wait=false"]);
        let returned = t0.elapsed();
        let seen = record_answers(&svc, pod_start, |seen| {
            seen.iter().any(|s| s.status == 503) && seen.last().is_some_and(|s| s.status == 200)
        });
        (seen, sampler.join().unwrap(), returned)
    });
    eprintln!("pod deleted (kubectl returned after {returned:?}); answers after it returned: {}", show(&seen));
    let terminating = format!("{svc_name}: endpoint {old_ip} terminating");
    assert!(seen.iter().any(|s| s.reason == terminating), "never {terminating:?}: {}", show(&seen));
    let at = |i: Option<usize>| i.map(|i| samples[i].0);
    let marked = samples.iter().position(|(_, eps)| old_in(eps).is_some_and(|e| e.3 && !e.2));
    let gone = samples.iter().position(|(_, eps)| old_in(eps).is_none());
    eprintln!(
        "slices ({} samples): old endpoint terminating from {:?}, gone at {:?}",
        samples.len(),
        at(marked),
        at(gone)
    );
    let (Some(marked), Some(gone)) = (marked, gone) else { panic!("terminating, then gone, expected: {samples:?}") };
    assert!(marked < gone, "the endpoint went before it was marked terminating: {samples:?}");

    // Readiness failing (a path our binary answers 404): the new pod runs,
    // its endpoint is published not ready, the check fails.
    c.kubectl_stdin(&["apply", "-f", "-"], &web_deployment(&node, 1, "/no-such-path"));
    let (pod, ip) = wait_for("a running pod failing readiness", pod_start, || {
        let pods = web_pods(c);
        let [(pod, ip, false, false)] = pods.as_slice() else { return None };
        let (_, eps) = controller_endpoints(c);
        (eps == vec![(ip.clone(), node.clone(), false, false)]).then(|| (pod.clone(), ip.clone()))
    });
    let r = svc.get("/health?check=service_endpoints");
    assert_eq!((r.status, r.reason("service_endpoints")), (503, Some(no_ready.clone())), "{}", r.body);
    eprintln!("readiness failing: pod {pod} ({ip}) running, not ready → 503");
    c.kubectl_stdin(&["apply", "-f", "-"], &web_deployment(&node, 1, "/livez"));
    wait_status(&svc, "/health?check=service_endpoints", 200, pod_start);

    // Scaled to 0: the controller keeps an empty slice, the reason says so.
    let t0 = Instant::now();
    c.kubectl(&["-n", DEP_NS, "scale", "deployment/web", "--replicas=0"]);
    let returned = t0.elapsed();
    let seen = record_answers(&svc, REACT, |seen| seen.last().is_some_and(|s| s.reason == no_ready));
    assert_eq!(seen.last().map(|s| &s.reason), Some(&no_ready), "{}", show(&seen));
    let (slices, eps) = controller_endpoints(c);
    assert!(slices >= 1 && eps.is_empty(), "{slices} slice(s), endpoints {eps:?}");
    eprintln!("scaled to 0 (kubectl returned after {returned:?}); answers after it returned: {}", show(&seen));

    // Scaled back: 200 once the new pod is ready.
    let t0 = Instant::now();
    c.kubectl(&["-n", DEP_NS, "scale", "deployment/web", "--replicas=1"]);
    wait_status(&svc, "/health?check=service_endpoints", 200, pod_start);
    eprintln!("scaled to 1: 200 after {:?}", t0.elapsed());
    drop(svc);
    // Waited for: the kubelet tears the pod's network down (CNI DEL) now.
    c.kubectl(&["delete", "namespace", DEP_NS, "--wait=true", "--timeout=120s"]);
}
