//! One generic probe for local `/healthz`-style endpoints (kubelet, OKD
//! router, kube-proxy): GET the URL, pass iff `200`. Every ureq timeout is
//! derived from the run's deadline (ureq has none by default).

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ureq::tls::{PemItem, RootCerts, TlsConfig};

use super::Outcome;

/// Longest body excerpt quoted in a reason.
const BODY_EXCERPT_CHARS: usize = 80;

/// Probes `url`; `what` names the endpoint in reasons ("kubelet healthz"),
/// `timeout` is the configured deadline, quoted when it is hit.
pub fn probe(what: &str, url: &str, ca_file: Option<&Path>, timeout: Duration, deadline: Instant) -> Outcome {
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
