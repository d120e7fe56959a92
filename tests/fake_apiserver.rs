//! Self-tests of the fake Kubernetes API server (tests/support/fake_apiserver):
//! what the end-to-end tests rely on must hold on the wire, byte for byte
//! where the real apiserver is specific (chunk per event, Status wording).
mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::fake_apiserver::{FakeApiServer, Fault, Phase, Verb, endpoint, endpoint_slice};
use support::raw_http::RawClient;

const SA: &str = "system:serviceaccount:harmony:node-readiness";

fn auth(api: &FakeApiServer) -> String {
    format!("Bearer {}", api.token())
}

fn get_json(api: &FakeApiServer, target: &str) -> (u16, Value) {
    let mut c = RawClient::connect(api).unwrap();
    let a = auth(api);
    let (head, body) = c.get_json(target, &[("Authorization", &a)]).unwrap();
    (head.code, body)
}

/// Opens a watch and returns the client positioned at the first event.
fn watch(api: &FakeApiServer, query: &str) -> RawClient {
    let mut c = RawClient::connect(api).unwrap();
    c.get(&format!("/api/v1/nodes?watch=1&{query}"), &[("Authorization", &auth(api))]).unwrap();
    let head = c.head().unwrap();
    assert_eq!(head.code, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("content-type"), Some("application/json"));
    c
}

fn ev_type(ev: &Value) -> &str {
    ev["type"].as_str().unwrap()
}

fn rv_of(ev: &Value) -> u64 {
    ev["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[test]
fn list_by_field_selector_is_a_nodelist_at_the_current_resource_version() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    api.add_node("n2");
    let (code, list) = get_json(&api, "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&resourceVersion=0");
    assert_eq!(code, 200);
    assert_eq!(list["kind"], "NodeList");
    assert_eq!(list["metadata"]["resourceVersion"], api.resource_version().to_string());
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "n1");
    // The apiserver omits kind/apiVersion on list items.
    assert!(items[0].get("kind").is_none() && items[0].get("apiVersion").is_none());
    let (_, all) = get_json(&api, "/api/v1/nodes");
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let (code, bad) = get_json(&api, "/api/v1/nodes?fieldSelector=spec.foo%3Dx");
    assert_eq!((code, bad["reason"].as_str()), (400, Some("BadRequest")));
}

#[test]
fn get_returns_the_node_or_a_not_found_status() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let (code, node) = get_json(&api, "/api/v1/nodes/n1");
    assert_eq!((code, node["kind"].as_str(), node["metadata"]["name"].as_str()), (200, Some("Node"), Some("n1")));
    let (code, st) = get_json(&api, "/api/v1/nodes/x");
    assert_eq!(code, 404);
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["message"], "nodes \"x\" not found");
    assert_eq!(st["reason"], "NotFound");
    assert_eq!(st["details"]["kind"], "nodes");
    assert_eq!(st["code"], 404);
}

#[test]
fn a_rotated_token_file_rejects_the_old_token_with_401() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let old = auth(&api);
    let mut c = RawClient::connect(&api).unwrap();
    assert_eq!(c.get_json("/api/v1/nodes/n1", &[("Authorization", &old)]).unwrap().0.code, 200);
    api.set_token("fake-token-2");
    // Same kept-alive connection: the file is re-read per request.
    let (head, st) = c.get_json("/api/v1/nodes/n1", &[("Authorization", &old)]).unwrap();
    assert_eq!(head.code, 401);
    assert_eq!((st["reason"].as_str(), st["message"].as_str()), (Some("Unauthorized"), Some("Unauthorized")));
    let (head, _) = c.get_json("/api/v1/nodes/n1", &[("Authorization", "Bearer fake-token-2")]).unwrap();
    assert_eq!(head.code, 200);
}

#[test]
fn forbidden_verbs_get_the_rbac_status_wording() {
    let api = FakeApiServer::builder().allow_verbs(&[Verb::Get]).start();
    api.add_node("n1");
    let (code, st) = get_json(&api, "/api/v1/nodes?fieldSelector=metadata.name%3Dn1");
    assert_eq!(code, 403);
    assert_eq!(
        st["message"],
        format!(
            "nodes \"n1\" is forbidden: User \"{SA}\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
        )
    );
    assert_eq!((st["reason"].as_str(), st["code"].as_u64()), (Some("Forbidden"), Some(403)));
    assert_eq!(st["details"]["kind"], "nodes");
    let (code, st) = get_json(&api, "/api/v1/nodes?watch=true");
    assert_eq!(code, 403);
    assert!(st["message"].as_str().unwrap().starts_with("nodes is forbidden: "), "{st}");
    assert!(st["message"].as_str().unwrap().contains("cannot watch resource"), "{st}");
    assert_eq!(get_json(&api, "/api/v1/nodes/n1").0, 200);
    // No credentials at all: system:anonymous, forbidden.
    let mut c = RawClient::connect(&api).unwrap();
    let (head, st) = c.get_json("/api/v1/nodes/n1", &[]).unwrap();
    assert_eq!(head.code, 403);
    assert!(st["message"].as_str().unwrap().contains("User \"system:anonymous\""), "{st}");
}

#[test]
fn client_certificates_signed_by_the_ca_authenticate_as_their_cn() {
    let api = FakeApiServer::builder().allow_verbs(&[Verb::List]).start();
    api.add_node("n1");
    let cert = api.issue_client_cert("system:node:n1", Some("system:nodes"));
    let mut c = RawClient::connect_with(&api, Some(&cert), Duration::from_secs(10)).unwrap();
    let (head, _) = c.get_json("/api/v1/nodes?fieldSelector=metadata.name%3Dn1", &[]).unwrap();
    assert_eq!(head.code, 200);
    // The identity shows in a 403 (get is not allowed here).
    let (head, st) = c.get_json("/api/v1/nodes/n1", &[]).unwrap();
    assert_eq!(head.code, 403);
    assert!(st["message"].as_str().unwrap().contains("User \"system:node:n1\""), "{st}");
    // A certificate from another CA fails the TLS handshake (with TLS 1.3 the
    // client learns it on its first read, when the server's alert arrives).
    let stranger = untrusted();
    let refused = match RawClient::connect_with(&api, Some(&stranger), Duration::from_secs(10)) {
        Err(_) => true,
        Ok(mut c) => c.get_json("/api/v1/nodes?fieldSelector=metadata.name%3Dn1", &[]).is_err(),
    };
    assert!(refused, "an untrusted client certificate must not get an answer");
}

fn untrusted() -> support::fake_apiserver::ClientCert {
    FakeApiServer::start().issue_client_cert("system:node:n1", None)
}

#[test]
fn watch_streams_one_json_event_per_chunk_from_the_list_resource_version() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    api.add_node("other");
    let rv = api.resource_version();
    let mut w = watch(&api, &format!("fieldSelector=metadata.name%3Dn1&resourceVersion={rv}"));
    let rv1 = api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
    api.set_ready("other", "False", "X", "not for this watch");
    let ev = w.event().unwrap().unwrap();
    assert_eq!(ev_type(&ev), "MODIFIED");
    assert_eq!(rv_of(&ev), rv1);
    assert_eq!(ev["object"]["kind"], "Node");
    let ready = ev["object"]["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("KubeletNotReady")));
    let rv2 = api.delete_node("n1").unwrap();
    let ev = w.event().unwrap().unwrap();
    assert_eq!((ev_type(&ev), rv_of(&ev)), ("DELETED", rv2));
}

#[test]
fn watch_without_resource_version_starts_with_synthetic_added_events() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let rv = api.resource_version();
    for q in ["fieldSelector=metadata.name%3Dn1", "fieldSelector=metadata.name%3Dn1&resourceVersion=0"] {
        let mut w = watch(&api, q);
        let ev = w.event().unwrap().unwrap();
        assert_eq!((ev_type(&ev), rv_of(&ev)), ("ADDED", rv));
    }
}

#[test]
fn watch_resumes_from_history_after_a_resource_version() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let from = api.resource_version();
    let a = api.cordon("n1", true);
    let b = api.cordon("n1", false);
    let mut w = watch(&api, &format!("fieldSelector=metadata.name%3Dn1&resourceVersion={from}"));
    let got: Vec<u64> = (0..2).map(|_| rv_of(&w.event().unwrap().unwrap())).collect();
    assert_eq!(got, vec![a, b]);
}

#[test]
fn watch_from_a_compacted_resource_version_gets_an_error_410_event_then_ends() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let old = api.resource_version();
    api.set_ready("n1", "False", "KubeletNotReady", "x");
    api.compact();
    let now = api.resource_version();
    let mut w = watch(&api, &format!("fieldSelector=metadata.name%3Dn1&resourceVersion={old}"));
    let ev = w.event().unwrap().unwrap();
    assert_eq!(ev_type(&ev), "ERROR");
    assert_eq!(ev["object"]["kind"], "Status");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    assert_eq!(ev["object"]["message"], format!("too old resource version: {old} ({now})"));
    assert!(w.event().unwrap().is_none(), "stream ends cleanly after the ERROR event");
    // Resuming from the compaction point itself is fine.
    let _ok = watch(&api, &format!("resourceVersion={now}"));
}

#[test]
fn bookmarks_come_at_the_period_only_when_allowed_and_carry_only_a_resource_version() {
    // A 100 ms period: the test observes several bookmarks, not one a minute.
    let api = FakeApiServer::builder().bookmark_period(Duration::from_millis(100)).start();
    api.add_node("n1");
    let rv = api.resource_version();
    let mut w = watch(&api, &format!("fieldSelector=metadata.name%3Dn1&resourceVersion={rv}&allowWatchBookmarks=true"));
    api.add_node("other"); // moves the global RV without an event for this watch
    let now = api.resource_version();
    let ev = w.event().unwrap().unwrap();
    assert_eq!(ev_type(&ev), "BOOKMARK");
    assert_eq!(rv_of(&ev), now);
    assert_eq!(ev["object"]["kind"], "Node");
    assert!(ev["object"]["metadata"].get("name").is_none());
    assert!(ev["object"]["status"].get("conditions").is_none());
    // Without allowWatchBookmarks nothing arrives while nothing changes.
    let mut c = RawClient::connect_with(&api, None, Duration::from_millis(500)).unwrap();
    c.get(&format!("/api/v1/nodes?watch=1&resourceVersion={now}"), &[("Authorization", &auth(&api))]).unwrap();
    assert_eq!(c.head().unwrap().code, 200);
    let err = c.chunk().unwrap_err();
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err}");
}

#[test]
fn send_initial_events_ends_the_initial_state_with_an_annotated_bookmark() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let rv = api.resource_version();
    let mut w = watch(
        &api,
        "fieldSelector=metadata.name%3Dn1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    );
    assert_eq!(ev_type(&w.event().unwrap().unwrap()), "ADDED");
    let bm = w.event().unwrap().unwrap();
    assert_eq!((ev_type(&bm), rv_of(&bm)), ("BOOKMARK", rv));
    assert_eq!(bm["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

#[test]
fn timeout_seconds_ends_the_stream_cleanly_and_the_connection_is_reusable() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let start = Instant::now();
    let mut w = watch(&api, &format!("resourceVersion={}&timeoutSeconds=1", api.resource_version()));
    assert!(w.event().unwrap().is_none(), "zero-length chunk at the deadline");
    assert!(start.elapsed() >= Duration::from_millis(900));
    let (head, _) = w.get_json("/api/v1/nodes/n1", &[("Authorization", &auth(&api))]).unwrap();
    assert_eq!(head.code, 200);
}

#[test]
fn dropped_watches_end_abruptly_without_the_last_chunk() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let mut w = watch(&api, &format!("resourceVersion={}", api.resource_version()));
    support::wait_for("watch open", Duration::from_secs(5), || (api.open_watches() == 1).then_some(()));
    api.drop_watches();
    assert!(w.chunk().is_err(), "EOF mid-body, not a clean end");
    support::wait_for("watch closed", Duration::from_secs(5), || (api.open_watches() == 0).then_some(()));
}

#[test]
fn stalled_watches_send_nothing_while_new_watches_work() {
    // Bookmarks every 50 ms so that silence on the watch is the stall, not the period.
    let api = FakeApiServer::builder().bookmark_period(Duration::from_millis(50)).start();
    api.add_node("n1");
    let rv = api.resource_version();
    let mut c = RawClient::connect_with(&api, None, Duration::from_millis(600)).unwrap();
    let q = format!("/api/v1/nodes?watch=1&resourceVersion={rv}&allowWatchBookmarks=true");
    c.get(&q, &[("Authorization", &auth(&api))]).unwrap();
    assert_eq!(c.head().unwrap().code, 200);
    support::wait_for("watch open", Duration::from_secs(5), || (api.open_watches() == 1).then_some(()));
    api.stall_watches();
    // Drain what may have been in flight before the stall, then silence.
    let mut silent = false;
    for _ in 0..20 {
        match c.chunk() {
            Ok(_) => continue,
            Err(e) => {
                assert!(matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{e}");
                silent = true;
                break;
            }
        }
    }
    assert!(silent, "a stalled watch must go silent");
    api.set_ready("n1", "False", "KubeletNotReady", "x");
    let mut fresh = watch(&api, &format!("resourceVersion={rv}"));
    assert_eq!(ev_type(&fresh.event().unwrap().unwrap()), "MODIFIED");
}

#[test]
fn a_frozen_server_holds_every_connection_silent_until_thawed() {
    // Bookmarks every 50 ms so that silence on the open watch is the freeze, not the period.
    let api = FakeApiServer::builder().bookmark_period(Duration::from_millis(50)).start();
    api.add_node("n1");
    let q = format!("/api/v1/nodes?watch=1&resourceVersion={}&allowWatchBookmarks=true", api.resource_version());
    let mut w = RawClient::connect_with(&api, None, Duration::from_millis(400)).unwrap();
    w.get(&q, &[("Authorization", &auth(&api))]).unwrap();
    assert_eq!(w.head().unwrap().code, 200);
    let mut kept = RawClient::connect_with(&api, None, Duration::from_millis(400)).unwrap();
    assert_eq!(kept.get_json("/api/v1/nodes/n1", &[("Authorization", &auth(&api))]).unwrap().0.code, 200);
    api.freeze();
    let silent = |e: std::io::Error| matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut);
    // The open watch drains what was in flight, then says nothing.
    let mut went_silent = false;
    for _ in 0..20 {
        if let Err(e) = w.chunk() {
            assert!(silent(e));
            went_silent = true;
            break;
        }
    }
    assert!(went_silent, "a frozen server's watch goes silent");
    // A new connection is accepted (TCP) but gets no TLS handshake.
    let err = RawClient::connect_with(&api, None, Duration::from_millis(400)).err().expect("no handshake while frozen");
    assert!(silent(err));
    // A kept-alive connection's next request gets no answer.
    kept.get("/api/v1/nodes/n1", &[("Authorization", &auth(&api))]).unwrap();
    assert!(silent(kept.head().unwrap_err()));
    api.thaw();
    // Everything resumes where it stopped: the pending request is answered, the watch goes on.
    let mut answered = None;
    for _ in 0..25 {
        match kept.head() {
            Ok(h) => {
                answered = Some(h.code);
                break;
            }
            Err(e) => assert!(silent(e)),
        }
    }
    assert_eq!(answered, Some(200));
    let bookmark =
        support::wait_for("a line on the thawed watch", Duration::from_secs(10), || w.event().ok().flatten());
    assert_eq!(ev_type(&bookmark), "BOOKMARK");
}

#[test]
fn status_faults_answer_like_the_apiserver_filters() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    api.set_fault(Some(Fault::Status(500)));
    let (code, st) = get_json(&api, "/api/v1/nodes/n1");
    assert_eq!((code, st["reason"].as_str()), (500, Some("InternalError")));
    api.set_fault(Some(Fault::TooManyRequests { retry_after_secs: 3 }));
    let mut c = RawClient::connect(&api).unwrap();
    c.get("/api/v1/nodes/n1", &[("Authorization", &auth(&api))]).unwrap();
    let head = c.head().unwrap();
    assert_eq!((head.code, head.header("retry-after")), (429, Some("3")));
    assert!(head.header("content-type").unwrap().starts_with("text/plain"));
    assert_eq!(c.body(&head).unwrap(), b"Too many requests, please try again later.\n");
    api.set_fault(Some(Fault::Garbage));
    c = RawClient::connect(&api).unwrap();
    c.get("/api/v1/nodes/n1", &[("Authorization", &auth(&api))]).unwrap();
    let head = c.head().unwrap();
    assert_eq!(head.code, 200);
    assert!(serde_json::from_slice::<Value>(&c.body(&head).unwrap()).is_err());
    api.set_fault(None);
    assert_eq!(get_json(&api, "/api/v1/nodes/n1").0, 200);
}

#[test]
fn faults_can_target_one_verb() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    api.set_fault_for(&[Verb::Watch], Fault::Status(503));
    assert_eq!(get_json(&api, "/api/v1/nodes/n1").0, 200);
    assert_eq!(get_json(&api, "/api/v1/nodes?watch=1").0, 503);
}

#[test]
fn connection_faults_reset_and_hang() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    api.set_fault(Some(Fault::Reset));
    let mut c = RawClient::connect(&api).unwrap();
    c.get("/api/v1/nodes/n1", &[]).unwrap();
    let err = c.head().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");

    api.set_fault(Some(Fault::Hang));
    let mut c = RawClient::connect_with(&api, None, Duration::from_millis(300)).unwrap();
    c.get("/api/v1/nodes/n1", &[]).unwrap();
    let err = c.head().unwrap_err();
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err}");

    api.set_fault(Some(Fault::HangAccept));
    let err = RawClient::connect_with(&api, None, Duration::from_millis(300)).err().expect("handshake must not finish");
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err}");
}

#[test]
fn latency_delays_every_answer() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    api.set_latency(Duration::from_millis(300));
    let start = Instant::now();
    assert_eq!(get_json(&api, "/api/v1/nodes/n1").0, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn request_counters_and_log_by_verb() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    get_json(&api, "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&resourceVersion=0");
    get_json(&api, "/api/v1/nodes/n1");
    get_json(&api, "/api/v1/nodes/n1");
    drop(watch(&api, "timeoutSeconds=1"));
    assert_eq!((api.count(Verb::List), api.count(Verb::Get), api.count(Verb::Watch)), (1, 2, 1));
    let log = api.requests();
    assert_eq!(log[0].verb, Some(Verb::List));
    assert!(log[0].query.contains("resourceVersion=0"));
    assert_eq!(log[0].user.as_deref(), Some(SA));
    api.reset_counts();
    assert_eq!(api.count(Verb::Get), 0);
}

#[test]
fn plain_http_mode_serves_the_same_api() {
    let api = FakeApiServer::builder().plain_http().start();
    api.add_node("n1");
    assert!(api.url().starts_with("http://"));
    assert_eq!(get_json(&api, "/api/v1/nodes/n1").0, 200);
}

#[test]
fn real_fixtures_load_and_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/nodes");
    let api = FakeApiServer::start();
    let path = dir.join("07-kubeadm-controlplane-notready-cni-not-initialized.json");
    let node = support::fake_apiserver::load_node_fixture(&path);
    let name = node["metadata"]["name"].as_str().unwrap().to_string();
    let rv = api.set_node(node);
    let (code, got) = get_json(&api, &format!("/api/v1/nodes/{name}"));
    assert_eq!(code, 200);
    assert_eq!(got["metadata"]["resourceVersion"], rv.to_string());
}

#[test]
fn ended_watches_finish_cleanly_even_when_stalled() {
    let api = FakeApiServer::start();
    api.add_node("n1");
    let mut w = watch(&api, &format!("resourceVersion={}", api.resource_version()));
    support::wait_for("watch open", Duration::from_secs(5), || (api.open_watches() == 1).then_some(()));
    api.stall_watches();
    api.set_ready("n1", "False", "KubeletNotReady", "not delivered on the stalled stream");
    api.end_watches();
    assert!(w.event().unwrap().is_none(), "zero-length chunk, no event");
}

// ---- EndpointSlices (discovery.k8s.io/v1, namespaced, label-selected) ----

const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/ingress/endpointslices";
const BY_SERVICE: &str = "labelSelector=kubernetes.io%2Fservice-name%3Drouter";

fn slices_api() -> FakeApiServer {
    let api = FakeApiServer::start();
    let ep = |ip, node, pod| endpoint(ip, node, pod, Phase::Ready);
    api.set_endpoint_slice(endpoint_slice("ingress", "router-abc12", "router", vec![ep("10.0.0.1", "n1", "r-1")]));
    api.set_endpoint_slice(endpoint_slice("ingress", "other-xyz98", "other", vec![ep("10.0.0.9", "n1", "o-1")]));
    api.set_endpoint_slice(endpoint_slice("elsewhere", "router-qqq11", "router", vec![ep("10.0.0.7", "n2", "r-7")]));
    api
}

fn watch_slices(api: &FakeApiServer, query: &str) -> RawClient {
    let mut c = RawClient::connect(api).unwrap();
    c.get(&format!("{SLICES}?watch=1&{query}"), &[("Authorization", &auth(api))]).unwrap();
    assert_eq!(c.head().unwrap().code, 200);
    c
}

#[test]
fn slices_list_by_namespace_and_label_selector() {
    let api = slices_api();
    let (code, list) = get_json(&api, &format!("{SLICES}?{BY_SERVICE}&resourceVersion=0"));
    assert_eq!(code, 200);
    assert_eq!(
        (list["kind"].as_str(), list["apiVersion"].as_str()),
        (Some("EndpointSliceList"), Some("discovery.k8s.io/v1"))
    );
    assert_eq!(list["metadata"]["resourceVersion"], api.resource_version().to_string());
    let items = list["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["router-abc12"], "other namespace and other Service left out");
    assert!(items[0].get("kind").is_none());
    assert_eq!(items[0]["endpoints"][0]["conditions"]["ready"], true);
    // The namespace alone, every namespace, one by name.
    let (_, ns) = get_json(&api, SLICES);
    assert_eq!(ns["items"].as_array().unwrap().len(), 2);
    let (_, all) =
        get_json(&api, "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io/service-name=router");
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let (code, one) = get_json(&api, &format!("{SLICES}/router-abc12"));
    assert_eq!((code, one["kind"].as_str()), (200, Some("EndpointSlice")));
    let (code, missing) = get_json(&api, &format!("{SLICES}/nope"));
    assert_eq!(code, 404);
    assert_eq!(missing["message"], "endpointslices.discovery.k8s.io \"nope\" not found");
    let (code, _) = get_json(&api, &format!("{SLICES}?labelSelector=a%20in%20(b)"));
    assert_eq!(code, 400, "set-based selectors are not imitated");
}

#[test]
fn a_slice_watch_sees_only_its_selection_and_relabels_as_added_or_deleted() {
    let api = slices_api();
    let rv = api.resource_version();
    let mut w = watch_slices(&api, &format!("{BY_SERVICE}&resourceVersion={rv}&allowWatchBookmarks=true"));
    api.set_endpoints("ingress", "other-xyz98", vec![]); // another Service: not seen
    api.set_endpoints("elsewhere", "router-qqq11", vec![]); // another namespace: not seen
    let m = api.set_endpoints("ingress", "router-abc12", vec![endpoint("10.0.0.1", "n1", "r-1", Phase::Terminating)]);
    let ev = w.event().unwrap().unwrap();
    assert_eq!((ev_type(&ev), rv_of(&ev)), ("MODIFIED", m));
    assert_eq!(ev["object"]["endpoints"][0]["conditions"]["terminating"], true);
    // A slice that stops matching the selector is DELETED for this watch
    // (previous content, the change's RV); one that starts matching is ADDED.
    let gone = api.update_endpoint_slice("ingress", "router-abc12", |s| {
        s["metadata"]["labels"]["kubernetes.io/service-name"] = "renamed".into();
    });
    let ev = w.event().unwrap().unwrap();
    assert_eq!((ev_type(&ev), rv_of(&ev)), ("DELETED", gone));
    assert_eq!(ev["object"]["metadata"]["labels"]["kubernetes.io/service-name"], "router");
    let back = api.update_endpoint_slice("ingress", "other-xyz98", |s| {
        s["metadata"]["labels"]["kubernetes.io/service-name"] = "router".into();
    });
    let ev = w.event().unwrap().unwrap();
    assert_eq!(
        (ev_type(&ev), rv_of(&ev), ev["object"]["metadata"]["name"].as_str()),
        ("ADDED", back, Some("other-xyz98"))
    );
    let del = api.delete_endpoint_slice("ingress", "other-xyz98").unwrap();
    let ev = w.event().unwrap().unwrap();
    assert_eq!((ev_type(&ev), rv_of(&ev)), ("DELETED", del));
}

#[test]
fn slice_watches_start_resume_expire_and_bookmark_like_node_watches() {
    let api = FakeApiServer::builder().bookmark_period(Duration::from_millis(100)).start();
    api.set_endpoint_slice(endpoint_slice("ingress", "router-abc12", "router", vec![]));
    let mut w = watch_slices(&api, &format!("{BY_SERVICE}&resourceVersion=0&allowWatchBookmarks=true"));
    let ev = w.event().unwrap().unwrap();
    assert_eq!(ev_type(&ev), "ADDED");
    assert!(ev["object"]["endpoints"].is_null(), "no endpoints: null, as Go encodes a nil slice");
    let bm = w.event().unwrap().unwrap();
    assert_eq!(ev_type(&bm), "BOOKMARK");
    assert_eq!(
        (bm["object"]["kind"].as_str(), bm["object"]["apiVersion"].as_str()),
        (Some("EndpointSlice"), Some("discovery.k8s.io/v1"))
    );
    assert!(bm["object"]["endpoints"].is_null() && bm["object"]["metadata"].get("name").is_none());
    let old = api.resource_version();
    api.set_endpoints("ingress", "router-abc12", vec![endpoint("10.0.0.1", "n1", "r-1", Phase::Ready)]);
    api.compact();
    let mut w = watch_slices(&api, &format!("{BY_SERVICE}&resourceVersion={old}"));
    let ev = w.event().unwrap().unwrap();
    assert_eq!((ev_type(&ev), ev["object"]["code"].as_u64()), ("ERROR", Some(410)));
    assert!(w.event().unwrap().is_none());
}

#[test]
fn slice_rbac_is_per_namespace_with_the_apiservers_wording() {
    let api = slices_api();
    api.allow_endpointslices_in(Some(&["elsewhere"]));
    let (code, st) = get_json(&api, &format!("{SLICES}?{BY_SERVICE}"));
    assert_eq!((code, st["reason"].as_str()), (403, Some("Forbidden")));
    assert_eq!(
        st["message"],
        format!(
            "endpointslices.discovery.k8s.io is forbidden: User \"{SA}\" cannot list resource \"endpointslices\" in API group \"discovery.k8s.io\" in the namespace \"ingress\""
        )
    );
    assert_eq!(st["details"], serde_json::json!({"group": "discovery.k8s.io", "kind": "endpointslices"}));
    let (code, _) = get_json(&api, "/apis/discovery.k8s.io/v1/endpointslices");
    assert_eq!(code, 403, "a Role per namespace grants nothing cluster-wide");
    let (code, _) = get_json(&api, "/apis/discovery.k8s.io/v1/namespaces/elsewhere/endpointslices");
    assert_eq!(code, 200);
    let mut c = RawClient::connect(&api).unwrap();
    c.get(&format!("{SLICES}?watch=1&{BY_SERVICE}"), &[("Authorization", &auth(&api))]).unwrap();
    assert_eq!(c.head().unwrap().code, 403);
}
