//! Replays one fuzz input through its entry point, with a trace of every
//! input and output on stderr for the session targets:
//!
//! ```sh
//! cargo run -p bosh-core --example fuzz_replay -- server_session fuzz/artifacts/server_session/crash-…
//! ```
#![allow(clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Instant;

use bosh_core::fuzzing::{
    TraceSink, body_roundtrip, client_session_traced, parse_body, server_session_traced,
    stream_framer,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, path] = args.as_slice() else {
        eprintln!("usage: fuzz_replay TARGET FILE");
        return ExitCode::from(2);
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let sink: TraceSink = Box::new(|line| eprintln!("{line}"));
    let epoch = Instant::now();
    match target.as_str() {
        "parse_body" => parse_body(&data),
        "body_roundtrip" => body_roundtrip(&data),
        "stream_framer" => stream_framer(&data),
        "server_session" => server_session_traced(epoch, &data, Some(sink)),
        "client_session" => client_session_traced(epoch, &data, Some(sink)),
        other => {
            eprintln!("unknown target {other}");
            return ExitCode::from(2);
        }
    }
    eprintln!("{target}: {path}: every invariant held");
    ExitCode::SUCCESS
}
