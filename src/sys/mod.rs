//! The operating system below std: the only module with `unsafe` (thin
//! wrappers over libc calls std does not offer, each block with a `// SAFETY:`
//! line), plus the systemd notification. One file per job: `signals`
//! (termination signals, socket shutdown), `statvfs` (filesystem statistics),
//! `sockets` (readiness, interface names), `sd_notify` (systemd readiness).
#![allow(unsafe_code)]

pub mod sd_notify;
mod signals;
mod sockets;
mod statvfs;

pub use signals::{block_termination_signals, shutdown_listener, shutdown_socket, wait_termination_signal};
pub use sockets::{if_nametoindex, poll_readable};
pub use statvfs::{StatVfs, statvfs};
