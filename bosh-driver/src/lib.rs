//! Runtime-neutral async glue for a BOSH (XEP-0124 / XEP-0206) connection
//! manager, written once for every async runtime.
//!
//! The protocol lives in the sans-IO cores ([`bosh_core`] and [`cors_core`]);
//! this crate drives them. A runtime crate (`runtime-tokio`, and
//! `runtime-async-std` on async-io for async-std and smol) only implements
//! the small [`Runtime`] trait (clock, timer, spawn, TCP connect, TCP
//! listen) and adds its binary, a few lines around [`cli::CmMain`].
//!
//! # What is here
//!
//! - [`Runtime`]: the trait a runtime implements. IO is `futures-io`
//!   ([`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`]); the adapter to
//!   hyper's IO traits ([`io::HyperIo`]) and a hyper timer built on the
//!   runtime's timer ([`io::HyperTimer`]) are in [`io`], once.
//! - [`BoshService`]: the HTTP handler on hyper 1 / `http` types. CORS is
//!   decided first on every request; `POST` runs the core; `GET` answers a
//!   short HTML page; other methods get 405 with `Allow`; bodies above the
//!   limit are refused before they are read whole. It is also a
//!   [`tower_service::Service`], so an axum or hyper application can mount
//!   BOSH at a path of its own.
//! - A task per session that owns its [`bosh_core::server::ServerSession`]
//!   and its upstream connections, drains the core after every input and
//!   arms one timer at `poll_timeout()`; a client that goes away mid-request
//!   is reported as an abort.
//! - The upstream ([`upstream`]): one TCP connection per stream to the XMPP
//!   server, polled by the session's task (no task or channel between the
//!   core and the server), framed by [`bosh_core::xmpp`], to addresses
//!   decided only by the configuration ([`UpstreamPolicy`]): the connection
//!   manager is never an open proxy.
//! - [`Server`]: the listener, HTTP/1.1 connections of its own (RFC 9112:
//!   keep-alive, read timeouts, smuggling defences, lingering close) that
//!   hold a long-poll without any buffer, and graceful shutdown
//!   ([`ShutdownHandle`]): every live session is answered `system-shutdown`
//!   before [`Server::run`] returns. `httparse` reads the request heads; the
//!   requests themselves go to the same [`BoshService`] code.
//! - [`client`]: the BOSH client ([`client::BoshClient`]): the task that
//!   drives a [`bosh_core::client::ClientSession`] over HTTP/1.1 (hyper 1
//!   client connections on the runtime's TCP), for every runtime.
//! - [`xmpp_login`]: a small XMPP login over a [`client::BoshClient`]
//!   (SASL PLAIN, XEP-0206 restart, resource binding), sans-IO at its core.
//! - [`config`]: the TOML configuration and the matching command line
//!   ([`Cli`]), validated once into [`Settings`] with clear messages.
//! - [`cli`]: the `bosh-cm` program itself ([`cli::CmMain`]): every
//!   runtime's binary is that, its runtime and its signal handling.
//!
//! # Choices where the specifications leave room
//!
//! - **Every response** has an explicit `Content-Length` (never chunked,
//!   XEP-0124 R5-5), `Cache-Control: no-store`, the core's `Content-Type`
//!   for `<body/>` answers, and the CORS headers with `Vary` merged, errors
//!   and terminate bodies included (spec-checklist §3.5).
//! - **Preflights** are answered 200 with `Content-Length: 0` (hyper strips
//!   the length of a 204, and old Safari waits for a body without it); a
//!   denied preflight gets 403 without CORS headers.
//! - **Oversized bodies** get 413 with a `bad-request` terminate body and
//!   `Connection: close`, decided from `Content-Length` before reading, or
//!   as soon as a body without a length passes the limit. Not 200: the body
//!   was never read, so no session can be told, and a 4xx is fatal for
//!   Strophe.js, which is right for a client sending more than allowed.
//!   A body that is not received within `body_read_timeout` gets 408.
//! - **Sids** are 128 bits from the OS CSPRNG ([`getrandom`]), as 32
//!   lower-case hex digits; each session also gets a 128-bit secret for its
//!   stream names.
//! - **Upstream addressing** (see [`UpstreamPolicy::resolve`]): `to` is
//!   required (`improper-addressing`), must be allowed (`host-unknown`), and
//!   a `route` must name exactly the configured address. A stream added
//!   later (XEP-0124 §16) outside the policy is refused without connecting;
//!   the core can only report that stream as `remote-connection-failed`.
//! - **Stream version**: the client's `xmpp:version` is forwarded; without
//!   one the header says `version='1.0'`, since a pre-1.0 stream never sends
//!   the features a BOSH client waits for.
//! - **Shutdown**: every session is closed with `system-shutdown` and its
//!   task ends at once (no linger), requests arriving afterwards are answered
//!   `system-shutdown`, connections finish the answer in progress, and the
//!   wait is bounded by `shutdown_grace`.
//!
//! # Logging
//!
//! Everything logs through `tracing`. Session tasks (and the tasks that
//! finish closing an ended session's upstream connections) run inside
//! a `session` span carrying the `sid` field, so every line they emit names
//! its session.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod client;
pub mod config;
pub mod fuzzing;
mod http1;
mod http2;
pub mod io;
mod page;
pub mod runtime;
mod server;
mod service;
mod session;
mod sync;
pub mod upstream;
pub mod xmpp_login;

pub use config::{Cli, Config, ConfigError, Settings};
pub use runtime::{AsyncStream, BoxFuture, BoxStream, Listener, Runtime, Timer, with_deadline};
pub use server::{Server, ServerError};
pub use service::{BoshService, ShutdownHandle};
pub use upstream::{HostPort, UpstreamPolicy};

/// Re-exported so that runtime crates and embedders name the same versions.
pub use bosh_core;
/// Re-exported so that runtime crates and embedders name the same versions.
pub use cors_core;
