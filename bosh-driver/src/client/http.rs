//! HTTP/1.1 POSTs to the connection manager: hyper 1 client connections on
//! [`Runtime::connect_tcp`] streams, kept alive in a small pool.
//!
//! One request at a time per connection (no pipelining): with `hold = 1` the
//! session has at most two requests in flight (three while terminating), so
//! the pool holds at most a few idle connections. Every request either
//! reuses an idle connection or opens a new one; a request that fails on a
//! reused connection before any response arrived (the server closed it while
//! idle) is sent once more on a fresh connection: a BOSH request may always
//! be repeated byte-identical (XEP-0124 §14.3).
//!
//! Cancelling a request (dropping its future) closes its connection, which is
//! how the connection manager learns that the client gave up on it.
//!
//! With [`Http2Connections`] the requests go instead as streams of h2c
//! connections (HTTP/2 with prior knowledge, RFC 9113 §3.3) shared by every
//! client given the same handle; cancelling a request then resets its
//! stream (RFC 9113 §8.1), which the connection manager reads as the same
//! abort.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bosh_core::client::Outcome;
use bytes::Bytes;
use futures_channel::oneshot;
use futures_util::FutureExt;
use futures_util::future::Shared;
use http::header::{CONNECTION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use http::{Method, Request};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::client::conn::{http1, http2};
use tracing::{debug, trace};

use super::url::BoshUrl;
use crate::io::HyperExec;
use crate::io::{HyperIo, HyperTimer};
use crate::runtime::{BoxFuture, BoxStream, Runtime, deadline_in, with_deadline};

/// The media type of every request (XEP-0124 §5).
const CONTENT_TYPE_XML: &str = "text/xml; charset=utf-8";

type Sender = http1::SendRequest<OnceBody>;
type Sender2 = http2::SendRequest<OnceBody>;

/// An h2c connection being opened (or opened), awaited by every request
/// that picked it.
type Connecting = Shared<BoxFuture<'static, Result<Sender2, Arc<str>>>>;

/// HTTP/2 connections with prior knowledge (h2c, RFC 9113 §3.3), shared
/// by every [`BoshClient`](super::BoshClient) whose
/// [`ClientOptions::http2`](super::ClientOptions::http2) is a clone of this
/// handle: their requests, held ones included, are streams of at most
/// `max_connections` connections per connection manager (`host:port`).
///
/// For a program that runs many sessions against one connection manager
/// that accepts h2c (`bosh-cm --http2 true`), such as a load generator or
/// a gateway: over HTTP/1.1 every held request needs a connection of its
/// own. Connections are opened when first needed, requests are spread
/// over them in turn, and a connection that closed or failed is replaced.
/// A request beyond the server's stream limit on its connection waits for
/// a stream to end.
#[derive(Clone)]
pub struct Http2Connections {
    max: usize,
    /// A handful at most: looked up by comparison, with no key to build
    /// per request.
    origins: Arc<Mutex<Vec<Origin>>>,
}

/// The connections to one `host:port`.
struct Origin {
    host: String,
    port: u16,
    slots: Vec<Connecting>,
    next: usize,
}

/// Where `url`'s origin is in `origins`, if it is there.
fn origin_of(origins: &[Origin], url: &BoshUrl) -> Option<usize> {
    origins
        .iter()
        .position(|o| o.port == url.port() && o.host == url.host())
}

impl std::fmt::Debug for Http2Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http2Connections")
            .field("max_connections", &self.max)
            .field("connections", &self.connections())
            .finish()
    }
}

impl Http2Connections {
    /// At most `max_connections` (at least 1) connections per connection
    /// manager.
    pub fn new(max_connections: usize) -> Http2Connections {
        Http2Connections {
            max: max_connections.max(1),
            origins: Arc::default(),
        }
    }

    /// Connections opened or being opened, over every connection manager
    /// (closed ones are counted until a request finds them closed).
    pub fn connections(&self) -> usize {
        let origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        origins.iter().map(|o| o.slots.len()).sum()
    }

    /// The next connection to `url` in turn, opened if there are fewer
    /// than the maximum; `true` if it is opened for this pick.
    fn pick(&self, rt: &Arc<dyn Runtime>, url: &BoshUrl, timeout: Duration) -> (Connecting, bool) {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        let at = origin_of(&origins, url).unwrap_or_else(|| {
            origins.push(Origin {
                host: url.host().to_owned(),
                port: url.port(),
                slots: Vec::new(),
                next: 0,
            });
            origins.len() - 1
        });
        let origin = &mut origins[at];
        if origin.slots.len() < self.max {
            let connecting = connect_h2(rt.clone(), url.clone(), timeout)
                .boxed()
                .shared();
            origin.slots.push(connecting.clone());
            return (connecting, true);
        }
        origin.next = (origin.next + 1) % origin.slots.len();
        (origin.slots[origin.next].clone(), false)
    }

    /// Forgets `dead` (failed to open, or closed), so that the next pick
    /// opens a new connection instead.
    fn forget(&self, url: &BoshUrl, dead: &Connecting) {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = origin_of(&origins, url) {
            origins[at].slots.retain(|c| !c.ptr_eq(dead));
        }
    }
}

/// How often an h2c connection is checked with a PING.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);

/// Opens one h2c connection and spawns its driver.
async fn connect_h2(
    rt: Arc<dyn Runtime>,
    url: BoshUrl,
    timeout: Duration,
) -> Result<Sender2, Arc<str>> {
    let at = deadline_in(&*rt, timeout);
    let stream = tcp(&*rt, &url, at)
        .await
        .map_err(|e| Arc::from(e.to_string()))?;
    let mut builder = http2::Builder::new(HyperExec(rt.clone()));
    // A connection whose peer vanished without a FIN or RST (a crash, a NAT
    // timeout) is found by a PING that goes unanswered, and then closed
    // and replaced; over HTTP/1.1 the session's abort of a request that
    // timed out closes its connection instead.
    builder
        .timer(HyperTimer::new(rt.clone()))
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(timeout)
        .keep_alive_while_idle(true);
    let handshake = builder.handshake::<_, OnceBody>(HyperIo::new(stream));
    open(&rt, at, handshake)
        .await
        .map_err(|e| Arc::from(e.to_string()))
}

/// Completes a hyper client `handshake` by `at` and spawns the connection's
/// driver; returns the sender. The connection ends when every sender is
/// dropped, or when a request future is dropped before its response (hyper
/// then closes an HTTP/1.1 connection, and resets an HTTP/2 stream).
async fn open<S, C>(
    rt: &Arc<dyn Runtime>,
    at: std::time::Instant,
    handshake: impl Future<Output = hyper::Result<(S, C)>>,
) -> io::Result<S>
where
    C: Future<Output = hyper::Result<()>> + Send + 'static,
{
    let (sender, conn) = with_deadline(&**rt, at, handshake)
        .await
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))?
        .map_err(io::Error::other)?;
    rt.spawn(Box::pin(async move {
        if let Err(e) = conn.await {
            trace!(error = %e, "client connection ended");
        }
    }));
    Ok(sender)
}

/// A TCP connection to `url`'s host and port, by `at`.
async fn tcp(rt: &dyn Runtime, url: &BoshUrl, at: std::time::Instant) -> io::Result<BoxStream> {
    let connect = rt.connect_tcp(url.host(), url.port());
    with_deadline(rt, at, connect)
        .await
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
}

/// Knobs of the HTTP side.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_idle: usize,
    pub(crate) user_agent: Option<String>,
    pub(crate) http2: Option<Http2Connections>,
}

/// Posts bodies to one URL.
#[derive(Debug)]
pub(crate) struct HttpClient {
    rt: Arc<dyn Runtime>,
    url: BoshUrl,
    settings: HttpSettings,
    /// What every request's head carries, built once (`None`: the URL or
    /// the user agent makes no valid head, and every request fails).
    head: Option<Head>,
    idle: Mutex<Vec<Sender>>,
}

/// The parts of a request head that are the same for every request.
#[derive(Debug)]
struct Head {
    /// Over HTTP/1.1 the origin form with a `Host` field; over HTTP/2 the
    /// absolute form, whose scheme and authority become pseudo-header
    /// fields (RFC 9113 §8.3.1).
    uri: http::Uri,
    host: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
}

impl Head {
    fn new(url: &BoshUrl, settings: &HttpSettings) -> Result<Head, http::Error> {
        let (uri, host) = if settings.http2.is_some() {
            let absolute = format!("http://{}{}", url.authority(), url.path_and_query());
            (http::Uri::try_from(absolute)?, None)
        } else {
            let host = HeaderValue::try_from(url.authority())?;
            (http::Uri::try_from(url.path_and_query())?, Some(host))
        };
        let user_agent = match &settings.user_agent {
            Some(agent) => Some(HeaderValue::try_from(agent.as_str())?),
            None => None,
        };
        Ok(Head {
            uri,
            host,
            user_agent,
        })
    }
}

/// How one exchange failed.
enum Failed {
    /// Before any response: worth another try on a fresh connection when the
    /// connection was a reused one.
    BeforeResponse,
    /// During or after the response head.
    Later,
}

impl HttpClient {
    pub(crate) fn new(rt: Arc<dyn Runtime>, url: BoshUrl, settings: HttpSettings) -> HttpClient {
        let head = Head::new(&url, &settings)
            .inspect_err(|e| debug!(url = %url, error = %e, "cannot build request heads"))
            .ok();
        HttpClient {
            rt,
            url,
            settings,
            head,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn url(&self) -> &BoshUrl {
        &self.url
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.settings.connect_timeout
    }

    /// Opens a connection (bounded by the connect timeout) and puts it in
    /// the pool: `connect` uses this to fail fast on a wrong URL.
    pub(crate) async fn warm_up(&self) -> io::Result<()> {
        if let Some(h2) = &self.settings.http2 {
            let (slot, _) = h2.pick(&self.rt, &self.url, self.settings.connect_timeout);
            if let Err(e) = slot.clone().await {
                h2.forget(&self.url, &slot);
                return Err(io::Error::other(e.to_string()));
            }
            return Ok(());
        }
        let sender = self.connect().await?;
        self.check_in(sender);
        Ok(())
    }

    /// POSTs `body` and reports the outcome for the session. `written` is
    /// completed once the body is handed to a connection (dropped if the
    /// request fails before that).
    pub(crate) async fn post(&self, body: Bytes, written: oneshot::Sender<()>) -> Outcome {
        let written = Arc::new(Mutex::new(Some(written)));
        if let Some(h2) = &self.settings.http2 {
            return self.post_h2(h2, body, written).await;
        }
        if let Some(sender) = self.check_out() {
            let once = OnceBody::new(body.clone(), written.clone());
            match self.exchange(Conn::H1(sender), once).await {
                Ok(outcome) => return outcome,
                Err(Failed::Later) => return Outcome::TransportFailure,
                Err(Failed::BeforeResponse) => {
                    debug!("reused connection failed before the response; retrying on a new one");
                }
            }
        }
        let sender = match self.connect().await {
            Ok(s) => s,
            Err(e) => {
                debug!(url = %self.url, error = %e, "cannot connect");
                return Outcome::TransportFailure;
            }
        };
        self.exchange(Conn::H1(sender), OnceBody::new(body, written))
            .await
            .unwrap_or(Outcome::TransportFailure)
    }

    /// [`post`](Self::post) on a shared h2c connection. As over HTTP/1.1,
    /// a request that fails before any response is sent once more if its
    /// connection was not opened for it (it may be closing, e.g. after a
    /// `GOAWAY`); a connection found failed or closed is forgotten, so that
    /// a later pick opens a new one.
    async fn post_h2(&self, h2: &Http2Connections, body: Bytes, written: Written) -> Outcome {
        let forget_if_dead = |slot: &Connecting| {
            if !matches!(slot.peek(), Some(Ok(sender)) if !sender.is_closed()) {
                h2.forget(&self.url, slot);
            }
        };
        for attempt in 0..2 {
            let (slot, fresh) = h2.pick(&self.rt, &self.url, self.settings.connect_timeout);
            let may_retry = attempt == 0 && !fresh;
            let sender = match slot.clone().await {
                Ok(sender) if !sender.is_closed() => sender,
                other => {
                    forget_if_dead(&slot);
                    if may_retry {
                        continue;
                    }
                    if let Err(e) = other {
                        debug!(url = %self.url, error = %e, "cannot connect (HTTP/2)");
                    }
                    return Outcome::TransportFailure;
                }
            };
            let once = OnceBody::new(body.clone(), written.clone());
            match self.exchange(Conn::H2(sender), once).await {
                Ok(outcome) => return outcome,
                Err(failed) => {
                    forget_if_dead(&slot);
                    if !(may_retry && matches!(failed, Failed::BeforeResponse)) {
                        return Outcome::TransportFailure;
                    }
                    debug!("HTTP/2 request failed before the response; retrying");
                }
            }
        }
        Outcome::TransportFailure
    }

    async fn connect(&self) -> io::Result<Sender> {
        let at = deadline_in(&*self.rt, self.settings.connect_timeout);
        let stream = tcp(&*self.rt, &self.url, at).await?;
        let handshake = http1::Builder::new().handshake::<_, OnceBody>(HyperIo::new(stream));
        open(&self.rt, at, handshake).await
    }

    /// Closes every idle connection (the session is over).
    pub(crate) fn close_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn check_out(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn check_in(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.settings.max_idle {
            idle.push(sender);
        }
    }

    async fn exchange(&self, mut conn: Conn, body: OnceBody) -> Result<Outcome, Failed> {
        let ready = match &mut conn {
            Conn::H1(sender) => sender.ready().await,
            Conn::H2(sender) => sender.ready().await,
        };
        ready.map_err(|_| Failed::BeforeResponse)?;
        let Some(head) = &self.head else {
            return Err(Failed::Later);
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(head.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_XML));
        if let Some(host) = &head.host {
            builder = builder.header(HOST, host.clone());
        }
        if let Some(agent) = &head.user_agent {
            builder = builder.header(USER_AGENT, agent.clone());
        }
        let request = builder.body(body).map_err(|e| {
            debug!(error = %e, "cannot build the request");
            Failed::Later
        })?;
        let response = match &mut conn {
            Conn::H1(sender) => sender.send_request(request).await,
            Conn::H2(sender) => sender.send_request(request).await,
        };
        let response = response.map_err(|e| {
            debug!(error = %e, "request failed before a response");
            Failed::BeforeResponse
        })?;
        let status = response.status().as_u16();
        let close = response
            .headers()
            .get(CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        let limited = Limited::new(response.into_body(), self.settings.max_response_bytes);
        let body = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                debug!(status, error = %e, "response body failed or was too large");
                return Err(Failed::Later);
            }
        };
        trace!(status, bytes = body.len(), "response");
        if let Conn::H1(sender) = conn
            && !close
        {
            self.check_in(sender);
        }
        Ok(Outcome::Http { status, body })
    }
}

/// The connection a request goes on.
enum Conn {
    /// An HTTP/1.1 connection of this client's, for this request alone.
    H1(Sender),
    /// A shared HTTP/2 connection (a new stream).
    H2(Sender2),
}

/// Who waits for a request's body to be handed to a connection (shared by
/// the attempts of one request).
type Written = Arc<Mutex<Option<oneshot::Sender<()>>>>;

/// A request body sent in one frame, which reports when hyper took it.
#[derive(Debug)]
pub(crate) struct OnceBody {
    data: Option<Bytes>,
    len: u64,
    written: Written,
}

impl OnceBody {
    fn new(data: Bytes, written: Written) -> OnceBody {
        OnceBody {
            len: data.len() as u64,
            data: Some(data),
            written,
        }
    }
}

impl Body for OnceBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let Some(data) = this.data.take() else {
            return Poll::Ready(None);
        };
        let waiter = this
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waiter) = waiter {
            let _ = waiter.send(());
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}
