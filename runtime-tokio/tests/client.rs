//! The tokio BOSH client (`runtime_tokio::client`, i.e. the driver's client
//! task on `TokioRuntime`) against an in-process `bosh-cm` and the fake
//! XMPP server, sometimes through a fault-injecting HTTP proxy that records
//! every request.

mod common;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use bosh_core::body::{ParseLimits, parse};
use bytes::Bytes;
use common::*;
use runtime_tokio::client::{
    self, ClientError, ClientOptions, ConnectError, Credentials, DisconnectReason, Event,
    EventStream, SessionState, UrlError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// A short pause: "some time later".
const SHORT: std::time::Duration = std::time::Duration::from_millis(100);

const AUTH: &str =
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>";
const MESSAGE: &str =
    "<message xmlns='jabber:client' to='echo@example.com' type='chat'><body>hi</body></message>";

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/http-bind")
}

fn options() -> ClientOptions {
    ClientOptions::new("example.com")
}

/// The next event, bounded.
async fn next(events: &mut EventStream) -> Option<Event> {
    timeout(LIMIT, events.next_event())
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
// A recording, fault-injecting HTTP/1.1 proxy
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
}

struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    async fn start(upstream: SocketAddr, faults: Vec<Fault>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState {
            faults,
            ..ProxyState::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                shared.lock().unwrap().connections += 1;
                tokio::spawn(proxy_connection(client, upstream, shared.clone()));
            }
        });
        Proxy { addr, state, task }
    }

    fn bodies(&self) -> Vec<String> {
        self.state.lock().unwrap().bodies.clone()
    }

    fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    fn faults_left(&self) -> usize {
        self.state.lock().unwrap().faults.len()
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

async fn proxy_connection(
    downstream: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_r, client_w) = downstream.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    let client_w = Arc::new(tokio::sync::Mutex::new(client_w));
    let back_w = client_w.clone();
    let back = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = server_r.read(&mut buf).await {
            if n == 0 || back_w.lock().await.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = back_w.lock().await.shutdown().await;
    });
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    'conn: loop {
        let n = match client_r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some((head, end)) = request_len(&buf) {
            let request: Vec<u8> = buf.drain(..end).collect();
            let text = String::from_utf8_lossy(&request).into_owned();
            let fault = {
                let mut st = state.lock().unwrap();
                st.bodies.push(text[head..].to_owned());
                let i = st.faults.iter().position(|f| text.contains(f.needle()));
                i.map(|i| st.faults.remove(i))
            };
            match fault {
                None => {
                    if server_w.write_all(&request).await.is_err() {
                        break 'conn;
                    }
                }
                Some(Fault::DropBeforeForwarding(_)) => break 'conn,
                Some(Fault::DropAfterForwarding(_)) => {
                    let _ = server_w.write_all(&request).await;
                    break 'conn;
                }
                Some(Fault::Status(status, _)) => {
                    let answer = format!(
                        "HTTP/1.1 {status} Injected\r\nLocation: http://127.0.0.1:1/elsewhere\r\n\
                         Content-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let mut w = client_w.lock().await;
                    let _ = w.write_all(answer.as_bytes()).await;
                    let _ = w.shutdown().await;
                    break 'conn;
                }
            }
        }
    }
    // Closing both sides: the client sees a reset or EOF, the connection
    // manager sees its client go away.
    back.abort();
    drop(server_w);
}

fn rid_of(body: &str) -> Option<u64> {
    parse(body.as_bytes(), &ParseLimits::default())
        .ok()?
        .attrs
        .rid
        .map(|r| r.get())
}

/// Connects and waits for `Connected` and the first features.
async fn connected(url: &str) -> (client::BoshClient, EventStream) {
    let (c, mut events) = client::connect(url, options()).await.expect("connect");
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

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_send_receive_restart_and_terminate() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let (c, mut events) = connected(&url(cm.addr)).await;
    let mut conn = fake.next_conn().await;
    assert!(c.is_connected());
    assert!(c.sid().is_some());

    c.send(AUTH).unwrap();
    expect(&mut events, stanza_containing("<success")).await;
    conn.wait_for("</auth>").await;

    c.restart().unwrap();
    expect(&mut events, features_containing("xmpp-bind")).await;
    conn.wait_for_count("<stream:stream", 2).await;

    c.send(MESSAGE).unwrap();
    let echo = expect(&mut events, stanza_containing("<body>echo</body>")).await;
    assert!(echo.contains("xmlns='jabber:client'"), "standalone: {echo}");
    conn.wait_for("<body>hi</body>").await;

    c.terminate(["<presence xmlns='jabber:client' type='unavailable'/>"])
        .unwrap();
    assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    let seen = conn.wait_for("</stream:stream>").await;
    assert!(seen.contains("type='unavailable'"), "{seen}");
    assert_eq!(
        next(&mut events).await,
        None,
        "the stream ends after Disconnected"
    );
    assert_eq!(c.send(MESSAGE), Err(ClientError::Disconnected));
    assert!(c.is_disconnected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_helper_does_sasl_plain_restart_and_bind() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let (c, mut events) = client::connect(&url(cm.addr), options()).await.unwrap();
    let mut conn = fake.next_conn().await;
    let creds = Credentials::new("alice@example.com/desk", "pw").unwrap();
    let server = async {
        let seen = conn.wait_for("xmpp-bind").await;
        assert!(seen.contains("AGFsaWNlAHB3"), "PLAIN of alice/pw: {seen}");
        assert!(seen.contains("<resource>desk</resource>"), "{seen}");
        conn.send(
            "<iq xmlns='jabber:client' type='result' id='bosh-login-bind'>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.com/desk</jid></bind></iq>",
        );
    };
    let (logged_in, ()) = tokio::join!(client::login(&c, &mut events, &creds, LIMIT), server);
    let logged_in = logged_in.expect("login");
    assert_eq!(logged_in.jid, "alice@example.com/desk");
    assert_eq!(
        c.export().unwrap().jid.as_deref(),
        Some("alice@example.com/desk")
    );
    c.terminate(Vec::<Bytes>::new()).unwrap();
    assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_attach_continues_with_the_next_rid() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let proxy = Proxy::start(cm.addr, Vec::new()).await;
    let (first, mut events) = connected(&url(proxy.addr)).await;
    let mut conn = fake.next_conn().await;
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
    // attaches some time later; attaching while one of them is still on its
    // way races with it (see the report on the connection manager's gap
    // skipping).
    let all_sent = async {
        while !proxy
            .bodies()
            .iter()
            .any(|b| rid_of(b) == Some(state.rid.get() - 1))
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    timeout(LIMIT, all_sent)
        .await
        .expect("the in-flight requests of the detached client were sent");
    tokio::time::sleep(SHORT).await;

    let (second, mut events) = client::attach(&url(proxy.addr), options(), state.clone())
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
    conn.wait_for("<body>hi</body>").await;

    // Every rid, from the creation request on, reached the connection
    // manager once (no gap at the hand-over), the attached client starting
    // at the exported one.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_before_forwarding_is_retried_with_the_same_rid() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let proxy = Proxy::start(
        cm.addr,
        vec![Fault::DropBeforeForwarding("<body>hi</body>")],
    )
    .await;
    let (c, mut events) = connected(&url(proxy.addr)).await;
    let mut conn = fake.next_conn().await;
    c.send(MESSAGE).unwrap();
    expect(&mut events, stanza_containing("<body>echo</body>")).await;
    assert_eq!(proxy.faults_left(), 0);
    let copies = resent(&proxy.bodies(), "<body>hi</body>");
    assert_eq!(copies.len(), 2);
    let seen = conn.wait_for("<body>hi</body>").await;
    assert_eq!(seen.matches("<body>hi</body>").count(), 1, "{seen}");
    let ended = c.terminate(Vec::<Bytes>::new());
    if ended.is_err() {
        let mut after = Vec::new();
        while let Ok(Some(e)) = timeout(SHORT, events.next_event()).await {
            after.push(e);
        }
        panic!("{ended:?}: {after:?}\nrequests: {:#?}", proxy.bodies());
    }
    assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_request_is_retried_and_delivered_once() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let proxy = Proxy::start(cm.addr, vec![Fault::DropAfterForwarding("<body>hi</body>")]).await;
    let (c, mut events) = connected(&url(proxy.addr)).await;
    let mut conn = fake.next_conn().await;
    c.send(MESSAGE).unwrap();
    expect(&mut events, stanza_containing("<body>echo</body>")).await;
    resent(&proxy.bodies(), "<body>hi</body>");
    // The connection manager got the request twice but delivers it once.
    let seen = conn.wait_for("<body>hi</body>").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(seen.matches("<body>hi</body>").count(), 1, "{seen}");
    c.terminate(Vec::<Bytes>::new()).unwrap();
    assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_answer_is_retried_with_the_same_rid() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    // The creation request is the one carrying xmpp:version.
    let proxy = Proxy::start(cm.addr, vec![Fault::Status(503, "xmpp:version")]).await;
    let (c, mut events) = connected(&url(proxy.addr)).await;
    assert_eq!(proxy.faults_left(), 0);
    resent(&proxy.bodies(), "xmpp:version");
    c.terminate(Vec::<Bytes>::new()).unwrap();
    assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    drop(fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let proxy = Proxy::start(cm.addr, vec![Fault::Status(302, "xmpp:version")]).await;
    let (_c, mut events) = client::connect(&url(proxy.addr), options()).await.unwrap();
    assert_eq!(
        expect_end(&mut events).await,
        DisconnectReason::HttpStatus(302)
    );
    assert_eq!(proxy.bodies().len(), 1, "nothing else was sent");
    assert_eq!(fake.accepted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_reused() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let proxy = Proxy::start(cm.addr, Vec::new()).await;
    let (c, mut events) = connected(&url(proxy.addr)).await;
    for _ in 0..5 {
        c.send(MESSAGE).unwrap();
        expect(&mut events, stanza_containing("<body>echo</body>")).await;
    }
    let requests = proxy.bodies().len();
    assert!(requests >= 7, "{requests}");
    // At most one connection per concurrent request (two), plus slack for
    // connections the connection manager closed.
    assert!(
        proxy.connections() <= 3,
        "{} connections",
        proxy.connections()
    );
    c.terminate(Vec::<Bytes>::new()).unwrap();
    assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_terminates_the_session() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let (c, mut events) = connected(&url(cm.addr)).await;
    let mut conn = fake.next_conn().await;
    let other = c.clone();
    drop(c);
    other.send(MESSAGE).unwrap();
    expect(&mut events, stanza_containing("<body>echo</body>")).await;
    drop(other);
    assert_eq!(expect_end(&mut events).await, DisconnectReason::Terminated);
    conn.wait_for("</stream:stream>").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_closed_ports_fail_at_connect() {
    let err = client::connect("https://127.0.0.1:1/http-bind", options())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectError::Url(UrlError::UnsupportedScheme(ref s)) if s == "https"),
        "{err}"
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = timeout(LIMIT, client::connect(&url(addr), options()))
        .await
        .expect("connect is bounded")
        .unwrap_err();
    assert!(matches!(err, ConnectError::Connect { .. }), "{err}");
    let err = client::connect(&url(addr), ClientOptions::new(""))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Session(_)), "{err}");
}
