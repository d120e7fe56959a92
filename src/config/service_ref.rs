//! `SERVICE_ENDPOINTS=namespace/name[,namespace/name…]`: the Services the
//! `service_endpoints` check requires a ready endpoint of on this node.
//! Validated at start like the API server would: a namespace is a DNS-1123
//! label, a Service name a DNS-1035 label (starts with a letter).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The listed Services in order, each once; empty for an empty value.
pub fn parse_service_refs(s: &str) -> Result<Vec<ServiceRef>, String> {
    let mut out: Vec<ServiceRef> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((namespace, name)) = item.split_once('/') else {
            return Err(format!("{item:?} is not namespace/name"));
        };
        label(namespace, false).map_err(|why| format!("namespace {namespace:?} in {item:?} {why}"))?;
        label(name, true).map_err(|why| format!("Service name {name:?} in {item:?} {why}"))?;
        let r = ServiceRef { namespace: namespace.to_string(), name: name.to_string() };
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// A DNS label: 1–63 of `a-z0-9-`, alphanumeric at both ends; a DNS-1035
/// label (`letter_first`) also starts with a letter.
fn label(s: &str, letter_first: bool) -> Result<(), &'static str> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 63 {
        return Err("must be 1 to 63 characters");
    }
    if !b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-') {
        return Err("may hold only lowercase letters, digits and '-'");
    }
    if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return Err("must start and end with a letter or digit");
    }
    if letter_first && !b[0].is_ascii_lowercase() {
        return Err("must start with a letter");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_in_order_once() {
        let got = parse_service_refs(" openshift-ingress/router-default, kube-system/traefik,,kube-system/traefik")
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>();
        assert_eq!(got, ["openshift-ingress/router-default", "kube-system/traefik"]);
        assert_eq!(parse_service_refs("").unwrap(), vec![]);
        assert!(parse_service_refs("1ns/a1").is_ok(), "a namespace may start with a digit");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        for (value, want) in [
            ("traefik", "\"traefik\" is not namespace/name"),
            ("kube-system/", "Service name \"\" in \"kube-system/\" must be 1 to 63 characters"),
            ("/traefik", "namespace \"\" in \"/traefik\" must be 1 to 63 characters"),
            ("Kube-System/traefik", "may hold only lowercase letters"),
            ("a/b/c", "may hold only lowercase letters"),
            ("ns/1svc", "must start with a letter"),
            ("ns/svc-", "must start and end with a letter or digit"),
        ] {
            let err = parse_service_refs(value).unwrap_err();
            assert!(err.contains(want), "{value}: {err}");
        }
        assert!(parse_service_refs(&format!("ns/{}", "a".repeat(64))).is_err());
    }
}
