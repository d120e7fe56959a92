//! `harmony-node-readiness-endpoint status`: the terminal table an operator
//! reads on the node. Exit status 0/1/2 from a script's point of view, and
//! the screen as a person sees it, read back from a real terminal (tmux).

mod support;

use std::process::Command;
use std::time::Duration;

use support::run_check_cli;
use support::status_rig::{HOSTILE, NODE, StatusRig};

#[test]
fn exit_status_says_ready_not_ready_or_unreachable() {
    let rig = StatusRig::start(&[]);
    rig.probe_until("", 200);
    let url = rig.url();
    let (code, out, err) = run_check_cli(&["status", "--url", &url], &[]);
    assert_eq!(code, 0, "ready: {out}{err}");
    assert!(out.starts_with(&format!("node {NODE}: READY")), "{out}");
    assert!(!out.contains('\x1b'), "colour only on a terminal: {out:?}");

    rig.node_goes_not_ready("PLEG is not healthy");
    let (code, out, _) = run_check_cli(&["status", &format!("--url={url}/status")], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with(&format!("node {NODE}: NOT READY")), "{out}");
    let row = out.lines().find(|l| l.starts_with("node_ready ")).unwrap_or_else(|| panic!("no row: {out}"));
    assert!(row.contains("fail") && row.contains("KubeletNotReady: PLEG is not healthy"), "{row}");
    assert!(out.lines().any(|l| l.contains("node_ready") && l.contains("pass → fail")), "{out}");

    // Nothing listens on port 9 of 127.0.0.1 (discard; not run here).
    let (code, out, err) = run_check_cli(&["status", "--url", "http://127.0.0.1:9"], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("http://127.0.0.1:9/status?format=json: connection refused"), "{err}");
    // Something that is not this service.
    let (code, _, err) = run_check_cli(&["status", "--url", &rig.kubelet.url("")], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_check_cli(&["status", "--bogus"], &[]);
    assert_eq!(code, 2, "usage error: {err}");
}

#[test]
fn without_url_it_asks_where_listen_address_and_listen_port_say() {
    // The service on 127.0.0.2 and a free port, as LISTEN_ADDRESS and
    // LISTEN_PORT set in its unit's environment would put it.
    let rig = StatusRig::start(&[("LISTEN_ADDRESS", "127.0.0.2")]);
    rig.probe_until("", 200);
    let port = rig.svc.addr.port().to_string();
    let listen = [("LISTEN_ADDRESS", "127.0.0.2"), ("LISTEN_PORT", port.as_str())];
    let (code, out, err) = run_check_cli(&["status"], &listen);
    assert_eq!(code, 0, "asked the service where it listens: {out}{err}");
    assert!(out.starts_with(&format!("node {NODE}: READY")), "{out}");
    // The port alone: loopback 127.0.0.1, where this service does not listen.
    let (code, _, err) = run_check_cli(&["status"], &[("LISTEN_PORT", port.as_str())]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("http://127.0.0.1:{port}/status?format=json: connection refused")), "{err}");
    // --url wins over the environment.
    let url = rig.url();
    let (code, out, err) = run_check_cli(&["status", "--url", &url], &[("LISTEN_PORT", "9")]);
    assert_eq!(code, 0, "{out}{err}");
    // A value the service would refuse: the same one-line exit 2.
    for (var, value) in [("LISTEN_PORT", "abc"), ("LISTEN_PORT", "0"), ("LISTEN_ADDRESS", "localhost")] {
        let (code, out, err) = run_check_cli(&["status"], &[(var, value)]);
        assert_eq!(code, 2, "{var}={value}: {out}{err}");
        assert!(err.contains(var) && err.trim().lines().count() == 1, "{var}={value}: {err}");
    }
}

/// A tmux server on its own socket, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let tmux = Tmux { socket: format!("hnre-status-{}", std::process::id()) };
        let ok = tmux
            .cmd(&["new-session", "-d", "-s", "status", "-x", "220", "-y", "50", command])
            .status()
            .expect("run tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-u", "-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    /// The visible screen; `escapes`: with colour sequences.
    fn screen(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "status"];
        if escapes {
            args.push("-e");
        }
        String::from_utf8_lossy(&self.cmd(&args).output().expect("capture-pane").stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

#[test]
fn the_status_command_on_a_terminal() {
    if support::skip_unless_program("tmux") {
        return;
    }
    let rig = StatusRig::start(&[]);
    assert_eq!(rig.svc.get("/health?check=kubelet").status, 200);
    rig.node_goes_not_ready(&format!("runtime down \x1b[2J\x1b]0;pwned\x07 {HOSTILE}"));
    let command = format!(
        "env -u NO_COLOR TERM=xterm-256color {} status --url {}; echo EXIT=$?; sleep 60",
        support::service::BIN,
        rig.url()
    );
    let tmux = Tmux::start(&command);
    let screen = support::wait_for("the status table on the terminal", Duration::from_secs(20), || {
        let s = tmux.screen(false);
        s.contains("EXIT=").then_some(s)
    });
    let lines: Vec<&str> = screen.lines().collect();
    assert!(lines[0].starts_with(&format!("node {NODE}: NOT READY")), "{screen}");
    assert!(screen.contains("EXIT=1"), "{screen}");
    // A row per check, in columns.
    let header = lines.iter().find(|l| l.starts_with("CHECK")).unwrap_or_else(|| panic!("{screen}"));
    let reason_col = header.find("REASON").unwrap();
    for name in ["node_ready", "custom_conditions", "kubelet", "okd_router_1936", "disk_pressure", "network"] {
        assert!(lines.iter().any(|l| l.starts_with(&format!("{name} "))), "no row for {name}:\n{screen}");
    }
    let row = lines.iter().find(|l| l.starts_with("node_ready ")).unwrap();
    assert_eq!(row.find("KubeletNotReady"), Some(reason_col), "aligned:\n{screen}");
    // The escape sequences in the message were neutralised, not obeyed: the
    // screen was not cleared, the text is still there.
    assert!(row.contains("runtime down �[2J�]0;pwned� <script>alert(1)</script>\"><img"), "{row}");
    assert!(lines.iter().any(|l| l.starts_with("kubelet ") && l.contains("pass")), "{screen}");
    assert!(lines.iter().any(|l| l.starts_with("network ") && l.contains("not run")), "{screen}");
    assert!(lines.iter().any(|l| l.contains("node_ready") && l.contains("pass → fail")), "{screen}");
    // Colour on a terminal (tmux re-encodes it: one SGR per attribute).
    let coloured = tmux.screen(true);
    assert!(coloured.contains("\x1b[31mfail") && coloured.contains("\x1b[32mpass"), "{coloured:?}");
}
