//! `make release` and `--version`: one folder holding both static binaries,
//! the SBOM, the Helm chart, the rendered manifests and the monitoring files,
//! all listed in a SHA256SUMS that `sha256sum -c` accepts; the binaries say
//! their version and git commit, and a build from a source tarball without
//! .git says "unknown" instead.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::manifests::{kustomize, one, parse_yaml, sorted};
use support::{TempDir, skip, skip_unless_program};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const NAME: &str = "harmony-node-readiness-endpoint";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(Path::new(ROOT).join("target"))
}

/// A command without the outer `make test`'s jobserver.
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(ROOT);
    for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CARGO_MAKEFLAGS"] {
        cmd.env_remove(var);
    }
    cmd
}

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The commit `git` says the checkout is at, when this is a checkout.
fn checkout_commit() -> Option<String> {
    if !Path::new(ROOT).join(".git").exists() {
        return None;
    }
    let (ok, out) = output(command("git").args(["rev-parse", "--short=12", "HEAD"]));
    ok.then(|| out.trim().to_string())
}

/// The versions Cargo.lock pins, by package name.
fn locked_versions() -> Vec<(String, String)> {
    let lock = std::fs::read_to_string(Path::new(ROOT).join("Cargo.lock")).unwrap();
    let mut out = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.push((n, v.trim_matches('"').to_string()));
        }
    }
    out
}

#[test]
fn make_release_writes_every_release_file_with_checksums() {
    if skip_unless_program("kubectl") || skip_unless_program("sha256sum") {
        return;
    }
    let toolchain = output(&mut command(Path::new(ROOT).join("scripts/static-toolchain.sh")));
    if !toolchain.0 {
        skip(&format!("the static toolchains cannot be installed here: {}", toolchain.1.trim()));
        return;
    }
    let tmp = TempDir::new("release");
    let dir = tmp.path().join("release");
    let (ok, said) = output(command("make").arg("release").arg(format!("RELEASE_DIR={}", dir.display())));
    assert!(ok, "make release failed:\n{said}");

    let (ok, said) = output(Command::new("sha256sum").arg("-c").arg("SHA256SUMS").current_dir(&dir));
    assert!(ok, "sha256sum -c:\n{said}");
    let listed: BTreeSet<String> = std::fs::read_to_string(dir.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| l.split_once("  ").expect("sha256sum line").1.to_string())
        .collect();
    let want: BTreeSet<String> = [
        format!("{NAME}-{VERSION}-linux-amd64"),
        format!("{NAME}-{VERSION}-linux-arm64"),
        format!("{NAME}-{VERSION}.cdx.json"),
        format!("{NAME}-{VERSION}.tgz"),
        "manifests/deploy.yaml".into(),
        "manifests/openshift.yaml".into(),
        "manifests/helm-default.yaml".into(),
        "monitoring/alerts.yaml".into(),
        "monitoring/dashboard.json".into(),
    ]
    .into();
    assert_eq!(listed, want, "SHA256SUMS lists other files");

    // The binaries: the ones `make static` built, for both CPUs.
    for (file, target, machine) in
        [("amd64", "x86_64-unknown-linux-musl", 0x3e), ("arm64", "aarch64-unknown-linux-musl", 0xb7)]
    {
        let shipped = std::fs::read(dir.join(format!("{NAME}-{VERSION}-linux-{file}"))).unwrap();
        assert!(shipped == std::fs::read(target_dir().join(target).join("release").join(NAME)).unwrap(), "{file}");
        assert_eq!(u16::from_le_bytes([shipped[0x12], shipped[0x13]]), machine, "{file}: wrong CPU");
    }
    let (ok, version) = output(Command::new(dir.join(format!("{NAME}-{VERSION}-linux-amd64"))).arg("--version"));
    assert!(ok, "{version}");
    let commit = checkout_commit().unwrap_or_else(|| "unknown".into());
    assert_eq!(version.trim(), format!("{NAME} {VERSION} (commit {commit})"));

    // The SBOM: CycloneDX, this crate, every dependency the binary links at
    // its Cargo.lock version, and no test-only crate.
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{NAME}-{VERSION}.cdx.json"))).unwrap()).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["metadata"]["component"]["name"], NAME);
    assert_eq!(sbom["metadata"]["component"]["version"], VERSION);
    let components: BTreeSet<(String, String)> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["version"].as_str().unwrap().to_string()))
        .collect();
    let locked = locked_versions();
    for dep in ["base64", "httparse", "libc", "ring", "rustls", "serde_json", "socket2", "ureq", "yaml-rust2"] {
        let pinned = locked.iter().find(|(n, _)| n == dep).unwrap_or_else(|| panic!("{dep} not in Cargo.lock"));
        assert!(components.contains(pinned), "SBOM lacks {dep} {}", pinned.1);
    }
    assert!(!components.iter().any(|(n, _)| n == "rcgen"), "test-only rcgen in the SBOM");

    // Rendered manifests: what kustomize renders from the tree.
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(sorted(parse_yaml(&read("manifests/deploy.yaml"))), sorted(kustomize("deploy").unwrap()));
    assert_eq!(sorted(parse_yaml(&read("manifests/openshift.yaml"))), sorted(kustomize("deploy/openshift").unwrap()));
    let helm_default = parse_yaml(&read("manifests/helm-default.yaml"));
    assert_eq!(one(&helm_default, "DaemonSet")["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm");
    let (ok, chart) = output(
        Command::new("tar")
            .arg("-xOzf")
            .arg(dir.join(format!("{NAME}-{VERSION}.tgz")))
            .arg(format!("{NAME}/Chart.yaml")),
    );
    assert!(ok && chart.contains(&format!("version: {VERSION}")), "packaged chart: {chart}");
    assert_eq!(
        read("monitoring/alerts.yaml"),
        std::fs::read_to_string(Path::new(ROOT).join("monitoring/alerts.yaml")).unwrap()
    );
}

#[test]
fn version_names_the_commit_of_the_checkout() {
    let (code, out, _) = support::run_check_cli(&["--version"], &[]);
    assert_eq!(code, 0);
    let commit = checkout_commit().unwrap_or_else(|| "unknown".into());
    assert_eq!(out.trim(), format!("{NAME} {VERSION} (commit {commit})"));
}

/// Builds the binary from a copy of the sources without .git (what a
/// source tarball holds) and returns its `--version` line.
fn version_of_tarball_build(env: &[(&str, &str)]) -> String {
    // Under target/, at a fixed place: later runs reuse the dependencies.
    let base = target_dir().join("source-tarball");
    let src = base.join("tree");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    // The tree as a tarball holds it: everything but .git and build output
    // (the fuzz crate, with its own target folder, is not part of the build).
    for entry in std::fs::read_dir(ROOT).unwrap().map(|e| e.unwrap().path()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if [".git", "target", "fuzz"].contains(&name.as_str()) {
            continue;
        }
        let (ok, said) = output(Command::new("cp").arg("-r").arg(&entry).arg(&src));
        assert!(ok, "{said}");
    }
    let mut build = command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .current_dir(&src)
        .args(["build", "--quiet", "--offline", "--bin", NAME])
        .env("CARGO_TARGET_DIR", base.join("target"));
    build.env_remove("HNRE_GIT_COMMIT").envs(env.iter().copied());
    let (ok, said) = output(&mut build);
    assert!(ok, "build from the copied sources failed:\n{said}");
    let (ok, out) = output(Command::new(base.join("target/debug").join(NAME)).arg("--version"));
    assert!(ok, "{out}");
    out.trim().to_string()
}

#[test]
fn a_build_without_git_says_unknown_or_what_the_packager_set() {
    assert_eq!(version_of_tarball_build(&[]), format!("{NAME} {VERSION} (commit unknown)"));
    assert_eq!(
        version_of_tarball_build(&[("HNRE_GIT_COMMIT", "0123456789ab")]),
        format!("{NAME} {VERSION} (commit 0123456789ab)")
    );
}
