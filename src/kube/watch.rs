//! The NodeWatcher thread, an informer for one object: list our Node with
//! `resourceVersion=0` (served from the API server's watch cache, not a
//! quorum read on etcd), then watch it from the list's resourceVersion with
//! bookmarks, resuming from the last seen version when the server ends the
//! stream; relist on 410; exponential backoff with jitter on errors; replace
//! a watch that stays silent for the idle timeout; fall back to GET polling
//! when RBAC forbids list/watch.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{ApiError, Client};
use super::config::{ApiConfig, discover};
use super::node::Node;
use super::status::{ApiStatus, status_reason};
use super::store::{NodeStore, Restart, Verb};
use super::{NodeState, Presence};
use crate::config::Config;
use crate::log;

/// First retry delay; doubles per consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay (also the cap on a server's Retry-After).
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Watch `timeoutSeconds` is drawn from this range so a fleet restarted at
/// once does not reconnect in lockstep.
const WATCH_TIMEOUT_SECS: (u64, u64) = (300, 600);
/// A watch that ends sooner than this without an event is not routine.
const MIN_HEALTHY_WATCH: Duration = Duration::from_secs(1);
/// How often missing credentials are looked for again.
const CREDENTIALS_RETRY: Duration = Duration::from_secs(30);
/// In GET-polling mode, how often list/watch is tried again (RBAC fixed?).
const WATCH_RETRY_FROM_POLL: Duration = Duration::from_secs(600);

/// One decoded watch event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// ADDED or MODIFIED.
    Upsert(Node),
    Deleted(Node),
    /// Progress marker: only the resourceVersion is meaningful.
    Bookmark(String),
    /// ERROR with code 410: the version is compacted away; relist.
    Expired(String),
    /// Any other ERROR event.
    Error(String),
}

/// Decodes one line of a watch stream; `Ok(None)` for a blank line.
pub fn decode_event(line: &[u8]) -> Result<Option<Event>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let garbage = || "watch stream sent something that is not a JSON watch event".to_string();
    let v: serde_json::Value = serde_json::from_slice(line).map_err(|_| garbage())?;
    let kind = v.get("type").and_then(|t| t.as_str()).ok_or_else(garbage)?;
    let object = v.get("object").cloned().ok_or_else(garbage)?;
    let event = match kind {
        "ADDED" | "MODIFIED" => Event::Upsert(Node::from_json(object)?),
        "DELETED" => Event::Deleted(Node::from_json(object)?),
        "BOOKMARK" => {
            let rv = object.pointer("/metadata/resourceVersion").and_then(|r| r.as_str()).unwrap_or("");
            if rv.is_empty() {
                return Err("watch BOOKMARK without a resourceVersion".into());
            }
            Event::Bookmark(rv.to_string())
        }
        "ERROR" => match ApiStatus::from_json(&object) {
            Some(s) if s.code == 410 => Event::Expired(status_reason(&s)),
            Some(s) => Event::Error(status_reason(&s)),
            None => Event::Error("watch ERROR event without a Status object".into()),
        },
        other => return Err(format!("unknown watch event type {:?}", other.chars().take(20).collect::<String>())),
    };
    Ok(Some(event))
}

/// Exponential backoff with "equal jitter": the n-th delay is uniformly in
/// [d/2, d] with d = min(base·2ⁿ, cap), so retries spread out but never
/// come sooner than half the nominal delay.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    base: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { failures: 0, base, cap }
    }

    /// The delay before the next retry, given a random number.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let nominal = self.base.saturating_mul(1u32 << self.failures.min(20)).min(self.cap);
        self.failures = self.failures.saturating_add(1);
        let half = nominal / 2;
        let spread = half.as_millis() as u64 + 1;
        half + Duration::from_millis(random % spread)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A random u64 from the std hasher's per-process random keys.
pub fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// `/api/v1/nodes?fieldSelector=metadata.name%3DNAME&resourceVersion=0`.
pub fn list_path(node: &str) -> String {
    format!("/api/v1/nodes?fieldSelector=metadata.name%3D{node}&resourceVersion=0")
}

pub fn watch_path(node: &str, rv: &str, timeout_secs: u64) -> String {
    format!(
        "/api/v1/nodes?fieldSelector=metadata.name%3D{node}&watch=1&allowWatchBookmarks=true\
         &timeoutSeconds={timeout_secs}&resourceVersion={}",
        encode_query(rv)
    )
}

pub fn get_path(node: &str) -> String {
    format!("/api/v1/nodes/{node}")
}

/// resourceVersions are opaque strings: percent-encode all but unreserved.
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The node and resourceVersion out of a list answer.
pub fn decode_list(v: &serde_json::Value, node: &str) -> Result<(Option<Node>, String), String> {
    let rv = v.pointer("/metadata/resourceVersion").and_then(|r| r.as_str()).unwrap_or("").to_string();
    let items = v.get("items").and_then(|i| i.as_array()).ok_or("list answer has no items")?;
    let mut found = None;
    for item in items {
        let n = Node::from_json(item.clone())?;
        if n.metadata.name == node {
            found = Some(n);
        }
    }
    if rv.is_empty() {
        return Err("list answer has no resourceVersion".into());
    }
    Ok((found, rv))
}

/// Thread body: find credentials (retrying while there are none), then
/// list → watch forever.
pub fn run(store: Arc<NodeStore>, config: Config, first: Result<ApiConfig, String>) {
    let mut creds = first;
    let api = loop {
        match creds {
            Ok(api) => break api,
            Err(_) => {
                std::thread::sleep(CREDENTIALS_RETRY);
                creds = discover(&config);
                match &creds {
                    Ok(api) => {
                        log::info(&format!("Kubernetes credentials found: {} via {}", api.server, api.origin));
                        store.update(|s| s.no_credentials = None);
                    }
                    Err(why) => store.update(|s| s.no_credentials = Some(why.clone())),
                }
            }
        }
    };
    if api.insecure_skip_tls_verify {
        log::warn("kubeconfig sets insecure-skip-tls-verify: the API server's certificate is NOT verified");
    }
    let client = Client::new(api, config.node_api_timeout, config.node_watch_idle_timeout);
    Watcher::new(store, client, &config).run();
}

enum Mode {
    Watch,
    /// GET polling since the given moment (list/watch forbidden).
    Poll(Instant),
}

/// How a watch stream ended.
enum End {
    Closed,
    Expired(String),
    Idle(ApiError),
    Failed(String),
}

struct Watcher {
    store: Arc<NodeStore>,
    client: Client,
    name: String,
    poll_interval: Duration,
    backoff: Backoff,
    mode: Mode,
    /// Last moment the API answered us (a byte on the watch counts).
    confirmed_at: Option<Instant>,
    /// The RBAC fallback is explained in the log once, not on every retry.
    poll_logged: bool,
}

impl Watcher {
    fn new(store: Arc<NodeStore>, client: Client, config: &Config) -> Watcher {
        Watcher {
            store,
            client,
            name: config.node_name.clone(),
            poll_interval: config.node_poll_interval,
            backoff: Backoff::new(BACKOFF_BASE, BACKOFF_CAP),
            mode: Mode::Watch,
            confirmed_at: None,
            poll_logged: false,
        }
    }

    fn run(mut self) {
        loop {
            match self.mode {
                Mode::Watch => self.list_and_watch(),
                Mode::Poll(since) if since.elapsed() >= WATCH_RETRY_FROM_POLL => self.mode = Mode::Watch,
                Mode::Poll(_) => self.poll_once(),
            }
        }
    }

    /// One list, then watches from its resourceVersion until a relist is due.
    fn list_and_watch(&mut self) {
        self.store.stats().requested(Verb::List);
        let answer = self.client.get_json(&list_path(&self.name));
        let mut rv = match answer.map_err(|e| (e.code(), e.to_string(), e.retry_after())) {
            Ok(v) => match decode_list(&v, &self.name) {
                Ok((node, rv)) => {
                    self.publish(node.map(Arc::new));
                    rv
                }
                Err(why) => return self.failed(&why, None),
            },
            Err((Some(403), why, _)) => return self.forbidden("list", &why),
            Err((_, why, retry_after)) => return self.failed(&why, retry_after),
        };
        loop {
            let timeout = WATCH_TIMEOUT_SECS.0 + random() % (WATCH_TIMEOUT_SECS.1 - WATCH_TIMEOUT_SECS.0 + 1);
            self.store.stats().requested(Verb::Watch);
            let started = Instant::now();
            let mut stream = match self.client.watch(&watch_path(&self.name, &rv, timeout)) {
                Ok(s) => s,
                Err(e) if e.code() == Some(410) => {
                    self.store.stats().restarted(Restart::Expired);
                    return;
                }
                Err(e) if e.code() == Some(403) => return self.forbidden("watch", &e.to_string()),
                Err(e) => {
                    self.failed(&e.to_string(), e.retry_after());
                    continue;
                }
            };
            self.store.stats().set_connected(true);
            self.confirm();
            let mut events = 0u64;
            let end = loop {
                match stream.next_line() {
                    Ok(None) => break End::Closed,
                    Err(e @ ApiError::Idle(_)) => break End::Idle(e),
                    Err(e) => break End::Failed(e.to_string()),
                    Ok(Some(line)) => {
                        self.confirmed_at = Some(Instant::now());
                        match decode_event(&line) {
                            Ok(None) => {}
                            Ok(Some(event)) => {
                                events += 1;
                                match event {
                                    Event::Upsert(n) if n.metadata.name == self.name => {
                                        rv = n.metadata.resource_version.clone();
                                        self.publish(Some(Arc::new(n)));
                                    }
                                    Event::Upsert(_) => {}
                                    Event::Deleted(n) => {
                                        rv = n.metadata.resource_version.clone();
                                        self.publish(None);
                                    }
                                    Event::Bookmark(v) => rv = v,
                                    Event::Expired(why) => break End::Expired(why),
                                    Event::Error(why) => break End::Failed(why),
                                }
                            }
                            Err(why) => break End::Failed(why),
                        }
                    }
                }
            };
            self.store.stats().set_connected(false);
            match end {
                End::Closed => {
                    self.store.stats().restarted(Restart::Closed);
                    if events == 0 && started.elapsed() < MIN_HEALTHY_WATCH {
                        // A server that closes at once must not make us spin.
                        std::thread::sleep(self.backoff.next_delay(random()));
                    } else {
                        self.backoff.reset();
                    }
                }
                End::Expired(why) => {
                    log::info(&format!("node watch expired ({why}); relisting"));
                    self.store.stats().restarted(Restart::Expired);
                    return;
                }
                End::Idle(e) => {
                    self.store.stats().restarted(Restart::Idle);
                    self.failed(&e.to_string(), None);
                }
                End::Failed(why) => {
                    self.store.stats().restarted(Restart::Error);
                    self.failed(&why, None);
                    return; // relist: an ERROR event or garbage leaves our version in doubt
                }
            }
        }
    }

    fn poll_once(&mut self) {
        self.store.stats().requested(Verb::Get);
        match self.client.get_json(&get_path(&self.name)) {
            Ok(v) => match Node::from_json(v) {
                Ok(n) => {
                    self.publish(Some(Arc::new(n)));
                    std::thread::sleep(self.poll_interval);
                }
                Err(why) => self.failed_polling(&why, None),
            },
            Err(e) if e.code() == Some(404) => {
                self.publish(None);
                std::thread::sleep(self.poll_interval);
            }
            Err(e) if e.code() == Some(403) => {
                self.failed_polling(&format!("RBAC forbids get on nodes: {e}"), None);
            }
            Err(e) => self.failed_polling(&e.to_string(), e.retry_after()),
        }
    }

    fn failed_polling(&mut self, why: &str, retry_after: Option<Duration>) {
        self.record_failure(why);
        let delay = self.backoff.next_delay(random()).max(self.poll_interval);
        std::thread::sleep(delay.max(retry_after.unwrap_or_default().min(BACKOFF_CAP)));
    }

    /// list or watch answered 403: poll with GET instead (the Node
    /// authorizer and get-only RBAC roles allow that).
    fn forbidden(&mut self, verb: &str, why: &str) {
        if !self.poll_logged {
            log::warn(&format!(
                "RBAC forbids {verb} on nodes ({why}); polling GET /api/v1/nodes/{} every {} s instead \
                 (grant get,list,watch on nodes for instant updates)",
                self.name,
                self.poll_interval.as_secs()
            ));
            self.poll_logged = true;
        }
        self.store.stats().set_polling(true);
        self.mode = Mode::Poll(Instant::now());
    }

    /// Records the failure, marks the state unconfirmed since the API last
    /// answered, and sleeps the backoff delay.
    fn failed(&mut self, why: &str, retry_after: Option<Duration>) {
        self.record_failure(why);
        let delay = self.backoff.next_delay(random());
        std::thread::sleep(delay.max(retry_after.unwrap_or_default().min(BACKOFF_CAP)));
    }

    fn record_failure(&mut self, why: &str) {
        log::warn_limited("kube-api", &format!("Kubernetes API: {why}"));
        let confirmed_at = self.confirmed_at;
        self.store.update(|s| {
            s.live = false;
            s.confirmed_at = confirmed_at;
            s.last_error = Some(why.to_string());
        });
    }

    /// The API answered: the state is current.
    fn confirm(&mut self) {
        let now = Instant::now();
        self.confirmed_at = Some(now);
        self.backoff.reset();
        self.store.update(|s| mark_live(s, now));
    }

    /// Publishes the Node (or its absence) as just confirmed.
    fn publish(&mut self, node: Option<Arc<Node>>) {
        let now = Instant::now();
        self.confirmed_at = Some(now);
        self.backoff.reset();
        self.store.update(|s| {
            s.presence = match node {
                Some(n) => Presence::Present(n),
                None => Presence::NotFound,
            };
            mark_live(s, now);
        });
    }
}

fn mark_live(s: &mut NodeState, now: Instant) {
    s.live = true;
    s.confirmed_at = Some(now);
    s.last_error = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_event_type() {
        let node = r#"{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1","resourceVersion":"7"},"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"PLEG is not healthy"}]}}"#;
        let cases: Vec<(String, Event)> = vec![
            (format!(r#"{{"type":"ADDED","object":{node}}}"#), Event::Upsert(Node::from_json(serde_json::from_str(node).unwrap()).unwrap())),
            (format!("{{\"type\":\"MODIFIED\",\"object\":{node}}}\n"), Event::Upsert(Node::from_json(serde_json::from_str(node).unwrap()).unwrap())),
            (format!(r#"{{"type":"DELETED","object":{node}}}"#), Event::Deleted(Node::from_json(serde_json::from_str(node).unwrap()).unwrap())),
            (
                r#"{"type":"BOOKMARK","object":{"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":"12345","annotations":{"k8s.io/initial-events-end":"true"}}}}"#.into(),
                Event::Bookmark("12345".into()),
            ),
            (
                r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (4212)","reason":"Expired","code":410}}"#.into(),
                Event::Expired("API 410 Expired: too old resource version: 1 (4212)".into()),
            ),
            (
                r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"etcdserver: request timed out","code":500}}"#.into(),
                Event::Error("API 500: etcdserver: request timed out".into()),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(decode_event(line.as_bytes()), Ok(Some(want)), "{line}");
        }
        let Some(Event::Upsert(n)) = decode_event(format!(r#"{{"type":"ADDED","object":{node}}}"#).as_bytes()).unwrap()
        else {
            panic!("not an upsert")
        };
        assert_eq!(n.metadata.resource_version, "7");
        assert_eq!(n.condition("Ready").unwrap().describe(), "KubeletNotReady: PLEG is not healthy");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for line in [
            &b"<html>502 Bad Gateway</html>\n"[..],
            b"{\"type\":\"ADDED\"}",
            b"{\"type\":\"ADDED\",\"object\":{\"spec\":{\"taints\":7}}}",
            b"{\"type\":\"WHATEVER\",\"object\":{}}",
            b"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}",
            b"{\"object\":{}}",
            b"\xff\xfe",
            b"[1,2,3]",
        ] {
            assert!(decode_event(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(decode_event(b"\r\n"), Ok(None));
        assert!(matches!(decode_event(br#"{"type":"ERROR","object":{"kind":"Node"}}"#), Ok(Some(Event::Error(_)))));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut nominal = Duration::from_secs(1);
        for i in 0..40u64 {
            let low = b.clone().next_delay(0);
            let high = b.clone().next_delay(u64::MAX - 1);
            let d = b.next_delay(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            assert!(d >= nominal / 2 && d <= nominal, "attempt {i}: {d:?} outside [{:?}, {nominal:?}]", nominal / 2);
            assert!(low == nominal / 2 && high <= nominal, "attempt {i}");
            assert!(d <= Duration::from_secs(30));
            nominal = (nominal * 2).min(Duration::from_secs(30));
        }
        b.reset();
        assert!(b.next_delay(random()) <= Duration::from_secs(1));
    }

    #[test]
    fn request_paths() {
        assert_eq!(list_path("n1"), "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&resourceVersion=0");
        assert_eq!(
            watch_path("n1.example", "123", 431),
            "/api/v1/nodes?fieldSelector=metadata.name%3Dn1.example&watch=1&allowWatchBookmarks=true\
             &timeoutSeconds=431&resourceVersion=123"
        );
        assert!(watch_path("n1", "a b&c", 300).ends_with("resourceVersion=a%20b%26c"));
        assert_eq!(get_path("n1"), "/api/v1/nodes/n1");
    }

    #[test]
    fn list_answers() {
        let v = serde_json::json!({"kind": "NodeList", "metadata": {"resourceVersion": "99"},
            "items": [{"metadata": {"name": "n1", "resourceVersion": "90"}}]});
        let (n, rv) = decode_list(&v, "n1").unwrap();
        assert_eq!((n.unwrap().metadata.name.as_str(), rv.as_str()), ("n1", "99"));
        let empty = serde_json::json!({"kind": "NodeList", "metadata": {"resourceVersion": "5"}, "items": []});
        assert_eq!(decode_list(&empty, "n1").unwrap(), (None, "5".to_string()));
        assert!(decode_list(&serde_json::json!({"items": []}), "n1").is_err());
        assert!(decode_list(&serde_json::json!({"kind": "Status"}), "n1").is_err());
    }
}
