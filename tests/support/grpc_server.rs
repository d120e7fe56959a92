//! A tiny HTTP/2 gRPC server on a unix socket for the container_runtime
//! tests that a real runtime cannot act out: a runtime serving only the
//! v1alpha2 API, one that accepts and never answers, one that answers
//! garbage, and an HTTP/2 server that is not gRPC.
//!
//! It understands just what our client sends (literal header fields without
//! Huffman) and answers with literal fields too. One thread per connection;
//! `Drop` shuts every connection and the accept loop down.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behavior {
    /// Answers Status on v1 and v1alpha2 with both conditions true.
    Ready,
    /// UNIMPLEMENTED on runtime.v1 (like containerd 1.6 built without v1),
    /// a ready Status on runtime.v1alpha2.
    V1alpha2Only,
    /// UNIMPLEMENTED on both API versions.
    NoCri,
    /// Accepts, reads, never writes a byte.
    Silent,
    /// Writes bytes that are not HTTP/2, then closes.
    Garbage,
    /// Valid HTTP/2, but `:status 404` with `text/plain` and no grpc-status.
    NotGrpc,
}

pub struct FakeCri {
    pub socket: PathBuf,
    /// `:path` of every request received, in order.
    pub paths: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<UnixStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl FakeCri {
    pub fn start(socket: &Path, behavior: Behavior) -> FakeCri {
        let listener = UnixListener::bind(socket).expect("bind fake CRI socket");
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let paths: Arc<Mutex<Vec<String>>> = Arc::default();
        let (stop2, conns2, paths2) = (stop.clone(), conns.clone(), paths.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if let Ok(c) = conn.try_clone() {
                    conns2.lock().unwrap().push(c);
                }
                let paths = paths2.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, behavior, &paths);
                });
            }
        });
        FakeCri { socket: socket.to_path_buf(), paths, stop, conns, accept: Some(accept) }
    }

    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

impl Drop for FakeCri {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so that the loop sees `stop`; if the
        // socket is gone the thread is left blocked rather than joined.
        let woke = UnixStream::connect(&self.socket).is_ok();
        for c in self.conns.lock().unwrap().iter() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        if let Some(h) = self.accept.take().filter(|_| woke) {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(&[kind, flags]);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn read_frame(c: &mut UnixStream) -> std::io::Result<(u8, u8, u32, Vec<u8>)> {
    let mut h = [0u8; 9];
    c.read_exact(&mut h)?;
    let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
    let mut p = vec![0u8; len];
    c.read_exact(&mut p)?;
    Ok((h[3], h[4], u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff, p))
}

/// HPACK literal without indexing, new name, plain strings (< 127 bytes).
fn literal(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        literal(&mut b, n, v);
    }
    b
}

/// Reads `:path` from our client's literal-only header block.
fn path_of(block: &[u8]) -> String {
    fn int(b: &[u8], i: &mut usize, prefix: u8) -> usize {
        let max = (1usize << prefix) - 1;
        let mut v = usize::from(b[*i]) & max;
        *i += 1;
        if v == max {
            let mut shift = 0;
            loop {
                let x = b[*i];
                *i += 1;
                v += usize::from(x & 0x7f) << shift;
                shift += 7;
                if x & 0x80 == 0 {
                    break;
                }
            }
        }
        v
    }
    let mut i = 0;
    while i < block.len() {
        i += 1; // 0x00: literal without indexing, new name
        let n = int(block, &mut i, 7);
        let name = &block[i..i + n];
        i += n;
        let n = int(block, &mut i, 7);
        let value = &block[i..i + n];
        i += n;
        if name == b":path" {
            return String::from_utf8_lossy(value).into_owned();
        }
    }
    String::new()
}

fn put_len(out: &mut Vec<u8>, field: u8, b: &[u8]) {
    out.push(field << 3 | 2);
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

/// StatusResponse with RuntimeReady=true, NetworkReady=true.
fn ready_status() -> Vec<u8> {
    let mut status = Vec::new();
    for kind in ["RuntimeReady", "NetworkReady"] {
        let mut c = Vec::new();
        put_len(&mut c, 1, kind.as_bytes());
        c.extend_from_slice(&[0x10, 0x01]);
        put_len(&mut status, 1, &c);
    }
    let mut resp = Vec::new();
    put_len(&mut resp, 1, &status);
    resp
}

fn serve(mut c: UnixStream, behavior: Behavior, paths: &Mutex<Vec<String>>) -> std::io::Result<()> {
    match behavior {
        Behavior::Silent => {
            // Drain whatever arrives; never answer.
            let mut buf = [0u8; 4096];
            while c.read(&mut buf)? > 0 {}
            return Ok(());
        }
        Behavior::Garbage => {
            c.write_all(b"this is not HTTP/2, just some garbage bytes\r\n")?;
            return Ok(());
        }
        _ => {}
    }
    let mut preface = [0u8; 24];
    c.read_exact(&mut preface)?;
    assert_eq!(preface, PREFACE);
    c.write_all(&frame(0x4, 0, 0, &[]))?;
    let mut current_path = String::new();
    loop {
        let (kind, flags, stream, payload) = read_frame(&mut c)?;
        match kind {
            0x4 if flags & 1 == 0 => c.write_all(&frame(0x4, 1, 0, &[]))?,
            0x1 => {
                current_path = path_of(&payload);
                paths.lock().unwrap().push(current_path.clone());
            }
            0x0 if flags & 1 != 0 => c.write_all(&answer(behavior, &current_path, stream))?,
            0x7 => return Ok(()),
            _ => {}
        }
    }
}

fn answer(behavior: Behavior, path: &str, stream: u32) -> Vec<u8> {
    let v1 = path.starts_with("/runtime.v1.");
    let unimplemented = match behavior {
        Behavior::V1alpha2Only => v1,
        Behavior::NoCri => true,
        _ => false,
    };
    if behavior == Behavior::NotGrpc {
        let h = block(&[(":status", "404"), ("content-type", "text/plain; charset=utf-8")]);
        let mut out = frame(0x1, 0x4, stream, &h);
        out.extend(frame(0x0, 0x1, stream, b"404 page not found\n"));
        return out;
    }
    if unimplemented {
        let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let msg = format!("unknown service {service}");
        let h = block(&[
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-status", "12"),
            ("grpc-message", &msg),
        ]);
        return frame(0x1, 0x4 | 0x1, stream, &h);
    }
    let msg = ready_status();
    let mut body = vec![0];
    body.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    body.extend_from_slice(&msg);
    let mut out = frame(0x1, 0x4, stream, &block(&[(":status", "200"), ("content-type", "application/grpc")]));
    out.extend(frame(0x0, 0, stream, &body));
    out.extend(frame(0x1, 0x4 | 0x1, stream, &block(&[("grpc-status", "0"), ("grpc-message", "")])));
    out
}
