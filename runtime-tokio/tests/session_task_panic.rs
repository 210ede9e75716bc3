//! A session task that panics is caught by tokio, which goes on; the
//! session must still leave the registry. Here the panic comes from the
//! upstream stream, as it could from any runtime's IO or from a bug.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bosh_driver::{BoshService, BoxFuture, BoxStream, Config, Listener, Runtime, Timer};
use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use http_body_util::{BodyExt, Full};
use runtime_tokio::TokioRuntime;

/// Tokio, but every upstream connection is a stream that panics when used.
#[derive(Debug)]
struct PanickingUpstream(TokioRuntime);

struct Panics;

impl AsyncRead for Panics {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        panic!("the upstream stream failed");
    }
}

impl AsyncWrite for Panics {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        panic!("the upstream stream failed");
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Runtime for PanickingUpstream {
    fn now(&self) -> Instant {
        self.0.now()
    }
    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>> {
        self.0.timer(at)
    }
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.0.spawn(task);
    }
    fn connect_tcp(&self, _: &str, _: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        Box::pin(async { Ok(Box::new(Panics) as BoxStream) })
    }
    fn bind_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        self.0.bind_tcp(addr)
    }
}

async fn create(service: &BoshService) -> String {
    let body = "<body rid='1000' to='example.com' wait='2' hold='1' ver='1.6' \
                xmlns='http://jabber.org/protocol/httpbind'/>";
    let req = http::Request::post("/http-bind")
        .header("content-type", "text/xml; charset=utf-8")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let resp = service.handle(req).await;
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_task_panicked_leaves_the_registry() {
    let settings = Config {
        upstream: Some("127.0.0.1:5222".to_owned()),
        max_sessions: 1,
        ..Config::default()
    }
    .validate()
    .unwrap();
    let rt = Arc::new(PanickingUpstream(TokioRuntime::current()));
    let service = BoshService::new(rt, settings).unwrap();
    // The creation is not answered by the session, which panicked.
    let first = create(&service).await;
    assert!(first.contains("type='terminate'"), "{first}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while service.session_count() != 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(service.session_count(), 0, "the session is forgotten");
    // So max_sessions = 1 still admits a session (which panics in turn,
    // but is not refused as over the limit).
    let second = create(&service).await;
    assert!(!second.contains("undefined-condition"), "{second}");
}
