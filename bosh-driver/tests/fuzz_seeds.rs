//! Replays the committed seeds of the `http1_requests` fuzz target
//! (`fuzz/seeds/http1_requests/`) and pseudo-random inputs through
//! [`bosh_driver::fuzzing::http1_requests`], in every piece size.

use std::path::Path;

use bosh_driver::fuzzing::http1_requests;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/http1_requests");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).expect("readable seed");
            (p.display().to_string(), data)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seeds_replay_http1_requests_in_every_piece_size() {
    let seeds = seeds();
    assert!(seeds.len() >= 20, "{} seeds", seeds.len());
    for (name, data) in seeds {
        let mut data = data;
        // The first byte is the piece size: every size from 1 to 64.
        for piece in 1..=64u8 {
            data[0] = piece;
            let res = std::panic::catch_unwind(|| http1_requests(&data));
            assert!(res.is_ok(), "seed {name} fails in pieces of {piece}");
        }
    }
}

#[test]
fn pseudo_random_bytes_replay_http1_requests() {
    // xorshift64*: deterministic noise, with an HTTP-looking start half
    // of the time so that heads get past the request line.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for i in 0..2000 {
        let len = (next() % 400) as usize;
        let mut data: Vec<u8> = (0..3).map(|_| next() as u8).collect();
        if i % 2 == 0 {
            data.extend_from_slice(
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
        }
        data.extend((0..len).map(|_| {
            let b = next() as u8;
            // Mostly characters that matter to the framing.
            match b % 8 {
                0 => b'\r',
                1 => b'\n',
                2 => b"0123456789abcdef"[usize::from(b >> 4)],
                3 => b';',
                _ => b,
            }
        }));
        http1_requests(&data);
    }
}
