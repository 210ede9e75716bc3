//! The BOSH connection manager and client on async-io, under **async-std or
//! smol** alike: the [`Runtime`] implementation ([`AsyncIoRuntime`]), the
//! `bosh-cm-async-std` binary and the BOSH client API ([`client`]).
//!
//! Everything else (HTTP on hyper 1, sessions, upstream, config, shutdown,
//! the `bosh-cm` program itself) is in [`bosh_driver`], written once for
//! every runtime; this crate is the runtime's clock, timers and sockets.
//!
//! - **Time and IO** come from [async-io](https://docs.rs/async-io), the
//!   reactor under both async-std and smol: `Instant::now()`, resettable
//!   [`async_io::Timer`]s, [`async_io::Async`] TCP sockets (futures-io) and
//!   [async-net](https://docs.rs/async-net) for name resolution. They need
//!   no executor of their own.
//! - **Spawning** is the one executor-specific thing, and an
//!   [`AsyncIoRuntime`] carries it as a function:
//!   [`AsyncIoRuntime::smol`] (feature `smol`),
//!   [`AsyncIoRuntime::async_std`] (feature `async-std`), or any executor
//!   with [`AsyncIoRuntime::new`].
//!
//! **async-std is discontinued** upstream (RUSTSEC-2025-0052); smol is its
//! maintained successor and the recommended executor. Both features are on
//! by default; `default-features = false, features = ["smol"]` builds
//! without async-std.
//!
//! # Run the connection manager
//!
//! ```no_run
//! # #[cfg(feature = "smol")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use runtime_async_std::AsyncIoRuntime;
//!
//! let settings = bosh_driver::Config::default().validate()?;
//! smol::block_on(async {
//!     let server = runtime_async_std::bind_on(Arc::new(AsyncIoRuntime::smol()), settings).await?;
//!     let shutdown = server.shutdown_handle(); // hand it to a signal handler
//!     server.run().await;
//!     Ok(())
//! })
//! # }
//! # #[cfg(not(feature = "smol"))]
//! # fn main() {}
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Async;
use bosh_driver::{BoxFuture, BoxStream, Listener, Runtime, Server, ServerError, Settings, Timer};

pub mod client;

pub use bosh_driver::{self, BoshService, ShutdownHandle};

#[cfg(not(any(feature = "async-std", feature = "smol")))]
compile_error!(
    "runtime-async-std needs an executor: enable the `smol` feature (recommended) or `async-std`"
);

type Spawner = dyn Fn(BoxFuture<'static, ()>) + Send + Sync;

/// [`Runtime`] on async-io, spawning with a function of the executor's
/// choosing. Cheap to clone.
#[derive(Clone)]
pub struct AsyncIoRuntime {
    spawner: Arc<Spawner>,
    executor: &'static str,
}

impl fmt::Debug for AsyncIoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIoRuntime")
            .field("executor", &self.executor)
            .finish()
    }
}

impl AsyncIoRuntime {
    /// A runtime whose tasks are handed to `spawn`, which must run each one
    /// to completion in the background (detached). `executor` names it in
    /// `Debug` output.
    ///
    /// ```
    /// # #[cfg(feature = "smol")] {
    /// let rt = runtime_async_std::AsyncIoRuntime::new("smol", |task| smol::spawn(task).detach());
    /// # }
    /// ```
    pub fn new<F>(executor: &'static str, spawn: F) -> AsyncIoRuntime
    where
        F: Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
    {
        AsyncIoRuntime {
            spawner: Arc::new(spawn),
            executor,
        }
    }

    /// Spawns on smol's global executor (`smol::spawn`; its thread count
    /// is `SMOL_THREADS`, default 1).
    #[cfg(feature = "smol")]
    pub fn smol() -> AsyncIoRuntime {
        AsyncIoRuntime::new("smol", |task| smol::spawn(task).detach())
    }

    /// Spawns on async-std's global executor (`async_std::task::spawn`; its
    /// thread count is `ASYNC_STD_THREAD_COUNT`, default the number of
    /// cores). async-std is discontinued (RUSTSEC-2025-0052): prefer
    /// [`smol`](Self::smol).
    #[cfg(feature = "async-std")]
    pub fn async_std() -> AsyncIoRuntime {
        AsyncIoRuntime::new("async-std", |task| {
            // Dropping async-std's JoinHandle detaches the task.
            drop(async_std::task::spawn(task));
        })
    }

    /// The name given to [`new`](Self::new) (`"smol"`, `"async-std"`).
    pub fn executor(&self) -> &'static str {
        self.executor
    }
}

impl Default for AsyncIoRuntime {
    /// [`async_std`](Self::async_std) with the `async-std` feature,
    /// otherwise [`smol`](Self::smol). This is what the `bosh-cm-async-std`
    /// binary and [`client::connect`] use.
    fn default() -> AsyncIoRuntime {
        #[cfg(feature = "async-std")]
        return AsyncIoRuntime::async_std();
        #[cfg(all(feature = "smol", not(feature = "async-std")))]
        return AsyncIoRuntime::smol();
    }
}

/// An [`async_io::Timer`] with tokio's `Sleep` semantics: once its deadline
/// has passed it stays ready until it is reset.
struct IoTimer {
    at: Instant,
    inner: async_io::Timer,
}

impl Future for IoTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        Pin::new(&mut self.inner).poll(cx).map(|_| ())
    }
}

impl Timer for IoTimer {
    fn reset(mut self: Pin<&mut Self>, at: Instant) {
        self.at = at;
        self.inner.set_at(at);
    }
}

fn io_timer(at: Instant) -> IoTimer {
    IoTimer {
        at,
        inner: async_io::Timer::at(at),
    }
}

struct IoListener {
    inner: Async<TcpListener>,
}

impl Listener for IoListener {
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(BoxStream, SocketAddr)>> {
        loop {
            match self.inner.get_ref().accept() {
                Ok((stream, peer)) => {
                    // Small BOSH bodies: do not wait to coalesce.
                    let _ = stream.set_nodelay(true);
                    let stream = Async::new(stream)?;
                    return Poll::Ready(Ok((Box::new(stream) as BoxStream, peer)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.inner.poll_readable(cx)?.is_pending() {
                        return Poll::Pending;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

impl Runtime for AsyncIoRuntime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>> {
        Box::pin(io_timer(at))
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        (self.spawner)(task);
    }

    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        let host = host.to_owned();
        Box::pin(async move {
            // async-net resolves names on its blocking pool, then tries each
            // address in turn.
            let stream = async_net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn bind_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let inner = Async::<TcpListener>::bind(addr)?;
            Ok(Box::new(IoListener { inner }) as Box<dyn Listener>)
        })
    }
}

/// Binds the standalone server on the default runtime
/// ([`AsyncIoRuntime::default`]).
pub async fn bind(settings: Settings) -> Result<Server, ServerError> {
    bind_on(Arc::new(AsyncIoRuntime::default()), settings).await
}

/// Binds the standalone server with its tasks on `rt`.
pub async fn bind_on(rt: Arc<AsyncIoRuntime>, settings: Settings) -> Result<Server, ServerError> {
    Server::bind(rt, settings).await
}

/// The BOSH handler as a `tower::Service` (see [`BoshService`]), its
/// session tasks on the default runtime. Call [`BoshService::shutdown`]
/// when the application stops.
pub fn service(settings: Settings) -> Result<BoshService, bosh_driver::ConfigError> {
    BoshService::new(Arc::new(AsyncIoRuntime::default()), settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timer_fires_resets_and_stays_ready_like_tokio_sleep() {
        async_io::block_on(async {
            let start = Instant::now();
            let mut t = Box::pin(io_timer(start + Duration::from_millis(30)));
            t.as_mut().await;
            assert!(start.elapsed() >= Duration::from_millis(30));
            // Ready again without a reset (tokio's Sleep does the same).
            t.as_mut().await;
            // Reset later, then earlier.
            t.as_mut().reset(Instant::now() + Duration::from_secs(3600));
            t.as_mut().reset(Instant::now() + Duration::from_millis(20));
            let before = Instant::now();
            t.as_mut().await;
            let waited = before.elapsed();
            assert!(
                waited >= Duration::from_millis(20) && waited < Duration::from_secs(5),
                "{waited:?}"
            );
        });
    }

    #[test]
    fn listener_accepts_and_streams_carry_bytes() {
        use futures_util::{AsyncReadExt, AsyncWriteExt};
        let rt = AsyncIoRuntime::new("inline", |_| unreachable!("nothing spawned"));
        async_io::block_on(async {
            let mut listener = rt.bind_tcp("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = rt.connect_tcp("localhost", addr.port()).await.unwrap();
            let (mut server, peer) = std::future::poll_fn(|cx| listener.poll_accept(cx))
                .await
                .unwrap();
            assert!(peer.ip().is_loopback());
            client.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
        });
    }

    #[test]
    fn debug_names_the_executor() {
        let rt = AsyncIoRuntime::new("mine", |_| {});
        assert_eq!(format!("{rt:?}"), "AsyncIoRuntime { executor: \"mine\" }");
    }
}
