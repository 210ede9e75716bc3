//! The tokio runtime for the BOSH connection manager: the
//! [`Runtime`] implementation ([`TokioRuntime`]), the
//! handler as a `tower::Service` ([`service`]), the `bosh-cm` binary, the
//! BOSH client API ([`client`]) and the `bosh-client` binary.
//!
//! Everything else (HTTP, sessions, upstream, config, shutdown) is in
//! [`bosh_driver`], written once for every runtime.
//!
//! # Run the connection manager
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = bosh_driver::Config::default().validate()?;
//! let server = runtime_tokio::bind(settings).await?;
//! let shutdown = server.shutdown_handle();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     shutdown.shutdown();
//! });
//! server.run().await;
//! # Ok(()) }
//! ```
//!
//! # Mount BOSH in an axum or hyper application
//!
//! [`service`] returns a [`BoshService`]: a `tower::Service<http::Request<B>>`
//! that answers on whatever path the application routes to it:
//!
//! ```no_run
//! # fn app() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = bosh_driver::Config::default().validate()?;
//! let bosh = runtime_tokio::service(settings)?;
//! // axum: Router::new().route_service("/chat/bosh", bosh.clone())
//! # Ok(()) }
//! ```
//!
//! Time comes from `tokio::time`, so tests may pause it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

pub mod client;

use bosh_driver::{BoxFuture, BoxStream, Listener, Runtime, Server, ServerError, Settings, Timer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::compat::TokioAsyncReadCompatExt;

pub use bosh_driver::{self, BoshService, ShutdownHandle};

/// [`Runtime`] on tokio. Spawns on the runtime that was current when it was
/// created.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The runtime of the calling context.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (as `tokio::runtime::Handle::current`).
    pub fn current() -> TokioRuntime {
        TokioRuntime {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// A runtime spawning on `handle`.
    pub fn from_handle(handle: tokio::runtime::Handle) -> TokioRuntime {
        TokioRuntime { handle }
    }
}

struct TokioTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for TokioTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.sleep.as_mut().poll(cx)
    }
}

impl Timer for TokioTimer {
    fn reset(mut self: Pin<&mut Self>, at: Instant) {
        self.sleep
            .as_mut()
            .reset(tokio::time::Instant::from_std(at));
    }
}

struct TokioListener {
    inner: TcpListener,
    /// Accepted sockets are registered in this runtime's context.
    handle: tokio::runtime::Handle,
}

impl Listener for TokioListener {
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(BoxStream, SocketAddr)>> {
        let _context = self.handle.enter();
        self.inner.poll_accept(cx).map(|r| {
            r.map(|(stream, peer)| {
                // Small BOSH bodies: do not wait to coalesce.
                let _ = stream.set_nodelay(true);
                (Box::new(stream.compat()) as BoxStream, peer)
            })
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Runtime for TokioRuntime {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>> {
        // Created in this runtime's context, so that it also works for a
        // caller outside tokio (`from_handle`); it keeps that runtime's
        // timer once created.
        let _context = self.handle.enter();
        Box::pin(TokioTimer {
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(at))),
        })
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.handle.spawn(task);
    }

    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        let host = host.to_owned();
        // On this runtime, whoever awaits it: the socket is registered with
        // its IO driver, and a caller outside tokio cannot do that.
        let connect = self.handle.spawn(async move {
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream.compat()) as BoxStream)
        });
        Box::pin(async move { connect.await.map_err(io::Error::other)? })
    }

    fn bind_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        let handle = self.handle.clone();
        let bind = self.handle.spawn(async move {
            let inner = TcpListener::bind(addr).await?;
            Ok(Box::new(TokioListener { inner, handle }) as Box<dyn Listener>)
        });
        Box::pin(async move { bind.await.map_err(io::Error::other)? })
    }
}

/// Completes with the signal's name on SIGINT (Ctrl-C) or, on Unix,
/// SIGTERM: what `bosh-cm` and `bosh-client` stop on. The handlers are
/// installed on the first poll; a signal whose handler cannot be installed
/// is not waited for (never completing if neither can be), rather than
/// taken as received.
pub async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let wait = |kind| async move {
            match signal(kind) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = wait(SignalKind::interrupt()) => "SIGINT",
            () = wait(SignalKind::terminate()) => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "Ctrl-C"
    }
}

/// Binds the standalone server on the current tokio runtime.
pub async fn bind(settings: Settings) -> Result<Server, ServerError> {
    Server::bind(Arc::new(TokioRuntime::current()), settings).await
}

/// The BOSH handler as a `tower::Service`, running its session tasks on the
/// current tokio runtime. It answers on every path; the application decides
/// where to mount it. Call [`BoshService::shutdown`] when the application
/// stops, so that every session is answered `system-shutdown`.
///
/// # Panics
///
/// Outside a tokio runtime.
pub fn service(settings: Settings) -> Result<BoshService, bosh_driver::ConfigError> {
    BoshService::new(Arc::new(TokioRuntime::current()), settings)
}
