//! The connection manager binary's command line (`crate::BIN`, called
//! `crate::PROGRAM`): its help, its start-up validation, and its signal
//! handling.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::*;
use crate::{BIN, PROGRAM};

fn run(args: &[&str]) -> (i32, String, String) {
    run_bin(BIN, args)
}

#[test]
fn help_documents_every_flag() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--config",
        "--listen",
        "--path",
        "--upstream",
        "--allow-origin",
        "--allow-credentials",
        "--max-wait",
        "--inactivity",
        "--max-sessions",
        "--max-body",
        "--domain",
        "--allowed-domain",
        "--polling",
        "--maxpause",
        "--max-hold",
        "--header-read-timeout",
        "--body-read-timeout",
        "--upstream-connect-timeout",
        "--max-stanza",
        "--shutdown-grace",
        "--print-config",
    ] {
        assert!(out.contains(flag), "--help does not mention {flag}");
    }
    assert!(
        out.contains("127.0.0.1:5280")
            && out.contains("/http-bind")
            && out.contains("127.0.0.1:5222")
    );
}

/// Every runtime's binary prints `bosh-cm`'s help, with its own name: the
/// text is compared with `bosh-cm`'s, rendered from the one shared
/// command line (`bosh_driver::cli::command`) at the width the binary uses
/// when its output is not a terminal (100 columns).
#[test]
fn help_is_bosh_cms_apart_from_the_program_name() {
    let (code, out, err) = run(&["--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("Usage: {PROGRAM} [OPTIONS]")),
        "{out}"
    );
    let bosh_cm = bosh_driver::cli::command("bosh-cm")
        .term_width(100)
        .render_long_help()
        .to_string();
    let ours = out.replace(PROGRAM, "bosh-cm");
    assert_eq!(
        ours.trim_end(),
        bosh_cm.trim_end(),
        "--help of {PROGRAM} differs from bosh-cm's"
    );
    let (code, version, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        version.trim(),
        format!("{PROGRAM} {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_flags_are_usage_errors() {
    let (code, _, err) = run(&["--no-such-flag"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn credentials_with_any_origin_refused_at_startup() {
    let (code, _, err) = run(&["--allow-credentials"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("credentials cannot be combined with any origin"),
        "{err}"
    );
}

#[test]
fn malformed_origin_refused_at_startup() {
    let (code, _, err) = run(&["--allow-origin", "https://app.example.com/"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https://app.example.com/"), "{err}");
    assert!(err.contains("ends with `/`"), "{err}");
}

#[test]
fn out_of_range_limits_refused_at_startup_with_the_flag_named() {
    let (code, _, err) = run(&["--max-wait", "0"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--max-wait") && err.contains("1..=3600"),
        "{err}"
    );
    assert!(err.starts_with(&format!("{PROGRAM}: ")), "{err}");
    let (code, _, err) = run(&["--upstream", "no-port"]);
    assert_eq!(code, 2);
    assert!(err.contains("--upstream"), "{err}");
    let (code, _, err) = run(&["--config", "/nonexistent/bosh-cm.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/bosh-cm.toml"), "{err}");
}

#[test]
fn print_config_shows_the_effective_settings() {
    let (code, out, err) = run(&[
        "--print-config",
        "--max-wait",
        "30",
        "--allow-origin",
        "https://a.example",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("max_wait = 30"), "{out}");
    assert!(out.contains("https://a.example"), "{out}");
    assert!(out.contains("listen = \"127.0.0.1:5280\""), "{out}");
}

#[test]
fn a_taken_port_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(&["--listen", &addr]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

#[test]
fn serves_and_exits_cleanly_on_sigterm() {
    let mut cm = CmProcess::start(BIN, &CmArgs::none().set("--upstream", "127.0.0.1:1"));
    let mut stream = TcpStream::connect(cm.addr).expect("bosh-cm listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /http-bind HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    let _ = stream.read_to_string(&mut page);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");

    let start = Instant::now();
    cm.terminate();
    let exit = cm
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{PROGRAM} did not exit after SIGTERM"));
    assert!(exit.success(), "exit status {exit:?}\n{}", cm.log());
    assert!(start.elapsed() < Duration::from_secs(10));
}
