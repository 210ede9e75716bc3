//! Sans-IO BOSH (XEP-0124) and XMPP-over-BOSH (XEP-0206).
//!
//! This crate performs no IO, reads no clock and draws no randomness: time and
//! entropy are passed in by the caller. See the workspace `DESIGN.md` for the
//! architecture.
//!
//! Modules:
//! - [`body`]: the `<body/>` wrapper codec (XEP-0124 §6, §7, §22; XEP-0206 §2-§5).
//! - [`client`]: the client session, Strophe.js's BOSH transport sans IO
//!   (XEP-0124, XEP-0206).
//! - [`condition`]: terminal and recoverable binding conditions (XEP-0124 §17).
//! - [`keys`]: key sequencing, SHA-1 key chains (XEP-0124 §15).
//! - [`rid`]: request identifiers (XEP-0124 §14).
//! - [`timing`]: deadlines and the client's timeout rules, as pure functions.
//! - [`xmpp`]: XEP-0206 upstream stream framing for a proxying connection manager.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod body;
pub mod client;
pub mod condition;
pub mod fuzzing;
pub mod keys;
pub mod rid;
pub mod server;
pub mod timing;
mod xml;
pub mod xmpp;

pub use body::{Body, BodyAttrs, ParseError, ParseErrorKind, ParseLimits, Sid};
pub use condition::Condition;
pub use rid::Rid;
