//! The only module with `unsafe`: thin wrappers over libc calls that std does
//! not offer. Each block states why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. Call it before
/// starting any thread: threads inherit the mask, so only the thread that
/// calls [`wait_termination_signal`] ever sees these signals.
pub fn block_termination_signals() -> io::Result<()> {
    let set = termination_set();
    // SAFETY: `set` is a fully initialised sigset_t; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(rc)) }
}

/// Waits until SIGTERM, SIGINT or SIGHUP arrives; returns its number.
pub fn wait_termination_signal() -> i32 {
    let set = termination_set();
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is initialised and `sig` is a valid out-pointer.
        let rc = unsafe { libc::sigwait(&set, &mut sig) };
        if rc == 0 {
            return sig;
        }
    }
}

fn termination_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set before sigaddset reads it;
    // both only write into the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

/// Wakes a thread blocked in accept() on `fd`: on Linux, shutdown() of a
/// listening socket makes accept() return EINVAL. The fd stays open (owned
/// by the TcpListener) and is closed by its owner.
pub fn shutdown_listener(fd: RawFd) {
    // SAFETY: shutdown on any fd is memory-safe; on a bad fd it returns EBADF.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

/// shutdown(SHUT_RDWR) of a connected socket another thread is blocked on
/// (eviction of an idle HTTP connection): its reads return end-of-stream at
/// once. The caller guarantees `fd` is still that socket (not closed yet).
pub fn shutdown_socket(fd: RawFd) {
    // SAFETY: shutdown on any fd is memory-safe; on a bad fd it returns EBADF.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

// --- host checks (filesystem statistics, socket readiness, interface names)

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

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

/// Waits until at least one of `fds` is readable (or has a pending error) or
/// `timeout` passes; returns which ones are. An interrupted wait (EINTR)
/// returns all-false so the caller simply loops on its own deadline.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    // Round up so a 0.4 ms remainder waits 1 ms instead of spinning.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs that
    // outlives the call; the descriptors are borrowed, hence open.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds.iter().map(|p| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0).collect())
}

/// Interface index of `name` in this network namespace (IPv6 scope ids).
pub fn if_nametoindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a NUL-terminated string alive for the call; the
    // function only reads it.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

// --- end host checks

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

    #[test]
    fn loopback_has_an_index() {
        assert!(if_nametoindex("lo").is_some());
        assert_eq!(if_nametoindex("no-such-if0"), None);
    }
}
