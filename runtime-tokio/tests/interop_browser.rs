//! A real browser against the connection manager: Strophe.js 5 in Debian's
//! headless Chromium (driven by playwright-core), its page served from one
//! origin (`http://127.0.0.1:{page_port}`) and `bosh-cm` on another, in front
//! of a real Prosody. Each run logs in, sends a message to its own bare JID,
//! receives it and disconnects (see `interop/README.md`).
//!
//! - default policy (any origin, `*`): the shipped `bosh-cm` binary;
//! - an allow-list naming the page's origin, `--allow-credentials`, and
//!   Strophe's `withCredentials: true`: the binary again;
//! - a page origin outside the allow-list: the library (`runtime_tokio::bind`)
//!   in process; the browser must block it.
//!
//! The peers are installed by `scripts/install-test-deps` (which
//! `scripts/check` runs first). When one is missing these tests fail, they
//! never skip. The browser runs one at a time (Chromium is heavy on small
//! machines), and every wait is bounded.

#[path = "../../interop/prosody.rs"]
mod prosody;
#[path = "../../interop/strophe_browser.rs"]
mod strophe_browser;

use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bosh_driver::Config;
use prosody::{Prosody, free_port};
use strophe_browser::{BrowserRun, Expect, StropheArgs, interop_dir, run_strophe_browser};

const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm");
const USERS: &[(&str, &str)] = &[("alice", "alicepw"), ("bob", "bobpw")];
/// Bound on the connection manager's start-up and shutdown.
const START_LIMIT: Duration = Duration::from_secs(10);
/// Bound on one browser run (the runner adds 30 s of slack, then kills it).
const BROWSER_LIMIT: Duration = Duration::from_secs(40);

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
// The connection manager: the binary, or the library in process
// ---------------------------------------------------------------------------

/// A running connection manager and where its log goes.
trait Cm {
    fn url(&self) -> String;
    fn log(&self) -> String;
}

/// The `bosh-cm` binary as a child process; SIGTERM then SIGKILL on drop.
struct CmProcess {
    addr: SocketAddr,
    child: Child,
    log_path: PathBuf,
}

impl CmProcess {
    /// Starts `bosh-cm --listen 127.0.0.1:PORT ARGS...` and waits until it
    /// accepts connections. Retries with another port if the chosen one was
    /// taken in the meantime.
    fn start(args: &[&str]) -> CmProcess {
        let mut last = String::new();
        for attempt in 0..3 {
            let port = free_port().expect("free port");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let log_path = std::env::temp_dir()
                .join(format!("bosh-cm-browser-{}-{port}.log", std::process::id()));
            let log = fs::File::create(&log_path).expect("create the bosh-cm log");
            let child = Command::new(BIN)
                .arg("--listen")
                .arg(addr.to_string())
                .args(args)
                .env("RUST_LOG", "info,bosh_driver=debug")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
            let mut cm = CmProcess {
                addr,
                child,
                log_path,
            };
            let deadline = Instant::now() + START_LIMIT;
            loop {
                if let Ok(Some(status)) = cm.child.try_wait() {
                    last = format!("attempt {attempt}: exited {status}:\n{}", cm.log());
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return cm;
                }
                if Instant::now() > deadline {
                    panic!(
                        "bosh-cm did not listen on {addr} in {START_LIMIT:?}:\n{}",
                        cm.log()
                    );
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        panic!("bosh-cm did not start: {last}");
    }
}

impl Cm for CmProcess {
    fn url(&self) -> String {
        format!("http://{}/http-bind", self.addr)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for CmProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + START_LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log_path);
    }
}

/// The library: `runtime_tokio::bind(settings)` on a thread of its own (a
/// current-thread runtime, so a thread-local tracing subscriber sees every
/// log line of the connection manager).
struct CmInProcess {
    addr: SocketAddr,
    log: SharedLog,
    shutdown: Option<runtime_tokio::ShutdownHandle>,
    thread: Option<JoinHandle<()>>,
    done: mpsc::Receiver<()>,
}

#[derive(Clone, Default)]
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl CmInProcess {
    fn start(config: Config) -> CmInProcess {
        let settings = config.validate().expect("test config is valid");
        let log = SharedLog::default();
        let writer = log.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info,bosh_driver=debug"))
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            let _guard = tracing::subscriber::set_default(subscriber);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let server = runtime_tokio::bind(settings).await.expect("bind");
                let _ = ready_tx.send((server.local_addr(), server.shutdown_handle()));
                server.run().await;
            });
            let _ = done_tx.send(());
        });
        let (addr, shutdown) = ready_rx
            .recv_timeout(START_LIMIT)
            .expect("the in-process bosh-cm did not start");
        CmInProcess {
            addr,
            log,
            shutdown: Some(shutdown),
            thread: Some(thread),
            done,
        }
    }
}

impl Cm for CmInProcess {
    fn url(&self) -> String {
        format!("http://{}/http-bind", self.addr)
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Drop for CmInProcess {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            s.shutdown();
        }
        // Bounded: a server that does not stop is left behind (and reported
        // by the test that follows), never waited for forever.
        if self.done.recv_timeout(START_LIMIT).is_ok()
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Running and checking one browser session
// ---------------------------------------------------------------------------

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Everything needed to understand a failure.
fn report(run: &BrowserRun, cm: &dyn Cm, prosody: &Prosody) -> String {
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
    // The shipped binary, default CORS policy (no --allow-origin).
    let cm = CmProcess::start(&["--upstream", &upstream]);
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
    let cm = CmProcess::start(&[
        "--upstream",
        &upstream,
        "--allowed-domain",
        prosody.domain(),
        "--allow-origin",
        "https://chat.example.com",
        "--allow-origin",
        &page_origin,
        "--allow-credentials",
    ]);
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
    // The library in process, the allow-list through `Config`.
    let cm = CmInProcess::start(Config {
        listen: "127.0.0.1:0".to_owned(),
        upstream: Some(prosody.c2s_addr().to_string()),
        allow_origins: vec!["https://chat.example.com".to_owned()],
        allow_credentials: true,
        ..Config::default()
    });
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
