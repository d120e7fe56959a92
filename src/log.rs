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
    static SEEN: OnceLock<Mutex<HashMap<String, (Instant, u64)>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let suppressed = match seen.get_mut(key) {
        Some((last, count)) if now.duration_since(*last) < REPEAT_WINDOW => {
            *count += 1;
            return;
        }
        Some((last, count)) => {
            let n = *count;
            *last = now;
            *count = 0;
            n
        }
        None => {
            if seen.len() > 1000 {
                seen.clear(); // keys are bounded in practice; never grow without bound
            }
            seen.insert(key.to_string(), (now, 0));
            0
        }
    };
    drop(seen);
    if suppressed > 0 {
        warn(&format!("{msg} ({suppressed} similar lines suppressed in the last minute)"));
    } else {
        warn(msg);
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
    fn json_lines_are_json() {
        let line = format_line(Level::Warn, "a \"b\"\nc", UNIX_EPOCH, true);
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "a \"b\"\nc");
        assert!(!format_line(Level::Info, "x\ny", UNIX_EPOCH, false).trim_end().contains('\n'));
    }
}
