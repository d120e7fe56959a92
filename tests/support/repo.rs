//! The repository as the packaging tests see it: its files, `make`
//! without the outer jobserver, and the static binary built once per test
//! process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::skip;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const NAME: &str = "harmony-node-readiness-endpoint";
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

pub fn repo(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Runs a command to completion; returns (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A `make` child of this test, without the outer `make test`'s jobserver.
pub fn make(args: &[&str]) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(ROOT).args(args);
    for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CARGO_MAKEFLAGS"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Builds the static binary with `make static` once per test process and
/// returns its path; `Err` only when the musl target cannot be installed
/// here (the reason is the toolchain script's message).
pub fn static_binary() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let (ok, _, err) = run(Command::new(repo("scripts/static-toolchain.sh")).current_dir(ROOT));
            if !ok {
                return Err(format!("the {MUSL_TARGET} toolchain cannot be installed here: {}", err.trim()));
            }
            let (ok, out, err) = run(&mut make(&["static"]));
            assert!(ok, "make static failed:\n{out}\n{err}");
            let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(repo("target"));
            let bin = target_dir.join(MUSL_TARGET).join("release").join(NAME);
            assert!(bin.is_file(), "make static did not produce {}", bin.display());
            Ok(bin)
        })
        .clone()
}

/// The static binary, or `None` after reporting why the test skips.
pub fn static_binary_or_skip() -> Option<PathBuf> {
    match static_binary() {
        Ok(bin) => Some(bin),
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}
