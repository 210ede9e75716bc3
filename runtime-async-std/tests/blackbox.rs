//! The shared black-box suite (`blackbox/`) against this crate's
//! `bosh-cm-async-std`: HTTP against the running binary with a fake XMPP
//! upstream, and its command line. `runtime-tokio` runs the same code
//! against `bosh-cm`.

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm-async-std");
/// Its name in `--help`, `--version` and its messages.
const PROGRAM: &str = "bosh-cm-async-std";

#[path = "../../blackbox/support.rs"]
mod support;

#[path = "../../blackbox/cli.rs"]
mod cli;
#[path = "../../blackbox/http.rs"]
mod http;
#[path = "../../blackbox/http11.rs"]
mod http11;
