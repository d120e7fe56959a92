//! systemd readiness notification (`Type=notify`) without libsystemd: one
//! datagram `READY=1` to the socket named by `$NOTIFY_SOCKET`, as sd_notify(3)
//! does. A path (`/run/systemd/notify`) or an abstract name (`@name`) is
//! accepted; without `$NOTIFY_SOCKET` (not started by systemd) nothing happens.
#![deny(unsafe_code)]

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Tells systemd that the service is ready (the listener is bound). The
/// error names the socket; the caller logs it (never fatal: the service
/// works the same without systemd).
pub fn ready() -> Result<(), String> {
    match std::env::var_os(NOTIFY_SOCKET) {
        None => Ok(()),
        Some(target) => {
            send(&target, b"READY=1\n").map_err(|e| format!("cannot notify systemd at {NOTIFY_SOCKET}={target:?}: {e}"))
        }
    }
}

/// Sends `state` as one datagram to `target` (`/path` or `@abstract`).
pub fn send(target: &OsStr, state: &[u8]) -> io::Result<()> {
    let bytes = target.as_bytes();
    let addr = match bytes.first() {
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..])?,
        Some(b'/') => SocketAddr::from_pathname(target)?,
        _ => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an absolute path or @abstract name"));
        }
    };
    let socket = UnixDatagram::unbound()?;
    let sent = socket.send_to_addr(state, &addr)?;
    if sent != state.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_to_a_path_socket() {
        let dir = crate::testutil::TempDir::new("sdnotify");
        let path = dir.0.join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), b"READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("hnre-sdnotify-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        send(OsStr::new(&format!("@{name}")), b"READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
    }

    #[test]
    fn rejects_a_relative_name() {
        let e = send(OsStr::new("notify"), b"READY=1\n").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
