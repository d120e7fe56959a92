//! Helpers for unit tests only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("hnre-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
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

/// The README's ```json or ```text block of "### Status page", so that
/// its examples are checked against the code.
pub fn readme_block(lang: &str) -> &'static str {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("### Status page").expect("README section")..];
    let start = section.find(&format!("```{lang}\n")).expect("README block") + lang.len() + 4;
    &section[start..start + section[start..].find("```").unwrap()]
}
