//! `bosh-client`: logs in to an XMPP account over BOSH (XEP-0124,
//! XEP-0206), optionally sends one message, prints every stanza that arrives
//! for a while, then terminates the session.
//!
//! ```text
//! bosh-client --url http://127.0.0.1:5280/http-bind --jid alice@localhost \
//!     --password-env ALICE_PW --to bob@localhost --message 'hello' --wait-secs 5
//! ```
//!
//! The login is SASL PLAIN (the password travels in the clear: use it over
//! loopback or behind TLS), the XEP-0206 stream restart, resource binding
//! (`--resource`, or the server's choice) and the legacy session when the
//! server requires it. Then it sends available presence, waits (up to 3 s)
//! for the server to echo it, sends the message if asked, and prints each
//! arriving stanza on one line of stdout (line breaks inside are written
//! as character references) for `--wait-secs` seconds. Progress goes to
//! stderr; `RUST_LOG` sets the log level (default `warn`).
//!
//! SIGINT (Ctrl-C) or SIGTERM while it waits for stanzas ends the wait
//! early: the session is still terminated, with unavailable presence, and
//! the exit status is then 130.
//!
//! Exit status: 0 after a clean terminate; 1 when the connection manager
//! cannot be reached, the session ends unasked (with a condition or not) or
//! the login fails for another reason; 2 for a usage error (bad arguments,
//! an invalid or `https://` URL, an invalid JID); 3 when the server refuses
//! the credentials.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use runtime_tokio::client::{
    self, ClientOptions, ConnectError, Credentials, DisconnectReason, Event, EventStream,
    xmpp_login::{escape_xml, stanza_info},
};
use tokio::time::{Instant, timeout_at};
use tracing_subscriber::EnvFilter;

const EXIT_FAILURE: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_AUTH: u8 = 3;
/// Interrupted by a signal, after a clean terminate (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;
/// How long to wait for the echo of our own presence before sending.
const PRESENCE_ECHO_WAIT: Duration = Duration::from_secs(3);
/// Extra time, beyond the session's own disconnect timeout, to wait for the
/// end of the session after terminating.
const TERMINATE_SLACK: Duration = Duration::from_secs(2);

/// Log in to an XMPP account over BOSH, send a message, print what arrives.
#[derive(Debug, Parser)]
#[command(name = "bosh-client", version, about)]
struct Args {
    /// The BOSH endpoint (http:// only), e.g. http://127.0.0.1:5280/http-bind.
    #[arg(long)]
    url: String,
    /// The account: user@domain (the domain is also the BOSH `to`).
    #[arg(long)]
    jid: String,
    /// The password (visible to other local users in the process list:
    /// prefer --password-env).
    #[arg(
        long,
        conflicts_with = "password_env",
        required_unless_present = "password_env"
    )]
    password: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// The resource to bind (default: the server's choice).
    #[arg(long)]
    resource: Option<String>,
    /// Send a chat message to this JID (with --message).
    #[arg(long, value_name = "JID", requires = "message")]
    to: Option<String>,
    /// The text of the message (with --to).
    #[arg(long, value_name = "TEXT", requires = "to")]
    message: Option<String>,
    /// How long to print arriving stanzas before terminating, in seconds.
    #[arg(long, value_name = "N", default_value_t = 5)]
    wait_secs: u64,
    /// Bound on the login (SASL, restart, bind), in seconds.
    #[arg(long, value_name = "N", default_value_t = 30)]
    login_timeout_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let password = match (&args.password, &args.password_env) {
        (Some(p), _) => p.clone(),
        (None, Some(var)) => match std::env::var(var) {
            Ok(p) => p,
            Err(e) => return fail(EXIT_USAGE, &format!("cannot read ${var}: {e}")),
        },
        (None, None) => return fail(EXIT_USAGE, &"--password or --password-env is required"),
    };
    let mut credentials = match Credentials::new(&args.jid, password) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, &e),
    };
    if let Some(resource) = &args.resource {
        credentials = credentials.with_resource(resource.clone());
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(EXIT_FAILURE, &e),
    };
    rt.block_on(run(args, credentials))
}

async fn run(args: Args, credentials: Credentials) -> ExitCode {
    let options = ClientOptions::new(credentials.domain());
    let disconnect_timeout = options.session.disconnect_timeout;
    let (client, mut events) = match client::connect(&args.url, options).await {
        Ok(c) => c,
        Err(e @ ConnectError::Url(_)) => return fail(EXIT_USAGE, &e),
        Err(e) => return fail(EXIT_FAILURE, &e),
    };
    let login_timeout = Duration::from_secs(args.login_timeout_secs);
    let logged_in = match client::login(&client, &mut events, &credentials, login_timeout).await {
        Ok(l) => l,
        Err(e) => {
            let code = if e.is_auth_failure() {
                EXIT_AUTH
            } else {
                EXIT_FAILURE
            };
            let _ = client.terminate(Vec::<String>::new());
            let _ = finish(&mut events, disconnect_timeout + TERMINATE_SLACK).await;
            return fail(code, &format!("login failed: {e}"));
        }
    };
    note(&format!("logged in as {}", logged_in.jid));
    for stanza in &logged_in.other_stanzas {
        print_stanza(stanza);
    }

    if let Err(e) = client.send("<presence xmlns='jabber:client'/>") {
        return fail(EXIT_FAILURE, &e);
    }
    let _ = client.flush();
    let jid = logged_in.jid.clone();
    let echo_deadline = Instant::now() + PRESENCE_ECHO_WAIT;
    let echoed = print_until(&mut events, echo_deadline, |stanza| {
        stanza_info(stanza).is_some_and(|i| i.name == "presence" && i.from.as_deref() == Some(&jid))
    })
    .await;
    if let Err(reason) = echoed {
        return ended_unasked(reason);
    }

    if let (Some(to), Some(text)) = (&args.to, &args.message) {
        let message = format!(
            "<message xmlns='jabber:client' to='{}' type='chat' id='bosh-client-1'>\
             <body>{}</body></message>",
            escape_xml(to),
            escape_xml(text)
        );
        if let Err(e) = client.send(message) {
            return fail(EXIT_FAILURE, &e);
        }
        let _ = client.flush();
        note(&format!("message sent to {to}"));
    }

    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    let interrupted = tokio::select! {
        waited = print_until(&mut events, deadline, |_| false) => {
            if let Err(reason) = waited {
                return ended_unasked(reason);
            }
            false
        }
        _ = runtime_tokio::stop_signal() => {
            note("interrupted: terminating the session");
            true
        }
    };

    if let Err(e) = client.terminate(["<presence xmlns='jabber:client' type='unavailable'/>"]) {
        return fail(EXIT_FAILURE, &e);
    }
    match finish(&mut events, disconnect_timeout + TERMINATE_SLACK).await {
        Some(DisconnectReason::Terminated) => {
            note("session terminated");
            drop(client);
            if interrupted {
                ExitCode::from(EXIT_INTERRUPTED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Some(other) => fail(EXIT_FAILURE, &format!("session ended badly: {other:?}")),
        None => fail(EXIT_FAILURE, &"the session did not end in time"),
    }
}

/// Prints stanzas until `deadline` or until one satisfies `stop`.
/// `Err` if the session ended meanwhile.
async fn print_until(
    events: &mut EventStream,
    deadline: Instant,
    mut stop: impl FnMut(&[u8]) -> bool,
) -> Result<(), Option<DisconnectReason>> {
    loop {
        match timeout_at(deadline, events.next_event()).await {
            Err(_) => return Ok(()),
            Ok(None) => return Err(None),
            Ok(Some(Event::Disconnected(reason))) => return Err(Some(reason)),
            Ok(Some(Event::Stanza { stanza, .. })) => {
                print_stanza(&stanza);
                if stop(&stanza) {
                    return Ok(());
                }
            }
            Ok(Some(_)) => {}
        }
    }
}

/// Prints what arrives until the session ends; its reason, or `None` if
/// it does not end within `limit`.
async fn finish(events: &mut EventStream, limit: Duration) -> Option<DisconnectReason> {
    let deadline = Instant::now() + limit;
    match print_until(events, deadline, |_| false).await {
        Ok(()) | Err(None) => None,
        Err(Some(reason)) => Some(reason),
    }
}

fn ended_unasked(reason: Option<DisconnectReason>) -> ExitCode {
    match reason {
        Some(reason) => fail(
            EXIT_FAILURE,
            &format!("the session ended unexpectedly: {reason:?}"),
        ),
        None => fail(EXIT_FAILURE, &"the client stopped unexpectedly"),
    }
}

/// One stanza, one line: line breaks become character references.
fn print_stanza(stanza: &[u8]) {
    let text = String::from_utf8_lossy(stanza)
        .replace('\r', "&#13;")
        .replace('\n', "&#10;");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "bosh-client: {text}");
}

fn fail(code: u8, e: &dyn std::fmt::Display) -> ExitCode {
    note(&e.to_string());
    ExitCode::from(code)
}
