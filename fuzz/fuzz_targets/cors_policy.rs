//! `cors_core::fuzzing::cors_policy`: see that function for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cors_core::fuzzing::cors_policy(data));
