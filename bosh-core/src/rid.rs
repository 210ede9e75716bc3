//! Request identifiers (XEP-0124 §14).

use std::fmt;
use std::num::NonZeroU64;

/// A request identifier: a positive integer no larger than 2^53 - 1
/// (XEP-0124 §14.1), so that it survives a round trip through a JavaScript
/// number.
///
/// It is stored as a `NonZeroU64`, so an `Option<Rid>` takes eight bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rid(NonZeroU64);

impl Rid {
    /// The largest rid: 9007199254740991 = 2^53 - 1 (XEP-0124 §14.1).
    pub const MAX: Rid = match NonZeroU64::new((1 << 53) - 1) {
        Some(v) => Rid(v),
        None => unreachable!(),
    };
    /// The smallest rid, 1 (`positiveInteger`, XEP-0124 §22).
    pub const MIN: Rid = Rid(NonZeroU64::MIN);

    /// `Some` if `value` is in `1..=2^53-1`.
    pub const fn new(value: u64) -> Option<Rid> {
        match NonZeroU64::new(value) {
            Some(v) if value <= Rid::MAX.get() => Some(Rid(v)),
            _ => None,
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The rid `n` requests later, or `None` past [`Rid::MAX`] (R14.1-2).
    pub const fn checked_add(self, n: u64) -> Option<Rid> {
        match self.get().checked_add(n) {
            Some(v) => Rid::new(v),
            None => None,
        }
    }

    /// The rid `n` requests earlier, or `None` below [`Rid::MIN`].
    pub const fn checked_sub(self, n: u64) -> Option<Rid> {
        match self.get().checked_sub(n) {
            Some(v) => Rid::new(v),
            None => None,
        }
    }

    /// The next rid (`self + 1`), or `None` at [`Rid::MAX`].
    pub const fn next(self) -> Option<Rid> {
        self.checked_add(1)
    }
}

impl fmt::Display for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xep0124_14_1_rid_range_is_one_to_2_pow_53_minus_1() {
        assert_eq!(Rid::new(0), None);
        assert_eq!(Rid::new(1), Some(Rid::MIN));
        assert_eq!(
            Rid::new(9_007_199_254_740_991).map(Rid::get),
            Some(9_007_199_254_740_991)
        );
        assert_eq!(Rid::new(9_007_199_254_740_992), None);
        assert_eq!(Rid::MAX.next(), None);
        assert_eq!(Rid::MIN.checked_sub(1), None);
        assert_eq!(Rid::MIN.checked_add(u64::MAX), None);
    }
}
