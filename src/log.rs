//! Log lines on stderr, `text` (`2026-11-25T12:00:00.123Z WARN message`) or
//! `json` (`{"ts":…,"level":…,"msg":…}`), chosen once at start by
//! LOG_FORMAT. `warn_limited` keeps a flapping dependency from flooding the
//! journal: one identical line per minute, with a count of those suppressed.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

pub fn info(msg: &str) {
    write(Level::Info, msg);
}

pub fn warn(msg: &str) {
    write(Level::Warn, msg);
}

pub fn error(msg: &str) {
    write(Level::Error, msg);
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
    let ts = rfc3339(now);
    if json {
        let obj = serde_json::json!({"ts": ts, "level": level.as_str().to_ascii_lowercase(), "msg": msg});
        format!("{obj}\n")
    } else {
        format!("{ts} {} {}\n", level.as_str(), msg.replace('\n', " "))
    }
}

/// UTC timestamp with milliseconds, e.g. `2026-11-25T12:00:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem / 60 % 60, rem % 60, d.subsec_millis())
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
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
