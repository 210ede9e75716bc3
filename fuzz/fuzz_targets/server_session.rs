//! `bosh_core::fuzzing::server_session`: see that function for the invariants.
#![no_main]

use std::sync::LazyLock;
use std::time::Instant;

/// The fake clock's origin (the core reads no clock; the harness may).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

libfuzzer_sys::fuzz_target!(|data: &[u8]| bosh_core::fuzzing::server_session(*EPOCH, data));
