//! Replays the committed fuzz seeds (`fuzz/seeds/`) and pseudo-random
//! inputs through the `cors-core` fuzz entry points; kept out of the crate so
//! that its sources stay free of IO.

use std::path::Path;

use cors_core::fuzzing::cors_policy;

#[test]
fn seeds_replay_cors_policy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/cors_policy");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty());
    for path in seeds {
        let data = std::fs::read(&path).expect("readable seed");
        let res = std::panic::catch_unwind(|| cors_policy(&data));
        assert!(res.is_ok(), "seed {} fails", path.display());
    }
}

#[test]
fn pseudo_random_inputs_hold_every_invariant() {
    let mut x: u64 = 0x00c0_ffee;
    for _ in 0..5000 {
        let len = {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 200) as usize
        };
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        cors_policy(&data);
    }
}
