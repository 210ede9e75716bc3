//! The standalone server's HTTP/1.1 connections (RFC 9112), written for the
//! shape of BOSH traffic: a client keeps one request **held** per session
//! for up to `wait` seconds, so held requests, not requests in flight, are
//! what a connection manager with many users mostly holds.
//!
//! A held request here owns no buffer: the head is read into a buffer that
//! is released once the head and body are read, and an answer is written
//! from one buffer dropped after the write. hyper 1 (still used for the
//! embeddable [`BoshService`] and the client) keeps an 8 KiB write buffer
//! and an 8 to 16 KiB read buffer for the life of every connection, with no
//! server option to shrink them; that was two thirds of the memory of an
//! idle session (benches/LOAD.md).
//!
//! The request head is parsed by `httparse`; everything after it
//! (CORS, routing, the body limit's answer, the sessions) is the same
//! [`BoshService`] code the hyper path runs.
//!
//! What a connection does, in order:
//!
//! * **Head**, within `header_read_timeout` (counted from the end of the
//!   previous answer, so it also closes idle keep-alive connections): at
//!   most `max_header_bytes` and `max_headers` (431 beyond), a valid
//!   request line and fields (400 otherwise; RFC 9112 §2.2, §5).
//! * **Framing** (RFC 9112 §6): `Content-Length` (several must agree, 400
//!   otherwise) or `Transfer-Encoding: chunked`. Both at once is refused
//!   400, a coding list not ending in `chunked` 400, any other coding 501
//!   (§6.1, §6.3: the defences against request smuggling). An HTTP/1.1
//!   request without exactly one `Host` is refused 400 (§3.2).
//! * **Body**, within `body_read_timeout`: read only for a `POST` the
//!   service will dispatch; `Expect: 100-continue` gets its interim answer
//!   first, any other expectation 417 (RFC 9110 §10.1.1).
//! * **Held**: while the service works out the answer the connection is
//!   watched; if the client closes it the request is dropped (the session
//!   is told it was aborted). Bytes of a pipelined next request are kept,
//!   up to `max_header_bytes`.
//! * **Answer**: status line, the service's fields, `Date`, and
//!   `Connection: close` when the connection ends after it: the client
//!   asked (or spoke HTTP/1.0 without `keep-alive`), the body was not read,
//!   or the server is shutting down. Writing is bounded by
//!   `body_read_timeout` too, so a client that stops reading cannot keep a
//!   connection forever.
//! * **Close**: a lingering close (RFC 9112 §9.6), see [`close_gracefully`].

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use futures_util::FutureExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use tracing::debug;

use crate::runtime::{BoxStream, Runtime, deadline_in, with_deadline};
use crate::service::{Begin, BodyOutcome, BoshService};

/// The most `max_headers` may be: the field array of one parse lives on
/// the stack.
pub(crate) const MAX_HEADERS_CAP: usize = 256;

/// Largest single read into the connection's buffer.
const READ_CHUNK: usize = 4096;

/// Longest chunk-size line accepted (size, extensions, CRLF).
const MAX_CHUNK_LINE: usize = 1024;

/// The limits a connection applies; from [`Settings`](crate::Settings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) close_drain_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body: usize,
}

impl Limits {
    pub(crate) fn of(settings: &crate::Settings) -> Limits {
        Limits {
            header_read_timeout: settings.header_read_timeout,
            body_read_timeout: settings.body_read_timeout,
            close_drain_timeout: settings.close_drain_timeout,
            max_header_bytes: settings.max_header_bytes,
            max_headers: settings.max_headers.min(MAX_HEADERS_CAP),
            max_body: settings.max_body,
        }
    }
}

/// How a request's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    None,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed and checked request head.
#[derive(Debug)]
struct Head {
    parts: Parts,
    framing: Framing,
    /// The client lets the connection stay open after the answer.
    persistent: bool,
    /// `Expect: 100-continue`.
    expect_continue: bool,
}

/// Why a request head is refused before the service sees it.
#[derive(Debug)]
enum Refusal {
    /// Not parseable: no fields to take a CORS decision from.
    Raw(StatusCode, &'static str),
    /// Parsed, but not acceptable; answered with the request's CORS fields.
    Parsed(Box<Parts>, StatusCode, &'static str),
}

/// Why reading a request head stopped without one.
#[derive(Debug)]
enum HeadEnd {
    /// The client closed (or the server is stopping) between requests.
    Idle,
    /// The connection failed or was closed mid-head.
    Broken,
    /// The head was refused.
    Refused(Refusal),
}

/// Why reading a body stopped without one.
#[derive(Debug)]
enum BodyEnd {
    /// Over `max_body`.
    TooLarge,
    /// Badly framed.
    Invalid,
    /// The connection failed or was closed.
    Broken,
}

/// One client connection: the stream and what was read but not used yet.
/// A client connection and what was read from it but not yet consumed.
pub(crate) struct Conn {
    pub(crate) io: BoxStream,
    /// Read and not yet consumed; unallocated when empty.
    pub(crate) buf: Vec<u8>,
}

impl Conn {
    pub(crate) fn new(io: BoxStream) -> Conn {
        Conn {
            io,
            buf: Vec::new(),
        }
    }

    /// Reads once into `buf`; `Ok(0)` at end of stream.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut tmp = [0u8; READ_CHUNK];
        match Pin::new(&mut self.io).poll_read(cx, &mut tmp) {
            Poll::Ready(Ok(n)) => {
                // A misbehaving stream could claim more than it was given.
                let n = n.min(tmp.len());
                self.buf.extend_from_slice(&tmp[..n]);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    /// Reads more; end of stream or an error is [`BodyEnd::Broken`].
    async fn fill(&mut self) -> Result<(), BodyEnd> {
        match std::future::poll_fn(|cx| self.poll_fill(cx)).await {
            Ok(0) | Err(_) => Err(BodyEnd::Broken),
            Ok(_) => Ok(()),
        }
    }

    /// Drops the first `n` bytes of `buf`, releasing it once empty.
    fn consume(&mut self, n: usize) {
        if n >= self.buf.len() {
            self.buf = Vec::new();
        } else {
            self.buf.drain(..n);
        }
    }

    /// Reads until a whole head is in `buf`, then parses and checks it.
    /// Between requests (`buf` empty) it also gives up when `stop` fires.
    async fn read_head(
        &mut self,
        limits: &Limits,
        mut stop: Pin<&mut (impl Future<Output = ()> + ?Sized)>,
        stopped: &mut bool,
    ) -> Result<Box<Head>, HeadEnd> {
        // Bytes already searched for the blank line that ends a head: a head
        // sent a byte at a time is scanned once, not once per byte.
        let mut searched: usize = 0;
        loop {
            // Empty lines before a request line are ignored (RFC 9112
            // §2.2), and not taken for the blank line that ends a head:
            // whether a head is parsed must not depend on how the bytes
            // arrived (found by the `http1_requests` fuzz target).
            let empty = leading_empty_lines(&self.buf);
            if empty > 0 {
                self.consume(empty);
                searched = searched.saturating_sub(empty);
            }
            let ends = self.buf.len() >= limits.max_header_bytes
                || has_blank_line(&self.buf[searched.saturating_sub(3)..]);
            searched = self.buf.len();
            if ends {
                match parse_head(&self.buf, limits.max_headers) {
                    Ok(Some((head, len))) if len <= limits.max_header_bytes => {
                        self.consume(len);
                        return Ok(head);
                    }
                    Ok(None) if self.buf.len() < limits.max_header_bytes => {}
                    // Complete but too long, or still incomplete at the limit.
                    Ok(_) => {
                        return Err(HeadEnd::Refused(Refusal::Raw(
                            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "request head over max_header_bytes",
                        )));
                    }
                    Err(refusal) => return Err(HeadEnd::Refused(refusal)),
                }
            }
            let read = std::future::poll_fn(|cx| {
                if !*stopped && stop.as_mut().poll(cx).is_ready() {
                    *stopped = true;
                }
                if *stopped && self.buf.is_empty() {
                    return Poll::Ready(None);
                }
                self.poll_fill(cx).map(Some)
            })
            .await;
            match read {
                None => return Err(HeadEnd::Idle),
                Some(Ok(0)) if self.buf.is_empty() => return Err(HeadEnd::Idle),
                Some(Ok(0)) | Some(Err(_)) => return Err(HeadEnd::Broken),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads a body of the given framing, at most `max` bytes.
    async fn read_body(&mut self, framing: Framing, limits: &Limits) -> Result<Bytes, BodyEnd> {
        let max = limits.max_body;
        match framing {
            Framing::None => Ok(Bytes::new()),
            Framing::Length(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= max)
                    .ok_or(BodyEnd::TooLarge)?;
                // Grown as the bytes arrive, not reserved from the declared
                // length: a client that declares `max_body` and sends
                // nothing does not get `max_body` of memory for it.
                let mut body = Vec::with_capacity(n.min(READ_CHUNK));
                loop {
                    let take = (n - body.len()).min(self.buf.len());
                    body.extend_from_slice(&self.buf[..take]);
                    self.consume(take);
                    if body.len() == n {
                        break;
                    }
                    self.fill().await?;
                }
                Ok(Bytes::from(body))
            }
            Framing::Chunked => self.read_chunked(limits).await,
        }
    }

    /// A chunked body (RFC 9112 §7.1): chunks until the last, then the
    /// trailer section, which is read and discarded.
    async fn read_chunked(&mut self, limits: &Limits) -> Result<Bytes, BodyEnd> {
        let max = limits.max_body;
        let mut body = Vec::new();
        loop {
            let (line, size) = loop {
                match chunk_line(&self.buf) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_CHUNK_LINE => {
                        return Err(BodyEnd::Invalid);
                    }
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(()) => return Err(BodyEnd::Invalid),
                }
            };
            self.consume(line);
            if size == 0 {
                break;
            }
            let room = (max - body.len()) as u64;
            if size > room {
                return Err(BodyEnd::TooLarge);
            }
            // `size` is at most `max`, so it fits.
            let size = size as usize;
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(BodyEnd::Invalid);
            }
            body.extend_from_slice(&self.buf[..size]);
            self.consume(size + 2);
        }
        let mut trailers = 0usize;
        loop {
            match self.buf.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.consume(2);
                    return Ok(Bytes::from(body));
                }
                Some(end) if !is_field_line(&self.buf[..end]) => {
                    // Not a field: a request hidden where the trailers
                    // go, or a bare-LF line (RFC 9112 §7.1.2).
                    return Err(BodyEnd::Invalid);
                }
                Some(end) => {
                    trailers += end + 2;
                    self.consume(end + 2);
                    if trailers > limits.max_header_bytes {
                        return Err(BodyEnd::Invalid);
                    }
                }
                None if self.buf.len() > limits.max_header_bytes => {
                    return Err(BodyEnd::Invalid);
                }
                None => self.fill().await?,
            }
        }
    }

    /// Runs `fut` while watching the connection: `None` if the client
    /// closes it first. Bytes that arrive meanwhile (a pipelined request)
    /// are kept, up to `max_keep`; after that the connection is not read
    /// until the answer is written.
    async fn hold<F: Future + Unpin>(&mut self, mut fut: F, max_keep: usize) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = Pin::new(&mut fut).poll(cx) {
                return Poll::Ready(Some(out));
            }
            while self.buf.len() < max_keep {
                match self.poll_fill(cx) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(None),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Pending => break,
                }
            }
            Poll::Pending
        })
        .await
    }

    async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = std::future::poll_fn(|cx| Pin::new(&mut self.io).poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n.min(data.len())..];
        }
        std::future::poll_fn(|cx| Pin::new(&mut self.io).poll_flush(cx)).await
    }
}

/// Serves one connection until it closes, fails, or the server stops.
/// `conn.buf` holds the bytes already read from it (by the HTTP/2
/// sniffing), and `first_head_by` is the deadline of the first request
/// head (counted from the accept).
pub(crate) async fn serve(service: BoshService, mut conn: Conn, first_head_by: Instant) {
    let shared = service.shared().clone();
    let rt = shared.rt.clone();
    let limits = Limits::of(&shared.settings);
    let mut stop = pin!(shared.shutdown.wait());
    let mut stopped = false;
    let mut head_by = first_head_by;
    loop {
        let head = with_deadline(
            &*rt,
            head_by,
            conn.read_head(&limits, stop.as_mut(), &mut stopped),
        )
        .await;
        let (bytes, close) = match head {
            Some(Ok(head)) => {
                let head_only = head.parts.method == Method::HEAD;
                let keep_alive_10 = head.persistent && head.parts.version == Version::HTTP_10;
                let mut close = !head.persistent;
                let response = match service.begin(&head.parts) {
                    Begin::Answer(response) => {
                        // The body, if any, is not read: the connection
                        // cannot be reused after the answer.
                        close |= head.framing != Framing::None;
                        response
                    }
                    Begin::Post(cors) => {
                        let (framing, expect_continue) = (head.framing, head.expect_continue);
                        drop(head);
                        let exchange =
                            post(&service, &mut conn, &limits, cors, framing, expect_continue);
                        match exchange.await {
                            Some((response, body_read)) => {
                                close |= !body_read;
                                response
                            }
                            None => return,
                        }
                    }
                };
                close |= stopped || shared.shutdown.is_set() || asks_close(response.headers());
                let how = if close {
                    Close::Yes
                } else if keep_alive_10 {
                    Close::KeepAlive10
                } else {
                    Close::No
                };
                (
                    serialize(response, head_only, how, SystemTime::now()),
                    close,
                )
            }
            Some(Err(HeadEnd::Idle)) => break,
            Some(Err(HeadEnd::Broken)) => {
                debug!("connection closed or failed in a request head");
                return;
            }
            Some(Err(HeadEnd::Refused(refusal))) => {
                // An answer to HEAD carries no content (RFC 9110 §9.3.2), a
                // refusal included.
                let head_only =
                    matches!(&refusal, Refusal::Parsed(parts, ..) if parts.method == Method::HEAD);
                let response = match refusal {
                    Refusal::Raw(status, why) => {
                        debug!(%status, why, "request head refused");
                        service.refuse(None, status.as_u16(), why)
                    }
                    Refusal::Parsed(parts, status, why) => {
                        debug!(%status, why, method = %parts.method, "request refused");
                        service.refuse(Some(&parts), status.as_u16(), why)
                    }
                };
                (
                    serialize(response, head_only, Close::Yes, SystemTime::now()),
                    true,
                )
            }
            None if conn.buf.is_empty() => {
                debug!("idle connection closed after header_read_timeout");
                break;
            }
            None => {
                debug!("request head not received within header_read_timeout");
                let response = service.refuse(
                    None,
                    StatusCode::REQUEST_TIMEOUT.as_u16(),
                    "request head not received in time",
                );
                (
                    serialize(response, false, Close::Yes, SystemTime::now()),
                    true,
                )
            }
        };
        let written = with_deadline(
            &*rt,
            deadline_in(&*rt, limits.body_read_timeout),
            conn.write_all(&bytes),
        )
        .await;
        drop(bytes);
        match written {
            Some(Ok(())) if close => break,
            // The next head is due `header_read_timeout` after this answer
            // (which also closes an idle keep-alive connection).
            Some(Ok(())) => head_by = deadline_in(&*rt, limits.header_read_timeout),
            Some(Err(e)) => {
                debug!(error = %e, "answer not written");
                return;
            }
            None => {
                debug!("the client did not read its answer within body_read_timeout");
                return;
            }
        }
    }
    Box::pin(close_gracefully(&*rt, conn.io, limits.close_drain_timeout)).await;
}

/// A `POST` after its head: its body read, then held until the service
/// answers. Returns the answer and whether the body was read whole (if not,
/// the connection closes after the answer); `None` if the client went away.
///
/// The body reading and the service's future are boxed: this future, and
/// the connection's, then stay small while a request is held.
async fn post(
    service: &BoshService,
    conn: &mut Conn,
    limits: &Limits,
    cors: cors_core::CorsHeaders,
    framing: Framing,
    expect_continue: bool,
) -> Option<(Response<Full<Bytes>>, bool)> {
    let outcome = Box::pin(read_post_body(
        service,
        conn,
        limits,
        framing,
        expect_continue,
    ))
    .await?;
    let body_read = matches!(outcome, BodyOutcome::Read(_));
    let answer = Box::pin(service.post(cors, outcome));
    match conn.hold(answer, limits.max_header_bytes).await {
        Some(response) => Some((response, body_read)),
        None => {
            debug!("the client closed its connection before the answer");
            None
        }
    }
}

/// Reads a `POST` body within `body_read_timeout`, after the interim
/// answer to `Expect: 100-continue`. `None` if the client went away.
async fn read_post_body(
    service: &BoshService,
    conn: &mut Conn,
    limits: &Limits,
    framing: Framing,
    expect_continue: bool,
) -> Option<BodyOutcome> {
    let rt = &*service.shared().rt;
    // One deadline for the interim answer and the body: a client that
    // reads nothing cannot hold the connection on a full send buffer.
    let until = deadline_in(rt, limits.body_read_timeout);
    if expect_continue {
        match with_deadline(rt, until, conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")).await {
            Some(Ok(())) => {}
            Some(Err(_)) => return None,
            None => {
                debug!("interim 100 Continue not written within body_read_timeout");
                return None;
            }
        }
    }
    let read = with_deadline(rt, until, conn.read_body(framing, limits)).await;
    match read {
        Some(Ok(bytes)) => Some(BodyOutcome::Read(bytes)),
        Some(Err(BodyEnd::TooLarge)) => Some(BodyOutcome::TooLarge),
        Some(Err(BodyEnd::Invalid)) => Some(BodyOutcome::Invalid),
        Some(Err(BodyEnd::Broken)) => {
            debug!("connection closed or failed in a request body");
            None
        }
        None => Some(BodyOutcome::TimedOut),
    }
}

/// What the answer says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// It stays open (HTTP/1.1 default).
    No,
    /// It stays open, and the HTTP/1.0 client is told so.
    KeepAlive10,
    /// It closes after the answer.
    Yes,
}

/// A chunk-size line (RFC 9112 §7.1): its length with the CRLF, and the
/// size. Stricter than `httparse::parse_chunk_size`, which takes a line
/// without digits (`\r\n`, `;x\r\n`) as the last chunk and lets a bare LF
/// through in an extension: both read a body differently from a proxy in
/// front, so both are refused.
fn chunk_line(buf: &[u8]) -> Result<httparse::Status<(usize, u64)>, ()> {
    if buf.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
        return Err(());
    }
    match httparse::parse_chunk_size(buf).map_err(|_| ())? {
        // The limit holds however the line arrived: whole in one read as
        // well as in pieces (found by the `http1_requests` fuzz target's
        // comparison of the two).
        httparse::Status::Complete((len, _)) if len > MAX_CHUNK_LINE => Err(()),
        httparse::Status::Complete((len, size)) => {
            // `len` counts the CRLF; what precedes it is size, BWS and
            // extensions, none of which may hold a control character.
            let text = &buf[..len - 2];
            if text.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(());
            }
            Ok(httparse::Status::Complete((len, size)))
        }
        partial => Ok(partial),
    }
}

/// Whether `line` (without its CRLF) is a `field-line` (RFC 9112 §5): a
/// field name and value as the `http` crate accepts them in a head.
fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    HeaderName::from_bytes(&line[..colon]).is_ok()
        && HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).is_ok()
}

/// How many bytes of empty lines (CRLF, or a bare LF) `buf` starts with.
fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match &buf[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [b'\n', ..] => at += 1,
            _ => return at,
        }
    }
}

/// Whether `bytes` holds the blank line that ends a head (`CRLF CRLF`, or a
/// bare `LF LF`, which RFC 9112 §2.2 lets a recipient accept).
fn has_blank_line(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// Parses a head from the start of `buf`: `None` if it is not complete.
fn parse_head(buf: &[u8], max_headers: usize) -> Result<Option<(Box<Head>, usize)>, Refusal> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
    let mut req = httparse::Request::new(&mut storage[..max_headers.min(MAX_HEADERS_CAP)]);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::Raw(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "more header fields than max_headers",
            ));
        }
        Err(_) => {
            return Err(Refusal::Raw(
                StatusCode::BAD_REQUEST,
                "malformed request head",
            ));
        }
    };
    let bad = |why| Refusal::Raw(StatusCode::BAD_REQUEST, why);
    let method = req
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or_else(|| bad("bad method"))?;
    let uri = req
        .path
        .and_then(|p| p.parse::<Uri>().ok())
        .ok_or_else(|| bad("bad request target"))?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(bad("bad HTTP version")),
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad("bad field name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| bad("bad field value"))?;
        headers.append(name, value);
    }
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let (parts, ()) = request.into_parts();
    check_head(parts).map(|head| Some((head, len)))
}

/// The checks of RFC 9112 §3.2, §6 and RFC 9110 §10.1.1 on a parsed head.
fn check_head(parts: Parts) -> Result<Box<Head>, Refusal> {
    match check_fields(&parts) {
        // Boxed: the connection's future then keeps a pointer, not the head.
        Ok((framing, persistent, expect_continue)) => Ok(Box::new(Head {
            parts,
            framing,
            persistent,
            expect_continue,
        })),
        Err((status, why)) => Err(Refusal::Parsed(Box::new(parts), status, why)),
    }
}

/// The framing, persistence and `Expect` of a head, or why it is refused.
fn check_fields(parts: &Parts) -> Result<(Framing, bool, bool), (StatusCode, &'static str)> {
    let refuse = |status, why| Err((status, why));
    let h = &parts.headers;
    let http11 = parts.version == Version::HTTP_11;
    let hosts = h.get_all(header::HOST).iter().count();
    if hosts > 1 || (http11 && hosts == 0) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "an HTTP/1.1 request needs exactly one Host field",
        );
    }
    if h.get(header::HOST)
        .is_some_and(|v| !is_host_value(v.as_bytes()))
    {
        return refuse(StatusCode::BAD_REQUEST, "an invalid Host field");
    }
    let codings: Vec<&[u8]> = list_items(h, &header::TRANSFER_ENCODING).collect();
    let lengths: Vec<&[u8]> = list_items(h, &header::CONTENT_LENGTH).collect();
    let has_te = h.contains_key(header::TRANSFER_ENCODING);
    let has_cl = h.contains_key(header::CONTENT_LENGTH);
    let framing = if has_te {
        if !http11 {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Transfer-Encoding in an HTTP/1.0 request",
            );
        }
        if has_cl {
            return refuse(
                StatusCode::BAD_REQUEST,
                "both Transfer-Encoding and Content-Length",
            );
        }
        match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
            [.., last] if last.eq_ignore_ascii_case(b"chunked") => {
                return refuse(
                    StatusCode::NOT_IMPLEMENTED,
                    "only the chunked transfer coding is supported",
                );
            }
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "the last transfer coding is not chunked",
                );
            }
        }
    } else if has_cl {
        let first = lengths.first().copied().unwrap_or_default();
        let n = (!first.is_empty() && first.len() <= 19 && first.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(first).ok()?.parse::<u64>().ok())
            .flatten();
        match n {
            Some(n) if lengths.iter().all(|l| *l == first) => {
                if n == 0 {
                    Framing::None
                } else {
                    Framing::Length(n)
                }
            }
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid or conflicting Content-Length",
                );
            }
        }
    } else {
        Framing::None
    };
    let mut expect_continue = false;
    for item in list_items(h, &header::EXPECT) {
        if item.eq_ignore_ascii_case(b"100-continue") {
            // Ignored in HTTP/1.0, which has no interim answers (RFC 9110
            // §10.1.1, §15.2).
            expect_continue = http11;
        } else {
            return refuse(
                StatusCode::EXPECTATION_FAILED,
                "the only expectation supported is 100-continue",
            );
        }
    }
    let has_token =
        |token: &[u8]| list_items(h, &header::CONNECTION).any(|t| t.eq_ignore_ascii_case(token));
    let persistent = !has_token(b"close") && (http11 || has_token(b"keep-alive"));
    Ok((framing, persistent, expect_continue))
}

/// Whether a `Host` value is `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC
/// 3986 §3.2.2), or empty (a target without an authority). User
/// information is not part of it.
fn is_host_value(value: &[u8]) -> bool {
    value.is_empty()
        || (!value.contains(&b'@')
            && http::uri::Authority::try_from(value).is_ok_and(|a| !a.host().is_empty()))
}

/// The comma-separated items of every `name` field, trimmed, empty items
/// skipped (RFC 9110 §5.6.1).
fn list_items<'a>(h: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
    h.get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

fn asks_close(h: &HeaderMap) -> bool {
    list_items(h, &header::CONNECTION).any(|t| t.eq_ignore_ascii_case(b"close"))
}

/// The bytes of an answer: status line, fields (the service's, then
/// `Date` and `Connection`), blank line, body (none for `HEAD`).
fn serialize(
    response: Response<Full<Bytes>>,
    head_only: bool,
    close: Close,
    now: SystemTime,
) -> Vec<u8> {
    let (parts, body) = response.into_parts();
    // A `Full` body is ready at once.
    let body = body
        .collect()
        .now_or_never()
        .and_then(Result::ok)
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(256 + if head_only { 0 } else { body.len() });
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or("Unknown")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONNECTION || name == header::DATE {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
    out.extend_from_slice(b"\r\n");
    match close {
        Close::No => {}
        Close::KeepAlive10 => out.extend_from_slice(b"connection: keep-alive\r\n"),
        Close::Yes => out.extend_from_slice(b"connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&body);
    }
    out
}

/// Closes a connection the way RFC 9112 §9.6 asks of a server that may
/// close while the client is still sending (after a 413 for a body it never
/// read, or a `Connection: close` answer): first the write side only, then
/// reading and discarding until the client closes too or `drain` has
/// passed. Closing at once with unread bytes would make the kernel send a
/// reset, which can erase the answer from the client's buffers before the
/// client reads it. The time bounds the drain; nothing read is kept.
pub(crate) async fn close_gracefully(rt: &dyn Runtime, mut io: BoxStream, drain: Duration) {
    let closed = std::future::poll_fn(|cx| Pin::new(&mut io).poll_close(cx)).await;
    if closed.is_err() || drain.is_zero() {
        return;
    }
    let deadline = deadline_in(rt, drain);
    let discard = std::future::poll_fn(|cx| {
        // On the stack of each poll, not in the connection's future.
        let mut buf = [0u8; 4096];
        loop {
            match Pin::new(&mut io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => return Poll::Pending,
            }
        }
    });
    if with_deadline(rt, deadline, discard).await.is_none() {
        debug!(?drain, "the client kept sending after the answer; closing");
    }
}

/// What reading one connection's bytes gives, step by step: the model the
/// `http1_requests` fuzz target compares (see [`crate::fuzzing`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// An accepted head.
    Head {
        method: Method,
        target: Uri,
        framing: Framing,
        persistent: bool,
        expect_continue: bool,
    },
    /// A body read whole.
    Body(Bytes),
    /// A body over `max_body`.
    TooLarge,
    /// A badly framed body.
    Invalid,
    /// A refused head (the status may depend on how much had arrived: a
    /// head still incomplete at `max_header_bytes` is 431 in pieces, and
    /// whole may show an earlier syntax error, 400).
    Refused,
    /// End of stream between requests.
    Idle,
    /// End of stream inside a head or a body.
    Broken,
}

/// Reads `input` as one client connection, handed over `piece` bytes per
/// read, with `limits`: every head, and every body as a `POST` would read
/// it, until the connection would close. Asserts what must hold of every
/// accepted head and body.
pub(crate) fn read_requests(input: &[u8], piece: usize, limits: &Limits) -> Vec<Step> {
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        piece: usize,
    }
    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.piece.min(buf.len()).min(self.data.len() - self.at);
            let at = self.at;
            buf[..n].copy_from_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(n))
        }
    }
    impl AsyncWrite for Pieces {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }
    let mut conn = Conn {
        io: Box::new(Pieces {
            data: input.to_vec(),
            at: 0,
            piece: piece.max(1),
        }),
        buf: Vec::new(),
    };
    let mut stop = pin!(std::future::pending::<()>());
    let mut stopped = false;
    let mut steps = Vec::new();
    // The stream never pends, so every future finishes in one poll.
    let once = "the in-memory stream never pends";
    loop {
        let head = conn
            .read_head(limits, stop.as_mut(), &mut stopped)
            .now_or_never()
            .expect(once);
        let head = match head {
            Ok(head) => head,
            Err(end) => {
                steps.push(match end {
                    HeadEnd::Idle => Step::Idle,
                    HeadEnd::Broken => Step::Broken,
                    HeadEnd::Refused(_) => Step::Refused,
                });
                return steps;
            }
        };
        let h = &head.parts.headers;
        assert!(
            head.parts.version == Version::HTTP_11 || head.parts.version == Version::HTTP_10,
            "accepted {:?}",
            head.parts.version
        );
        assert!(h.get_all(header::HOST).iter().count() <= 1, "two Hosts");
        if head.parts.version == Version::HTTP_11 {
            assert!(h.contains_key(header::HOST), "HTTP/1.1 without Host");
        }
        assert!(
            !(h.contains_key(header::TRANSFER_ENCODING) && h.contains_key(header::CONTENT_LENGTH)),
            "both framings accepted"
        );
        let framing = head.framing;
        let persistent = head.persistent;
        steps.push(Step::Head {
            method: head.parts.method.clone(),
            target: head.parts.uri.clone(),
            framing,
            persistent,
            expect_continue: head.expect_continue,
        });
        if framing != Framing::None {
            match conn.read_body(framing, limits).now_or_never().expect(once) {
                Ok(body) => {
                    assert!(body.len() <= limits.max_body, "body over max_body");
                    if let Framing::Length(n) = framing {
                        assert_eq!(body.len() as u64, n, "body of the wrong length");
                    }
                    steps.push(Step::Body(body));
                }
                Err(end) => {
                    steps.push(match end {
                        BodyEnd::TooLarge => Step::TooLarge,
                        BodyEnd::Invalid => Step::Invalid,
                        BodyEnd::Broken => Step::Broken,
                    });
                    return steps;
                }
            }
        }
        if !persistent {
            return steps;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::test_support::ExpiredRuntime;

    fn head(raw: &str) -> Result<Box<Head>, Refusal> {
        match parse_head(raw.as_bytes(), 100) {
            Ok(Some((head, len))) => {
                assert_eq!(len, raw.len());
                Ok(head)
            }
            Ok(None) => panic!("incomplete: {raw:?}"),
            Err(r) => Err(r),
        }
    }

    fn status(r: Result<Box<Head>, Refusal>) -> u16 {
        match r {
            Ok(_) => 0,
            Err(Refusal::Raw(s, _) | Refusal::Parsed(_, s, _)) => s.as_u16(),
        }
    }

    #[test]
    fn rfc9112_6_3_content_length_frames_the_body() {
        let h = head("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n").unwrap();
        assert_eq!(h.framing, Framing::Length(12));
        assert!(h.persistent);
        let h = head("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(h.framing, Framing::None);
    }

    #[test]
    fn rfc9110_8_6_repeated_equal_lengths_are_one_and_different_ones_refused() {
        let ok = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(head(ok).unwrap().framing, Framing::Length(5));
        let list = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n";
        assert_eq!(head(list).unwrap().framing, Framing::Length(5));
        for bad in [
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
        ] {
            assert_eq!(status(head(bad)), 400, "{bad:?}");
        }
    }

    #[test]
    fn rfc9112_6_1_both_framings_are_refused_as_smuggling() {
        let raw = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
                   Transfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(head(raw)), 400);
    }

    #[test]
    fn rfc9112_6_3_transfer_codings_chunked_last_or_refused() {
        let chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n";
        assert_eq!(head(chunked).unwrap().framing, Framing::Chunked);
        let gzip = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(status(head(gzip)), 501);
        let not_last = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
        assert_eq!(status(head(not_last)), 400);
        let twice = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(head(twice)), 501);
        let http10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(head(http10)), 400);
    }

    #[test]
    fn rfc9112_3_2_http11_needs_exactly_one_host() {
        assert_eq!(status(head("GET / HTTP/1.1\r\n\r\n")), 400);
        assert_eq!(
            status(head("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")),
            400
        );
        assert!(head("GET / HTTP/1.0\r\n\r\n").is_ok());
    }

    #[test]
    fn rfc9112_9_3_persistence_by_version_and_connection_tokens() {
        assert!(!head("GET / HTTP/1.0\r\n\r\n").unwrap().persistent);
        assert!(
            head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .persistent
        );
        assert!(
            !head("GET / HTTP/1.1\r\nHost: x\r\nConnection: te, close\r\n\r\n")
                .unwrap()
                .persistent
        );
    }

    #[test]
    fn rfc9110_10_1_1_expect_continue_accepted_other_expectations_417() {
        let h =
            head("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
                .unwrap();
        assert!(h.expect_continue);
        let other = "POST / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n";
        assert_eq!(status(head(other)), 417);
    }

    #[test]
    fn head_limits_and_malformed_heads() {
        let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        assert_eq!(status(head(&raw)), 431);
        assert_eq!(status(head("GET / HTTP/2.0\r\nHost: x\r\n\r\n")), 400);
        assert_eq!(
            status(head("GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n")),
            400
        );
        assert_eq!(status(head("GET\u{1} / HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost:", 100),
            Ok(None)
        ));
    }

    #[test]
    fn rfc9112_2_2_empty_lines_before_a_request_line_are_skipped() {
        assert_eq!(leading_empty_lines(b"\r\n\nGET / HTTP/1.1"), 3);
        assert_eq!(
            leading_empty_lines(b"\r\r\nGET"),
            0,
            "a lone CR is not a line"
        );
        assert_eq!(leading_empty_lines(b"GET / HTTP/1.1\r\n\r\n"), 0);
        assert_eq!(leading_empty_lines(b"\r"), 0);
    }

    #[test]
    fn rfc9112_2_2_a_head_ends_at_a_blank_line_crlf_or_bare_lf() {
        assert!(has_blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(has_blank_line(b"GET / HTTP/1.1\nHost: x\n\n"));
        assert!(!has_blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!has_blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n\r"));
    }

    #[test]
    fn serialize_writes_status_fields_date_and_connection() {
        let mut r = Response::new(Full::new(Bytes::from_static(b"hi")));
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(2));
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let out = serialize(r, false, Close::Yes, when);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\
             date: Sun, 06 Nov 1994 08:49:37 GMT\r\nconnection: close\r\n\r\nhi"
        );
        let mut r = Response::new(Full::new(Bytes::from_static(b"hi")));
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(2));
        let out = serialize(r, true, Close::KeepAlive10, when);
        assert!(
            out.ends_with(b"connection: keep-alive\r\n\r\n"),
            "HEAD has no body"
        );
    }

    #[test]
    fn rfc9112_7_1_a_chunk_size_line_needs_hex_digits_and_no_control_characters() {
        use httparse::Status::{Complete, Partial};
        assert_eq!(chunk_line(b"5;ext=1\r\n"), Ok(Complete((9, 5))));
        assert_eq!(chunk_line(b"A \r\n"), Ok(Complete((4, 10))));
        assert_eq!(chunk_line(b"0\r\n"), Ok(Complete((3, 0))));
        assert_eq!(chunk_line(b"5"), Ok(Partial));
        assert_eq!(chunk_line(b""), Ok(Partial));
        // httparse alone takes the first three as the last chunk (size 0)
        // and the fourth as a chunk of one byte.
        for bad in [
            &b"\r\n"[..],
            b";x\r\n",
            b" 5\r\n",
            b"1;\nGET / HTTP/1.1\r\n",
            b"1;a\x00b\r\n",
            b"x\r\n",
        ] {
            assert_eq!(chunk_line(bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn rfc9112_7_1_2_a_trailer_line_must_be_a_field() {
        assert!(is_field_line(b"X-Trailer: t"));
        assert!(is_field_line(b"Digest:"));
        assert!(is_field_line(b"a:\tb c\xe9"));
        for bad in [
            &b""[..],
            b"GET /http-bind HTTP/1.1",
            b": v",
            b"Bad Name: v",
            b"X: a\nb",
            b"\nX: v",
            b"X: a\x00",
        ] {
            assert!(!is_field_line(bad), "{bad:?}");
        }
    }

    #[test]
    fn rfc9110_10_1_1_http10_expect_continue_is_ignored() {
        let h =
            head("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").unwrap();
        assert!(!h.expect_continue, "no interim answer to HTTP/1.0 (§15.2)");
    }

    #[test]
    fn rfc9112_3_2_an_invalid_host_value_is_400() {
        for bad in ["a b", "@@", "user@example.com", "a:b:c", ":5280", "[::1"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(status(head(&raw)), 400, "{bad:?}");
        }
        for good in [
            "example.com",
            "example.com:5280",
            "[::1]:5280",
            "127.0.0.1",
            "",
        ] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
            assert!(head(&raw).is_ok(), "{good:?}");
        }
    }

    /// A client that reads nothing: the interim `100 Continue` cannot be
    /// written. It used to be awaited without a deadline, so the
    /// connection was held for ever; it is now under `body_read_timeout`.
    #[test]
    fn rfc9110_10_1_1_interim_answer_to_a_client_that_reads_nothing_times_out() {
        let settings = crate::Config::default().validate().unwrap();
        let service = BoshService::new(std::sync::Arc::new(ExpiredRuntime), settings).unwrap();
        let limits = Limits::of(service.settings());
        let mut conn = Conn {
            io: Box::new(NoStream),
            buf: Vec::new(),
        };
        let read = read_post_body(&service, &mut conn, &limits, Framing::Length(5), true);
        assert!(
            matches!(read.now_or_never(), Some(None)),
            "gave up at the deadline, without an answer"
        );
    }

    /// A stream that never reads or writes anything.
    struct NoStream;

    impl AsyncRead for NoStream {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for NoStream {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    /// What an idle session costs is mostly the futures of its tasks: the
    /// HTTP connection holding its long-poll, and the session task with the
    /// upstream connections it polls. Each holds its large state behind a
    /// box (an `async fn` keeps its arguments apart from the locals they
    /// move into, and keeps many locals apart from each other), and these
    /// bounds catch a change that puts a large value back inline
    /// (benches/LOAD.md has the measurements; the sizes were 624, 192, 72
    /// and 64 bytes).
    #[test]
    fn idle_session_futures_stay_small() {
        let settings = crate::Config::default().validate().unwrap();
        let service = BoshService::new(std::sync::Arc::new(ExpiredRuntime), settings).unwrap();
        let serve_size = std::mem::size_of_val(&serve(
            service.clone(),
            Conn::new(Box::new(NoStream)),
            Instant::now(),
        ));
        assert!(serve_size <= 768, "connection future: {serve_size} bytes");
        let mut conn = Conn {
            io: Box::new(NoStream),
            buf: Vec::new(),
        };
        let limits = Limits::of(service.settings());
        let cors = cors_core::CorsHeaders::default();
        let exchange = post(&service, &mut conn, &limits, cors, Framing::None, false);
        let post_size = std::mem::size_of_val(&exchange);
        drop(exchange);
        assert!(post_size <= 256, "POST exchange future: {post_size} bytes");
        let answer =
            Box::pin(service.post(cors_core::CorsHeaders::default(), BodyOutcome::TimedOut));
        let hold = conn.hold(answer, 0);
        let hold_size = std::mem::size_of_val(&hold);
        assert!(hold_size <= 128, "hold future: {hold_size} bytes");
        let session = crate::session::task_future_size();
        assert!(session <= 128, "session task future: {session} bytes");
    }
}
