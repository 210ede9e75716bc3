//! HTTP/2 over cleartext TCP with prior knowledge (h2c, RFC 9113 §3.3), for
//! a reverse proxy in front of the connection manager that speaks it to its
//! backends. Off unless `http2` is set.
//!
//! Why: every BOSH session keeps a request held for up to `wait` seconds.
//! Over HTTP/1.1 each held request needs a connection of its own, so a
//! session costs the connection manager two file descriptors (that
//! connection and its XMPP connection). Over HTTP/2 the held requests of
//! many sessions are streams of one connection, and a session costs one.
//!
//! What a connection does:
//!
//! * **Which protocol** ([`sniff`]): the first bytes, read within
//!   `header_read_timeout`, are compared with the client connection preface
//!   (RFC 9113 §3.4). They go to the HTTP/1.1 code as soon as they differ
//!   from it (the first bytes of a `POST` differ at the second byte), so
//!   HTTP/1.1 clients are served exactly as before.
//! * **Streams** are served by hyper's HTTP/2 server with the same
//!   [`BoshService`] as HTTP/1.1: CORS, body limit and `body_read_timeout`,
//!   sessions. A stream the client resets is a dropped request, and its
//!   session is told it was aborted, as for a closed HTTP/1.1 connection.
//! * **Limits**: at most `http2_max_streams` concurrent streams, and a
//!   header list of at most `max_header_bytes` (hyper) and `max_headers`
//!   fields (the service, 431); hyper's defences against reset floods
//!   (RFC 9113 §10.5) stay on.
//! * **Idle**: a connection with no open stream for `header_read_timeout`
//!   (checked once per period, so closed after one to two periods) is
//!   closed with `GOAWAY`, like an idle HTTP/1.1 keep-alive connection.
//! * **Shutdown**: `GOAWAY`, then the streams in progress get their
//!   answers (the sessions answer `system-shutdown`) and the connection
//!   closes; it is checked every 250 ms meanwhile, and dropped at the first
//!   check that finds it quiet.
//! * **After a `GOAWAY`** streams the client opens before it acknowledges
//!   the closing `PING` are still served; the connection is dropped at the
//!   first check that finds it quiet again (a client that never answers
//!   the `PING` would otherwise keep it). A stream counts as open until
//!   hyper has taken the last of its answer, and a check is quiet only if
//!   no stream started or ended since the one before, so an answer has at
//!   least one period (250 ms at shutdown) to reach the client.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use http::{Request, Response};
use http_body::Body as HttpBody;
use http_body_util::Full;
use hyper::body::Incoming;
use tracing::debug;

use crate::http1::Conn;
use crate::io::{HyperExec, HyperIo, HyperTimer};
use crate::runtime::{BoxStream, Runtime, deadline_in, with_deadline};
use crate::service::BoshService;

/// How often a connection is checked for being quiet once the server is
/// shutting down.
const SHUTDOWN_CHECK: Duration = Duration::from_millis(250);

/// The client connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection were.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// The HTTP/2 preface.
    Http2,
    /// Anything else, to be parsed as HTTP/1.1.
    Http1,
    /// Closed, failed or silent before the protocol was known.
    Gone,
}

/// Reads into `conn` until its first bytes are the HTTP/2 preface or
/// differ from it, by `deadline`, or until `stop` (the server's shutdown)
/// with nothing read. Bytes that arrived before the deadline but did not
/// decide go to the HTTP/1.1 code, whose deadline for the first head is the
/// same one (so it answers 408 at once).
pub(crate) async fn sniff(
    rt: &dyn Runtime,
    conn: &mut Conn,
    deadline: Instant,
    stop: impl Future<Output = ()>,
) -> Sniffed {
    let mut stop = pin!(stop);
    let read = std::future::poll_fn(|cx| {
        loop {
            if conn.buf.len() >= PREFACE.len() || !PREFACE.starts_with(&conn.buf) {
                return Poll::Ready(true);
            }
            if conn.buf.is_empty() && stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            match std::task::ready!(conn.poll_fill(cx)) {
                Ok(0) | Err(_) => return Poll::Ready(false),
                Ok(_) => {}
            }
        }
    });
    match with_deadline(rt, deadline, read).await {
        Some(true) if conn.buf.starts_with(PREFACE) => Sniffed::Http2,
        Some(true) => Sniffed::Http1,
        None if !conn.buf.is_empty() => Sniffed::Http1,
        Some(false) | None => {
            debug!(
                bytes = conn.buf.len(),
                "connection closed, silent or stopped before a request"
            );
            Sniffed::Gone
        }
    }
}

/// A stream that first yields bytes already read from it.
struct Rewind {
    head: Vec<u8>,
    pos: usize,
    io: BoxStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pos < this.head.len() {
            let n = (this.head.len() - this.pos).min(buf.len());
            buf[..n].copy_from_slice(&this.head[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.head.len() {
                this.head = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}

/// How many streams of one connection have started and ended (the open
/// ones are the difference).
#[derive(Default)]
struct Activity {
    started: AtomicU64,
    ended: AtomicU64,
}

impl Activity {
    /// `(started, ended)`: it changes whenever a stream starts or ends.
    fn snapshot(&self) -> (u64, u64) {
        // `ended` first: a stream that ends between the two loads then
        // counts as still open, never the other way round.
        let ended = self.ended.load(Ordering::Relaxed);
        (self.started.load(Ordering::Relaxed), ended)
    }
}

/// Counts one open stream while it lives: from its request until hyper has
/// taken the last of its answer (see [`Tracked`]).
struct Open(Arc<Activity>);

impl Open {
    fn enter(activity: &Arc<Activity>) -> Open {
        activity.started.fetch_add(1, Ordering::Relaxed);
        Open(activity.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::Relaxed);
    }
}

/// An answer's body that keeps its stream counted as open until hyper has
/// taken all of it (or dropped it).
struct Tracked {
    body: Full<Bytes>,
    open: Option<Open>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            this.open = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Serves one h2c connection whose first bytes (the preface and maybe
/// more, in `conn.buf`) were already read, until it closes or the server
/// stops.
pub(crate) async fn serve(service: BoshService, conn: Conn) {
    let shared = service.shared().clone();
    let rt = shared.rt.clone();
    let settings = &shared.settings;
    let idle_after = settings.header_read_timeout;
    let activity = Arc::new(Activity::default());
    let handler = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let open = Open::enter(&activity);
            // hyper's h2 server drops the connection-specific fields
            // (`Connection: close` on some answers, RFC 9113 §8.2.2).
            let answer = service.handle(req);
            async move {
                let response = answer.await;
                let response = response.map(|body| Tracked {
                    body,
                    open: Some(open),
                });
                Ok::<Response<Tracked>, Infallible>(response)
            }
        })
    };
    let mut builder = hyper::server::conn::http2::Builder::new(HyperExec(rt.clone()));
    builder
        .timer(HyperTimer::new(rt.clone()))
        .max_concurrent_streams(settings.http2_max_streams)
        .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX));
    let io = Rewind {
        head: conn.buf,
        pos: 0,
        io: conn.io,
    };
    let mut conn = pin!(builder.serve_connection(HyperIo::new(io), handler));
    let mut stop = pin!(shared.shutdown.wait());
    let mut shutdown_seen = false;
    let mut stopping = false;
    // At least a millisecond: a zero period would fire at once for ever.
    let mut period = idle_after.max(Duration::from_millis(1));
    let mut timer = rt.timer(deadline_in(&*rt, period));
    let mut seen = activity.snapshot();
    let result = std::future::poll_fn(|cx| {
        // Watched even after an idle GOAWAY: a client that never answers
        // the closing PING must not hold the server's shutdown a period.
        if !shutdown_seen && stop.as_mut().poll(cx).is_ready() {
            shutdown_seen = true;
            if !stopping {
                debug!("HTTP/2 connection: shutting down (GOAWAY)");
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            // The server is waiting: check often, so that a client that
            // does not answer the closing PING costs a moment, not a
            // period (the answers in progress are written meanwhile).
            period = SHUTDOWN_CHECK.min(period);
            timer.as_mut().reset(deadline_in(&*rt, period));
        }
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            return Poll::Ready(Some(result));
        }
        // Once per period: quiet if no stream was open at the check, and
        // none started or ended since the one before (so an answer hyper
        // took just before a check has a whole period to be written).
        while timer.as_mut().poll(cx).is_ready() {
            let now = activity.snapshot();
            let quiet = now.0 == now.1 && now == seen;
            seen = now;
            if quiet && stopping {
                // hyper's graceful close waits for the client to answer a
                // PING after the GOAWAY (RFC 9113 §6.8), and streams it
                // opens meanwhile are served; a client that does neither
                // is not waited for any longer.
                return Poll::Ready(None);
            }
            if quiet {
                debug!("idle HTTP/2 connection closed after header_read_timeout");
                stopping = true;
                conn.as_mut().graceful_shutdown();
                // Poll again: the GOAWAY has to be written.
                cx.waker().wake_by_ref();
            }
            timer.as_mut().reset(deadline_in(&*rt, period));
        }
        Poll::Pending
    })
    .await;
    match result {
        Some(Ok(())) => {}
        Some(Err(e)) => debug!(error = %e, "HTTP/2 connection ended with an error"),
        None => debug!("HTTP/2 connection not closed by the client after GOAWAY; dropped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9113_3_4_the_preface_is_the_one_the_rfc_gives() {
        assert_eq!(
            PREFACE,
            b"\x50\x52\x49\x20\x2a\x20\x48\x54\x54\x50\x2f\x32\x2e\x30\x0d\x0a\x0d\x0a\x53\x4d\x0d\x0a\x0d\x0a"
        );
    }
}
