//! The one verdict wrapper of the three checks that read the Node snapshot
//! (node_ready, custom_conditions, node_eligible): the outage policy first
//! (`kube::usable_node`), then the check's own judgement of the Node.
//!
//! "Could not tell" (never reached, no credentials, stale) is `Unknown`,
//! never `Fail`: a definite failure of node_eligible means "drain" to the
//! HAProxy agent, and an API outage must not read as "this node is cordoned".
//! A Node the API says does not exist is a definite answer: `Fail`.

use std::time::Instant;

use super::Outcome;
use crate::config::Config;
use crate::kube::{Node, NodeState, Unusable, usable_node};

/// The verdict of a snapshot check: `judge` runs only on a usable Node.
pub fn verdict(state: &NodeState, config: &Config, now: Instant, judge: impl FnOnce(&Node) -> Outcome) -> Outcome {
    match usable_node(state, config.node_state_max_staleness, now) {
        Ok(node) => judge(node),
        Err(Unusable::CannotTell(why)) => Outcome::unknown(why),
        Err(Unusable::NotFound(why)) => Outcome::fail(why),
    }
}
