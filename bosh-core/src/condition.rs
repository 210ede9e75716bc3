//! Binding conditions (XEP-0124 §17).
//!
//! A terminal condition travels in the `condition` attribute of a
//! `type='terminate'` body (§17.2); a recoverable error is a `type='error'`
//! body (§17.3). Legacy clients, those that sent no `ver` (§17.1), get the
//! deprecated HTTP status codes instead for three of the conditions
//! (§17.2, R17.2-3).

use std::fmt;
use std::str::FromStr;

/// The thirteen terminal binding conditions of XEP-0124 §17.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Condition {
    /// `bad-request`: the format of an HTTP header or binding element is unacceptable.
    BadRequest,
    /// `host-gone`: the target domain (`to` or `route`) is no longer serviced.
    HostGone,
    /// `host-unknown`: the target domain (`to` or `route`) is unknown.
    HostUnknown,
    /// `improper-addressing`: `to` or `route` is missing or invalid.
    ImproperAddressing,
    /// `internal-server-error`: the connection manager had an internal error.
    InternalServerError,
    /// `item-not-found`: bad `sid`, `stream`, `key`, a `rid` outside the window,
    /// or a response that can no longer be resent.
    ItemNotFound,
    /// `other-request`: another request being processed at the same time caused
    /// the session to terminate.
    OtherRequest,
    /// `policy-violation`: the client broke a session rule (polling too often,
    /// too many simultaneous requests, too many repeats of a rid).
    PolicyViolation,
    /// `remote-connection-failed`: the connection manager could not connect to,
    /// or lost its connection to, the server.
    RemoteConnectionFailed,
    /// `remote-stream-error`: the XMPP stream to the server failed; the body
    /// carries the full `<stream:error/>` (XEP-0206 §6).
    RemoteStreamError,
    /// `see-other-uri`: the client should retry at the URI in the `<uri/>` child.
    SeeOtherUri,
    /// `system-shutdown`: the connection manager is shutting down.
    SystemShutdown,
    /// `undefined-condition`: any other error; the body SHOULD say more.
    UndefinedCondition,
}

impl Condition {
    /// Every condition, in the order of the XEP-0124 §17.2 table.
    pub const ALL: [Condition; 13] = [
        Condition::BadRequest,
        Condition::HostGone,
        Condition::HostUnknown,
        Condition::ImproperAddressing,
        Condition::InternalServerError,
        Condition::ItemNotFound,
        Condition::OtherRequest,
        Condition::PolicyViolation,
        Condition::RemoteConnectionFailed,
        Condition::RemoteStreamError,
        Condition::SeeOtherUri,
        Condition::SystemShutdown,
        Condition::UndefinedCondition,
    ];

    /// The attribute value, e.g. `"item-not-found"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Condition::BadRequest => "bad-request",
            Condition::HostGone => "host-gone",
            Condition::HostUnknown => "host-unknown",
            Condition::ImproperAddressing => "improper-addressing",
            Condition::InternalServerError => "internal-server-error",
            Condition::ItemNotFound => "item-not-found",
            Condition::OtherRequest => "other-request",
            Condition::PolicyViolation => "policy-violation",
            Condition::RemoteConnectionFailed => "remote-connection-failed",
            Condition::RemoteStreamError => "remote-stream-error",
            Condition::SeeOtherUri => "see-other-uri",
            Condition::SystemShutdown => "system-shutdown",
            Condition::UndefinedCondition => "undefined-condition",
        }
    }

    /// The deprecated HTTP status a legacy client (no `ver`) gets instead of
    /// this condition (XEP-0124 §17.1 and §17.2, R17.2-3): 400 for
    /// `bad-request`, 403 for `policy-violation`, 404 for `item-not-found`.
    /// `None` for every other condition, which is always sent in a body.
    pub const fn legacy_http_status(self) -> Option<u16> {
        match self {
            Condition::BadRequest => Some(400),
            Condition::PolicyViolation => Some(403),
            Condition::ItemNotFound => Some(404),
            _ => None,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value was not one of the thirteen conditions of XEP-0124 §17.2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown binding condition")]
pub struct UnknownCondition;

impl FromStr for Condition {
    type Err = UnknownCondition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Condition::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownCondition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xep0124_17_2_all_thirteen_conditions_round_trip() {
        for c in Condition::ALL {
            assert_eq!(c.as_str().parse::<Condition>(), Ok(c));
        }
        assert_eq!(Condition::ALL.len(), 13);
        assert!("Item-Not-Found".parse::<Condition>().is_err());
    }

    #[test]
    fn xep0124_17_1_legacy_http_codes() {
        assert_eq!(Condition::BadRequest.legacy_http_status(), Some(400));
        assert_eq!(Condition::PolicyViolation.legacy_http_status(), Some(403));
        assert_eq!(Condition::ItemNotFound.legacy_http_status(), Some(404));
        let others = Condition::ALL
            .iter()
            .filter(|c| c.legacy_http_status().is_some())
            .count();
        assert_eq!(others, 3);
    }
}
