//! A watch stream as the watch cache (k8s.io/apiserver/pkg/storage/cacher)
//! serves it over HTTP/1.1: `200`, chunked, one JSON event per chunk ending in
//! a newline, flushed per event.
//!
//! Start point (api-concepts "Semantics for watch"):
//! - `resourceVersion` unset or `"0"`: synthetic ADDED events for the current
//!   objects, then changes after the current RV;
//! - `resourceVersion=X`: every change after X from history, or — when X is
//!   older than the compaction point — a single `ERROR` event carrying a 410
//!   Expired Status (`too old resource version: X (Y)`), then the stream ends;
//! - `sendInitialEvents=true`: ADDED events, then (with bookmarks allowed) a
//!   BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
//!
//! Bookmarks (`allowWatchBookmarks=true`): every bookmark period and once 2 s
//! before the stream's deadline (cacher's `nextBookmarkTime`), carrying the
//! current RV. `timeoutSeconds` ends the stream with the zero-length chunk;
//! without it the deadline is 1800 s (the apiserver picks 30–60 min).

use super::handler::Next;
use super::selection::{Kind, Selection};
use super::store::Event;
use super::wire::{self, Request, Stream};
use super::{Shared, status};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Decrements the open-watch gauge however the stream ends.
struct OpenGuard<'a>(&'a Shared);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn serve(stream: &mut Stream, req: &Request, shared: &Shared, sel: &Selection) -> Next {
    let bookmarks = req.flag("allowWatchBookmarks");
    let initial_events = req.flag("sendInitialEvents");
    let timeout = req.param("timeoutSeconds").and_then(|t| t.parse().ok()).map_or(1800, |t: u64| t);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let from = match req.param("resourceVersion").filter(|v| !v.is_empty()) {
        None | Some("0") => None,
        Some(v) => match v.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => {
                let body = status::bad_request(&format!("invalid resource version: {v}"));
                let _ = wire::write_response(stream, 400, "application/json", &[], body.to_string().as_bytes());
                return Next::Close;
            }
        },
    };
    let drop_gen = shared.drop_gen.load(Ordering::SeqCst);
    let stall_gen = shared.stall_gen.load(Ordering::SeqCst);
    let end_gen = shared.end_gen.load(Ordering::SeqCst);
    shared.open_watches.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(shared);
    if wire::write_chunked_head(stream, 200, "application/json").is_err() {
        return Next::Close;
    }

    // Where the stream starts, decided under the store lock so no change slips between.
    let (mut pos, first) = {
        let s = shared.store.lock().unwrap();
        match from {
            Some(rv) if !initial_events && rv < s.compacted => {
                let err = json!({"type": "ERROR", "object": status::expired(rv, s.compacted)});
                drop(s);
                let ok = send(stream, &err).is_ok() && wire::write_last_chunk(stream).is_ok();
                return if ok { Next::KeepAlive } else { Next::Close };
            }
            Some(rv) if !initial_events => (rv, Vec::new()),
            _ => {
                let mut evs: Vec<Value> =
                    s.select(sel).into_iter().map(|o| json!({"type": "ADDED", "object": o})).collect();
                if initial_events && bookmarks {
                    evs.push(bookmark(sel.kind, s.rv, true));
                }
                (s.rv, evs)
            }
        }
    };
    for ev in &first {
        if send(stream, ev).is_err() {
            return Next::Close;
        }
    }

    let mut next_bookmark = next_bookmark_time(Instant::now(), deadline, shared);
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return Next::Close;
        }
        if shared.drop_gen.load(Ordering::SeqCst) != drop_gen {
            // Abrupt: no zero-length chunk, the client sees the body cut short.
            let _ = stream.tcp().shutdown(std::net::Shutdown::Both);
            return Next::Close;
        }
        // A stalled stream stays connected and silent until dropped or
        // stopped; a frozen server's streams until it is thawed.
        let frozen = shared.frozen.load(Ordering::SeqCst);
        let stalled = frozen || shared.stall_gen.load(Ordering::SeqCst) != stall_gen;
        let now = Instant::now();
        let ended = shared.end_gen.load(Ordering::SeqCst) != end_gen;
        if !frozen && (ended || (!stalled && now >= deadline)) {
            return if wire::write_last_chunk(stream).is_ok() { Next::KeepAlive } else { Next::Close };
        }
        let bookmark_due = bookmarks && !stalled && now >= next_bookmark;
        let (events, current): (Vec<Event>, u64) = {
            let s = shared.store.lock().unwrap();
            let events = if stalled { Vec::new() } else { s.events_after(pos, sel) };
            if events.is_empty() && !bookmark_due {
                let wake = [deadline, next_bookmark].into_iter().filter(|t| *t > now).min().unwrap_or(now);
                let wait =
                    if stalled { Duration::from_millis(50) } else { (wake - now).min(Duration::from_millis(50)) };
                let wait = wait.max(Duration::from_millis(1));
                let _unused = shared.changed.wait_timeout(s, wait).unwrap();
                continue;
            }
            (events, s.rv)
        };
        for e in &events {
            if send(stream, &json!({"type": e.kind.as_str(), "object": e.object})).is_err() {
                return Next::Close;
            }
            pos = e.rv;
        }
        if bookmark_due {
            if send(stream, &bookmark(sel.kind, current, false)).is_err() {
                return Next::Close;
            }
            pos = pos.max(current);
            next_bookmark = next_bookmark_time(Instant::now(), deadline, shared);
        }
    }
}

/// Every bookmark period, and once 2 s before the deadline if that comes first.
fn next_bookmark_time(now: Instant, deadline: Instant, shared: &Shared) -> Instant {
    let periodic = now + shared.knobs().bookmark_period;
    match deadline.checked_sub(Duration::from_secs(2)) {
        Some(before_end) if before_end > now && before_end < periodic => before_end,
        _ => periodic,
    }
}

/// A BOOKMARK event: an empty object of the watched kind with only the
/// resourceVersion (and the initial-events-end annotation) set.
fn bookmark(kind: Kind, rv: u64, initial_events_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"type": "BOOKMARK", "object": kind.bookmark_object(metadata)})
}

fn send(stream: &mut Stream, event: &Value) -> std::io::Result<()> {
    let mut line = event.to_string().into_bytes();
    line.push(b'\n');
    wire::write_chunk(stream, &line)
}
