//! The status page in a real browser: headless Chromium (Debian package
//! `chromium`) loads it from the running service, its DOM (`--dump-dom`)
//! must hold a row for every check and the transitions the test made, and
//! hostile condition messages must be text, not elements. Each test leaves
//! a screenshot under target/ (`CARGO_TARGET_TMPDIR`) as an artifact;
//! scripts/status-screenshot runs `readme_screenshot` to make the README's
//! docs/status-page.png (`STATUS_SCREENSHOT=path`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::TempDir;
use support::fake_apiserver::{Phase, endpoint, endpoint_slice};
use support::status_rig::{HOSTILE, NODE, StatusRig};

/// Chromium starts slowly on a busy 2-CPU machine; it never takes this long.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);
/// Every check the service knows, in its order: the page lists them all,
/// `not run` for those nobody asked for (service_endpoints included, even
/// with SERVICE_ENDPOINTS unset: `without_service_endpoints_…`).
const CHECKS: [&str; 11] = [
    "node_ready",
    "custom_conditions",
    "node_eligible",
    "kubelet",
    "okd_router_1936",
    "kube_proxy",
    "container_runtime",
    "filesystem_ro",
    "disk_pressure",
    "network",
    "service_endpoints",
];

/// Runs headless Chromium on `url` with `mode` (`--dump-dom`, or
/// `--screenshot=…`); returns its stdout. Its only traffic is to the
/// loopback service: every other address goes to a dead proxy, and
/// background services (updates, sync, metrics) are off.
fn chromium(mode: &str, url: &str) -> String {
    let profile = TempDir::new("chromium");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox", // tests run as root
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--dns-prefetch-disable",
            "--proxy-server=http://127.0.0.1:9",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1280,1240",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(url)
        .env("HOME", profile.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let deadline = Instant::now() + BROWSER_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {mode} within {BROWSER_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium {mode} failed: {status}");
    reader.join().unwrap()
}

/// Takes a screenshot of `url` into `path`; checks it is a real PNG.
fn screenshot(url: &str, path: &Path) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let _ = std::fs::remove_file(path);
    chromium(&format!("--screenshot={}", path.display()), url);
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "not a real screenshot: {} bytes", png.len());
    eprintln!("screenshot: {}", path.display());
}

fn artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page").join(name)
}

/// Text of the DOM element `<tag id="id"…>…</tag>` (the first one).
fn element<'a>(dom: &'a str, tag: &str, id: &str) -> &'a str {
    let start = dom.find(&format!("<{tag} id=\"{id}\"")).unwrap_or_else(|| panic!("no {tag}#{id} in the DOM:\n{dom}"));
    let end = dom[start..].find(&format!("</{tag}>")).map(|e| start + e).unwrap_or(dom.len());
    &dom[start..end]
}

#[test]
fn the_page_in_a_real_browser() {
    if support::skip_unless_program("chromium") {
        return;
    }
    let rig = StatusRig::start(&[("SERVICE_ENDPOINTS", "ingress/router")]);
    let ready_here = vec![endpoint("10.0.0.1", NODE, "router-1", Phase::Ready)];
    rig.api.set_endpoint_slice(endpoint_slice("ingress", "router-x7k2p", "router", ready_here));
    rig.probe_until("?check=service_endpoints", 200);
    rig.node_goes_not_ready(&format!("runtime down {HOSTILE}"));
    let url = rig.url() + "/";
    let dom = chromium("--dump-dom", &url);
    // Parsed by a browser, the hostile message made no element.
    assert!(!dom.contains("<script") && !dom.contains("<img"), "markup got through:\n{dom}");
    assert!(dom.contains("<h1>Node n1: <b class=\"fail\">NOT READY</b></h1>"), "{dom}");
    // A row per check, no more and none missing (a check added to the
    // service but not here fails this), in the service's order.
    let checks = element(&dom, "table", "checks");
    let rows: Vec<&str> = checks.split("<tr id=\"check-").skip(1).map(|r| r.split('"').next().unwrap_or("")).collect();
    assert_eq!(rows, CHECKS, "{checks}");
    let row = element(&dom, "tr", "check-node_ready");
    assert!(row.contains("<b>fail</b>"), "{row}");
    assert!(row.contains("KubeletNotReady: runtime down &lt;script&gt;alert(1)&lt;/script&gt;\"&gt;&lt;img"), "{row}");
    assert!(element(&dom, "tr", "check-network").contains("<b>not run</b>"));
    assert!(element(&dom, "tr", "check-service_endpoints").contains("<b>pass</b>"));
    // The EndpointSlice watch SERVICE_ENDPOINTS started, like the Node's.
    let watch = element(&dom, "tr", "watch-ingress/router");
    assert!(watch.contains("<td>watch</td><td>1</td><td>1 here, 0 elsewhere</td>"), "{watch}");
    // The transition the test made, newest first.
    let transitions = element(&dom, "table", "transitions");
    let newest = transitions.split("<tr").nth(2).unwrap_or_else(|| panic!("no transition row: {transitions}"));
    assert!(
        newest.contains("<td>node_ready</td>") && newest.contains("<b class=\"pass\">pass</b> → <b>fail</b>"),
        "{newest}"
    );
    assert!(element(&dom, "table", "node-state").contains(&rig.api.url()));
    screenshot(&url, &artifact("hostile-message.png"));
}

#[test]
fn without_service_endpoints_the_check_is_listed_not_run_and_no_watch_shows() {
    if support::skip_unless_program("chromium") {
        return;
    }
    let rig = StatusRig::start(&[]);
    rig.probe_until("", 200);
    let dom = chromium("--dump-dom", &(rig.url() + "/"));
    assert!(element(&dom, "tr", "check-service_endpoints").contains("<b>not run</b>"), "{dom}");
    assert!(!dom.contains("id=\"service-watches\""), "{dom}");
}

/// The README's screenshot: an ordinary bad night on a node (the router
/// lost its backends, then the kubelet reported NotReady).
#[test]
fn readme_screenshot() {
    if support::skip_unless_program("chromium") {
        return;
    }
    let rig = StatusRig::start(&[("DEFAULT_CHECKS", "node_ready,kubelet")]);
    rig.probe_until("?check=node_ready,kubelet,node_eligible,disk_pressure,okd_router_1936", 503);
    rig.router.set(support::fake_http::Mode::Answer(200, "ok".into()));
    rig.probe_until("?check=okd_router_1936", 200);
    rig.router.set(support::fake_http::Mode::Answer(503, "no ready backends".into()));
    rig.probe_until("?check=okd_router_1936", 503);
    rig.node_goes_not_ready(
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady \
         message:Network plugin returns error: cni plugin not initialized",
    );
    assert_eq!(rig.svc.get("/health?check=kubelet,node_eligible").status, 200);
    let url = rig.url() + "/";
    let dom = chromium("--dump-dom", &url);
    assert!(element(&dom, "tr", "check-okd_router_1936").contains("no ready backends"), "{dom}");
    assert!(dom.contains(&format!("Node {NODE}")));
    let out = std::env::var_os("STATUS_SCREENSHOT").map(PathBuf::from).unwrap_or_else(|| artifact("status-page.png"));
    screenshot(&url, &out);
}
