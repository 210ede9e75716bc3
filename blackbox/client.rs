//! The BOSH client suite, run on every runtime: the driver's client task on
//! the runtime under test, against a connection manager on that runtime
//! and the fake XMPP server (sometimes through a fault-injecting HTTP proxy
//! that records every request), against Prosody's own BOSH, and through
//! the runtime's connection manager binary to Prosody.
//!
//! The including module (`super`) provides the runtime under test:
//!
//! - `BIN`: its connection manager binary;
//! - `block_on(future)`: runs a test body on it;
//! - `runtime() -> Arc<dyn Runtime>`: the runtime (inside `block_on`);
//! - `connect(url, options)` and `attach(url, options, state)`: its client
//!   API (async).
//!
//! The crate root provides the modules `support` and `prosody`. The fake
//! server and the proxy are std threads, so the test bodies may wait on
//! them synchronously; the client's and the server's tasks run on the
//! runtime's own threads meanwhile.

use std::future::Future;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bosh_core::body::{ParseLimits, parse};
use bosh_driver::client::{
    BoshClient, ClientError, ClientOptions, ConnectError, DisconnectReason, Event, EventStream,
    Http2Connections, SessionState, UrlError,
};
use bosh_driver::xmpp_login::{self, Credentials, stanza_info};
use bosh_driver::{Config, Server, ShutdownHandle};
use bytes::Bytes;

use super::{attach, block_on, connect, runtime};
use crate::prosody::Prosody;
use crate::support::{CmArgs, CmProcess, FakeXmpp, LIMIT, Mode};

/// A short pause: "some time later".
const SHORT: Duration = Duration::from_millis(100);

const AUTH: &str =
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>";
const MESSAGE: &str =
    "<message xmlns='jabber:client' to='echo@example.com' type='chat'><body>hi</body></message>";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// Time on the runtime under test
// ---------------------------------------------------------------------------

/// `fut`, or `None` if `limit` passes first (on the runtime's timer).
async fn within<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let rt = runtime();
    bosh_driver::with_deadline(&*rt, rt.now() + limit, fut).await
}

async fn sleep(d: Duration) {
    let rt = runtime();
    rt.timer(rt.now() + d).await;
}

// ---------------------------------------------------------------------------
// The connection manager on the runtime under test
// ---------------------------------------------------------------------------

/// A connection manager in process; shut down when dropped.
struct Cm {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
}

impl Drop for Cm {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

fn test_config(upstream: SocketAddr) -> Config {
    Config {
        listen: "127.0.0.1:0".to_owned(),
        upstream: Some(upstream.to_string()),
        max_wait: 2,
        shutdown_grace: 5,
        ..Config::default()
    }
}

async fn start_cm(config: Config) -> Cm {
    let settings = config.validate().expect("test config is valid");
    let rt = runtime();
    let server = Server::bind(rt.clone(), settings).await.expect("bind");
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    rt.spawn(Box::pin(server.run()));
    Cm { addr, shutdown }
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/http-bind")
}

fn options() -> ClientOptions {
    ClientOptions::new("example.com")
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// The next event, bounded.
async fn next(events: &mut EventStream) -> Option<Event> {
    within(LIMIT, events.next_event())
        .await
        .expect("no event in time")
}

/// Waits for the first event `pick` accepts; panics on the end of the
/// session or after `LIMIT`.
async fn expect<T>(events: &mut EventStream, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let mut skipped = Vec::new();
    loop {
        match next(events).await {
            Some(e) => {
                if let Some(t) = pick(&e) {
                    return t;
                }
                if let Event::Disconnected(reason) = e {
                    panic!("session ended: {reason:?}; before that: {skipped:?}");
                }
                skipped.push(e);
            }
            None => panic!("event stream ended; before that: {skipped:?}"),
        }
    }
}

fn stanza_containing(needle: &'static str) -> impl FnMut(&Event) -> Option<String> {
    move |e| match e {
        Event::Stanza { stanza, .. } => {
            let text = String::from_utf8_lossy(stanza).into_owned();
            text.contains(needle).then_some(text)
        }
        _ => None,
    }
}

fn features_containing(needle: &'static str) -> impl FnMut(&Event) -> Option<String> {
    move |e| match e {
        Event::StreamFeatures { features, .. } => {
            let text = String::from_utf8_lossy(features).into_owned();
            text.contains(needle).then_some(text)
        }
        _ => None,
    }
}

/// Waits for the end of the session and returns its reason.
async fn expect_end(events: &mut EventStream) -> DisconnectReason {
    loop {
        match next(events).await {
            Some(Event::Disconnected(r)) => return r,
            Some(_) => {}
            None => panic!("event stream ended without Disconnected"),
        }
    }
}

// ---------------------------------------------------------------------------
// A recording, fault-injecting HTTP/1.1 proxy (std threads)
// ---------------------------------------------------------------------------

/// What the proxy does to the first request whose bytes contain `needle`.
#[derive(Debug, Clone)]
enum Fault {
    /// Close the client's connection without forwarding the request.
    DropBeforeForwarding(&'static str),
    /// Forward the request, then close the client's connection at once,
    /// before the response.
    DropAfterForwarding(&'static str),
    /// Answer with this status (and `Connection: close`) instead of
    /// forwarding.
    Status(u16, &'static str),
}

impl Fault {
    fn needle(&self) -> &'static str {
        match self {
            Fault::DropBeforeForwarding(n)
            | Fault::DropAfterForwarding(n)
            | Fault::Status(_, n) => n,
        }
    }
}

#[derive(Default)]
struct ProxyState {
    /// Every request body seen, in order, faulty ones included.
    bodies: Vec<String>,
    faults: Vec<Fault>,
    connections: usize,
    /// Bytes pass through untouched, not parsed as HTTP/1.1 requests.
    raw: bool,
}

struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

impl Proxy {
    fn start(upstream: SocketAddr, faults: Vec<Fault>) -> Proxy {
        Proxy::spawn(
            upstream,
            ProxyState {
                faults,
                ..ProxyState::default()
            },
        )
    }

    /// A plain TCP relay (any protocol, h2c included) that still counts
    /// the connections it accepts.
    fn relay(upstream: SocketAddr) -> Proxy {
        Proxy::spawn(
            upstream,
            ProxyState {
                raw: true,
                ..ProxyState::default()
            },
        )
    }

    fn spawn(upstream: SocketAddr, state: ProxyState) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(state));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            while let Ok((client, _)) = listener.accept() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                lock(&shared).connections += 1;
                let shared = shared.clone();
                std::thread::spawn(move || proxy_connection(client, upstream, shared));
            }
        });
        Proxy { addr, state, stop }
    }

    fn bodies(&self) -> Vec<String> {
        lock(&self.state).bodies.clone()
    }

    fn connections(&self) -> usize {
        lock(&self.state).connections
    }

    fn faults_left(&self) -> usize {
        lock(&self.state).faults.len()
    }
}

/// The length of the first complete request in `buf`, if any.
fn request_len(buf: &[u8]) -> Option<(usize, usize)> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..head]);
    let length: usize = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= head + length).then_some((head, head + length))
}

fn proxy_connection(
    mut downstream: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
) {
    use std::io::{Read, Write};
    let Ok(mut server) = TcpStream::connect(upstream) else {
        let _ = downstream.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(client_w), Ok(mut server_r)) = (downstream.try_clone(), server.try_clone()) else {
        return;
    };
    let client_w = Arc::new(Mutex::new(client_w));
    let back_w = client_w.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = server_r.read(&mut buf) {
            if n == 0 || lock(&back_w).write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = lock(&back_w).shutdown(Shutdown::Write);
    });
    if lock(&state).raw {
        let _ = std::io::copy(&mut downstream, &mut server);
    } else {
        forward_requests(&mut downstream, &mut server, &client_w, &state);
    }
    // Closing both sides: the client sees a reset or EOF, the connection
    // manager sees its client go away (and the copying thread ends).
    let _ = downstream.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

/// Forwards the client's HTTP/1.1 requests one by one, applying the first
/// fault whose needle a request contains; returns when either side ends.
fn forward_requests(
    downstream: &mut TcpStream,
    server: &mut TcpStream,
    client_w: &Mutex<TcpStream>,
    state: &Mutex<ProxyState>,
) {
    use std::io::{Read, Write};
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match downstream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some((head, end)) = request_len(&buf) {
            let request: Vec<u8> = buf.drain(..end).collect();
            let text = String::from_utf8_lossy(&request).into_owned();
            let fault = {
                let mut st = lock(state);
                st.bodies.push(text[head..].to_owned());
                let i = st.faults.iter().position(|f| text.contains(f.needle()));
                i.map(|i| st.faults.remove(i))
            };
            match fault {
                None => {
                    if server.write_all(&request).is_err() {
                        return;
                    }
                }
                Some(Fault::DropBeforeForwarding(_)) => return,
                Some(Fault::DropAfterForwarding(_)) => {
                    let _ = server.write_all(&request);
                    return;
                }
                Some(Fault::Status(status, _)) => {
                    let answer = format!(
                        "HTTP/1.1 {status} Injected\r\nLocation: http://127.0.0.1:1/elsewhere\r\n\
                         Content-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let mut w = lock(client_w);
                    let _ = w.write_all(answer.as_bytes());
                    let _ = w.shutdown(Shutdown::Write);
                    return;
                }
            }
        }
    }
}

fn rid_of(body: &str) -> Option<u64> {
    parse(body.as_bytes(), &ParseLimits::default())
        .ok()?
        .attrs
        .rid
        .map(|r| r.get())
}

/// Connects and waits for `Connected` and the first features.
async fn connected(url: &str) -> (BoshClient, EventStream) {
    let (c, mut events) = connect(url, options()).await.expect("connect");
    let params = expect(&mut events, |e| match e {
        Event::Connected(p) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!(params.sid.len(), 32);
    assert_eq!((params.wait, params.hold, params.requests), (2, 1, 2));
    expect(&mut events, features_containing("PLAIN")).await;
    (c, events)
}

/// The same rid is sent again with the same bytes; returns the copies.
fn resent(bodies: &[String], needle: &str) -> Vec<String> {
    let copies: Vec<String> = bodies
        .iter()
        .filter(|b| b.contains(needle))
        .cloned()
        .collect();
    assert!(copies.len() >= 2, "not resent: {bodies:#?}");
    assert!(
        copies.iter().all(|c| c == &copies[0]),
        "resends are byte-identical: {copies:#?}"
    );
    assert!(rid_of(&copies[0]).is_some());
    copies
}

// ---------------------------------------------------------------------------
// Against the fake XMPP server
// ---------------------------------------------------------------------------

#[test]
fn connect_send_receive_restart_and_terminate() {
    block_on(async {
        let mut fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let (c, mut events) = connected(&url(cm.addr)).await;
        let mut conn = fake.next_conn();
        assert!(c.is_connected());
        assert!(c.sid().is_some());

        c.send(AUTH).unwrap();
        expect(&mut events, stanza_containing("<success")).await;
        conn.wait_for("</auth>");

        c.restart().unwrap();
        expect(&mut events, features_containing("xmpp-bind")).await;
        conn.wait_for_count("<stream:stream", 2);

        c.send(MESSAGE).unwrap();
        let echo = expect(&mut events, stanza_containing("<body>echo</body>")).await;
        assert!(echo.contains("xmlns='jabber:client'"), "standalone: {echo}");
        conn.wait_for("<body>hi</body>");

        c.terminate(["<presence xmlns='jabber:client' type='unavailable'/>"])
            .unwrap();
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
        let seen = conn.wait_for("</stream:stream>");
        assert!(seen.contains("type='unavailable'"), "{seen}");
        assert_eq!(
            next(&mut events).await,
            None,
            "the stream ends after Disconnected"
        );
        assert_eq!(c.send(MESSAGE), Err(ClientError::Disconnected));
        assert!(c.is_disconnected());
    });
}

#[test]
fn login_helper_does_sasl_plain_restart_and_bind() {
    block_on(async {
        let mut fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let (c, mut events) = connect(&url(cm.addr), options()).await.unwrap();
        let mut conn = fake.next_conn();
        let creds = Credentials::new("alice@example.com/desk", "pw").unwrap();
        // The server's side waits on a thread while the login runs here.
        let server = std::thread::spawn(move || {
            let seen = conn.wait_for("xmpp-bind");
            assert!(seen.contains("AGFsaWNlAHB3"), "PLAIN of alice/pw: {seen}");
            assert!(seen.contains("<resource>desk</resource>"), "{seen}");
            conn.send(
                "<iq xmlns='jabber:client' type='result' id='bosh-login-bind'>\
                 <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.com/desk</jid></bind></iq>",
            );
            conn
        });
        let logged_in = xmpp_login::login(&c, &mut events, &creds, LIMIT).await;
        let _conn = server.join().expect("the server side");
        let logged_in = logged_in.expect("login");
        assert_eq!(logged_in.jid, "alice@example.com/desk");
        assert_eq!(
            c.export().unwrap().jid.as_deref(),
            Some("alice@example.com/desk")
        );
        c.terminate(Vec::<Bytes>::new()).unwrap();
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    });
}

#[test]
fn export_then_attach_continues_with_the_next_rid() {
    block_on(async {
        let mut fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let proxy = Proxy::start(cm.addr, Vec::new());
        let (first, mut events) = connected(&url(proxy.addr)).await;
        let mut conn = fake.next_conn();
        first.send(AUTH).unwrap();
        expect(&mut events, stanza_containing("<success")).await;

        // Another process would get the string form.
        let exported = first.detach().await.unwrap().to_string();
        assert_eq!(next(&mut events).await, None, "a detached client stops");
        let before: Vec<u64> = proxy.bodies().iter().filter_map(|b| rid_of(b)).collect();
        let state = SessionState::from_str(&exported).unwrap();
        assert!(
            before.iter().all(|&r| r < state.rid.get()),
            "the state holds the next rid: {before:?} vs {}",
            state.rid
        );
        // The requests the first client had in flight still reach the
        // connection manager (detach does not cancel them). Another process
        // attaches some time later; attaching while one of them is still on
        // its way races with it (see the report on the connection manager's
        // gap skipping).
        let all_sent = async {
            while !proxy
                .bodies()
                .iter()
                .any(|b| rid_of(b) == Some(state.rid.get() - 1))
            {
                sleep(Duration::from_millis(5)).await;
            }
        };
        within(LIMIT, all_sent)
            .await
            .expect("the in-flight requests of the detached client were sent");
        sleep(SHORT).await;

        let (second, mut events) = attach(&url(proxy.addr), options(), state.clone())
            .await
            .expect("attach");
        let params = expect(&mut events, |e| match e {
            Event::Connected(p) => Some(p.clone()),
            _ => None,
        })
        .await;
        assert_eq!(params.sid, state.sid);
        second.restart().unwrap();
        expect(&mut events, features_containing("xmpp-bind")).await;
        second.send(MESSAGE).unwrap();
        expect(&mut events, stanza_containing("<body>echo</body>")).await;
        conn.wait_for("<body>hi</body>");

        // Every rid, from the creation request on, reached the connection
        // manager once (no gap at the hand-over), the attached client
        // starting at the exported one.
        let mut rids: Vec<u64> = proxy.bodies().iter().filter_map(|b| rid_of(b)).collect();
        let restart = proxy
            .bodies()
            .iter()
            .find(|b| b.contains("xmpp:restart"))
            .and_then(|b| rid_of(b))
            .unwrap();
        assert!(restart >= state.rid.get());
        rids.sort_unstable();
        rids.dedup();
        assert!(rids.contains(&state.rid.get()), "{rids:?}");
        assert!(
            rids.windows(2).all(|w| w[1] == w[0] + 1),
            "no gap: {rids:?}"
        );
        second.terminate(Vec::<Bytes>::new()).unwrap();
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    });
}

/// Found in review: a request the session had numbered but the client's
/// task had not started yet (`send` + `flush`, or `pause`, right before
/// `detach`) was never sent, so the exported rid followed one the
/// connection manager never saw, and the attached client stalled.
#[test]
fn detach_right_after_a_send_still_sends_that_rid() {
    block_on(async {
        let fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let proxy = Proxy::start(cm.addr, Vec::new());
        let (client, _events) = connected(&url(proxy.addr)).await;
        // No await between these: the task cannot run in between on a
        // single-threaded executor, and may not on a multi-threaded one.
        client.send(MESSAGE).unwrap();
        client.flush().unwrap();
        let state = client.detach().await.unwrap();
        let last = state.rid.get() - 1;
        let sent = async {
            loop {
                let bodies = proxy.bodies();
                if let Some(b) = bodies.iter().find(|b| rid_of(b) == Some(last)) {
                    return b.clone();
                }
                sleep(Duration::from_millis(5)).await;
            }
        };
        let body = within(LIMIT, sent)
            .await
            .expect("the rid before the exported one reached the connection manager");
        assert!(body.contains("<body>hi</body>"), "{body}");
    });
}

#[test]
fn a_connection_dropped_before_forwarding_is_retried_with_the_same_rid() {
    block_on(async {
        let mut fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let proxy = Proxy::start(
            cm.addr,
            vec![Fault::DropBeforeForwarding("<body>hi</body>")],
        );
        let (c, mut events) = connected(&url(proxy.addr)).await;
        let mut conn = fake.next_conn();
        c.send(MESSAGE).unwrap();
        expect(&mut events, stanza_containing("<body>echo</body>")).await;
        assert_eq!(proxy.faults_left(), 0);
        let copies = resent(&proxy.bodies(), "<body>hi</body>");
        assert_eq!(copies.len(), 2);
        let seen = conn.wait_for("<body>hi</body>");
        assert_eq!(seen.matches("<body>hi</body>").count(), 1, "{seen}");
        let ended = c.terminate(Vec::<Bytes>::new());
        if ended.is_err() {
            let mut after = Vec::new();
            while let Some(Some(e)) = within(SHORT, events.next_event()).await {
                after.push(e);
            }
            panic!("{ended:?}: {after:?}\nrequests: {:#?}", proxy.bodies());
        }
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    });
}

#[test]
fn a_connection_dropped_mid_request_is_retried_and_delivered_once() {
    block_on(async {
        let mut fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let proxy = Proxy::start(cm.addr, vec![Fault::DropAfterForwarding("<body>hi</body>")]);
        let (c, mut events) = connected(&url(proxy.addr)).await;
        let mut conn = fake.next_conn();
        c.send(MESSAGE).unwrap();
        expect(&mut events, stanza_containing("<body>echo</body>")).await;
        resent(&proxy.bodies(), "<body>hi</body>");
        // The connection manager got the request twice but delivers it once.
        let seen = conn.wait_for("<body>hi</body>");
        sleep(Duration::from_millis(200)).await;
        assert_eq!(seen.matches("<body>hi</body>").count(), 1, "{seen}");
        c.terminate(Vec::<Bytes>::new()).unwrap();
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    });
}

#[test]
fn a_503_answer_is_retried_with_the_same_rid() {
    block_on(async {
        let fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        // The creation request is the one carrying xmpp:version.
        let proxy = Proxy::start(cm.addr, vec![Fault::Status(503, "xmpp:version")]);
        let (c, mut events) = connected(&url(proxy.addr)).await;
        assert_eq!(proxy.faults_left(), 0);
        resent(&proxy.bodies(), "xmpp:version");
        c.terminate(Vec::<Bytes>::new()).unwrap();
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
        drop(fake);
    });
}

#[test]
fn redirects_are_not_followed() {
    block_on(async {
        let fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let proxy = Proxy::start(cm.addr, vec![Fault::Status(302, "xmpp:version")]);
        let (_c, mut events) = connect(&url(proxy.addr), options()).await.unwrap();
        assert_eq!(
            expect_end(&mut events).await,
            DisconnectReason::HttpStatus(302)
        );
        assert_eq!(proxy.bodies().len(), 1, "nothing else was sent");
        assert_eq!(fake.accepted(), 0);
    });
}

#[test]
fn keep_alive_connections_are_reused() {
    block_on(async {
        let fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let proxy = Proxy::start(cm.addr, Vec::new());
        let (c, mut events) = connected(&url(proxy.addr)).await;
        for _ in 0..5 {
            c.send(MESSAGE).unwrap();
            expect(&mut events, stanza_containing("<body>echo</body>")).await;
        }
        let requests = proxy.bodies().len();
        assert!(requests >= 7, "{requests}");
        // At most one connection per concurrent request (two), plus slack
        // for connections the connection manager closed.
        assert!(
            proxy.connections() <= 3,
            "{} connections",
            proxy.connections()
        );
        c.terminate(Vec::<Bytes>::new()).unwrap();
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    });
}

/// Sessions whose requests are streams of one shared h2c connection
/// (RFC 9113 §3.3): three held at once, which no single HTTP/1.1
/// connection could carry; the same listener still serves HTTP/1.1.
#[test]
fn rfc9113_3_3_sessions_share_one_h2c_connection() {
    block_on(async {
        let mut fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(Config {
            http2: true,
            ..test_config(fake.addr)
        })
        .await;
        let relay = Proxy::relay(cm.addr);
        let shared = Http2Connections::new(1);
        let mut sessions = Vec::new();
        for _ in 0..3 {
            let mut o = options();
            o.http2 = Some(shared.clone());
            let (c, mut events) = connect(&url(relay.addr), o)
                .await
                .expect("connect over h2c");
            expect(&mut events, features_containing("PLAIN")).await;
            sessions.push((c, events, fake.next_conn()));
        }
        for (c, events, conn) in &mut sessions {
            c.send(MESSAGE).unwrap();
            expect(events, stanza_containing("<body>echo</body>")).await;
            conn.wait_for("<body>hi</body>");
        }
        assert_eq!(shared.connections(), 1);
        let (c, mut events) = connected(&url(cm.addr)).await;
        c.send(MESSAGE).unwrap();
        expect(&mut events, stanza_containing("<body>echo</body>")).await;
        c.terminate(Vec::<Bytes>::new()).unwrap();
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
        for (c, mut events, mut conn) in sessions {
            c.terminate(Vec::<Bytes>::new()).unwrap();
            assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
            conn.wait_for("</stream:stream>");
        }
        assert_eq!(shared.connections(), 1);
        assert_eq!(relay.connections(), 1, "one TCP connection carried it all");
    });
}

#[test]
fn dropping_the_last_handle_terminates_the_session() {
    block_on(async {
        let mut fake = FakeXmpp::start(Mode::Echo);
        let cm = start_cm(test_config(fake.addr)).await;
        let (c, mut events) = connected(&url(cm.addr)).await;
        let mut conn = fake.next_conn();
        let other = c.clone();
        drop(c);
        other.send(MESSAGE).unwrap();
        expect(&mut events, stanza_containing("<body>echo</body>")).await;
        drop(other);
        assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
        conn.wait_for("</stream:stream>");
    });
}

#[test]
fn bad_urls_and_closed_ports_fail_at_connect() {
    block_on(async {
        let err = connect("https://127.0.0.1:1/http-bind", options())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectError::Url(UrlError::UnsupportedScheme(ref s)) if s == "https"),
            "{err}"
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = within(LIMIT, connect(&url(addr), options()))
            .await
            .expect("connect is bounded")
            .unwrap_err();
        assert!(matches!(err, ConnectError::Connect { .. }), "{err}");
        let err = connect(&url(addr), ClientOptions::new(""))
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::Session(_)), "{err}");
    });
}

// ---------------------------------------------------------------------------
// Against Prosody (interop/prosody.rs): its own BOSH, and through the
// runtime's connection manager binary to its c2s port. Without Prosody these
// tests fail (never skip): run `scripts/install-test-deps`.
// ---------------------------------------------------------------------------

/// Bound on every wait for the server.
const PROSODY_LIMIT: Duration = Duration::from_secs(15);
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
/// end of the session or after `PROSODY_LIMIT`.
async fn wait_for<T>(
    events: &mut EventStream,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> Result<T, String> {
    let mut seen = Vec::new();
    let found = within(PROSODY_LIMIT, async {
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
        Some(Some(t)) => Ok(t),
        Some(None) => Err(format!("session ended; events: {seen:?}")),
        None => Err(format!("timed out; events: {seen:?}")),
    }
}

/// The whole flow over one BOSH URL: log in as alice (SASL PLAIN, restart,
/// bind), available presence, a message to her own bare JID that comes
/// back, terminate.
async fn login_message_self_and_terminate(url: &str, p: &Prosody) -> Result<(), String> {
    let options = ClientOptions::new(p.domain());
    let (c, mut events) = connect(url, options)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let creds = Credentials::new(&format!("{}/interop", p.jid("alice")), PASSWORD)
        .map_err(|e| e.to_string())?;
    let logged_in = xmpp_login::login(&c, &mut events, &creds, PROSODY_LIMIT)
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

#[test]
fn prosody_our_client_against_prosodys_own_bosh_endpoint() {
    block_on(async {
        let p = start_prosody();
        let result = login_message_self_and_terminate(&p.bosh_url(), &p).await;
        assert!(
            result.is_ok(),
            "{result:?}\nProsody log:\n{}",
            p.log_tail(40)
        );
    });
}

#[test]
fn prosody_our_client_through_the_bosh_cm_binary_to_prosodys_c2s_port() {
    block_on(async {
        let p = start_prosody();
        let mut cm = CmProcess::start(super::BIN, &CmArgs::test(p.c2s_addr()));
        let result = login_message_self_and_terminate(&cm.url(), &p).await;
        assert!(
            result.is_ok(),
            "{result:?}\nProsody log:\n{}\nbosh-cm log:\n{}",
            p.log_tail(40),
            cm.log()
        );
        cm.terminate();
        let exit = cm.wait_exit(PROSODY_LIMIT);
        assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{}", cm.log());
    });
}

#[test]
fn prosody_wrong_password_is_an_auth_failure() {
    block_on(async {
        let p = start_prosody();
        let (c, mut events) = connect(&p.bosh_url(), ClientOptions::new(p.domain()))
            .await
            .unwrap();
        let creds = Credentials::new(&p.jid("alice"), "wrong").unwrap();
        let err = xmpp_login::login(&c, &mut events, &creds, PROSODY_LIMIT)
            .await
            .unwrap_err();
        assert!(err.is_auth_failure(), "{err}\n{}", p.log_tail(40));
        c.terminate(Vec::<String>::new()).unwrap();
    });
}
