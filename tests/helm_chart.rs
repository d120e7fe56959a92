//! The Helm chart (deploy/helm/harmony-node-readiness-endpoint), rendered by
//! a real Helm (scripts/helm: built from its Go module, pinned, cached):
//! `helm lint` passes; default values render exactly what `kubectl
//! kustomize deploy/` does; each value changes what it says, and turning a
//! group of host checks off takes its privilege away.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::TempDir;
use support::helm::{CHART, helm};
use support::manifests::{find, kustomize, one, parse_yaml, sorted};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `helm template` of the chart with `values` (YAML, "" for the defaults);
/// Err(stderr) when Helm refuses.
fn render(helm: &Path, values: &str) -> Result<Vec<Value>, String> {
    let tmp = TempDir::new("helm-values");
    let file = tmp.path().join("values.yaml");
    std::fs::write(&file, values).unwrap();
    let out = Command::new(helm)
        .args(["template", "hnre"])
        .arg(Path::new(ROOT).join(CHART))
        .arg("--values")
        .arg(&file)
        .output()
        .expect("run helm template");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(parse_yaml(&String::from_utf8_lossy(&out.stdout)))
}

fn rendered(helm: &Path, values: &str) -> Vec<Value> {
    render(helm, values).unwrap_or_else(|e| panic!("helm template failed:\n{e}\nvalues:\n{values}"))
}

/// Drops Helm's own bookkeeping labels, the one difference the chart adds
/// to deploy/'s objects.
fn without_helm_labels(mut docs: Vec<Value>) -> Vec<Value> {
    for d in &mut docs {
        if let Some(labels) = d["metadata"]["labels"].as_object_mut() {
            labels.remove("helm.sh/chart");
            labels.remove("app.kubernetes.io/managed-by");
        }
    }
    sorted(docs)
}

fn container(docs: &[Value]) -> Value {
    one(docs, "DaemonSet")["spec"]["template"]["spec"]["containers"][0].clone()
}

fn env(c: &Value, name: &str) -> Option<Value> {
    c["env"].as_array().unwrap().iter().find(|e| e["name"] == name).map(|e| e["value"].clone())
}

#[test]
fn helm_lint_passes_and_the_chart_follows_cargo_version() {
    let Some(helm) = helm() else { return };
    let out = Command::new(&helm).args(["lint", "--strict"]).arg(Path::new(ROOT).join(CHART)).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("0 chart(s) failed"), "helm lint:\n{said}");
    let chart = parse_yaml(&std::fs::read_to_string(Path::new(ROOT).join(CHART).join("Chart.yaml")).unwrap());
    assert_eq!(chart[0]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart[0]["appVersion"], env!("CARGO_PKG_VERSION"));
    let version = Command::new(&helm).arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).contains("v4.3.2"), "not the pinned helm");
}

#[test]
fn default_values_render_what_kustomize_renders() {
    let Some(helm) = helm() else { return };
    let Some(base) = kustomize("deploy") else { return };
    let chart = without_helm_labels(rendered(&helm, ""));
    let base = sorted(base);
    let kinds = |d: &[Value]| d.iter().map(|o| o["kind"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(kinds(&chart), kinds(&base));
    for (c, b) in chart.iter().zip(&base) {
        assert_eq!(c, b, "{} differs between the chart and deploy/", b["kind"]);
    }
}

#[test]
fn openshift_scc_renders_what_deploy_openshift_renders() {
    let Some(helm) = helm() else { return };
    let Some(openshift) = kustomize("deploy/openshift") else { return };
    let base = rendered(&helm, "");
    let with_scc = without_helm_labels(rendered(&helm, "openshift: {scc: {enabled: true}}"));
    let added: Vec<Value> = with_scc
        .into_iter()
        .filter(|d| !base.iter().any(|b| b["kind"] == d["kind"] && b["metadata"]["name"] == d["metadata"]["name"]))
        .collect();
    assert_eq!(sorted(added), sorted(openshift));
}

#[test]
fn host_access_off_takes_the_privilege_away() {
    let Some(helm) = helm() else { return };
    let all_off =
        "hostAccess: {filesystem: false, containerRuntime: false, icmp: false}\nopenshift: {scc: {enabled: true}}";
    let docs = rendered(&helm, all_off);
    let pod = &one(&docs, "DaemonSet")["spec"]["template"]["spec"];
    assert!(pod.get("hostPID").is_none(), "hostPID without host checks");
    assert!(pod.get("volumes").is_none(), "host volumes without host checks: {}", pod["volumes"]);
    assert_eq!(pod["hostNetwork"], true, "the LB probes the node's address");
    let c = container(&docs);
    assert!(c.get("volumeMounts").is_none());
    assert_eq!(env(&c, "HOST_ROOT"), None);
    assert_eq!(env(&c, "HOST_PROC"), None);
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsUser"], 65534);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["capabilities"], json!({"drop": ["ALL"]}));
    let scc = one(&docs, "SecurityContextConstraints");
    assert_eq!(scc["allowHostPID"], false);
    assert_eq!(scc["allowHostDirVolumePlugin"], false);
    assert_eq!(scc["allowedCapabilities"], Value::Null);
    assert_eq!(scc["volumes"], json!(["projected"]));

    // Host files without the runtime socket: mounts and hostPID, but not uid 0.
    let docs = rendered(&helm, "hostAccess: {containerRuntime: false}");
    let c = container(&docs);
    assert_eq!(c["securityContext"]["runAsUser"], 65534);
    assert_eq!(c["securityContext"]["capabilities"]["add"], json!(["NET_RAW"]));
    assert_eq!(env(&c, "HOST_PROC"), Some(json!("/host/proc")));
    assert_eq!(one(&docs, "DaemonSet")["spec"]["template"]["spec"]["hostPID"], true);

    // The runtime socket lives under the host's /: one needs the other.
    let err = render(&helm, "hostAccess: {filesystem: false}").unwrap_err();
    assert!(err.contains("hostAccess.containerRuntime needs hostAccess.filesystem"), "{err}");
}

#[test]
fn values_reach_the_daemonset() {
    let Some(helm) = helm() else { return };
    let values = r#"
image: {repository: my.registry/infra/hnre, tag: "9.9.9", pullPolicy: Always}
port: 26001
defaultChecks: node_ready,kubelet
agentPort: 26002
tls: {secretName: hnre-tls}
extraEnv:
  - {name: CUSTOM_CONDITIONS, value: KernelDeadlock}
tolerations: [{key: dedicated, operator: Equal, value: lb, effect: NoSchedule}]
resources: {requests: {cpu: 20m, memory: 32Mi}, limits: {memory: 128Mi}}
openshift: {scc: {enabled: true}}
"#;
    let docs = rendered(&helm, values);
    let pod = &one(&docs, "DaemonSet")["spec"]["template"]["spec"];
    let c = container(&docs);
    assert_eq!(c["image"], "my.registry/infra/hnre:9.9.9");
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(env(&c, "LISTEN_PORT"), Some(json!("26001")));
    assert_eq!(env(&c, "DEFAULT_CHECKS"), Some(json!("node_ready,kubelet")));
    assert_eq!(env(&c, "AGENT_PORT"), Some(json!("26002")));
    assert_eq!(env(&c, "CUSTOM_CONDITIONS"), Some(json!("KernelDeadlock")));
    assert_eq!(env(&c, "TLS_CERT_FILE"), Some(json!("/etc/harmony-node-readiness/tls/tls.crt")));
    assert_eq!(env(&c, "TLS_KEY_FILE"), Some(json!("/etc/harmony-node-readiness/tls/tls.key")));
    assert_eq!(env(&c, "TLS_CLIENT_CA_FILE"), None);
    assert_eq!(c["livenessProbe"]["httpGet"], json!({"path": "/livez", "port": 26001, "scheme": "HTTPS"}));
    let tls_volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "tls").unwrap();
    assert_eq!(tls_volume["secret"]["secretName"], "hnre-tls");
    assert_eq!(
        pod["tolerations"],
        json!([{"key": "dedicated", "operator": "Equal", "value": "lb", "effect": "NoSchedule"}])
    );
    assert_eq!(c["resources"]["limits"]["memory"], "128Mi");
    // The SCC allows the Secret volume it now uses.
    assert_eq!(one(&docs, "SecurityContextConstraints")["volumes"], json!(["hostPath", "projected", "secret"]));

    // With client certificates required, the kubelet's probe cannot speak
    // TLS to it: a TCP probe instead.
    let docs = rendered(&helm, "tls: {secretName: hnre-tls, clientCA: true}");
    let c = container(&docs);
    assert_eq!(env(&c, "TLS_CLIENT_CA_FILE"), Some(json!("/etc/harmony-node-readiness/tls/ca.crt")));
    assert_eq!(c["livenessProbe"]["tcpSocket"], json!({"port": 25001}));
    assert!(c["livenessProbe"].get("httpGet").is_none());
}

#[test]
fn service_endpoints_get_a_role_per_named_namespace_only() {
    let Some(helm) = helm() else { return };
    assert!(find(&rendered(&helm, ""), "Role").is_empty(), "no Role by default");
    let docs = rendered(&helm, "serviceEndpoints: [ingress/router, ingress/router-internal, apps/web]");
    assert_eq!(
        env(&container(&docs), "SERVICE_ENDPOINTS"),
        Some(json!("ingress/router,ingress/router-internal,apps/web"))
    );
    let roles = find(&docs, "Role");
    let mut namespaces: Vec<&str> = roles.iter().map(|r| r["metadata"]["namespace"].as_str().unwrap()).collect();
    namespaces.sort();
    assert_eq!(namespaces, ["apps", "ingress"]);
    for role in &roles {
        assert_eq!(
            role["rules"],
            json!([{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}])
        );
    }
    let bindings = find(&docs, "RoleBinding");
    assert_eq!(bindings.len(), 2);
    for b in bindings {
        let role = roles.iter().find(|r| r["metadata"]["namespace"] == b["metadata"]["namespace"]).unwrap();
        assert_eq!(
            b["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]})
        );
        assert_eq!(
            b["subjects"],
            json!([{"kind": "ServiceAccount", "name": "harmony-node-readiness-endpoint", "namespace": "harmony-node-readiness"}])
        );
    }
    let err = render(&helm, "serviceEndpoints: [no-slash]").unwrap_err();
    assert!(err.contains("\"no-slash\" is not namespace/name"), "{err}");
}

#[test]
fn monitors_select_the_pods_and_label_series_with_the_node() {
    let Some(helm) = helm() else { return };
    let docs = rendered(&helm, "metrics: {serviceMonitor: {enabled: true}, podMonitor: {enabled: true}}");
    let pod_labels = &one(&docs, "DaemonSet")["spec"]["template"]["metadata"]["labels"];
    let node_label = json!({"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"});

    let svc = one(&docs, "Service");
    assert_eq!(svc["spec"]["clusterIP"], "None");
    assert_eq!(&svc["spec"]["selector"], pod_labels);
    assert_eq!(svc["spec"]["ports"], json!([{"name": "http", "port": 25001, "targetPort": 25001}]));
    let sm = one(&docs, "ServiceMonitor");
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&svc["metadata"]["labels"][k], v, "the ServiceMonitor does not select the Service");
    }
    let ep = &sm["spec"]["endpoints"][0];
    assert_eq!(ep["port"], "http");
    assert_eq!(ep["path"], "/metrics");
    assert!(ep["relabelings"].as_array().unwrap().contains(&node_label));
    assert_eq!(sm["spec"]["jobLabel"], "app.kubernetes.io/name");

    let pm = one(&docs, "PodMonitor");
    assert_eq!(&pm["spec"]["selector"]["matchLabels"], pod_labels);
    let relabelings = pm["spec"]["podMetricsEndpoints"][0]["relabelings"].as_array().unwrap();
    assert!(relabelings.contains(&node_label));
    assert!(relabelings.contains(
        &json!({"sourceLabels": ["__meta_kubernetes_pod_ip"], "targetLabel": "__address__", "replacement": "$1:25001"})
    ));
}

/// A kustomize overlay of deploy/ plus one of deploy/components, written
/// under the target folder (kustomize takes only relative paths, and an
/// overlay inside deploy/ would be a cycle); `kubectl kustomize` of it.
fn overlay_with_component(component: &str) -> Option<Vec<Value>> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("overlay-{component}-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let rel = tmp.strip_prefix(ROOT).expect("the target folder is inside the repository");
    let up = "../".repeat(rel.components().count());
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [{up}deploy]\ncomponents: [{up}deploy/components/{component}]\n"
    );
    std::fs::write(tmp.join("kustomization.yaml"), kustomization).unwrap();
    let dir = rel.to_str().unwrap().to_string();
    let docs = kustomize(&dir);
    let _ = std::fs::remove_dir_all(&tmp);
    docs
}

#[test]
fn monitoring_components_render_what_the_chart_renders() {
    let Some(helm) = helm() else { return };
    let Some(example) = kustomize("examples/prometheus-operator") else { return };
    let chart = without_helm_labels(rendered(
        &helm,
        "metrics: {serviceMonitor: {enabled: true}, prometheusRule: {enabled: true}}",
    ));
    assert_eq!(
        sorted(example.clone()),
        chart,
        "examples/prometheus-operator (service-monitor, prometheus-rule) and the chart differ"
    );
    assert_eq!(one(&example, "ServiceMonitor")["spec"]["jobLabel"], "app.kubernetes.io/name");

    let Some(pod_monitor) = overlay_with_component("pod-monitor") else { return };
    let chart = without_helm_labels(rendered(&helm, "metrics: {podMonitor: {enabled: true}}"));
    assert_eq!(sorted(pod_monitor), chart, "deploy/components/pod-monitor and the chart differ");
}

#[test]
fn the_prometheus_rule_carries_the_alerts_and_matches_its_component() {
    let Some(helm) = helm() else { return };
    assert!(find(&rendered(&helm, ""), "PrometheusRule").is_empty(), "no PrometheusRule by default");
    let alerts = parse_yaml(&std::fs::read_to_string(Path::new(ROOT).join("monitoring/alerts.yaml")).unwrap());
    let docs = rendered(&helm, "metrics: {prometheusRule: {enabled: true, labels: {release: prometheus}}}");
    let rule = one(&docs, "PrometheusRule");
    assert_eq!(rule["spec"], alerts[0], "the chart's PrometheusRule is not monitoring/alerts.yaml");
    assert_eq!(rule["metadata"]["labels"]["release"], "prometheus", "the ruleSelector's label is missing");

    let Some(component) = overlay_with_component("prometheus-rule") else { return };
    let chart = without_helm_labels(rendered(&helm, "metrics: {prometheusRule: {enabled: true}}"));
    assert_eq!(sorted(component), chart, "deploy/components/prometheus-rule and the chart differ");
}
