//! The `bosh-cm` binary: its help, its start-up validation, and its signal
//! handling.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run bosh-cm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
fn serves_and_exits_cleanly_on_sigterm() {
    // A free port (the tiny race with another process is acceptable here).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["--listen", &listen, "--upstream", "127.0.0.1:1"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bosh-cm");
    let start = Instant::now();
    let mut stream = loop {
        match TcpStream::connect(&listen) {
            Ok(s) => break s,
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                let _ = child.kill();
                panic!("bosh-cm did not listen: {e}");
            }
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /http-bind HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    let _ = stream.read_to_string(&mut page);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bosh-cm did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
}
