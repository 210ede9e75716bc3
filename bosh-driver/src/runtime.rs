//! The small trait an async runtime implements to run the connection manager.
//!
//! Modelled on quinn's `Runtime`: time, one resettable timer type, spawning
//! detached tasks, and TCP. Everything else (HTTP, sessions, upstream
//! framing, shutdown) is written once in this crate on top of it.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A byte stream (a TCP connection) in the `futures-io` traits.
///
/// Implemented for every `AsyncRead + AsyncWrite + Send + Unpin + 'static`
/// type; tokio streams get there through `tokio_util::compat`.
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// A boxed [`AsyncStream`].
pub type BoxStream = Box<dyn AsyncStream>;

/// One resettable timer: a future that completes at its deadline.
///
/// The session task keeps one and resets it to the core's `poll_timeout()`
/// after every input, instead of creating a timer per input.
pub trait Timer: Future<Output = ()> + Send + Sync + 'static {
    /// Moves the deadline to `at` (earlier or later); the timer then
    /// completes at `at`, even if it had completed before.
    fn reset(self: Pin<&mut Self>, at: Instant);
}

/// A bound TCP listener.
pub trait Listener: Send + 'static {
    /// Polls for the next connection and its peer address.
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(BoxStream, SocketAddr)>>;

    /// The address the listener is bound to (the real port when bound to
    /// port 0).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// What the driver needs from an async runtime.
///
/// Object safe: the driver holds an `Arc<dyn Runtime>`, so none of its
/// public types is generic over the runtime.
pub trait Runtime: Send + Sync + Debug + 'static {
    /// The current time. Every `Instant` handed to the cores comes from here,
    /// so a runtime with a controllable clock (tokio's paused time) can drive
    /// tests without sleeping.
    fn now(&self) -> Instant;

    /// A timer that completes at `at` (at once if `at` has passed).
    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>>;

    /// Runs `task` to completion in the background (detached).
    fn spawn(&self, task: BoxFuture<'static, ()>);

    /// Opens a TCP connection to `host:port`, resolving `host` if it is a
    /// name. No timeout: the driver applies its own.
    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxStream>>;

    /// Binds a TCP listener to `addr`.
    fn bind_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>>;
}

/// About 30 years: a stand-in for "never" when a deadline would overflow.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// The instant `after` from now on `rt`'s clock. A duration too large for
/// the clock means "not in any foreseeable time", not "now": it saturates to
/// about 30 years ahead.
pub(crate) fn deadline_in(rt: &dyn Runtime, after: Duration) -> Instant {
    let now = rt.now();
    now.checked_add(after)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// Runs `fut` with a deadline on the runtime's timer: `None` if `at`
/// passes first. For adapters and tests that need a bounded wait without
/// a runtime-specific timeout.
pub async fn with_deadline<F: Future>(rt: &dyn Runtime, at: Instant, fut: F) -> Option<F::Output> {
    let mut timer = rt.timer(at);
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Test doubles shared by the modules' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Instant;

    use crate::{BoxStream, Runtime};

    /// A runtime whose timers have all expired (and which never spawns or
    /// connects).
    #[derive(Debug)]
    pub(crate) struct ExpiredRuntime;

    struct Expired;

    impl Future for Expired {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }

    impl crate::Timer for Expired {
        fn reset(self: Pin<&mut Self>, _: Instant) {}
    }

    impl Runtime for ExpiredRuntime {
        fn now(&self) -> Instant {
            Instant::now()
        }
        fn timer(&self, _: Instant) -> Pin<Box<dyn crate::Timer>> {
            Box::pin(Expired)
        }
        fn spawn(&self, _: crate::BoxFuture<'static, ()>) {}
        fn connect_tcp(&self, _: &str, _: u16) -> crate::BoxFuture<'static, io::Result<BoxStream>> {
            unreachable!("no upstream in this test")
        }
        fn bind_tcp(
            &self,
            _: std::net::SocketAddr,
        ) -> crate::BoxFuture<'static, io::Result<Box<dyn crate::Listener>>> {
            unreachable!("no listener in this test")
        }
    }
}
