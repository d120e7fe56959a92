//! Where the host is: every host file goes through [`HostPaths`], node_exporter
//! style (`HOST_ROOT` = `--path.rootfs`, `HOST_PROC` = `--path.procfs`), so the
//! same binary works on the host (`/`, `/proc`) and in a container that mounts
//! them at `/host/root` and `/host/proc`.
//!
//! Filesystem statistics go through a replaceable function ([`FsStatsFn`]):
//! `stat`/`statvfs` on a dead NFS mount hang in the kernel, and tests need to
//! simulate that without an NFS server.

pub mod gateways;
pub mod mountinfo;
pub mod resolv_conf;

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::config::Config;
use crate::sys;

/// What `disk_pressure` needs to know about the filesystem holding a path.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FsStats {
    /// `st_dev` of the path: equal for paths on the same filesystem (and for
    /// bind mounts of it), so each filesystem is judged once.
    pub dev: u64,
    pub vfs: sys::StatVfs,
}

/// `stat` + `statvfs` of a path; may block for as long as the filesystem does.
pub type FsStatsFn = fn(&Path) -> io::Result<FsStats>;

/// The real [`FsStatsFn`].
pub fn fs_stats(path: &Path) -> io::Result<FsStats> {
    let dev = std::fs::metadata(path)?.dev();
    Ok(FsStats { dev, vfs: sys::statvfs(path)? })
}

/// The host's `/` and `/proc` as seen by this process.
#[derive(Debug, Clone)]
pub struct HostPaths {
    pub root: PathBuf,
    pub proc: PathBuf,
    /// Seam for tests: the real one is [`fs_stats`].
    pub fs_stats: FsStatsFn,
}

/// Symlinks followed while resolving one path, like the kernel's MAXSYMLINKS.
const MAX_SYMLINKS: usize = 40;

impl HostPaths {
    pub fn new(root: impl Into<PathBuf>, proc: impl Into<PathBuf>) -> HostPaths {
        HostPaths { root: root.into(), proc: proc.into(), fs_stats }
    }

    pub fn from_config(config: &Config) -> HostPaths {
        HostPaths::new(&config.host_root, &config.host_proc)
    }

    /// Where the host's absolute path `p` is for this process: `HOST_ROOT/p`.
    pub fn root_path(&self, p: &Path) -> PathBuf {
        join_inside(&self.root, p)
    }

    /// `HOST_PROC/<rel>`, e.g. `proc_path("1/mountinfo")`.
    pub fn proc_path(&self, rel: &str) -> PathBuf {
        self.proc.join(rel.trim_start_matches('/'))
    }

    /// Reads a host file given by its absolute host path (`/etc/resolv.conf`).
    pub fn read_to_string(&self, p: &Path) -> io::Result<String> {
        std::fs::read_to_string(self.root_path(p))
    }

    /// Resolves the host path `p` as the host would: symlinks are followed
    /// with `HOST_ROOT` as `/`, so an absolute link such as
    /// `/var/log -> /data/log` stays on the host instead of escaping into the
    /// container. Returns the canonical host path, or `Ok(None)` when it does
    /// not exist. Stats every component: may block on a dead mount.
    pub fn resolve(&self, p: &Path) -> io::Result<Option<PathBuf>> {
        let mut todo: Vec<PathBuf> = Vec::new(); // remaining components, reversed
        push_components(&mut todo, p);
        let mut done = PathBuf::from("/");
        let mut links = 0;
        while let Some(name) = todo.pop() {
            if name.as_os_str() == ".." {
                done.pop();
                continue;
            }
            let candidate = done.join(&name);
            let meta = match std::fs::symlink_metadata(self.root_path(&candidate)) {
                Ok(m) => m,
                // A missing component, or a file where a directory should be.
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            if !meta.file_type().is_symlink() {
                done = candidate;
                continue;
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(io::Error::other("too many levels of symbolic links"));
            }
            let target = std::fs::read_link(self.root_path(&candidate))?;
            if target.is_absolute() {
                done = PathBuf::from("/");
            }
            push_components(&mut todo, &target);
        }
        Ok(Some(done))
    }
}

/// Pushes the normal and `..` components of `p` onto `todo`, reversed, so
/// popping yields them in order.
fn push_components(todo: &mut Vec<PathBuf>, p: &Path) {
    let parts: Vec<PathBuf> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}

/// `base` joined with `p` as if `p` were relative (`Path::join` would
/// replace `base` with an absolute `p`).
fn join_inside(base: &Path, p: &Path) -> PathBuf {
    let rel: PathBuf = p.components().filter(|c| matches!(c, Component::Normal(_))).collect();
    if rel.as_os_str().is_empty() { base.to_path_buf() } else { base.join(rel) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    use crate::testutil::TempDir;

    #[test]
    fn paths_stay_inside_the_roots() {
        let h = HostPaths::new("/host/root", "/host/proc");
        assert_eq!(h.root_path(Path::new("/etc/resolv.conf")), Path::new("/host/root/etc/resolv.conf"));
        assert_eq!(h.root_path(Path::new("/")), Path::new("/host/root"));
        assert_eq!(h.root_path(Path::new("/../../etc")), Path::new("/host/root/etc"));
        assert_eq!(h.proc_path("1/mountinfo"), Path::new("/host/proc/1/mountinfo"));
        assert_eq!(h.proc_path("/net/route"), Path::new("/host/proc/net/route"));
        let native = HostPaths::new("/", "/proc");
        assert_eq!(native.root_path(Path::new("/var/log")), Path::new("/var/log"));
    }

    #[test]
    fn absolute_symlinks_resolve_inside_host_root() {
        let t = TempDir::new("host-resolve");
        std::fs::create_dir_all(t.0.join("data/log")).unwrap();
        std::fs::create_dir_all(t.0.join("var/lib")).unwrap();
        symlink("/data/log", t.0.join("var/log")).unwrap();
        symlink("../../data", t.0.join("var/lib/d")).unwrap();
        symlink("/loop", t.0.join("loop")).unwrap();
        let h = HostPaths::new(&t.0, "/proc");
        assert_eq!(h.resolve(Path::new("/var/log")).unwrap(), Some(PathBuf::from("/data/log")));
        assert_eq!(h.resolve(Path::new("/var/lib/d/log")).unwrap(), Some(PathBuf::from("/data/log")));
        assert_eq!(h.resolve(Path::new("/var/lib")).unwrap(), Some(PathBuf::from("/var/lib")));
        assert_eq!(h.resolve(Path::new("/var/nope")).unwrap(), None);
        std::fs::write(t.0.join("file"), "").unwrap();
        assert_eq!(h.resolve(Path::new("/file/below")).unwrap(), None);
        assert_eq!(h.resolve(Path::new("/")).unwrap(), Some(PathBuf::from("/")));
        assert!(h.resolve(Path::new("/loop/x")).is_err());
    }
}
