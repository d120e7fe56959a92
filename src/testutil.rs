//! Helpers for tests only: the unit tests here and the black-box tests in
//! tests/ (through tests/support) share them, so there is one of each.
//! Compiled into the library (it is small, and unused code is dropped from
//! the binary) because tests/ cannot see `#[cfg(test)]` items.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A fresh directory under the system temp dir (`hnre-<tag>-<pid>-<n>`),
/// removed on drop, also when an assertion fails.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("hnre-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `rel` below the directory.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    /// Writes `text` to `name` below the directory (parents created).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` until it returns `Some`, or panics naming `what` after `limit`.
/// The synchronisation primitive of the tests: never a bare sleep.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
/// The README's ```json or ```text block of "### Status page", so that
/// its examples are checked against the code.
pub fn readme_block(lang: &str) -> &'static str {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("### Status page").expect("README section")..];
    let start = section.find(&format!("```{lang}\n")).expect("README block") + lang.len() + 4;
    &section[start..start + section[start..].find("```").unwrap()]
}
