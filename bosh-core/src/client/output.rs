//! What a [`ClientSession`](super::ClientSession) asks its caller to do and
//! tells it about.

use std::fmt;
use std::time::Instant;

use bytes::Bytes;

use crate::body::Version;
use crate::condition::Condition;
use crate::rid::Rid;

/// Identifies one HTTP request (one attempt at sending a rid), allocated by
/// the session from a counter. A resend of the same rid gets a new id.
///
/// The adapter maps it to its HTTP request and reports the result with
/// [`ClientSession::handle_response`](super::ClientSession::handle_response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req#{}", self.0)
    }
}

/// Identifies an add-stream request (XEP-0124 §16.3) until the connection
/// manager names the new stream in [`Event::StreamAdded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamRequest(pub(crate) u64);

/// An output of the session, drained with
/// [`ClientSession::poll_output`](super::ClientSession::poll_output).
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// POST this body now (XEP-0124 §5, R5-4).
    Send(Transmit),
    /// Cancel this HTTP request and do not report its result: the session
    /// has given up on it (it timed out, is being resent, or the session
    /// ended). A result reported anyway is ignored.
    Abort(RequestId),
    /// Something happened.
    Event(Event),
}

/// An HTTP request to POST (XEP-0124 §5).
///
/// The session emits it when it is due, back-off included, so the adapter
/// sends it at once. A resend of a rid carries exactly the bytes of the first
/// send (XEP-0124 §14.3, R14.3-3, §17.3, R17.3-2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transmit {
    /// The id to report the result with.
    pub id: RequestId,
    /// The rid of the body (XEP-0124 §14).
    pub rid: Rid,
    /// The whole `<body/>`.
    pub body: Bytes,
    /// The instant at which the session fails the request if no result was
    /// reported (`wait × TIMEOUT`, Strophe's primary timeout). Informative:
    /// the session emits [`Output::Abort`] itself. `None`: never.
    pub deadline: Option<Instant>,
    /// 1 for the first send of this rid, 2 for the first resend, …
    pub attempt: u32,
}

/// The result of an HTTP request, reported to
/// [`ClientSession::handle_response`](super::ClientSession::handle_response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP response: its status and its body.
    Http {
        /// The status code. 0 counts as a transport failure (what browsers
        /// report for network and CORS errors).
        status: u16,
        /// The response body.
        body: Bytes,
    },
    /// No HTTP response: connection refused or reset, TLS failure, …
    TransportFailure,
}

impl Outcome {
    /// `Http { status: 200, body }`.
    pub fn ok(body: impl Into<Bytes>) -> Outcome {
        Outcome::Http {
            status: 200,
            body: body.into(),
        }
    }
}

/// What the session tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The session was created (XEP-0124 §7.2) or attached.
    Connected(SessionParams),
    /// `<stream:features/>` arrived (XEP-0206 §4, §5), made standalone.
    StreamFeatures {
        /// The stream (multi-stream sessions only, XEP-0124 §16.4, R16.4-7).
        stream: Option<String>,
        /// The element.
        features: Bytes,
    },
    /// A payload element arrived (a stanza, a SASL element, …), made
    /// standalone, in rid order (XEP-0124 §14.2, R14.2-2).
    Stanza {
        /// The stream (multi-stream sessions only, XEP-0124 §16.4, R16.4-7).
        stream: Option<String>,
        /// The element.
        stanza: Bytes,
    },
    /// A key chain for re-keying is needed (XEP-0124 §15.5): call
    /// [`ClientSession::provide_key_chain`](super::ClientSession::provide_key_chain)
    /// with fresh entropy. Until it is given, no new request can be sent once
    /// the current chain reaches K(1).
    KeysNeeded,
    /// The connection manager opened a stream asked for with
    /// [`ClientSession::add_stream`](super::ClientSession::add_stream)
    /// (XEP-0124 §16.3).
    StreamAdded {
        /// The request this answers.
        request: StreamRequest,
        /// The new stream's name.
        stream: String,
        /// The `from` of the response, if any.
        from: Option<String>,
    },
    /// The connection manager answered an add-stream request without a
    /// stream name: no stream was opened (R16.3-2).
    StreamAddFailed {
        /// The request this answers.
        request: StreamRequest,
    },
    /// A stream was closed, by the client (XEP-0124 §16.5) or by a fatal
    /// error carrying `stream` (§16.6, R16.6-1); the session goes on.
    StreamClosed {
        /// The stream's name.
        stream: String,
        /// The condition, for a fatal error.
        condition: Option<Condition>,
    },
    /// The session is over; the session object does nothing more.
    Disconnected(DisconnectReason),
}

/// The session parameters, from the creation response (XEP-0124 §7.2,
/// XEP-0206 §4) or from an attached [`SessionState`](super::SessionState).
///
/// `wait`, `hold` and `requests` are the values the session uses, after
/// defaults and clamping (see [`ClientSession`](super::ClientSession)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionParams {
    /// `sid` (§7.2).
    pub sid: String,
    /// Effective `wait` in seconds (§7.2): the server's, or ours if absent.
    pub wait: u16,
    /// Effective `hold` (§7.2): the server's, at most ours.
    pub hold: u8,
    /// Effective `requests` (§7.2, §11): the server's, at most `hold + 1`
    /// and at least 1; `hold + 1` if the server sent none.
    pub requests: u8,
    /// `polling` in seconds (§7.2, §12).
    pub polling: Option<u16>,
    /// `inactivity` in seconds (§7.2, §10).
    pub inactivity: Option<u16>,
    /// `maxpause` in seconds (§7.2, §10): pausing is allowed only if set.
    pub maxpause: Option<u16>,
    /// `ver` (§7.2); `None` marks a legacy connection manager (§17.1).
    pub ver: Option<Version>,
    /// Whether the connection manager uses acknowledgements (`ack` in the
    /// creation response, §9.1, R7.2-9).
    pub acks: bool,
    /// `from`: the backend identity (§7.2).
    pub from: Option<String>,
    /// `authid` (XEP-0206 §4, obsolete).
    pub authid: Option<String>,
    /// `xmpp:restartlogic` (XEP-0206 §4).
    pub restart_logic: bool,
    /// `xmpp:version` (XEP-0206 §4).
    pub xmpp_version: Option<Version>,
    /// `stream`: the first stream's name; present iff the connection manager
    /// supports multiple streams (§16.2, R16.2-2).
    pub stream: Option<String>,
    /// `accept` (§7.2).
    pub accept: Option<Vec<String>>,
    /// `charsets` (§7.2).
    pub charsets: Option<Vec<String>>,
}

/// Why a session ended ([`Event::Disconnected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client's terminate (XEP-0124 §13) was acknowledged (R13-6), or
    /// the client terminated before the session was created.
    Terminated,
    /// The client's terminate got no answer within the disconnect timeout
    /// (Strophe's 3 s).
    TerminateTimedOut,
    /// The connection manager ended the session with `type='terminate'` and
    /// no condition (XEP-0124 §13).
    TerminatedByServer,
    /// A terminal binding condition (XEP-0124 §17.2) other than the two below.
    Condition(Condition),
    /// `see-other-uri`, with the `<uri/>` (XEP-0124 §17.2, R17.2-5).
    SeeOtherUri(Option<String>),
    /// `remote-stream-error`, with the `<stream:error/>` made standalone
    /// (XEP-0206 §6, X6-1).
    RemoteStreamError(Option<Bytes>),
    /// A fatal HTTP status: 400, 403 or 404 from a legacy connection manager
    /// (XEP-0124 §17.1, R17.1-3), any other 4xx but 408 and 429, or a status
    /// that is neither 200, a retryable error, nor a 4xx.
    HttpStatus(u16),
    /// The connection manager's response cannot be used: no `sid` in the
    /// creation response, or payload for a stream it never opened
    /// (XEP-0124 §16.4, R16.4-4).
    BadResponse,
    /// `max_errors` consecutive failures (Strophe's 5), the last one given.
    TooManyErrors(Failure),
    /// The pause (XEP-0124 §10) ran out before [`resume`] was called. No
    /// request was sent: another process may have attached to the session.
    ///
    /// [`resume`]: super::ClientSession::resume
    PauseExpired,
    /// No rid is left below 2^53 (XEP-0124 §14.1, R14.1-2).
    RidExhausted,
}

/// Why one attempt at a request failed; such failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// No HTTP response ([`Outcome::TransportFailure`] or status 0).
    Transport,
    /// A retryable HTTP status: 5xx, 408 or 429.
    HttpStatus(u16),
    /// No result within `wait × TIMEOUT`, or `wait × SECONDARY_TIMEOUT`
    /// after a later request was answered (Strophe's timeouts).
    Timeout,
    /// A 200 whose body is not a usable `<body/>` (does not parse, or names
    /// another sid).
    BadResponse,
    /// A recoverable binding error, `type='error'` (XEP-0124 §17.3).
    RecoverableError,
}
