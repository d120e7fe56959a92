//! A running service with a story to tell on its status page: a fake API
//! server with one Node, fake kubelet and router endpoints, and helpers that
//! make transitions happen the way an operator would meet them. Shared by
//! tests/status_page.rs, tests/status_browser.rs and tests/status_command.rs.

use std::time::Duration;

use crate::support::Service;
use crate::support::fake_apiserver::FakeApiServer;
use crate::support::fake_http::{FakeHttp, Mode};
use crate::support::kube_env::{Creds, as_env, env_for};

pub const NODE: &str = "n1";
/// What a hostile pod allowed to patch the Node might write into a
/// condition message: it must reach every screen as text.
pub const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
/// Generous: reactions take well under a second, but CI machines are shared.
pub const FLIP: Duration = Duration::from_secs(10);

pub struct StatusRig {
    // Field order = drop order: stop the service before its dependencies.
    pub svc: Service,
    pub api: FakeApiServer,
    pub kubelet: FakeHttp,
    pub router: FakeHttp,
}

impl StatusRig {
    /// Node `n1` Ready, kubelet answering 200, router 503; results never
    /// reused (`CHECK_MIN_INTERVAL_MS=0`), so each probe shows the present.
    pub fn start(extra: &[(&str, &str)]) -> StatusRig {
        let api = FakeApiServer::start();
        api.add_node(NODE);
        let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
        let router = FakeHttp::start(Mode::Answer(503, "router has no backends".into()));
        let mut env = env_for(&api, NODE, Creds::KubeconfigTokenFile);
        env.push(("KUBELET_HEALTHZ_URL".into(), kubelet.url("/healthz")));
        env.push(("OKD_ROUTER_HEALTHZ_URL".into(), router.url("/healthz/ready")));
        env.push(("CHECK_MIN_INTERVAL_MS".into(), "0".into()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let svc = Service::start(&as_env(&env));
        StatusRig { svc, api, kubelet, router }
    }

    /// Probes `/health?check=…` until it answers `code`.
    pub fn probe_until(&self, query: &str, code: u16) -> crate::support::Response {
        crate::support::wait_for(&format!("/health{query} {code}"), FLIP, || {
            let r = self.svc.get(&format!("/health{query}"));
            (r.status == code).then_some(r)
        })
    }

    /// A probe sees the Node Ready, then the kubelet reports it NotReady
    /// with `message`, and a probe sees that: one pass → fail transition of
    /// node_ready in the history.
    pub fn node_goes_not_ready(&self, message: &str) {
        self.probe_until("", 200);
        self.api.set_ready(NODE, "False", "KubeletNotReady", message);
        self.probe_until("", 503);
    }

    /// `GET path` with extra request headers.
    pub fn get_with(&self, path: &str, headers: &str) -> crate::support::Response {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");
        let bytes = crate::support::service::exchange(self.svc.addr, req.as_bytes(), Duration::from_secs(30));
        crate::support::Response::parse(&bytes).expect("complete response").0
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.svc.addr)
    }
}
