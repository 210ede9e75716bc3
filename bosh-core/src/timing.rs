//! Timing rules of XEP-0124 and of the Strophe.js client, as pure functions.
//!
//! Nothing here reads a clock: every function takes the instants and
//! durations it needs. Deadlines saturate instead of overflowing: a deadline
//! that cannot be represented as an [`Instant`] is `None`, which callers treat
//! as "never".

use std::time::{Duration, Instant};

/// Strophe.js's `TIMEOUT` multiplier: a client fails a request after
/// `wait × 1.1` seconds without a response (spec-checklist Part 2 §2.6).
pub const TIMEOUT_MULTIPLIER: f64 = 1.1;

/// Strophe.js's `SECONDARY_TIMEOUT` multiplier: once a request is known to
/// be dead (a later one completed first), it is failed after `wait × 0.1`
/// seconds (spec-checklist Part 2 §2.6).
pub const SECONDARY_TIMEOUT_MULTIPLIER: f64 = 0.1;

/// `now + after`, or `None` if that instant cannot be represented.
#[must_use]
pub fn deadline(now: Instant, after: Duration) -> Option<Instant> {
    now.checked_add(after)
}

/// `floor(wait × multiplier)` seconds, the way Strophe.js computes its
/// request timeouts (`Math.floor(TIMEOUT * wait)`). A negative or non-finite
/// multiplier counts as zero.
#[must_use]
pub fn scaled_wait(wait_secs: u16, multiplier: f64) -> Duration {
    let secs = f64::from(wait_secs) * multiplier;
    if secs.is_finite() && secs > 0.0 {
        Duration::from_secs(secs.floor() as u64)
    } else {
        Duration::ZERO
    }
}

/// The back-off before the `sends`-th send of a request: none for the first
/// two sends, then `min(cap, sends³ s)`. Strophe.js caps it at the request
/// timeout, `floor(wait × TIMEOUT)` (spec-checklist Part 2 §2.7).
#[must_use]
pub fn retry_backoff(sends: u32, cap: Duration) -> Duration {
    if sends <= 1 {
        return Duration::ZERO;
    }
    let cube = u64::from(sends).saturating_pow(3);
    Duration::from_secs(cube).min(cap)
}

/// The earliest of some optional deadlines (`None` means "never").
#[must_use]
pub fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strophe_timeouts_are_floor_of_wait_times_multiplier() {
        assert_eq!(scaled_wait(60, TIMEOUT_MULTIPLIER), Duration::from_secs(66));
        assert_eq!(
            scaled_wait(60, SECONDARY_TIMEOUT_MULTIPLIER),
            Duration::from_secs(6)
        );
        assert_eq!(scaled_wait(5, SECONDARY_TIMEOUT_MULTIPLIER), Duration::ZERO);
        assert_eq!(scaled_wait(60, f64::NAN), Duration::ZERO);
        assert_eq!(scaled_wait(60, -1.0), Duration::ZERO);
        assert_eq!(scaled_wait(u16::MAX, 1e300), Duration::from_secs(u64::MAX));
    }

    #[test]
    fn strophe_backoff_is_cube_of_sends_capped_by_timeout() {
        let b: Vec<u64> = (1..=6)
            .map(|s| retry_backoff(s, scaled_wait(60, TIMEOUT_MULTIPLIER)).as_secs())
            .collect();
        assert_eq!(b, [0, 8, 27, 64, 66, 66]);
        assert_eq!(
            retry_backoff(u32::MAX, scaled_wait(60, TIMEOUT_MULTIPLIER)).as_secs(),
            66
        );
    }
}
