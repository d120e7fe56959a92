//! The authoritative state from the Kubernetes API: background watcher
//! threads (one generic list/watch machinery, [`watch`]) keep snapshots
//! current with one list and one long watch each — our Node, and the
//! EndpointSlices of every Service in SERVICE_ENDPOINTS; checks only read
//! the snapshots, so a probe never causes an API request.
//!
//! [`usable_node`] is the outage policy of design §3, shared by every
//! API-backed check ([`SliceState::usable`] applies it to slices).
//!
//! Files: `credentials` finds credentials (kubeconfig / in-cluster), `client`
//! speaks HTTP to the API server (`connect_to` for tls-server-name, `status`
//! for error bodies), `protocol` is the list/watch wire format, `resource`
//! what the machinery needs to know of a resource, `watch` the thread,
//! `quiet` how it confirms a quiet watch alive, `backoff` its retry delays,
//! `store` the published snapshot and stats, `metrics` their /metrics
//! families; `node` the Node fields we read and `node_watch` the Node as a
//! watched resource; `endpoint_slice` and `slice_watch` the same for
//! EndpointSlices.

mod backoff;
pub mod client;
#[cfg(test)]
mod client_tests;
mod connect_to;
pub mod credentials;
pub mod endpoint_slice;
pub mod metrics;
pub mod node;
mod node_watch;
pub mod protocol;
mod quiet;
pub mod resource;
pub mod slice_watch;
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
pub use slice_watch::SliceState;
pub use store::{NodeStore, Store, WatchStats};

/// The store of one Service's EndpointSlices.
pub type SliceStore = Store<SliceState>;

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
    /// Last moment the API answered us: a list, a get, any line on the
    /// watch (event or bookmark), or the answer to a quiet watch's
    /// confirmation. `None` until the first answer.
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
            confirmed_at: None,
            last_error: None,
            no_credentials: None,
        }
    }

    /// How long the API has not answered (zero before it ever did). On a
    /// healthy watch this stays under the bookmark period, or under half
    /// the staleness limit when one is set (the watcher confirms a quiet
    /// watch then, see `watch`).
    pub fn age(&self, now: Instant) -> Duration {
        self.confirmed_at.map(|t| now.saturating_duration_since(t)).unwrap_or_default()
    }
}

/// Why there is no Node to judge.
#[derive(Debug, Clone, PartialEq)]
pub enum Unusable {
    /// The state cannot be judged (never known, no credentials, stale):
    /// "could not tell", which must never read as a definite verdict.
    CannotTell(String),
    /// The API says the Node does not exist: a definite answer.
    NotFound(String),
}

/// The outage policy (design §3): the Node to judge, or why there is none.
/// Never seen → unknown; seen and the API unreachable → keep the last state,
/// unless `max_staleness` is set and exceeded; deleted → not found.
pub fn usable_node(state: &NodeState, max_staleness: Option<Duration>, now: Instant) -> Result<&Node, Unusable> {
    let live = Liveness {
        what: "node",
        no_credentials: state.no_credentials.as_deref(),
        confirmed_at: state.confirmed_at,
        last_error: state.last_error.as_deref(),
        known: state.presence != Presence::Unknown,
    };
    if let Some(why) = cannot_tell(&live, max_staleness, now) {
        return Err(Unusable::CannotTell(why));
    }
    match &state.presence {
        Presence::Unknown => unreachable!("cannot_tell covers an unknown state"),
        Presence::NotFound => Err(Unusable::NotFound(format!("node {:?} not found", state.name))),
        Presence::Present(node) => Ok(node),
    }
}

/// What the outage policy reads of any watched state.
pub(crate) struct Liveness<'a> {
    /// `node`, `endpoint`: the reasons say "node state stale for …".
    pub what: &'a str,
    pub no_credentials: Option<&'a str>,
    pub confirmed_at: Option<Instant>,
    pub last_error: Option<&'a str>,
    /// The API answered about the object(s) at least once.
    pub known: bool,
}

/// The outage policy shared by every watched state: why it cannot be
/// judged (no credentials; stale beyond `max_staleness`; never known), or
/// `None` when it can.
pub(crate) fn cannot_tell(s: &Liveness, max_staleness: Option<Duration>, now: Instant) -> Option<String> {
    if let Some(why) = s.no_credentials {
        return Some(format!("no Kubernetes credentials: {why}"));
    }
    let why = |silent: &str| s.last_error.unwrap_or(silent).to_string();
    let age = s.confirmed_at.map(|t| now.saturating_duration_since(t)).unwrap_or_default();
    if let Some(max) = max_staleness
        && s.confirmed_at.is_some()
        && age > max
    {
        // No error yet: a hung server (connections open, nothing sent) whose
        // confirmation request has not timed out.
        let why = why("no answer from the API server");
        return Some(format!("{} state stale for {}s: {why}", s.what, age.as_secs()));
    }
    (!s.known).then(|| format!("{} state unknown: {}", s.what, why("no answer from the API server yet")))
}

/// Starts the NodeWatcher thread for `config.node_name` and returns the store
/// it publishes into. Returns at once; credentials are looked up before that
/// so the very first probe can already say when there are none.
pub fn start(config: &Config) -> Arc<NodeStore> {
    let store = Arc::new(NodeStore::new(&config.node_name));
    let creds = credentials::discover(config);
    match &creds {
        Ok(api) => crate::log::info(&format!("Kubernetes API {} via {}", api.server, api.origin)),
        Err(why) => crate::log::warn(&format!("no Kubernetes credentials: {why}; API checks fail until they appear")),
    }
    spawn(node_watch::NodeResource::new(&config.node_name), &store, config, creds, "node-watcher");
    store
}

/// Starts one EndpointSlice watcher per Service in SERVICE_ENDPOINTS (none
/// when it is empty) and returns their stores, in the configured order.
pub fn start_services(config: &Config) -> Vec<Arc<SliceStore>> {
    if config.service_endpoints.is_empty() {
        return Vec::new();
    }
    let creds = credentials::discover(config);
    let stores = config
        .service_endpoints
        .iter()
        .map(|svc| {
            let store = Arc::new(SliceStore::with(SliceState::new(svc)));
            spawn(slice_watch::SliceResource::new(svc), &store, config, creds.clone(), "slices-watcher");
            store
        })
        .collect();
    let names: Vec<String> = config.service_endpoints.iter().map(ToString::to_string).collect();
    crate::log::info(&format!("watching the EndpointSlices of {}", names.join(", ")));
    stores
}

/// Runs the watcher of `resource` on its own thread; a failure to start it
/// is published as the reason its checks give.
fn spawn<R: resource::Resource>(
    resource: R,
    store: &Arc<Store<R::State>>,
    config: &Config,
    creds: Result<credentials::ApiConfig, String>,
    thread: &str,
) {
    use resource::ApiState;
    match &creds {
        Ok(api) => store.set_api_server(&api.server),
        Err(why) => store.update(|s| s.set_no_credentials(Some(why.clone()))),
    }
    let (s, cfg) = (store.clone(), config.clone());
    let spawned = std::thread::Builder::new().name(thread.into()).spawn(move || watch::run(resource, s, cfg, creds));
    if let Err(e) = spawned {
        crate::log::warn(&format!("cannot start the {thread} thread: {e}"));
        store.update(|s| s.set_error(format!("{thread} thread not running: {e}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(presence: Presence, confirmed_ago: Option<u64>, now: Instant) -> NodeState {
        NodeState {
            presence,
            confirmed_at: confirmed_ago.map(|s| now - Duration::from_secs(s)),
            last_error: Some("connection refused".into()),
            ..NodeState::new("n1")
        }
    }

    #[test]
    fn outage_policy() {
        use Unusable::{CannotTell, NotFound};
        let now = Instant::now() + Duration::from_secs(10_000);
        let node = Presence::Present(Arc::new(Node::default()));
        let min = Some(Duration::from_secs(60));
        let tell = |s: &str| Err(CannotTell(s.to_string()));
        type Case = (Presence, Option<u64>, Option<Duration>, Result<(), Unusable>);
        let cases: Vec<Case> = vec![
            (Presence::Unknown, None, None, tell("node state unknown: connection refused")),
            (Presence::Unknown, None, min, tell("node state unknown: connection refused")),
            // API down for an hour, no staleness limit: keep serving the last state.
            (node.clone(), Some(3600), None, Ok(())),
            (node.clone(), Some(59), min, Ok(())),
            (node.clone(), Some(61), min, tell("node state stale for 61s: connection refused")),
            (Presence::NotFound, Some(0), None, Err(NotFound("node \"n1\" not found".into()))),
            (Presence::NotFound, Some(120), min, tell("node state stale for 120s: connection refused")),
        ];
        for (i, (presence, ago, max, want)) in cases.into_iter().enumerate() {
            let s = state(presence, ago, now);
            let got = usable_node(&s, max, now).map(|_| ());
            assert_eq!(got, want, "case {i}");
        }
        // A hung server: nothing failed yet, it just stopped answering.
        let hung = NodeState { last_error: None, ..state(node, Some(3), now) };
        assert_eq!(
            usable_node(&hung, Some(Duration::from_secs(2)), now).unwrap_err(),
            CannotTell("node state stale for 3s: no answer from the API server".into())
        );
    }

    #[test]
    fn no_credentials_wins() {
        let now = Instant::now();
        let mut s = state(Presence::Unknown, None, now);
        s.no_credentials = Some("KUBECONFIG is not set".into());
        assert_eq!(
            usable_node(&s, None, now).unwrap_err(),
            Unusable::CannotTell("no Kubernetes credentials: KUBECONFIG is not set".into())
        );
    }

    #[test]
    fn never_answered_says_so() {
        let s = NodeState::new("n1");
        assert_eq!(
            usable_node(&s, None, Instant::now()).unwrap_err(),
            Unusable::CannotTell("node state unknown: no answer from the API server yet".into())
        );
    }
}
