//! Our Node as a watched resource: one object out of `/api/v1/nodes` by
//! field selector, published as a [`Presence`]; GET polling of
//! `/api/v1/nodes/NAME` when RBAC forbids list/watch (the Node authorizer
//! and get-only roles allow that).

use std::sync::Arc;
use std::time::Instant;

use super::node::Node;
use super::protocol::{get_path, node_collection};
use super::resource::{ApiState, Resource};
use super::{NodeState, Presence};

pub struct NodeResource {
    name: String,
    collection: String,
}

impl NodeResource {
    pub fn new(name: &str) -> NodeResource {
        NodeResource { name: name.to_string(), collection: node_collection(name) }
    }
}

impl Resource for NodeResource {
    type Object = Node;
    type State = NodeState;

    fn describe(&self) -> &str {
        "node"
    }

    fn plural(&self) -> &'static str {
        "nodes"
    }

    fn collection(&self) -> &str {
        &self.collection
    }

    fn decode(&self, v: serde_json::Value) -> Result<Node, String> {
        Node::from_json(v)
    }

    fn resource_version(obj: &Node) -> &str {
        &obj.metadata.resource_version
    }

    fn wanted(&self, obj: &Node) -> bool {
        obj.metadata.name == self.name
    }

    fn replace(&self, state: &mut NodeState, items: Vec<Arc<Node>>) {
        state.presence = match items.into_iter().next() {
            Some(n) => Presence::Present(n),
            None => Presence::NotFound,
        };
    }

    fn upsert(&self, state: &mut NodeState, obj: Arc<Node>) {
        state.presence = Presence::Present(obj);
    }

    fn remove(&self, state: &mut NodeState, _obj: &Node) {
        state.presence = Presence::NotFound;
    }

    fn poll_path(&self) -> Option<String> {
        Some(get_path(&self.name))
    }
}

impl ApiState for NodeState {
    fn mark_live(&mut self, now: Instant) {
        self.confirmed_at = Some(now);
        self.last_error = None;
    }

    fn set_error(&mut self, why: String) {
        self.last_error = Some(why);
    }

    fn set_no_credentials(&mut self, why: Option<String>) {
        self.no_credentials = why;
    }

    fn confirmed_at(&self) -> Option<Instant> {
        self.confirmed_at
    }
}
