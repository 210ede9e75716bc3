//! The accept loop backs off after an error that concerns the listener or
//! the process (out of descriptors), but not after one that concerns a
//! single connection (reset while it waited in the backlog): otherwise a
//! client that resets connections would stall every other client.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bosh_driver::{BoxFuture, BoxStream, Config, Listener, Runtime, Server, Timer};
use runtime_tokio::TokioRuntime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Tokio, but the listener first reports `errors` accept failures of `kind`.
#[derive(Debug)]
struct FailingAccepts {
    rt: TokioRuntime,
    kind: io::ErrorKind,
    errors: Arc<AtomicUsize>,
}

struct Failing {
    inner: Box<dyn Listener>,
    kind: io::ErrorKind,
    errors: Arc<AtomicUsize>,
}

impl Listener for Failing {
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(BoxStream, SocketAddr)>> {
        if self.errors.load(Ordering::SeqCst) > 0 {
            self.errors.fetch_sub(1, Ordering::SeqCst);
            return Poll::Ready(Err(io::Error::from(self.kind)));
        }
        self.inner.poll_accept(cx)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Runtime for FailingAccepts {
    fn now(&self) -> Instant {
        self.rt.now()
    }
    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>> {
        self.rt.timer(at)
    }
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.rt.spawn(task);
    }
    fn connect_tcp(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        self.rt.connect_tcp(host, port)
    }
    fn bind_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        let bind = self.rt.bind_tcp(addr);
        let (kind, errors) = (self.kind, self.errors.clone());
        Box::pin(async move {
            let inner = bind.await?;
            Ok(Box::new(Failing {
                inner,
                kind,
                errors,
            }) as Box<dyn Listener>)
        })
    }
}

/// A server on `FailingAccepts`; the time until a GET is answered.
async fn time_to_first_answer(kind: io::ErrorKind, errors: usize) -> Duration {
    let rt = Arc::new(FailingAccepts {
        rt: TokioRuntime::current(),
        kind,
        errors: Arc::new(AtomicUsize::new(errors)),
    });
    let settings = Config {
        listen: "127.0.0.1:0".to_owned(),
        ..Config::default()
    }
    .validate()
    .unwrap();
    let start = Instant::now();
    let server = Server::bind(rt, settings).await.unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    tokio::spawn(server.run());
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /http-bind HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(20), s.read_exact(&mut buf))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    shutdown.shutdown();
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_in_the_backlog_does_not_stall_the_accept_loop() {
    // With a 100 ms back-off per error, 50 resets would take 5 s.
    let took = time_to_first_answer(io::ErrorKind::ConnectionAborted, 50).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_accept_errors_still_back_off() {
    // E.g. out of descriptors: retrying at once would spin.
    let took = time_to_first_answer(io::ErrorKind::Other, 3).await;
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_keeps_reporting_resets_is_backed_off_from() {
    // 64 in a row without back-off, then one: 195 errors cost 3 back-offs.
    let took = time_to_first_answer(io::ErrorKind::ConnectionAborted, 195).await;
    assert!(took >= Duration::from_millis(250), "{took:?}");
}
