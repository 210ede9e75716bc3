//! The `bosh-client` binary (tokio only) end to end: through `bosh-cm` to a
//! real Prosody (interop/prosody.rs), and against Prosody's own BOSH with a
//! wrong password. Without Prosody these tests fail (never skip): run
//! `scripts/install-test-deps`.

#[path = "../../interop/prosody.rs"]
mod prosody;
#[path = "../../blackbox/support.rs"]
mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prosody::Prosody;
use support::{Bg, CmArgs, CmProcess};

const PASSWORD: &str = "alice-secret";
/// Bound on one run of the client.
const CLIENT_LIMIT: Duration = Duration::from_secs(30);

fn start_prosody() -> Prosody {
    Prosody::start(&[("alice", PASSWORD)]).unwrap_or_else(|e| {
        panic!("cannot start Prosody: {e}\n(run scripts/install-test-deps to install it)")
    })
}

/// A token no earlier run can have left behind.
fn token(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{tag}-{nanos}")
}

/// Starts the `bosh-client` binary with the test password and piped output.
fn spawn_bosh_client(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_bosh-client"))
        .args(args)
        .env("BOSH_TEST_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bosh-client")
}

/// Runs the `bosh-client` binary, bounded (killed after `CLIENT_LIMIT`);
/// returns (exit code, stdout, stderr).
fn run_bosh_client(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = spawn_bosh_client(args);
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let stdout = Bg::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = Bg::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + CLIENT_LIMIT;
    let status = wait_until(&mut child, deadline, "bosh-client did not finish in time");
    (status.code(), stdout.join(), stderr.join())
}

/// `child`'s exit status; kills it and panics with `late` after `deadline`.
fn wait_until(
    child: &mut std::process::Child,
    deadline: std::time::Instant,
    late: &str,
) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("wait for bosh-client") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{late}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bosh_client_binary_through_bosh_cm_to_prosody() {
    let p = start_prosody();
    let cm = CmProcess::start(env!("CARGO_BIN_EXE_bosh-cm"), &CmArgs::test(p.c2s_addr()));
    let url = cm.url();
    let jid = p.jid("alice");
    let text = token("binary <&> line\nbreak");
    let (code, stdout, stderr) = run_bosh_client(&[
        "--url",
        &url,
        "--jid",
        &jid,
        "--password-env",
        "BOSH_TEST_PASSWORD",
        "--resource",
        "cli",
        "--to",
        &jid,
        "--message",
        &text,
        "--wait-secs",
        "1",
    ]);
    let context = format!(
        "exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- prosody\n{}\n--- bosh-cm\n{}",
        p.log_tail(30),
        cm.log()
    );
    assert_eq!(code, Some(0), "{context}");
    assert!(
        stderr.contains(&format!("logged in as {jid}/cli")),
        "{context}"
    );
    // One stanza per line, the message among them, escaped and with its line
    // break written as a character reference.
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let wanted = escaped.replace('\n', "&#10;");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("<message") && l.contains(&wanted))
        .unwrap_or_else(|| panic!("message not printed on one line\n{context}"));
    assert!(line.ends_with("</message>"), "{line}");
    assert!(
        stdout.lines().any(|l| l.starts_with("<presence")),
        "{context}"
    );
    assert!(stderr.contains("session terminated"), "{context}");
}

#[test]
fn bosh_client_binary_exits_3_on_a_wrong_password() {
    let p = start_prosody();
    let url = p.bosh_url();
    let jid = p.jid("alice");
    let (code, stdout, stderr) = run_bosh_client(&[
        "--url",
        &url,
        "--jid",
        &jid,
        "--password",
        "wrong",
        "--wait-secs",
        "0",
    ]);
    assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("authentication failed"), "{stderr}");
}

/// Found in review: Ctrl-C (or SIGTERM) killed the client mid-wait without
/// its terminate, so the account looked online until the connection
/// manager's inactivity timeout. The wait now ends early and the session is
/// terminated as usual; the exit status says it was interrupted.
#[test]
fn bosh_client_binary_terminates_the_session_on_sigint() {
    use std::io::BufRead;
    use std::sync::{Arc, Mutex};
    let p = start_prosody();
    let cm = CmProcess::start(env!("CARGO_BIN_EXE_bosh-cm"), &CmArgs::test(p.c2s_addr()));
    let jid = p.jid("alice");
    let url = cm.url();
    let mut child = spawn_bosh_client(&[
        "--url",
        &url,
        "--jid",
        &jid,
        "--password-env",
        "BOSH_TEST_PASSWORD",
        "--wait-secs",
        "60",
    ]);
    let collect = |pipe: Box<dyn Read + Send>| {
        let seen = Arc::new(Mutex::new(String::new()));
        let into = seen.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = into.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        seen
    };
    let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
    let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
    // Logged in and its presence echoed: it is now waiting for stanzas.
    let deadline = std::time::Instant::now() + CLIENT_LIMIT;
    while !stdout.lock().unwrap().contains("<presence") {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("no presence echo\n{}", stderr.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let status = wait_until(
        &mut child,
        deadline,
        "bosh-client did not exit after SIGINT",
    );
    std::thread::sleep(Duration::from_millis(100));
    let err = stderr.lock().unwrap().clone();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("session terminated"), "{err}");
}
