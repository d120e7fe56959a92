//! The watcher loop against a scripted plain-HTTP server on loopback
//! (`kubectl proxy` style `http://` kubeconfig): list → watch → snapshot,
//! 410 → relist, a silent watch → replaced, 403 → GET polling. The faithful
//! HTTPS fake API server lives in tests/support; this only pins the loop.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::store::Verb;
use super::test_server::{Reply, Server};
use super::{NodeState, NodeStore, Presence};
use crate::config::test_config;
use crate::testutil::TempDir;

fn node_json(rv: u64, ready: &str, reason: &str) -> String {
    serde_json::json!({"kind": "Node", "apiVersion": "v1",
        "metadata": {"name": "n1", "resourceVersion": rv.to_string()},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": "m"}]}})
    .to_string()
}

fn list_json(rv: u64, ready: &str) -> String {
    format!(
        r#"{{"kind":"NodeList","apiVersion":"v1","metadata":{{"resourceVersion":"{rv}"}},"items":[{}]}}"#,
        node_json(rv, ready, "KubeletReady")
    )
}

/// A kubeconfig pointing at `http://127.0.0.1:PORT`, in a directory removed on drop.
struct Kubeconfig {
    path: PathBuf,
    _dir: TempDir,
}

impl Kubeconfig {
    fn new(tag: &str, port: u16) -> Kubeconfig {
        let dir = TempDir::new(&format!("watchloop-{tag}"));
        let path = dir.write(
            "kubeconfig.yaml",
            &format!(
                "current-context: x\ncontexts:\n- name: x\n  context: {{cluster: c}}\n\
                 clusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n"
            ),
        );
        Kubeconfig { path, _dir: dir }
    }
}

fn start_watcher(kubeconfig: &Kubeconfig, extra: &[(&str, &str)]) -> Arc<NodeStore> {
    let path = kubeconfig.path.to_str().unwrap().to_string();
    let mut knobs = vec![("NODE_NAME", "n1"), ("KUBECONFIG", path.as_str())];
    knobs.extend_from_slice(extra);
    super::start(&test_config(&knobs))
}

const PATIENCE: Duration = Duration::from_secs(20);

/// What `node_ready` judges, in kube's own terms: the Ready condition as
/// `"Status Reason"`, or why there is no usable Node.
fn ready_verdict(s: &NodeState) -> Result<String, String> {
    ready_verdict_within(s, None)
}

/// [`ready_verdict`] under a staleness limit (NODE_STATE_MAX_STALENESS_SECONDS).
fn ready_verdict_within(s: &NodeState, limit: Option<Duration>) -> Result<String, String> {
    let node = super::usable_node(s, limit, Instant::now()).map_err(|u| match u {
        super::Unusable::CannotTell(why) | super::Unusable::NotFound(why) => why,
    })?;
    let c = node.status.conditions.iter().find(|c| c.type_ == "Ready").ok_or("no Ready condition")?;
    Ok(format!("{} {}", c.status, c.reason))
}

fn ready() -> Result<String, String> {
    Ok("True KubeletReady".into())
}

#[test]
fn list_then_watch_event_flips_node_ready() {
    let server = Server::start(Box::new(|req| {
        let path = req.path.as_str();
        if path.contains("watch=1") {
            Reply::Stream(vec![
                r#"{"type":"BOOKMARK","object":{"kind":"Node","metadata":{"resourceVersion":"11"}}}"#.into(),
                format!(r#"{{"type":"MODIFIED","object":{}}}"#, node_json(12, "False", "KubeletNotReady")),
            ])
        } else {
            Reply::Json(200, list_json(10, "True"))
        }
    }));
    let kc = Kubeconfig::new("flip", server.port);
    let store = start_watcher(&kc, &[]);
    let s = store.wait_until(Instant::now() + PATIENCE, |s| ready_verdict(s) == Ok("False KubeletNotReady".into()));
    assert_eq!(ready_verdict(&s), Ok("False KubeletNotReady".into()));
    assert!(s.confirmed_at.is_some(), "the watch's lines confirm the state");
    assert!(store.stats().connected());
    let paths = server.paths();
    assert_eq!(paths[0], "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&resourceVersion=0");
    assert!(paths[1].contains("watch=1&allowWatchBookmarks=true") && paths[1].ends_with("&resourceVersion=10"));
    assert_eq!((store.stats().request_count(Verb::List), store.stats().request_count(Verb::Watch)), (1, 1));
}

#[test]
fn expired_watch_relists_and_silent_watch_is_replaced() {
    // Watch #1 → ERROR 410 (relist); list #2; watch #2 silent → idle → watch #3 resumes from RV 20.
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let server = Server::start(Box::new(move |req| {
        let path = req.path.as_str();
        if path.contains("watch=1") && path.ends_with("resourceVersion=10") {
            Reply::Stream(vec![
                r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 10 (15)","reason":"Expired","code":410}}"#.into(),
            ])
        } else if path.contains("watch=1") {
            Reply::Stream(vec![])
        } else {
            let mut n = c.lock().unwrap();
            *n += 1;
            Reply::Json(200, list_json(if *n == 1 { 10 } else { 20 }, "True"))
        }
    }));
    let kc = Kubeconfig::new("expire", server.port);
    let store = start_watcher(&kc, &[("NODE_WATCH_IDLE_TIMEOUT_SECONDS", "1")]);
    let stats = store.clone();
    let s = store.wait_until(Instant::now() + PATIENCE, move |_| stats.stats().request_count(Verb::Watch) >= 3);
    let paths = server.paths();
    assert_eq!(store.stats().request_count(Verb::List), 2, "410 relists once: {paths:?}");
    assert!(paths.iter().filter(|p| p.ends_with("resourceVersion=20") && p.contains("watch=1")).count() >= 2);
    assert!(store.stats().restarts().contains(&("expired", 1)));
    assert!(store.stats().restarts().iter().any(|(r, n)| *r == "idle" && *n >= 1));
    // The silent watch did not lose the state: still Ready, still served.
    assert_eq!(ready_verdict(&s), ready());
}

#[test]
fn repeated_410s_relist_consistently_with_backoff_not_in_a_loop() {
    // Every watch is refused with 410 (a lagging cache behind a VIP): without
    // backoff this spun at ~300 lists/s per node.
    let server = Server::start(Box::new(|req| {
        if req.path.contains("watch=1") {
            let status = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 10 (15)","reason":"Expired","code":410}"#;
            Reply::Json(410, status.into())
        } else {
            Reply::Json(200, list_json(10, "True"))
        }
    }));
    let kc = Kubeconfig::new("expire-loop", server.port);
    let store = start_watcher(&kc, &[]);
    // Count requests over a fixed two-second window (a rate, not a wait).
    store.wait_until(Instant::now() + Duration::from_secs(2), |_| false);
    let paths = server.paths();
    let lists: Vec<_> = paths.iter().filter(|p| !p.contains("watch=1")).collect();
    assert!(lists.len() <= 4, "{} lists in 2 s; first requests: {:?}", lists.len(), &paths[..paths.len().min(6)]);
    assert!(lists.len() >= 2, "a 410 relists: {paths:?}");
    assert!(lists[0].ends_with("&resourceVersion=0"), "first list from the watch cache");
    assert_eq!(lists[1].as_str(), "/api/v1/nodes?fieldSelector=metadata.name%3Dn1", "after 410: consistent read");
    assert_eq!(ready_verdict(&store.snapshot()), ready(), "the listed state is served meanwhile");
}

#[test]
fn relist_after_a_broken_stream_never_goes_back_in_time() {
    // Watch #1 delivers RV 12 then an ERROR event (not 410): the relist asks
    // for a state not older than 12, whichever API server answers.
    let server = Server::start(Box::new(|req| {
        if req.path.contains("watch=1") && req.path.ends_with("resourceVersion=10") {
            Reply::Stream(vec![
                format!(r#"{{"type":"MODIFIED","object":{}}}"#, node_json(12, "False", "KubeletNotReady")),
                r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"internal error","reason":"InternalError","code":500}}"#.into(),
            ])
        } else if req.path.contains("watch=1") {
            Reply::Stream(vec![])
        } else if req.path.contains("resourceVersionMatch=NotOlderThan") {
            Reply::Json(200, list_json(12, "False").replace("KubeletReady", "KubeletNotReady"))
        } else {
            Reply::Json(200, list_json(10, "True"))
        }
    }));
    let kc = Kubeconfig::new("not-older", server.port);
    let store = start_watcher(&kc, &[]);
    let stats = store.clone();
    store.wait_until(Instant::now() + PATIENCE, move |_| stats.stats().request_count(Verb::List) >= 2);
    let paths = server.paths();
    let relist = paths.iter().filter(|p| !p.contains("watch=1")).nth(1).expect("a relist");
    assert!(relist.ends_with("&resourceVersion=12&resourceVersionMatch=NotOlderThan"), "{paths:?}");
}

#[test]
fn forbidden_list_falls_back_to_get_polling() {
    let server = Server::start(Box::new(|req| {
        let path = req.path.as_str();
        if path == "/api/v1/nodes/n1" {
            Reply::Json(200, node_json(5, "True", "KubeletReady"))
        } else {
            Reply::Json(
                403,
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes is forbidden: User \"system:serviceaccount:x:y\" cannot list resource \"nodes\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"kind":"nodes"},"code":403}"#.into(),
            )
        }
    }));
    let kc = Kubeconfig::new("poll", server.port);
    let store = start_watcher(&kc, &[("NODE_POLL_INTERVAL_SECONDS", "1")]);
    let stats = store.clone();
    let s = store.wait_until(Instant::now() + PATIENCE, move |s| {
        matches!(s.presence, Presence::Present(_)) && stats.stats().request_count(Verb::Get) >= 2
    });
    assert_eq!(ready_verdict(&s), ready());
    assert!(store.stats().polling());
    assert_eq!(store.stats().request_count(Verb::Watch), 0);
}

/// A kube-apiserver restarted under a running watch answers 403 for a moment
/// (RBAC caches not filled yet): retried, not taken for get-only RBAC.
#[test]
fn a_403_after_a_working_watch_is_retried_not_polled() {
    let watches = Arc::new(Mutex::new(0u32));
    let seen = watches.clone();
    let server = Server::start(Box::new(move |req| {
        if !req.path.contains("watch=1") {
            return Reply::Json(200, list_json(5, "True"));
        }
        let mut n = seen.lock().unwrap();
        *n += 1;
        match *n {
            // the API server goes away: the stream ends
            1 => Reply::Raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into()),
            // back, RBAC not ready yet
            2 => Reply::Json(
                403,
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes is forbidden","reason":"Forbidden","code":403}"#.into(),
            ),
            _ => Reply::Stream(vec![]),
        }
    }));
    let kc = Kubeconfig::new("rbac-warming", server.port);
    let store = start_watcher(&kc, &[("NODE_POLL_INTERVAL_SECONDS", "1")]);
    let stats = store.clone();
    store.wait_until(Instant::now() + PATIENCE, move |_| stats.stats().request_count(Verb::Watch) >= 3);
    assert!(!store.stats().polling());
    assert_eq!(store.stats().request_count(Verb::Get), 0);
}

#[test]
fn node_absent_from_the_list_is_not_found() {
    let server = Server::start(Box::new(|req| {
        let path = req.path.as_str();
        if path.contains("watch=1") {
            Reply::Stream(vec![])
        } else {
            Reply::Json(200, r#"{"kind":"NodeList","metadata":{"resourceVersion":"3"},"items":[]}"#.into())
        }
    }));
    let kc = Kubeconfig::new("absent", server.port);
    let store = start_watcher(&kc, &[]);
    let s = store.wait_first(Instant::now() + PATIENCE);
    assert_eq!(ready_verdict(&s), Err("node \"n1\" not found".into()));
}

#[test]
fn a_quiet_watch_is_confirmed_by_a_list_while_it_stays_open() {
    // The watch sends nothing after its start (a quiet node between two of
    // kube-apiserver's ~60 s bookmarks); the limit is 1 s. Each confirmation
    // (list at resourceVersion=0) keeps the state fresh; the third one sees
    // a change the watch did not deliver and publishes it.
    let lists = Arc::new(Mutex::new(0u32));
    let l = lists.clone();
    let server = Server::start(Box::new(move |req| {
        if req.path.contains("watch=1") {
            return Reply::Stream(vec![]);
        }
        let mut n = l.lock().unwrap();
        *n += 1;
        match *n {
            1 => Reply::Json(200, list_json(10, "True")),
            2 | 3 => Reply::Json(
                200,
                list_json(10, "True")
                    .replace(r#""resourceVersion":"10"}},"items""#, r#""resourceVersion":"15"}},"items""#),
            ),
            _ => Reply::Json(200, list_json(12, "False").replace("KubeletReady", "KubeletNotReady")),
        }
    }));
    let kc = Kubeconfig::new("quiet", server.port);
    let store = start_watcher(&kc, &[("NODE_STATE_MAX_STALENESS_SECONDS", "1")]);
    let verdict = |s: &NodeState| ready_verdict_within(s, Some(Duration::from_secs(1)));
    let not_ready = Ok("False KubeletNotReady".to_string());
    let s = store.wait_until(Instant::now() + PATIENCE, |s| verdict(s) == not_ready);
    assert_eq!(verdict(&s), not_ready, "the confirmation's newer state is published");
    assert!(s.age(Instant::now()) < Duration::from_secs(1), "confirmed, not stale");
    let paths = server.paths();
    let confirms: Vec<_> = paths.iter().skip(2).collect();
    assert!(confirms.iter().all(|p| p.ends_with("metadata.name%3Dn1&resourceVersion=0")), "{paths:?}");
    assert_eq!(store.stats().request_count(Verb::Watch), 1, "the watch stayed open: {paths:?}");
    assert!(store.stats().restarts().iter().all(|(_, n)| *n == 0), "{:?}", store.stats().restarts());
}
