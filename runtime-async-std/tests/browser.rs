//! The shared browser suite (`blackbox/browser.rs`): Strophe.js in headless
//! Chromium through this crate's `bosh-cm-async-std` to Prosody. A test
//! binary of its own, so that no other test competes with Chromium for the
//! CPU (cargo runs test binaries one at a time, so it never overlaps with
//! `runtime-tokio`'s run of the same suite either).

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm-async-std");

#[path = "../../interop/prosody.rs"]
mod prosody;
#[path = "../../interop/strophe_browser.rs"]
mod strophe_browser;
#[path = "../../blackbox/support.rs"]
mod support;

#[path = "../../blackbox/browser.rs"]
mod browser;
