#!/bin/sh
# Installs the Debian packages the end-to-end tests talk to (real containerd,
# HAProxy, dnsmasq, ...). Runs as root on Debian/Ubuntu; elsewhere it says why
# it does nothing and those tests skip (outside CI) with a one-line reason.
set -eu

# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user: the aarch64
# static binary (scripts/static-build) run under emulation (tests/arm64.rs).
# haproxy: tests/haproxy.rs, tests/lb_examples.rs and scripts/lb-reaction;
# prometheus: `promtool check metrics` (tests/metrics.rs), `promtool test
# rules` and the server scraping the service (tests/monitoring.rs).
# buildah, keepalived, musl-tools, mount, systemd:
# tests/{image,lb_examples,static_binary,systemd}.rs (image, keepalived example, static build, chroot,
# systemd-analyze verify). chromium: tests/status_browser.rs loads the status
# page in headless Chromium (and scripts/status-screenshot); tmux:
# tests/status_command.rs reads the `status` command's screen; fonts-dejavu-core:
# legible text in those screenshots. containernetworking-plugins, openssl: the
# real cluster of scripts/cluster (loopback CNI plugin; its certificates),
# which also uses containerd and buildah (pause image) and builds Kubernetes
# with the Go toolchain at /usr/local/go (not a Debian package: it must be there).
# iptables: the real kube-proxy's proxy mode, inside a network namespace of
# its own (tests/support/kube_proxy.rs).
PACKAGES="
buildah
chromium
containerd
containernetworking-plugins
openssl
dnsmasq-base
fonts-dejavu-core
gcc-aarch64-linux-gnu
haproxy
iproute2
iptables
keepalived
libc6-dev-arm64-cross
mount
musl-tools
prometheus
qemu-user
systemd
tmux
util-linux
"
# kubectl renders deploy/ (kubectl kustomize). The machine's own kubectl (any
# recent one) is used when present; Debian's kubernetes-client only when none
# is, since both own /usr/bin/kubectl.
command -v kubectl >/dev/null 2>&1 || PACKAGES="$PACKAGES kubernetes-client"

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: not root on Debian/Ubuntu; end-to-end tests that need packages will skip" >&2
    exit 0
fi
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-test-deps: installing$missing" >&2
    # The tests start their own haproxy/containerd/dnsmasq; keep the packages'
    # postinst from starting system-wide services (exit 101 = "not allowed").
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if [ -n "$own_policy" ]; then rm -f "$policy"; fi
fi

# Helm for tests/helm_chart.rs and `make release`: built once from its Go
# module into a cache outside the clone (scripts/helm), so tests find it.
"$(dirname "$0")/helm" --path >/dev/null || echo "install-test-deps: helm could not be built; the chart tests will skip" >&2
