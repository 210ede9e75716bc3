//! Test support: an in-process fake XMPP server, a raw HTTP/1.1 client, and
//! helpers to start the connection manager on an ephemeral port.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bosh_core::Body;
use bosh_core::body::{ParseLimits, parse};
use bosh_driver::{Config, ShutdownHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Bound on every wait in the tests.
pub const LIMIT: Duration = Duration::from_secs(10);

pub const NS: &str = "http://jabber.org/protocol/httpbind";

// ---------------------------------------------------------------------------
// Fake XMPP server
// ---------------------------------------------------------------------------

/// What the fake server does with what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers stream headers, SASL `<auth/>` with `<success/>`, each
    /// `<message/>` with an echo, and `</stream:stream>` by closing.
    Echo,
    /// Like `Echo` but never sends features (a silent server).
    NoFeatures,
}

pub enum FakeCmd {
    Send(Vec<u8>),
    Close,
}

/// A tiny XMPP server on 127.0.0.1:0 that speaks just enough XMPP.
pub struct FakeXmpp {
    pub addr: SocketAddr,
    conns: mpsc::UnboundedReceiver<FakeConn>,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

/// One accepted upstream connection, seen from the test.
pub struct FakeConn {
    received: mpsc::UnboundedReceiver<Vec<u8>>,
    seen: String,
    cmds: mpsc::UnboundedSender<FakeCmd>,
}

impl Drop for FakeXmpp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeXmpp {
    pub async fn start(mode: Mode) -> FakeXmpp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, conns) = mpsc::unbounded_channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut n = 0;
            while let Ok((stream, _)) = listener.accept().await {
                n += 1;
                count.fetch_add(1, Ordering::SeqCst);
                let (rtx, received) = mpsc::unbounded_channel();
                let (cmds, crx) = mpsc::unbounded_channel();
                let _ = tx.send(FakeConn {
                    received,
                    seen: String::new(),
                    cmds,
                });
                tokio::spawn(serve_fake(stream, mode, n, rtx, crx));
            }
        });
        FakeXmpp {
            addr,
            conns,
            accepted,
            task,
        }
    }

    /// The next connection the connection manager opened.
    pub async fn next_conn(&mut self) -> FakeConn {
        timeout(LIMIT, self.conns.recv())
            .await
            .expect("no upstream connection in time")
            .expect("fake server gone")
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl FakeConn {
    /// Sends raw bytes to the connection manager.
    pub fn send(&self, bytes: &str) {
        let _ = self.cmds.send(FakeCmd::Send(bytes.as_bytes().to_vec()));
    }

    /// Closes the connection from the server side (no `</stream:stream>`).
    pub fn close(&self) {
        let _ = self.cmds.send(FakeCmd::Close);
    }

    /// Waits until the received text contains `needle`; returns all text.
    pub async fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_count(needle, 1).await
    }

    /// Waits until the received text contains `needle` `n` times.
    pub async fn wait_for_count(&mut self, needle: &str, n: usize) -> String {
        let fut = async {
            while self.seen.matches(needle).count() < n {
                match self.received.recv().await {
                    Some(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                    None => break,
                }
            }
        };
        timeout(LIMIT, fut)
            .await
            .unwrap_or_else(|_| panic!("upstream never received {needle:?}; got {:?}", self.seen));
        assert!(
            self.seen.matches(needle).count() >= n,
            "upstream closed before {needle:?}; got {:?}",
            self.seen
        );
        self.seen.clone()
    }

    /// Waits until the connection manager closes the TCP connection.
    pub async fn wait_closed(&mut self) -> String {
        let fut = async {
            while let Some(chunk) = self.received.recv().await {
                self.seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        timeout(LIMIT, fut)
            .await
            .expect("upstream connection not closed in time");
        self.seen.clone()
    }
}

const SERVER_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
     xmlns:stream='http://etherx.jabber.org/streams' id='fake-{N}' from='example.com' \
     version='1.0' xml:lang='en'>";
const FEATURES_AUTH: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
     <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const FEATURES_BIND: &str =
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
pub const ECHO: &str = "<message from='echo@example.com' to='user@example.com/r' type='chat'><body>echo</body></message>";

async fn serve_fake(
    mut stream: TcpStream,
    mode: Mode,
    n: usize,
    received: mpsc::UnboundedSender<Vec<u8>>,
    mut cmds: mpsc::UnboundedReceiver<FakeCmd>,
) {
    let mut text = String::new();
    let mut cursor = 0;
    let mut headers = 0;
    let mut buf = vec![0u8; 8192];
    loop {
        tokio::select! {
            r = stream.read(&mut buf) => {
                let Ok(k) = r else { return };
                if k == 0 {
                    return;
                }
                let _ = received.send(buf[..k].to_vec());
                text.push_str(&String::from_utf8_lossy(&buf[..k]));
                // Answer complete constructs, in order.
                loop {
                    let rest = &text[cursor..];
                    let next = [
                        rest.find("<stream:stream").and_then(|i| rest[i..].find('>').map(|j| (i, i + j + 1, 0))),
                        rest.find("<auth").and_then(|i| rest[i..].find("</auth>").map(|j| (i, i + j + 7, 1))),
                        rest.find("<message").and_then(|i| rest[i..].find("</message>").map(|j| (i, i + j + 10, 2))),
                        rest.find("</stream:stream>").map(|i| (i, i + 16, 3)),
                    ]
                    .into_iter()
                    .flatten()
                    .min_by_key(|(start, _, _)| *start);
                    let Some((_, end, kind)) = next else { break };
                    cursor += end;
                    let reply = match kind {
                        0 => {
                            headers += 1;
                            let mut r = SERVER_HEADER.replace("{N}", &format!("{n}-{headers}"));
                            if mode != Mode::NoFeatures {
                                r.push_str(if headers == 1 { FEATURES_AUTH } else { FEATURES_BIND });
                            }
                            r
                        }
                        1 => "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_owned(),
                        2 => ECHO.to_owned(),
                        _ => {
                            let _ = stream.write_all(b"</stream:stream>").await;
                            return;
                        }
                    };
                    if stream.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
            cmd = cmds.recv() => match cmd {
                Some(FakeCmd::Send(bytes)) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Some(FakeCmd::Close) | None => return,
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The connection manager
// ---------------------------------------------------------------------------

pub struct Cm {
    pub addr: SocketAddr,
    pub shutdown: ShutdownHandle,
    pub done: JoinHandle<()>,
}

/// A configuration for tests: ephemeral port, `upstream` at `upstream`,
/// short waits.
pub fn test_config(upstream: SocketAddr) -> Config {
    Config {
        listen: "127.0.0.1:0".to_owned(),
        upstream: Some(upstream.to_string()),
        max_wait: 2,
        shutdown_grace: 5,
        ..Config::default()
    }
}

pub async fn start_cm(config: Config) -> Cm {
    let settings = config.validate().expect("test config is valid");
    let server = runtime_tokio::bind(settings).await.expect("bind");
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let done = tokio::spawn(server.run());
    Cm {
        addr,
        shutdown,
        done,
    }
}

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client
// ---------------------------------------------------------------------------

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The response parsed as a `<body/>`.
    pub fn bosh(&self) -> Body {
        parse(&self.body, &ParseLimits::default())
            .unwrap_or_else(|e| panic!("not a <body/>: {e}: {:?}", self.text()))
    }
}

/// Writes a request on `stream`.
pub async fn write_request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
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
    stream.write_all(&bytes).await.unwrap();
}

/// Reads one response (Content-Length framed) from `stream`.
pub async fn read_response(stream: &mut TcpStream) -> HttpResponse {
    timeout(LIMIT, read_response_inner(stream))
        .await
        .expect("no HTTP response in time")
        .expect("HTTP response could not be read")
}

async fn read_response_inner(stream: &mut TcpStream) -> std::io::Result<HttpResponse> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
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
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("every response has a Content-Length");
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    write_request(&mut stream, method, path, headers, body).await;
    read_response(&mut stream).await
}

/// POSTs a BOSH body to `path`.
pub async fn post_at(addr: SocketAddr, path: &'static str, body: String) -> HttpResponse {
    request(addr, "POST", path, &[], body.as_bytes()).await
}

/// POSTs a BOSH body to `/http-bind`.
pub async fn post(addr: SocketAddr, body: &str) -> HttpResponse {
    request(
        addr,
        "POST",
        "/http-bind",
        &[("Content-Type", "text/xml; charset=utf-8")],
        body.as_bytes(),
    )
    .await
}

/// POSTs with an `Origin`.
pub async fn post_from(addr: SocketAddr, origin: &str, body: &str) -> HttpResponse {
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
    .await
}

// ---------------------------------------------------------------------------
// BOSH bodies
// ---------------------------------------------------------------------------

pub fn creation(rid: u64, to: &str) -> String {
    format!(
        "<body rid='{rid}' to='{to}' wait='60' hold='1' ver='1.6' xml:lang='en' \
         xmpp:version='1.0' xmlns='{NS}' xmlns:xmpp='urn:xmpp:xbosh'/>"
    )
}

pub fn empty(sid: &str, rid: u64) -> String {
    format!("<body rid='{rid}' sid='{sid}' xmlns='{NS}'/>")
}

pub fn with_payload(sid: &str, rid: u64, payload: &str) -> String {
    format!("<body rid='{rid}' sid='{sid}' xmlns='{NS}'>{payload}</body>")
}

pub fn terminate(sid: &str, rid: u64, payload: &str) -> String {
    format!("<body rid='{rid}' sid='{sid}' type='terminate' xmlns='{NS}'>{payload}</body>")
}

/// Creates a session against the echo server; returns the sid, the next
/// rid and the upstream connection.
pub async fn create_session(cm: &Cm, fake: &mut FakeXmpp) -> (String, u64, FakeConn) {
    let resp = post(cm.addr, &creation(1000, "example.com")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.bosh();
    let sid = body.attrs.sid.clone().expect("creation response has a sid");
    let mut conn = fake.next_conn().await;
    conn.wait_for("<stream:stream").await;
    (sid, 1001, conn)
}

/// The `condition` of a terminate body.
pub fn condition(resp: &HttpResponse) -> Option<String> {
    resp.bosh().attrs.condition.map(|c| c.as_str().to_owned())
}
