//! Deadline arithmetic never overflows an `Instant`.

use std::time::{Duration, Instant};

use bosh_core::timing::{deadline, earliest};

#[test]
fn deadlines_saturate_to_never_instead_of_overflowing() {
    // Tests may read the clock; the core never does.
    let now = Instant::now();
    assert_eq!(deadline(now, Duration::MAX), None);
    let one = deadline(now, Duration::from_secs(1));
    assert_eq!(earliest([None, one, None]), one);
    assert_eq!(earliest([None, None]), None);
}
