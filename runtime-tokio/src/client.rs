//! The BOSH client on tokio: [`bosh_driver::client`] with [`TokioRuntime`].
//!
//! Everything (the session task, HTTP/1.1, retries, timeouts) is in
//! `bosh-driver`, written once for every runtime; this module only supplies
//! the runtime of the calling context.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use runtime_tokio::client::{self, ClientOptions, Event};
//!
//! let (client, mut events) =
//!     client::connect("http://127.0.0.1:5280/http-bind", ClientOptions::new("example.com")).await?;
//! while let Some(event) = events.next_event().await {
//!     if let Event::Stanza { stanza, .. } = event {
//!         println!("{}", String::from_utf8_lossy(&stanza));
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Time comes from `tokio::time`, so tests may pause it.

use std::sync::Arc;

use crate::TokioRuntime;

pub use bosh_driver::client::{
    BoshClient, BoshUrl, ClientConfig, ClientError, ClientOptions, ConnectError, DisconnectReason,
    Event, EventStream, Failure, Http2Connections, SessionParams, SessionState, StreamRequest,
    UrlError,
};
pub use bosh_driver::xmpp_login::{self, Credentials, LoggedIn, LoginError, login};

/// Creates a session at `url` on the current tokio runtime (see
/// [`BoshClient::connect`]).
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn connect(
    url: &str,
    options: ClientOptions,
) -> Result<(BoshClient, EventStream), ConnectError> {
    BoshClient::connect(Arc::new(TokioRuntime::current()), url, options).await
}

/// Continues an exported session at `url` on the current tokio runtime
/// (see [`BoshClient::attach`]).
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn attach(
    url: &str,
    options: ClientOptions,
    state: SessionState,
) -> Result<(BoshClient, EventStream), ConnectError> {
    BoshClient::attach(Arc::new(TokioRuntime::current()), url, options, state).await
}
