//! The shared black-box suite (`blackbox/`) against this crate's `bosh-cm`:
//! HTTP against the running binary with a fake XMPP upstream, and its
//! command line. `runtime-async-std` runs the same code against
//! `bosh-cm-async-std`.

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm");
/// Its name in `--help`, `--version` and its messages.
const PROGRAM: &str = "bosh-cm";

#[path = "../../blackbox/support.rs"]
mod support;

#[path = "../../blackbox/cli.rs"]
mod cli;
#[path = "../../blackbox/http.rs"]
mod http;
#[path = "../../blackbox/http11.rs"]
mod http11;
