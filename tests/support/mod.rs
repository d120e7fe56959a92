//! Shared helpers for the black-box tests: start the built binary, speak raw
//! HTTP to it, fake local dependencies, and skip (or, in CI, fail) tests that
//! need root or packages.
#![allow(dead_code)]

pub mod bench;
pub mod fake_apiserver;
pub mod fake_http;
pub mod haproxy;
pub mod helm;
pub mod kube_env;
pub mod kube_proxy;
pub mod lb_rig;
pub mod manifests;
pub mod raw_http;
pub mod reaction;
pub mod real_cluster;
pub mod repo;
pub mod service;
pub mod status_rig;
pub mod tls_files;

/// The library's test helpers: one TempDir and one `wait_for` for unit and
/// black-box tests.
#[allow(unused_imports)]
pub use harmony_node_readiness_endpoint::testutil::{TempDir, wait_for};
#[allow(unused_imports)] // each test file uses a different subset
pub use service::{Response, Service, UNSET_NODE_NAME, run_check_cli};

/// Set by `.ci/run`: every end-to-end test that would skip must fail instead.
pub const REQUIRE_E2E_VAR: &str = "E2E_REQUIRED";

/// Returns `true` when the caller must skip: prints the one-line reason.
/// With `E2E_REQUIRED=1` (CI) it panics instead, so nothing skips in CI.
pub fn skip(reason: &str) -> bool {
    if std::env::var(REQUIRE_E2E_VAR).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE_E2E_VAR}=1 but this end-to-end test cannot run: {reason}");
    }
    eprintln!("SKIP: {reason}");
    true
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Skips unless root; `what` says what needs root.
pub fn skip_unless_root(what: &str) -> bool {
    !is_root() && skip(&format!("{what} needs root"))
}

/// Skips unless `program` is on PATH (installed by scripts/install-test-deps.sh).
pub fn skip_unless_program(program: &str) -> bool {
    which(program).is_none() && skip(&format!("{program} not installed (`make test` installs it as root on Debian)"))
}

pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
