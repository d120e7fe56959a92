//! Log lines on stderr, `text` (`2026-11-25T12:00:00.123Z WARN message`) or
//! `json` (`{"ts":…,"level":…,"msg":…}`), chosen once at start by
//! LOG_FORMAT. `warn_limited` keeps a flapping dependency from flooding the
//! journal: one identical line per minute, with a count of those suppressed.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::timefmt;

static JSON: AtomicBool = AtomicBool::new(false);

/// How long an identical rate-limited line stays quiet.
const REPEAT_WINDOW: Duration = Duration::from_secs(60);

pub fn set_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

#[derive(Clone, Copy)]
pub enum Level {
    Info,
    Warn,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
        }
    }
}

pub fn info(msg: &str) {
    write(Level::Info, msg);
}

pub fn warn(msg: &str) {
    write(Level::Warn, msg);
}

/// Logs `msg` at most once per minute per `key`; the next line that gets
/// through says how many were suppressed in between.
pub fn warn_limited(key: &str, msg: &str) {
    limited(Level::Warn, key, msg);
}

/// [`warn_limited`] at info level (watch restarts, check transitions).
pub fn info_limited(key: &str, msg: &str) {
    limited(Level::Info, key, msg);
}

fn limited(level: Level, key: &str, msg: &str) {
    static LIMITER: OnceLock<Mutex<RateLimiter>> = OnceLock::new();
    let limiter = LIMITER.get_or_init(|| Mutex::new(RateLimiter::new(REPEAT_WINDOW)));
    let verdict = limiter.lock().unwrap_or_else(|p| p.into_inner()).admit(key, Instant::now());
    match verdict {
        Some(0) => write(level, msg),
        Some(n) => write(level, &format!("{msg} ({n} similar lines suppressed in the last minute)")),
        None => {}
    }
}

/// Per-key "once per window" gate with a count of what it held back.
struct RateLimiter {
    window: Duration,
    seen: HashMap<String, (Instant, u64)>,
}

impl RateLimiter {
    /// Keys are few in practice (one per error kind or check); past this the
    /// table is cleared rather than allowed to grow.
    const MAX_KEYS: usize = 1000;

    fn new(window: Duration) -> RateLimiter {
        RateLimiter { window, seen: HashMap::new() }
    }

    /// `Some(suppressed)` when a line may be written now, `None` when not.
    fn admit(&mut self, key: &str, now: Instant) -> Option<u64> {
        match self.seen.get_mut(key) {
            Some((last, count)) if now.duration_since(*last) < self.window => {
                *count += 1;
                None
            }
            Some((last, count)) => {
                *last = now;
                Some(std::mem::take(count))
            }
            None => {
                if self.seen.len() >= Self::MAX_KEYS {
                    self.seen.clear();
                }
                self.seen.insert(key.to_string(), (now, 0));
                Some(0)
            }
        }
    }
}

pub fn write(level: Level, msg: &str) {
    let line = format_line(level, msg, SystemTime::now(), JSON.load(Ordering::Relaxed));
    // One write per line keeps lines whole when threads log at once.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn format_line(level: Level, msg: &str, now: SystemTime, json: bool) -> String {
    let ts = timefmt::rfc3339(now);
    if json {
        let obj = serde_json::json!({"ts": ts, "level": level.as_str().to_ascii_lowercase(), "msg": msg});
        format!("{obj}\n")
    } else {
        format!("{ts} {} {}\n", level.as_str(), msg.replace('\n', " "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn identical_lines_are_limited_to_one_per_window() {
        let mut l = RateLimiter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(l.admit("a", t0), Some(0));
        assert_eq!(l.admit("a", t0 + Duration::from_secs(1)), None);
        assert_eq!(l.admit("a", t0 + Duration::from_secs(2)), None);
        assert_eq!(l.admit("b", t0 + Duration::from_secs(2)), Some(0), "keys are independent");
        assert_eq!(l.admit("a", t0 + Duration::from_secs(61)), Some(2), "next line reports what was held back");
        assert_eq!(l.admit("a", t0 + Duration::from_secs(62)), None);
    }

    #[test]
    fn json_lines_are_json() {
        let line = format_line(Level::Warn, "a \"b\"\nc", UNIX_EPOCH, true);
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "a \"b\"\nc");
        assert!(!format_line(Level::Info, "x\ny", UNIX_EPOCH, false).trim_end().contains('\n'));
    }
}
