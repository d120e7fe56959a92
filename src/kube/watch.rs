//! The one watcher thread body, an informer for any [`Resource`] (our
//! Node, the EndpointSlices of a Service): list the selection with
//! `resourceVersion=0` (served from the API server's watch cache, not a
//! quorum read on etcd), then watch it from the list's resourceVersion with
//! bookmarks, resuming from the last seen version when the server ends the
//! stream; relist on 410; exponential backoff with jitter on errors; replace
//! a watch that stays silent for the idle timeout; with a staleness limit,
//! confirm a quiet watch alive with a cheap request while it stays open
//! ([`super::quiet`]); when RBAC forbids list/watch, fall back to GET
//! polling where the resource has one, else publish why and keep retrying.
//!
//! The stream is read on a thread of its own (one per watch) that hands
//! lines over a channel, so this loop can wake up for a confirmation while
//! the read blocks; every state change is still made here, by one thread.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::backoff::{Backoff, random};
use super::client::{ApiError, Client, WatchStream};
use super::credentials::{ApiConfig, discover};
use super::protocol::{Event, ListFrom, collection_list_path, collection_watch_path, decode_event, decode_list};
use super::quiet;
use super::resource::{ApiState, Resource};
use super::store::{Restart, Store, Verb};
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
/// A watch that stayed open this long proves the API healthy again: the
/// backoff starts over. (Not any success: a server that accepts and then
/// breaks every watch must still see growing delays.)
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);
/// How often missing credentials are looked for again.
const CREDENTIALS_RETRY: Duration = Duration::from_secs(30);
/// In GET-polling mode, how often list/watch is tried again (RBAC fixed?).
const WATCH_RETRY_FROM_POLL: Duration = Duration::from_secs(600);
/// 403s on list/watch retried with the backoff (1 + 2 + 4 s) before polling,
/// once a watch has worked: a restarted API server's RBAC is filling.
const FORBIDDEN_RETRIES: u32 = 3;
/// The stream reader thread only moves lines (the TLS and chunked decoding
/// happen there too): a small stack is plenty.
const READER_STACK: usize = 256 << 10;

/// Thread body: find credentials (retrying while there are none), then
/// list → watch `resource` forever, publishing into `store`.
pub fn run<R: Resource>(resource: R, store: Arc<Store<R::State>>, config: Config, first: Result<ApiConfig, String>) {
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
                        store.set_api_server(&api.server);
                        store.update(|s| s.set_no_credentials(None));
                    }
                    Err(why) => store.update(|s| s.set_no_credentials(Some(why.clone()))),
                }
            }
        }
    };
    if api.insecure_skip_tls_verify {
        log::warn("kubeconfig sets insecure-skip-tls-verify: the API server's certificate is NOT verified");
    }
    let client = Client::new(api, config.node_api_timeout, config.node_watch_idle_timeout);
    Watcher::new(resource, store, client, &config).run();
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
    /// The connection broke: resume from the last version.
    Broken(String),
    /// ERROR event or garbage: our version is in doubt, relist.
    Failed(String),
}

struct Watcher<R: Resource> {
    resource: R,
    store: Arc<Store<R::State>>,
    client: Client,
    poll_interval: Duration,
    /// NODE_STATE_MAX_STALENESS_SECONDS: with it, a quiet watch is confirmed.
    max_staleness: Option<Duration>,
    backoff: Backoff,
    mode: Mode,
    /// Last moment the API answered us (a line on the watch counts).
    confirmed_at: Option<Instant>,
    /// When the last confirmation of a quiet watch failed (`None` since one
    /// succeeded): the next one waits half the limit from then.
    confirm_failed_at: Option<Instant>,
    /// The resourceVersion of a state a confirmation published ahead of the
    /// watch; older events are skipped (never back in time).
    ahead: Option<u64>,
    /// The RBAC fallback is explained in the log once, not on every retry.
    poll_logged: bool,
    /// The last exchange failed: the next success is logged.
    failing: bool,
    /// Where the next list is served from (see [`ListFrom`]).
    next_list: ListFrom,
    /// 410s in a row without a healthy watch in between: each waits a
    /// backoff step, so a lagging cache cannot make us relist in a loop.
    expired_streak: u32,
    /// 403s in a row on list/watch after a watch had opened (see `forbidden`).
    forbidden_streak: u32,
    /// A watch opened with these credentials at least once.
    watched: bool,
}

impl<R: Resource> Watcher<R> {
    fn new(resource: R, store: Arc<Store<R::State>>, client: Client, config: &Config) -> Watcher<R> {
        Watcher {
            resource,
            store,
            client,
            poll_interval: poll_interval(config),
            max_staleness: config.node_state_max_staleness,
            backoff: Backoff::new(BACKOFF_BASE, BACKOFF_CAP),
            mode: Mode::Watch,
            confirmed_at: None,
            confirm_failed_at: None,
            ahead: None,
            poll_logged: false,
            failing: false,
            next_list: ListFrom::WatchCache,
            expired_streak: 0,
            forbidden_streak: 0,
            watched: false,
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
        if self.expired_streak > 1 {
            std::thread::sleep(self.backoff.next_delay(random()));
        }
        self.store.stats().requested(Verb::List);
        let answer = self.client.get_json(&collection_list_path(self.resource.collection(), &self.next_list));
        let mut rv = match answer.map_err(|e| (e.code(), e.to_string(), e.retry_after())) {
            Ok(v) => match self.decode_list(&v) {
                Ok((items, rv)) => {
                    self.publish(items);
                    rv
                }
                Err(why) => return self.failed(&why, None),
            },
            Err((Some(403), why, _)) => return self.forbidden("list", &why),
            Err((code, why, retry_after)) => {
                // "Too large resource version": that server's cache is behind
                // what we saw; client-go then falls back to a consistent read.
                if code == Some(504) || why.contains("Too large resource version") {
                    self.next_list = ListFrom::Consistent;
                }
                return self.failed(&why, retry_after);
            }
        };
        self.ahead = None; // the list is at least as new (NotOlderThan the floor)
        self.next_list = ListFrom::NotOlderThan(rv.clone());
        loop {
            let timeout = WATCH_TIMEOUT_SECS.0 + random() % (WATCH_TIMEOUT_SECS.1 - WATCH_TIMEOUT_SECS.0 + 1);
            self.store.stats().requested(Verb::Watch);
            let started = Instant::now();
            let stream = match self.client.watch(&collection_watch_path(self.resource.collection(), &rv, timeout)) {
                Ok(s) => s,
                Err(e) if e.code() == Some(410) => {
                    self.store.stats().restarted(Restart::Expired);
                    return self.expired();
                }
                Err(e) if e.code() == Some(403) => return self.forbidden("watch", &e.to_string()),
                Err(e) => {
                    self.failed(&e.to_string(), e.retry_after());
                    continue;
                }
            };
            let lines = match read_stream(stream) {
                Ok(rx) => rx,
                Err(why) => {
                    self.failed(&why, None);
                    continue;
                }
            };
            self.store.stats().set_connected(true);
            self.store.stats().set_polling(false);
            (self.watched, self.forbidden_streak) = (true, 0);
            self.confirm();
            let mut events = 0u64;
            let end = loop {
                let next = match quiet::due(self.max_staleness, self.answered_at(), self.confirm_failed_at) {
                    None => lines.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(due) => lines.recv_timeout(due.saturating_duration_since(Instant::now())),
                };
                let line = match next {
                    Err(RecvTimeoutError::Timeout) => {
                        self.confirm_quiet_watch(&rv);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break End::Broken("watch reader stopped".into()),
                    Ok(Line::End(Ok(()))) => break End::Closed,
                    Ok(Line::End(Err(e @ ApiError::Idle(_)))) => break End::Idle(e),
                    Ok(Line::End(Err(e))) => break End::Broken(e.to_string()),
                    Ok(Line::Data(line)) => line,
                };
                // Any line, a bookmark too, is the API answering.
                self.confirm();
                match decode_event(&line, |v| self.resource.decode(v)) {
                    Ok(None) => {}
                    Ok(Some(event)) => {
                        events += 1;
                        match event {
                            Event::Upsert(o) if self.resource.wanted(&o) => {
                                let at = R::resource_version(&o).to_string();
                                advance(&mut rv, &at);
                                if !quiet::behind(&at, self.ahead) {
                                    self.apply(|r, s| r.upsert(s, Arc::new(o)));
                                }
                            }
                            Event::Deleted(o) if self.resource.wanted(&o) => {
                                let at = R::resource_version(&o).to_string();
                                advance(&mut rv, &at);
                                if !quiet::behind(&at, self.ahead) {
                                    self.apply(|r, s| r.remove(s, &o));
                                }
                            }
                            Event::Upsert(_) | Event::Deleted(_) => {}
                            Event::Bookmark(v) => rv = v,
                            Event::Expired(why) => break End::Expired(why),
                            Event::Error(why) => break End::Failed(why),
                        }
                    }
                    Err(why) => break End::Failed(why),
                }
            };
            self.store.stats().set_connected(false);
            if started.elapsed() >= BACKOFF_RESET_AFTER {
                self.backoff.reset();
                self.expired_streak = 0;
            }
            self.next_list = ListFrom::NotOlderThan(self.floor(&rv));
            match end {
                End::Closed => {
                    self.store.stats().restarted(Restart::Closed);
                    if events == 0 && started.elapsed() < MIN_HEALTHY_WATCH {
                        // A server that closes at once must not make us spin.
                        std::thread::sleep(self.backoff.next_delay(random()));
                    }
                }
                End::Expired(why) => {
                    let what = self.resource.describe();
                    log::info_limited("kube-watch-expired", &format!("{what} watch expired ({why}); relisting"));
                    self.store.stats().restarted(Restart::Expired);
                    return self.expired();
                }
                End::Idle(e) => {
                    self.store.stats().restarted(Restart::Idle);
                    self.failed(&e.to_string(), None);
                }
                End::Broken(why) => {
                    self.store.stats().restarted(Restart::Error);
                    self.failed(&why, None);
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
        let Some(path) = self.resource.poll_path() else {
            self.mode = Mode::Watch;
            return;
        };
        self.store.stats().requested(Verb::Get);
        match self.client.get_json(&path) {
            Ok(v) => match self.resource.decode(v) {
                Ok(o) => {
                    self.publish(vec![o]);
                    self.backoff.reset();
                    std::thread::sleep(self.poll_interval);
                }
                Err(why) => self.failed_polling(&why, None),
            },
            Err(e) if e.code() == Some(404) => {
                self.publish(Vec::new());
                self.backoff.reset();
                std::thread::sleep(self.poll_interval);
            }
            Err(e) if e.code() == Some(403) => {
                self.failed_polling(&format!("RBAC forbids get on {}: {e}", self.resource.plural()), None);
            }
            Err(e) => self.failed_polling(&e.to_string(), e.retry_after()),
        }
    }

    fn failed_polling(&mut self, why: &str, retry_after: Option<Duration>) {
        self.record_failure(why);
        let delay = self.backoff.next_delay(random()).max(self.poll_interval);
        std::thread::sleep(delay.max(retry_after.unwrap_or_default().min(BACKOFF_CAP)));
    }

    /// list or watch answered 403. Not final at once when a watch worked
    /// before: a kube-apiserver that has just (re)started serves before its
    /// RBAC caches are filled and answers 403 for a moment (seen on v1.36
    /// after SIGKILL); taking that for missing RBAC would cost every node
    /// its instant updates (or, for slices, flash an RBAC reason) after each
    /// API server restart. Then: poll with GET instead where the resource
    /// allows (for a Node, the Node authorizer and get-only RBAC roles do);
    /// otherwise publish why and try again after a backoff step (the RBAC
    /// may be applied any moment; a 403 costs the server little).
    fn forbidden(&mut self, verb: &str, why: &str) {
        if self.watched && self.forbidden_streak < FORBIDDEN_RETRIES {
            self.forbidden_streak += 1;
            return self
                .failed(&format!("{verb} forbidden, retrying (an API server that just started may): {why}"), None);
        }
        let plural = self.resource.plural();
        let Some(path) = self.resource.poll_path() else {
            self.record_failure(&format!("RBAC forbids {verb} on {plural}: {why}"));
            self.store.update(|s| self.resource.forbid(s, verb));
            std::thread::sleep(self.backoff.next_delay(random()));
            return;
        };
        if !self.poll_logged {
            log::warn(&format!(
                "RBAC forbids {verb} on {plural} ({why}); polling GET {path} every {} s instead \
                 (grant get,list,watch on {plural} for instant updates)",
                self.poll_interval.as_secs()
            ));
            self.poll_logged = true;
        }
        self.store.stats().set_polling(true);
        self.mode = Mode::Poll(Instant::now());
    }

    /// Records the failure, marks the state unconfirmed since the API last
    /// answered, and sleeps the backoff delay.
    /// Our resourceVersion is gone from the server's history: relist with a
    /// consistent read, after a backoff step when it keeps happening.
    fn expired(&mut self) {
        self.expired_streak += 1;
        self.next_list = ListFrom::Consistent;
    }

    fn failed(&mut self, why: &str, retry_after: Option<Duration>) {
        self.record_failure(why);
        let delay = self.backoff.next_delay(random());
        std::thread::sleep(delay.max(retry_after.unwrap_or_default().min(BACKOFF_CAP)));
    }

    fn record_failure(&mut self, why: &str) {
        self.failing = true;
        log::warn_limited("kube-api", &format!("Kubernetes API: {why}"));
        self.store.update(|s| s.set_error(why.to_string()));
    }

    /// A watch that has been quiet for half the staleness limit: ask once
    /// more, on the request agent's connection (not the watch's), bounded by
    /// NODE_API_TIMEOUT_MS. The watch stays open either way.
    fn confirm_quiet_watch(&mut self, watch_rv: &str) {
        self.store.stats().requested(Verb::List);
        let answer = self.client.get_json(&collection_list_path(self.resource.collection(), &ListFrom::WatchCache));
        match answer.map_err(|e| e.to_string()).and_then(|v| self.decode_list(&v)) {
            Ok((items, _)) => {
                self.confirm_failed_at = None;
                // An object newer than anything the watch delivered proves
                // the answering cache newer than our whole state.
                let at = items.iter().filter_map(|o| quiet::newer(R::resource_version(o), watch_rv, self.ahead)).max();
                match at {
                    // The watch has not delivered this change (yet, or it is
                    // stuck): publish the answer; the watch's older events
                    // are skipped.
                    Some(at) => {
                        self.ahead = Some(at);
                        self.publish(items);
                    }
                    // Same state, a lagging cache, or only gone objects (a
                    // deletion comes as a watch event): the API is answering.
                    None => self.confirm(),
                }
            }
            Err(why) => {
                self.confirm_failed_at = Some(Instant::now());
                self.record_failure(&format!("quiet watch not confirmed: {why}"));
            }
        }
    }

    /// The last moment the API answered (now if it never did: only asked
    /// while a watch is open, which is an answer).
    fn answered_at(&self) -> Instant {
        self.confirmed_at.unwrap_or_else(Instant::now)
    }

    /// The version a relist must not be older than: the watch's, or a newer
    /// one a confirmation published.
    fn floor(&self, rv: &str) -> String {
        match (rv.parse::<u64>(), self.ahead) {
            (Ok(r), Some(a)) if a > r => a.to_string(),
            _ => rv.to_string(),
        }
    }

    /// The API answered: the state is current.
    fn confirm(&mut self) {
        self.log_recovery();
        let now = Instant::now();
        self.confirmed_at = Some(now);
        self.store.update(|s| s.mark_live(now));
    }

    /// A list's objects we watch, and its resourceVersion.
    fn decode_list(&self, v: &serde_json::Value) -> Result<(Vec<R::Object>, String), String> {
        let (mut items, rv) = decode_list(v, |o| self.resource.decode(o))?;
        items.retain(|o| self.resource.wanted(o));
        Ok((items, rv))
    }

    /// Publishes a list's answer (the whole selection) as just confirmed.
    fn publish(&mut self, items: Vec<R::Object>) {
        let items = items.into_iter().map(Arc::new).collect();
        self.apply(|r, s| r.replace(s, items));
    }

    /// Publishes the change `f` makes to the state, as just confirmed.
    fn apply(&mut self, f: impl FnOnce(&R, &mut R::State)) {
        self.log_recovery();
        let now = Instant::now();
        self.confirmed_at = Some(now);
        let resource = &self.resource;
        self.store.update(|s| {
            f(resource, s);
            s.mark_live(now);
        });
    }

    fn log_recovery(&mut self) {
        if self.failing {
            self.failing = false;
            log::info(&format!("Kubernetes API answering again; {} state current", self.resource.describe()));
        }
    }
}

/// Moves the resume point to an event's version (an event without one, which
/// the API never sends, leaves it where it was).
fn advance(rv: &mut String, event_rv: &str) {
    if !event_rv.is_empty() {
        *rv = event_rv.to_string();
    }
}

/// GET polling (RBAC forbids list/watch) at NODE_POLL_INTERVAL_SECONDS, or
/// at half the staleness limit when that is shorter: each answer is what
/// keeps the state from going stale there.
fn poll_interval(config: &Config) -> Duration {
    let interval = config.node_poll_interval;
    config.node_state_max_staleness.map_or(interval, |l| interval.min(l / 2))
}

/// One line of the stream, or how it ended.
enum Line {
    Data(Vec<u8>),
    /// `Ok` when the server ended the stream.
    End(Result<(), ApiError>),
}

/// Reads `stream` on its own thread until it ends. The thread stops after
/// the end, or at the next line once the loop dropped the receiver (a
/// watch given up after an ERROR event; the server closes those itself).
fn read_stream(mut stream: WatchStream) -> Result<Receiver<Line>, String> {
    let (tx, rx) = mpsc::channel();
    let reader = move || {
        loop {
            let line = match stream.next_line() {
                Ok(Some(l)) => Line::Data(l),
                Ok(None) => Line::End(Ok(())),
                Err(e) => Line::End(Err(e)),
            };
            let end = matches!(line, Line::End(_));
            if tx.send(line).is_err() || end {
                return;
            }
        }
    };
    std::thread::Builder::new()
        .name("watch-read".into())
        .stack_size(READER_STACK)
        .spawn(reader)
        .map(|_| rx)
        .map_err(|e| format!("cannot start the watch reader thread: {e}"))
}
