//! Client configuration and caller-misuse errors.

use std::time::Duration;

use crate::body::{ParseLimits, Version};
use crate::keys::KeyChainError;
use crate::rid::Rid;
use crate::timing::{SECONDARY_TIMEOUT_MULTIPLIER, TIMEOUT_MULTIPLIER};

/// The largest first rid [`ClientSession::new`](super::ClientSession::new)
/// accepts: 2^53 − 1 − 2^32, so that a session can make more than four
/// billion requests before reaching the ceiling (XEP-0124 §14.1, R14.1-2).
pub const MAX_FIRST_RID: u64 = Rid::MAX.get() - (1 << 32);

/// Configuration of a [`ClientSession`](super::ClientSession).
///
/// Build with [`ClientConfig::new`] and adjust the public fields; the session
/// checks them with [`ClientConfig::validate`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `to`: the XMPP domain (XEP-0124 §7.1). Also sent on restarts
    /// (XEP-0206 §5) and add-stream requests (§16.3). Must not be empty.
    pub to: String,
    /// `route`: `proto:host:port` for a proxy connection manager (R7.1-5).
    pub route: Option<String>,
    /// `from`: the originator identity (R7.1-8); also sent on restarts, as
    /// SASL EXTERNAL wants (XEP-0206 §5, X5-3).
    pub from: Option<String>,
    /// `xml:lang` (§7.1). Default `en`.
    pub xml_lang: String,
    /// `wait` in seconds (§7.1). Default 60. 0 asks for a polling session
    /// (R7.1-4, not recommended).
    pub wait: u16,
    /// `hold` (§7.1). Default 1 (R7.1-3). 0 asks for a polling session.
    pub hold: u8,
    /// `ver` (§7.1). Default 1.11, the version implemented.
    pub ver: Version,
    /// `xmpp:version` (XEP-0206 §3). Default 1.0; `None` omits it.
    pub xmpp_version: Option<Version>,
    /// `content`: the Content-Type the connection manager must use on
    /// responses (R7.1-10). Default `None` (the manager then uses
    /// `text/xml; charset=utf-8`).
    pub content: Option<String>,
    /// Send acknowledgements: `ack='1'` on the creation request and `ack` on
    /// later requests (XEP-0124 §9.2, R9.2-2). Default `true`.
    pub use_acks: bool,
    /// Strophe's `TIMEOUT`: a request is failed after `floor(wait × this)`
    /// seconds. Default 1.1. Must be finite and positive.
    pub timeout_multiplier: f64,
    /// Strophe's `SECONDARY_TIMEOUT`: a request known to be dead (a later
    /// request was answered first) is failed after `floor(wait × this)`
    /// seconds, at least one second. Default 0.1. Must be finite and not
    /// negative.
    pub secondary_timeout_multiplier: f64,
    /// Floor of the primary timeout. Strophe's `floor(wait × 1.1)` is 0 for
    /// `wait = 0` and leaves under a second of slack for `wait < 10`.
    /// Default 10 s. Must not be zero.
    pub min_request_timeout: Duration,
    /// Consecutive failures (transport errors, 5xx, timeouts, bad bodies,
    /// `type='error'`) after which the session gives up. Default 5, as
    /// Strophe. Must not be zero.
    pub max_errors: u32,
    /// Largest payload, in bytes, batched into one body; a larger stanza is
    /// sent alone. Default 64 KiB. Must not be zero.
    pub max_batch_bytes: usize,
    /// How long [`send`](super::ClientSession::send) waits for more stanzas
    /// to batch before sending (Strophe: 100 ms). Default 0: stanzas given
    /// before the next [`handle_timeout`](super::ClientSession::handle_timeout)
    /// are batched.
    pub batch_delay: Duration,
    /// After a response that makes it the client's turn in the XMPP
    /// negotiation (`<stream:features/>`, a SASL `<challenge/>`, a
    /// resource-binding result), how
    /// long the session waits for the application's request before sending
    /// an empty poll instead (XEP-0124 §10 keeps `hold` polls outstanding
    /// only when the client has nothing to send). The answer then carries
    /// the poll, and does not race an empty one to the connection manager
    /// on a second connection, which ejabberd handles badly (see
    /// [`ClientSession`](super::ClientSession), requests in flight). At most
    /// 10 s. Default 100 ms, Strophe.js's idle tick; 0 polls at once.
    pub reply_window: Duration,
    /// How long to wait for the answer to a terminate request (Strophe's
    /// disconnect timeout). Default 3 s.
    pub disconnect_timeout: Duration,
    /// Shortest interval between empty polls in a polling session (hold or
    /// wait 0, XEP-0124 §12); the connection manager's `polling` plus one
    /// second of margin applies when larger. Default 1 s.
    pub min_poll_interval: Duration,
    /// Limits for parsing responses.
    pub parse_limits: ParseLimits,
}

impl ClientConfig {
    /// The defaults, for the XMPP domain `to`.
    pub fn new(to: impl Into<String>) -> ClientConfig {
        ClientConfig {
            to: to.into(),
            route: None,
            from: None,
            xml_lang: "en".to_owned(),
            wait: 60,
            hold: 1,
            ver: Version::new(1, 11),
            xmpp_version: Some(Version::new(1, 0)),
            content: None,
            use_acks: true,
            timeout_multiplier: TIMEOUT_MULTIPLIER,
            secondary_timeout_multiplier: SECONDARY_TIMEOUT_MULTIPLIER,
            min_request_timeout: Duration::from_secs(10),
            max_errors: 5,
            max_batch_bytes: 64 * 1024,
            batch_delay: Duration::ZERO,
            reply_window: Duration::from_millis(100),
            disconnect_timeout: Duration::from_secs(3),
            min_poll_interval: Duration::from_secs(1),
            parse_limits: ParseLimits::default(),
        }
    }

    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), ClientError> {
        let bad = |what| Err(ClientError::InvalidConfig(what));
        if self.to.is_empty() {
            return bad("`to` is empty");
        }
        if !(self.timeout_multiplier.is_finite() && self.timeout_multiplier > 0.0) {
            return bad("`timeout_multiplier` must be finite and positive");
        }
        if !(self.secondary_timeout_multiplier.is_finite()
            && self.secondary_timeout_multiplier >= 0.0)
        {
            return bad("`secondary_timeout_multiplier` must be finite and not negative");
        }
        if self.min_request_timeout.is_zero() {
            return bad("`min_request_timeout` is zero");
        }
        if self.max_errors == 0 {
            return bad("`max_errors` is zero");
        }
        if self.reply_window > Duration::from_secs(10) {
            return bad("`reply_window` is over 10 s");
        }
        if self.max_batch_bytes == 0 {
            return bad("`max_batch_bytes` is zero");
        }
        Ok(())
    }
}

/// Caller misuse of a [`ClientSession`](super::ClientSession). Peer errors are
/// never `Err`: they are [`Event`](super::Event)s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A [`ClientConfig`] field is out of bounds.
    #[error("invalid client configuration: {0}")]
    InvalidConfig(&'static str),
    /// The first rid is above [`MAX_FIRST_RID`] (XEP-0124 §14.1, R14.1-2).
    #[error("first rid {0} is above {MAX_FIRST_RID}")]
    FirstRidTooLarge(u64),
    /// A [`SessionState`](super::SessionState) cannot be attached to.
    #[error("invalid session state: {0}")]
    InvalidState(&'static str),
    /// A key chain is invalid.
    #[error(transparent)]
    Keys(#[from] KeyChainError),
    /// The session is not created yet.
    #[error("the session is not created yet")]
    NotConnected,
    /// The session is terminating (XEP-0124 §13).
    #[error("the session is terminating")]
    Terminating,
    /// The session has ended.
    #[error("the session has ended")]
    Disconnected,
    /// The connection manager did not advertise `maxpause`, so the client
    /// must not pause (XEP-0124 §10, R10-7).
    #[error("the connection manager did not advertise maxpause")]
    PauseNotSupported,
    /// A pause of zero seconds.
    #[error("a pause must last at least one second")]
    InvalidPause,
    /// A pause is already asked for or in force.
    #[error("the session is already paused")]
    AlreadyPaused,
    /// [`resume`](super::ClientSession::resume) without a pause.
    #[error("the session is not paused")]
    NotPaused,
    /// The connection manager does not support multiple streams
    /// (XEP-0124 §16.2, R16.2-2).
    #[error("the connection manager does not support multiple streams")]
    StreamsNotSupported,
    /// No open stream has this name (XEP-0124 §16.4).
    #[error("no open stream has this name")]
    UnknownStream,
    /// The session does not use key sequencing.
    #[error("the session does not use key sequencing")]
    KeysNotInUse,
}
