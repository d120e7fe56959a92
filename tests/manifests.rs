//! The rendered deployment manifests: kustomize output, each file applied
//! on its own, and the OpenShift additions; the DaemonSet fixes the original
//! README's deployment mistakes.
mod support;

use serde_json::{Value, json};
use std::process::Command;
use support::manifests::{find, kustomize, one, parse_yaml};
use support::repo::{read, repo, run};
use support::skip_unless_program;

fn env_of<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn deploy_renders_and_the_daemonset_fixes_the_original_readme() {
    let Some(docs) = kustomize("deploy") else { return };
    let ns = one(&docs, "Namespace");
    let namespace = ns["metadata"]["name"].as_str().unwrap();
    assert_eq!(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged");

    let sa = one(&docs, "ServiceAccount");
    let role = one(&docs, "ClusterRole");
    let binding = one(&docs, "ClusterRoleBinding");
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "nodes only: {rules:?}");
    assert_eq!(rules[0]["apiGroups"], json!([""]));
    assert_eq!(rules[0]["resources"], json!(["nodes"]));
    assert_eq!(rules[0]["verbs"], json!(["get", "list", "watch"]));
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["namespace"], namespace);

    let ds = one(&docs, "DaemonSet");
    let spec = &ds["spec"];
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    // Every namespaced object names its namespace itself, so that
    // `kubectl apply -f deploy/<file>.yaml` works without kustomize.
    for d in [sa, ds] {
        assert_eq!(d["metadata"]["namespace"], namespace, "{}", d["kind"]);
    }
    // Surge update: the new pod starts next to the old one (SO_REUSEPORT).
    assert_eq!(spec["updateStrategy"]["type"], "RollingUpdate");
    assert_eq!(spec["updateStrategy"]["rollingUpdate"]["maxSurge"], 1);
    assert_eq!(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"], 0);
    // Without a readinessProbe the new pod is "available" once it runs; this
    // margin lets it bind the port before the old one is told to stop.
    assert!(spec["minReadySeconds"].as_i64().is_some_and(|s| s >= 1), "minReadySeconds");
    assert_eq!(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"]);

    assert_eq!(pod["hostNetwork"], true, "local probes to 127.0.0.1 need the host network");
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["hostPID"], true, "/proc/1/mountinfo must be the host's");
    assert_eq!(pod["tolerations"], json!([{"operator": "Exists"}]));
    assert_eq!(pod["priorityClassName"], "system-node-critical");

    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    // The original README took the pod's name for the node's.
    assert_eq!(env_of(c, "NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
    assert_eq!(env_of(c, "LISTEN_PORT")["value"], "25001");
    assert_eq!(env_of(c, "HOST_ROOT")["value"], "/host/root");
    assert_eq!(env_of(c, "HOST_PROC")["value"], "/host/proc");
    // No declared ports: with hostNetwork they become hostPorts, which keep the
    // surge pod from being scheduled next to the old one.
    assert!(c.get("ports").is_none(), "ports would block the surge update: {}", c["ports"]);

    let mounts = c["volumeMounts"].as_array().unwrap();
    let volumes = pod["volumes"].as_array().unwrap();
    let host_path_of = |mount_path: &str| -> (&Value, String) {
        let m = mounts.iter().find(|m| m["mountPath"] == mount_path).unwrap_or_else(|| panic!("no mount {mount_path}"));
        let v = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
        (m, v["hostPath"]["path"].as_str().unwrap_or("").to_string())
    };
    let (root, root_src) = host_path_of("/host/root");
    assert_eq!(root_src, "/");
    assert_eq!(root["readOnly"], true);
    assert_eq!(root["mountPropagation"], "HostToContainer");
    let (proc_mount, proc_src) = host_path_of("/host/proc");
    assert_eq!(proc_src, "/proc");
    assert_eq!(proc_mount["readOnly"], true);
    assert_eq!(mounts.len(), 2, "only the two host mounts: {mounts:?}");

    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_ne!(sc["privileged"], true);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["capabilities"]["add"], json!(["NET_RAW"]));
    assert_eq!(sc["runAsUser"], 0);
    let daemonset_yaml = read("deploy/daemonset.yaml");
    assert!(daemonset_yaml.contains("cannot bypass file permissions"), "runAsUser 0 must say why");

    // Liveness on /livez; never a probe on /health (a not-ready node must
    // still answer 503, neither restarted nor hidden).
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], 25001);
    for probe in ["readinessProbe", "startupProbe", "livenessProbe"] {
        assert!(!c[probe].to_string().contains("/health"), "{probe} tied to /health");
    }
    assert!(c.get("readinessProbe").is_none());

    let res = &c["resources"];
    assert_eq!(res["requests"]["cpu"], "10m");
    assert_eq!(res["requests"]["memory"], "16Mi");
    assert_eq!(res["limits"]["memory"], "64Mi");
}

#[test]
fn each_deploy_file_applies_on_its_own() {
    if skip_unless_program("kubectl") {
        return;
    }
    let kustomization = parse_yaml(&read("deploy/kustomization.yaml"));
    let resources = kustomization[0]["resources"].as_array().unwrap();
    let mut from_files = Vec::new();
    for r in resources {
        let file = r.as_str().unwrap();
        assert!(!file.contains('/'), "{file}: the base lists only its own files");
        from_files.extend(parse_yaml(&read(&format!("deploy/{file}"))));
    }
    // The kustomization adds nothing: `kubectl apply -f` of each file gives
    // the same objects as `kubectl apply -k deploy/` (in whatever order).
    let key = |d: &Value| format!("{}/{}", d["kind"], d["metadata"]["name"]);
    let mut rendered = kustomize("deploy").unwrap();
    from_files.sort_by_key(key);
    rendered.sort_by_key(key);
    assert_eq!(from_files, rendered);
}

#[test]
fn openshift_additions_render_alone_and_allow_exactly_what_the_daemonset_uses() {
    let Some(docs) = kustomize("deploy/openshift") else { return };
    let kustomization = read("deploy/openshift/kustomization.yaml");
    assert!(!kustomization.lines().any(|l| l.trim_start().starts_with("- ..")), "nested overlay on ../");
    let base = kustomize("deploy").unwrap();
    let ds = one(&base, "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    let sc = &pod["containers"][0]["securityContext"];
    let sa = one(&base, "ServiceAccount");

    let scc = one(&docs, "SecurityContextConstraints");
    assert_eq!(scc["apiVersion"], "security.openshift.io/v1");
    assert_eq!(scc["allowHostNetwork"], true);
    assert_eq!(scc["allowHostPID"], true);
    assert_eq!(scc["allowHostDirVolumePlugin"], true);
    assert_eq!(scc["allowHostIPC"], false);
    assert_eq!(scc["allowHostPorts"], false);
    assert_eq!(scc["allowPrivilegedContainer"], false);
    assert_eq!(scc["allowPrivilegeEscalation"], false);
    assert_eq!(scc["readOnlyRootFilesystem"], true);
    assert_eq!(scc["allowedCapabilities"], sc["capabilities"]["add"]);
    assert_eq!(scc["allowedCapabilities"], json!(["NET_RAW"]));
    assert_eq!(scc["runAsUser"]["type"], "RunAsAny", "the pod runs as uid 0");
    assert_eq!(scc["seLinuxContext"]["type"], "RunAsAny", "the pod asks for spc_t");
    // Volume types: the DaemonSet's hostPath volumes and the projected
    // ServiceAccount token the API server adds.
    assert_eq!(scc["volumes"], json!(["hostPath", "projected"]));
    for v in pod["volumes"].as_array().unwrap() {
        assert!(v.get("hostPath").is_some(), "volume type not allowed by the SCC: {v}");
    }

    let role = one(&docs, "ClusterRole");
    assert_eq!(role["rules"][0]["apiGroups"], json!(["security.openshift.io"]));
    assert_eq!(role["rules"][0]["resources"], json!(["securitycontextconstraints"]));
    assert_eq!(role["rules"][0]["resourceNames"], json!([scc["metadata"]["name"]]));
    assert_eq!(role["rules"][0]["verbs"], json!(["use"]));
    let binding = one(&docs, "RoleBinding");
    assert_eq!(binding["metadata"]["namespace"], sa["metadata"]["namespace"]);
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}])
    );
}

#[test]
fn the_service_endpoints_component_grants_list_and_watch_on_endpointslices_in_one_namespace() {
    if skip_unless_program("kubectl") {
        return;
    }
    // An overlay of the user's own, outside deploy/, as the component's
    // header shows (kustomize wants relative paths).
    let dir = support::TempDir::new("kustomize-overlay");
    let up = "../".repeat(dir.path().components().count() - 1);
    let deploy = format!("{up}{}", repo("deploy").display().to_string().trim_start_matches('/'));
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!("resources:\n  - {deploy}\ncomponents:\n  - {deploy}/components/service-endpoints\n"),
    )
    .unwrap();
    let (ok, out, err) = run(Command::new("kubectl").arg("kustomize").arg(dir.path()));
    assert!(ok, "kubectl kustomize with the component failed: {err}");
    let docs = parse_yaml(&out);
    let role = one(&docs, "Role");
    assert_eq!(role["metadata"]["name"], "harmony-node-readiness-endpoint-endpointslices");
    assert_eq!(role["metadata"]["namespace"], "ingress-nginx");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}])
    );
    let binding = one(&docs, "RoleBinding");
    assert_eq!(binding["metadata"]["namespace"], "ingress-nginx");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let sa = one(&docs, "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["namespace"], sa["metadata"]["namespace"]);
    let ds = one(&docs, "DaemonSet");
    let container = &ds["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env_of(container, "SERVICE_ENDPOINTS")["value"], "ingress-nginx/ingress-nginx-controller");
    assert_eq!(env_of(container, "DEFAULT_CHECKS")["value"], "node_ready,service_endpoints");
    let n = container["env"].as_array().unwrap().iter().filter(|e| e["name"] == "DEFAULT_CHECKS").count();
    assert_eq!(n, 1, "the patch replaces the base's DEFAULT_CHECKS");
    // The base alone grants nothing on EndpointSlices.
    let base = kustomize("deploy").unwrap();
    assert!(find(&base, "Role").is_empty() && !serde_json::to_string(&base).unwrap().contains("endpointslices"));
}
