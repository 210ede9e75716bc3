//! `bosh-cm`: the BOSH connection manager on tokio.
//!
//! With no arguments it listens on 127.0.0.1:5280 at `/http-bind` and relays
//! to the XMPP server at 127.0.0.1:5222. `bosh-cm --help` lists every flag.
//! Exit status: 0 after a clean shutdown (SIGINT or SIGTERM), 2 for a
//! configuration error, 1 when it cannot start (e.g. the port is taken).

use std::io::IsTerminal;
use std::process::ExitCode;

use bosh_driver::Cli;
use clap::Parser;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.load() {
        Ok(c) => c,
        Err(e) => return fail(2, &e),
    };
    if cli.print_config {
        print_config(&config.to_toml());
        return ExitCode::SUCCESS;
    }
    let settings = match config.validate() {
        Ok(s) => s,
        Err(e) => return fail(2, &e),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, &e),
    };
    rt.block_on(async move {
        let server = match runtime_tokio::bind(settings).await {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "cannot start");
                return fail(1, &e);
            }
        };
        let handle = server.shutdown_handle();
        tokio::spawn(async move {
            let signal = wait_for_signal().await;
            info!(signal, "signal received, shutting down");
            handle.shutdown();
        });
        server.run().await;
        ExitCode::SUCCESS
    })
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[allow(
    clippy::print_stderr,
    reason = "the command line reports its own errors"
)]
fn fail(code: u8, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("bosh-cm: {e}");
    ExitCode::from(code)
}

#[allow(clippy::print_stdout, reason = "--print-config prints to stdout")]
fn print_config(text: &str) {
    print!("{text}");
}
