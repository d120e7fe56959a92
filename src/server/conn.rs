//! What a connection is to the HTTP code, so plain TCP and TLS share it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A connection the HTTP code can serve: a plain socket, or TLS over one.
pub trait Conn: Read + Write {
    /// Bounds each following `read` call as a whole (TLS: handshake included).
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl Conn for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}
