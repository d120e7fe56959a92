//! The pinned Helm of scripts/helm (built from its Go module once, cached
//! under /var/cache/harmony-node-readiness-endpoint/helm-v4.3.2/), shared by
//! the chart's render tests and the real-cluster `helm install` test.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::skip;

/// The chart, relative to the repository.
pub const CHART: &str = "deploy/helm/harmony-node-readiness-endpoint";

/// The cached helm binary (building it the first time), or `None` after
/// the skip line when it cannot be built here.
pub fn helm() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/helm");
    let out = Command::new(script).arg("--path").output().expect("run scripts/helm");
    if !out.status.success() {
        skip(&format!("helm cannot be built here: {}", String::from_utf8_lossy(&out.stderr).trim()));
        return None;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
