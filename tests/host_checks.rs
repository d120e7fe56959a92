//! End-to-end tests of the host checks against real kernel objects: the
//! built binary's one-shot `check` subcommand runs inside a private mount +
//! PID namespace (`unshare`, so `/proc/1/mountinfo` is the test's own mount
//! table) over real tmpfs mounts, and inside network namespaces joined by
//! veth pairs with a real dnsmasq. Addresses come only from the
//! documentation ranges 192.0.2.0/24 and 2001:db8::/64, in namespaces of
//! their own: nothing leaves the machine.
//!
//! Root is needed; outside CI these tests skip with a reason, in CI
//! (`E2E_REQUIRED=1`) a skip is a failure.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{TempDir, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_harmony-node-readiness-endpoint");

/// A name no parallel test uses: `hnre-<tag>-<pid>-<n>`.
fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("hnre-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// One run of `harmony-node-readiness-endpoint check --check <name>`.
#[derive(Debug)]
struct Run {
    label: String,
    rc: i32,
    body: serde_json::Value,
    took: Duration,
}

impl Run {
    fn passed(&self) -> bool {
        self.rc == 0 && self.body["status"] == "ready"
    }

    fn reason(&self) -> String {
        self.body["checks"][0]["reason"].as_str().unwrap_or("").to_string()
    }

    fn assert_pass(&self) {
        assert!(self.passed(), "{}: expected ready, got rc={} {}", self.label, self.rc, self.body);
    }

    fn assert_fail(&self, reason: &str) {
        assert_eq!(self.rc, 1, "{}: expected not ready, got {}", self.label, self.body);
        assert_eq!(self.body["status"], "not-ready", "{}", self.label);
        assert_eq!(self.reason(), reason, "{}", self.label);
    }
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `script` (sh) in a fresh mount + PID namespace where `$D` is `dir`
/// and `run LABEL VAR=value…` runs the one-shot check `$CHECK` and records
/// exit status and JSON. `set -e`: a failing setup command fails the test.
fn in_mount_ns(check: &str, dir: &TempDir, script: &str) -> Vec<Run> {
    let prelude = r#"set -eu
run() {
    label=$1; shift
    start=$(date +%s%N)
    if out=$(env NODE_NAME=test-node "$@" "$BIN" check --check "$CHECK" 2>/dev/null); then rc=0; else rc=$?; fi
    printf '%s\t%s\t%s\t%s\n' "$label" "$rc" "$(( ($(date +%s%N) - start) / 1000000 ))" "$out"
}
"#;
    let out = output(
        Command::new("timeout")
            .args(["120", "unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private"])
            .args(["sh", "-c", &format!("{prelude}{script}")])
            .env("BIN", BIN)
            .env("CHECK", check)
            .env("D", &dir.0),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "namespace script failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().map(parse_run).collect()
}

/// `label \t rc \t ms \t json`.
fn parse_run(line: &str) -> Run {
    let mut f = line.splitn(4, '\t');
    let label = f.next().unwrap_or("").to_string();
    let rc = f.next().and_then(|s| s.parse().ok()).unwrap_or(-1);
    let took = Duration::from_millis(f.next().and_then(|s| s.parse().ok()).unwrap_or(0));
    let body =
        serde_json::from_str(f.next().unwrap_or("")).unwrap_or_else(|e| panic!("{label}: not JSON ({e}): {line}"));
    Run { label, rc, body, took }
}

fn find<'a>(runs: &'a [Run], label: &str) -> &'a Run {
    runs.iter().find(|r| r.label == label).unwrap_or_else(|| panic!("no run {label} in {runs:?}"))
}

fn skip_mount_tests() -> bool {
    support::skip_unless_root("mounting tmpfs in a mount namespace")
        || support::skip_unless_program("unshare")
        || support::skip_unless_program("mount")
}

#[test]
fn filesystem_ro_follows_real_mounts() {
    if skip_mount_tests() {
        return;
    }
    let d = TempDir::new("fsro");
    let runs = in_mount_ns(
        "filesystem_ro",
        &d,
        r#"
mkdir -p "$D/a" "$D/b" "$D/c" "$D/with space" "$D/stack" "$D/root"
mount -t tmpfs -o size=1m fsro-a "$D/a"
run rw FILESYSTEM_RO_PATHS="$D/a"
mount -o remount,ro "$D/a"
run ro FILESYSTEM_RO_PATHS="$D/a"
mount -o remount,rw "$D/a"
run rw-again FILESYSTEM_RO_PATHS="$D/a"

# A read-only bind mount of a writable filesystem: the mount flag only.
mkdir "$D/a/data"
mount --bind "$D/a/data" "$D/b"
mount -o remount,bind,ro "$D/b"
run ro-bind FILESYSTEM_RO_PATHS="$D/a,$D/b"

# The superblock only (what errors=remount-ro does): c is a second mount of
# the same tmpfs whose own flag stays rw.
mount --bind "$D/a" "$D/c"
mount -o remount,ro "$D/a"
run superblock-ro FILESYSTEM_RO_PATHS="$D/c/data"
mount -o remount,rw "$D/a"

mount -t tmpfs -o ro fsro-space "$D/with space"
run space "FILESYSTEM_RO_PATHS=$D/with space"

# Stacked mounts: the one on top decides.
mount -t tmpfs -o ro fsro-low "$D/stack"
mount -t tmpfs fsro-top "$D/stack"
run stacked-rw-on-ro FILESYSTEM_RO_PATHS="$D/stack"
mount -t tmpfs -o ro fsro-top2 "$D/stack"
run stacked-ro-on-rw FILESYSTEM_RO_PATHS="$D/stack"

run absent FILESYSTEM_RO_PATHS="$D/absent,$D/a"

# Container layout: the host's / at HOST_ROOT; mountinfo still names host paths.
mount --rbind / "$D/root"
run host-root HOST_ROOT="$D/root" FILESYSTEM_RO_PATHS="$D/nope,$D/a,$D/stack"
"#,
    );
    let p = |rel: &str| d.join(rel).display().to_string();
    find(&runs, "rw").assert_pass();
    find(&runs, "ro").assert_fail(&format!("read-only: {} (fsro-a)", p("a")));
    find(&runs, "rw-again").assert_pass();
    find(&runs, "ro-bind").assert_fail(&format!("read-only: {} (fsro-a)", p("b")));
    find(&runs, "superblock-ro").assert_fail(&format!("read-only: {} (fsro-a)", p("c/data")));
    find(&runs, "space").assert_fail(&format!("read-only: {} (fsro-space)", p("with space")));
    find(&runs, "stacked-rw-on-ro").assert_pass();
    find(&runs, "stacked-ro-on-rw").assert_fail(&format!("read-only: {} (fsro-top2)", p("stack")));
    find(&runs, "absent").assert_pass();
    find(&runs, "host-root").assert_fail(&format!("read-only: {} (fsro-top2)", p("stack")));
}

#[test]
fn disk_pressure_on_a_filling_tmpfs() {
    if skip_mount_tests() {
        return;
    }
    let d = TempDir::new("disk");
    let runs = in_mount_ns(
        "disk_pressure",
        &d,
        r#"
mkdir -p "$D/disk" "$D/inodes"
mount -t tmpfs -o size=16m dp-disk "$D/disk"
mkdir "$D/disk/sub"
run empty DISK_PRESSURE_PATHS="$D/disk"
dd if=/dev/zero of="$D/disk/fill" bs=1M count=15 status=none
# The same filesystem twice and an absent path: one reason.
run full DISK_PRESSURE_PATHS="$D/absent,$D/disk,$D/disk/sub"
run full-threshold-0 DISK_PRESSURE_PATHS="$D/disk" MIN_FREE_PERCENT=0
rm "$D/disk/fill"
run freed DISK_PRESSURE_PATHS="$D/disk"

mount -t tmpfs -o size=16m,nr_inodes=200 dp-inodes "$D/inodes"
i=0
while [ $i -lt 195 ]; do : > "$D/inodes/f$i"; i=$((i + 1)); done
run inodes DISK_PRESSURE_PATHS="$D/inodes"
rm -f "$D/inodes"/f*
run inodes-freed DISK_PRESSURE_PATHS="$D/inodes"
"#,
    );
    find(&runs, "empty").assert_pass();
    // 16 MiB = 4096 pages, 15 MiB written: 256 pages free = 6.25 %.
    find(&runs, "full").assert_fail(&format!("{}: 6.2% free (< 10%)", d.join("disk").display()));
    find(&runs, "full-threshold-0").assert_pass();
    find(&runs, "freed").assert_pass();
    // 200 inodes, the root directory and 195 files use 196: 4 free = 2 %.
    find(&runs, "inodes").assert_fail(&format!("{}: 2.0% inodes free (< 5%)", d.join("inodes").display()));
    find(&runs, "inodes-freed").assert_pass();
}

/// Runs a command, panicking with its stderr when it fails.
fn sh(args: &[&str]) {
    let out = output(Command::new(args[0]).args(&args[1..]));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Two network namespaces joined by a veth pair: `node` (192.0.2.2,
/// 2001:db8::2, device veth0, default routes via the gateway) and `gw`
/// (192.0.2.1, 2001:db8::1, device veth1). Deleted on drop.
struct Lab {
    node: String,
    gw: String,
    root: TempDir,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let base = unique(tag);
        let lab = Lab { node: format!("{base}-n"), gw: format!("{base}-g"), root: TempDir::new(tag) };
        sh(&["ip", "netns", "add", &lab.node]);
        sh(&["ip", "netns", "add", &lab.gw]);
        let (n, g) = (lab.node.as_str(), lab.gw.as_str());
        sh(&["ip", "-n", n, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", g]);
        for (ns, dev, v4, v6) in
            [(n, "veth0", "192.0.2.2/24", "2001:db8::2/64"), (g, "veth1", "192.0.2.1/24", "2001:db8::1/64")]
        {
            sh(&["ip", "-n", ns, "addr", "add", v4, "dev", dev]);
            sh(&["ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad"]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&["ip", "-n", n, "route", "add", "default", "via", "192.0.2.1"]);
        sh(&["ip", "-n", n, "-6", "route", "add", "default", "via", "2001:db8::1"]);
        lab.resolv_conf("nameserver 192.0.2.1\n");
        lab.wait_until_gateways_answer();
        lab
    }

    /// A fresh link resolves neighbours slowly (the first IPv6 neighbour
    /// solicitation is often lost and retried after 1 s): the lab is ready
    /// once both gateways answer a patient ping.
    fn wait_until_gateways_answer(&self) {
        let patient = [
            ("NETWORK_GATEWAYS", "192.0.2.1,2001:db8::1"),
            ("NETWORK_PING_TIMEOUT_MS", "3000"),
            ("CHECK_TIMEOUT_MS", "4000"),
        ];
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let r = self.check("warm-up", &patient);
            if !r.reason().contains("gateway") {
                return;
            }
            assert!(Instant::now() < until, "lab gateways never answered: {}", r.reason());
        }
    }

    /// The node's `/etc/resolv.conf`, under the HOST_ROOT the runs use.
    fn resolv_conf(&self, text: &str) {
        std::fs::create_dir_all(self.root.0.join("etc")).unwrap();
        std::fs::write(self.root.0.join("etc/resolv.conf"), text).unwrap();
    }

    /// Runs the `network` check once inside the node namespace.
    fn check(&self, label: &str, env: &[(&str, &str)]) -> Run {
        self.check_as(label, env, &[])
    }

    /// Same, with a command prefix (e.g. `setpriv` to drop privileges).
    fn check_as(&self, label: &str, env: &[(&str, &str)], prefix: &[&str]) -> Run {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.node]).args(prefix).arg(BIN).args(["check", "--check", "network"]);
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env("NODE_NAME", "test-node");
        cmd.env("HOST_ROOT", &self.root.0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let out = output(&mut cmd);
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let body = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{label}: not JSON ({e}): {stdout} / {}", String::from_utf8_lossy(&out.stderr)));
        Run { label: label.into(), rc: out.status.code().unwrap_or(-1), body, took }
    }

    /// The gateway's IPv6 link-local address on veth1, once duplicate
    /// address detection is over (a tentative address answers nothing).
    fn gw_link_local(&self) -> String {
        wait_for("a usable link-local address on the gateway's veth1", Duration::from_secs(10), || {
            let out = output(Command::new("ip").args(["-n", &self.gw, "-6", "-o", "addr", "show", "dev", "veth1"]));
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find(|l| l.contains("scope link")).unwrap_or("");
            (!line.is_empty() && !line.contains("tentative")).then(|| {
                let addr = line.split_whitespace().skip_while(|w| *w != "inet6").nth(1).unwrap_or("");
                addr.split('/').next().unwrap_or("").to_string()
            })
        })
    }

    fn in_gw(&self, args: &[&str]) {
        let mut all = vec!["ip", "-n", &self.gw];
        all.extend_from_slice(args);
        sh(&all);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.node, &self.gw] {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
    }
}

/// dnsmasq in the gateway namespace on 192.0.2.1:53 with its own
/// configuration: `ready.test` has an A record, other `.test` names are
/// NXDOMAIN, everything else is answered locally (no upstream). Killed by
/// pid on drop.
struct Dnsmasq(Child);

impl Dnsmasq {
    fn start(lab: &Lab) -> Dnsmasq {
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.gw, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null"])
            .args(["--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=192.0.2.1"])
            .args(["--address=/ready.test/192.0.2.10", "--local=/test/", "--server=/#/", "--pid-file"])
            .arg("--log-facility=-")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let d = Dnsmasq(child);
        // Ready when its UDP socket on 192.0.2.1:53 exists in that namespace.
        wait_for("dnsmasq bound to 192.0.2.1:53", Duration::from_secs(10), || {
            let out = output(Command::new("ip").args(["netns", "exec", &lab.gw, "cat", "/proc/net/udp"]));
            String::from_utf8_lossy(&out.stdout).contains("010200C0:0035").then_some(())
        });
        d
    }

    fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        // `ip netns exec` execs dnsmasq: this pid is dnsmasq's own.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.kill();
    }
}

fn skip_network_tests(with_dnsmasq: bool) -> bool {
    support::skip_unless_root("creating network namespaces")
        || support::skip_unless_program("ip")
        || (with_dnsmasq && support::skip_unless_program("dnsmasq"))
}

/// The default 1000 ms check deadline plus process start and teardown.
const WALL_LIMIT: Duration = Duration::from_millis(1800);

#[test]
fn network_gateway_answers_then_goes_away() {
    if skip_network_tests(true) {
        return;
    }
    let lab = Lab::new("gw");
    let _dns = Dnsmasq::start(&lab);
    let env = [("NETWORK_DNS_NAME", "ready.test")];
    lab.check("up", &env).assert_pass();

    // The IPv4 gateway loses its address: IPv6 still answers.
    lab.in_gw(&["addr", "del", "192.0.2.1/24", "dev", "veth1"]);
    let r = lab.check("v4-address-removed", &[("NETWORK_DNS_NAME", "ready.test"), ("NETWORK_DNS_TIMEOUT_MS", "300")]);
    assert_eq!(r.rc, 1, "{r:?}");
    let reason = r.reason();
    assert!(reason.contains("gateway 192.0.2.1 (veth0): no ICMP reply in 500 ms"), "{reason}");
    assert!(!reason.contains("2001:db8::1"), "IPv6 gateway still answers: {reason}");
    assert!(r.took < WALL_LIMIT, "{:?}", r.took);
    lab.in_gw(&["addr", "add", "192.0.2.1/24", "dev", "veth1"]);

    // The gateway's link goes down: both gateways, within the deadline.
    lab.in_gw(&["link", "set", "veth1", "down"]);
    let r = lab.check("link-down", &[("NETWORK_GATEWAYS", ""), ("NETWORK_DNS_TIMEOUT_MS", "300")]);
    assert_eq!(r.rc, 1, "{r:?}");
    let reason = r.reason();
    assert!(reason.contains("gateway 192.0.2.1 (veth0): no ICMP reply in"), "{reason}");
    assert!(reason.contains("gateway 2001:db8::1 (veth0): no ICMP reply in"), "{reason}");
    assert!(r.took < WALL_LIMIT, "{:?}", r.took);
}

#[test]
fn network_explicit_gateways_and_no_default_route() {
    if skip_network_tests(true) {
        return;
    }
    let lab = Lab::new("gwlist");
    let _dns = Dnsmasq::start(&lab);
    lab.check("explicit", &[("NETWORK_GATEWAYS", "192.0.2.1,2001:db8::1")]).assert_pass();
    lab.check("explicit-absent", &[("NETWORK_GATEWAYS", "192.0.2.99"), ("NETWORK_PING_TIMEOUT_MS", "200")])
        .assert_fail("gateway 192.0.2.99: no ICMP reply in 200 ms");

    // The usual IPv6 setup (router advertisements): default via the
    // router's link-local address, which needs the interface as scope.
    let ll = lab.gw_link_local();
    sh(&["ip", "-n", &lab.node, "-6", "route", "replace", "default", "via", &ll, "dev", "veth0"]);
    lab.check("ipv6-link-local", &[]).assert_pass();
    lab.in_gw(&["-6", "addr", "flush", "dev", "veth1", "scope", "link"]);
    let r = lab.check("ipv6-link-local-gone", &[("NETWORK_PING_TIMEOUT_MS", "200")]);
    assert_eq!(r.reason(), format!("gateway {ll} (veth0): no ICMP reply in 200 ms"), "{r:?}");

    sh(&["ip", "-n", &lab.node, "route", "del", "default"]);
    sh(&["ip", "-n", &lab.node, "-6", "route", "del", "default"]);
    lab.check("no-route", &[]).assert_fail("no default route");
    lab.check("skip", &[("NETWORK_GATEWAYS", "none")]).assert_pass();
}

#[test]
fn network_dns_through_dnsmasq() {
    if skip_network_tests(true) {
        return;
    }
    let lab = Lab::new("dns");
    let dns = Dnsmasq::start(&lab);
    lab.check("name", &[("NETWORK_DNS_NAME", "ready.test")]).assert_pass();
    lab.check("root", &[]).assert_pass();
    lab.check("nxdomain", &[("NETWORK_DNS_NAME", "missing.test")]).assert_fail("DNS 192.0.2.1: missing.test: NXDOMAIN");
    // A dead first nameserver: the second one is asked halfway.
    lab.resolv_conf("nameserver 192.0.2.53\nnameserver 192.0.2.1\n");
    lab.check("second-server", &[("NETWORK_DNS_NAME", "ready.test")]).assert_pass();
    lab.resolv_conf("nameserver 192.0.2.1\n");

    dns.stop();
    let r = lab.check("stopped", &[("NETWORK_DNS_NAME", "ready.test")]);
    r.assert_fail("DNS 192.0.2.1: ICMP port unreachable (no DNS server listening)");
    assert!(r.took < WALL_LIMIT, "{:?}", r.took);

    // Nobody at that address at all: no reply.
    lab.resolv_conf("nameserver 192.0.2.53\n");
    lab.check("silent", &[]).assert_fail("DNS 192.0.2.53: no reply in 500 ms");
    lab.resolv_conf("# nothing here\nsearch example.test\n");
    lab.check("no-nameserver", &[]).assert_fail("no nameserver in /etc/resolv.conf");
}

#[test]
fn network_ping_without_root() {
    if skip_network_tests(true) || support::skip_unless_program("setpriv") {
        return;
    }
    let lab = Lab::new("unpriv");
    let _dns = Dnsmasq::start(&lab);
    let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
    // Default range "1 0": nobody may open ICMP datagram sockets.
    let r = lab.check_as("denied", &[], &nobody);
    assert_eq!(r.rc, 1, "{r:?}");
    let reason = r.reason();
    assert!(reason.contains("ping_group_range") && reason.contains("CAP_NET_RAW"), "{reason}");
    // Allowing our group: the unprivileged datagram socket works.
    let range = "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range";
    sh(&["ip", "netns", "exec", &lab.node, "sh", "-c", range]);
    lab.check_as("allowed", &[], &nobody).assert_pass();
}

#[test]
fn resolv_conf_without_nameserver_needs_no_privilege() {
    // No namespace, no traffic: the check fails before sending anything.
    let root = TempDir::new("resolv");
    std::fs::create_dir_all(root.0.join("etc")).unwrap();
    std::fs::write(root.0.join("etc/resolv.conf"), "options edns0\n").unwrap();
    let out = output(
        Command::new(BIN)
            .args(["check", "--check", "network"])
            .env("NODE_NAME", "test-node")
            .env("HOST_ROOT", &root.0)
            .env("NETWORK_GATEWAYS", "none"),
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(body["checks"][0]["reason"], "no nameserver in /etc/resolv.conf");
    let missing = Path::new(&root.0).join("nope");
    let out = output(
        Command::new(BIN)
            .args(["check", "--check", "network"])
            .env("NODE_NAME", "test-node")
            .env("HOST_ROOT", &missing)
            .env("NETWORK_GATEWAYS", "none"),
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = body["checks"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("cannot read /etc/resolv.conf: "), "{reason}");
}
