//! The connection-manager side of XEP-0124 and XEP-0206, sans IO.
//!
//! - [`ServerEndpoint`] parses each request, routes it to its session by
//!   `sid`, answers what belongs to no session (bad bodies, unknown sids),
//!   and admits new sessions (sid and secret handed in by the caller, who
//!   draws them from a CSPRNG; R7.2-1, R19.3-1).
//! - [`ServerSession`] is one BOSH session: rid window and reordering
//!   (§14.2), replay cache (§14.3), holding requests (§8), acks (§9), pause
//!   and inactivity (§10), overactivity (§11, §12), termination (§13), key
//!   sequencing (§15), multiple streams (§16), errors (§17) and the XEP-0206
//!   restart (X5).
//!
//! The upstream XMPP stream is abstract: the session asks for streams to be
//! opened, restarted and closed and for payload to be delivered
//! ([`UpstreamCommand`]), and is told what the server sent
//! ([`UpstreamEvent`]). A proxy feeds those from a TCP connection through
//! [`crate::xmpp`]; an XMPP server written in Rust can plug its own stream
//! handling in directly.
//!
//! After every input, drain [`ServerSession::poll_output`] until `None`,
//! then arm one timer at [`ServerSession::poll_timeout`] and call
//! [`ServerSession::handle_timeout`] when it fires.
//!
//! The conformance table that maps every connection-manager requirement to
//! the test that proves it is in `bosh-core/CONFORMANCE.md`.
//!
//! ```
//! use std::time::Instant;
//! use bosh_core::server::{
//!     Output, RequestId, Routing, ServerConfig, ServerEndpoint, StreamId, UpstreamCommand,
//!     UpstreamEvent,
//! };
//!
//! // The caller's clock reading; the core never reads one.
//! fn serve(now: Instant) {
//! let mut endpoint = ServerEndpoint::new(ServerConfig::default()).unwrap();
//! let body = bytes::Bytes::from_static(
//!     b"<body rid='1573741820' to='example.com' wait='60' hold='1' ver='1.6' \
//!       xmlns='http://jabber.org/protocol/httpbind'/>",
//! );
//! let Routing::New(incoming) = endpoint.route(now, RequestId(1), body) else { panic!() };
//! // The sid and the secret come from the caller's CSPRNG.
//! let mut session = endpoint.accept(now, incoming, "c0ffee".into(), [42; 16]).unwrap();
//! assert!(matches!(
//!     session.poll_output(),
//!     Some(Output::Upstream(UpstreamCommand::Open { stream: StreamId(0), .. }))
//! ));
//! // The server's features arrive: the creation request is answered.
//! let features = bytes::Bytes::from_static(
//!     b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
//! );
//! session.handle_upstream(now, StreamId(0), UpstreamEvent::Features(features));
//! let Some(Output::Respond { request, response }) = session.poll_output() else { panic!() };
//! assert_eq!(request, RequestId(1));
//! assert!(response.body.starts_with(b"<body sid='c0ffee' "));
//! // Arm one timer here.
//! assert!(session.poll_timeout().is_some());
//! }
//! ```
//!
//! (The same exchange, run with a fake clock, is
//! `xep0124_7_2_creation_response_carries_every_session_attribute` and its
//! neighbours in `bosh-core/tests/server_session.rs`.)

mod config;
mod endpoint;
mod session;

pub use config::{ConfigError, Leniency, ServerConfig};
pub use endpoint::{Incoming, Routing, ServerEndpoint};
pub use session::{ServerSession, error_response};

use bytes::Bytes;

use crate::body::Version;
use crate::condition::Condition;
use crate::rid::Rid;

/// Identifies one HTTP request. Chosen by the caller, unique among the
/// requests it has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Identifies one upstream XMPP stream of a session (XEP-0124 §16). The
/// first stream of every session is `StreamId(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u32);

/// The default response Content-Type (XEP-0124 §7.1, R7.1-10).
pub const DEFAULT_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// An HTTP response to send for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status: 200, or 400/403/404 for a legacy client (§17.1).
    pub status: u16,
    /// The Content-Type: the session's `content` or
    /// [`DEFAULT_CONTENT_TYPE`] (R7.1-10).
    pub content_type: String,
    /// The response body: a `<body/>`, empty for a legacy HTTP error.
    pub body: Bytes,
}

/// What the upstream XMPP stream did (XEP-0206).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamEvent {
    /// The server opened its stream (its `<stream:stream>` header).
    Opened {
        /// The stream id, sent to the client as `authid` (XEP-0206 §4).
        id: Option<String>,
        /// The server's `from`, sent to the client as `from` (R7.2-11).
        from: Option<String>,
        /// The server's stream version, sent as `xmpp:version` (X4-1).
        version: Option<Version>,
    },
    /// `<stream:features/>`, standalone (X4-1, X5-4).
    Features(Bytes),
    /// A stanza or other top-level element, standalone.
    Stanza(Bytes),
    /// The server's `<stream:error/>`, standalone (X6-1).
    StreamError(Bytes),
    /// The stream ended or the connection was lost (`remote-connection-failed`).
    Closed,
}

/// What the session asks of the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamCommand {
    /// Open a stream to the server (XEP-0206 §3, X3-1).
    Open {
        /// The stream.
        stream: StreamId,
        /// The client's `to`.
        to: Option<String>,
        /// The client's `from`.
        from: Option<String>,
        /// The client's `xml:lang`.
        xml_lang: Option<String>,
        /// The client's `xmpp:version`, for the stream header (X3-1).
        version: Option<Version>,
        /// The client's `route`, opaque (R7.1-6).
        route: Option<String>,
    },
    /// Restart the stream over the same connection (XEP-0206 §5, X5-4).
    Restart {
        /// The stream.
        stream: StreamId,
        /// `to` of the restart request (or of the session).
        to: Option<String>,
        /// `from` of the restart request (X5-3).
        from: Option<String>,
        /// `xml:lang` of the restart request (or of the session).
        xml_lang: Option<String>,
        /// The client's `xmpp:version` for this stream (X3-1).
        version: Option<Version>,
    },
    /// Deliver payload elements, in order (R8-1, R8-2). Each element is
    /// standalone; one without a namespace is `jabber:client` (X2-2).
    Deliver {
        /// The stream.
        stream: StreamId,
        /// The elements.
        elements: Vec<Bytes>,
    },
    /// Close the stream and its connection.
    Close {
        /// The stream.
        stream: StreamId,
    },
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TerminationReason {
    /// The client sent `type='terminate'` (§13).
    ClientTerminate,
    /// No request for longer than `inactivity` (§10, R10-3).
    Inactivity,
    /// A terminal condition was sent to the client.
    Condition(Condition),
}

/// Something worth a log line: a rule the client broke that lenient mode let
/// pass, or input the session ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// Too many simultaneous requests (R11-2) or too frequent requests
    /// (R11-4, R12-4).
    Overactivity,
    /// A `pause` above `maxpause`, clamped (R10-12).
    PauseClamped {
        /// The pause asked for.
        requested: u16,
        /// The pause granted.
        granted: u16,
    },
    /// A `pause` without `maxpause` advertised, ignored (R10-7).
    PauseIgnored,
    /// Rids that never arrived were skipped after the gap timeout (R14.2-5).
    RidGapSkipped {
        /// The first missing rid.
        from: Rid,
        /// The last missing rid.
        to: Rid,
    },
    /// A rid skipped earlier (R14.2-5) arrived after all: its payload was
    /// delivered late and it was answered with an empty body.
    LateSkippedRid(Rid),
    /// Payload in a restart request, ignored (XEP-0206 §5, X5-2).
    RestartPayloadIgnored {
        /// How many elements.
        elements: usize,
    },
    /// A repeated rid whose request was still held: the older copy was
    /// answered with a recoverable error (R14.3-5).
    RepeatedHeldRid(Rid),
    /// A request carried `content` that is not a safe header value; the
    /// default Content-Type is used.
    ContentIgnored,
    /// Undeliverable stanzas were bounced upstream or dropped (XEP-0206 §7).
    Bounced {
        /// Error stanzas sent back to the server.
        bounced: usize,
        /// Stanzas dropped (presence, errors, unparsable).
        dropped: usize,
    },
}

/// Session events, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A lenient-mode notice or ignored input.
    Warning(Warning),
    /// The session ended; it still answers replays until it is closed.
    Terminated(TerminationReason),
    /// The session is finished: the caller must forget it and tell the
    /// endpoint ([`ServerEndpoint::session_closed`]). No more outputs follow.
    Closed,
}

/// One output of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Answer this request.
    Respond {
        /// The request.
        request: RequestId,
        /// The response.
        response: Response,
    },
    /// Act on the upstream stream.
    Upstream(UpstreamCommand),
    /// Something happened.
    Event(SessionEvent),
}
