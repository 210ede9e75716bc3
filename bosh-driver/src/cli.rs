//! The `bosh-cm` program, written once for every runtime's binary.
//!
//! A runtime crate's binary is only: [`CmMain::start`] (command line,
//! configuration file, `--print-config`, validation, logging), building its
//! runtime, and [`CmMain::serve`] on it with its signal future:
//!
//! ```no_run
//! # fn block_on<F: std::future::Future>(_: F) -> F::Output { std::process::exit(0) }
//! # fn my_runtime() -> std::sync::Arc<dyn bosh_driver::Runtime> { std::process::exit(0) }
//! # async fn sigterm_or_sigint() -> &'static str { "SIGTERM" }
//! use std::process::ExitCode;
//!
//! fn main() -> ExitCode {
//!     let cm = match bosh_driver::cli::CmMain::start("bosh-cm") {
//!         Ok(cm) => cm,
//!         Err(code) => return code,
//!     };
//!     block_on(cm.serve(my_runtime(), sigterm_or_sigint()))
//! }
//! ```
//!
//! So every binary has the same flags (the [`Cli`]), the same configuration
//! file, the same `--help` text apart from the program name ([`command`]),
//! the same exit statuses and the same logging:
//!
//! - 0 after `--help`, `--version`, `--print-config`, or a clean shutdown
//!   (the signal future completed; every session was answered
//!   `system-shutdown`);
//! - 2 for a usage or configuration error, with a message on stderr naming
//!   the key, the flag and the allowed range;
//! - 1 when it cannot start (the runtime cannot be built, the port is
//!   taken).
//!
//! Before it binds, [`CmMain::serve`] raises the process's open-file soft
//! limit to its hard limit (the soft limit is often 1024 while the hard one
//! is far higher) and warns when `max_sessions` cannot fit under it: every
//! session holds at least two descriptors, its held HTTP request and its
//! upstream c2s connection (one with `http2`, when a proxy carries the held
//! requests as streams of a few h2c connections; the warning still counts
//! two, since HTTP/1.1 clients are served too). Past the limit, new sessions are answered
//! `remote-connection-failed` and new connections wait in the listen
//! backlog (logged as `accept failed`).

use std::fmt::Display;
use std::future::Future;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::Poll;

use clap::{CommandFactory, FromArgMatches};
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

use crate::config::{Cli, Settings};
use crate::runtime::Runtime;
use crate::server::Server;

/// Exit status for a configuration or usage error.
pub const EXIT_CONFIG: u8 = 2;
/// Exit status when the connection manager cannot start.
pub const EXIT_START: u8 = 1;

/// The command line of the program called `program`: the [`Cli`] flags with
/// that name in `--help`, `--version` and the usage line. Every runtime's
/// binary renders its help from this, so the texts differ only in the name.
pub fn command(program: &'static str) -> clap::Command {
    Cli::command().name(program).bin_name(program)
}

/// A validated `bosh-cm` start-up, ready to [`serve`](Self::serve) on a
/// runtime.
#[derive(Debug)]
pub struct CmMain {
    program: &'static str,
    settings: Settings,
}

impl CmMain {
    /// Reads the process's command line (see [`start_from`](Self::start_from)).
    pub fn start(program: &'static str) -> Result<CmMain, ExitCode> {
        Self::start_from(program, std::env::args_os())
    }

    /// Parses `args` (the first one is the program's path) as the [`Cli`],
    /// loads `--config`, and either answers at once (`--help`, `--version`,
    /// `--print-config`, a usage or configuration error: `Err` with the exit
    /// status, the text already written) or returns the validated settings
    /// with logging set up (`RUST_LOG`, default `info`, on stderr).
    pub fn start_from<I, T>(program: &'static str, args: I) -> Result<CmMain, ExitCode>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = match command(program).try_get_matches_from(args) {
            Ok(m) => m,
            Err(e) => {
                // clap prints help and version to stdout (status 0) and
                // usage errors to stderr (status 2).
                let _ = e.print();
                let code = u8::try_from(e.exit_code()).unwrap_or(EXIT_CONFIG);
                return Err(ExitCode::from(code));
            }
        };
        let cli = match Cli::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(e) => return Err(fail(program, EXIT_CONFIG, &e)),
        };
        let config = cli.load().map_err(|e| fail(program, EXIT_CONFIG, &e))?;
        if cli.print_config {
            print_config(&config.to_toml());
            return Err(ExitCode::SUCCESS);
        }
        let settings = config
            .validate()
            .map_err(|e| fail(program, EXIT_CONFIG, &e))?;
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        // `try_init`: a subscriber installed by an embedding program wins.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init();
        Ok(CmMain { program, settings })
    }

    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The program name given to [`start`](Self::start).
    pub fn program(&self) -> &'static str {
        self.program
    }

    /// Reports `e` on stderr as `PROGRAM: e` and returns `code` (for a
    /// binary whose runtime cannot be built: [`EXIT_START`]).
    pub fn fail(&self, code: u8, e: &dyn Display) -> ExitCode {
        fail(self.program, code, e)
    }

    /// Binds the listener, serves until `signal` completes (its output, e.g.
    /// `"SIGTERM"`, is logged), then shuts down gracefully: every session is
    /// answered `system-shutdown` (see [`Server::run`]).
    ///
    /// `signal` is polled once before the listener is bound, so that the
    /// handlers it installs on its first poll are in place before anyone can
    /// connect; then it runs as a task of `rt`.
    pub async fn serve<S>(self, rt: Arc<dyn Runtime>, signal: S) -> ExitCode
    where
        S: Future<Output = &'static str> + Send + 'static,
    {
        raise_open_file_limit(self.settings.server.max_sessions);
        let mut signal = Box::pin(signal);
        let early = std::future::poll_fn(|cx| Poll::Ready(signal.as_mut().poll(cx))).await;
        if let Poll::Ready(signal) = early {
            info!(signal, "signal received before start-up; exiting");
            return ExitCode::SUCCESS;
        }
        let server = match Server::bind(rt.clone(), self.settings).await {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "cannot start");
                return fail(self.program, EXIT_START, &e);
            }
        };
        let handle = server.shutdown_handle();
        rt.spawn(Box::pin(async move {
            let signal = signal.await;
            info!(signal, "signal received, shutting down");
            handle.shutdown();
        }));
        server.run().await;
        ExitCode::SUCCESS
    }
}

/// Descriptors a connection manager holds besides its sessions' (standard
/// streams, the listener, the poller and its waker, log files), with room.
const RESERVED_FDS: u64 = 64;

/// Descriptors one session holds at least: its held HTTP request's
/// connection and its upstream c2s connection. A client that sends while a
/// request is held (`hold='1'`) uses a third for a moment.
const FDS_PER_SESSION: u64 = 2;

/// Sessions that fit under an open-file limit of `limit` descriptors, each
/// holding [`FDS_PER_SESSION`], after [`RESERVED_FDS`].
fn sessions_that_fit(limit: u64) -> u64 {
    limit.saturating_sub(RESERVED_FDS) / FDS_PER_SESSION
}

/// Raises the open-file soft limit to the hard limit, logs the result, and
/// warns when `max_sessions` sessions would not fit under it. Returns the
/// limit in force (`None` when it cannot be read).
fn raise_open_file_limit(max_sessions: usize) -> Option<u64> {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            warn!(error = %e, "cannot read or raise the open-file limit");
            return None;
        }
    };
    let fit = sessions_that_fit(limit);
    info!(
        open_files = limit,
        sessions_that_fit = fit,
        "open-file limit"
    );
    if u64::try_from(max_sessions).unwrap_or(u64::MAX) > fit {
        warn!(
            open_files = limit,
            max_sessions,
            sessions_that_fit = fit,
            "max_sessions does not fit under the open-file limit (each session holds \
             two descriptors): raise the hard limit (e.g. LimitNOFILE= in a systemd unit) \
             or lower max_sessions; past the limit new sessions fail"
        );
    }
    Some(limit)
}

#[allow(
    clippy::print_stderr,
    reason = "the command line reports its own errors"
)]
fn fail(program: &str, code: u8, e: &dyn Display) -> ExitCode {
    eprintln!("{program}: {e}");
    ExitCode::from(code)
}

#[allow(clippy::print_stdout, reason = "--print-config prints to stdout")]
fn print_config(text: &str) {
    print!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_descriptors_per_session_after_the_reserve() {
        assert_eq!(sessions_that_fit(20_000), 9968);
        assert_eq!(sessions_that_fit(1024), 480);
        assert_eq!(sessions_that_fit(RESERVED_FDS), 0);
        assert_eq!(sessions_that_fit(10), 0);
        assert_eq!(sessions_that_fit(u64::MAX), (u64::MAX - 64) / 2);
    }

    #[test]
    fn start_up_raises_the_open_file_soft_limit_to_the_hard_limit() {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
        // Lowering the soft limit needs no privilege; leave room for the
        // other tests of this process.
        let lowered = (hard / 2).max(512).min(hard);
        rlimit::setrlimit(rlimit::Resource::NOFILE, lowered, hard).expect("setrlimit");
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
        let limit = raise_open_file_limit(10).expect("the limit is readable here");
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
        assert_eq!(soft, hard, "soft limit raised (was {before:?})");
        assert_eq!(limit, soft);
    }

    #[test]
    fn help_differs_only_in_the_program_name() {
        let a = command("bosh-cm").render_long_help().to_string();
        let b = command("bosh-cm-async-std").render_long_help().to_string();
        assert_ne!(a, b);
        assert_eq!(
            a.replace("bosh-cm", "X"),
            b.replace("bosh-cm-async-std", "X")
        );
        assert!(a.contains("Usage: bosh-cm [OPTIONS]"), "{a}");
    }

    #[test]
    fn configuration_errors_exit_2_and_print_config_exits_0() {
        let bad = CmMain::start_from("bosh-cm", ["bosh-cm", "--max-wait", "0"]);
        assert_eq!(bad.unwrap_err(), ExitCode::from(EXIT_CONFIG));
        let usage = CmMain::start_from("bosh-cm", ["bosh-cm", "--no-such-flag"]);
        assert_eq!(usage.unwrap_err(), ExitCode::from(EXIT_CONFIG));
        let ok = CmMain::start_from("bosh-cm", ["bosh-cm", "--listen", "127.0.0.1:0"]).unwrap();
        assert_eq!(ok.program(), "bosh-cm");
        assert_eq!(ok.settings().listen.port(), 0);
    }
}
