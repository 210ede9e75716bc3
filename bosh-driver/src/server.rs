//! The standalone HTTP server: a listener, HTTP/1.1 connections (see
//! [`http1`](crate::http1): keep-alive, read timeouts, lingering close),
//! h2c connections when `http2` is set (see [`http2`](crate::http2)), and
//! graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tracing::{Instrument, debug, info, warn};

use crate::config::{ConfigError, Settings};
use crate::http1::{self, Conn};
use crate::http2::{self, Sniffed};
use crate::runtime::{BoxStream, Listener, Runtime, deadline_in, with_deadline};
use crate::service::{BoshService, ShutdownHandle};
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
        // Accept errors of single connections in a row, without back-off.
        let mut transient = 0u32;
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
                    transient = 0;
                    let guard = connections.enter();
                    let fut = serve_connection(service.clone(), stream, guard);
                    let span = tracing::debug_span!("http", %peer);
                    rt.spawn(Box::pin(fut.instrument(span)));
                }
                Some(Err(e)) if accept_error_is_transient(&e) && transient < MAX_TRANSIENT => {
                    // One connection's trouble (reset before it was
                    // accepted): the next one is ready now. Backing off here
                    // would let a client that resets connections stall
                    // every other client's accepts. (A listener that keeps
                    // reporting them is backed off from like any other.)
                    transient += 1;
                    debug!(error = %e, "accept failed for one connection");
                }
                Some(Err(e)) => {
                    transient = 0;
                    // E.g. out of file descriptors: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    rt.timer(deadline_in(&*rt, Duration::from_millis(100)))
                        .await;
                }
            }
        }
        drop(listener);
        shared.begin_shutdown();
        let grace = shared.settings.shutdown_grace;
        let deadline = deadline_in(&*rt, grace);
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

/// Accept errors that concern one connection, not the listener or the
/// process (Linux `accept(2)` reports a connection reset while it waited
/// in the backlog as `ECONNABORTED`).
fn accept_error_is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Transient accept errors in a row after which the loop backs off anyway
/// (a listener that reports nothing else would otherwise spin).
const MAX_TRANSIENT: u32 = 64;

async fn serve_connection(service: BoshService, stream: BoxStream, guard: WaitGuard) {
    let settings = &service.shared().settings;
    let rt = service.shared().rt.clone();
    // The first request head (or the HTTP/2 preface) is due by then.
    let deadline = deadline_in(&*rt, settings.header_read_timeout);
    let mut conn = Conn::new(stream);
    if settings.http2 {
        let stop = service.shared().shutdown.wait();
        match http2::sniff(&*rt, &mut conn, deadline, stop).await {
            // Boxed: hyper's connection state is large, and an HTTP/1.1
            // connection's task should not carry room for it.
            Sniffed::Http2 => Box::pin(http2::serve(service, conn)).await,
            Sniffed::Http1 => http1::serve(service, conn, deadline).await,
            Sniffed::Gone => {}
        }
    } else {
        http1::serve(service, conn, deadline).await;
    }
    drop(guard);
}
