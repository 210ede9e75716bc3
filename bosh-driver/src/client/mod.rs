//! The BOSH client (XEP-0124, XEP-0206) over any [`Runtime`]: the async
//! side of [`bosh_core::client::ClientSession`], the Rust counterpart of
//! Strophe.js's BOSH transport.
//!
//! [`BoshClient::connect`] (or [`BoshClient::attach`]) starts one task that
//! owns the session. It drains the session after every input, POSTs each
//! body the session asks for on an HTTP/1.1 connection of its own (hyper 1
//! client connections on [`Runtime::connect_tcp`] streams, kept alive and
//! reused), cancels the requests the session aborts, reports every response
//! and transport failure back, and arms one runtime timer at the session's
//! `poll_timeout()` (request deadlines, back-off, batching, polling, the
//! reply window after stream features, pause and disconnect timeouts). Resends, timeouts and error counting are the
//! core's: the task does exactly what the session outputs.
//!
//! The application talks to the session through the [`BoshClient`] handle
//! (commands, synchronous, each a thin call into the session under a lock)
//! and reads what happens from the [`EventStream`].
//!
//! ```no_run
//! # async fn example(rt: std::sync::Arc<dyn bosh_driver::Runtime>) -> Result<(), Box<dyn std::error::Error>> {
//! use bosh_driver::client::{BoshClient, ClientOptions, Event};
//!
//! let options = ClientOptions::new("example.com");
//! let (client, mut events) =
//!     BoshClient::connect(rt, "http://127.0.0.1:5280/http-bind", options).await?;
//! while let Some(event) = events.next_event().await {
//!     match event {
//!         Event::StreamFeatures { .. } => { /* authenticate, then client.restart()? */ }
//!         Event::Stanza { stanza, .. } => { /* handle it */ }
//!         Event::Disconnected(reason) => { /* the session is over */ }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Choices
//!
//! - **HTTP**: `http://` only (TLS is future work); every request is a
//!   `POST` of `text/xml; charset=utf-8` with `Host` from the URL. The
//!   client never follows redirects: a 3xx ends the session, as every status
//!   other than 200 and the retryable ones does (see the core).
//! - **Connections**: at most one request per connection at a time; idle
//!   keep-alive connections are kept (at most
//!   [`ClientOptions::max_idle_connections`]) and reused. Aborting a request
//!   closes its connection. With [`ClientOptions::http2`] the requests are
//!   instead streams of h2c connections shared with other clients
//!   ([`Http2Connections`]), and aborting one resets its stream.
//! - **Fail fast**: `connect` and `attach` open the first TCP connection
//!   before starting the session (bounded by
//!   [`ClientOptions::connect_timeout`]), so a wrong URL is an error at once
//!   instead of minutes of retries with back-off.
//! - **First rid**: 53 random bits from the OS CSPRNG ([`getrandom`]), drawn
//!   again until in `1..=MAX_FIRST_RID` (XEP-0124 §14.1, §19.3).
//! - **Dropping** the last [`BoshClient`] handle terminates the session
//!   (XEP-0124 §13) in the background; [`BoshClient::detach`] leaves it
//!   running for another process instead.
//! - **Events** are queued without bound: read them.

mod http;
mod task;
mod url;

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bosh_core::Rid;
use bosh_core::client::{ClientSession, MAX_FIRST_RID, RequestId};
use bytes::Bytes;
use futures_channel::mpsc::UnboundedReceiver;
use futures_util::StreamExt;
use futures_util::task::AtomicWaker;

use crate::runtime::{Runtime, deadline_in, with_deadline};
use http::{HttpClient, HttpSettings};

pub use bosh_core::client::{
    ClientConfig, ClientError, DisconnectReason, Event, Failure, SessionParams, SessionState,
    StreamRequest,
};
pub use http::Http2Connections;
pub use url::{BoshUrl, UrlError};

/// Options of a [`BoshClient`]: the session's [`ClientConfig`] and the HTTP
/// side's knobs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The session's configuration: `to` (the XMPP domain), `wait`, `hold`,
    /// timeouts, ….
    pub session: ClientConfig,
    /// Bound on opening one TCP connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Largest response body read; a larger one counts as a transport
    /// failure. Default: the session's parse limit (1 MiB).
    pub max_response_bytes: usize,
    /// Idle keep-alive connections kept for reuse. Default 2.
    pub max_idle_connections: usize,
    /// The `User-Agent` header; `None` sends none. Default
    /// `bosh-driver/<version>`.
    pub user_agent: Option<String>,
    /// Send every request as a stream of these shared h2c connections
    /// instead of on HTTP/1.1 connections of this client's own (the
    /// connection manager must accept h2c). Default `None`.
    pub http2: Option<Http2Connections>,
}

impl ClientOptions {
    /// The defaults, for the XMPP domain `to`.
    pub fn new(to: impl Into<String>) -> ClientOptions {
        ClientOptions::with_session(ClientConfig::new(to))
    }

    /// The defaults around a session configuration.
    pub fn with_session(session: ClientConfig) -> ClientOptions {
        ClientOptions {
            max_response_bytes: session.parse_limits.max_bytes,
            session,
            connect_timeout: Duration::from_secs(10),
            max_idle_connections: 2,
            user_agent: Some(concat!("bosh-driver/", env!("CARGO_PKG_VERSION")).to_owned()),
            http2: None,
        }
    }

    fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            connect_timeout: self.connect_timeout,
            max_response_bytes: self.max_response_bytes,
            max_idle: self.max_idle_connections,
            user_agent: self.user_agent.clone(),
            http2: self.http2.clone(),
        }
    }
}

/// Why [`BoshClient::connect`] or [`BoshClient::attach`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a usable `http://` URL.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The session refused the configuration or the state.
    #[error(transparent)]
    Session(#[from] ClientError),
    /// The first TCP connection could not be opened.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        source: io::Error,
    },
    /// The OS random number generator failed.
    #[error("no randomness for the first rid: {0}")]
    Entropy(String),
}

/// What the handles and the task share.
#[derive(Debug)]
struct Shared {
    rt: Arc<dyn Runtime>,
    http: Arc<HttpClient>,
    state: Mutex<State>,
    /// Set by a command; the task drains the session when it sees it.
    notified: AtomicBool,
    waker: AtomicWaker,
}

#[derive(Debug)]
struct State {
    session: ClientSession,
    /// Live [`BoshClient`] handles; at zero the task terminates the session.
    handles: usize,
    /// [`BoshClient::detach`] was called: stop without terminating.
    detached: bool,
    /// The task is gone: commands fail.
    stopped: bool,
    /// The requests on the wire.
    in_flight: HashMap<RequestId, task::InFlight>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self) {
        self.notified.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

/// A handle on a running BOSH client session: commands go straight to the
/// session, and the client task sends what they produce.
///
/// Cloning gives another handle on the same session. When the last handle is
/// dropped the session is terminated (XEP-0124 §13) in the background,
/// unless it was [detached](Self::detach).
///
/// Commands fail with the core's [`ClientError`]: e.g.
/// [`ClientError::Disconnected`] once the session is over.
pub struct BoshClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BoshClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoshClient")
            .field("url", &self.shared.http.url().to_string())
            .field("sid", &self.sid())
            .finish_non_exhaustive()
    }
}

impl Clone for BoshClient {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        BoshClient {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for BoshClient {
    fn drop(&mut self) {
        let last = {
            let mut st = self.shared.lock();
            st.handles = st.handles.saturating_sub(1);
            st.handles == 0
        };
        if last {
            self.shared.notify();
        }
    }
}

/// Draws a first rid from the OS CSPRNG: uniform in `1..=MAX_FIRST_RID`.
fn random_first_rid() -> Result<Rid, ConnectError> {
    const MASK: u64 = (1 << 53) - 1;
    for _ in 0..64 {
        let r = getrandom::u64().map_err(|e| ConnectError::Entropy(e.to_string()))? & MASK;
        if (1..=MAX_FIRST_RID).contains(&r)
            && let Some(rid) = Rid::new(r)
        {
            return Ok(rid);
        }
    }
    Err(ConnectError::Entropy(
        "the random number generator keeps returning out-of-range values".to_owned(),
    ))
}

impl BoshClient {
    /// Creates a session at `url` (XEP-0124 §7.1): opens the first
    /// connection (bounded by [`ClientOptions::connect_timeout`]), then
    /// starts the client task, which sends the creation request. The first
    /// event is [`Event::Connected`] (or [`Event::Disconnected`]).
    pub async fn connect(
        rt: Arc<dyn Runtime>,
        url: &str,
        options: ClientOptions,
    ) -> Result<(BoshClient, EventStream), ConnectError> {
        let url = BoshUrl::parse(url)?;
        options.session.validate()?;
        let http = Self::open(&rt, url, &options).await?;
        let rid = random_first_rid()?;
        let session = ClientSession::new(options.session, rid, rt.now())?;
        Ok(Self::start(rt, http, session))
    }

    /// Continues a session exported by [`BoshClient::export`] or
    /// [`BoshClient::detach`] (in this or another process), or pre-bound by a
    /// server (Strophe's `attach`): no creation request; the first request
    /// carries `state.rid`. The first event is [`Event::Connected`].
    pub async fn attach(
        rt: Arc<dyn Runtime>,
        url: &str,
        options: ClientOptions,
        state: SessionState,
    ) -> Result<(BoshClient, EventStream), ConnectError> {
        let url = BoshUrl::parse(url)?;
        options.session.validate()?;
        let http = Self::open(&rt, url, &options).await?;
        let session = ClientSession::attach(options.session, state, rt.now())?;
        Ok(Self::start(rt, http, session))
    }

    async fn open(
        rt: &Arc<dyn Runtime>,
        url: BoshUrl,
        options: &ClientOptions,
    ) -> Result<Arc<HttpClient>, ConnectError> {
        let http = Arc::new(HttpClient::new(rt.clone(), url, options.http_settings()));
        http.warm_up()
            .await
            .map_err(|source| ConnectError::Connect {
                url: http.url().to_string(),
                source,
            })?;
        Ok(http)
    }

    fn start(
        rt: Arc<dyn Runtime>,
        http: Arc<HttpClient>,
        session: ClientSession,
    ) -> (BoshClient, EventStream) {
        let shared = Arc::new(Shared {
            rt,
            http,
            state: Mutex::new(State {
                session,
                handles: 1,
                detached: false,
                stopped: false,
                in_flight: HashMap::new(),
            }),
            notified: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        let (tx, rx) = futures_channel::mpsc::unbounded();
        task::spawn(shared.clone(), tx);
        (BoshClient { shared }, EventStream { rx })
    }

    /// Runs one command on the session and wakes the task to send what it
    /// produced.
    fn command<T>(
        &self,
        f: impl FnOnce(&mut ClientSession, std::time::Instant) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let now = self.shared.rt.now();
        let result = {
            let mut st = self.shared.lock();
            if st.stopped || st.detached {
                return Err(ClientError::Disconnected);
            }
            f(&mut st.session, now)
        };
        self.shared.notify();
        result
    }

    /// Sends a payload (one or more complete elements, e.g. a stanza) in
    /// the session (XEP-0124 §8). Stanzas given together are batched into one
    /// request (see [`ClientConfig::batch_delay`]).
    pub fn send(&self, payload: impl Into<Bytes>) -> Result<(), ClientError> {
        let payload = payload.into();
        self.command(|s, now| s.send(now, payload))
    }

    /// Like [`send`](Self::send), to one stream of a multi-stream session
    /// (XEP-0124 §16.4).
    pub fn send_to_stream(
        &self,
        stream: &str,
        payload: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        let payload = payload.into();
        self.command(|s, now| s.send_to_stream(now, stream, payload))
    }

    /// Sends the queued stanzas now instead of after the batching delay.
    pub fn flush(&self) -> Result<(), ClientError> {
        self.command(|s, now| {
            s.flush(now);
            Ok(())
        })
    }

    /// Restarts the XMPP stream after SASL success (XEP-0206 §5); the new
    /// features arrive as [`Event::StreamFeatures`].
    pub fn restart(&self) -> Result<(), ClientError> {
        self.command(|s, now| s.restart(now))
    }

    /// Pauses the session for `secs` seconds (XEP-0124 §10), clamped to the
    /// server's `maxpause`; returns the value sent. Call
    /// [`resume`](Self::resume) before it runs out.
    pub fn pause(&self, secs: u16) -> Result<u16, ClientError> {
        self.command(|s, now| s.pause(now, secs))
    }

    /// Ends a pause (XEP-0124 §10).
    pub fn resume(&self) -> Result<(), ClientError> {
        self.command(|s, now| s.resume(now))
    }

    /// Terminates the session (XEP-0124 §13) with `payload` (e.g. an
    /// unavailable presence). [`Event::Disconnected`] follows, with
    /// [`DisconnectReason::Terminated`] once acknowledged.
    pub fn terminate<I>(&self, payload: I) -> Result<(), ClientError>
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        self.command(|s, now| s.terminate(now, payload))
    }

    /// Opens another stream (XEP-0124 §16.3); [`Event::StreamAdded`] names
    /// it.
    pub fn add_stream(
        &self,
        to: impl Into<String>,
        route: Option<String>,
    ) -> Result<StreamRequest, ClientError> {
        let to = to.into();
        self.command(|s, now| s.add_stream(now, to, route))
    }

    /// Closes one stream of a multi-stream session (XEP-0124 §16.5).
    pub fn close_stream<I>(&self, stream: &str, payload: I) -> Result<(), ClientError>
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        self.command(|s, now| s.close_stream(now, stream, payload))
    }

    /// Records the bound JID (after resource binding), for
    /// [`export`](Self::export).
    pub fn set_jid(&self, jid: impl Into<String>) {
        let jid = jid.into();
        self.shared.lock().session.set_jid(jid);
    }

    /// The state another process needs to [`attach`](Self::attach) to this
    /// session. This client goes on; responses to its requests still in
    /// flight go to it, so export when nothing in flight matters, or use
    /// [`detach`](Self::detach).
    pub fn export(&self) -> Result<SessionState, ClientError> {
        self.shared.lock().session.export()
    }

    /// Exports the session and stops this client without terminating the
    /// session; the [`EventStream`] ends. The session lives on at the
    /// connection manager for [`attach`](Self::attach), within its
    /// `inactivity`.
    ///
    /// Requests already in flight are not cancelled: they finish unobserved,
    /// so that the connection manager sees every rid before the attached
    /// client's (a missing rid stalls the session, and one arriving after
    /// the window moved on ends it). This waits, at most
    /// [`ClientOptions::connect_timeout`], until each of them has been
    /// handed to its connection, so the process may exit afterwards.
    /// Whatever their responses carry is lost: detach when nothing
    /// unanswered matters (XEP-0124 leaves this to the application). A
    /// request waiting out a back-off is not sent.
    pub async fn detach(self) -> Result<SessionState, ClientError> {
        let (state, written) = {
            let mut st = self.shared.lock();
            if st.stopped || st.detached {
                return Err(ClientError::Disconnected);
            }
            let state = st.session.export()?;
            // Requests the session has numbered but the task has not started
            // yet (a `send` + `flush` or a `pause` just before): started
            // here, or the task would stop without them and the exported rid
            // would follow a rid the connection manager never sees. Their
            // results, like every result after a detach, are not observed.
            let (results, _ignored) = futures_channel::mpsc::unbounded();
            while let Some(output) = st.session.poll_output() {
                let _ = task::apply(&self.shared, &mut st.in_flight, output, &results);
            }
            st.detached = true;
            let written: Vec<_> = st
                .in_flight
                .values_mut()
                .filter_map(|r| r.written.take())
                .collect();
            (state, written)
        };
        self.shared.notify();
        let rt = &self.shared.rt;
        let at = deadline_in(&**rt, self.shared.http.connect_timeout());
        let all = futures_util::future::join_all(written);
        if with_deadline(&**rt, at, all).await.is_none() {
            tracing::debug!("detach: requests still not sent after the connect timeout");
        }
        Ok(state)
    }

    /// The session id, once the session is created.
    pub fn sid(&self) -> Option<String> {
        self.shared.lock().session.sid().map(str::to_owned)
    }

    /// The session parameters, once the session is created.
    pub fn params(&self) -> Option<SessionParams> {
        self.shared.lock().session.params().cloned()
    }

    /// Whether the session is created and neither terminating nor over.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().session.is_connected()
    }

    /// Whether the session is over (or this client stopped).
    pub fn is_disconnected(&self) -> bool {
        let st = self.shared.lock();
        st.stopped || st.detached || st.session.is_disconnected()
    }

    /// The connection manager's URL.
    pub fn url(&self) -> &BoshUrl {
        self.shared.http.url()
    }

    /// The runtime the client runs on.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.shared.rt
    }
}

/// The events of a [`BoshClient`]'s session, in order: [`Event::Connected`],
/// stream features, stanzas, …, and finally [`Event::Disconnected`], after
/// which the stream ends. It also ends when the client is
/// [detached](BoshClient::detach).
///
/// It is a [`futures_util::Stream`] too.
#[derive(Debug)]
pub struct EventStream {
    rx: UnboundedReceiver<Event>,
}

impl EventStream {
    /// The next event; `None` once the session is over and every event was
    /// read.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.rx.next().await
    }
}

impl futures_util::Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_rids_are_in_range_and_differ() {
        let a = random_first_rid().unwrap().get();
        let b = random_first_rid().unwrap().get();
        assert!((1..=MAX_FIRST_RID).contains(&a));
        assert!((1..=MAX_FIRST_RID).contains(&b));
        assert_ne!(a, b, "53 random bits twice the same");
    }
}
