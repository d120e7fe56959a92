#!/usr/bin/env bash
# `scripts/cluster up DIR`: a one-node cluster on loopback. Every component is
# a child of this script's caller in its own session (setsid), its pid written
# to DIR/pids/NAME, its log to DIR/logs/NAME.log; `down` stops them by pid.
# Tunables (environment): NODE_MONITOR_GRACE_PERIOD (controller-manager,
# default 40s, as Kubernetes; a shorter one is overtaken by the ~23 s graceful
# shutdown of a SIGTERMed kube-apiserver, during which heartbeats fail),
# CLUSTER_NODE (node name,
# default hnre-node).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions"

dir=$1
node=${CLUSTER_NODE:-hnre-node}
grace=${NODE_MONITOR_GRACE_PERIOD:-40s}
# There is no kube-proxy. The `kubernetes` Service gets the first address of
# the service range and port 443: with the range 127.0.0.0/24 and the API
# server on 127.0.0.1:443, a pod's in-cluster config (KUBERNETES_SERVICE_HOST
# and _PORT) reaches the API server itself, so the shipped manifests run
# unchanged, and no packet leaves loopback. (The API server then logs that
# the `kubernetes` Endpoints may not be a loopback address; harmless.)
service_cidr=127.0.0.0/24
api_host=127.0.0.1
api_port=443
etcd_port=12379
etcd_peer_port=12380
# The pod network (see containerd below); down.sh names the same bridge and network.
pod_cidr=198.51.100.0/24
pod_gateway=198.51.100.1
pod_bridge=hnre0
pod_network=hnre-pods

fail() {
    echo "cluster up: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || fail "needs root (kubelet, containerd)"
for p in openssl containerd ctr buildah; do
    command -v "$p" >/dev/null || fail "$p not installed (scripts/install-test-deps.sh installs it)"
done
for p in loopback bridge host-local; do
    [ -x "/usr/lib/cni/$p" ] || fail "/usr/lib/cni/$p missing (Debian package containernetworking-plugins)"
done
command -v ip >/dev/null || fail "ip not installed (Debian package iproute2)"
[ ! -e "$dir/cluster.json" ] || fail "$dir already holds a cluster (scripts/cluster down $dir first)"

bin=$(cluster_cache_dir "$("${GO:-$(command -v go || echo /usr/local/go/bin/go)}" env GOVERSION 2>/dev/null || echo none)")/bin
"$here/build.sh" --check || "$here/build.sh" >&2
[ -x "$bin/kube-apiserver" ] || fail "no binaries in $bin (scripts/cluster build)"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pki=$dir/pki
mkdir -p "$pki" "$dir/logs" "$dir/pids" "$dir/etcd" "$dir/kubelet" "$dir/containerd" "$dir/cni"
chmod 700 "$pki"

# On failure: say which component, show its last log lines, leave the rest to
# `down` (the caller runs it; it knows the pids).
show_log() {
    echo "---- last lines of $dir/logs/$1.log ----" >&2
    tail -n 25 "$dir/logs/$1.log" >&2 2>/dev/null || true
}

start() { # NAME COMMAND...: in its own session, pid and command line recorded
    local name=$1
    shift
    mkdir -p "$dir/cmd"
    printf '%q ' "$@" >"$dir/cmd/$name"
    setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/pids/$name"
}

alive() { kill -0 "$(cat "$dir/pids/$1")" 2>/dev/null; }

wait_until() { # NAME SECONDS COMMAND...: poll COMMAND until it succeeds
    local name=$1 limit=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ! alive "$name"; then
            show_log "$name"
            fail "$name exited while starting"
        fi
        if [ $SECONDS -ge $deadline ]; then
            show_log "$name"
            fail "$name not ready after ${limit}s"
        fi
        sleep 0.2
    done
}

# ---- certificates (openssl): one CA for clients and servers ----
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=hnre-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt"
cert() { # NAME SUBJECT [SAN]
    local name=$1 subj=$2 san=${3:-}
    ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$pki/$name.key" -out "$pki/$name.csr"
    local ext=$pki/$name.ext
    if [ -n "$san" ]; then
        printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$ext"
    else
        printf 'extendedKeyUsage=clientAuth\n' >"$ext"
    fi
    ossl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
        -days 30 -extfile "$ext" -out "$pki/$name.crt"
}
cert apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=hnre-admin"
cert kubelet-server "/CN=$node" "IP:127.0.0.1,DNS:$node,DNS:localhost"
ossl genrsa -out "$pki/sa.key" 2048
ossl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
# The kubelet's bootstrap credential (static token file): it trades it for a
# client certificate through a CSR the controller-manager approves and signs,
# then rotates that certificate, as on a kubeadm node.
bootstrap_token=$(openssl rand -hex 16)
echo "$bootstrap_token,kubelet-bootstrap,10001,\"system:bootstrappers\"" >"$pki/tokens.csv"

kubeconfig() { # FILE USER-YAML...
    local file=$1
    shift
    {
        echo "apiVersion: v1"
        echo "kind: Config"
        echo "clusters:"
        echo "- name: hnre"
        echo "  cluster:"
        echo "    server: https://$api_host:$api_port"
        echo "    certificate-authority: $pki/ca.crt"
        echo "contexts:"
        echo "- name: hnre"
        echo "  context: {cluster: hnre, user: u}"
        echo "current-context: hnre"
        echo "users:"
        echo "- name: u"
        echo "  user:"
        printf '    %s\n' "$@"
    } >"$file"
}
kubeconfig "$dir/admin.kubeconfig" "client-certificate: $pki/admin.crt" "client-key: $pki/admin.key"
kubeconfig "$dir/bootstrap-kubelet.kubeconfig" "token: $bootstrap_token"
kctl() { "$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }

# ---- etcd ----
start etcd "$bin/etcd" --name hnre --data-dir "$dir/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "hnre=http://127.0.0.1:$etcd_peer_port" --listen-metrics-urls ""
wait_until etcd 30 "$bin/etcdctl" --endpoints "127.0.0.1:$etcd_port" endpoint health

# ---- kube-apiserver ----
# Audit: one line per request to nodes (metadata only), so tests and the
# benchmark count the service's requests by its user agent.
cat >"$dir/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    resources: [{group: "", resources: ["nodes", "nodes/status"]}]
  - level: None
EOF
start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$api_host" --secure-port "$api_port" --advertise-address "$api_host" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --token-auth-file "$pki/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$service_cidr" \
    --watch-cache=true --allow-privileged=true --profiling=false \
    --audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/logs/audit.log" \
    --audit-log-maxsize 200 --audit-log-maxbackup 1
readyz() { kctl get --raw /readyz; }
wait_until kube-apiserver 90 readyz

# The bootstrap and certificate-rotation bindings (kubeadm's), so the
# controller-manager approves the kubelet's CSRs.
kctl apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: hnre-kubelet-bootstrap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-bootstrapper"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: hnre-node-autoapprove-bootstrap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: hnre-node-autoapprove-certificate-rotation}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:nodes"}]
EOF

# ---- kube-controller-manager and kube-scheduler ----
start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$dir/admin.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10257 \
    --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$service_cidr" \
    --node-monitor-grace-period "$grace" --controllers '*'
start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$dir/admin.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10259

# ---- containerd: its own config, state and socket under DIR ----
sock=$dir/containerd/containerd.sock
pause_image=localhost/hnre-pause:$K8S_VERSION
# Pod network: a bridge of our own (hnre0, 198.51.100.1/24, a documentation
# range) made here rather than by the bridge plugin, so that `isGateway`
# stays false: with it the plugin turns on net.ipv4.ip_forward host-wide.
# Pods get an address of the range from host-local (its state under DIR)
# and no route but their subnet's, no masquerade: a pod reaches the host's
# bridge address and other pods, nothing else, and the host (the kubelet's
# probes, the tests) reaches the pods; no packet is routed off the machine.
# hostNetwork pods (the DaemonSet) do not use it.
if ip link show "$pod_bridge" >/dev/null 2>&1; then
    fail "network interface $pod_bridge exists (another cluster up? scripts/cluster down DIR)"
fi
ip link add "$pod_bridge" type bridge
touch "$dir/made-bridge"
ip addr add "$pod_gateway/${pod_cidr#*/}" dev "$pod_bridge"
ip link set "$pod_bridge" up
cat >"$dir/cni/10-hnre-pods.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$pod_network",
  "plugins": [
    {
      "type": "bridge", "bridge": "$pod_bridge",
      "isGateway": false, "isDefaultGateway": false, "ipMasq": false, "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$pod_cidr", "gateway": "$pod_gateway"}]],
        "dataDir": "$dir/cni/ipam"
      }
    },
    {"type": "loopback"}
  ]
}
EOF
cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.grpc.v1.introspection-service"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$dir/containerd/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # This VM withholds CAP_SYS_RESOURCE even from root, so runc may not lower
  # oom_score_adj to the kubelet's -998 ("failed to update
  # /proc/self/oom_score_adj: Permission denied"): clamp it instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$dir/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
EOF
start containerd containerd --config "$dir/containerd/config.toml"
wait_until containerd 30 ctr --address "$sock" version

# The sandbox image: no registry is reachable, so build a FROM-scratch image
# around the static pause binary and import it.
pause_tar=$dir/containerd/pause.tar
(
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    cp "$bin/pause" "$ctx/pause"
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$ctx/Containerfile"
    buildah bud --quiet -f "$ctx/Containerfile" -t "$pause_image" "$ctx" >/dev/null
    rm -f "$pause_tar"
    buildah push --quiet "$pause_image" "docker-archive:$pause_tar:$pause_image" >/dev/null
) || fail "could not build the pause image with buildah"
ctr --address "$sock" -n k8s.io images import "$pause_tar" >/dev/null || fail "could not import the pause image"

# ---- kubelet ----
# The DaemonSet mounts / with mountPropagation HostToContainer, which needs /
# to be a shared mount, as systemd makes it on every ordinary host. This VM
# has no systemd and / is private: make it shared (that mount only, not
# recursive) and let `down` make it private again.
if ! awk '$5 == "/" {print $7}' /proc/self/mountinfo | grep -q shared; then
    mount --make-shared / && touch "$dir/made-root-shared"
fi
cat >"$dir/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host runs cgroup v1 without systemd: kubelet 1.36 refuses cgroup v1
# unless told, and cannot manage QoS cgroups or node allocatable here.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $pki/kubelet-server.crt
tlsPrivateKeyFile: $pki/kubelet-server.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$sock
rotateCertificates: true
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# A shared test machine: never evict or garbage-collect because of its disk.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
start kubelet "$bin/kubelet" --config "$dir/kubelet/config.yaml" \
    --root-dir "$dir/kubelet/root" --cert-dir "$dir/kubelet/pki" \
    --bootstrap-kubeconfig "$dir/bootstrap-kubelet.kubeconfig" --kubeconfig "$dir/kubelet.kubeconfig" \
    --hostname-override "$node" --node-ip 127.0.0.1
node_ready() {
    [ "$(kctl get node "$node" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_until kubelet 120 node_ready
for c in kube-controller-manager kube-scheduler; do
    alive "$c" || { show_log "$c"; fail "$c exited"; }
done

pids=""
for f in "$dir"/pids/*; do
    pids="$pids${pids:+, }\"$(basename "$f")\": $(cat "$f")"
done
cat >"$dir/cluster.json.tmp" <<EOF
{
  "api": "https://$api_host:$api_port",
  "node": "$node",
  "kubeconfig": "$dir/admin.kubeconfig",
  "kubelet_kubeconfig": "$dir/kubelet.kubeconfig",
  "ca": "$pki/ca.crt",
  "kubectl": "$bin/kubectl",
  "etcdctl": "$bin/etcdctl",
  "etcd": "http://127.0.0.1:$etcd_port",
  "containerd_sock": "$sock",
  "audit_log": "$dir/logs/audit.log",
  "node_monitor_grace_period": "$grace",
  "versions": {"kubernetes": "$K8S_VERSION", "etcd": "$ETCD_VERSION"},
  "pids": {$pids}
}
EOF
mv "$dir/cluster.json.tmp" "$dir/cluster.json"
echo "cluster up: $dir (node $node Ready, API https://$api_host:$api_port)"
