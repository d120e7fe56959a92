//! `disk_pressure`: every filesystem holding one of `DISK_PRESSURE_PATHS`
//! keeps at least `MIN_FREE_PERCENT` of its space and
//! `MIN_FREE_INODES_PERCENT` of its inodes available to unprivileged users
//! (`f_bavail`, `f_favail`: what a pod or containerd can still use, the root
//! reserve excluded). Paths absent on the host are skipped; paths on the
//! same filesystem (same `st_dev`, e.g. `/var/lib/kubelet` inside `/var`)
//! are judged once, under the first path listed.
//!
//! `statvfs` on a dead NFS mount blocks in the kernel: the runner's deadline
//! bounds the wait, and the call goes through `HostPaths::fs_stats` so tests
//! can simulate that hang.

use std::io;
use std::time::Instant;

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::sys::StatVfs;

pub const CHECK: Check = Check { id: CheckId::DiskPressure, exec: Exec::Probe, run };

fn run(ctx: &Ctx, _deadline: Instant) -> Outcome {
    let c = &ctx.config;
    let mut seen_devs: Vec<u64> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for p in &c.disk_pressure_paths {
        let shown = p.display().to_string();
        // Resolve symlinks with HOST_ROOT as "/" so that an absolute link on
        // the host does not lead statvfs into the container's filesystem.
        let real = match ctx.host.resolve(p) {
            Ok(Some(real)) => real,
            Ok(None) => continue,
            Err(e) => {
                unknown.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let stats = match (ctx.host.fs_stats)(&ctx.host.root_path(&real)) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // removed meanwhile
            Err(e) => {
                unknown.push(format!("{shown}: statvfs: {e}"));
                continue;
            }
        };
        if seen_devs.contains(&stats.dev) {
            continue;
        }
        seen_devs.push(stats.dev);
        problems.extend(judge(&shown, &stats.vfs, c.min_free_percent, c.min_free_inodes_percent));
    }
    Outcome::from_findings(problems, unknown)
}

/// Pure verdict for one filesystem: the problems, worded
/// `/var: 4.1% free (< 10%)` and `/var: 2.0% inodes free (< 5%)`.
/// Filesystems that report no inode table (`f_files == 0`, e.g. btrfs)
/// skip the inode test; no blocks (pseudo filesystems) skip the space test.
pub fn judge(path: &str, s: &StatVfs, min_free: f64, min_free_inodes: f64) -> Vec<String> {
    let mut out = Vec::new();
    if s.blocks > 0 {
        let free = percent(s.bavail, s.blocks);
        if free < min_free {
            out.push(format!("{path}: {:.1}% free (< {min_free}%)", floor1(free)));
        }
    }
    if s.files > 0 {
        let free = percent(s.favail, s.files);
        if free < min_free_inodes {
            out.push(format!("{path}: {:.1}% inodes free (< {min_free_inodes}%)", floor1(free)));
        }
    }
    out
}

fn percent(part: u64, whole: u64) -> f64 {
    part as f64 * 100.0 / whole as f64
}

/// Rounds down to one decimal, so 9.96% shows as 9.9% and never as a
/// confusing "10.0% free (< 10%)".
fn floor1(x: f64) -> f64 {
    (x * 10.0).floor() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vfs(blocks: u64, bavail: u64, files: u64, favail: u64) -> StatVfs {
        StatVfs { frsize: 4096, blocks, bavail, files, favail, fsid: 0 }
    }

    #[test]
    fn verdicts_with_numbers() {
        let cases: &[(StatVfs, &[&str])] = &[
            (vfs(1000, 500, 1000, 500), &[]),
            (vfs(1000, 41, 1000, 500), &["/var: 4.1% free (< 10%)"]),
            (vfs(1000, 100, 1000, 50), &[]),
            (vfs(10000, 999, 1000, 49), &["/var: 9.9% free (< 10%)", "/var: 4.9% inodes free (< 5%)"]),
            (vfs(1000, 0, 1000, 20), &["/var: 0.0% free (< 10%)", "/var: 2.0% inodes free (< 5%)"]),
            // btrfs: no inode counts → inode test skipped.
            (vfs(1000, 900, 0, 0), &[]),
            // No blocks (pseudo filesystem) → space test skipped.
            (vfs(0, 0, 100, 1), &["/var: 1.0% inodes free (< 5%)"]),
        ];
        for (s, want) in cases {
            assert_eq!(judge("/var", s, 10.0, 5.0), *want, "{s:?}");
        }
    }

    #[test]
    fn fractional_thresholds_and_zero() {
        assert_eq!(judge("/", &vfs(1000, 20, 0, 0), 2.5, 5.0), ["/: 2.0% free (< 2.5%)"]);
        assert!(judge("/", &vfs(1000, 0, 1000, 0), 0.0, 0.0).is_empty(), "0 disables the test");
    }
}
