//! Check names as a typed id, parsed once where they come in (DEFAULT_CHECKS,
//! AGENT_CHECKS, CHECK_TIMEOUTS_MS, `--check`, `?check=`). Everything past
//! parsing (config, the registry, the runner, the reports) holds a
//! [`CheckId`], so a misspelled name is a compile error, not a runtime miss.
//! The names are public API: never rename one.

use std::fmt;

/// One check. The order is the registry's and the `--help` list's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckId {
    NodeReady,
    CustomConditions,
    NodeEligible,
    Kubelet,
    OkdRouter,
    KubeProxy,
    ContainerRuntime,
    FilesystemRo,
    DiskPressure,
    Network,
    ServiceEndpoints,
}

impl CheckId {
    /// Every check, in registry order (`ALL[id.index()] == id`).
    pub const ALL: [CheckId; 11] = [
        CheckId::NodeReady,
        CheckId::CustomConditions,
        CheckId::NodeEligible,
        CheckId::Kubelet,
        CheckId::OkdRouter,
        CheckId::KubeProxy,
        CheckId::ContainerRuntime,
        CheckId::FilesystemRo,
        CheckId::DiskPressure,
        CheckId::Network,
        CheckId::ServiceEndpoints,
    ];

    /// The public name (query parameter, JSON `name`, metric label).
    pub const fn name(self) -> &'static str {
        match self {
            CheckId::NodeReady => "node_ready",
            CheckId::CustomConditions => "custom_conditions",
            CheckId::NodeEligible => "node_eligible",
            CheckId::Kubelet => "kubelet",
            CheckId::OkdRouter => "okd_router_1936",
            CheckId::KubeProxy => "kube_proxy",
            CheckId::ContainerRuntime => "container_runtime",
            CheckId::FilesystemRo => "filesystem_ro",
            CheckId::DiskPressure => "disk_pressure",
            CheckId::Network => "network",
            CheckId::ServiceEndpoints => "service_endpoints",
        }
    }

    /// Position in [`CheckId::ALL`]: index of per-check tables.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The id of an exact public name.
    pub fn parse(name: &str) -> Option<CheckId> {
        CheckId::ALL.into_iter().find(|id| id.name() == name)
    }

    /// Every public name, in order.
    pub fn names() -> Vec<&'static str> {
        CheckId::ALL.iter().map(|id| id.name()).collect()
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a list of check names was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum BadName {
    /// An empty item (`a,,b`).
    Empty,
    /// A name no check has, as given.
    Unknown(String),
}

/// The one parse of a list of names: in order, each id once; the first empty
/// or unknown item is an error. Callers split and trim as their syntax says.
pub fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<CheckId>, BadName> {
    let mut out = Vec::new();
    for item in items {
        if item.is_empty() {
            return Err(BadName::Empty);
        }
        let id = CheckId::parse(item).ok_or_else(|| BadName::Unknown(item.to_string()))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_public_api() {
        assert_eq!(
            CheckId::names(),
            [
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
                "service_endpoints"
            ]
        );
        for (i, id) in CheckId::ALL.into_iter().enumerate() {
            assert_eq!(id.index(), i);
            assert_eq!(CheckId::parse(id.name()), Some(id));
        }
        assert_eq!(CheckId::parse("Kubelet"), None, "names are exact");
    }

    #[test]
    fn lists_keep_order_and_drop_repeats() {
        assert_eq!(parse_list(["kubelet", "node_ready", "kubelet"]), Ok(vec![CheckId::Kubelet, CheckId::NodeReady]));
        assert_eq!(parse_list(["kubelet", "", "node_ready"]), Err(BadName::Empty));
        assert_eq!(parse_list(["kubelet", "nope"]), Err(BadName::Unknown("nope".into())));
        assert_eq!(parse_list([]), Ok(vec![]));
    }
}
