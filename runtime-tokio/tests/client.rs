//! The shared client suite (`blackbox/client.rs`) on tokio: the client
//! API of this crate (`runtime_tokio::client`) against a connection manager
//! on tokio, the fake XMPP server, a fault-injecting proxy, Prosody, and
//! `bosh-cm`. `runtime-async-std` runs the same code on async-std and smol.

#[path = "../../interop/prosody.rs"]
mod prosody;
#[path = "../../blackbox/support.rs"]
mod support;

// Nested file modules of `on_tokio` are found in `blackbox/`.
#[path = "../../blackbox"]
mod on_tokio {
    use std::future::Future;
    use std::sync::Arc;

    use bosh_driver::Runtime;
    use runtime_tokio::TokioRuntime;
    use runtime_tokio::client::{
        self, BoshClient, ClientOptions, ConnectError, EventStream, SessionState,
    };

    const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm");

    /// A multi-threaded runtime with two workers per test.
    fn block_on(body: impl Future<Output = ()>) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(body);
    }

    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(TokioRuntime::current())
    }

    async fn connect(
        url: &str,
        options: ClientOptions,
    ) -> Result<(BoshClient, EventStream), ConnectError> {
        client::connect(url, options).await
    }

    async fn attach(
        url: &str,
        options: ClientOptions,
        state: SessionState,
    ) -> Result<(BoshClient, EventStream), ConnectError> {
        client::attach(url, options, state).await
    }

    #[path = "client.rs"]
    mod suite;
}
