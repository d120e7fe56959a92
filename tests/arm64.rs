//! The aarch64 static binary `make static` builds, run as an arm64 node runs
//! it, under qemu-user on this (x86_64) machine: it starts, serves /health
//! (with TLS to the API server, so ring's aarch64 code runs) and /livez, and
//! the `check` one-shot exits 0 ready / 1 not ready.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use support::fake_apiserver::FakeApiServer;
use support::fake_http::{FakeHttp, Mode};
use support::kube_env::{Creds, as_env, env_for};
use support::{Service, skip, wait_for};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TARGET: &str = "aarch64-unknown-linux-musl";
const EM_AARCH64: u16 = 0xb7;
const PT_INTERP: u32 = 3;

/// Builds the aarch64 binary with the script behind `make static` (once per
/// test process); `Err` when its toolchain cannot be installed here.
fn aarch64_binary() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let toolchain = Command::new(Path::new(ROOT).join("scripts/static-toolchain.sh"))
                .arg(TARGET)
                .current_dir(ROOT)
                .output()
                .expect("run static-toolchain.sh");
            if !toolchain.status.success() {
                return Err(format!(
                    "the {TARGET} toolchain cannot be installed here: {}",
                    String::from_utf8_lossy(&toolchain.stderr).trim()
                ));
            }
            let mut build = Command::new(Path::new(ROOT).join("scripts/static-build"));
            build.arg(TARGET).current_dir(ROOT);
            // Not the outer `make test`'s jobserver.
            for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CARGO_MAKEFLAGS"] {
                build.env_remove(var);
            }
            let out = build.output().expect("run static-build");
            assert!(out.status.success(), "static-build {TARGET} failed:\n{}", String::from_utf8_lossy(&out.stderr));
            let target_dir =
                std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(Path::new(ROOT).join("target"));
            Ok(target_dir.join(TARGET).join("release").join("harmony-node-readiness-endpoint"))
        })
        .clone()
}

/// The emulator and the binary, or `None` after the skip line.
fn emulated() -> Option<(PathBuf, PathBuf)> {
    let Some(qemu) = support::which("qemu-aarch64").or_else(|| support::which("qemu-aarch64-static")) else {
        skip("qemu-aarch64 not installed (`make test` installs Debian's qemu-user as root)");
        return None;
    };
    match aarch64_binary() {
        Ok(bin) => Some((qemu, bin)),
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}

#[test]
fn the_aarch64_binary_is_a_static_arm64_executable() {
    let Some((qemu, bin)) = emulated() else { return };
    let b = std::fs::read(&bin).unwrap();
    assert_eq!(&b[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([b[0x12], b[0x13]]), EM_AARCH64, "not an aarch64 executable");
    // No program header asks for a dynamic loader.
    let at = |o: usize, n: usize| -> u64 { b[o..o + n].iter().rev().fold(0, |acc, x| acc << 8 | u64::from(*x)) };
    let (phoff, phentsize, phnum) = (at(0x20, 8) as usize, at(0x36, 2) as usize, at(0x38, 2) as usize);
    assert!((0..phnum).all(|i| at(phoff + i * phentsize, 4) as u32 != PT_INTERP), "dynamically linked");
    let out = Command::new(qemu).arg(&bin).arg("--version").output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains(env!("CARGO_PKG_VERSION")), "--version: {said}");
}

#[test]
fn the_aarch64_binary_serves_under_qemu() {
    let Some((qemu, bin)) = emulated() else { return };
    let api = FakeApiServer::start();
    api.add_node("n1");
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let mut env = env_for(&api, "n1", Creds::KubeconfigTokenFile);
    env.push(("KUBELET_HEALTHZ_URL".into(), kubelet.url("/healthz")));
    env.push(("DEFAULT_CHECKS".into(), "node_ready,kubelet".into()));
    env.push(("CHECK_MIN_INTERVAL_MS".into(), "0".into()));
    let env = as_env(&env);
    let svc = Service::start_program(&[qemu.as_os_str(), bin.as_os_str()], &[], &env);

    assert_eq!(svc.get("/livez").status, 200);
    // node_ready comes from the watch over TLS: ready once it has the Node.
    let ready = wait_for("a 200 from /health", Duration::from_secs(30), || {
        let r = svc.get("/health");
        (r.status == 200).then_some(r)
    });
    assert_eq!(ready.json()["status"], "ready", "{ready:?}");
    api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
    let not_ready = wait_for("a 503 from /health", Duration::from_secs(30), || {
        let r = svc.get("/health");
        (r.status == 503).then_some(r)
    });
    assert!(not_ready.body.contains("KubeletNotReady"), "{not_ready:?}");
    drop(svc);

    // The one-shot: exit 0 when the selected checks pass, 1 when not.
    let check = |checks: &str| {
        let mut cmd = Command::new(&qemu);
        cmd.arg(&bin).args(["check", "--check", checks]).env_clear();
        cmd.envs(env.iter().map(|(k, v)| (OsStr::new(k), OsStr::new(v))));
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = check("kubelet");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\"status\":\"ready\""), "{out}");
    let (code, out) = check("node_ready");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("KubeletNotReady"), "{out}");
}
