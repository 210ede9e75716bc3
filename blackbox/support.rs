//! Runtime-independent support for the shared suites in `blackbox/`: the
//! connection manager binary as a child process, a fake XMPP server on std
//! threads, a blocking HTTP/1.1 client and BOSH bodies. Std only (and
//! `bosh_core` to read `<body/>`s), so the same code tests every runtime.
//!
//! Include it at the root of a test crate:
//!
//! ```ignore
//! #[path = "../../blackbox/support.rs"]
//! mod support;
//! ```
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bosh_core::Body;
use bosh_core::body::{ParseLimits, parse};

/// Bound on every wait in the tests.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);
/// Bound on the connection manager's start-up and shutdown.
pub(crate) const START_LIMIT: Duration = Duration::from_secs(10);

pub(crate) const NS: &str = "http://jabber.org/protocol/httpbind";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// The connection manager binary
// ---------------------------------------------------------------------------

/// Command-line flags for the connection manager, each given at most once
/// (clap refuses a repeated single-valued flag) unless added as repeatable.
#[derive(Debug, Clone, Default)]
pub(crate) struct CmArgs {
    flags: Vec<(String, Option<String>)>,
}

impl CmArgs {
    /// No flags at all (the defaults).
    pub(crate) fn none() -> CmArgs {
        CmArgs::default()
    }

    /// The test configuration: `upstream` at `upstream`, `--max-wait 2`,
    /// `--shutdown-grace 5` (an ephemeral port is added by [`CmProcess`]).
    pub(crate) fn test(upstream: SocketAddr) -> CmArgs {
        CmArgs::none()
            .set("--upstream", upstream)
            .set("--max-wait", 2)
            .set("--shutdown-grace", 5)
    }

    /// Sets a single-valued flag, replacing an earlier value.
    pub(crate) fn set(self, flag: &str, value: impl ToString) -> CmArgs {
        self.remove(flag).add(flag, value)
    }

    /// Adds one value of a repeatable flag.
    pub(crate) fn add(mut self, flag: &str, value: impl ToString) -> CmArgs {
        self.flags.push((flag.to_owned(), Some(value.to_string())));
        self
    }

    /// Adds a switch (`--allow-credentials`).
    pub(crate) fn switch(mut self, flag: &str) -> CmArgs {
        self.flags.push((flag.to_owned(), None));
        self
    }

    /// Removes every occurrence of `flag`.
    pub(crate) fn remove(mut self, flag: &str) -> CmArgs {
        self.flags.retain(|(f, _)| f != flag);
        self
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|(f, _)| f == flag)
    }

    pub(crate) fn to_vec(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        for (flag, value) in &self.flags {
            v.push(flag.into());
            if let Some(value) = value {
                v.push(value.into());
            }
        }
        v
    }
}

/// The connection manager binary as a child process, on an ephemeral port
/// read back from its "listening" log line (so no port is ever raced for).
/// Its stderr (the log) is kept for assertions and failure reports.
/// Dropping it sends SIGTERM, then SIGKILL if it has not exited in time.
pub(crate) struct CmProcess {
    pub(crate) addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for CmProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmProcess")
            .field("addr", &self.addr)
            .field("pid", &self.child.id())
            .finish()
    }
}

/// Where the server says it listens: `... listening listen=127.0.0.1:PORT`.
fn listen_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("BOSH connection manager listening") {
        return None;
    }
    let at = line.find("listen=")? + "listen=".len();
    line[at..].split_whitespace().next()?.parse().ok()
}

impl CmProcess {
    /// Starts `bin ARGS` (with `--listen 127.0.0.1:0` unless ARGS listen)
    /// with `RUST_LOG=info` and waits until it listens.
    pub(crate) fn start(bin: &str, args: &CmArgs) -> CmProcess {
        Self::start_logging(bin, args, "info")
    }

    /// [`start`](Self::start) with `RUST_LOG=rust_log`, which must let the
    /// `bosh_driver` info line through.
    pub(crate) fn start_logging(bin: &str, args: &CmArgs, rust_log: &str) -> CmProcess {
        let mut args = args.clone();
        if !args.has("--listen") {
            args = args.set("--listen", "127.0.0.1:0");
        }
        let mut child = Command::new(bin)
            .args(args.to_vec())
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr);
            let mut line = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if let Some(addr) = listen_addr(&line) {
                            let _ = addr_tx.send(addr);
                        }
                        lock(&sink).push_str(&line);
                    }
                }
            }
        });
        let mut cm = CmProcess {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            log,
            reader: Some(reader),
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            match addr_rx.recv_timeout(Duration::from_millis(20)) {
                Ok(addr) => {
                    cm.addr = addr;
                    return cm;
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = cm.child.try_wait() {
                        // Let the reader collect the last lines.
                        if let Some(r) = cm.reader.take() {
                            let _ = r.join();
                        }
                        panic!("{bin} exited at start-up ({status}):\n{}", cm.log());
                    }
                }
                Err(_) => panic!("{bin} did not listen in {START_LIMIT:?}:\n{}", cm.log()),
            }
        }
    }

    /// `http://ADDR/http-bind`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/http-bind", self.addr)
    }

    /// Everything it logged so far.
    pub(crate) fn log(&self) -> String {
        lock(&self.log).clone()
    }

    /// Sends SIGTERM (a graceful shutdown).
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for CmProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            if self.wait_exit(START_LIMIT).is_none() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Runs `bin ARGS` to completion (RUST_LOG unset); (exit code, stdout,
/// stderr).
pub(crate) fn run_bin(bin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// Background work, bounded
// ---------------------------------------------------------------------------

/// A value computed on a thread of its own (a request held by the server
/// while the test goes on).
pub(crate) struct Bg<T> {
    rx: Receiver<std::thread::Result<T>>,
}

impl<T: Send + 'static> Bg<T> {
    pub(crate) fn spawn(f: impl FnOnce() -> T + Send + 'static) -> Bg<T> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        });
        Bg { rx }
    }

    /// The value, or `None` if it takes longer than `limit`. A panic on
    /// the thread is raised here.
    pub(crate) fn join_within(self, limit: Duration) -> Option<T> {
        match self.rx.recv_timeout(limit) {
            Ok(Ok(v)) => Some(v),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => None,
        }
    }

    /// The value (bounded by [`LIMIT`] and a half).
    pub(crate) fn join(self) -> T {
        self.join_within(LIMIT + LIMIT / 2)
            .expect("background work did not finish in time")
    }
}

// ---------------------------------------------------------------------------
// Fake XMPP server
// ---------------------------------------------------------------------------

/// What the fake server does with what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Answers stream headers, SASL `<auth/>` with `<success/>`, each
    /// `<message/>` with an echo, and `</stream:stream>` by closing.
    Echo,
    /// Like `Echo` but never sends features (a silent server).
    NoFeatures,
}

/// A tiny XMPP server on 127.0.0.1:0 that speaks just enough XMPP, one
/// thread per connection.
pub(crate) struct FakeXmpp {
    pub(crate) addr: SocketAddr,
    conns: Receiver<FakeConn>,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// One accepted upstream connection, seen from the test. Dropping it
/// closes the connection (as a server that goes away).
pub(crate) struct FakeConn {
    received: Receiver<Vec<u8>>,
    seen: String,
    stream: Arc<Mutex<TcpStream>>,
}

impl Drop for FakeXmpp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

impl Drop for FakeConn {
    fn drop(&mut self) {
        let _ = lock(&self.stream).shutdown(Shutdown::Both);
    }
}

impl FakeXmpp {
    pub(crate) fn start(mode: Mode) -> FakeXmpp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake XMPP server");
        let addr = listener.local_addr().expect("local addr");
        let (tx, conns) = mpsc::channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while let Ok((stream, _)) = listener.accept() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                n += 1;
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                let Ok(reader) = stream.try_clone() else {
                    continue;
                };
                let writer = Arc::new(Mutex::new(stream));
                let (rtx, received) = mpsc::channel();
                let _ = tx.send(FakeConn {
                    received,
                    seen: String::new(),
                    stream: writer.clone(),
                });
                std::thread::spawn(move || serve_fake(reader, writer, mode, n, rtx));
            }
        });
        FakeXmpp {
            addr,
            conns,
            accepted,
            stop,
        }
    }

    /// The next connection the connection manager opened.
    pub(crate) fn next_conn(&mut self) -> FakeConn {
        self.conns
            .recv_timeout(LIMIT)
            .expect("no upstream connection in time")
    }

    /// How many connections were accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl FakeConn {
    /// Sends raw bytes to the connection manager.
    pub(crate) fn send(&self, bytes: &str) {
        let _ = lock(&self.stream).write_all(bytes.as_bytes());
    }

    /// Closes the connection from the server side (no `</stream:stream>`).
    pub(crate) fn close(&self) {
        let _ = lock(&self.stream).shutdown(Shutdown::Both);
    }

    /// Waits until the received text contains `needle`; returns all text.
    pub(crate) fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_count(needle, 1)
    }

    /// Waits until the received text contains `needle` `n` times.
    pub(crate) fn wait_for_count(&mut self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + LIMIT;
        while self.seen.matches(needle).count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.received.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("upstream never received {needle:?}; got {:?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        assert!(
            self.seen.matches(needle).count() >= n,
            "upstream closed before {needle:?}; got {:?}",
            self.seen
        );
        self.seen.clone()
    }

    /// Waits until the connection manager closes the TCP connection.
    pub(crate) fn wait_closed(&mut self) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.received.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Disconnected) => return self.seen.clone(),
                Err(RecvTimeoutError::Timeout) => panic!("upstream connection not closed in time"),
            }
        }
    }
}

const SERVER_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
     xmlns:stream='http://etherx.jabber.org/streams' id='fake-{N}' from='example.com' \
     version='1.0' xml:lang='en'>";
const FEATURES_AUTH: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
     <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const FEATURES_BIND: &str =
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
pub(crate) const ECHO: &str = "<message from='echo@example.com' to='user@example.com/r' type='chat'><body>echo</body></message>";

fn serve_fake(
    mut reader: TcpStream,
    writer: Arc<Mutex<TcpStream>>,
    mode: Mode,
    n: usize,
    received: Sender<Vec<u8>>,
) {
    let mut text = String::new();
    let mut cursor = 0;
    let mut headers = 0;
    let mut buf = vec![0u8; 8192];
    let reply = |bytes: &[u8]| lock(&writer).write_all(bytes).is_ok();
    'conn: loop {
        let k = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => k,
        };
        let _ = received.send(buf[..k].to_vec());
        text.push_str(&String::from_utf8_lossy(&buf[..k]));
        // Answer complete constructs, in order.
        loop {
            let rest = &text[cursor..];
            let next = [
                rest.find("<stream:stream")
                    .and_then(|i| rest[i..].find('>').map(|j| (i, i + j + 1, 0))),
                rest.find("<auth")
                    .and_then(|i| rest[i..].find("</auth>").map(|j| (i, i + j + 7, 1))),
                rest.find("<message")
                    .and_then(|i| rest[i..].find("</message>").map(|j| (i, i + j + 10, 2))),
                rest.find("</stream:stream>").map(|i| (i, i + 16, 3)),
            ]
            .into_iter()
            .flatten()
            .min_by_key(|(start, _, _)| *start);
            let Some((_, end, kind)) = next else { break };
            cursor += end;
            let answer = match kind {
                0 => {
                    headers += 1;
                    let mut r = SERVER_HEADER.replace("{N}", &format!("{n}-{headers}"));
                    if mode != Mode::NoFeatures {
                        r.push_str(if headers == 1 {
                            FEATURES_AUTH
                        } else {
                            FEATURES_BIND
                        });
                    }
                    r
                }
                1 => "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_owned(),
                2 => ECHO.to_owned(),
                _ => {
                    reply(b"</stream:stream>");
                    break 'conn;
                }
            };
            if !reply(answer.as_bytes()) {
                break 'conn;
            }
        }
    }
    // The connection is over for the server: close it for every handle.
    let _ = lock(&writer).shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------
// A blocking HTTP/1.1 client
// ---------------------------------------------------------------------------

#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The response parsed as a `<body/>`.
    pub(crate) fn bosh(&self) -> Body {
        parse(&self.body, &ParseLimits::default())
            .unwrap_or_else(|e| panic!("not a <body/>: {e}: {:?}", self.text()))
    }
}

/// A connection to `addr`.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, LIMIT).expect("connect");
    let _ = stream.set_nodelay(true);
    stream
}

/// Writes a request on `stream`.
pub(crate) fn write_request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    try_write_request(stream, method, path, headers, body).expect("write the request");
}

/// Writes a request on `stream`; `Err` if the server closed the connection
/// meanwhile (e.g. after answering 413 to a body it will not read).
pub(crate) fn try_write_request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes)
}

/// Reads one response (Content-Length framed) from `stream`, bounded by
/// [`LIMIT`].
pub(crate) fn read_response(stream: &mut TcpStream) -> HttpResponse {
    read_response_within(stream, LIMIT)
}

/// Reads one response, bounded by `limit`.
pub(crate) fn read_response_within(stream: &mut TcpStream, limit: Duration) -> HttpResponse {
    match try_read_response(stream, Instant::now() + limit) {
        Ok(r) => r,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            panic!("no HTTP response in {limit:?}")
        }
        Err(e) => panic!("HTTP response could not be read: {e}"),
    }
}

/// One `read` into `buf`, given until `deadline` (a timeout is an error).
pub(crate) fn read_until(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    stream.set_read_timeout(Some(left))?;
    stream.read(buf)
}

fn try_read_response(stream: &mut TcpStream, deadline: Instant) -> io::Result<HttpResponse> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if read_until(stream, &mut byte, deadline)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("eof in headers: {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    // An interim (1xx) answer has no body; every other has a length.
    let len: usize = if (100..200).contains(&status) {
        0
    } else {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .expect("every response has a Content-Length")
    };
    let mut body = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match read_until(stream, &mut body[filled..], deadline)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// One request on a fresh connection.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = connect(addr);
    if let Err(e) = try_write_request(&mut stream, method, path, headers, body) {
        // A server that answers before reading the whole body (413) may
        // close the connection while the body is still being sent: like a
        // browser, read the answer anyway.
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "write the request: {e}"
        );
    }
    read_response(&mut stream)
}

/// POSTs a BOSH body to `path`.
pub(crate) fn post_at(addr: SocketAddr, path: &str, body: &str) -> HttpResponse {
    request(addr, "POST", path, &[], body.as_bytes())
}

/// POSTs a BOSH body to `/http-bind`.
pub(crate) fn post(addr: SocketAddr, body: &str) -> HttpResponse {
    request(
        addr,
        "POST",
        "/http-bind",
        &[("Content-Type", "text/xml; charset=utf-8")],
        body.as_bytes(),
    )
}

/// POSTs with an `Origin`.
pub(crate) fn post_from(addr: SocketAddr, origin: &str, body: &str) -> HttpResponse {
    request(
        addr,
        "POST",
        "/http-bind",
        &[
            ("Content-Type", "text/xml; charset=utf-8"),
            ("Origin", origin),
        ],
        body.as_bytes(),
    )
}

// ---------------------------------------------------------------------------
// BOSH bodies
// ---------------------------------------------------------------------------

pub(crate) fn creation(rid: u64, to: &str) -> String {
    format!(
        "<body rid='{rid}' to='{to}' wait='60' hold='1' ver='1.6' xml:lang='en' \
         xmpp:version='1.0' xmlns='{NS}' xmlns:xmpp='urn:xmpp:xbosh'/>"
    )
}

pub(crate) fn empty(sid: &str, rid: u64) -> String {
    format!("<body rid='{rid}' sid='{sid}' xmlns='{NS}'/>")
}

pub(crate) fn with_payload(sid: &str, rid: u64, payload: &str) -> String {
    format!("<body rid='{rid}' sid='{sid}' xmlns='{NS}'>{payload}</body>")
}

pub(crate) fn terminate(sid: &str, rid: u64, payload: &str) -> String {
    format!("<body rid='{rid}' sid='{sid}' type='terminate' xmlns='{NS}'>{payload}</body>")
}

/// Creates a session at `addr` against the echo server; returns the sid,
/// the next rid and the upstream connection.
pub(crate) fn create_session(addr: SocketAddr, fake: &mut FakeXmpp) -> (String, u64, FakeConn) {
    let resp = post(addr, &creation(1000, "example.com"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.bosh();
    let sid = body
        .attrs
        .sid
        .as_deref()
        .expect("creation response has a sid")
        .to_owned();
    let mut conn = fake.next_conn();
    conn.wait_for("<stream:stream");
    (sid, 1001, conn)
}

/// The `condition` of a terminate body.
pub(crate) fn condition(resp: &HttpResponse) -> Option<String> {
    resp.bosh().attrs.condition.map(|c| c.as_str().to_owned())
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
