//! Typed values of knobs that name things of the layers above config (a
//! CUSTOM_CONDITIONS rule, a NETWORK_GATEWAYS address). They live here so
//! that config parses them without importing checks or host; those modules
//! re-export them.

use std::fmt;
use std::net::IpAddr;

/// One entry of CUSTOM_CONDITIONS.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionRule {
    /// `Type`: bad when the condition is `True`.
    BadWhenTrue(String),
    /// `Type=True` / `Type=False`: must have this status.
    Required(String, &'static str),
}

/// Parses CUSTOM_CONDITIONS; `None` for the default rule. `Err` says what
/// is wrong (the caller names the variable).
pub fn parse_condition_rules(s: &str) -> Result<Option<Vec<ConditionRule>>, String> {
    let items = super::split_list(s);
    if items.is_empty() {
        return Ok(None);
    }
    let mut rules = Vec::new();
    for item in items {
        let (type_, status) = match item.split_once('=') {
            Some((t, st)) => (t.trim(), Some(st.trim())),
            None => (item.as_str(), None),
        };
        if type_.is_empty() || !type_.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b)) {
            return Err(format!("{item:?} is not a condition type (expected Type or Type=True|False)"));
        }
        let rule = match status.map(str::to_ascii_lowercase).as_deref() {
            None if type_ == "Ready" => {
                return Err("bare Ready would fail on every healthy node (node_ready checks Ready)".into());
            }
            None => ConditionRule::BadWhenTrue(type_.to_string()),
            Some("true") => ConditionRule::Required(type_.to_string(), "True"),
            Some("false") => ConditionRule::Required(type_.to_string(), "False"),
            Some(_) => return Err(format!("{item:?}: the status must be True or False")),
        };
        rules.push(rule);
    }
    Ok(Some(rules))
}

/// A gateway to ping; `dev` names the interface (shown in reasons, and the
/// scope of an IPv6 link-local address).
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    pub addr: IpAddr,
    pub dev: Option<String>,
}

impl Gateway {
    /// `192.0.2.1`, `2001:db8::1`, `fe80::1%eth0` (as in NETWORK_GATEWAYS).
    pub fn parse(s: &str) -> Option<Gateway> {
        let (ip, dev) = match s.split_once('%') {
            Some((ip, dev)) if !dev.is_empty() => (ip, Some(dev.to_string())),
            Some(_) => return None,
            None => (s, None),
        };
        let addr: IpAddr = ip.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
        if dev.is_some() && !addr.is_ipv6() {
            return None;
        }
        Some(Gateway { addr, dev })
    }

    /// IPv6 link-local: only reachable through a named interface.
    pub fn is_link_local(&self) -> bool {
        matches!(self.addr, IpAddr::V6(a) if a.is_unicast_link_local())
    }
}

impl fmt::Display for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dev {
            Some(dev) => write!(f, "{} ({dev})", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}
