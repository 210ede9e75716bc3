//! The shared client suite (`blackbox/client.rs`), twice: on async-std
//! (through this crate's `client::connect`, whose default runtime is
//! async-std's) and on smol (`BoshClient::connect` with
//! `AsyncIoRuntime::smol()`), each against a connection manager in process
//! on the same executor, the fake XMPP server, a fault-injecting proxy,
//! Prosody, and `bosh-cm-async-std`. `runtime-tokio` runs the same code on
//! tokio.

#[path = "../../interop/prosody.rs"]
mod prosody;
#[path = "../../blackbox/support.rs"]
mod support;

#[cfg(feature = "async-std")]
// Nested file modules of `on_async_std` are found in `blackbox/`.
#[path = "../../blackbox"]
mod on_async_std {
    use std::future::Future;
    use std::sync::Arc;

    use bosh_driver::Runtime;
    use runtime_async_std::AsyncIoRuntime;
    use runtime_async_std::client::{
        self, BoshClient, ClientOptions, ConnectError, EventStream, SessionState,
    };

    const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm-async-std");

    fn block_on(body: impl Future<Output = ()>) {
        async_std::task::block_on(body);
    }

    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(AsyncIoRuntime::async_std())
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
    #[allow(
        clippy::duplicate_mod,
        reason = "the same suite on two executors, each with its own glue"
    )]
    mod suite;
}

#[cfg(feature = "smol")]
// Nested file modules of `on_smol` are found in `blackbox/`.
#[path = "../../blackbox"]
mod on_smol {
    use std::future::Future;
    use std::sync::Arc;

    use bosh_driver::Runtime;
    use runtime_async_std::AsyncIoRuntime;
    use runtime_async_std::client::{
        BoshClient, ClientOptions, ConnectError, EventStream, SessionState,
    };

    const BIN: &str = env!("CARGO_BIN_EXE_bosh-cm-async-std");

    fn block_on(body: impl Future<Output = ()>) {
        smol::block_on(body);
    }

    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(AsyncIoRuntime::smol())
    }

    async fn connect(
        url: &str,
        options: ClientOptions,
    ) -> Result<(BoshClient, EventStream), ConnectError> {
        BoshClient::connect(runtime(), url, options).await
    }

    async fn attach(
        url: &str,
        options: ClientOptions,
        state: SessionState,
    ) -> Result<(BoshClient, EventStream), ConnectError> {
        BoshClient::attach(runtime(), url, options, state).await
    }

    #[path = "client.rs"]
    #[allow(
        clippy::duplicate_mod,
        reason = "the same suite on two executors, each with its own glue"
    )]
    mod suite;
}
