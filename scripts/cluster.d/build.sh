#!/usr/bin/env bash
# `scripts/cluster build`: builds (or finds in the cache) the pinned Kubernetes
# (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl,
# kube-proxy) and etcd binaries from their Go modules, plus the pod sandbox binary, and
# prints their paths and versions. The cache folder is keyed by every version
# (Kubernetes, etcd, Go), outside the clone, so a second run on the same
# machine (a later session or CI) rebuilds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions"

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$GO" ] || { echo "cluster build: no Go toolchain (looked for go on PATH and /usr/local/go/bin/go)" >&2; exit 1; }
go_version=$("$GO" env GOVERSION)
cache=$(cluster_cache_dir "$go_version")
bin=$cache/bin

print_binaries() {
    echo "cluster binaries in $bin (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, $go_version):"
    for b in $CLUSTER_BINARIES; do
        printf '  %-24s %s\n' "$b" "$(cat "$bin/$b.version")"
    done
}

# The cache holds binary NAME and its version file.
have() { [ -x "$bin/$1" ] && [ -f "$bin/$1.version" ]; }

# Every binary and its version file is there (a cache finished before a
# binary joined CLUSTER_BINARIES is not).
cache_complete() {
    [ -f "$cache/complete" ] || return 1
    for b in $CLUSTER_BINARIES; do
        have "$b" || return 1
    done
}

# --check: exit 0 only when the cache is complete (the tests use it so that a
# plain `cargo test` never starts a build of many minutes).
if [ "${1:-}" = --check ]; then
    cache_complete
    exit
fi

# Kubernetes: a wrapper module requiring k8s.io/kubernetes and replacing each
# staging module (its own go.mod points them at ./staging/...) with the
# published v0.Y.Z release of the same minor.
k8s_module() { # DIR
    local staging_version=v0.${K8S_VERSION#v1.} k8s_gomod
    k8s_gomod=$(cd "$1" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
        sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    {
        echo "module hnre-cluster-build/k8s"
        echo
        echo "go $(sed -n 's/^go //p' "$k8s_gomod")"
        echo
        echo "require k8s.io/kubernetes $K8S_VERSION"
        echo
        echo "replace ("
        sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*|\t\1 => \1 '"$staging_version"'|p' "$k8s_gomod"
        echo ")"
    } >"$1/go.mod"
}

# `go build` of k8s.io/kubernetes/cmd/NAME... into OUT, stamped with the
# version like an official release.
build_k8s() { # MODULE_DIR OUT NAME...
    local dir=$1 out=$2 minor build_date ldflags="-s -w" pkg name
    shift 2
    minor=${K8S_VERSION#v1.}
    minor=${minor%%.*}
    build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
    done
    local pkgs=()
    for name in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
    echo "cluster build: Kubernetes $K8S_VERSION $* (wrapper module $dir), this takes minutes on a cold cache" >&2
    (cd "$dir" && CGO_ENABLED=0 nice "$GO" build -mod=mod -trimpath -ldflags "$ldflags" -o "$out/" "${pkgs[@]}")
    for name in "$@"; do
        case $name in
        kubectl) "$out/kubectl" version --client 2>/dev/null | head -n 1 >"$out/kubectl.version" ;;
        *) "$out/$name" --version >"$out/$name.version" ;;
        esac
    done
}

# The Kubernetes commands the cluster runs (kube-proxy only in the tests that
# start one, in a network namespace of their own).
K8S_COMMANDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # a concurrent build (another checkout, CI) waits for this one
if cache_complete; then
    print_binaries
    exit 0
fi

work=$cache/work
start=$(date +%s)

# A cache completed before a Kubernetes command joined the list gets only
# the missing commands (with Go's build cache, seconds to minutes instead of
# the quarter of an hour of a cold build); anything else missing means a
# full build.
if [ -f "$cache/complete" ]; then
    missing=()
    for b in $CLUSTER_BINARIES; do
        have "$b" && continue
        case " $K8S_COMMANDS " in *" $b "*) missing+=("$b") ;; *) missing=(); break ;; esac
    done
    if [ ${#missing[@]} -gt 0 ]; then
        rm -rf "$work" && mkdir -p "$work/k8s" "$work/bin"
        k8s_module "$work/k8s"
        build_k8s "$work/k8s" "$work/bin" "${missing[@]}"
        for b in "${missing[@]}"; do mv "$work/bin/$b.version" "$work/bin/$b" "$bin/"; done
        rm -rf "$work"
        echo "cluster build: added ${missing[*]} in $(( $(date +%s) - start )) s" >&2
        print_binaries
        exit 0
    fi
    rm -f "$cache/complete"
fi

rm -rf "$work" "$bin.new"
mkdir -p "$work/k8s" "$work/etcd" "$work/pause" "$bin.new"
k8s_module "$work/k8s"
# shellcheck disable=SC2086 # a list of names
build_k8s "$work/k8s" "$bin.new" $K8S_COMMANDS

# etcd and etcdctl: their main packages are the module roots.
cat >"$work/etcd/go.mod" <<MOD
module hnre-cluster-build/etcd

go 1.24

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/etcdctl/v3 $ETCD_VERSION
)
MOD
echo "cluster build: etcd $ETCD_VERSION" >&2
(cd "$work/etcd" && CGO_ENABLED=0 nice "$GO" build -mod=mod -trimpath -ldflags "-s -w" -o "$bin.new/" \
    go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3)
mv "$bin.new/v3" "$bin.new/etcd" 2>/dev/null || true
[ -x "$bin.new/etcd" ] || mv "$bin.new/server" "$bin.new/etcd"

# The sandbox image's binary (see pause/main.go).
cp "$here/pause/main.go" "$work/pause/"
printf 'module hnre-cluster-build/pause\n\ngo 1.22\n' >"$work/pause/go.mod"
(cd "$work/pause" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$bin.new/pause" .)

"$bin.new/etcd" --version | head -n 1 >"$bin.new/etcd.version"
"$bin.new/etcdctl" version | head -n 1 >"$bin.new/etcdctl.version"
echo "built from $here/pause/main.go with $go_version" >"$bin.new/pause.version"

rm -rf "$bin" && mv "$bin.new" "$bin"
rm -rf "$work"
echo "$(( $(date +%s) - start ))" >"$cache/build-seconds"
touch "$cache/complete"
echo "cluster build: done in $(cat "$cache/build-seconds") s" >&2
print_binaries
