//! A real browser against a connection manager binary (`crate::BIN`):
//! Strophe.js 5 in Debian's headless Chromium (driven by playwright-core),
//! its page served from one origin (`http://127.0.0.1:{page_port}`) and the
//! connection manager on another, in front of a real Prosody. Each run logs
//! in, sends a message to its own bare JID, receives it and disconnects (see
//! `interop/README.md`).
//!
//! - default policy (any origin, `*`);
//! - an allow-list naming the page's origin, `--allow-credentials`, and
//!   Strophe's `withCredentials: true`;
//! - a page origin outside the allow-list: the browser must block it.
//!
//! The peers are installed by `scripts/install-test-deps` (which
//! `scripts/check` runs first). When one is missing these tests fail, they
//! never skip. The browser runs one at a time (Chromium is heavy on small
//! machines): a lock within the test binary, and each crate runs this suite
//! in a test binary of its own (cargo runs test binaries one after another).
//! Every wait is bounded.
//!
//! The including crate root provides `BIN` and the modules `support`,
//! `prosody` and `strophe_browser`.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::BIN;
use crate::prosody::{Prosody, free_port};
use crate::strophe_browser::{BrowserRun, Expect, StropheArgs, interop_dir, run_strophe_browser};
use crate::support::{CmArgs, CmProcess, tail};

const USERS: &[(&str, &str)] = &[("alice", "alicepw"), ("bob", "bobpw")];
/// Bound on one browser run (the runner adds 30 s of slack, then kills it).
const BROWSER_LIMIT: Duration = Duration::from_secs(40);
/// The connection manager logs at debug level for the reports.
const CM_LOG: &str = "info,bosh_driver=debug";

/// One browser at a time.
fn serial() -> MutexGuard<'static, ()> {
    static BROWSER: Mutex<()> = Mutex::new(());
    BROWSER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fails (never skips) with the install hint when a peer is missing.
fn require_peers() {
    let mut missing = Vec::new();
    for tool in ["prosody", "prosodyctl", "node"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        if !found {
            missing.push(tool.to_owned());
        }
    }
    let chromium = std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        missing.push(chromium.display().to_string());
    }
    match interop_dir() {
        Ok(dir) => {
            for m in ["playwright-core", "strophe.js/dist/strophe.umd.min.js"] {
                if !dir.join("node_modules").join(m).exists() {
                    missing.push(format!("{}/node_modules/{m}", dir.display()));
                }
            }
        }
        Err(e) => missing.push(e.to_string()),
    }
    assert!(
        missing.is_empty(),
        "missing test peers: {}: run scripts/install-test-deps",
        missing.join(", ")
    );
}

fn start_prosody() -> Prosody {
    Prosody::start(USERS).unwrap_or_else(|e| panic!("cannot start Prosody: {e}"))
}

// ---------------------------------------------------------------------------
// Running and checking one browser session
// ---------------------------------------------------------------------------

/// Everything needed to understand a failure.
fn report(run: &BrowserRun, cm: &CmProcess, prosody: &Prosody) -> String {
    format!(
        "\n--- browser ---\n{run:?}\n--- bosh-cm log (last 80 lines) ---\n{}\n\
         --- prosody log (last 40 lines) ---\n{}\n",
        tail(&cm.log(), 80),
        prosody.log_tail(40)
    )
}

fn browse(args: StropheArgs) -> BrowserRun {
    let args = StropheArgs {
        timeout: BROWSER_LIMIT,
        ..args
    };
    run_strophe_browser(&args).unwrap_or_else(|e| panic!("cannot run the browser: {e}"))
}

/// `statuses`, `post_statuses`, `acao`... as the JSON list's raw items.
fn list_field(run: &BrowserRun, name: &str) -> Vec<String> {
    let raw = run
        .raw_field(name)
        .unwrap_or_else(|| panic!("no `{name}` in the browser's JSON"));
    assert!(raw.starts_with('['), "`{name}` is not a list: {raw}");
    let inner = &raw[1..raw.find(']').expect("list end")];
    inner
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The full flow happened, with no CORS or network error, one preflight
/// (cached for the rest of the session), and `acao` on it.
fn assert_full_session(run: &BrowserRun, acao: &str, ctx: &str) {
    assert!(run.ok(), "the browser run failed{ctx}");
    for field in ["connected", "sent", "received", "disconnected"] {
        assert_eq!(
            run.bool_field(field),
            Some(true),
            "`{field}` is not true{ctx}"
        );
    }
    assert!(
        list_field(run, "cors_errors").is_empty(),
        "CORS errors{ctx}"
    );
    assert!(
        list_field(run, "net_errors").is_empty(),
        "network errors{ctx}"
    );
    // Strophe's `text/xml` POSTs are preflighted; the answer is cached
    // (Access-Control-Max-Age), so a fresh profile preflights exactly once.
    assert_eq!(run.int_field("preflights"), Some(1), "preflights{ctx}");
    assert_eq!(
        list_field(run, "statuses"),
        ["200"],
        "preflight status{ctx}"
    );
    assert_eq!(list_field(run, "acao"), [acao], "preflight ACAO{ctx}");
    let posts = list_field(run, "post_statuses");
    // Session creation, SASL, restart, bind, presence, message, terminate:
    // at least five round trips, every one answered 200.
    assert!(posts.len() >= 5, "too few POSTs: {posts:?}{ctx}");
    assert!(
        posts.iter().all(|s| s == "200"),
        "a POST was not 200: {posts:?}{ctx}"
    );
}

#[test]
fn strophe_in_chromium_default_policy_logs_in_and_echoes_a_message() {
    require_peers();
    let _one = serial();
    let prosody = start_prosody();
    let upstream = prosody.c2s_addr().to_string();
    // Default CORS policy (no --allow-origin).
    let cm = CmProcess::start_logging(BIN, &CmArgs::none().set("--upstream", upstream), CM_LOG);
    let run = browse(StropheArgs::new(
        &cm.url(),
        &prosody.jid("alice"),
        "alicepw",
    ));
    let ctx = report(&run, &cm, &prosody);
    assert_full_session(&run, "*", &ctx);
    assert!(
        prosody.log().contains("Authenticated as alice@localhost"),
        "Prosody did not authenticate alice{ctx}"
    );
}

#[test]
fn strophe_in_chromium_allow_list_with_credentials() {
    require_peers();
    let _one = serial();
    let prosody = start_prosody();
    let upstream = prosody.c2s_addr().to_string();
    let page_port = free_port().expect("free port");
    let page_origin = format!("http://127.0.0.1:{page_port}");
    let args = CmArgs::none()
        .set("--upstream", upstream)
        .add("--allowed-domain", prosody.domain())
        .add("--allow-origin", "https://chat.example.com")
        .add("--allow-origin", &page_origin)
        .switch("--allow-credentials");
    let cm = CmProcess::start_logging(BIN, &args, CM_LOG);
    let run = browse(StropheArgs {
        with_credentials: true,
        page_port: Some(page_port),
        ..StropheArgs::new(&cm.url(), &prosody.jid("bob"), "bobpw")
    });
    let ctx = report(&run, &cm, &prosody);
    assert_eq!(
        run.raw_field("page_origin")
            .map(|v| v.starts_with(&format!("\"{page_origin}\""))),
        Some(true),
        "the page was not served from {page_origin}{ctx}"
    );
    // Credentialed: the origin is echoed (never `*`); without
    // `Access-Control-Allow-Credentials: true` Chromium would have reported
    // `PreflightInvalidAllowCredentials` or `InvalidAllowCredentials`.
    assert_full_session(&run, &page_origin, &ctx);
    assert!(
        prosody.log().contains("Authenticated as bob@localhost"),
        "Prosody did not authenticate bob{ctx}"
    );
}

#[test]
fn strophe_in_chromium_origin_outside_allow_list_is_blocked() {
    require_peers();
    let _one = serial();
    let prosody = start_prosody();
    // The allow-list names another origin than the page's.
    let args = CmArgs::none()
        .set("--upstream", prosody.c2s_addr())
        .add("--allow-origin", "https://chat.example.com")
        .switch("--allow-credentials");
    let cm = CmProcess::start_logging(BIN, &args, CM_LOG);
    let run = browse(StropheArgs {
        with_credentials: true,
        expect: Expect::CorsBlock,
        ..StropheArgs::new(&cm.url(), &prosody.jid("alice"), "alicepw")
    });
    let ctx = report(&run, &cm, &prosody);
    assert!(run.ok(), "the browser was not CORS-blocked{ctx}");
    assert_eq!(run.bool_field("connected"), Some(false), "connected{ctx}");
    let errors = list_field(&run, "cors_errors");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("PreflightMissingAllowOriginHeader")),
        "expected PreflightMissingAllowOriginHeader: {errors:?}{ctx}"
    );
    // The preflight was answered (refused, not a network error), without an
    // ACAO; the BOSH POST itself never left the browser.
    let statuses = list_field(&run, "statuses");
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| s != "0" && !s.starts_with('2')),
        "preflight statuses {statuses:?}{ctx}"
    );
    assert!(
        list_field(&run, "acao").iter().all(|a| a == "null"),
        "an ACAO was sent to a foreign origin{ctx}"
    );
    // Nothing got past CORS: no XMPP session was opened for the page.
    assert!(
        !cm.log().contains("session created") && !prosody.log().contains("Authenticated as"),
        "a session was opened for a blocked origin{ctx}"
    );
}
