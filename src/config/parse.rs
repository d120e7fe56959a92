//! The knob value parsers: each takes the variable's name (for the error)
//! and its trimmed effective string, and returns the typed value or a
//! [`ConfigError`] naming the variable. `KNOBS` in `mod.rs` says which knob
//! uses which.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{BadName, CheckId, ConfigError, Gateway, Gateways, LogFormat, bad, parse_list, split_list};

/// An empty value is `None`, anything else goes through `parse`.
pub fn optional<T>(
    env: &'static str,
    s: &str,
    parse: fn(&'static str, &str) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    if s.is_empty() { Ok(None) } else { parse(env, s).map(Some) }
}

/// An unsigned integer within `min..=max`.
pub fn int(env: &'static str, s: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match s.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(bad(env, s, &format!("expected an integer from {min} to {max}"))),
    }
}

/// A TCP port; 0 asks the kernel for any free one.
pub fn port(env: &'static str, s: &str) -> Result<u16, ConfigError> {
    int(env, s, 0, u16::MAX.into()).map(|v| v as u16)
}

pub fn millis(env: &'static str, s: &str, min: u64, max: u64) -> Result<Duration, ConfigError> {
    int(env, s, min, max).map(Duration::from_millis)
}

pub fn seconds(env: &'static str, s: &str, min: u64, max: u64) -> Result<Duration, ConfigError> {
    int(env, s, min, max).map(Duration::from_secs)
}

/// A percentage `0..=100`, fractions allowed.
pub fn percent(env: &'static str, s: &str) -> Result<f64, ConfigError> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(bad(env, s, "expected a number from 0 to 100")),
    }
}

pub fn bool(env: &'static str, s: &str) -> Result<bool, ConfigError> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(env, s, "expected true or false")),
    }
}

pub fn opt_str(_env: &'static str, s: &str) -> Result<Option<String>, ConfigError> {
    Ok((!s.is_empty()).then(|| s.to_string()))
}

pub fn opt_path(_env: &'static str, s: &str) -> Result<Option<PathBuf>, ConfigError> {
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

/// An `http://` or `https://` URL.
pub fn url(env: &'static str, s: &str) -> Result<String, ConfigError> {
    let rest = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !s.contains(char::is_whitespace) => Ok(s.to_string()),
        _ => Err(bad(env, s, "expected an http:// or https:// URL")),
    }
}

/// An absolute path (host paths are always absolute).
pub fn abs_path(env: &'static str, s: &str) -> Result<PathBuf, ConfigError> {
    if s.starts_with('/') { Ok(PathBuf::from(s)) } else { Err(bad(env, s, "expected an absolute path")) }
}

/// A comma-separated list of absolute paths, each once; may be empty (the
/// check then does nothing).
pub fn abs_paths(env: &'static str, s: &str) -> Result<Vec<PathBuf>, ConfigError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for item in split_list(s) {
        if !item.starts_with('/') {
            return Err(bad(env, &item, "expected comma-separated absolute paths"));
        }
        let p = PathBuf::from(item);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// A non-empty list of check names; unknown names are an error.
pub fn check_names(env: &'static str, s: &str) -> Result<Vec<CheckId>, ConfigError> {
    let items = split_list(s);
    if items.is_empty() {
        return Err(bad(env, s, "expected at least one check name"));
    }
    parse_list(items.iter().map(String::as_str)).map_err(|e| match e {
        BadName::Unknown(item) => bad(env, &item, &format!("unknown check; known: {}", CheckId::names().join(","))),
        BadName::Empty => bad(env, s, "expected at least one check name"),
    })
}

/// `name=milliseconds,...`.
pub fn check_timeouts(env: &'static str, s: &str) -> Result<HashMap<CheckId, Duration>, ConfigError> {
    let mut out = HashMap::new();
    for item in split_list(s) {
        let (name, ms) = item.split_once('=').ok_or_else(|| bad(env, &item, "expected name=milliseconds"))?;
        let check = CheckId::parse(name.trim()).ok_or_else(|| bad(env, name, "unknown check name"))?;
        let ms: u64 = ms
            .trim()
            .parse()
            .ok()
            .filter(|v| (1..=600_000).contains(v))
            .ok_or_else(|| bad(env, &item, "expected name=milliseconds with 1 to 600000 ms"))?;
        out.insert(check, Duration::from_millis(ms));
    }
    Ok(out)
}

/// Empty, or an IPv4 or IPv6 address (brackets allowed: `[::1]`).
pub fn listen_address(env: &'static str, s: &str) -> Result<Option<IpAddr>, ConfigError> {
    if s.is_empty() {
        return Ok(None);
    }
    let ip = s.trim_start_matches('[').trim_end_matches(']').parse();
    ip.map(Some).map_err(|_| bad(env, s, "expected an IPv4 or IPv6 address"))
}

pub fn log_format(env: &'static str, s: &str) -> Result<LogFormat, ConfigError> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(bad(env, s, "expected text or json")),
    }
}

/// Empty, or a DNS name we can put in a query (labels 1–63 bytes of
/// letters, digits, `-`, `_`; at most 253 bytes).
pub fn dns_name(env: &'static str, s: &str) -> Result<Option<String>, ConfigError> {
    let name = s.trim_end_matches('.');
    if name.is_empty() {
        return if s.is_empty() { Ok(None) } else { Err(bad(env, s, "expected a DNS name")) };
    }
    let ok = name.len() <= 253
        && name.split('.').all(|l| {
            (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(Some(name.to_ascii_lowercase()))
    } else {
        Err(bad(env, s, "expected a DNS name such as kubernetes.default.svc.cluster.local"))
    }
}

/// Empty (default routes), `none`, or `ip,ip` where an IPv6 link-local
/// address names its interface (`fe80::1%eth0`).
pub fn gateways(env: &'static str, s: &str) -> Result<Gateways, ConfigError> {
    match s {
        "" => return Ok(Gateways::DefaultRoutes),
        "none" => return Ok(Gateways::Skip),
        _ => {}
    }
    let mut out = Vec::new();
    for item in split_list(s) {
        let gw = Gateway::parse(&item).ok_or_else(|| {
            bad(env, &item, "expected none or comma-separated IP addresses (fe80::1%eth0 for link-local)")
        })?;
        if gw.is_link_local() && gw.dev.is_none() {
            return Err(bad(env, &item, "a link-local gateway needs its interface, e.g. fe80::1%eth0"));
        }
        out.push(gw);
    }
    if out.is_empty() {
        return Err(bad(env, s, "expected none or comma-separated IP addresses"));
    }
    Ok(Gateways::List(out))
}

/// crictl's convention: `unix:///path` or a bare absolute path. Other
/// transports (tcp://, npipe://) are not CRI sockets we can reach.
pub fn cri_endpoint(env: &'static str, s: &str) -> Result<Option<PathBuf>, ConfigError> {
    if s.is_empty() {
        return Ok(None);
    }
    let path = s.strip_prefix("unix://").unwrap_or(s);
    if !path.starts_with('/') {
        return Err(bad(env, s, "expected unix:///absolute/path.sock or an absolute path"));
    }
    Ok(Some(PathBuf::from(path)))
}
