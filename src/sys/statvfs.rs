//! `statvfs(3)`: the filesystem statistics disk_pressure judges.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The fields of `statvfs(3)` the host checks read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatVfs {
    /// Fragment size: the unit of the block counts.
    pub frsize: u64,
    pub blocks: u64,
    /// Blocks available to unprivileged users (excludes the root reserve).
    pub bavail: u64,
    /// Total inodes; 0 on filesystems without a fixed inode table (btrfs).
    pub files: u64,
    /// Inodes available to unprivileged users.
    pub favail: u64,
    pub fsid: u64,
}

/// `statvfs(path)`. Blocks as long as the filesystem does (a dead NFS server
/// hangs it): call it only where the runner's deadline bounds the wait.
pub fn statvfs(path: &Path) -> io::Result<StatVfs> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: an all-zero `statvfs` is a valid value of this plain C struct.
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated string alive for the call; `buf` is a
    // valid, writable `statvfs` the kernel fills in.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut buf) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(StatVfs {
        frsize: buf.f_frsize as u64,
        blocks: buf.f_blocks as u64,
        bavail: buf.f_bavail as u64,
        files: buf.f_files as u64,
        favail: buf.f_favail as u64,
        fsid: buf.f_fsid as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_of_root_and_missing() {
        let s = statvfs(Path::new("/")).unwrap();
        assert!(s.blocks > 0 && s.frsize > 0);
        let e = statvfs(Path::new("/no/such/path/hnre")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
