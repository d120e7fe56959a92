//! Signals and shutdown: the termination signals go to one waiting thread,
//! and shutdown() wakes threads blocked on a socket. Each unsafe block states
//! why it is sound.

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
