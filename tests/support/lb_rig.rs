//! The HAProxy scenario shared by tests/haproxy.rs and the lb-reaction
//! benchmark: fake API (node Ready) and kubelet, the service, a backend app,
//! and a real HAProxy health-checking the service for that app.

use std::net::SocketAddr;
use std::time::Duration;

use super::fake_apiserver::FakeApiServer;
use super::fake_http::{FakeHttp, Mode};
use super::haproxy::{Haproxy, Stat, free_port, get_through};
use super::kube_env::{Creds, as_env, env_for};
use super::{Service, wait_for};

pub const NODE: &str = "n1";
/// `fall 2 rise 2` at `inter 200ms` reacts within about a second; the
/// limit is generous for shared CI machines.
pub const REACT: Duration = Duration::from_secs(15);

/// The HTTP check of the issue: node_ready and kubelet, every 200 ms.
pub const HTTPCHK: &str = "option httpchk GET /health?check=node_ready,kubelet";
pub const TIMING: &str = "inter 200ms fall 2 rise 2";

/// Everything one HAProxy scenario needs. Field order = drop order:
/// HAProxy first, then the service, then its dependencies.
pub struct Rig {
    pub haproxy: Haproxy,
    pub svc: Option<Service>,
    pub api: FakeApiServer,
    pub kubelet: Option<FakeHttp>,
    pub app: FakeHttp,
    pub frontend: SocketAddr,
}

pub fn ok() -> Mode {
    Mode::Answer(200, "ok".into())
}

pub fn rig(env: &[(&str, &str)], server_options: &str) -> Rig {
    rig_with(env, server_options, "")
}

/// Starts API (node Ready), kubelet fake, the service with `env`, the
/// backend app, and HAProxy: server `node1` with `server_options` in backend
/// `be` behind a frontend, then `more` config (`{app}`, `{svc}`, `{agent}`
/// and `{timing}` replaced in both).
pub fn rig_with(env: &[(&str, &str)], server_options: &str, more: &str) -> Rig {
    let api = FakeApiServer::start();
    api.add_node(NODE);
    let kubelet = FakeHttp::start(ok());
    let app = FakeHttp::start(Mode::Answer(200, "hello from the app".into()));
    let mut owned = env_for(&api, NODE, Creds::KubeconfigTokenFile);
    owned.push(("KUBELET_HEALTHZ_URL".into(), kubelet.url("/healthz")));
    owned.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let svc = Service::start(&as_env(&owned));
    let agent = if owned.iter().any(|(k, _)| k == "AGENT_PORT") { agent_port(&svc) } else { 0 };
    let frontend: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let fill = |s: &str| {
        s.replace("{app}", &app.addr.to_string())
            .replace("{svc}", &svc.port().to_string())
            .replace("{agent}", &agent.to_string())
            .replace("{timing}", TIMING)
    };
    let server = fill(&format!("server node1 {{app}} check port {{svc}} {{timing}} {server_options}"));
    let more = fill(more);
    let haproxy = Haproxy::start(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 1s\n\n\
         frontend fe\n    bind {frontend}\n    default_backend be\n\n\
         backend be\n    {HTTPCHK}\n    {server}\n\n{more}"
    ));
    Rig { haproxy, svc: Some(svc), api, kubelet: Some(kubelet), app, frontend }
}

pub fn agent_port(svc: &Service) -> u16 {
    wait_for("the agent-check listener", Duration::from_secs(10), || {
        let log = svc.log();
        let rest = log.split("HAProxy agent-check answering on ").nth(1)?;
        rest.split_whitespace().next()?.parse::<SocketAddr>().ok().map(|a| a.port())
    })
}

impl Rig {
    pub fn wait(&self, status: &str) -> Stat {
        self.haproxy.wait_status("be", "node1", status, REACT)
    }

    /// Traffic through HAProxy: forwarded to the app while the server is UP.
    pub fn forwarded(&self) -> bool {
        matches!(get_through(self.frontend, "/"), Some((200, body)) if body == "hello from the app")
    }
}
