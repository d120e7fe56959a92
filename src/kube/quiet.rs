//! Confirming a quiet watch alive without tearing it down.
//!
//! kube-apiserver sends a watch bookmark only about once a minute, so a
//! healthy watch on an object that does not change can be silent for ~60 s.
//! With a staleness limit below that, silence alone cannot tell a quiet
//! server from a hung one (accepts, holds the connections open, sends
//! nothing — e.g. a stopped process). So once the stream has been silent for
//! half the limit, the watch loop asks the server once more on a separate
//! connection (the resource supplies the request: for a Node, a list of it
//! at `resourceVersion=0`, served from the watch cache, costing etcd nothing
//! and needing only the `list` the watch needs anyway). An answer refreshes
//! "API confirmed alive at"; no answer within NODE_API_TIMEOUT_MS leaves the
//! state to go stale at the limit, counted from the last answer.
//!
//! Consistency: the answer may come from another API server whose cache
//! lags, or lead the watch by an event in flight. Its object is published
//! only when its resourceVersion is newer than everything the watch (and
//! earlier confirmations) delivered, and events older than a state
//! published that way are skipped, so the state never goes back in time.
//! resourceVersions are compared as the integers every API server uses;
//! one that is not an integer is never "newer" (the watch then catches up
//! on its own).

use std::time::{Duration, Instant};

/// When the next confirmation is due: half the staleness limit after the
/// API last answered, or after the last failed attempt ended (a hung server
/// is asked at most once per half limit). `None` without a limit: no
/// request is ever needed, the watch's own idle timeout is enough.
pub fn due(limit: Option<Duration>, answered_at: Instant, failed_at: Option<Instant>) -> Option<Instant> {
    let since = failed_at.map_or(answered_at, |f| f.max(answered_at));
    limit.map(|l| since + l / 2)
}

/// Whether a confirmation's object is newer than the state held: the
/// version to publish it at, or `None` to keep the state as it is.
/// `held` is the watch's resume point, `ahead` a version an earlier
/// confirmation already published.
pub fn newer(answer: &str, held: &str, ahead: Option<u64>) -> Option<u64> {
    let answer: u64 = answer.parse().ok()?;
    let held: u64 = held.parse().ok()?;
    (answer > held.max(ahead.unwrap_or(0))).then_some(answer)
}

/// Whether a watch event at `event` is older than (or the same as) a state
/// a confirmation published ahead of the watch: skip it.
pub fn behind(event: &str, ahead: Option<u64>) -> bool {
    match (event.parse::<u64>(), ahead) {
        (Ok(e), Some(a)) => e <= a,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_at_half_the_limit_after_the_last_answer_or_failure() {
        let t = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(due(None, t, None), None, "no limit: never");
        assert_eq!(due(Some(s(30)), t, None), Some(t + s(15)));
        assert_eq!(due(Some(s(1)), t, None), Some(t + Duration::from_millis(500)));
        assert_eq!(due(Some(s(30)), t, Some(t + s(25))), Some(t + s(40)), "a failed attempt waits half the limit");
        assert_eq!(due(Some(s(30)), t + s(26), Some(t + s(25))), Some(t + s(41)), "an answer since counts");
    }

    #[test]
    fn only_a_newer_numeric_version_is_published_and_older_events_are_skipped() {
        assert_eq!(newer("12", "10", None), Some(12));
        assert_eq!(newer("10", "10", None), None, "same state");
        assert_eq!(newer("9", "10", None), None, "a lagging cache");
        assert_eq!(newer("12", "10", Some(12)), None, "already published");
        assert_eq!(newer("13", "10", Some(12)), Some(13));
        assert_eq!(newer("abc", "10", None), None, "opaque: let the watch catch up");
        assert_eq!(newer("12", "x", None), None);
        assert!(behind("11", Some(12)) && behind("12", Some(12)));
        assert!(!behind("13", Some(12)) && !behind("11", None) && !behind("x", Some(12)));
    }
}
