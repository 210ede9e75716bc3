//! Replays the committed fuzz seeds (`fuzz/seeds/`) and pseudo-random
//! inputs through the `bosh-core` fuzz entry points; kept out of the crate so
//! that its sources stay free of IO.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bosh_core::body::{ParseLimits, parse};
use bosh_core::fuzzing::{
    body_roundtrip, client_session, parse_body, server_session, stream_framer,
};

fn seeds_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target)
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).expect("readable seed");
            (p, data)
        })
        .collect();
    out.sort();
    out
}

fn replay(target: &str, f: impl Fn(&[u8])) {
    let seeds = files(&seeds_dir(target));
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for (path, data) in seeds {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&data)));
        assert!(res.is_ok(), "seed {} fails", path.display());
    }
}

/// xorshift64*: deterministic pseudo-random inputs for a smoke run.
fn noise(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..n)
        .map(|_| {
            let len = (next() % 300) as usize;
            (0..len).map(|_| next() as u8).collect()
        })
        .collect()
}

#[test]
fn xep_examples_replay_through_parse_body() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/xep");
    let xml: Vec<_> = files(&dir)
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    assert!(xml.len() >= 40);
    for (path, data) in xml {
        assert!(
            parse(&data, &ParseLimits::default()).is_ok(),
            "{}",
            path.display()
        );
        parse_body(&data);
    }
}

#[test]
fn seeds_replay_parse_body() {
    replay("parse_body", parse_body);
}

#[test]
fn seeds_replay_body_roundtrip() {
    replay("body_roundtrip", body_roundtrip);
}

#[test]
fn seeds_replay_stream_framer() {
    replay("stream_framer", stream_framer);
}

#[test]
fn seeds_replay_server_session() {
    let epoch = Instant::now();
    replay("server_session", |d| server_session(epoch, d));
}

#[test]
fn seeds_replay_client_session() {
    let epoch = Instant::now();
    replay("client_session", |d| client_session(epoch, d));
}

#[test]
fn pseudo_random_inputs_hold_every_invariant() {
    let epoch = Instant::now();
    for data in noise(0x5eed, 400) {
        parse_body(&data);
        body_roundtrip(&data);
        stream_framer(&data);
        server_session(epoch, &data);
        client_session(epoch, &data);
    }
}
