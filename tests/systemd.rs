//! The systemd unit (valid and hardened) and its sd_notify readiness.
mod support;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use support::service::BIN;
use support::{Service, TempDir, skip_unless_program};

use support::repo::{read, run};

/// `key=value` lines of a unit file.
fn unit_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn systemd_unit_is_valid_and_hardened() {
    let unit = read("packaging/systemd/harmony-node-readiness-endpoint.service");
    let settings = unit_settings(&unit);
    let has = |k: &str, v: &str| settings.iter().any(|(a, b)| a == k && b == v);
    for (k, v) in [
        ("Type", "notify"),
        ("ExecStart", "/usr/local/bin/harmony-node-readiness-endpoint"),
        ("Environment", "KUBECONFIG=/etc/kubernetes/kubelet.conf"),
        ("EnvironmentFile", "-/etc/default/harmony-node-readiness-endpoint"),
        ("Restart", "always"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("AmbientCapabilities", "CAP_NET_RAW"),
        ("CapabilityBoundingSet", "CAP_NET_RAW"),
        ("MemoryMax", "64M"),
    ] {
        assert!(has(k, v), "unit lacks {k}={v}");
    }
    assert!(settings.iter().any(|(k, _)| k == "ProtectHome"), "unit lacks ProtectHome");
    // Every VAR=value of the env example (commented ones too) is a real knob.
    // KUBECONFIG is the standard client variable, whatever --help says.
    let (_, help, _) = support::run_check_cli(&["--help"], &[]);
    let help = help + " KUBECONFIG";
    for line in read("packaging/systemd/harmony-node-readiness-endpoint.env").lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some((var, _)) =
            line.split_once('=').filter(|(v, _)| v.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            assert!(help.contains(var), "env example sets {var}, which --help does not know");
        }
    }

    if skip_unless_program("systemd-analyze") {
        return;
    }
    // verify checks that ExecStart exists: point it at the built binary.
    let tmp = TempDir::new("unit");
    let copy = tmp.path().join("harmony-node-readiness-endpoint.service");
    std::fs::write(
        &copy,
        unit.replace("ExecStart=/usr/local/bin/harmony-node-readiness-endpoint", &format!("ExecStart={BIN}")),
    )
    .unwrap();
    let (ok, out, err) = run(Command::new("systemd-analyze").arg("verify").arg(&copy));
    assert!(ok && err.trim().is_empty(), "systemd-analyze verify:\n{out}\n{err}");
}

/// What systemd's `Type=notify` waits for: READY=1 on $NOTIFY_SOCKET once
/// the service answers.
fn assert_ready_notification(socket_env: &str, socket: &UnixDatagram) {
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let svc = Service::start(&[("NOTIFY_SOCKET", socket_env)]);
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("no READY=1 datagram");
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(msg.lines().any(|l| l == "READY=1"), "notification: {msg:?}");
    // Ready means serving.
    assert_eq!(svc.get("/livez").status, 200);
}

#[test]
fn sd_notify_ready_reaches_a_path_socket() {
    let tmp = TempDir::new("notify");
    let path = tmp.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    assert_ready_notification(path.to_str().unwrap(), &socket);
}

#[test]
fn sd_notify_ready_reaches_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("hnre-packaging-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    assert_ready_notification(&format!("@{name}"), &socket);
}
