//! End-to-end: the `service_endpoints` check of the built binary against
//! the fake API server's EndpointSlices. What an LB operator would notice:
//! the node leaves the pool when its ingress pod is not ready or starts
//! terminating, and comes back when it is ready; every reason names the
//! Service; API outages and missing RBAC read as "could not tell".
mod support;

use std::time::Duration;
use support::Service;
use support::fake_apiserver::{FakeApiServer, Fault, Phase, Verb, endpoint, endpoint_slice};
use support::kube_env::{Creds, as_env, env_for};

const NODE: &str = "n1";
const NS: &str = "ingress";
const SLICE: &str = "router-x7k2p";
/// Generous: reactions take well under a second, but CI machines are shared.
const FLIP: Duration = Duration::from_secs(10);
/// Recovery after a fault includes the client's backoff (1 s doubling, capped at 30 s).
const RECOVER: Duration = Duration::from_secs(45);
const HEALTH: &str = "/health?check=service_endpoints";

struct Rig {
    // Field order = drop order: stop the service before its API server.
    svc: Service,
    api: FakeApiServer,
}

fn ready_here() -> Vec<serde_json::Value> {
    vec![endpoint("10.0.0.1", NODE, "router-1", Phase::Ready), endpoint("10.0.0.2", "n2", "router-2", Phase::Ready)]
}

/// A fake with our Node and the router's slice (a ready endpoint here and
/// one on n2), and the service watching `ingress/router`.
fn rig_with(api: FakeApiServer, extra: &[(&str, &str)]) -> Rig {
    api.add_node(NODE);
    api.set_endpoint_slice(endpoint_slice(NS, SLICE, "router", ready_here()));
    let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    env.push(("SERVICE_ENDPOINTS".into(), format!("{NS}/router")));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let svc = Service::start(&as_env(&env));
    Rig { svc, api }
}

fn rig(extra: &[(&str, &str)]) -> Rig {
    rig_with(FakeApiServer::start(), extra)
}

/// Polls `path` until it answers `code`; returns the service_endpoints reason then.
fn wait_code(svc: &Service, path: &str, code: u16, limit: Duration) -> Option<String> {
    support::wait_for(&format!("{path} {code}"), limit, || {
        let r = svc.get(path);
        (r.status == code).then(|| r.reason("service_endpoints"))
    })
}

/// Polls until the service_endpoints reason is `want`.
fn wait_reason(svc: &Service, want: &str, limit: Duration) {
    support::wait_for(&format!("reason {want:?}"), limit, || {
        let r = svc.get(HEALTH);
        (r.status == 503 && r.reason("service_endpoints").as_deref() == Some(want)).then_some(())
    });
}

/// Polls until the reason starts with `prefix`; returns it.
fn wait_reason_prefix(svc: &Service, prefix: &str, limit: Duration) -> String {
    support::wait_for(&format!("reason starting {prefix:?}"), limit, || {
        let r = svc.get(HEALTH);
        r.reason("service_endpoints").filter(|s| r.status == 503 && s.starts_with(prefix))
    })
}

#[test]
fn health_follows_the_local_endpoint_with_a_reason_for_each_state() {
    let r = rig(&[]);
    wait_code(&r.svc, HEALTH, 200, FLIP);
    // Readiness probe failing here, two ready elsewhere.
    r.api.set_endpoints(
        NS,
        SLICE,
        vec![
            endpoint("10.0.0.1", NODE, "router-1", Phase::NotReady),
            endpoint("10.0.0.2", "n2", "router-2", Phase::Ready),
            endpoint("10.0.0.3", "n3", "router-3", Phase::Ready),
        ],
    );
    wait_reason(&r.svc, "ingress/router: no ready endpoint on this node (2 ready elsewhere)", FLIP);
    // Back to ready, then the pod is deleted: it terminates (still serving)
    // before it leaves the slice; the node leaves the pool at once.
    r.api.set_endpoints(NS, SLICE, ready_here());
    wait_code(&r.svc, HEALTH, 200, FLIP);
    r.api.set_endpoints(
        NS,
        SLICE,
        vec![
            endpoint("10.0.0.1", NODE, "router-1", Phase::Terminating),
            endpoint("10.0.0.2", "n2", "router-2", Phase::Ready),
        ],
    );
    wait_reason(&r.svc, "ingress/router: endpoint 10.0.0.1 terminating", FLIP);
    // Scaled to 0: the controller empties the slice.
    r.api.set_endpoints(NS, SLICE, vec![]);
    wait_reason(&r.svc, "ingress/router: no ready endpoint on this node (0 ready elsewhere)", FLIP);
    // The Service deleted (its slices go with it).
    r.api.delete_endpoint_slice(NS, SLICE);
    wait_reason(&r.svc, "ingress/router: no EndpointSlice (Service missing or has no selector)", FLIP);
    // Created again with a new slice name: followed.
    r.api.set_endpoint_slice(endpoint_slice(NS, "router-q9m4t", "router", ready_here()));
    wait_code(&r.svc, HEALTH, 200, FLIP);
    // Slices of other Services and namespaces never count.
    r.api.set_endpoint_slice(endpoint_slice("other", "router-aaaaa", "router", vec![]));
    r.api.set_endpoint_slice(endpoint_slice(NS, "web-bbbbb", "web", vec![]));
    assert_eq!(r.svc.get(HEALTH).status, 200);
}

#[test]
fn every_listed_service_must_be_served_here_and_the_default_checks_include_it() {
    let r = rig_with(
        FakeApiServer::start(),
        &[
            ("SERVICE_ENDPOINTS", "ingress/router,kube-system/traefik"),
            ("DEFAULT_CHECKS", "node_ready,service_endpoints"),
        ],
    );
    let reason = wait_code(&r.svc, "/health", 503, FLIP);
    assert_eq!(reason.as_deref(), Some("kube-system/traefik: no EndpointSlice (Service missing or has no selector)"));
    assert_eq!(r.svc.get("/health").reason("node_ready"), None, "node_ready passes");
    r.api.set_endpoint_slice(endpoint_slice(
        "kube-system",
        "traefik-5d2kq",
        "traefik",
        vec![endpoint("10.0.1.1", NODE, "traefik-1", Phase::Ready)],
    ));
    wait_code(&r.svc, "/health", 200, FLIP);
    // One list and one watch per Service, however often the LB probes.
    for _ in 0..20 {
        assert_eq!(r.svc.get("/health").status, 200);
    }
    let slice_requests = |verb| {
        r.api
            .requests()
            .iter()
            .filter(|q| q.verb == Some(verb) && q.path.contains("/endpointslices"))
            .map(|q| q.path.clone())
            .collect::<Vec<_>>()
    };
    let (lists, watches) = (slice_requests(Verb::List), slice_requests(Verb::Watch));
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_eq!(watches.len(), 2, "{watches:?}");
    assert!(lists.iter().any(|p| p == "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices"));
    assert!(
        r.api.requests().iter().all(|q| !q.path.ends_with("/endpointslices")
            || q.query.contains("labelSelector=kubernetes.io%2Fservice-name%3D"))
    );
}

#[test]
fn never_listed_is_unknown_a_blip_keeps_the_state_and_the_staleness_limit_applies() {
    let api = FakeApiServer::start();
    api.set_fault(Some(Fault::Status(500)));
    let r = rig_with(api, &[("NODE_STATE_MAX_STALENESS_SECONDS", "3")]);
    let reason = wait_reason_prefix(&r.svc, "ingress/router: endpoint state unknown: ", FLIP);
    assert!(reason.contains("500"), "{reason}");
    r.api.set_fault(None);
    wait_code(&r.svc, HEALTH, 200, RECOVER);
    // The API goes away: the last known state is served up to the limit,
    // then the check cannot tell.
    r.api.set_fault(Some(Fault::Status(503)));
    r.api.drop_watches();
    assert_eq!(r.svc.get(HEALTH).status, 200, "a blip does not drain the node");
    wait_reason_prefix(&r.svc, "ingress/router: endpoint state stale for ", FLIP);
    r.api.set_fault(None);
    wait_code(&r.svc, HEALTH, 200, RECOVER);
}

#[test]
fn without_a_staleness_limit_an_api_outage_keeps_the_last_state() {
    let r = rig(&[]);
    wait_code(&r.svc, HEALTH, 200, FLIP);
    r.api.set_fault(Some(Fault::Status(500)));
    r.api.drop_watches();
    support::wait_for("the watch to notice", FLIP, || {
        (r.api.requests().iter().filter(|q| q.status == 500 && q.path.contains("endpointslices")).count() >= 2)
            .then_some(())
    });
    assert_eq!(r.svc.get(HEALTH).status, 200);
    // A change made while away is seen once the API answers again.
    r.api.set_endpoints(NS, SLICE, vec![endpoint("10.0.0.1", NODE, "router-1", Phase::Terminating)]);
    r.api.compact();
    r.api.set_fault(None);
    wait_reason(&r.svc, "ingress/router: endpoint 10.0.0.1 terminating", RECOVER);
}

#[test]
fn missing_rbac_names_the_permission_and_granting_it_recovers() {
    let api = FakeApiServer::start();
    api.allow_endpointslices_in(Some(&["somewhere-else"]));
    let r = rig_with(api, &[]);
    wait_reason(
        &r.svc,
        "ingress/router: cannot list endpointslices.discovery.k8s.io in namespace \"ingress\" (RBAC)",
        FLIP,
    );
    assert!(r.svc.log().contains("RBAC forbids list on endpointslices"), "{}", r.svc.log());
    r.api.allow_endpointslices_in(Some(&["somewhere-else", NS]));
    wait_code(&r.svc, HEALTH, 200, RECOVER);
}

#[test]
fn the_agent_says_down_when_the_ingress_pod_terminates() {
    let r = rig(&[("AGENT_PORT", "0"), ("AGENT_CHECKS", "node_ready,service_endpoints")]);
    let addr = support::wait_for("the agent-check listener", FLIP, || {
        let log = r.svc.log();
        let rest = log.split("HAProxy agent-check answering on ").nth(1)?;
        rest.split_whitespace().next()?.parse::<std::net::SocketAddr>().ok()
    });
    let ask = || String::from_utf8_lossy(&support::service::exchange(addr, b"", Duration::from_secs(5))).to_string();
    support::wait_for("up ready", FLIP, || (ask() == "up ready\n").then_some(()));
    r.api.set_endpoints(NS, SLICE, vec![endpoint("10.0.0.1", NODE, "router-1", Phase::Terminating)]);
    // The whole reason: HAProxy keeps up to 108 characters of it.
    support::wait_for("down", FLIP, || {
        (ask() == "down #service_endpoints: ingress/router: endpoint 10.0.0.1 terminating\n").then_some(())
    });
}

/// The value of a metric line `name{labels} value` in /metrics.
fn metric(svc: &Service, series: &str) -> Option<f64> {
    let body = svc.get("/metrics").body;
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn metrics_count_local_ready_endpoints_and_label_watches_by_resource() {
    let r = rig(&[]);
    wait_code(&r.svc, HEALTH, 200, FLIP);
    let slices = "resource=\"endpointslices\",service=\"ingress/router\"";
    support::wait_for("both watches connected", FLIP, || {
        let node = metric(&r.svc, "node_readiness_watch_connected{resource=\"nodes\"}")?;
        let svc = metric(&r.svc, &format!("node_readiness_watch_connected{{{slices}}}"))?;
        (node == 1.0 && svc == 1.0).then_some(())
    });
    assert_eq!(metric(&r.svc, "node_readiness_service_endpoints_ready{service=\"ingress/router\"}"), Some(1.0));
    assert_eq!(metric(&r.svc, "node_readiness_node_watch_connected"), Some(1.0), "the Node's own family stays");
    assert_eq!(
        metric(&r.svc, &format!("node_readiness_watch_api_requests_total{{{slices},verb=\"list\"}}")),
        Some(1.0)
    );
    r.api.set_endpoints(NS, SLICE, vec![endpoint("10.0.0.2", "n2", "router-2", Phase::Ready)]);
    support::wait_for("ready count 0", FLIP, || {
        (metric(&r.svc, "node_readiness_service_endpoints_ready{service=\"ingress/router\"}") == Some(0.0))
            .then_some(())
    });
    r.api.drop_watches();
    support::wait_for("a slice watch restart counted", RECOVER, || {
        let n = metric(&r.svc, &format!("node_readiness_watch_restarts_total{{{slices},reason=\"error\"}}"))?;
        (n >= 1.0).then_some(())
    });
}

#[test]
fn a_bad_service_endpoints_value_is_a_one_line_exit_2() {
    for value in ["router", "ingress/Router", "ingress/router/x"] {
        let (code, _, stderr) = support::run_check_cli(&[], &[("NODE_NAME", NODE), ("SERVICE_ENDPOINTS", value)]);
        assert_eq!(code, 2, "{value}: {stderr}");
        assert!(stderr.contains("SERVICE_ENDPOINTS") && stderr.trim().lines().count() == 1, "{stderr}");
    }
    let (code, _, stderr) =
        support::run_check_cli(&[], &[("NODE_NAME", NODE), ("DEFAULT_CHECKS", "service_endpoints")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("SERVICE_ENDPOINTS is empty"), "{stderr}");
}

#[test]
fn the_check_subcommand_waits_for_the_first_list() {
    let api = FakeApiServer::start();
    api.add_node(NODE);
    api.set_endpoint_slice(endpoint_slice(NS, SLICE, "router", ready_here()));
    let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    env.push(("SERVICE_ENDPOINTS".into(), format!("{NS}/router")));
    let (code, stdout, stderr) = support::run_check_cli(&["check", "--check", "service_endpoints"], &as_env(&env));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("\"name\":\"service_endpoints\",\"passed\":true"), "{stdout}");
}

/// `service_watches` of `/status?format=json` once `ready` holds for it.
fn watches_when(svc: &Service, what: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    support::wait_for(what, RECOVER, || {
        let w = svc.get("/status?format=json").json()["service_watches"].clone();
        ready(&w).then_some(w)
    })
}

#[test]
fn the_status_page_shows_each_endpoint_slice_watch() {
    // Two Services; RBAC allows only the first one's namespace.
    let api = FakeApiServer::start();
    api.allow_endpointslices_in(Some(&[NS]));
    let r = rig_with(api, &[("SERVICE_ENDPOINTS", "ingress/router,kube-system/traefik")]);
    let w = watches_when(&r.svc, "both watches settled", |w| {
        w[0]["source"] == "watch" && w[0]["slices"] == 1 && w[1]["forbidden"].is_string()
    });
    let router = &w[0];
    assert_eq!(router["service"], "ingress/router");
    assert_eq!((router["ready_here"].as_u64(), router["ready_elsewhere"].as_u64()), (Some(1), Some(1)), "{w}");
    assert!(router["age_seconds"].as_u64().is_some() && router["last_error"].is_null(), "{w}");
    let traefik = &w[1];
    assert_eq!(traefik["service"], "kube-system/traefik");
    assert_eq!(
        traefik["forbidden"], "cannot list endpointslices.discovery.k8s.io in namespace \"kube-system\" (RBAC)",
        "{w}"
    );
    assert!(traefik["slices"].is_null() && traefik["source"] == "none", "{w}");

    // The page: a row per watch, the denial in the error column.
    let page = r.svc.get("/status").body;
    assert!(
        page.contains("<tr id=\"watch-ingress/router\"><td>ingress/router<td>watch<td>1<td>1 here, 1 elsewhere<td>"),
        "{page}"
    );
    let row = page.lines().find(|l| l.starts_with("<tr id=\"watch-kube-system/traefik\">")).expect(&page);
    assert!(row.contains("<td>none<td>not listed yet<td>-<td>never confirmed by the API"), "{row}");
    assert!(row.ends_with("namespace &quot;kube-system&quot; (RBAC)</tr>"), "{row}");

    // The `status` command prints a line per watch.
    let url = format!("http://{}", r.svc.addr);
    let (_, out, err) = support::run_check_cli(&["status", "--url", &url], &[]);
    assert!(
        out.contains("\nService ingress/router; source watch; 1 slice, 1 ready here, 1 elsewhere; state "),
        "{out}{err}"
    );
    assert!(
        out.contains("\nService kube-system/traefik; source none; not listed yet; state never confirmed; "),
        "{out}"
    );

    // The API fails and the watch drops: shown as closed, with the error,
    // and the restart counted; the last known slices stay.
    r.api.set_fault(Some(Fault::Status(500)));
    r.api.drop_watches();
    let w = watches_when(&r.svc, "the router watch down with its error", |w| {
        w[0]["source"] == "none" && w[0]["last_error"].as_str().is_some_and(|e| e.contains("500"))
    });
    assert!(w[0]["watch_restarts"].as_u64() >= Some(1), "{w}");
    assert_eq!(w[0]["slices"], 1, "the last known state is kept: {w}");
    r.api.set_fault(None);
    watches_when(&r.svc, "the router watch back", |w| w[0]["source"] == "watch" && w[0]["last_error"].is_null());
}
