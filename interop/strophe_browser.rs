//! Runs `interop/strophe_browser.mjs` (Strophe.js in headless Chromium) from a
//! Rust test. Self-contained (std only); include it with
//!
//! ```ignore
//! #[path = "../../interop/strophe_browser.rs"]
//! mod strophe_browser;
//! ```
//!
//! The script prints one JSON line; [`BrowserRun`] keeps it verbatim and offers
//! tiny accessors for its top-level scalar fields (no JSON crate needed).
#![allow(dead_code)]

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the run is expected to prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Expect {
    /// Connect, message to self and back, disconnect, no CORS error.
    #[default]
    Success,
    /// Never reach CONNECTED (any reason).
    Failure,
    /// Never reach CONNECTED, and the browser blocked a BOSH request for CORS
    /// reasons (origin not allowed, credentials not allowed...).
    CorsBlock,
}

/// Arguments of one browser run.
#[derive(Debug, Clone)]
pub(crate) struct StropheArgs {
    /// BOSH endpoint, e.g. `http://127.0.0.1:5280/http-bind`.
    pub(crate) bosh_url: String,
    /// Bare JID, e.g. `alice@localhost`.
    pub(crate) jid: String,
    pub(crate) password: String,
    /// Strophe's `withCredentials` option (credentialed CORS).
    pub(crate) with_credentials: bool,
    pub(crate) expect: Expect,
    /// Overall bound enforced by the script (default 30 s).
    pub(crate) timeout: Duration,
    /// Fixed port for the page server (its origin is
    /// `http://127.0.0.1:{port}`), so a CM allow-list can name it. `None`:
    /// ephemeral.
    pub(crate) page_port: Option<u16>,
}

impl StropheArgs {
    /// Expect success with the given account, default timeout, random page port.
    pub(crate) fn new(bosh_url: &str, jid: &str, password: &str) -> StropheArgs {
        StropheArgs {
            bosh_url: bosh_url.to_owned(),
            jid: jid.to_owned(),
            password: password.to_owned(),
            with_credentials: false,
            expect: Expect::Success,
            timeout: Duration::from_secs(30),
            page_port: None,
        }
    }
}

/// The outcome of one run.
pub(crate) struct BrowserRun {
    /// Process exit code: 0 outcome as expected, 1 not, 2 harness/usage error.
    pub(crate) exit_code: Option<i32>,
    /// The single JSON line the script printed on stdout.
    pub(crate) json: String,
    /// Whatever it printed on stderr.
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl fmt::Debug for BrowserRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "strophe_browser exit={:?} after {:?}\nstdout: {}\nstderr: {}",
            self.exit_code, self.elapsed, self.json, self.stderr
        )
    }
}

impl BrowserRun {
    /// Exit code 0 and `"ok":true`: the outcome matched the expectation.
    pub(crate) fn ok(&self) -> bool {
        self.exit_code == Some(0) && self.bool_field("ok") == Some(true)
    }

    /// A top-level boolean field (`connected`, `received`, ...).
    pub(crate) fn bool_field(&self, name: &str) -> Option<bool> {
        match self.raw_field(name)? {
            v if v.starts_with("true") => Some(true),
            v if v.starts_with("false") => Some(false),
            _ => None,
        }
    }

    /// A top-level integer field (`preflights`, `posts`, `elapsed_ms`).
    pub(crate) fn int_field(&self, name: &str) -> Option<i64> {
        let v = self.raw_field(name)?;
        let end = v
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(v.len());
        v[..end].parse().ok()
    }

    /// The raw JSON text of a top-level field's value (up to the end of the
    /// line), e.g. `[200,200],...` for `statuses`. Keys are matched only
    /// after `{` or `,`, so text inside string values cannot match.
    pub(crate) fn raw_field(&self, name: &str) -> Option<&str> {
        let key = format!("\"{name}\":");
        let mut from = 0;
        while let Some(pos) = self.json[from..].find(&key) {
            let at = from + pos;
            if at == 0 || matches!(self.json.as_bytes()[at - 1], b'{' | b',') {
                return Some(&self.json[at + key.len()..]);
            }
            from = at + key.len();
        }
        None
    }
}

/// The `interop/` directory: `$BOSH_INTEROP_DIR`, else the directory of this
/// source file, else an `interop/` found walking up from the test crate's
/// manifest dir or the current dir.
pub(crate) fn interop_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BOSH_INTEROP_DIR") {
        return Ok(PathBuf::from(dir));
    }
    // This very file lives in interop/. `file!()` is absolute, or relative to
    // the directory rustc ran in (the workspace root, an ancestor of the
    // manifest dir).
    let this_file = Path::new(file!());
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(m) = option_env!("CARGO_MANIFEST_DIR") {
        roots.extend(Path::new(m).ancestors().map(Path::to_path_buf));
    }
    for root in roots.iter().map(PathBuf::as_path).chain([Path::new("/")]) {
        if let Some(dir) = root.join(this_file).parent()
            && dir.join("strophe_browser.mjs").is_file()
        {
            return Ok(dir.to_path_buf());
        }
    }
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Some(m) = option_env!("CARGO_MANIFEST_DIR") {
        starts.push(PathBuf::from(m));
    }
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    for start in &starts {
        for dir in start.ancestors() {
            let candidate = dir.join("interop");
            if candidate.join("strophe_browser.mjs").is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "interop/strophe_browser.mjs not found (set BOSH_INTEROP_DIR)",
    ))
}

/// Runs the browser script and waits for it (bounded by `args.timeout` plus
/// 30 s of slack for browser start and cleanup; killed after that).
pub(crate) fn run_strophe_browser(args: &StropheArgs) -> io::Result<BrowserRun> {
    let dir = interop_dir()?;
    let script = dir.join("strophe_browser.mjs");
    if !dir.join("node_modules/playwright-core").is_dir()
        || !dir.join("node_modules/strophe.js").is_dir()
    {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{}/node_modules is not installed: run scripts/install-test-deps",
                dir.display()
            ),
        ));
    }
    if !Path::new("/usr/bin/chromium").is_file() && std::env::var_os("CHROMIUM_PATH").is_none() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "chromium not installed: run scripts/install-test-deps",
        ));
    }
    let timeout_ms = args.timeout.as_millis().max(1000);
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .args([
            "--bosh-url",
            &args.bosh_url,
            "--jid",
            &args.jid,
            "--password",
            &args.password,
        ])
        .args(["--timeout-ms", &timeout_ms.to_string()]);
    if args.with_credentials {
        cmd.arg("--with-credentials");
    }
    match args.expect {
        Expect::Success => {}
        Expect::Failure => {
            cmd.arg("--expect-failure");
        }
        Expect::CorsBlock => {
            cmd.arg("--expect-cors-block");
        }
    }
    if let Some(port) = args.page_port {
        cmd.args(["--page-port", &port.to_string()]);
    }

    // Output goes to files (no pipe-buffer deadlock, no reader threads).
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = std::env::temp_dir().join(format!(
        "strophe-browser-run-{}-{}-{nanos:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&tmp)?;
    let out_path = tmp.join("stdout");
    let err_path = tmp.join("stderr");
    let result = (|| {
        let start = Instant::now();
        let mut child = cmd
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out_path)?)
            .stderr(fs::File::create(&err_path)?)
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot run node ({e}): install nodejs"))
            })?;
        let deadline = start + args.timeout + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = fs::read_to_string(&out_path).unwrap_or_default();
        let mut stderr = fs::read_to_string(&err_path).unwrap_or_default();
        if status.is_none() {
            stderr.push_str("\n<killed: strophe_browser.mjs overran its deadline>");
        }
        Ok(BrowserRun {
            exit_code: status.and_then(|s| s.code()),
            json: stdout
                .lines()
                .rev()
                .find(|l| l.starts_with('{'))
                .unwrap_or("")
                .to_owned(),
            stderr,
            elapsed: start.elapsed(),
        })
    })();
    let _ = fs::remove_dir_all(&tmp);
    result
}
