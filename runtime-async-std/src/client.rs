//! The BOSH client on async-io: [`bosh_driver::client`] with
//! [`AsyncIoRuntime`], the same surface as `runtime_tokio::client`.
//!
//! Everything (the session task, HTTP/1.1, retries, timeouts) is in
//! `bosh-driver`, written once for every runtime. [`connect`] and
//! [`attach`] run the client's task on [`AsyncIoRuntime::default`]; for
//! another executor pass a runtime to [`BoshClient::connect`]:
//!
//! ```no_run
//! # #[cfg(feature = "smol")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use runtime_async_std::AsyncIoRuntime;
//! use runtime_async_std::client::{BoshClient, ClientOptions, Event};
//!
//! let rt = Arc::new(AsyncIoRuntime::smol());
//! let (client, mut events) =
//!     BoshClient::connect(rt, "http://127.0.0.1:5280/http-bind", ClientOptions::new("example.com")).await?;
//! while let Some(event) = events.next_event().await {
//!     if let Event::Stanza { stanza, .. } = event {
//!         println!("{}", String::from_utf8_lossy(&stanza));
//!     }
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::AsyncIoRuntime;

pub use bosh_driver::client::{
    BoshClient, BoshUrl, ClientConfig, ClientError, ClientOptions, ConnectError, DisconnectReason,
    Event, EventStream, Failure, Http2Connections, SessionParams, SessionState, StreamRequest,
    UrlError,
};
pub use bosh_driver::xmpp_login::{self, Credentials, LoggedIn, LoginError, login};

/// Creates a session at `url` on [`AsyncIoRuntime::default`] (see
/// [`BoshClient::connect`]). Await it under async-std, smol or any other
/// executor: the IO is async-io's.
pub async fn connect(
    url: &str,
    options: ClientOptions,
) -> Result<(BoshClient, EventStream), ConnectError> {
    BoshClient::connect(Arc::new(AsyncIoRuntime::default()), url, options).await
}

/// Continues an exported session at `url` on [`AsyncIoRuntime::default`]
/// (see [`BoshClient::attach`]).
pub async fn attach(
    url: &str,
    options: ClientOptions,
    state: SessionState,
) -> Result<(BoshClient, EventStream), ConnectError> {
    BoshClient::attach(Arc::new(AsyncIoRuntime::default()), url, options, state).await
}
