//! [`Sid`]: the session id of `<body sid='…'/>` (XEP-0124 §7.2).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use arrayvec::ArrayString;

/// Longest sid kept inline; longer ones are stored on the heap.
const INLINE: usize = 40;

/// The opaque session id (`sid`, XEP-0124 §7.2). It dereferences to `str`
/// and compares, hashes and orders as one, so a `HashMap<Sid, _>` or a
/// `HashSet<String>` can be searched with either.
///
/// A sid of up to 40 bytes is stored inline, which covers the sids of the
/// usual connection managers (32 hex digits here, 36 for Prosody's UUIDs,
/// 40 for ejabberd's SHA-1 hex): parsing a request body and routing it
/// allocate nothing for its sid. Longer sids are kept on the heap.
#[derive(Clone)]
pub struct Sid(Repr);

#[derive(Clone)]
enum Repr {
    Inline(ArrayString<INLINE>),
    Heap(Box<str>),
}

impl Sid {
    /// Stores the sid `s` in `slot`, writing an inline one in place: its
    /// bytes are copied once, straight into the slot. (`Sid::from` builds it
    /// in a temporary that is then moved: reading back, with wide loads, the
    /// bytes just written by narrow stores stalls the CPU, which cost the
    /// parse of an empty poll about 10 ns.)
    pub(crate) fn store(slot: &mut Option<Sid>, s: &str) {
        if s.len() <= INLINE {
            let sid = slot.insert(Sid(Repr::Inline(ArrayString::new())));
            if let Repr::Inline(inline) = &mut sid.0 {
                inline.push_str(s);
            }
        } else {
            *slot = Some(Sid(Repr::Heap(s.into())));
        }
    }

    /// The sid as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(s) => s.as_str(),
            Repr::Heap(s) => s,
        }
    }
}

impl From<&str> for Sid {
    fn from(s: &str) -> Sid {
        match ArrayString::from(s) {
            Ok(inline) => Sid(Repr::Inline(inline)),
            Err(_) => Sid(Repr::Heap(s.into())),
        }
    }
}

impl From<String> for Sid {
    fn from(s: String) -> Sid {
        if s.len() <= INLINE {
            Sid::from(s.as_str())
        } else {
            Sid(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<Sid> for String {
    fn from(s: Sid) -> String {
        match s.0 {
            Repr::Inline(s) => s.as_str().to_owned(),
            Repr::Heap(s) => s.into_string(),
        }
    }
}

impl Deref for Sid {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Sid {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Sid {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Sid {
    fn eq(&self, other: &Sid) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Sid {}

impl PartialEq<str> for Sid {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Sid {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Sid {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for Sid {
    fn partial_cmp(&self, other: &Sid) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sid {
    fn cmp(&self, other: &Sid) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Sid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn short_and_long_sids_behave_as_their_strings() {
        let short = "0123456789abcdef0123456789abcdef";
        let long = "x".repeat(129);
        for s in [short, &long, ""] {
            let sid = Sid::from(s);
            assert_eq!(sid.as_str(), s);
            assert_eq!(Sid::from(s.to_owned()), sid);
            assert_eq!(String::from(sid.clone()), s);
            assert_eq!(format!("{sid}"), s);
            assert_eq!(format!("{sid:?}"), format!("{s:?}"));
            let set: HashSet<Sid> = [sid.clone()].into();
            assert!(set.contains(s), "hashes like its str");
            let mut slot = Some(Sid::from("previous"));
            Sid::store(&mut slot, s);
            assert_eq!(slot.as_ref(), Some(&sid));
            assert_eq!(
                matches!(slot.unwrap().0, Repr::Inline(_)),
                matches!(sid.0, Repr::Inline(_))
            );
        }
        assert!(matches!(Sid::from(short).0, Repr::Inline(_)));
        assert!(matches!(Sid::from(long.as_str()).0, Repr::Heap(_)));
    }
}
