//! Stamps the git commit into the binary for `--version` and the build_info
//! metric, as `HNRE_GIT_COMMIT`:
//!  - `HNRE_GIT_COMMIT` set in the build environment wins (a packager
//!    building from a release tarball knows the commit it came from);
//!  - else `git rev-parse` of the checkout, when there is one;
//!  - else "unknown" (a source tarball without .git, or no git installed).
//!
//! Only std: a build script dependency would be built for every build.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=HNRE_GIT_COMMIT");
    let from_env = std::env::var("HNRE_GIT_COMMIT").ok().filter(|c| !c.trim().is_empty());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    // Only ask git about this crate's own checkout: a tarball unpacked inside
    // some other repository must not report that repository's commit.
    let own_checkout = Path::new(&manifest_dir).join(".git").exists();
    let commit = match from_env {
        Some(c) => c.trim().to_string(),
        None if own_checkout => {
            // Rebuild when HEAD moves: HEAD itself (checkout), the branch it
            // points at (commit) and packed-refs (gc). Paths come from git, as
            // a worktree keeps them outside .git.
            // A path that does not exist would make cargo rerun this script
            // on every build, so only existing ones are named.
            let branch = git(&["symbolic-ref", "-q", "HEAD"]);
            for path in ["HEAD", "packed-refs"].into_iter().map(String::from).chain(branch) {
                if let Some(p) = git(&["rev-parse", "--git-path", &path]).filter(|p| Path::new(p).exists()) {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into())
        }
        None => "unknown".into(),
    };
    println!("cargo:rustc-env=HNRE_GIT_COMMIT={commit}");
}
