//! `node_ready`: the Node's `Ready` condition is `True`, as last published
//! by the NodeWatcher (no API call here). Otherwise the condition's own
//! `reason: message`, e.g. `KubeletNotReady: container runtime is down`.

use std::time::Instant;

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::config::Config;
use crate::kube::{Node, NodeState};

pub const CHECK: Check = Check { id: CheckId::NodeReady, exec: Exec::Snapshot, run };

fn run(ctx: &Ctx, _deadline: Instant) -> Outcome {
    verdict(&ctx.node.snapshot(), &ctx.config, Instant::now())
}

/// The verdict on a snapshot, outage policy included.
pub fn verdict(state: &NodeState, config: &Config, now: Instant) -> Outcome {
    super::node_snapshot::verdict(state, config, now, evaluate)
}

/// The verdict on a known Node.
pub fn evaluate(node: &Node) -> Outcome {
    match node.condition("Ready") {
        Some(c) if c.status == "True" => Outcome::Pass,
        Some(c) => Outcome::fail(c.describe()),
        None => Outcome::fail("Ready condition missing"),
    }
}
