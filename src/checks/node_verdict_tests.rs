//! Verdicts of node_ready, custom_conditions and node_eligible: one table
//! row per real Node object in testdata/nodes (provenance in its
//! SOURCES.md), then hand-written Nodes for documented shapes no real dump
//! was found for.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::{ConditionRule, Outcome, custom_conditions, node_eligible, node_ready, parse_condition_rules};
use crate::config::test_config;
use crate::kube::{Node, NodeState, Presence};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/nodes")
}

fn load(dir: &Path, name: &str) -> Node {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    Node::from_json(serde_json::from_str(&text).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const PASS: &str = "pass";
const CORDONED: &str = "cordoned (spec.unschedulable)";

/// (file, node_ready, custom_conditions (default rule), node_eligible); PASS or the reason.
const FIXTURE_VERDICTS: &[(&str, &str, &str, &str)] = &[
    ("01-openshift-worker-ready-mco-done.json", PASS, PASS, PASS),
    ("02-openshift-baremetal-master-ready-metal3-finalizer.json", PASS, PASS, PASS),
    ("03-openshift-worker-cordoned-mco-draining.json", PASS, PASS, CORDONED),
    ("04-openshift-master-cordoned-mco-degraded.json", PASS, PASS, CORDONED),
    ("05-openshift-worker-ready-updateinprogress-prefernoschedule.json", PASS, PASS, PASS),
    (
        "06-openshift-worker-nodestatusunknown-unreachable-taints.json",
        "NodeStatusUnknown: Kubelet stopped posting node status.",
        // Pressure conditions Unknown: not "True", and node_ready already fails.
        PASS,
        PASS,
    ),
    (
        "07-kubeadm-controlplane-notready-cni-not-initialized.json",
        "KubeletNotReady: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady \
         message:Network plugin returns error: cni plugin not initialized",
        PASS,
        "label node.kubernetes.io/exclude-from-external-load-balancers set",
    ),
    ("08-gke-ready-npd-conditions-legacy-outofdisk.json", PASS, PASS, PASS),
    ("09-k3s-server-ready-wrangler-finalizer.json", PASS, PASS, PASS),
    ("10-legacy-v0.21-ready-unknown-reason-only-no-message.json", "Kubelet stopped posting node status.", PASS, PASS),
];

fn verdict(want: &str) -> Outcome {
    if want == PASS { Outcome::Pass } else { Outcome::fail(want) }
}

#[test]
fn real_nodes_default_configuration() {
    let dir = fixtures_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let listed: Vec<&str> = FIXTURE_VERDICTS.iter().map(|r| r.0).collect();
    assert_eq!(files, listed, "every fixture has a row, every row a fixture");
    for (file, ready, custom, eligible) in FIXTURE_VERDICTS {
        let n = load(&dir, file);
        assert_eq!(node_ready::evaluate(&n), verdict(ready), "node_ready {file}");
        assert_eq!(custom_conditions::evaluate(&n, None), verdict(custom), "custom_conditions {file}");
        assert_eq!(node_eligible::evaluate(&n, false), verdict(eligible), "node_eligible {file}");
    }
}

#[test]
fn real_nodes_with_knobs() {
    let dir = fixtures_dir();
    // NODE_ELIGIBLE_IGNORE_CORDON=true: the cordoned OpenShift nodes pass.
    for file in ["03-openshift-worker-cordoned-mco-draining.json", "04-openshift-master-cordoned-mco-degraded.json"] {
        assert_eq!(node_eligible::evaluate(&load(&dir, file), true), Outcome::Pass, "{file}");
    }
    let rules = |s: &str| parse_condition_rules(s).unwrap().unwrap();
    let gke = load(&dir, "08-gke-ready-npd-conditions-legacy-outofdisk.json");
    let worker = load(&dir, "01-openshift-worker-ready-mco-done.json");
    let cases: &[(&Node, &str, &str)] = &[
        (&gke, "KernelDeadlock,ReadonlyFilesystem", PASS),
        (&gke, "KernelDeadlock=False,OutOfDisk=False", PASS),
        (&gke, "KernelDeadlock=True", "KernelDeadlock=False (KernelHasNoDeadlock): kernel has no deadlock"),
        (&worker, "KernelDeadlock", PASS),
        (&worker, "KernelDeadlock=False", "KernelDeadlock condition missing (want False)"),
        (
            &worker,
            "Foo=True,NetworkUnavailable=True",
            "Foo condition missing (want True), NetworkUnavailable=False (RouteCreated)",
        ),
    ];
    for (node, spec, want) in cases {
        assert_eq!(custom_conditions::evaluate(node, Some(&rules(spec))), verdict(want), "CUSTOM_CONDITIONS={spec}");
    }
}

/// A Ready node in the shape the API sends, changed by `edit`.
fn node(edit: impl FnOnce(&mut serde_json::Value)) -> Node {
    let mut v = serde_json::json!({
        "kind": "Node", "apiVersion": "v1",
        "metadata": {"name": "worker-1", "resourceVersion": "100", "labels": {"kubernetes.io/hostname": "worker-1"}},
        "spec": {},
        "status": {"conditions": [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
        ]}
    });
    edit(&mut v);
    Node::from_json(v).unwrap()
}

fn set_condition(v: &mut serde_json::Value, type_: &str, status: &str, reason: &str, message: &str) {
    let conds = v["status"]["conditions"].as_array_mut().unwrap();
    conds.retain(|c| c["type"] != type_);
    conds.push(serde_json::json!({"type": type_, "status": status, "reason": reason, "message": message}));
}

#[test]
fn documented_shapes() {
    type Case = (&'static str, Node, &'static str, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        ("healthy", node(|_| {}), PASS, PASS, PASS),
        (
            // kubectl delete node: the API sets deletionTimestamp while finalizers run.
            "deletionTimestamp",
            node(|v| v["metadata"]["deletionTimestamp"] = "2026-11-25T12:00:00Z".into()),
            PASS,
            PASS,
            "node being deleted (deletionTimestamp set)",
        ),
        (
            // cluster-autoscaler scale-down: taint value is a Unix timestamp.
            "autoscaler taint",
            node(
                |v| v["spec"]["taints"] = serde_json::json!([{"key": "ToBeDeletedByClusterAutoscaler", "value": "1732536000", "effect": "NoSchedule"}]),
            ),
            PASS,
            PASS,
            "being removed by the cluster autoscaler (ToBeDeletedByClusterAutoscaler taint)",
        ),
        (
            "exclude label with a value",
            node(|v| {
                v["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] = "true".into()
            }),
            PASS,
            PASS,
            "label node.kubernetes.io/exclude-from-external-load-balancers set",
        ),
        (
            "everything at once",
            node(|v| {
                v["metadata"]["deletionTimestamp"] = "2026-11-25T12:00:00Z".into();
                v["spec"]["unschedulable"] = true.into();
            }),
            PASS,
            PASS,
            "node being deleted (deletionTimestamp set); cordoned (spec.unschedulable)",
        ),
        (
            // node-problem-detector kernel monitor, condition True.
            "NPD KernelDeadlock",
            node(|v| {
                set_condition(
                    v,
                    "KernelDeadlock",
                    "True",
                    "DockerHung",
                    "kernel: INFO: task docker:20744 blocked for more than 120 seconds.",
                )
            }),
            PASS,
            "KernelDeadlock=True (DockerHung): kernel: INFO: task docker:20744 blocked for more than 120 seconds.",
            PASS,
        ),
        (
            "DiskPressure and ReadonlyFilesystem",
            node(|v| {
                set_condition(v, "DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure");
                set_condition(
                    v,
                    "ReadonlyFilesystem",
                    "True",
                    "FilesystemIsReadOnly",
                    "Node condition ReadonlyFilesystem is now: True",
                );
            }),
            PASS,
            "DiskPressure=True (KubeletHasDiskPressure), ReadonlyFilesystem=True (FilesystemIsReadOnly)",
            PASS,
        ),
        (
            "Ready False without reason or message",
            node(|v| set_condition(v, "Ready", "False", "", "")),
            "Ready=False",
            PASS,
            PASS,
        ),
        (
            "no Ready condition",
            node(|v| v["status"]["conditions"] = serde_json::json!([])),
            "Ready condition missing",
            PASS,
            PASS,
        ),
    ];
    for (name, n, ready, custom, eligible) in cases {
        assert_eq!(node_ready::evaluate(&n), verdict(ready), "node_ready: {name}");
        assert_eq!(custom_conditions::evaluate(&n, None), verdict(custom), "custom_conditions: {name}");
        assert_eq!(node_eligible::evaluate(&n, false), verdict(eligible), "node_eligible: {name}");
    }
}

#[test]
fn every_api_check_applies_the_outage_policy() {
    let config = test_config(&[("NODE_STATE_MAX_STALENESS_SECONDS", "60")]);
    let now = Instant::now();
    let never = NodeState { last_error: Some("connection refused".into()), ..NodeState::new("worker-1") };
    let gone = NodeState { presence: Presence::NotFound, confirmed_at: Some(now), ..NodeState::new("worker-1") };
    let unhealthy = node(|v| {
        set_condition(v, "Ready", "False", "KubeletNotReady", "PLEG is not healthy");
        v["spec"]["unschedulable"] = true.into();
    });
    let known = NodeState { presence: Presence::Present(Arc::new(unhealthy)), ..NodeState::new("worker-1") };
    let stale = NodeState {
        confirmed_at: Some(now - std::time::Duration::from_secs(90)),
        last_error: Some("connection refused".into()),
        ..known.clone()
    };
    type Verdict = fn(&NodeState, &crate::config::Config, Instant) -> Outcome;
    let checks: [(&str, Verdict); 3] = [
        ("node_ready", node_ready::verdict),
        ("custom_conditions", custom_conditions::verdict),
        ("node_eligible", node_eligible::verdict),
    ];
    let no_creds = NodeState { no_credentials: Some("KUBECONFIG is not set".into()), ..known.clone() };
    // "Could not tell" is Unknown for all three (so node_eligible never means "drain"
    // during an outage); a Node the API says is gone is a definite Fail.
    for (name, check) in checks {
        assert_eq!(check(&never, &config, now), Outcome::unknown("node state unknown: connection refused"), "{name}");
        assert_eq!(
            check(&no_creds, &config, now),
            Outcome::unknown("no Kubernetes credentials: KUBECONFIG is not set"),
            "{name}"
        );
        assert_eq!(check(&gone, &config, now), Outcome::fail("node \"worker-1\" not found"), "{name}");
        assert_eq!(
            check(&stale, &config, now),
            Outcome::unknown("node state stale for 90s: connection refused"),
            "{name}"
        );
    }
    // Seen, API down for 90 s, no staleness limit: the last state is served.
    let keep = test_config(&[]);
    assert_eq!(node_ready::verdict(&stale, &keep, now), Outcome::fail("KubeletNotReady: PLEG is not healthy"));
    assert_eq!(node_eligible::verdict(&stale, &keep, now), Outcome::fail(CORDONED));
}

#[test]
fn custom_conditions_syntax() {
    assert_eq!(parse_condition_rules(" , "), Ok(None));
    assert_eq!(
        parse_condition_rules("KernelDeadlock, Foo=true ,Bar=FALSE").unwrap().unwrap(),
        vec![
            ConditionRule::BadWhenTrue("KernelDeadlock".into()),
            ConditionRule::Required("Foo".into(), "True"),
            ConditionRule::Required("Bar".into(), "False"),
        ]
    );
    for bad in ["Foo=Unknown", "=True", "Foo Bar", "Ready"] {
        assert!(parse_condition_rules(bad).is_err(), "{bad}");
    }
    assert!(parse_condition_rules("Ready=True").is_ok());
}
