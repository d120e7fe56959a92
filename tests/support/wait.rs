//! Waiting for a condition with a deadline — the only way tests synchronise
//! with the binary or the fake (never a bare sleep).

use std::time::{Duration, Instant};

/// Polls `cond` every 5 ms until it returns `Some`; panics naming `what`
/// after `timeout`.
pub fn until<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        if Instant::now() >= end {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Like `until` for a boolean condition.
pub fn until_true(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    until(what, timeout, || cond().then_some(()))
}
