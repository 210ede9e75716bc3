//! `bosh_driver::fuzzing::http1_requests`: see that function for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bosh_driver::fuzzing::http1_requests(data));
