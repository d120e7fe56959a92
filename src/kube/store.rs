//! [`Store`]: the snapshot a watcher publishes and checks read (an `Arc`
//! swapped under a `RwLock`, so a reader holds the lock only to clone the
//! `Arc`), a change counter with a condvar for waiters, and the watch
//! statistics for /metrics. [`NodeStore`] holds the Node's; each watched
//! Service has a `Store<SliceState>`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::Instant;

use super::{NodeState, Presence};

pub struct Store<S> {
    state: RwLock<Arc<S>>,
    generation: Mutex<u64>,
    changed: Condvar,
    stats: WatchStats,
    /// The API server the watcher talks to, once credentials name one.
    api_server: OnceLock<String>,
}

/// Why a watch ended and another one was opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Restart {
    /// The server ended the stream (timeoutSeconds reached): routine.
    Closed,
    /// 410 Gone / Expired: history compacted, relisted.
    Expired,
    /// No byte for the idle timeout: presumed dead, replaced.
    Idle,
    /// Transport failure, error status, ERROR event or garbage.
    Error,
}

impl Restart {
    pub const ALL: [Restart; 4] = [Restart::Closed, Restart::Expired, Restart::Idle, Restart::Error];

    pub fn label(self) -> &'static str {
        match self {
            Restart::Closed => "closed",
            Restart::Expired => "expired",
            Restart::Idle => "idle",
            Restart::Error => "error",
        }
    }
}

/// API request verbs the watcher uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verb {
    List,
    Watch,
    Get,
}

impl Verb {
    pub const ALL: [Verb; 3] = [Verb::List, Verb::Watch, Verb::Get];

    pub fn label(self) -> &'static str {
        match self {
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Get => "get",
        }
    }
}

/// Counters for /metrics; cheap to read from any thread.
#[derive(Default)]
pub struct WatchStats {
    connected: AtomicBool,
    polling: AtomicBool,
    restarts: [AtomicU64; 4],
    requests: [AtomicU64; 3],
}

impl WatchStats {
    /// A watch stream is open right now.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// RBAC forbids list/watch: the watcher polls with GET instead.
    pub fn polling(&self) -> bool {
        self.polling.load(Ordering::Relaxed)
    }

    /// `(reason label, count)` for every restart reason.
    pub fn restarts(&self) -> Vec<(&'static str, u64)> {
        Restart::ALL.iter().map(|r| (r.label(), self.restarts[*r as usize].load(Ordering::Relaxed))).collect()
    }

    /// `(verb label, count)` of API requests sent.
    pub fn requests(&self) -> Vec<(&'static str, u64)> {
        Verb::ALL.iter().map(|v| (v.label(), self.requests[*v as usize].load(Ordering::Relaxed))).collect()
    }

    #[cfg(test)]
    pub fn request_count(&self, verb: Verb) -> u64 {
        self.requests[verb as usize].load(Ordering::Relaxed)
    }

    pub(super) fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Relaxed);
    }

    pub(super) fn set_polling(&self, v: bool) {
        self.polling.store(v, Ordering::Relaxed);
    }

    pub(super) fn restarted(&self, why: Restart) {
        self.restarts[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn requested(&self, verb: Verb) {
        self.requests[verb as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// The Node watcher's store.
pub type NodeStore = Store<NodeState>;

impl NodeStore {
    pub fn new(node_name: &str) -> NodeStore {
        Store::with(NodeState::new(node_name))
    }

    /// Waits until the first answer about the Node (or the lack of
    /// credentials) is known, or `deadline`; returns the snapshot then.
    /// For the one-shot `check` subcommand.
    pub fn wait_first(&self, deadline: Instant) -> Arc<NodeState> {
        self.wait_until(deadline, |s| s.presence != Presence::Unknown || s.no_credentials.is_some())
    }
}

impl<S: Clone> Store<S> {
    /// A store holding `initial` until a watcher publishes.
    pub fn with(initial: S) -> Store<S> {
        Store {
            state: RwLock::new(Arc::new(initial)),
            generation: Mutex::new(0),
            changed: Condvar::new(),
            stats: WatchStats::default(),
            api_server: OnceLock::new(),
        }
    }

    /// The API server URL (for the status page), once credentials were found.
    pub fn api_server(&self) -> Option<&str> {
        self.api_server.get().map(String::as_str)
    }

    pub(crate) fn set_api_server(&self, server: &str) {
        let _ = self.api_server.set(server.to_string());
    }

    /// The current snapshot; never blocks on the API.
    pub fn snapshot(&self) -> Arc<S> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn stats(&self) -> &WatchStats {
        &self.stats
    }

    /// Waits until `pred` holds for a published snapshot, or `deadline`;
    /// returns the last snapshot either way.
    pub fn wait_until(&self, deadline: Instant, pred: impl Fn(&S) -> bool) -> Arc<S> {
        let mut generation = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let snap = self.snapshot();
            let left = deadline.saturating_duration_since(Instant::now());
            if pred(&snap) || left.is_zero() {
                return snap;
            }
            let seen = *generation;
            while *generation == seen {
                let (g, timeout) = self.changed.wait_timeout(generation, left).unwrap_or_else(|p| p.into_inner());
                generation = g;
                if timeout.timed_out() {
                    break;
                }
            }
        }
    }

    /// Publishes a new snapshot made by `f` from a copy of the current one.
    pub(crate) fn update(&self, f: impl FnOnce(&mut S)) {
        {
            let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
            let mut next = S::clone(&guard);
            f(&mut next);
            *guard = Arc::new(next);
        }
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wait_first_returns_when_the_watcher_publishes() {
        let store = Arc::new(NodeStore::new("n1"));
        let s = store.clone();
        let publisher = std::thread::spawn(move || s.update(|st| st.presence = Presence::NotFound));
        let snap = store.wait_first(Instant::now() + Duration::from_secs(30));
        assert_eq!(snap.presence, Presence::NotFound);
        publisher.join().unwrap();
    }

    #[test]
    fn wait_first_gives_up_at_the_deadline() {
        let store = NodeStore::new("n1");
        let snap = store.wait_first(Instant::now() + Duration::from_millis(20));
        assert_eq!(snap.presence, Presence::Unknown);
    }

    #[test]
    fn stats_count_by_label() {
        let store = NodeStore::new("n1");
        store.stats.requested(Verb::Watch);
        store.stats.requested(Verb::Watch);
        store.stats.restarted(Restart::Idle);
        assert!(store.stats().requests().contains(&("watch", 2)));
        assert!(store.stats().restarts().contains(&("idle", 1)));
        assert_eq!(store.stats().request_count(Verb::List), 0);
    }
}
