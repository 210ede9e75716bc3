//! Fuzz entry points for what this crate parses from the network itself,
//! besides the cores: the request heads and bodies of its HTTP/1.1
//! connections (RFC 9112). The cargo-fuzz target `http1_requests`
//! (`fuzz/fuzz_targets/`) is a one-line wrapper around
//! [`http1_requests`]; normal builds compile it, and a test replays the
//! committed seeds (`fuzz/seeds/http1_requests/`). Not a stable API.

use std::time::Duration;

use crate::http1::{Limits, read_requests};

/// Reads `data` as the bytes of one client connection: the first three
/// bytes choose the limits and how the bytes arrive, the rest is what the
/// client sends.
///
/// Panics (a fuzz crash) when an accepted head or body breaks RFC 9112 as
/// the connection enforces it (two `Host` fields, HTTP/1.1 without one,
/// both framings, a body over `max_body` or of another length than
/// declared), or when reading the bytes in pieces gives anything else
/// than reading them whole: the requests a front proxy and this server see
/// must not depend on how TCP cut the bytes.
pub fn http1_requests(data: &[u8]) {
    let Some((&[piece, head_limit, body_limit], input)) = data.split_first_chunk::<3>() else {
        return;
    };
    let limits = Limits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        close_drain_timeout: Duration::from_secs(1),
        // Small limits, so that the fuzzer reaches them.
        max_header_bytes: 32 + usize::from(head_limit) * 16,
        max_headers: 1 + usize::from(head_limit % 32),
        max_body: usize::from(body_limit) * 64,
    };
    let whole = read_requests(input, usize::MAX, &limits);
    let pieces = read_requests(input, usize::from(piece).max(1), &limits);
    assert_eq!(
        whole, pieces,
        "read whole and in pieces of {piece}: different requests"
    );
}
