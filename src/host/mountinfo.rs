//! `/proc/<pid>/mountinfo` (proc(5)): parsing and "which mount holds this
//! path". Pure functions over text, so unit tests and fuzzers can call them.
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! id par dev root  mount point opts       optional… - fstype source super options
//! ```
//!
//! Fields are separated by single spaces; the kernel escapes space, tab,
//! newline and backslash in paths as `\NNN` octal. The optional fields end at
//! the first lone `-`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One mount, paths un-escaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub id: u64,
    pub parent_id: u64,
    pub mount_point: PathBuf,
    /// Per-mount options (field 6): `ro` here is a read-only mount or bind.
    pub mount_options: String,
    pub fstype: String,
    pub source: String,
    /// Superblock options: `ro` here is the whole filesystem read-only,
    /// e.g. after `errors=remount-ro`.
    pub super_options: String,
}

impl Mount {
    /// Read-only by the mount flag **or** by the superblock flag.
    pub fn is_read_only(&self) -> bool {
        has_token(&self.mount_options, "ro") || has_token(&self.super_options, "ro")
    }
}

fn has_token(options: &str, token: &str) -> bool {
    options.split(',').any(|o| o == token)
}

/// Parses a whole mountinfo file; lines that do not parse are skipped (a
/// future kernel field must not blind the check to the other mounts).
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// Parses one line; `None` if it is not a mountinfo line.
pub fn parse_line(line: &str) -> Option<Mount> {
    let fields: Vec<&str> = line.split(' ').collect();
    if fields.len() < 7 {
        return None;
    }
    // The separator is the first lone "-" after the six fixed fields.
    let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    let fstype = fields.get(sep + 1)?;
    let source = fields.get(sep + 2).copied().unwrap_or("");
    let super_options = fields.get(sep + 3).copied().unwrap_or("");
    let mount_point = unescape(fields[4]);
    if !mount_point.starts_with(b"/") {
        return None;
    }
    Some(Mount {
        id: fields[0].parse().ok()?,
        parent_id: fields[1].parse().ok()?,
        mount_point: PathBuf::from(OsString::from_vec(mount_point)),
        mount_options: fields[5].to_string(),
        fstype: unescape_lossy(fstype),
        source: unescape_lossy(source),
        super_options: super_options.to_string(),
    })
}

/// Undoes the kernel's `\NNN` octal escapes; anything else stays as is.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            if v <= 0xff {
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn unescape_lossy(s: &str) -> String {
    String::from_utf8_lossy(&unescape(s)).into_owned()
}

/// The mount that holds the absolute, symlink-free `path`: the mount point
/// that is the longest prefix of it by whole components; of several mounts
/// on the same point the last line wins (it is stacked on top).
pub fn holding_mount<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    let mut best: Option<&Mount> = None;
    for m in mounts {
        if !path.starts_with(&m.mount_point) {
            continue;
        }
        let longer = best.is_none_or(|b| m.mount_point.components().count() >= b.mount_point.components().count());
        if longer {
            best = Some(m);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue";

    #[test]
    fn parses_the_proc5_example_with_optional_fields() {
        let m = parse_line(LINE).unwrap();
        assert_eq!((m.id, m.parent_id), (36, 35));
        assert_eq!(m.mount_point, Path::new("/mnt/parent"));
        assert_eq!(m.mount_options, "rw,noatime");
        assert_eq!((m.fstype.as_str(), m.source.as_str()), ("ext3", "/dev/root"));
        assert_eq!(m.super_options, "rw,errors=continue");
        assert!(!m.is_read_only());
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape(r"/mnt/foo\040(deleted)"), b"/mnt/foo (deleted)");
        assert_eq!(unescape(r"/a\011b\012c\134d"), b"/a\tb\nc\\d");
        assert_eq!(unescape(r"/trailing\04"), br"/trailing\04");
        assert_eq!(unescape(r"/x\999"), br"/x\999");
        assert_eq!(unescape("\\"), b"\\");
        let m = parse_line(r"1 0 8:1 / /var/lib/with\040space rw - ext4 /dev/sda1 rw").unwrap();
        assert_eq!(m.mount_point, Path::new("/var/lib/with space"));
    }

    #[test]
    fn ro_by_mount_flag_or_superblock() {
        let bind = parse_line("1 0 8:1 /x /var/log ro,relatime - ext4 /dev/sda1 rw").unwrap();
        assert!(bind.is_read_only());
        let errors = parse_line("1 0 8:1 / /var rw,relatime - ext4 /dev/sda3 ro,errors=remount-ro").unwrap();
        assert!(errors.is_read_only());
        let rw = parse_line("1 0 8:1 / /var rw,relatime - ext4 /dev/sda3 rw,errors=remount-ro").unwrap();
        assert!(!rw.is_read_only());
        // "ro" as part of another option is not read-only.
        let lookalike = parse_line("1 0 0:1 / /x rw - fuse ro rw,rootmode=040000,user_id=0").unwrap();
        assert!(!lookalike.is_read_only());
    }

    #[test]
    fn garbage_and_short_lines_do_not_panic() {
        for l in
            ["", "-", "1 2 3 4 5 6", "a b c / /x rw - t s o", "1 2 3 / rel rw - t s o", "1 2 3 / /x rw -", "\\\\\\"]
        {
            assert!(parse_line(l).is_none(), "{l:?}");
        }
        // No super options at all (hand-written dumps) still parses.
        let m = parse_line("1 2 3:4 / /x rw - tmpfs tmpfs").unwrap();
        assert_eq!(m.super_options, "");
        // A "-" among optional fields... is the separator by definition.
        assert!(parse_line("1 2 3:4 / /x rw - - src rw").is_some());
    }

    #[test]
    fn longest_prefix_by_components_and_last_wins() {
        let mounts = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 8:2 / /var rw - ext4 /dev/sda2 rw\n\
             3 1 8:3 / /var/lib/kube rw - ext4 /dev/sda3 rw\n\
             4 2 0:9 / /var rw - tmpfs tmpfs ro\n",
        );
        let src = |p: &str| holding_mount(&mounts, Path::new(p)).map(|m| m.source.clone());
        assert_eq!(src("/etc").as_deref(), Some("/dev/sda1"));
        assert_eq!(src("/").as_deref(), Some("/dev/sda1"));
        assert_eq!(src("/var/log").as_deref(), Some("tmpfs"), "stacked: last line wins");
        assert_eq!(src("/var/lib/kubelet").as_deref(), Some("tmpfs"), "/var/lib/kube is not a prefix");
        assert_eq!(src("/var/lib/kube/pods").as_deref(), Some("/dev/sda3"));
        assert_eq!(holding_mount(&[], Path::new("/")), None);
    }
}
