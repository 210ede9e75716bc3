//! `bosh-cm`: the BOSH connection manager on tokio.
//!
//! With no arguments it listens on 127.0.0.1:5280 at `/http-bind` and relays
//! to the XMPP server at 127.0.0.1:5222. `bosh-cm --help` lists every flag.
//! Exit status: 0 after a clean shutdown (SIGINT or SIGTERM), 2 for a
//! configuration error, 1 when it cannot start (e.g. the port is taken).
//!
//! Everything but the runtime and the signals is
//! [`bosh_driver::cli::CmMain`], shared with `bosh-cm-async-std`.

use std::process::ExitCode;
use std::sync::Arc;

use bosh_driver::cli::{CmMain, EXIT_START};
use runtime_tokio::TokioRuntime;

fn main() -> ExitCode {
    let cm = match CmMain::start("bosh-cm") {
        Ok(cm) => cm,
        Err(code) => return code,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return cm.fail(EXIT_START, &e),
    };
    rt.block_on(async move {
        let runtime = Arc::new(TokioRuntime::current());
        cm.serve(runtime, runtime_tokio::stop_signal()).await
    })
}
