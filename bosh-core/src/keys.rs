//! Key sequencing (XEP-0124 §15).

use sha1::{Digest, Sha1};

/// Lower-case hex of the SHA-1 of `key` (XEP-0124 §15.3, R15.3-2).
pub fn key_hash(key: &str) -> String {
    let digest = Sha1::digest(key.as_bytes());
    let mut out = String::with_capacity(40);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Whether `hex(SHA-1(key))` equals `expected_hash`, compared
/// case-insensitively (XEP-0124 §15.4, R15.3-3, R15.4-3).
pub fn verify_key(key: &str, expected_hash: &str) -> bool {
    key_hash(key).eq_ignore_ascii_case(expected_hash)
}
