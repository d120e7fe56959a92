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
/// Longest reason after `#`: HAProxy's stats column stays readable.
const MAX_AGENT_REASON_CHARS: usize = 60;
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

/// One line of printable ASCII, at most [`MAX_AGENT_REASON_CHARS`]. Commas
/// become `;` because HAProxy's CSV stats would split the field on them.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(MAX_AGENT_REASON_CHARS);
    for c in s.split_whitespace().flat_map(|w| std::iter::once(' ').chain(w.chars())).skip(1) {
        out.push(match c {
            ',' => ';',
            ' '..='~' => c,
            _ => '?',
        });
    }
    if out.chars().count() > MAX_AGENT_REASON_CHARS {
        out.truncate(MAX_AGENT_REASON_CHARS - 3);
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
        assert_eq!(reason.len(), MAX_AGENT_REASON_CHARS);
        assert!(reason.ends_with("...") && !reason.contains(['\n', '\r']));
    }
}
