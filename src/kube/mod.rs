//! The authoritative Node state from the Kubernetes API: one background
//! thread (the NodeWatcher, [`watch`]) keeps a snapshot current with one list
//! and one long watch; checks only read the snapshot, so a probe never
//! causes an API request.
//!
//! [`usable_node`] is the outage policy of design §3, shared by every
//! API-backed check.
//!
//! Files: `credentials` finds credentials (kubeconfig / in-cluster), `client`
//! speaks HTTP to the API server (`connect_to` for tls-server-name, `status`
//! for error bodies), `protocol` is the list/watch wire format, `watch` the
//! thread, `backoff` its retry delays, `store` the published snapshot and
//! stats, `metrics` their /metrics families, `node` the Node fields we read.

mod backoff;
pub mod client;
#[cfg(test)]
mod client_tests;
mod connect_to;
pub mod credentials;
pub mod metrics;
pub mod node;
pub mod protocol;
pub mod status;
mod store;
#[cfg(test)]
mod test_server;
pub mod watch;
#[cfg(test)]
mod watch_loop_tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;

pub use node::Node;
pub use store::NodeStore;

/// What the API last said about our Node.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    /// No answer yet since start.
    Unknown,
    Present(Arc<Node>),
    /// Listed and absent, 404, or a DELETED event.
    NotFound,
}

/// One immutable snapshot, swapped whole by the watcher.
#[derive(Debug, Clone)]
pub struct NodeState {
    pub name: String,
    pub presence: Presence,
    /// True while the API is answering: a watch is open (even if silent) or
    /// the last poll succeeded. The state is then current.
    pub live: bool,
    /// Last moment the API confirmed the state; while `live`, that is now.
    pub confirmed_at: Option<Instant>,
    /// Why the last API exchange failed (one short line), if it did.
    pub last_error: Option<String>,
    /// Set when no credentials could be found: why.
    pub no_credentials: Option<String>,
}

impl NodeState {
    pub fn new(name: &str) -> NodeState {
        NodeState {
            name: name.to_string(),
            presence: Presence::Unknown,
            live: false,
            confirmed_at: None,
            last_error: None,
            no_credentials: None,
        }
    }

    /// How long the API has not confirmed the state (zero while live or
    /// before anything was ever confirmed).
    pub fn age(&self, now: Instant) -> Duration {
        match (self.live, self.confirmed_at) {
            (false, Some(t)) => now.saturating_duration_since(t),
            _ => Duration::ZERO,
        }
    }
}

/// The outage policy (design §3): the Node to judge, or why there is none.
/// Never seen → unknown; seen and the API unreachable → keep the last state,
/// unless `max_staleness` is set and exceeded; deleted → not found.
pub fn usable_node(state: &NodeState, max_staleness: Option<Duration>, now: Instant) -> Result<&Node, String> {
    if let Some(why) = &state.no_credentials {
        return Err(format!("no Kubernetes credentials: {why}"));
    }
    let why = || state.last_error.clone().unwrap_or_else(|| "no answer from the API server yet".into());
    let age = state.age(now);
    if let Some(max) = max_staleness
        && !state.live
        && state.confirmed_at.is_some()
        && age > max
    {
        return Err(format!("node state stale for {}s: {}", age.as_secs(), why()));
    }
    match &state.presence {
        Presence::Unknown => Err(format!("node state unknown: {}", why())),
        Presence::NotFound => Err(format!("node {:?} not found", state.name)),
        Presence::Present(node) => Ok(node),
    }
}

/// Starts the NodeWatcher thread for `config.node_name` and returns the store
/// it publishes into. Returns at once; credentials are looked up before that
/// so the very first probe can already say when there are none.
pub fn start(config: &Config) -> Arc<NodeStore> {
    let store = Arc::new(NodeStore::new(&config.node_name));
    let creds = credentials::discover(config);
    match &creds {
        Ok(api) => {
            crate::log::info(&format!("Kubernetes API {} via {}", api.server, api.origin));
            store.set_api_server(&api.server);
        }
        Err(why) => {
            crate::log::warn(&format!("no Kubernetes credentials: {why}; API checks fail until they appear"));
            store.update(|s| s.no_credentials = Some(why.clone()));
        }
    }
    let (s, cfg) = (store.clone(), config.clone());
    let spawned = std::thread::Builder::new().name("node-watcher".into()).spawn(move || watch::run(s, cfg, creds));
    if let Err(e) = spawned {
        crate::log::warn(&format!("cannot start the node watcher thread: {e}"));
        store.update(|s| s.last_error = Some(format!("node watcher thread not running: {e}")));
    }
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(presence: Presence, live: bool, confirmed_ago: Option<u64>, now: Instant) -> NodeState {
        NodeState {
            presence,
            live,
            confirmed_at: confirmed_ago.map(|s| now - Duration::from_secs(s)),
            last_error: Some("connection refused".into()),
            ..NodeState::new("n1")
        }
    }

    #[test]
    fn outage_policy() {
        let now = Instant::now() + Duration::from_secs(10_000);
        let node = Presence::Present(Arc::new(Node::default()));
        let min = Some(Duration::from_secs(60));
        type Case = (Presence, bool, Option<u64>, Option<Duration>, Result<(), &'static str>);
        let cases: Vec<Case> = vec![
            (Presence::Unknown, false, None, None, Err("node state unknown: connection refused")),
            (Presence::Unknown, false, None, min, Err("node state unknown: connection refused")),
            // API down for an hour, no staleness limit: keep serving the last state.
            (node.clone(), false, Some(3600), None, Ok(())),
            (node.clone(), false, Some(59), min, Ok(())),
            (node.clone(), false, Some(61), min, Err("node state stale for 61s: connection refused")),
            // A healthy open watch is current however long it has been quiet.
            (node.clone(), true, Some(3600), min, Ok(())),
            (Presence::NotFound, true, Some(0), None, Err("node \"n1\" not found")),
            (Presence::NotFound, false, Some(120), min, Err("node state stale for 120s: connection refused")),
        ];
        for (i, (presence, live, ago, max, want)) in cases.into_iter().enumerate() {
            let s = state(presence, live, ago, now);
            let got = usable_node(&s, max, now).map(|_| ());
            assert_eq!(got, want.map_err(String::from), "case {i}");
        }
    }

    #[test]
    fn no_credentials_wins() {
        let now = Instant::now();
        let mut s = state(Presence::Unknown, false, None, now);
        s.no_credentials = Some("KUBECONFIG is not set".into());
        assert_eq!(usable_node(&s, None, now).unwrap_err(), "no Kubernetes credentials: KUBECONFIG is not set");
    }

    #[test]
    fn never_answered_says_so() {
        let s = NodeState::new("n1");
        assert_eq!(
            usable_node(&s, None, Instant::now()).unwrap_err(),
            "node state unknown: no answer from the API server yet"
        );
    }
}
