//! The load-balancer examples validated by the real HAProxy and keepalived,
//! and the F5 receive string against real answers.
mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::fake_apiserver::FakeApiServer;
use support::fake_http::{FakeHttp, Mode};
use support::kube_env::{Creds, as_env, env_for};
use support::service::exchange;
use support::{Response, Service, TempDir, skip_unless_program, wait_for};

use support::repo::{read, repo, run};

#[test]
fn haproxy_accepts_the_example() {
    if skip_unless_program("haproxy") {
        return;
    }
    let (ok, out, err) = run(Command::new("haproxy").arg("-c").arg("-f").arg(repo("examples/haproxy.cfg")));
    assert!(ok, "haproxy -c:\n{out}\n{err}");
    assert!(!format!("{out}{err}").contains("WARNING"), "haproxy warns:\n{out}\n{err}");
    let cfg = read("examples/haproxy.cfg");
    assert!(cfg.contains("option httpchk GET /health?check=node_ready,kubelet"));
    assert!(cfg.contains("http-check expect status 200"));
    assert!(cfg.contains("inter 5s fall 3 rise 2"));
}

#[test]
fn keepalived_accepts_the_example() {
    if skip_unless_program("keepalived") {
        return;
    }
    let (ok, out, err) =
        run(Command::new("keepalived").arg("--config-test").arg("-f").arg(repo("examples/keepalived.conf")));
    assert!(ok && err.trim().is_empty(), "keepalived --config-test:\n{out}\n{err}");
    let cfg = read("examples/keepalived.conf");
    assert!(cfg.contains("path /health?check=node_ready,kubelet") && cfg.contains("connect_port 25001"));
}

/// A double-quoted tmsh string value of `key` in the F5 example, unescaped.
fn tmsh_string(text: &str, key: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{key} \"")))
        .unwrap_or_else(|| panic!("no {key} in f5-monitor.tmsh"));
    let quoted = &line[key.len() + 2..line.len() - 1];
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => panic!("dangling backslash in {key}"),
        }
    }
    out
}

/// A service on node `n1` of a fake API server, its kubelet check pointed at
/// `kubelet`: the real inputs of the examples' `node_ready,kubelet`.
fn service_behind_an_lb(api: &FakeApiServer, kubelet: &FakeHttp) -> Service {
    api.add_node("n1");
    let mut env = env_for(api, "n1", Creds::KubeconfigTokenFile);
    env.push(("KUBELET_HEALTHZ_URL".into(), kubelet.url("/healthz")));
    env.push(("CHECK_MIN_INTERVAL_MS".into(), "0".into()));
    Service::start(&as_env(&env))
}

#[test]
fn f5_receive_string_matches_ready_answers_and_never_not_ready_ones() {
    let text = read("examples/f5-monitor.tmsh");
    let send = tmsh_string(&text, "send");
    let recv = tmsh_string(&text, "recv");
    // F5 treats recv as a regular expression: this one has no operator in it,
    // so a plain substring search is the same match.
    assert!(!recv.contains(['.', '[', ']', '(', ')', '*', '+', '?', '{', '}', '|', '^', '$', '\\']), "{recv}");
    assert!(send.ends_with("\r\n\r\n") && send.contains("\r\nHost: ") && send.contains("\r\nConnection: close\r\n"));
    assert!(send.starts_with("GET /health?check=node_ready,kubelet HTTP/1.1\r\n"), "{send:?}");

    let api = FakeApiServer::start();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = service_behind_an_lb(&api, &kubelet);
    // The monitor's exact request; F5 reads until the server closes.
    let answer_with = |status: u16| -> String {
        wait_for(&format!("a {status} answer to the F5 send string"), Duration::from_secs(10), || {
            let raw = exchange(svc.addr, send.as_bytes(), Duration::from_secs(10));
            let (resp, _) = Response::parse(&raw)?;
            (resp.status == status).then(|| String::from_utf8_lossy(&raw).into_owned())
        })
    };
    let ready = answer_with(200);
    assert!(ready.contains(&recv), "recv {recv:?} does not match a 200 answer:\n{ready}");
    // Node NotReady in the API: 503, and the receive string must not match.
    api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
    let not_ready = answer_with(503);
    assert!(not_ready.contains("not-ready") && not_ready.contains("KubeletNotReady"), "{not_ready}");
    assert!(!not_ready.contains(&recv), "recv {recv:?} matches a 503 answer:\n{not_ready}");
    // Node Ready again but the kubelet down: 503 too.
    api.set_ready("n1", "True", "KubeletReady", "kubelet is posting ready status");
    answer_with(200);
    kubelet.set(Mode::Answer(500, "down".into()));
    let kubelet_down = answer_with(503);
    assert!(!kubelet_down.contains(&recv), "recv {recv:?} matches a 503 answer:\n{kubelet_down}");
}

#[test]
fn every_example_says_which_checks_it_selects_and_why() {
    for file in ["haproxy.cfg", "f5-monitor.tmsh", "keepalived.conf", "opnsense.md"] {
        let text = read(&format!("examples/{file}"));
        assert!(text.contains("Checks selected"), "{file} does not say which checks it selects");
        assert!(text.contains("node_ready") && text.contains("kubelet"), "{file}");
    }
}

/// The state HAProxy's stats socket reports for `backend/server` (`UP`,
/// `DOWN`, `UP 1/2`, ...) and its last check status (`L7OK`, `L7STS`, ...).
fn haproxy_server_state(socket: &Path, backend: &str, server: &str) -> Option<(String, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.write_all(b"show stat\n").ok()?;
    let mut csv = String::new();
    s.read_to_string(&mut csv).ok()?;
    let header: Vec<&str> = csv.lines().next()?.trim_start_matches("# ").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (status, check) = (col("status")?, col("check_status")?);
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[0] == backend && f[1] == server)
        .map(|f| (f[status].to_string(), f[check].to_string()))
}

/// A real HAProxy with the example's health-check lines (faster interval)
/// takes a node out when the API says NotReady or its kubelet dies, and puts
/// it back when the endpoint answers 200 again.
#[test]
fn haproxy_with_the_example_check_follows_the_endpoint() {
    if skip_unless_program("haproxy") {
        return;
    }
    let example = read("examples/haproxy.cfg");
    let line = |prefix: &str| -> String {
        example
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}"))
            .to_string()
    };
    let httpchk = line("option httpchk");
    let expect = line("http-check expect");

    let api = FakeApiServer::start();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = service_behind_an_lb(&api, &kubelet);
    let traffic = FakeHttp::start(Mode::Answer(200, "the service behind the LB".into()));
    let tmp = TempDir::new("haproxy");
    let socket = tmp.path().join("stats.sock");
    let cfg = format!(
        "global\n    stats socket {sock} mode 600 level admin\n\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 1s\n\
         backend ingress\n    {httpchk}\n    {expect}\n    \
         server node1 {traffic} check port {port} inter 100ms fall 3 rise 2\n",
        sock = socket.display(),
        traffic = traffic.addr,
        port = svc.port(),
    );
    let cfg_path = tmp.path().join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let log = std::fs::File::create(tmp.path().join("haproxy.log")).unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _haproxy = Kill(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start haproxy"),
    );
    let state = |want: &'static str| {
        wait_for(&format!("HAProxy to report node1 {want}"), Duration::from_secs(20), || {
            let state = haproxy_server_state(&socket, "ingress", "node1");
            state.filter(|(s, _)| s == want)
        })
    };
    let (_, check) = state("UP");
    assert_eq!(check, "L7OK");
    // The API marks the node NotReady: HAProxy takes it out on the 503.
    api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
    let (_, check) = state("DOWN");
    assert_eq!(check, "L7STS", "taken out for the 503 status");
    api.set_ready("n1", "True", "KubeletReady", "kubelet is posting ready status");
    state("UP");
    // The kubelet dies (the API does not know yet): out again.
    kubelet.set(Mode::Answer(500, "kubelet down".into()));
    state("DOWN");
}
