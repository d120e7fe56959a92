//! HAProxy agent-check answer on AGENT_PORT: each TCP connection gets one
//! line, then the connection is closed.
//!
//! - `up ready` — every AGENT_CHECKS check passed;
//! - `up drain` — the only failing check is `node_eligible`, and it failed
//!   for sure (cordoned, being deleted; not "could not tell"): HAProxy keeps
//!   existing sessions and sends no new ones. "up" is said too because after
//!   a `down` HAProxy keeps the server DOWN until the agent says `up`: a node
//!   that recovers while cordoned must show DRAIN, not stay DOWN (checked
//!   against HAProxy 2.6). `ready` lifts the drain once node_eligible passes;
//! - `down #<check>: <reason>` — anything else; the text after `#` is what
//!   HAProxy shows in its stats and logs.
//!
//! Same runner and cache as /health, so agent checks cost nothing extra.
//! Limits are those of the HTTP listener (same [`Shared`]); we never read
//! the request side beyond a small bounded drain before closing.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::time::Duration;

use super::Shared;
use crate::checks::{CheckId, Outcome};
use crate::runner::CheckResult;

/// The check whose sole failure means "drain" rather than "down".
const DRAIN_CHECK: CheckId = CheckId::NodeEligible;
/// Longest reason after `#` that HAProxy keeps whole. It stores the
/// description as `via agent : down (<reason>)` in a buffer of
/// HCHK_DESC_LEN = 128 bytes (127 and a NUL) and silently cuts the rest;
/// that text is `last_agt` in `show stat` and the `info:` of its log line.
/// 127 - len("via agent : down (") - len(")") = 108 (checked against
/// HAProxy 2.6 in tests/haproxy.rs).
pub const MAX_AGENT_REASON_CHARS: usize = 108;
/// A longer reason is cut after its last whole word that fits, unless that
/// would keep fewer characters than this (one huge word): then mid-word.
const MIN_WORD_CUT_CHARS: usize = MAX_AGENT_REASON_CHARS / 2;
/// After answering, anything HAProxy sent (`agent-send`) is read and dropped,
/// at most this much and this long, so that the close is a FIN and not a RST
/// that could destroy our answer before HAProxy has read it.
const DRAIN_LIMIT_BYTES: usize = 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Answers one agent-check connection.
pub fn handle(mut stream: TcpStream, _client: IpAddr, shared: &Shared) {
    {
        let _request = shared.begin_request();
        let runner = shared.runner();
        let line = reply(&runner.run(&runner.ctx().config.agent_checks));
        if stream.write_all(line.as_bytes()).is_err() {
            return;
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(DRAIN_TIMEOUT));
    let mut sink = [0u8; 256];
    let mut left = DRAIN_LIMIT_BYTES;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// The agent line for a set of results (ends with a newline).
pub fn reply(results: &[CheckResult]) -> String {
    let failing: Vec<&CheckResult> = results.iter().filter(|r| !r.outcome.passed()).collect();
    match failing.as_slice() {
        [] if !results.is_empty() => "up ready\n".to_string(),
        [] => "down #no checks selected\n".to_string(),
        // Only a definite "not eligible"; could-not-tell is down like any other.
        [only] if only.id == DRAIN_CHECK && matches!(only.outcome, Outcome::Fail(_)) => "up drain\n".to_string(),
        _ => {
            // Name the first failure that is not the drain check: that one is why we are down.
            let first = failing.iter().find(|r| r.id != DRAIN_CHECK).unwrap_or(&failing[0]);
            let reason = first.outcome.reason().unwrap_or("failed");
            format!("down #{}\n", sanitize(&format!("{}: {reason}", first.name())))
        }
    }
}

/// One line of printable ASCII, at most [`MAX_AGENT_REASON_CHARS`], cut at
/// a word boundary with `...` when longer (a word cut in half, like
/// `term...` for `terminating`, reads as another word). Commas become `;`
/// because HAProxy's CSV stats would split the field on them.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(MAX_AGENT_REASON_CHARS);
    for c in s.split_whitespace().flat_map(|w| std::iter::once(' ').chain(w.chars())).skip(1) {
        out.push(match c {
            ',' => ';',
            ' '..='~' => c,
            _ => '?',
        });
    }
    // ASCII from here on: bytes are characters.
    if out.len() > MAX_AGENT_REASON_CHARS {
        let room = MAX_AGENT_REASON_CHARS - "...".len();
        // The space after the last word that fits whole (the character
        // just past `room` may itself be that space).
        let cut = match out[..=room].rfind(' ') {
            Some(i) if i >= MIN_WORD_CUT_CHARS => i,
            _ => room,
        };
        out.truncate(cut);
        // `…: ...` or `…; ...` would leave dangling punctuation.
        let kept = out.trim_end_matches([' ', ':', ';']).len();
        out.truncate(kept);
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &'static str, outcome: Outcome) -> CheckResult {
        CheckResult { id: CheckId::parse(name).unwrap(), outcome, duration: Duration::ZERO }
    }

    #[test]
    fn replies() {
        let pass = |n| r(n, Outcome::Pass);
        let fail = |n, why: &str| r(n, Outcome::fail(why));
        assert_eq!(reply(&[pass("node_ready"), pass("node_eligible")]), "up ready\n");
        assert_eq!(reply(&[pass("node_ready"), fail("node_eligible", "cordoned (spec.unschedulable)")]), "up drain\n");
        assert_eq!(
            reply(&[fail("node_ready", "KubeletNotReady"), fail("node_eligible", "cordoned")]),
            "down #node_ready: KubeletNotReady\n"
        );
        assert_eq!(
            reply(&[r("kubelet", Outcome::unknown("timed out after 1000 ms"))]),
            "down #kubelet: timed out after 1000 ms\n"
        );
        assert_eq!(reply(&[]), "down #no checks selected\n");
        assert_eq!(
            reply(&[pass("node_ready"), r("node_eligible", Outcome::unknown("timed out after 1000 ms"))]),
            "down #node_eligible: timed out after 1000 ms\n"
        );
    }

    #[test]
    fn reasons_are_one_short_ascii_line() {
        let line = reply(&[r("kubelet", Outcome::Fail("a,b\r\nc\tdé ".to_string() + &"x".repeat(100)))]);
        assert!(line.starts_with("down #kubelet: a;b c d? xxx"), "{line:?}");
        let reason = line.strip_prefix("down #").unwrap().strip_suffix('\n').unwrap();
        assert!(reason.len() <= MAX_AGENT_REASON_CHARS, "{reason:?}");
        assert!(reason.ends_with("...") && !reason.contains(['\n', '\r']));
        // One word longer than the limit: cut mid-word, to the limit exactly.
        assert_eq!(reason.len(), MAX_AGENT_REASON_CHARS, "{reason:?}");
    }

    #[test]
    fn long_reasons_are_cut_after_a_whole_word() {
        let words = "endpoint 10.0.0.1 terminating; endpoint 10.0.0.7 terminating; endpoint 10.0.0.9 terminating";
        let line = reply(&[r("service_endpoints", Outcome::Fail(format!("ingress/router: {words}")))]);
        assert_eq!(
            line,
            "down #service_endpoints: ingress/router: endpoint 10.0.0.1 terminating; endpoint 10.0.0.7 terminating; \
             endpoint...\n"
        );
        // Just fits: kept whole; one character more: the last word goes.
        let exact = format!("{} {}", "a".repeat(60), "b".repeat(MAX_AGENT_REASON_CHARS - 61));
        assert_eq!(sanitize(&exact), exact);
        assert_eq!(sanitize(&format!("{exact}b")), format!("{}...", "a".repeat(60)));
        // A space right after the room for `...`: the word before it stays.
        let at_room = format!("{} {}", "a".repeat(MAX_AGENT_REASON_CHARS - 3), "b".repeat(10));
        assert_eq!(sanitize(&at_room), format!("{}...", "a".repeat(MAX_AGENT_REASON_CHARS - 3)));
        // No dangling separator before the ellipsis.
        let colon = format!("{}: {}", "a".repeat(70), "b".repeat(60));
        assert_eq!(sanitize(&colon), format!("{}...", "a".repeat(70)));
        for n in 0..300 {
            let s = sanitize(&"word ".repeat(n));
            assert!(s.len() <= MAX_AGENT_REASON_CHARS && (s.len() < 105 || s.ends_with("word...")), "{n}: {s:?}");
        }
    }
}
