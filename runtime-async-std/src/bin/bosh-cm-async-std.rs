//! `bosh-cm-async-std`: the BOSH connection manager on async-io, with the
//! same flags, configuration file, logging, exit statuses and behaviour as
//! `bosh-cm` (both are [`bosh_driver::cli::CmMain`]).
//!
//! Its tasks run on async-std's executor (built with the default features)
//! or on smol's (`--no-default-features --features smol`); see
//! [`AsyncIoRuntime::default`]. Signals (SIGINT, SIGTERM) come through
//! `async-signal`, which needs no particular executor.

use std::process::ExitCode;
use std::sync::Arc;

use async_signal::{Signal, Signals};
use bosh_driver::cli::{CmMain, EXIT_START};
use futures_util::StreamExt;
use runtime_async_std::AsyncIoRuntime;

fn main() -> ExitCode {
    let cm = match CmMain::start("bosh-cm-async-std") {
        Ok(cm) => cm,
        Err(code) => return code,
    };
    // Installed before the listener is bound: a signal is never missed.
    #[cfg(unix)]
    let wanted = [Signal::Int, Signal::Term];
    #[cfg(not(unix))]
    let wanted = [Signal::Int];
    let mut signals = match Signals::new(wanted) {
        Ok(s) => s,
        Err(e) => return cm.fail(EXIT_START, &format!("cannot handle signals: {e}")),
    };
    let signal = async move {
        match signals.next().await {
            Some(Ok(Signal::Term)) => "SIGTERM",
            _ => "SIGINT",
        }
    };
    let rt = Arc::new(AsyncIoRuntime::default());
    // The main future only waits for the server; async-io's `block_on`
    // drives it (and the reactor) under either executor.
    async_io::block_on(cm.serve(rt, signal))
}
