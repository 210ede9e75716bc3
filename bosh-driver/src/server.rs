//! The standalone HTTP server: a listener, HTTP/1.1 connections on hyper 1
//! (keep-alive, header read timeout), and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use hyper::server::conn::http1;
use tracing::{Instrument, debug, info, warn};

use crate::config::{ConfigError, Settings};
use crate::io::{HyperIo, HyperTimer};
use crate::runtime::{BoxStream, Listener, Runtime, with_deadline};
use crate::service::{BoshService, HyperService, ShutdownHandle};
use crate::sync::{WaitGroup, WaitGuard};

/// Why a [`Server`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The settings were refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// A bound BOSH connection manager. [`run`](Self::run) serves until a
/// [`ShutdownHandle`] is used.
///
/// ```no_run
/// # async fn example(rt: std::sync::Arc<dyn bosh_driver::Runtime>) -> Result<(), Box<dyn std::error::Error>> {
/// let settings = bosh_driver::Config::default().validate()?;
/// let server = bosh_driver::Server::bind(rt, settings).await?;
/// let handle = server.shutdown_handle();
/// // ... hand `handle` to a signal handler, then:
/// server.run().await;
/// # Ok(()) }
/// ```
pub struct Server {
    service: BoshService,
    listener: Box<dyn Listener>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listener at `settings.listen` (port 0 picks a free port;
    /// see [`local_addr`](Self::local_addr)).
    pub async fn bind(
        runtime: Arc<dyn Runtime>,
        settings: Settings,
    ) -> Result<Server, ServerError> {
        let addr = settings.listen;
        let path = settings.path.clone();
        let service = BoshService::new(runtime.clone(), settings)?.with_path(Some(&path));
        let listener = runtime
            .bind_tcp(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Server {
            service,
            listener,
            local_addr,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that starts a graceful shutdown.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.service.shutdown_handle()
    }

    /// The HTTP handler (e.g. to read the session count).
    pub fn service(&self) -> &BoshService {
        &self.service
    }

    /// Serves until shutdown, then: stops accepting, closes every session
    /// with `system-shutdown`, lets every connection finish its answer
    /// (idle keep-alive connections are closed), closes the upstream
    /// connections, and returns, at the latest after the grace period.
    pub async fn run(self) {
        let Server {
            service,
            mut listener,
            local_addr,
        } = self;
        let shared = service.shared().clone();
        let rt = shared.rt.clone();
        let connections = WaitGroup::default();
        let mut stop = std::pin::pin!(shared.shutdown.wait());
        info!(
            listen = %local_addr,
            path = %shared.settings.path,
            upstream = %shared.settings.upstream,
            "BOSH connection manager listening"
        );
        loop {
            let next = std::future::poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                listener.poll_accept(cx).map(Some)
            })
            .await;
            match next {
                None => break,
                Some(Ok((stream, peer))) => {
                    let guard = connections.enter();
                    let fut = serve_connection(service.clone(), rt.clone(), stream, guard);
                    let span = tracing::debug_span!("http", %peer);
                    rt.spawn(Box::pin(fut.instrument(span)));
                }
                Some(Err(e)) => {
                    // E.g. out of file descriptors: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    let at = rt.now().checked_add(Duration::from_millis(100));
                    if let Some(at) = at {
                        rt.timer(at).await;
                    }
                }
            }
        }
        drop(listener);
        shared.begin_shutdown();
        let grace = shared.settings.shutdown_grace;
        let deadline = rt.now().checked_add(grace).unwrap_or_else(|| rt.now());
        let conns = connections.idle();
        let http_done = with_deadline(&*rt, deadline, conns).await.is_some();
        let tasks_done = shared.drain_tasks(deadline).await;
        if http_done && tasks_done {
            info!("shutdown complete");
        } else {
            warn!(
                connections = connections.count(),
                sessions = shared.sessions.count(),
                upstreams = shared.upstream_tasks.count(),
                "shutdown grace period over; exiting with work unfinished"
            );
        }
    }
}

async fn serve_connection(
    service: BoshService,
    rt: Arc<dyn Runtime>,
    stream: BoxStream,
    guard: WaitGuard,
) {
    let shared = service.shared().clone();
    let mut builder = http1::Builder::new();
    builder
        .timer(HyperTimer::new(rt.clone()))
        .header_read_timeout(shared.settings.header_read_timeout)
        .keep_alive(true)
        .half_close(false);
    let mut conn = builder.serve_connection(HyperIo::new(stream), HyperService(service));
    let mut stop = std::pin::pin!(shared.shutdown.wait());
    let mut stopping = false;
    let result = std::future::poll_fn(|cx| {
        if !stopping && stop.as_mut().poll(cx).is_ready() {
            stopping = true;
            // Finish the request in progress, then close.
            Pin::new(&mut conn).graceful_shutdown();
        }
        conn.poll_without_shutdown(cx)
    })
    .await;
    match result {
        Ok(()) => {
            let io = conn.into_parts().io.into_inner();
            close_gracefully(&*rt, io, shared.settings.close_drain_timeout).await;
        }
        Err(e) => debug!(error = %e, "connection ended with an error"),
    }
    drop(guard);
}

/// Closes a connection the way RFC 9112 §9.6 asks of a server that may
/// close while the client is still sending (after a 413 for a body it never
/// read, or a `Connection: close` answer): first the write side only, then
/// reading and discarding until the client closes too or `drain` has
/// passed. Closing at once with unread bytes would make the kernel send a
/// reset, which can erase the answer from the client's buffers before the
/// client reads it. The time bounds the drain; nothing read is kept.
async fn close_gracefully(rt: &dyn Runtime, mut io: BoxStream, drain: Duration) {
    let closed = std::future::poll_fn(|cx| Pin::new(&mut io).poll_close(cx)).await;
    if closed.is_err() || drain.is_zero() {
        return;
    }
    let Some(deadline) = rt.now().checked_add(drain) else {
        return;
    };
    let mut buf = [0u8; 4096];
    let discard = std::future::poll_fn(|cx| {
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
