#!/usr/bin/env bash
# `scripts/cluster down DIR`: stops every process `up` started, by the pids it
# recorded (containers first, through containerd, so no shim outlives it),
# unmounts what the kubelet and containerd mounted under DIR and removes DIR.
set -uo pipefail
dir=$1
[ -d "$dir" ] || exit 0
dir=$(cd "$dir" && pwd)
. "$(dirname "$0")/lifecycle.sh"

stop_component kubelet TERM
sock=$dir/containerd/containerd.sock
# Pod network namespaces (containerd pins each under /var/run/netns, outside
# DIR): noted now, released below, so that their veths go with them.
netns=""
if [ -S "$sock" ] && component_alive containerd; then
    for id in $(ctr --address "$sock" -n k8s.io containers ls -q 2>/dev/null); do
        netns="$netns $(ctr --address "$sock" -n k8s.io containers info "$id" 2>/dev/null |
            grep -o '/var/run/netns/cni-[0-9a-f-]*' | sort -u)"
    done
    for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
        ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    done
    for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
        for _ in $(seq 50); do
            ctr --address "$sock" -n k8s.io tasks delete "$id" >/dev/null 2>&1 && break
            sleep 0.1
        done
    done
    for id in $(ctr --address "$sock" -n k8s.io containers ls -q 2>/dev/null); do
        ctr --address "$sock" -n k8s.io containers rm "$id" >/dev/null 2>&1
    done
fi
for c in containerd kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stop_component "$c" TERM
done
# A shim whose task could not be deleted: found by the socket address on its
# command line (only this cluster's), stopped by pid.
for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "-address $sock "; then
        kill -KILL "${p#/proc/}" 2>/dev/null
    fi
done
# Mounts under DIR (the kubelet bind-mounts its root dir onto itself; pod
# volumes, overlay snapshots, shm), deepest first.
for _ in 1 2 3; do
    mounts=$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    [ -n "$mounts" ] || break
    for m in $mounts; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
done
[ ! -e "$dir/made-root-shared" ] || mount --make-private /
# The pod network: namespaces (their veths die with them), the bridge up.sh
# made, libcni's result cache of our network (host-local's IPAM state is
# under DIR). Names as in up.sh.
for ns in $(printf '%s\n' $netns | sort -u); do
    umount "$ns" 2>/dev/null
    rm -f "$ns"
done
[ ! -e "$dir/made-bridge" ] || ip link del hnre0 2>/dev/null
rm -f /var/lib/cni/results/hnre-pods-*
rm -rf "$dir"
[ ! -e "$dir" ] || { echo "cluster down: could not remove $dir" >&2; exit 1; }
