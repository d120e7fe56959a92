//! The operating system below std: the only module with `unsafe` (thin
//! wrappers over libc calls std does not offer, each block with a `// SAFETY:`
//! line), plus the systemd notification. One file per job: `signals`
//! (termination signals, socket shutdown), `statvfs` (filesystem statistics),
//! `sockets` (readiness, interface names), `reuseport` (the newest listener
//! of a shared port gets new connections), `sd_notify` (systemd readiness).
#![allow(unsafe_code)]

mod reuseport;
pub mod sd_notify;
mod signals;
mod sockets;
mod statvfs;

pub use reuseport::prefer_newest_listener;
pub use signals::{block_termination_signals, shutdown_listener, shutdown_socket, wait_termination_signal};
pub use sockets::{if_nametoindex, poll_readable};
pub use statvfs::{StatVfs, statvfs};
