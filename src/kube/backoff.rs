//! Retry delays: exponential backoff with jitter, and the small random
//! source it (and the watch timeout jitter) needs without a rand crate.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// Exponential backoff with "equal jitter": the n-th delay is uniformly in
/// [d/2, d] with d = min(base·2ⁿ, cap), so retries spread out but never
/// come sooner than half the nominal delay.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    base: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { failures: 0, base, cap }
    }

    /// The delay before the next retry, given a random number.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let nominal = self.base.saturating_mul(1u32 << self.failures.min(20)).min(self.cap);
        self.failures = self.failures.saturating_add(1);
        let half = nominal / 2;
        let spread = half.as_millis() as u64 + 1;
        half + Duration::from_millis(random % spread)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A random u64 from the std hasher's per-process random keys.
pub fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut nominal = Duration::from_secs(1);
        for i in 0..40u64 {
            let low = b.clone().next_delay(0);
            let high = b.clone().next_delay(u64::MAX - 1);
            let d = b.next_delay(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            assert!(d >= nominal / 2 && d <= nominal, "attempt {i}: {d:?} outside [{:?}, {nominal:?}]", nominal / 2);
            assert!(low == nominal / 2 && high <= nominal, "attempt {i}");
            assert!(d <= Duration::from_secs(30));
            nominal = (nominal * 2).min(Duration::from_secs(30));
        }
        b.reset();
        assert!(b.next_delay(random()) <= Duration::from_secs(1));
    }
}
