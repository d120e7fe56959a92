//! What the one list/watch machinery ([`super::watch`]) needs to know about
//! a watched resource: where its collection is, how to decode an object,
//! and how objects and answers change the published snapshot.
//!
//! Two resources use it: our Node (`node_watch`, one object by field
//! selector, GET polling when RBAC forbids list/watch) and the
//! EndpointSlices of one Service (`slice_watch`, a namespaced collection by
//! label selector, no polling fallback).

use std::sync::Arc;
use std::time::Instant;

/// The parts of a published snapshot every watched resource has: when the
/// API last answered, why it last failed, why there are no credentials.
pub trait ApiState: Clone + Send + Sync + 'static {
    /// The API answered at `now`: the state is current, the last error gone.
    fn mark_live(&mut self, now: Instant);
    fn set_error(&mut self, why: String);
    fn set_no_credentials(&mut self, why: Option<String>);
    fn confirmed_at(&self) -> Option<Instant>;
}

/// One watched resource. `&self` carries what names the watch (the node
/// name; the Service's namespace and name).
pub trait Resource: Send + 'static {
    type Object: Send + Sync + 'static;
    type State: ApiState;

    /// Names the watch in log lines: `node`, `endpointslices of ns/name`.
    fn describe(&self) -> &str;
    /// The resource as RBAC rules name it, for log lines: `nodes`.
    fn plural(&self) -> &'static str;
    /// The collection with its selector, no resourceVersion:
    /// `/api/v1/nodes?fieldSelector=metadata.name%3Dn1`.
    fn collection(&self) -> &str;
    fn decode(&self, v: serde_json::Value) -> Result<Self::Object, String>;
    fn resource_version(obj: &Self::Object) -> &str;
    /// Whether an object the server sent is one we watch (the server
    /// filters already; this keeps a stray one out of the state).
    fn wanted(&self, obj: &Self::Object) -> bool;
    /// A list answered: `items` is the whole selection now.
    fn replace(&self, state: &mut Self::State, items: Vec<Arc<Self::Object>>);
    /// ADDED or MODIFIED.
    fn upsert(&self, state: &mut Self::State, obj: Arc<Self::Object>);
    /// DELETED (or no longer selected).
    fn remove(&self, state: &mut Self::State, obj: &Self::Object);
    /// The object to GET when RBAC forbids list/watch; `None`: no such
    /// fallback, [`Resource::forbid`] publishes why instead.
    fn poll_path(&self) -> Option<String> {
        None
    }
    /// RBAC forbids `verb` and there is no polling fallback: `why` is the
    /// reason a check shows until a list succeeds.
    fn forbid(&self, _state: &mut Self::State, _verb: &str) {}
}
