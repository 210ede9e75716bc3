//! Bridges from the runtime-neutral traits to hyper's: `futures-io` streams
//! to [`hyper::rt::Read`] / [`hyper::rt::Write`], and the [`Runtime`]'s
//! timer to [`hyper::rt::Timer`].
//!
//! The read bridge is safe code: it reads into a stack buffer and copies
//! into hyper's cursor with [`hyper::rt::ReadBufCursor::put_slice`], one copy
//! per read, instead of handing uninitialised memory to the stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

use crate::runtime::{Runtime, Timer, deadline_in};

/// Largest read done per `poll_read` call.
const READ_CHUNK: usize = 8 * 1024;

/// A `futures-io` stream seen through hyper's IO traits.
#[derive(Debug)]
pub struct HyperIo<T> {
    inner: T,
}

impl<T> HyperIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        HyperIo { inner }
    }

    /// The wrapped stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let want = buf.remaining().min(READ_CHUNK);
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut tmp = [0u8; READ_CHUNK];
        match Pin::new(&mut self.get_mut().inner).poll_read(cx, &mut tmp[..want]) {
            Poll::Ready(Ok(n)) => {
                // A misbehaving stream could claim more than it was given.
                buf.put_slice(&tmp[..n.min(want)]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

/// The [`Runtime`] as hyper's executor: what hyper starts on its own (an
/// h2c stream's handler, an HTTP/2 client connection's work) is a task of
/// the runtime.
#[derive(Clone)]
pub(crate) struct HyperExec(pub(crate) Arc<dyn Runtime>);

impl<F> hyper::rt::Executor<F> for HyperExec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        self.0.spawn(Box::pin(async move {
            fut.await;
        }));
    }
}

/// The [`Runtime`]'s clock and timer as a [`hyper::rt::Timer`] (hyper needs
/// one for the header read timeout).
#[derive(Debug, Clone)]
pub struct HyperTimer {
    rt: Arc<dyn Runtime>,
}

impl HyperTimer {
    /// A hyper timer on `rt`.
    pub fn new(rt: Arc<dyn Runtime>) -> Self {
        HyperTimer { rt }
    }
}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(deadline_in(&*self.rt, duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            timer: self.rt.timer(deadline),
        })
    }

    fn now(&self) -> Instant {
        self.rt.now()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut s) => s.timer.as_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

struct HyperSleep {
    timer: Pin<Box<dyn Timer>>,
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.timer.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}
