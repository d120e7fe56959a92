//! The local `/healthz`-style checks: `kubelet`, `okd_router_1936` and
//! `kube_proxy` each GET a URL on this node and pass iff it answers `200`.
//! One table says, per check, which URL knob it probes and how reasons name
//! the endpoint; one probe does the rest. Every ureq timeout is derived
//! from the run's deadline (ureq has none by default).

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ureq::tls::{PemItem, RootCerts, TlsConfig};

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::config::Config;

/// One local HTTP check: its id, how reasons name the endpoint, the knob
/// holding its URL, and what a non-200 body says in a reason.
struct LocalProbe {
    id: CheckId,
    what: &'static str,
    url: fn(&Config) -> &str,
    explain: Explain,
}

/// A short account of a non-200 body, or `None` for its first line.
type Explain = fn(&str) -> Option<String>;

/// Every local HTTP check (the URL knobs are KUBELET_HEALTHZ_URL,
/// OKD_ROUTER_HEALTHZ_URL and KUBE_PROXY_HEALTHZ_URL).
const PROBES: [LocalProbe; 3] = [
    LocalProbe { id: CheckId::Kubelet, what: "kubelet healthz", url: |c| &c.kubelet_healthz_url, explain: |_| None },
    LocalProbe {
        id: CheckId::OkdRouter,
        what: "OKD router healthz",
        url: |c| &c.okd_router_healthz_url,
        explain: |_| None,
    },
    LocalProbe {
        id: CheckId::KubeProxy,
        what: "kube-proxy healthz",
        url: |c| &c.kube_proxy_healthz_url,
        explain: kube_proxy_body,
    },
];

pub const KUBELET: Check = Check { id: CheckId::Kubelet, exec: Exec::Probe, run: |ctx, d| run(&PROBES[0], ctx, d) };
pub const OKD_ROUTER: Check =
    Check { id: CheckId::OkdRouter, exec: Exec::Probe, run: |ctx, d| run(&PROBES[1], ctx, d) };
pub const KUBE_PROXY: Check =
    Check { id: CheckId::KubeProxy, exec: Exec::Probe, run: |ctx, d| run(&PROBES[2], ctx, d) };

fn run(p: &LocalProbe, ctx: &Ctx, deadline: Instant) -> Outcome {
    let c = &ctx.config;
    probe(p.what, (p.url)(c), c.local_http_ca_file.as_deref(), c.timeout_for(p.id), deadline, p.explain)
}

/// kube-proxy's `/healthz` body is one line of JSON
/// (pkg/proxy/healthcheck/proxy_health.go) whose first 80 characters are
/// timestamps; its 503 has two causes, named here: `nodeEligible` false
/// while its Node is being deleted or carries the Cluster Autoscaler's
/// ToBeDeletedByClusterAutoscaler taint, `healthy` false when a queued rule
/// change is older than twice its sync period.
fn kube_proxy_body(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let mut why = Vec::new();
    if v["nodeEligible"] == false {
        why.push("nodeEligible=false (Node being deleted or tainted ToBeDeletedByClusterAutoscaler)".to_string());
    }
    if v["healthy"] == false {
        let last = v["lastUpdated"].as_str().unwrap_or("?");
        why.push(format!("healthy=false (rules last synced {last})"));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Longest body excerpt quoted in a reason.
const BODY_EXCERPT_CHARS: usize = 80;

/// Probes `url`; `what` names the endpoint in reasons ("kubelet healthz"),
/// `timeout` is the configured deadline, quoted when it is hit; `explain`
/// words a non-200 body.
fn probe(
    what: &str,
    url: &str,
    ca_file: Option<&Path>,
    timeout: Duration,
    deadline: Instant,
    explain: Explain,
) -> Outcome {
    let budget = deadline.saturating_duration_since(Instant::now());
    if budget.is_zero() {
        return Outcome::unknown(format!("{what}: no time left to probe"));
    }
    let tls = match tls_config(url, ca_file) {
        Ok(t) => t,
        Err(e) => return Outcome::unknown(format!("{what}: {e}")),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(budget))
        .timeout_connect(Some(budget))
        .timeout_per_read(Some(budget))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("harmony-node-readiness-endpoint/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .into();
    let mut resp = match agent.get(url).call() {
        Ok(r) => r,
        Err(e) => return error_outcome(what, &e, timeout),
    };
    let status = resp.status().as_u16();
    if status == 200 {
        return Outcome::Pass;
    }
    let mut body = Vec::new();
    let _ = resp.body_mut().as_reader().take(512).read_to_end(&mut body);
    let text = String::from_utf8_lossy(&body);
    if status == 400 && text.contains("HTTP request to an HTTPS server") {
        return Outcome::fail(format!("{what}: the endpoint speaks HTTPS; use an https:// URL"));
    }
    if let Some(why) = explain(&text) {
        return Outcome::fail(format!("{what} returned {status}: {why}"));
    }
    let first_line: String = text.lines().next().unwrap_or("").trim().chars().take(BODY_EXCERPT_CHARS).collect();
    if first_line.is_empty() {
        Outcome::fail(format!("{what} returned {status}"))
    } else {
        Outcome::fail(format!("{what} returned {status}: {first_line}"))
    }
}

/// Loopback services (kubelet, router) usually present self-signed
/// certificates: without a CA file, verification is off for loopback hosts
/// only; other hosts are verified against the built-in web roots. The
/// `status` subcommand reaches this service's HTTPS listener the same way.
pub(crate) fn tls_config(url: &str, ca_file: Option<&Path>) -> Result<TlsConfig, String> {
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("no certificate in CA file {}", path.display()));
        }
        return Ok(TlsConfig::builder().root_certs(RootCerts::new_with_certs(&certs)).build());
    }
    Ok(TlsConfig::builder().disable_verification(is_loopback_url(url)).build())
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn error_outcome(what: &str, e: &ureq::Error, timeout: Duration) -> Outcome {
    let ms = timeout.as_millis();
    match e {
        ureq::Error::Timeout(_) => Outcome::unknown(format!("{what}: timed out after {ms} ms")),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => Outcome::fail(format!("{what}: connection refused")),
            std::io::ErrorKind::ConnectionReset => Outcome::fail(format!("{what}: connection reset")),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                Outcome::unknown(format!("{what}: timed out after {ms} ms"))
            }
            std::io::ErrorKind::UnexpectedEof => Outcome::fail(format!("{what}: connection closed before a response")),
            _ => Outcome::fail(format!("{what}: {io}")),
        },
        ureq::Error::HostNotFound => Outcome::fail(format!("{what}: host not found")),
        ureq::Error::ConnectionFailed => Outcome::fail(format!("{what}: connection failed")),
        ureq::Error::Protocol(_) => Outcome::fail(format!("{what}: not an HTTP response")),
        ureq::Error::Tls(msg) => Outcome::fail(format!("{what}: TLS error: {msg}")),
        other => Outcome::fail(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_probes_its_own_url() {
        let c = crate::config::test_config(&[
            ("KUBELET_HEALTHZ_URL", "http://127.0.0.1:1/k"),
            ("OKD_ROUTER_HEALTHZ_URL", "http://127.0.0.1:1/o"),
            ("KUBE_PROXY_HEALTHZ_URL", "http://127.0.0.1:1/p"),
        ]);
        let table: Vec<(&str, &str, &str)> = PROBES.iter().map(|p| (p.id.name(), p.what, (p.url)(&c))).collect();
        assert_eq!(
            table,
            [
                ("kubelet", "kubelet healthz", "http://127.0.0.1:1/k"),
                ("okd_router_1936", "OKD router healthz", "http://127.0.0.1:1/o"),
                ("kube_proxy", "kube-proxy healthz", "http://127.0.0.1:1/p"),
            ]
        );
        for (check, p) in [KUBELET, OKD_ROUTER, KUBE_PROXY].iter().zip(&PROBES) {
            assert_eq!(check.id, p.id);
        }
    }

    #[test]
    fn kube_proxy_503_bodies_say_why() {
        // Bodies as kube-proxy v1.36 writes them.
        let tainted = r#"{"lastUpdated":"2026-12-07T13:00:01.5Z","currentTime":"2026-12-07T13:00:02Z","nodeEligible":false,"healthy":true,"status":{"IPv4":{"lastUpdated":"2026-12-07T13:00:01.5Z","healthy":true}}}"#;
        let stale = r#"{"lastUpdated":"2026-12-07T12:58:00Z","currentTime":"2026-12-07T13:00:02Z","nodeEligible":true,"healthy":false,"status":{"IPv4":{"lastUpdated":"2026-12-07T12:58:00Z","healthy":false}}}"#;
        assert_eq!(
            kube_proxy_body(tainted).as_deref(),
            Some("nodeEligible=false (Node being deleted or tainted ToBeDeletedByClusterAutoscaler)")
        );
        assert_eq!(kube_proxy_body(stale).as_deref(), Some("healthy=false (rules last synced 2026-12-07T12:58:00Z)"));
        // Anything else keeps the first-line excerpt.
        for other in ["", "not json", r#"{"healthy":true,"nodeEligible":true}"#, "[]"] {
            assert_eq!(kube_proxy_body(other), None, "{other}");
        }
    }

    #[test]
    fn loopback_detection() {
        for (url, want) in [
            ("https://127.0.0.1:10250/healthz", true),
            ("https://localhost/healthz", true),
            ("https://[::1]:1936/x", true),
            ("https://10.0.0.1:1936/x", false),
            ("https://example.org/x", false),
        ] {
            assert_eq!(is_loopback_url(url), want, "{url}");
        }
    }
}
