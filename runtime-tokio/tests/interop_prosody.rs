//! The tokio BOSH client against a real XMPP server: Prosody (Debian),
//! started on loopback ports with a generated configuration and users made
//! with `prosodyctl` (interop/prosody.rs).
//!
//! - against Prosody's own BOSH endpoint (a connection manager we did not
//!   write);
//! - through an in-process `bosh-cm` whose upstream is Prosody's c2s port;
//! - the `bosh-client` binary end to end through `bosh-cm`.
//!
//! Without Prosody these tests fail (never skip): run
//! `scripts/install-test-deps`.

mod common;
#[path = "../../interop/prosody.rs"]
mod prosody;

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{start_cm, test_config};
use prosody::Prosody;
use runtime_tokio::client::{
    self, BoshClient, ClientOptions, Credentials, DisconnectReason, Event, EventStream,
    xmpp_login::stanza_info,
};
use tokio::time::timeout;

/// Bound on every wait for the server.
const LIMIT: Duration = Duration::from_secs(15);
const PASSWORD: &str = "alice-secret";

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

/// Reads events until `pick` accepts one; `Err` with what was seen on the
/// end of the session or after `LIMIT`.
async fn wait_for<T>(
    events: &mut EventStream,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> Result<T, String> {
    let mut seen = Vec::new();
    let found = timeout(LIMIT, async {
        loop {
            match events.next_event().await {
                None => return None,
                Some(e) => {
                    if let Some(t) = pick(&e) {
                        return Some(t);
                    }
                    let end = matches!(e, Event::Disconnected(_));
                    seen.push(e);
                    if end {
                        return None;
                    }
                }
            }
        }
    })
    .await;
    match found {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(format!("session ended; events: {seen:?}")),
        Err(_) => Err(format!("timed out; events: {seen:?}")),
    }
}

/// The whole flow over one BOSH URL: log in as alice (SASL PLAIN, restart,
/// bind), available presence, a message to her own bare JID that comes
/// back, terminate.
async fn login_message_self_and_terminate(url: &str, p: &Prosody) -> Result<(), String> {
    let options = ClientOptions::new(p.domain());
    let (c, mut events) = client::connect(url, options)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let creds = Credentials::new(&format!("{}/interop", p.jid("alice")), PASSWORD)
        .map_err(|e| e.to_string())?;
    let logged_in = client::login(&c, &mut events, &creds, LIMIT)
        .await
        .map_err(|e| format!("login: {e}"))?;
    if logged_in.jid != format!("{}/interop", p.jid("alice")) {
        return Err(format!("bound {}", logged_in.jid));
    }
    exchange_with_self(&c, &mut events, &logged_in.jid, p).await?;
    c.terminate(["<presence xmlns='jabber:client' type='unavailable'/>"])
        .map_err(|e| e.to_string())?;
    match wait_for(&mut events, |e| match e {
        Event::Disconnected(r) => Some(r.clone()),
        _ => None,
    })
    .await?
    {
        DisconnectReason::Terminated => Ok(()),
        other => Err(format!("ended with {other:?}")),
    }
}

async fn exchange_with_self(
    c: &BoshClient,
    events: &mut EventStream,
    jid: &str,
    p: &Prosody,
) -> Result<(), String> {
    c.send("<presence xmlns='jabber:client'/>")
        .map_err(|e| e.to_string())?;
    wait_for(events, |e| match e {
        Event::Stanza { stanza, .. } => stanza_info(stanza)
            .filter(|i| i.name == "presence" && i.from.as_deref() == Some(jid))
            .map(|_| ()),
        _ => None,
    })
    .await
    .map_err(|e| format!("no presence echo: {e}"))?;
    let text = token("hello");
    c.send(format!(
        "<message xmlns='jabber:client' to='{}' type='chat' id='m1'><body>{text}</body></message>",
        p.jid("alice")
    ))
    .map_err(|e| e.to_string())?;
    let from = wait_for(events, |e| match e {
        Event::Stanza { stanza, .. } => stanza_info(stanza)
            .filter(|i| i.name == "message" && i.body.as_deref() == Some(text.as_str()))
            .map(|i| i.from),
        _ => None,
    })
    .await
    .map_err(|e| format!("message not received: {e}"))?;
    if from.as_deref() != Some(jid) {
        return Err(format!("message from {from:?}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_prosodys_own_bosh_endpoint() {
    let p = start_prosody();
    let result = login_message_self_and_terminate(&p.bosh_url(), &p).await;
    assert!(
        result.is_ok(),
        "{result:?}\nProsody log:\n{}",
        p.log_tail(40)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_through_bosh_cm_to_prosodys_c2s_port() {
    let p = start_prosody();
    let cm = start_cm(test_config(p.c2s_addr())).await;
    let url = format!("http://{}/http-bind", cm.addr);
    let result = login_message_self_and_terminate(&url, &p).await;
    assert!(
        result.is_ok(),
        "{result:?}\nProsody log:\n{}",
        p.log_tail(40)
    );
    cm.shutdown.shutdown();
    let _ = timeout(LIMIT, cm.done).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_an_auth_failure() {
    let p = start_prosody();
    let (c, mut events) = client::connect(&p.bosh_url(), ClientOptions::new(p.domain()))
        .await
        .unwrap();
    let creds = Credentials::new(&p.jid("alice"), "wrong").unwrap();
    let err = client::login(&c, &mut events, &creds, LIMIT)
        .await
        .unwrap_err();
    assert!(err.is_auth_failure(), "{err}\n{}", p.log_tail(40));
    c.terminate(Vec::<String>::new()).unwrap();
}

/// Runs the `bosh-client` binary, bounded; returns (exit code, stdout,
/// stderr).
async fn run_bosh_client(args: &[&str]) -> (Option<i32>, String, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bosh-client"))
        .args(args)
        .env("BOSH_TEST_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run bosh-client");
    let out = timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("bosh-client did not finish in time")
        .expect("bosh-client output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bosh_client_binary_through_bosh_cm_to_prosody() {
    let p = start_prosody();
    let cm = start_cm(test_config(p.c2s_addr())).await;
    let url = format!("http://{}/http-bind", cm.addr);
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
    ])
    .await;
    let context = format!(
        "exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- prosody\n{}",
        p.log_tail(30)
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
    cm.shutdown.shutdown();
    let _ = timeout(LIMIT, cm.done).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bosh_client_binary_exits_3_on_a_wrong_password() {
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
    ])
    .await;
    assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("authentication failed"), "{stderr}");
}
