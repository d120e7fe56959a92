//! `custom_conditions`: no Node condition other than Ready is in its bad
//! state. Reads the snapshot only.
//!
//! Default (CUSTOM_CONDITIONS empty): every non-Ready condition that is
//! `True` is bad. Every condition in the real Node objects we checked (the
//! kubelet's MemoryPressure / DiskPressure / PIDPressure, NetworkUnavailable,
//! the legacy OutOfDisk, node-problem-detector's KernelDeadlock,
//! ReadonlyFilesystem, FrequentUnregisterNetDevice…, on kubeadm, OpenShift,
//! GKE and k3s) is healthy when `False`. `Unknown` is not counted here: it
//! means the kubelet stopped reporting, which `node_ready` already fails on.
//! A cluster with a condition that is healthy when `True` names it:
//! `CUSTOM_CONDITIONS=KernelDeadlock,FooHealthy=True`. Once set, only the
//! listed conditions are looked at: `Type` is bad when `True` (absent is
//! fine), `Type=True|False` requires that status (absent is bad).

use std::time::Instant;

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::config::Config;
use crate::kube::node::Condition;
use crate::kube::{Node, NodeState};

pub const CHECK: Check = Check { id: CheckId::CustomConditions, exec: Exec::Snapshot, run };

pub use crate::config::{ConditionRule, parse_condition_rules};

fn run(ctx: &Ctx, _deadline: Instant) -> Outcome {
    verdict(&ctx.node.snapshot(), &ctx.config, Instant::now())
}

pub fn verdict(state: &NodeState, config: &Config, now: Instant) -> Outcome {
    super::node_snapshot::verdict(state, config, now, |node| evaluate(node, config.custom_conditions.as_deref()))
}

/// Lists every offending condition; Pass when there is none.
pub fn evaluate(node: &Node, rules: Option<&[ConditionRule]>) -> Outcome {
    let conditions = &node.status.conditions;
    let mut bad: Vec<String> = Vec::new();
    match rules {
        None => {
            bad.extend(conditions.iter().filter(|c| c.type_ != "Ready" && c.status == "True").map(describe));
        }
        Some(rules) => {
            for rule in rules {
                match rule {
                    ConditionRule::BadWhenTrue(t) => {
                        bad.extend(conditions.iter().filter(|c| &c.type_ == t && c.status == "True").map(describe));
                    }
                    ConditionRule::Required(t, want) => match node.condition(t) {
                        None => bad.push(format!("{t} condition missing (want {want})")),
                        Some(c) if c.status != *want => bad.push(describe(c)),
                        Some(_) => {}
                    },
                }
            }
        }
    }
    match bad.len() {
        0 => Outcome::Pass,
        // One offender: room for its message too.
        1 => {
            let c = conditions.iter().find(|c| bad[0].starts_with(&format!("{}=", c.type_)));
            match c {
                Some(c) if !c.message.trim().is_empty() => Outcome::fail(format!("{}: {}", bad[0], c.message)),
                _ => Outcome::fail(&bad[0]),
            }
        }
        _ => Outcome::fail(bad.join(", ")),
    }
}

/// `KernelDeadlock=True (KernelHasDeadlock)`.
fn describe(c: &Condition) -> String {
    if c.reason.trim().is_empty() {
        format!("{}={}", c.type_, c.status)
    } else {
        format!("{}={} ({})", c.type_, c.status, c.reason.trim())
    }
}
