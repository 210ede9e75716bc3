//! The HTTP side: [`BoshService`], on `http` types, usable from hyper
//! directly ([`Server`](crate::Server)) or as a [`tower_service::Service`].
//!
//! Order of work for every request:
//!
//! 1. **CORS first** ([`cors_core::decide`]). A preflight is answered at
//!    once (allowed: 200 with the CORS headers and `Content-Length: 0`;
//!    denied: 403 without them).
//!    Every other response, errors, 413s and terminate bodies included,
//!    carries the decision's headers and `Vary`: a BOSH client that sees an
//!    error without them reads status 0 and retries forever (Strophe.js,
//!    spec-checklist §2.8).
//! 2. **Path and method.** `GET`/`HEAD` answer a short HTML page (never 404:
//!    users check endpoints with a browser); a plain `OPTIONS` answers 200
//!    with `Allow`; other methods 405 with `Allow`.
//! 3. **Body limit.** A `Content-Length` above `max_body` is answered 413 at
//!    once, before any of the body is read (and the connection is closed);
//!    a body without a length is read only up to the limit. A body that takes
//!    longer than `body_read_timeout` gets 408.
//! 4. **The core.** [`ServerEndpoint::route`] decides: an immediate answer
//!    (malformed body, unknown sid), a new session (checked against the
//!    [`UpstreamPolicy`](crate::UpstreamPolicy), then accepted with a sid
//!    and secret from the OS CSPRNG), or a message to the session's task.
//!    The handler then awaits the answer. If the handler is dropped first
//!    (the client closed its connection), the session is told the request
//!    was aborted.
//!
//! Every response has an explicit `Content-Length` (never chunked),
//! `Cache-Control: no-store`, and the core's `Content-Type` for BOSH bodies.
//!
//! # Oversized bodies
//!
//! An oversized body is answered **413** with a `type='terminate'
//! condition='bad-request'` body, not 200: the body was never read, so no
//! session can be told, and Strophe.js treats a 4xx as fatal, which is the
//! right outcome for a client that sends more than the server accepts.

use std::collections::HashMap;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bosh_core::body::{BodyAttrs, write_body};
use bosh_core::server::{
    DEFAULT_CONTENT_TYPE, RequestId, Response as CoreResponse, Routing, ServerEndpoint,
};
use bosh_core::{Condition, Sid};
use bytes::Bytes;
use cors_core::{CorsHeaders, CorsRequest, decide};
use futures_channel::mpsc::{self, UnboundedSender};
use futures_channel::oneshot;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tracing::{debug, info, warn};

use crate::config::{ConfigError, Settings};
use crate::page::endpoint_page;
use crate::runtime::{BoxFuture, Runtime, deadline_in, with_deadline};
use crate::session::{SessionMsg, spawn_session};
use crate::sync::{Signal, WaitGroup};

/// The methods the endpoint answers, for `Allow`.
const ALLOW: &str = "GET, HEAD, POST, OPTIONS";

/// What became of a `POST` body (step 3).
#[derive(Debug)]
pub(crate) enum BodyOutcome {
    /// Read whole, within `max_body`.
    Read(Bytes),
    /// Longer than `max_body`: answered 413, connection closed.
    TooLarge,
    /// Badly framed (e.g. a broken chunk): answered 400, connection closed.
    Invalid,
    /// Not received within `body_read_timeout`: answered 408, connection
    /// closed.
    TimedOut,
}

/// The outcome of [`BoshService::begin`].
#[derive(Debug)]
pub(crate) enum Begin {
    /// The whole answer; the body, if any, is not needed.
    Answer(Response<Full<Bytes>>),
    /// A `POST` to read and dispatch; its answer carries these headers.
    Post(CorsHeaders),
}

/// State shared by the handler, the session tasks and the server.
pub(crate) struct Shared {
    pub(crate) rt: Arc<dyn Runtime>,
    pub(crate) settings: Settings,
    registry: Mutex<Registry>,
    next_request: AtomicU64,
    pub(crate) shutdown: Signal,
    pub(crate) sessions: WaitGroup,
    pub(crate) upstream_tasks: WaitGroup,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("settings", &self.settings)
            .field("sessions", &self.sessions.count())
            .finish_non_exhaustive()
    }
}

struct Registry {
    endpoint: ServerEndpoint,
    sessions: HashMap<String, UnboundedSender<SessionMsg>>,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by a session task when it ends.
    pub(crate) fn forget_session(&self, sid: &str) {
        let mut reg = self.registry();
        reg.endpoint.session_closed(sid);
        reg.sessions.remove(sid);
    }

    /// Starts shutting down: no new sessions, every session closed with
    /// `system-shutdown`. Idempotent.
    pub(crate) fn begin_shutdown(&self) {
        if !self.shutdown.set() {
            return;
        }
        let reg = self.registry();
        info!(
            sessions = reg.sessions.len(),
            "shutting down: closing every session with system-shutdown"
        );
        for tx in reg.sessions.values() {
            let _ = tx.unbounded_send(SessionMsg::Shutdown);
        }
    }

    /// Waits, at most until `deadline`, for session and upstream tasks to
    /// finish. Returns whether they all did.
    pub(crate) async fn drain_tasks(&self, deadline: std::time::Instant) -> bool {
        let sessions = self.sessions.idle();
        let upstreams = self.upstream_tasks.idle();
        with_deadline(&*self.rt, deadline, async move {
            sessions.await;
            upstreams.await;
        })
        .await
        .is_some()
    }
}

/// The BOSH HTTP handler: CORS, the body limit, and dispatch to the session
/// tasks. Cheap to clone (all clones share the sessions).
///
/// Use it through [`Server`](crate::Server), call [`handle`](Self::handle)
/// from your own hyper service, or mount it as a [`tower_service::Service`]
/// (e.g. with axum's `Router::route_service("/chat/bosh", service)`).
#[derive(Debug, Clone)]
pub struct BoshService {
    shared: Arc<Shared>,
    path: Option<Arc<str>>,
}

/// Starts a graceful shutdown from anywhere (a signal handler, a test).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Stops accepting connections and sessions and closes every live
    /// session with `system-shutdown` (its held requests are answered).
    /// [`Server::run`](crate::Server::run) returns once the answers are
    /// written or the grace period has passed. Idempotent.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// Whether a shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutdown.is_set()
    }
}

impl BoshService {
    /// A service with validated settings, running its tasks on `runtime`.
    ///
    /// It answers on every path (the application routes to it); see
    /// [`with_path`](Self::with_path). Fails only if `settings` were changed
    /// after [`Config::validate`](crate::Config::validate) into values the core refuses.
    pub fn new(runtime: Arc<dyn Runtime>, settings: Settings) -> Result<BoshService, ConfigError> {
        for w in settings.cors.warnings() {
            warn!(warning = ?w, "CORS policy");
        }
        let endpoint =
            ServerEndpoint::new(settings.server.clone()).map_err(|e| ConfigError::Invalid {
                key: "server",
                message: e.to_string(),
            })?;
        Ok(BoshService {
            shared: Arc::new(Shared {
                rt: runtime,
                settings,
                registry: Mutex::new(Registry {
                    endpoint,
                    sessions: HashMap::new(),
                }),
                next_request: AtomicU64::new(1),
                shutdown: Signal::new(),
                sessions: WaitGroup::default(),
                upstream_tasks: WaitGroup::default(),
            }),
            path: None,
        })
    }

    /// Answers only at `path` (404 elsewhere), as the standalone server does.
    /// `None` answers every path.
    pub fn with_path(mut self, path: Option<&str>) -> BoshService {
        self.path = path.map(Arc::from);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// How many sessions are live.
    pub fn session_count(&self) -> usize {
        self.shared.registry().sessions.len()
    }

    /// A handle to start a graceful shutdown.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// Closes every session with `system-shutdown` and waits (at most the
    /// configured grace) for their answers and upstream connections to be
    /// finished. For embedders that run their own HTTP server; the
    /// standalone [`Server`](crate::Server) does this itself.
    pub async fn shutdown(&self) {
        self.shared.begin_shutdown();
        let rt = &self.shared.rt;
        let deadline = deadline_in(&**rt, self.shared.settings.shutdown_grace);
        if !self.shared.drain_tasks(deadline).await {
            warn!("shutdown grace period over with tasks still running");
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Handles one request. Never fails: every problem is an HTTP answer;
    /// an answer to `HEAD` has no content (RFC 9110 §9.3.2).
    ///
    /// Shaped so that a held request keeps little: a server (hyper's, for
    /// h2c and for embedders) keeps each request's future for the request's
    /// whole life, and a session holds a request almost all the time. The
    /// head is looked at before the future is made, so the future never
    /// holds it, and the body read and the wait for the answer are boxed,
    /// each freed when done (the HTTP/1.1 front end does the same, see
    /// `http1::tests::idle_session_futures_stay_small`).
    pub fn handle<B>(
        &self,
        req: Request<B>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send + use<B>
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let begin = match self.begin(&parts) {
            Begin::Answer(response) if parts.method == Method::HEAD => {
                Err(Box::new(response.map(|_| Full::new(Bytes::new()))))
            }
            Begin::Answer(response) => Err(Box::new(response)),
            Begin::Post(cors) => Ok(cors),
        };
        drop(parts);
        let service = self.clone();
        async move {
            match begin {
                Err(response) => *response,
                Ok(cors) => {
                    let body = Box::pin(service.read_body(body)).await;
                    Box::pin(service.post(cors, body)).await
                }
            }
        }
    }

    /// Steps 1 to 3 for a request head: the CORS decision, then either the
    /// whole answer (preflight, wrong path, `GET`, `OPTIONS`, other methods,
    /// a declared length over `max_body`) or, for a `POST` whose body is to
    /// be read, the CORS headers its answer will carry.
    pub(crate) fn begin(&self, parts: &http::request::Parts) -> Begin {
        // The standalone server's HTTP/1.1 parser stops at this limit
        // already; this holds it for HTTP/2 and for embedders' servers.
        if parts.headers.len() > self.shared.settings.max_headers {
            debug!(
                fields = parts.headers.len(),
                max = self.shared.settings.max_headers,
                "too many header fields; refused"
            );
            return Begin::Answer(self.refuse(
                Some(parts),
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.as_u16(),
                "too many header fields",
            ));
        }
        let cors = self.cors_headers(parts);
        if let Some(status) = cors.1 {
            return Begin::Answer(finish(plain(status, None, Bytes::new()), &cors.0));
        }
        let cors = cors.0;
        if let Some(path) = &self.path
            && parts.uri.path() != &**path
        {
            return Begin::Answer(finish(
                plain(
                    404,
                    Some("text/plain; charset=utf-8"),
                    Bytes::from_static(b"Not Found\n"),
                ),
                &cors,
            ));
        }
        let response = match parts.method {
            Method::POST => {
                let max = self.shared.settings.max_body;
                let declared = parts
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if declared.is_some_and(|n| n > max as u64) {
                    debug!(declared, max, "request body over the limit; refused unread");
                    too_large()
                } else {
                    return Begin::Post(cors);
                }
            }
            Method::GET | Method::HEAD => plain(
                200,
                Some("text/html; charset=utf-8"),
                Bytes::from(endpoint_page(parts.uri.path())),
            ),
            Method::OPTIONS => with_allow(plain(200, None, Bytes::new())),
            _ => with_allow(plain(
                405,
                Some("text/plain; charset=utf-8"),
                Bytes::from_static(b"Method Not Allowed: BOSH clients POST to this URL\n"),
            )),
        };
        Begin::Answer(finish(response, &cors))
    }

    /// An answer to a request the HTTP layer refuses (RFC 9112 framing
    /// errors, an unmet `Expect`), with the request's CORS headers so that a
    /// browser client can read it; with `parts` absent (a head that could not
    /// be parsed, so no `Origin` to decide on), without them. The connection
    /// is closed after it.
    pub(crate) fn refuse(
        &self,
        parts: Option<&http::request::Parts>,
        status: u16,
        why: &'static str,
    ) -> Response<Full<Bytes>> {
        let cors = parts.map(|p| self.cors_headers(p).0).unwrap_or_default();
        let mut r = plain(
            status,
            Some("text/plain; charset=utf-8"),
            Bytes::from(format!("{why}\n")),
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        finish(r, &cors)
    }

    /// The CORS decision's headers, and the status when it is a preflight.
    fn cors_headers(&self, parts: &http::request::Parts) -> (CorsHeaders, Option<u16>) {
        let header = |name: &str| header_str(&parts.headers, name);
        let cors_request = CorsRequest {
            method: parts.method.as_str(),
            origin: header(cors_core::name::ORIGIN),
            request_method: header(cors_core::name::ACCESS_CONTROL_REQUEST_METHOD),
            request_headers: header(cors_core::name::ACCESS_CONTROL_REQUEST_HEADERS),
            request_private_network: header(
                cors_core::name::ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK,
            ),
        };
        let decision = decide(&self.shared.settings.cors, &cors_request);
        if let Some(reason) = decision.deny_reason() {
            debug!(origin = ?cors_request.origin, %reason, "CORS denied");
        }
        (decision.headers().clone(), decision.preflight_status())
    }

    /// Reads a `POST` body from hyper (or any `http_body`), bounded by
    /// `max_body` and `body_read_timeout`.
    pub(crate) async fn read_body<B>(&self, body: B) -> BodyOutcome
    where
        B: HttpBody<Data = Bytes> + Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let shared = &self.shared;
        let max = shared.settings.max_body;
        let rt = &shared.rt;
        let at = deadline_in(&**rt, shared.settings.body_read_timeout);
        let collected = with_deadline(&**rt, at, Limited::new(body, max).collect()).await;
        match collected {
            Some(Ok(c)) => BodyOutcome::Read(c.to_bytes()),
            Some(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => BodyOutcome::TooLarge,
            Some(Err(e)) => {
                debug!(error = %e, "request body could not be read");
                BodyOutcome::Invalid
            }
            None => BodyOutcome::TimedOut,
        }
    }

    /// Step 4: a `POST` whose body was read (or could not be), to its answer
    /// with the CORS headers from [`begin`](Self::begin).
    pub(crate) async fn post(&self, cors: CorsHeaders, body: BodyOutcome) -> Response<Full<Bytes>> {
        let response = self.dispatch(body).await;
        finish(response, &cors)
    }

    async fn dispatch(&self, body: BodyOutcome) -> Response<Full<Bytes>> {
        let shared = &self.shared;
        let bytes = match body {
            BodyOutcome::Read(bytes) => bytes,
            BodyOutcome::TooLarge => {
                debug!(
                    max = shared.settings.max_body,
                    "request body over the limit while reading"
                );
                return too_large();
            }
            BodyOutcome::Invalid => {
                let mut r = bosh(bad_request(400));
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return r;
            }
            BodyOutcome::TimedOut => {
                debug!("request body not received in time");
                let mut r = bosh(bad_request(408));
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return r;
            }
        };
        let rt = &shared.rt;
        if shared.shutdown.is_set() {
            return bosh(terminate(200, Condition::SystemShutdown));
        }
        let id = RequestId(shared.next_request.fetch_add(1, Ordering::Relaxed));
        let now = rt.now();
        // Parsed before the registry is locked: a large body does not hold
        // up every other request.
        let parsed = bosh_core::body::parse_bytes(bytes, &shared.settings.server.parse_limits);
        let (reply_rx, tx, sid) = {
            let mut reg = shared.registry();
            match reg.endpoint.route_parsed(now, id, parsed) {
                Routing::Respond(r) => return bosh(r),
                Routing::Session { sid, body } => {
                    let Some(tx) = reg.sessions.get(sid.as_str()).cloned() else {
                        return bosh(terminate(200, Condition::ItemNotFound));
                    };
                    drop(reg);
                    let (reply, reply_rx) = oneshot::channel();
                    if tx
                        .unbounded_send(SessionMsg::Request {
                            id,
                            body: Box::new(body),
                            reply,
                        })
                        .is_err()
                    {
                        return bosh(terminate(200, Condition::ItemNotFound));
                    }
                    (reply_rx, tx, sid)
                }
                Routing::New(incoming) => {
                    let attrs = incoming.body().attrs.creation();
                    if let Err(condition) = shared
                        .settings
                        .upstream
                        .resolve(attrs.to.as_deref(), attrs.route.as_deref())
                    {
                        info!(to = ?attrs.to, route = ?attrs.route, %condition, "session refused by the upstream policy");
                        return bosh(reg.endpoint.refuse(incoming, condition));
                    }
                    if shared.shutdown.is_set() {
                        return bosh(reg.endpoint.refuse(incoming, Condition::SystemShutdown));
                    }
                    let Some((sid, secret)) = new_sid() else {
                        warn!("the OS random number generator failed; session refused");
                        return bosh(
                            reg.endpoint
                                .refuse(incoming, Condition::InternalServerError),
                        );
                    };
                    let session = match reg.endpoint.accept(now, incoming, sid.clone(), secret) {
                        Ok(s) => s,
                        Err(r) => return bosh(r),
                    };
                    let (tx, rx) = mpsc::unbounded();
                    reg.sessions.insert(sid.clone(), tx.clone());
                    let guard = shared.sessions.enter();
                    drop(reg);
                    let (reply, reply_rx) = oneshot::channel();
                    spawn_session(shared.clone(), session, id, reply, rx, guard);
                    (reply_rx, tx, Sid::from(sid))
                }
            }
        };
        let mut abort = AbortGuard {
            tx,
            id,
            armed: true,
        };
        let answer = reply_rx.await;
        abort.armed = false;
        match answer {
            Ok(r) => bosh(r),
            Err(_) if shared.shutdown.is_set() => bosh(terminate(200, Condition::SystemShutdown)),
            Err(_) => {
                debug!(%sid, "session ended before answering");
                bosh(terminate(200, Condition::ItemNotFound))
            }
        }
    }
}

/// Tells the session when the handler is dropped before its answer (the
/// client closed the connection, or the server gave up on it).
struct AbortGuard {
    tx: UnboundedSender<SessionMsg>,
    id: RequestId,
    armed: bool,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.tx.unbounded_send(SessionMsg::Aborted(self.id));
        }
    }
}

/// A 128-bit sid (32 hex digits) and a 128-bit secret from the OS CSPRNG.
fn new_sid() -> Option<(String, [u8; 16])> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).ok()?;
    let mut sid = String::with_capacity(32);
    for b in &buf[..16] {
        sid.push(char::from(HEX[usize::from(b >> 4)]));
        sid.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    let mut secret = [0u8; 16];
    secret.copy_from_slice(&buf[16..]);
    Some((sid, secret))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        // Several lines: a repeated Origin never matches (cors-core docs).
        return Some("\u{0}repeated");
    }
    Some(first.to_str().unwrap_or("\u{0}invalid"))
}

/// A terminal binding condition in a `<body/>` (XEP-0124 §17.2).
fn terminate(status: u16, condition: Condition) -> CoreResponse {
    let mut out = Vec::new();
    write_body(
        &BodyAttrs::terminate(condition),
        std::iter::empty::<&[u8]>(),
        &mut out,
    );
    CoreResponse {
        status,
        content_type: DEFAULT_CONTENT_TYPE.to_owned(),
        body: Bytes::from(out),
    }
}

fn bad_request(status: u16) -> CoreResponse {
    terminate(status, Condition::BadRequest)
}

fn too_large() -> Response<Full<Bytes>> {
    let mut r = bosh(bad_request(413));
    // The body was not read: the connection cannot be reused.
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn bosh(r: CoreResponse) -> Response<Full<Bytes>> {
    let content_type = HeaderValue::from_str(&r.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    let mut resp = plain(r.status, None, r.body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}

fn plain(status: u16, content_type: Option<&'static str>, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(ct) = content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    resp
}

fn with_allow(mut resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    resp
}

/// What every response gets: an explicit length (never chunked), no caching,
/// the CORS fields (replacing any of the same name) and `Vary` merged.
fn finish(mut resp: Response<Full<Bytes>>, cors: &CorsHeaders) -> Response<Full<Bytes>> {
    let len = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
    // Not on a 1xx or 204 (RFC 9110 §8.6): an embedder's CORS policy may
    // answer preflights 204.
    let bodiless = resp.status().is_informational() || resp.status() == StatusCode::NO_CONTENT;
    let headers = resp.headers_mut();
    if bodiless {
        headers.remove(header::CONTENT_LENGTH);
    } else {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in cors.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    let existing: Vec<&str> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let existing = (!existing.is_empty()).then(|| existing.join(", "));
    if let Some(vary) = cors.merged_vary(existing.as_deref())
        && let Ok(v) = HeaderValue::from_str(&vary)
    {
        headers.insert(header::VARY, v);
    }
    resp
}

impl<B> tower_service::Service<Request<B>> for BoshService
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let answer = self.handle(req);
        Box::pin(async move { Ok(answer.await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hyper keeps a request's future for the request's whole life (h2c
    /// streams, embedders), and a session holds a request almost all the
    /// time: the future must not hold the head, the body read or the wait
    /// for the answer inline (it was about 1000 bytes before).
    #[test]
    fn a_held_requests_handler_stays_small() {
        let settings = crate::Config::default().validate().unwrap();
        let rt = Arc::new(crate::runtime::test_support::ExpiredRuntime);
        let service = BoshService::new(rt, settings).unwrap();
        let body = Full::new(Bytes::new());
        let size = std::mem::size_of_val(&service.handle(Request::new(body)));
        assert!(size <= 256, "request handler future: {size} bytes");
    }

    #[test]
    fn sids_are_32_hex_digits_and_differ() {
        let (a, sa) = new_sid().unwrap();
        let (b, sb) = new_sid().unwrap();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert_ne!(sa, sb);
    }

    #[test]
    fn rfc9110_8_6_a_204_answer_has_no_content_length() {
        let policy = cors_core::CorsPolicy::builder()
            .allow_any_origin()
            .build()
            .unwrap();
        let d = decide(
            &policy,
            &CorsRequest::new("POST", Some("https://a.example")),
        );
        let r = finish(plain(204, None, Bytes::new()), d.headers());
        assert_eq!(r.headers().get(header::CONTENT_LENGTH), None);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let r = finish(plain(200, None, Bytes::new()), d.headers());
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "0");
    }

    #[test]
    fn finish_sets_length_no_store_cors_and_merges_vary() {
        let policy = cors_core::CorsPolicy::builder()
            .allow_origin("https://a.example")
            .build()
            .unwrap();
        let d = decide(
            &policy,
            &CorsRequest::new("POST", Some("https://a.example")),
        );
        let mut r = plain(200, None, Bytes::from_static(b"abc"));
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        let r = finish(r, d.headers());
        let h = r.headers();
        assert_eq!(h[header::CONTENT_LENGTH], "3");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h["access-control-allow-origin"], "https://a.example");
        assert_eq!(h[header::VARY], "Accept-Encoding, Origin");
    }

    #[test]
    fn repeated_origin_headers_never_match() {
        let mut h = HeaderMap::new();
        h.append("origin", HeaderValue::from_static("https://a.example"));
        h.append("origin", HeaderValue::from_static("https://a.example"));
        assert_ne!(header_str(&h, "origin"), Some("https://a.example"));
    }
}
