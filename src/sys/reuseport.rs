//! Hands new connections on a shared port to the newest listener.
//!
//! During a rolling update two instances listen on one port with
//! SO_REUSEPORT. By default the kernel spreads new connections over both by
//! a hash, so the old instance keeps getting some until it closes; and a
//! listener that closes **resets** every connection still in its accept
//! queue (unless the host set `net.ipv4.tcp_migrate_req=1`, which nodes do
//! not by default). A probe that lands in that queue in the last moment is
//! lost: the LB logs a failed check once per upgrade.
//!
//! The fix needs no host setting: a classic BPF program attached to the
//! port's reuseport group picks the socket by index, and the kernel keeps
//! the group's sockets in the order they joined. The program always answers
//! index 1 — the second listener, i.e. the new instance while the old one
//! still listens. With one listener, index 1 is out of range and the kernel
//! falls back to its hash, which then has one choice. So from the moment a
//! new instance listens, the old one gets nothing new and has emptied its
//! queue long before its SIGTERM (the DaemonSet's minReadySeconds).
//! The program belongs to the group, not the socket: the instance that
//! attached it last wins, and every instance attaches the same one.

use std::io;
use std::os::fd::RawFd;

/// `BPF_RET | BPF_K`: return the constant in `k`.
const BPF_RET_K: u16 = 0x06;
/// Index of the listener that gets new connections while two share the port.
const NEWEST_OF_TWO: u32 = 1;

/// Attaches the "second listener first" program to the reuseport group of
/// the listening socket `fd` (call it after listen(): before, the socket
/// has no group yet and the program would be dropped when it joins one).
pub fn prefer_newest_listener(fd: RawFd) -> io::Result<()> {
    let mut program = [libc::sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: NEWEST_OF_TWO }];
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    // SAFETY: `fprog` points at `program`, both alive for the call; the
    // kernel copies the program and keeps no pointer into our memory.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}
