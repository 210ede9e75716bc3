//! `bosh_core::fuzzing::body_roundtrip`: see that function for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bosh_core::fuzzing::body_roundtrip(data));
