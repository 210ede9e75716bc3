//! Key sequencing (XEP-0124 §15).
//!
//! Key sequencing protects a session that is not secure (plain HTTP, or a
//! guessable sid) against a third party injecting requests: every request
//! carries a `key` whose SHA-1 is the `key` (or `newkey`) of the previous
//! request, so only the holder of the secret chain can continue it.
//!
//! - The client builds a [`KeyChain`] from a secret seed: K(1) =
//!   hex(SHA-1(seed)), K(i) = hex(SHA-1(K(i−1))) (§15.3, R15.3-2). It sends
//!   K(n) as `newkey` on the first request, then K(n−1) … K(1) as `key`, and
//!   with K(1) it also sends the `newkey` of a fresh chain (§15.5, R15.5-2).
//! - The connection manager checks each `key` with [`verify_key`] against the
//!   previous request's `newkey` (or `key`) (§15.4, R15.4-3).
//!
//! Hex is lower case; comparisons are case-insensitive (R15.3-3).

use std::fmt;

use sha1::{Digest, Sha1};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of the SHA-1 of the key's bytes (XEP-0124 §15.3, R15.3-2).
///
/// ```
/// // RFC 3174 test vector.
/// assert_eq!(
///     bosh_core::keys::key_hash("abc"),
///     "a9993e364706816aba3e25717850c26c9cd0d89d"
/// );
/// ```
pub fn key_hash(key: &str) -> String {
    hex(&sha1(key.as_bytes()))
}

/// Whether `hex(SHA-1(key))` equals `expected_hash`, compared
/// case-insensitively (XEP-0124 §15.4, R15.3-3, R15.4-3).
///
/// Any input is accepted: a hash that is not 40 hexadecimal characters simply
/// does not match. The comparison does not stop at the first difference.
pub fn verify_key(key: &str, expected_hash: &str) -> bool {
    let expected = expected_hash.as_bytes();
    if expected.len() != 40 {
        return false;
    }
    // The key is hashed as sent: a client whose chain is upper-case hex
    // hashed the upper-case string. Its lower-case form is tried too, for a
    // client that hashed lower-case keys but sends them upper-case
    // (R15.3-3); only when it has upper-case letters, since otherwise it is
    // the same string (what is skipped depends on the key the client sent,
    // not on the secret hash). Each comparison runs to the end.
    let differs = |digest: [u8; 20]| {
        let mut diff = 0u8;
        for (i, b) in digest.iter().enumerate() {
            let hi = HEX[usize::from(b >> 4)];
            let lo = HEX[usize::from(b & 0x0f)];
            diff |= hi ^ expected[2 * i].to_ascii_lowercase();
            diff |= lo ^ expected[2 * i + 1].to_ascii_lowercase();
        }
        diff
    };
    let as_sent = differs(sha1(key.as_bytes()));
    let lowered = if key.bytes().any(|b| b.is_ascii_uppercase()) {
        differs(sha1(key.to_ascii_lowercase().as_bytes()))
    } else {
        as_sent
    };
    (as_sent == 0) | (lowered == 0)
}

fn sha1(input: &[u8]) -> [u8; 20] {
    Sha1::digest(input).into()
}

fn hex(digest: &[u8; 20]) -> String {
    let mut out = String::with_capacity(40);
    for &b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Why a [`KeyChain`] could not be built (caller misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyChainError {
    /// The seed is empty; it must be secret entropy (R15.3-1).
    #[error("the key seed is empty")]
    EmptySeed,
    /// The chain length is outside `2..=KeyChain::MAX_LEN`.
    #[error("key chain length {n} is outside 2..={max}", max = KeyChain::MAX_LEN)]
    InvalidLength {
        /// The length asked for.
        n: u32,
    },
    /// The number of keys left is outside `1..n` when resuming a chain.
    #[error("{remaining} keys left is outside 1..{n}")]
    InvalidRemaining {
        /// The chain length.
        n: u32,
        /// The number of keys left asked for.
        remaining: u32,
    },
}

/// A client's key sequence (XEP-0124 §15.3-§15.5).
///
/// Built from caller-supplied secret entropy (`seed`, at least 128 bits are
/// recommended) and a length `n` that should be high and unpredictable
/// (R15.3-1, R15.5-1): K(1) = hex(SHA-1(seed)), K(i) = hex(SHA-1(K(i−1))).
/// [`KeyChain::newkey`] is K(n), sent as `newkey` when the chain is
/// introduced; [`KeyChain::next_key`] then yields K(n−1), …, K(1), one per
/// request. After K(1) the chain is exhausted and the client must introduce
/// a new chain in the same request (R15.5-2); [`crate::client::ClientSession`]
/// does this itself.
///
/// The whole chain is computed once (20 bytes a key, so `n` is capped at
/// [`KeyChain::MAX_LEN`]). `Debug` shows neither the seed nor any key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyChain {
    seed: Vec<u8>,
    /// `digests[i]` is the SHA-1 behind K(i + 1).
    digests: Vec<[u8; 20]>,
    /// How many keys [`KeyChain::next_key`] still yields.
    remaining: u32,
}

impl KeyChain {
    /// The longest chain accepted (16384 keys, 320 KiB).
    pub const MAX_LEN: u32 = 16_384;

    /// Builds the chain K(1) … K(n) from `seed` (XEP-0124 §15.3, R15.3-2).
    ///
    /// Errors: an empty seed, or `n` outside `2..=MAX_LEN`.
    pub fn new(seed: &[u8], n: u32) -> Result<KeyChain, KeyChainError> {
        KeyChain::resume(seed, n, n.saturating_sub(1))
    }

    /// Rebuilds a chain of which only K(`remaining`) … K(1) are still to be
    /// sent, as exported by [`KeyChain::seed`], [`KeyChain::len`] and
    /// [`KeyChain::remaining`] (session export, see
    /// [`crate::client::SessionState`]).
    ///
    /// Errors: an empty seed, `n` outside `2..=MAX_LEN`, or `remaining`
    /// outside `1..n`.
    pub fn resume(seed: &[u8], n: u32, remaining: u32) -> Result<KeyChain, KeyChainError> {
        if seed.is_empty() {
            return Err(KeyChainError::EmptySeed);
        }
        if !(2..=KeyChain::MAX_LEN).contains(&n) {
            return Err(KeyChainError::InvalidLength { n });
        }
        if remaining == 0 || remaining >= n {
            return Err(KeyChainError::InvalidRemaining { n, remaining });
        }
        let mut digests = Vec::with_capacity(n as usize);
        let mut d = sha1(seed);
        digests.push(d);
        for _ in 1..n {
            d = sha1(hex(&d).as_bytes());
            digests.push(d);
        }
        Ok(KeyChain {
            seed: seed.to_vec(),
            digests,
            remaining,
        })
    }

    /// The chain length `n`.
    pub fn len(&self) -> u32 {
        // At most MAX_LEN entries, so this cannot truncate.
        self.digests.len() as u32
    }

    /// Always `false`: a chain has at least two keys. (Provided for
    /// completeness next to [`KeyChain::len`].)
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The secret seed the chain was built from (for session export).
    pub fn seed(&self) -> &[u8] {
        &self.seed
    }

    /// K(n), the `newkey` that introduces this chain (R15.4-1, R15.5-2).
    pub fn newkey(&self) -> String {
        self.digests.last().map(hex).unwrap_or_default()
    }

    /// K(i) for `1 <= i <= n`, `None` otherwise.
    pub fn key(&self, i: u32) -> Option<String> {
        let index = usize::try_from(i.checked_sub(1)?).ok()?;
        self.digests.get(index).map(hex)
    }

    /// The next `key` to send: K(n−1), then K(n−2), …, then K(1), then
    /// `None` (R15.4-2).
    pub fn next_key(&mut self) -> Option<String> {
        let key = self.key(self.remaining)?;
        self.remaining -= 1;
        Some(key)
    }

    /// How many keys [`KeyChain::next_key`] still yields.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    /// Whether K(1) has been handed out, so the next request must carry a
    /// new chain's `newkey` (R15.5-2).
    pub fn is_exhausted(&self) -> bool {
        self.remaining == 0
    }
}

impl fmt::Debug for KeyChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyChain")
            .field("len", &self.len())
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3174_sha1_test_vector() {
        assert_eq!(key_hash("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert!(verify_key(
            "abc",
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        ));
    }

    #[test]
    fn xep0124_15_3_an_upper_case_chain_is_checked_as_sent() {
        // A client that keeps its chain in upper-case hex: K(n) is the hash
        // of the upper-case K(n-1).
        let kn1 = key_hash("seed").to_ascii_uppercase();
        let kn = key_hash(&kn1).to_ascii_uppercase();
        assert!(verify_key(&kn1, &kn));
        // And one that hashed lower-case keys but sends them upper-case.
        let lower = key_hash("seed");
        assert!(verify_key(&lower.to_ascii_uppercase(), &key_hash(&lower)));
        assert!(!verify_key(&kn1, &key_hash("other")));
    }

    #[test]
    fn xep0124_15_examples_form_a_chain() {
        // Examples 20, 21 and 23 of XEP-0124: K(n), K(n-1), K(n-2).
        let kn = "ca393b51b682f61f98e7877d61146407f3d0a770";
        let kn1 = "bfb06a6f113cd6fd3838ab9d300fdb4fe3da2f7d";
        let kn2 = "6f825e81f4532b2c5fa2d12457d8a1f22e8f838e";
        assert_eq!(key_hash(kn1), kn);
        assert_eq!(key_hash(kn2), kn1);
        assert!(verify_key(kn1, kn));
        assert!(verify_key(kn2, &kn1.to_ascii_uppercase()));
        assert!(!verify_key(kn2, kn));
    }

    #[test]
    fn xep0124_15_3_verify_key_never_panics_on_odd_input() {
        for bad in [
            "",
            "abc",
            "é",
            &"é".repeat(20),
            &"z".repeat(40),
            &"a".repeat(41),
        ] {
            assert!(!verify_key("abc", bad));
        }
    }

    #[test]
    fn xep0124_15_3_chain_is_iterated_sha1_of_hex() {
        let mut c = KeyChain::new(b"abc", 3).unwrap();
        let k1 = "a9993e364706816aba3e25717850c26c9cd0d89d".to_owned();
        let k2 = key_hash(&k1);
        let k3 = key_hash(&k2);
        assert_eq!(c.len(), 3);
        assert_eq!(c.newkey(), k3);
        assert_eq!(c.remaining(), 2);
        assert_eq!(c.next_key(), Some(k2.clone()));
        assert!(verify_key(&k2, &k3));
        assert_eq!(c.next_key(), Some(k1.clone()));
        assert!(c.is_exhausted());
        assert_eq!(c.next_key(), None);
        assert_eq!(c.key(0), None);
        assert_eq!(c.key(4), None);
        assert_eq!(c.key(1), Some(k1));
    }

    #[test]
    fn xep0124_15_key_chain_rejects_misuse() {
        assert_eq!(KeyChain::new(b"", 5), Err(KeyChainError::EmptySeed));
        assert_eq!(
            KeyChain::new(b"x", 1),
            Err(KeyChainError::InvalidLength { n: 1 })
        );
        assert!(KeyChain::new(b"x", KeyChain::MAX_LEN + 1).is_err());
        assert!(KeyChain::resume(b"x", 5, 0).is_err());
        assert!(KeyChain::resume(b"x", 5, 5).is_err());
        let mut full = KeyChain::new(b"seed", 5).unwrap();
        full.next_key();
        let resumed = KeyChain::resume(b"seed", 5, 3).unwrap();
        assert_eq!(full, resumed);
        assert!(!format!("{resumed:?}").contains("seed"));
    }
}
