//! `filesystem_ro`: none of `FILESYSTEM_RO_PATHS` may sit on a read-only
//! mount. The host's mount table is `HOST_PROC/1/mountinfo` (PID 1's view,
//! which needs `hostPID` in a pod); read-only by the mount flag (a ro bind)
//! or by the superblock flag (ext4 `errors=remount-ro` after an I/O error)
//! both count. Paths absent on the host are skipped; `/` itself is not in the
//! default list because ostree/composefs roots are read-only by design.

use std::path::PathBuf;
use std::time::Instant;

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::host::mountinfo::{self, Mount};

pub const CHECK: Check = Check { id: CheckId::FilesystemRo, exec: Exec::Probe, run };

fn run(ctx: &Ctx, _deadline: Instant) -> Outcome {
    // Reading mountinfo does not block on dead mounts; resolving the paths
    // (lstat per component) can, which the runner's deadline bounds.
    let file = ctx.host.proc_path("1/mountinfo");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => return Outcome::unknown(format!("cannot read {}: {e}", file.display())),
    };
    let mounts = mountinfo::parse(&text);
    if mounts.is_empty() {
        return Outcome::unknown(format!("no mounts in {}", file.display()));
    }
    let mut resolved = Vec::new();
    for p in &ctx.config.filesystem_ro_paths {
        match ctx.host.resolve(p) {
            Ok(Some(real)) => resolved.push((p.clone(), real)),
            Ok(None) => {} // absent on this host: nothing to judge
            Err(e) => return Outcome::unknown(format!("{}: {e}", p.display())),
        }
    }
    verdict(&mounts, &resolved)
}

/// Pure verdict: `paths` are (configured path, symlink-free host path).
/// The reason names every read-only path and, once per device, its source:
/// `read-only: /var/lib/kubelet (/dev/sda3), /var/log`.
pub fn verdict(mounts: &[Mount], paths: &[(PathBuf, PathBuf)]) -> Outcome {
    let mut parts: Vec<String> = Vec::new();
    let mut named: Vec<&str> = Vec::new(); // sources already shown
    for (shown, real) in paths {
        let Some(m) = mountinfo::holding_mount(mounts, real) else { continue };
        if !m.is_read_only() {
            continue;
        }
        if named.contains(&m.source.as_str()) {
            parts.push(shown.display().to_string());
        } else {
            named.push(&m.source);
            parts.push(format!("{} ({})", shown.display(), m.source));
        }
    }
    if parts.is_empty() { Outcome::Pass } else { Outcome::fail(format!("read-only: {}", parts.join(", "))) }
}

#[cfg(test)]
/// Verdict for a mountinfo text and host paths taken literally (no
/// symlinks), for fixture tests and fuzzing.
pub fn verdict_for_text(text: &str, paths: &[&str]) -> Outcome {
    let mounts = mountinfo::parse(text);
    let paths: Vec<(PathBuf, PathBuf)> = paths.iter().map(|p| (PathBuf::from(p), PathBuf::from(p))).collect();
    verdict(&mounts, &paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const DEFAULT_PATHS: [&str; 6] =
        ["/var", "/var/lib/kubelet", "/var/lib/containers", "/var/lib/containerd", "/var/log", "/etc"];

    /// The real dumps in testdata/mountinfo (see its SOURCES.md):
    /// none has one of the default paths on a read-only mount, so every
    /// verdict is Pass, and the holding mounts match the table there.
    #[test]
    fn real_dumps_have_no_read_only_default_path() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mountinfo");
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut n = 0;
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "mountinfo") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mounts = mountinfo::parse(&text);
            let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
            assert_eq!(mounts.len(), lines, "{}: every line parses", path.display());
            assert_eq!(verdict_for_text(&text, &DEFAULT_PATHS), Outcome::Pass, "{}", path.display());
            // "/" is not judged by default, but judged it is rw too.
            assert_eq!(verdict_for_text(&text, &["/"]), Outcome::Pass, "{}", path.display());
            n += 1;
        }
        assert_eq!(n, 12, "fixture count changed: update this test and SOURCES.md");
    }

    /// Spot checks of the SOURCES.md "path → holding mount" table.
    #[test]
    fn real_dumps_holding_mounts() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mountinfo");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let composite = read("12-k8s-mount-utils-composite-var-and-kubelet-binds.mountinfo").expect("testdata present");
        let m = mountinfo::parse(&composite);
        let at = |p: &str| mountinfo::holding_mount(&m, Path::new(p)).map(|m| (m.id, m.source.clone()));
        assert_eq!(at("/var"), Some((80, "/dev/sda1".into())));
        assert_eq!(at("/var/lib/kubelet"), Some((189, "/dev/sda1".into())));
        assert_eq!(at("/var/log"), Some((80, "/dev/sda1".into())));
        assert_eq!(at("/etc"), Some((62, "/dev/mapper/ssd-root".into())));
        let btrfs = mountinfo::parse(&read("02-opensuse-btrfs-crio-kubelet-node-var-subvolume.mountinfo").unwrap());
        let var = mountinfo::holding_mount(&btrfs, Path::new("/var/lib/containerd")).unwrap();
        assert_eq!((var.id, var.mount_point.as_path()), (149, Path::new("/var")));
        // Escaped mount points come out un-escaped.
        let findmnt = mountinfo::parse(&read("09-escaped-deleted-mountpoint-findmnt.mountinfo").unwrap());
        assert!(findmnt.iter().any(|m| m.mount_point == Path::new("/mnt/foo (deleted)")));
        let ne = mountinfo::parse(&read("10-node-exporter-escaped-kubelet-vsphere-paths.mountinfo").unwrap());
        assert!(ne.iter().any(|m| m.mount_point.to_string_lossy().contains(' ')));
        assert!(ne.iter().any(|m| m.mount_point.to_string_lossy().contains('\t')));
        // Container views: read-only binds elsewhere are found read-only.
        let dd = mountinfo::parse(&read("04-k8s-datadog-agent-pod-containerd-ro-var-log-binds.mountinfo").unwrap());
        let pods = mountinfo::holding_mount(&dd, Path::new("/var/log/pods/x")).unwrap();
        assert!(pods.is_read_only() && !pods.super_options.split(',').any(|o| o == "ro"), "ro by field 6 only");
        let sys = mountinfo::holding_mount(&dd, Path::new("/sys/kernel")).unwrap();
        assert!(sys.is_read_only());
    }

    /// Fedora CoreOS / RHCOS style (hand-written, no real dump was found):
    /// composefs `/` read-only by design, `/sysroot` ro, `/etc` and `/var` rw.
    const OSTREE: &str = "\
67 1 0:31 / / ro,relatime shared:1 - overlay composefs ro,lowerdir+=/run/ostree/.private/cfsroot-lower,datadir+=/sysroot/ostree/repo/objects,redirect_dir=on,metacopy=on
68 67 252:4 / /sysroot ro,relatime shared:2 - xfs /dev/vda4 rw,seclabel,attr2,inode64,logbufs=8,logbsize=32k,prjquota
69 67 252:4 /ostree/deploy/fedora-coreos/deploy/0123.0/etc /etc rw,relatime shared:3 - xfs /dev/vda4 rw,seclabel,prjquota
70 67 252:4 /ostree/deploy/fedora-coreos/var /var rw,relatime shared:4 - xfs /dev/vda4 rw,seclabel,prjquota
71 67 252:4 /usr /usr ro,relatime shared:5 - xfs /dev/vda4 rw,seclabel,prjquota
72 67 0:24 / /dev rw,nosuid shared:6 - devtmpfs devtmpfs rw,seclabel,size=4096k,nr_inodes=1048576,mode=755
73 70 0:40 / /var/lib/containers/storage/overlay rw,relatime - overlay overlay rw,lowerdir=/x
";

    #[test]
    fn ostree_root_is_not_judged_but_var_and_etc_are() {
        assert_eq!(verdict_for_text(OSTREE, &DEFAULT_PATHS), Outcome::Pass);
        assert_eq!(verdict_for_text(OSTREE, &["/"]), Outcome::fail("read-only: / (composefs)"));
        assert_eq!(verdict_for_text(OSTREE, &["/usr/local"]), Outcome::fail("read-only: /usr/local (/dev/vda4)"));
    }

    /// ext4 with `errors=remount-ro` after an I/O error: the superblock is
    /// read-only while every mount of it still says `rw` in field 6.
    const ERRORS_REMOUNT_RO: &str = "\
24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
30 24 8:3 / /var rw,relatime shared:10 - ext4 /dev/sda3 ro,errors=remount-ro
31 30 8:3 /kubelet /var/lib/kubelet rw,relatime shared:10 - ext4 /dev/sda3 ro,errors=remount-ro
32 30 0:50 / /var/lib/containerd rw,relatime - xfs /dev/sdb1 rw
";

    #[test]
    fn superblock_read_only_after_errors() {
        let out = verdict_for_text(ERRORS_REMOUNT_RO, &DEFAULT_PATHS);
        assert_eq!(out, Outcome::fail("read-only: /var (/dev/sda3), /var/lib/kubelet, /var/lib/containers, /var/log"));
        assert_eq!(verdict_for_text(ERRORS_REMOUNT_RO, &["/etc", "/var/lib/containerd"]), Outcome::Pass);
    }

    #[test]
    fn ro_bind_and_paths_with_spaces() {
        let text = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    2 1 8:1 /data /var/lib/with\\040space ro,relatime - ext4 /dev/sda1 rw\n";
        assert_eq!(
            verdict_for_text(text, &["/var/lib/with space/x", "/var/lib/with"]),
            Outcome::fail("read-only: /var/lib/with space/x (/dev/sda1)")
        );
    }

    #[test]
    fn no_mount_holds_a_relative_or_unknown_path() {
        assert_eq!(verdict_for_text("", &["/var"]), Outcome::Pass);
        assert_eq!(verdict_for_text("1 0 8:1 / /var ro - ext4 /dev/sda1 ro\n", &["/etc"]), Outcome::Pass);
    }
}
