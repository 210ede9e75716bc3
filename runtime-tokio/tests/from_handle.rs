//! `TokioRuntime::from_handle` serves a caller that is not on a tokio
//! runtime (another executor, a plain thread): its timers and sockets are
//! made in the runtime's own context. Found in review: they panicked with
//! "no reactor running".

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use bosh_driver::{Runtime, with_deadline};
use runtime_tokio::TokioRuntime;

/// A minimal executor for one future on the calling thread.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

#[test]
fn timers_and_sockets_work_for_a_caller_outside_tokio() {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rt = TokioRuntime::from_handle(tokio_rt.handle().clone());
    // This thread is not in a tokio context.
    assert!(tokio::runtime::Handle::try_current().is_err());
    let timed_out = block_on(with_deadline(
        &rt,
        rt.now() + Duration::from_millis(20),
        std::future::pending::<()>(),
    ));
    assert_eq!(timed_out, None, "the deadline fired");
    let mut listener = block_on(rt.bind_tcp("127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = listener.local_addr().unwrap();
    let connect = rt.connect_tcp("127.0.0.1", addr.port());
    let accepted = block_on(std::future::poll_fn(|cx| listener.poll_accept(cx)));
    assert!(accepted.is_ok());
    assert!(block_on(connect).is_ok());
}
