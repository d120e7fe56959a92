//! `node_eligible`: the Node is meant to take traffic. Fails when it is
//! being deleted (`deletionTimestamp`), cordoned (`spec.unschedulable`,
//! unless NODE_ELIGIBLE_IGNORE_CORDON), being scaled down by the cluster
//! autoscaler (`ToBeDeletedByClusterAutoscaler` taint), or labelled
//! `node.kubernetes.io/exclude-from-external-load-balancers` (any value: the
//! label's presence is what Kubernetes' service controller honours).
//! Reads the snapshot only.

use std::time::Instant;

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::config::Config;
use crate::kube::{Node, NodeState};

pub const CHECK: Check = Check { id: CheckId::NodeEligible, exec: Exec::Snapshot, run };

pub const AUTOSCALER_TAINT: &str = "ToBeDeletedByClusterAutoscaler";
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

fn run(ctx: &Ctx, _deadline: Instant) -> Outcome {
    verdict(&ctx.node.snapshot(), &ctx.config, Instant::now())
}

pub fn verdict(state: &NodeState, config: &Config, now: Instant) -> Outcome {
    super::node_snapshot::verdict(state, config, now, |node| evaluate(node, config.node_eligible_ignore_cordon))
}

/// Every reason the Node is not eligible, joined; Pass when there is none.
pub fn evaluate(node: &Node, ignore_cordon: bool) -> Outcome {
    let mut why = Vec::new();
    if node.metadata.deletion_timestamp.is_some() {
        why.push("node being deleted (deletionTimestamp set)".to_string());
    }
    if node.spec.unschedulable && !ignore_cordon {
        why.push("cordoned (spec.unschedulable)".to_string());
    }
    if node.spec.taints.iter().any(|t| t.key == AUTOSCALER_TAINT) {
        why.push(format!("being removed by the cluster autoscaler ({AUTOSCALER_TAINT} taint)"));
    }
    if node.metadata.labels.contains_key(EXCLUDE_LABEL) {
        why.push(format!("label {EXCLUDE_LABEL} set"));
    }
    if why.is_empty() { Outcome::Pass } else { Outcome::fail(why.join("; ")) }
}
