//! End-to-end: the built binary against the fake Kubernetes API server
//! (tests/support/fake_apiserver). What an LB operator would notice: /health
//! follows the Node within a second, costs the API one list and one watch,
//! survives credential rotation, RBAC limits and API faults.
mod support;

use std::time::{Duration, Instant};
use support::Service;
use support::fake_apiserver::{Builder, FakeApiServer, Fault, Verb};
use support::kube_env::{Creds, as_env, env_for};

const NODE: &str = "n1";
/// Generous: reactions take well under a second, but CI machines are shared.
const FLIP: Duration = Duration::from_secs(10);
/// Recovery after a fault includes the client's backoff (1 s doubling, capped at 30 s).
const RECOVER: Duration = Duration::from_secs(45);

struct Rig {
    // Field order = drop order: stop the service before its API server.
    svc: Service,
    api: FakeApiServer,
}

fn rig(builder: Builder, extra: &[(&str, &str)]) -> Rig {
    let api = builder.start();
    api.add_node(NODE);
    let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let svc = Service::start(&as_env(&env));
    Rig { svc, api }
}

/// Polls /health until it answers `code`; returns that response.
fn wait_health(svc: &Service, code: u16, limit: Duration) -> support::Response {
    support::wait_for(&format!("/health {code}"), limit, || {
        let r = svc.get("/health");
        (r.status == code).then_some(r)
    })
}

/// Waits for a 503 and returns the node_ready reason it carries.
fn wait_503_reason(svc: &Service, limit: Duration) -> String {
    let r = wait_health(svc, 503, limit);
    r.reason("node_ready").unwrap_or_else(|| panic!("503 without a node_ready reason: {}", r.body))
}

#[test]
fn ready_false_unknown_and_back_flip_health() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    r.api.set_ready(NODE, "False", "KubeletNotReady", "container runtime is down");
    let reason = wait_503_reason(&r.svc, FLIP);
    assert_eq!(reason, "KubeletNotReady: container runtime is down");
    r.api.set_ready(NODE, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.");
    support::wait_for("reason NodeStatusUnknown", FLIP, || {
        r.svc.get("/health").reason("node_ready").filter(|s| s.starts_with("NodeStatusUnknown"))
    });
    r.api.set_ready(NODE, "True", "KubeletReady", "kubelet is posting ready status");
    wait_health(&r.svc, 200, FLIP);
}

#[test]
fn the_first_probe_after_start_already_knows_the_node() {
    // A new pod in a rolling update gets probes as soon as it listens: it
    // must not answer "node state unknown" while the API is reachable.
    let r = rig(FakeApiServer::builder(), &[]);
    let first = r.svc.get("/health");
    assert_eq!(first.status, 200, "{}", first.body);
}

#[test]
fn probing_ten_times_a_second_costs_one_list_and_at_most_two_watches() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    // A shortened run of the 60 s: 8 s of probes at 10/s, with a flip in the middle.
    let start = Instant::now();
    let mut probes = 0;
    let mut saw_503 = false;
    while start.elapsed() < Duration::from_secs(8) {
        if probes == 30 {
            r.api.set_ready(NODE, "False", "KubeletNotReady", "x");
        }
        if probes == 50 {
            r.api.set_ready(NODE, "True", "KubeletReady", "ok");
        }
        saw_503 |= r.svc.get("/health").status == 503;
        probes += 1;
        std::thread::sleep(Duration::from_millis(100)); // load pacing, not synchronisation
    }
    assert!(probes >= 40, "only {probes} probes");
    assert!(saw_503, "the flip must have been seen through /health");
    assert_eq!(r.api.count(Verb::List), 1, "{:#?}", r.api.requests());
    assert!(r.api.count(Verb::Watch) <= 2, "{:#?}", r.api.requests());
    assert_eq!(r.api.count(Verb::Get), 0, "no request per probe");
    let list = &r.api.requests()[0];
    assert!(list.query.contains("resourceVersion=0"), "list from the watch cache: {list:?}");
}

#[test]
fn rotated_token_recovers_without_restart() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    let pid = r.svc.pid();
    let before = r.api.requests().len();
    r.api.set_token("rotated-token-2");
    // Force a new request: the old stream ends, the reconnect meets the new token.
    r.api.drop_watches();
    r.api.set_ready(NODE, "False", "KubeletNotReady", "after rotation");
    assert_eq!(wait_503_reason(&r.svc, RECOVER), "KubeletNotReady: after rotation");
    assert_eq!(r.svc.pid(), pid);
    // The new state may arrive through a relist first; a watch accepted with
    // the new token follows (the first watch may itself have been the one
    // refused, when the rotation raced its start).
    support::wait_for("a watch accepted with the new token", RECOVER, || {
        let after = r.api.requests().split_off(before);
        after.iter().any(|q| q.status == 200 && q.verb == Some(Verb::Watch)).then_some(())
    });
}

#[test]
fn in_cluster_service_account_works_and_follows_token_rotation() {
    let sa = support::TempDir::new("sa");
    let token = sa.path().join("token");
    std::fs::write(&token, "sa-token-1").unwrap();
    let api = FakeApiServer::builder().token_file(&token).start();
    api.add_node(NODE);
    let env = env_for(&api, NODE, Creds::InCluster { sa_dir: sa.path().to_path_buf() });
    let svc = Service::start(&as_env(&env));
    wait_health(&svc, 200, FLIP);
    api.set_token("sa-token-2");
    api.drop_watches();
    api.set_ready(NODE, "False", "KubeletNotReady", "x");
    wait_health(&svc, 503, RECOVER);
    drop(svc);
}

#[test]
fn kubelet_combined_pem_client_certificate_authenticates() {
    let api = FakeApiServer::start();
    api.add_node(NODE);
    let env = env_for(&api, NODE, Creds::KubeconfigCombinedPem { user: format!("system:node:{NODE}") });
    let svc = Service::start(&as_env(&env));
    wait_health(&svc, 200, FLIP);
    assert!(api.requests().iter().any(|q| q.user.as_deref() == Some("system:node:n1") && q.status == 200));
    drop(svc);
}

#[test]
fn forbidden_list_and_watch_fall_back_to_get_polling() {
    let r = rig(FakeApiServer::builder().allow_verbs(&[Verb::Get]), &[("NODE_POLL_INTERVAL_SECONDS", "1")]);
    wait_health(&r.svc, 200, FLIP);
    r.api.set_ready(NODE, "False", "KubeletNotReady", "seen by polling");
    assert_eq!(wait_503_reason(&r.svc, FLIP), "KubeletNotReady: seen by polling");
    assert!(r.api.count(Verb::Get) >= 2);
}

#[test]
fn forbidden_get_too_fails_with_a_reason_naming_rbac() {
    let r = rig(FakeApiServer::builder().allow_verbs(&[]), &[("NODE_POLL_INTERVAL_SECONDS", "1")]);
    let reason = support::wait_for("a reason naming RBAC", FLIP, || {
        r.svc.get("/health").reason("node_ready").filter(|s| s.contains("RBAC"))
    });
    assert!(reason.chars().count() <= 200, "{reason}");
}

#[test]
fn compaction_while_disconnected_relists_and_misses_no_change() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    // Disconnect: every request fails while the Node changes and history is compacted.
    r.api.set_fault(Some(Fault::Status(500)));
    r.api.drop_watches();
    support::wait_for("a failed reconnect", FLIP, || r.api.requests().iter().any(|q| q.status == 500).then_some(()));
    r.api.set_ready(NODE, "False", "KubeletNotReady", "changed during the gap");
    r.api.compact();
    r.api.set_fault(None);
    assert_eq!(wait_503_reason(&r.svc, RECOVER), "KubeletNotReady: changed during the gap");
    let log = r.api.requests();
    let compacted_at = log.iter().rposition(|q| q.status == 500).unwrap();
    assert!(log[compacted_at..].iter().any(|q| q.verb == Some(Verb::List) && q.status == 200), "relisted: {log:#?}");
}

#[test]
fn watch_resumed_from_a_compacted_version_gets_410_and_relists() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    let old = r.api.resource_version();
    // The open stream goes silent, so the change below is not delivered on it.
    r.api.stall_watches();
    r.api.set_ready(NODE, "False", "KubeletNotReady", "changed while the watch was silent");
    r.api.compact();
    // The stream ends as at its timeout: the client resumes from `old`, which is compacted.
    r.api.end_watches();
    assert_eq!(wait_503_reason(&r.svc, RECOVER), "KubeletNotReady: changed while the watch was silent");
    let log = r.api.requests();
    let resumed = log.iter().position(|q| {
        q.verb == Some(Verb::Watch) && q.query.contains(&format!("resourceVersion={old}")) && q.status == 200
    });
    let resumed = resumed.unwrap_or_else(|| panic!("no watch resumed from {old}: {log:#?}"));
    assert!(log[resumed + 1..].iter().any(|q| q.verb == Some(Verb::List)), "relist after the 410: {log:#?}");
    assert_eq!(r.api.count(Verb::List), 2, "{log:#?}");
}

#[test]
fn stalled_watch_is_replaced() {
    // Bookmarks every 300 ms, under the 2 s idle timeout: only the stalled
    // watch goes idle (with the real ~60 s period every healthy watch would too).
    let r = rig(
        FakeApiServer::builder().bookmark_period(Duration::from_millis(300)),
        &[("NODE_WATCH_IDLE_TIMEOUT_SECONDS", "2")],
    );
    wait_health(&r.svc, 200, FLIP);
    let watches = r.api.count(Verb::Watch);
    r.api.stall_watches();
    support::wait_for("a replacement watch", RECOVER, || (r.api.count(Verb::Watch) > watches).then_some(()));
    r.api.set_ready(NODE, "False", "KubeletNotReady", "seen on the new watch");
    wait_health(&r.svc, 503, FLIP);
}

/// The previous state is kept while `fault` lasts, the process survives, and
/// the API is followed again once the fault clears.
fn fault_keeps_state_then_recovers(fault: Fault) {
    // Bookmarks every 500 ms keep the healthy watches under the 2 s idle
    // timeout that shortens each faulty one (the real period is ~60 s).
    let r = rig(
        FakeApiServer::builder().bookmark_period(Duration::from_millis(500)),
        &[("NODE_API_TIMEOUT_MS", "1000"), ("NODE_WATCH_IDLE_TIMEOUT_SECONDS", "2")],
    );
    wait_health(&r.svc, 200, FLIP);
    let seen = r.api.requests().len();
    r.api.set_fault(Some(fault.clone()));
    r.api.drop_watches();
    support::wait_for("two requests meeting the fault", RECOVER, || (r.api.requests().len() >= seen + 2).then_some(()));
    let during = r.svc.get("/health");
    assert_eq!(during.status, 200, "last known state kept during {fault:?}: {}", during.body);
    r.api.set_fault(None);
    r.api.set_ready(NODE, "False", "KubeletNotReady", "after the fault");
    assert_eq!(wait_503_reason(&r.svc, RECOVER), "KubeletNotReady: after the fault");
    assert_eq!(r.svc.get("/livez").status, 200);
}

#[test]
fn fault_hang_keeps_state_then_recovers() {
    fault_keeps_state_then_recovers(Fault::Hang);
}

#[test]
fn fault_reset_keeps_state_then_recovers() {
    fault_keeps_state_then_recovers(Fault::Reset);
}

#[test]
fn fault_500_keeps_state_then_recovers() {
    fault_keeps_state_then_recovers(Fault::Status(500));
}

#[test]
fn fault_429_keeps_state_then_recovers() {
    fault_keeps_state_then_recovers(Fault::TooManyRequests { retry_after_secs: 1 });
}

#[test]
fn fault_garbage_keeps_state_then_recovers() {
    fault_keeps_state_then_recovers(Fault::Garbage);
}

#[test]
fn never_known_state_is_503_with_a_reason_until_the_api_answers() {
    let api = FakeApiServer::start();
    api.add_node(NODE);
    api.set_fault(Some(Fault::Status(500)));
    let env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    let svc = Service::start(&as_env(&env));
    support::wait_for("an API request", FLIP, || (!api.requests().is_empty()).then_some(()));
    let reason = wait_503_reason(&svc, FLIP);
    assert!(reason.starts_with("node state unknown: "), "{reason}");
    api.set_fault(None);
    wait_health(&svc, 200, RECOVER);
    drop(svc);
}

#[test]
fn no_credentials_fails_the_api_checks_with_a_reason() {
    let svc = Service::start(&[("NODE_NAME", NODE)]);
    let reason = wait_503_reason(&svc, FLIP);
    assert!(reason.contains("no Kubernetes credentials"), "{reason}");
    assert_eq!(svc.get("/livez").status, 200);
}

#[test]
fn staleness_limit_fails_health_when_the_api_stays_away() {
    let r = stale_rig();
    r.api.set_fault(Some(Fault::Status(500)));
    r.api.drop_watches();
    let reason = wait_503_reason(&r.svc, FLIP);
    assert!(reason.starts_with("node state stale for "), "{reason}");
    r.api.set_fault(None);
    wait_health(&r.svc, 200, RECOVER);
}

#[test]
fn deleted_node_is_503_and_a_recreated_one_is_followed() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    r.api.delete_node(NODE);
    assert_eq!(wait_503_reason(&r.svc, FLIP), "node \"n1\" not found");
    r.api.add_node(NODE);
    wait_health(&r.svc, 200, FLIP);
}

#[test]
fn http_410_on_watch_relists() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    r.api.set_fault_for(&[Verb::Watch], Fault::Status(410));
    r.api.drop_watches();
    support::wait_for("a relist after the HTTP 410", RECOVER, || (r.api.count(Verb::List) >= 2).then_some(()));
    r.api.set_fault(None);
    r.api.drop_watches();
    r.api.set_ready(NODE, "False", "KubeletNotReady", "after the 410");
    assert_eq!(wait_503_reason(&r.svc, RECOVER), "KubeletNotReady: after the 410");
}

/// Polls /health for `how_long` (a bounded observation, not a sleep) and
/// fails at the first answer that is not 200.
fn assert_healthy_for(svc: &Service, how_long: Duration) {
    let until = Instant::now() + how_long;
    while Instant::now() < until {
        let h = svc.get("/health");
        assert_eq!(h.status, 200, "a quiet, healthy watch must not fail /health: {}", h.body);
        std::thread::sleep(Duration::from_millis(100)); // probe pacing, as a load balancer's
    }
}

/// A Node that does not change, watched through an API server that sends a
/// bookmark only every 60 s (the fake's default, as kube-apiserver's watch
/// cache): /health stays 200 for longer than the staleness limit, the watch
/// stays open, and the confirmations cost what the benchmark table says.
fn quiet_watch_stays_healthy(limit_secs: u64, observe: Duration) -> Rig {
    let limit = limit_secs.to_string();
    let r = rig(FakeApiServer::builder(), &[("NODE_STATE_MAX_STALENESS_SECONDS", &limit)]);
    wait_health(&r.svc, 200, FLIP);
    assert_healthy_for(&r.svc, observe);
    assert_eq!(r.api.count(Verb::Watch), 1, "the quiet watch was never torn down: {:#?}", r.api.requests());
    // One list at start, then one confirmation per half limit of silence.
    let confirmations = r.api.count(Verb::List) - 1;
    let most = observe.as_secs() * 2 / limit_secs + 1;
    assert!((1..=most).contains(&confirmations), "{confirmations} confirmations in {observe:?}");
    assert!(
        r.api
            .requests()
            .iter()
            .skip(1)
            .filter(|q| q.verb == Some(Verb::List))
            .all(|q| q.query.contains("resourceVersion=0"))
    );
    r
}

#[test]
fn a_quiet_healthy_watch_never_goes_stale_with_a_2s_limit() {
    quiet_watch_stays_healthy(2, Duration::from_secs(6));
}

#[test]
fn a_quiet_healthy_watch_never_goes_stale_with_a_30s_limit() {
    quiet_watch_stays_healthy(30, Duration::from_secs(35));
}

/// Limit 2 s, API timeout 1 s: a dead or hung API is caught within
/// limit + timeout, plus slack for a shared CI machine.
const LIMIT: &str = "2";
const API_TIMEOUT_MS: &str = "1000";
const CAUGHT: Duration = Duration::from_secs(2 + 1 + 3);

fn stale_rig() -> Rig {
    let r = rig(
        FakeApiServer::builder(),
        &[("NODE_STATE_MAX_STALENESS_SECONDS", LIMIT), ("NODE_API_TIMEOUT_MS", API_TIMEOUT_MS)],
    );
    wait_health(&r.svc, 200, FLIP);
    r
}

#[test]
fn a_hung_api_server_is_caught_within_the_limit_and_followed_again_when_it_resumes() {
    // SIGSTOP: connections accepted by the kernel and held, nothing sent.
    let r = stale_rig();
    r.api.freeze();
    let reason = wait_503_reason(&r.svc, CAUGHT);
    assert!(reason.starts_with("node state stale for "), "{reason}");
    // SIGCONT: the held watch and the pending confirmation resume.
    r.api.thaw();
    wait_health(&r.svc, 200, RECOVER);
    r.api.set_ready(NODE, "False", "KubeletNotReady", "after the pause");
    assert_eq!(wait_503_reason(&r.svc, FLIP), "KubeletNotReady: after the pause");
}

#[test]
fn a_killed_api_server_is_caught_within_the_limit() {
    let mut r = stale_rig();
    r.api.kill();
    let reason = wait_503_reason(&r.svc, CAUGHT);
    assert!(reason.starts_with("node state stale for "), "{reason}");
    assert_eq!(r.svc.get("/livez").status, 200);
}

#[test]
fn real_node_objects_flow_through_the_watch_to_their_verdicts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/nodes");
    let r = rig(FakeApiServer::builder(), &[("CHECK_MIN_INTERVAL_MS", "0")]);
    wait_health(&r.svc, 200, FLIP);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let mut node = support::fake_apiserver::load_node_fixture(&path);
        node["metadata"]["name"] = NODE.into(); // the object as if it were this node's
        let ready =
            node["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
        let cordoned = node["spec"]["unschedulable"] == true;
        // design §2: node_eligible also fails on deletion, the autoscaler's taint and the exclude label.
        let excluded =
            node["metadata"]["labels"].get("node.kubernetes.io/exclude-from-external-load-balancers").is_some()
                || node["metadata"].get("deletionTimestamp").is_some()
                || node["spec"]["taints"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["key"] == "ToBeDeletedByClusterAutoscaler"));
        // A distinct state in between, so each fixture's verdict is observed, not the previous one's.
        let mut between = support::fake_apiserver::minimal_node(NODE);
        between["spec"]["unschedulable"] = true.into();
        r.api.set_node(between);
        r.api.set_ready(NODE, "False", "Between", "fixtures");
        support::wait_for("the in-between state", FLIP, || {
            r.svc.get("/health?check=node_ready").reason("node_ready").filter(|s| s.starts_with("Between"))
        });
        let rv = r.api.set_node(node);
        // node_ready first: once it shows this fixture, node_eligible reads the same or a newer snapshot.
        let (want, want_eligible) =
            (if ready["status"] == "True" { 200 } else { 503 }, if cordoned || excluded { 503 } else { 200 });
        let what = format!("{} (rv {rv})", path.display());
        support::wait_for(&what, FLIP, || {
            let h = r.svc.get("/health?check=node_ready");
            let e = r.svc.get("/health?check=node_eligible");
            let reason = h.reason("node_ready").unwrap_or_default();
            let reason_ok = want == 200 || reason.starts_with(ready["reason"].as_str().unwrap());
            let eligible_ok =
                e.status == want_eligible && (!cordoned || e.reason("node_eligible").unwrap().contains("cordon"));
            (h.status == want && reason_ok && eligible_ok).then_some(())
        });
    }
}

#[test]
fn cordon_and_a_node_problem_condition_flip_their_checks() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    let check = |q: &str, code: u16| {
        support::wait_for(&format!("{q} {code}"), FLIP, || {
            let h = r.svc.get(&format!("/health?check={q}"));
            (h.status == code).then_some(h)
        })
    };
    r.api.cordon(NODE, true);
    let h = check("node_eligible", 503);
    assert!(h.reason("node_eligible").unwrap().contains("cordon"), "{}", h.body);
    assert_eq!(r.svc.get("/health").status, 200, "node_ready alone still passes on a cordoned node");
    r.api.cordon(NODE, false);
    check("node_eligible", 200);
    r.api.set_condition(
        NODE,
        "KernelDeadlock",
        "True",
        "DockerHung",
        "task docker:7 blocked for more than 300 seconds",
    );
    let h = check("custom_conditions", 503);
    assert!(h.reason("custom_conditions").unwrap().contains("KernelDeadlock"), "{}", h.body);
    r.api.set_condition(NODE, "KernelDeadlock", "False", "KernelHasNoDeadlock", "kernel has no deadlock");
    check("custom_conditions", 200);
}

/// The value of a metric line `name{labels} value` (or `name value`) in /metrics.
fn metric(svc: &Service, series: &str) -> Option<f64> {
    let body = svc.get("/metrics").body;
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn metrics_agree_with_what_the_api_server_saw() {
    let r = rig(FakeApiServer::builder(), &[]);
    wait_health(&r.svc, 200, FLIP);
    support::wait_for("watch connected", FLIP, || {
        (metric(&r.svc, "node_readiness_node_watch_connected") == Some(1.0)).then_some(())
    });
    let list = metric(&r.svc, "node_readiness_node_api_requests_total{verb=\"list\"}");
    assert_eq!(list, Some(r.api.count(Verb::List) as f64));
    r.api.drop_watches();
    support::wait_for("a second watch", RECOVER, || (r.api.count(Verb::Watch) >= 2).then_some(()));
    support::wait_for("the watch counter to follow", FLIP, || {
        let w = metric(&r.svc, "node_readiness_node_api_requests_total{verb=\"watch\"}")?;
        (w == r.api.count(Verb::Watch) as f64).then_some(())
    });
    let body = r.svc.get("/metrics").body;
    let restarts: f64 = body
        .lines()
        .filter(|l| l.starts_with("node_readiness_node_watch_restarts_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(restarts >= 1.0, "a dropped watch counts as a restart:\n{body}");
}
