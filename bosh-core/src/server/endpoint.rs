//! Routing and admission of sessions (XEP-0124 §7).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::session::error_response;
use super::{ConfigError, DEFAULT_CONTENT_TYPE, RequestId, Response, ServerConfig, ServerSession};
use crate::body::{Body, ParseError, Sid, parse_bytes};
use crate::condition::Condition;

/// Where a request goes, as decided by [`ServerEndpoint::route`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Routing {
    /// The request belongs to the live session `sid`: hand `body` to its
    /// [`ServerSession::handle_request`].
    Session {
        /// The session id.
        sid: Sid,
        /// The parsed body.
        body: Body,
    },
    /// A session creation request (§7.1): check what the caller must (the
    /// `to` and `route` against its allow-list), then
    /// [`ServerEndpoint::accept`] or [`ServerEndpoint::refuse`] it.
    New(Incoming),
    /// Answer at once: the body did not parse (`bad-request`), names an
    /// unknown session (`item-not-found`, R10-4), or the endpoint is full.
    Respond(Response),
}

/// A session creation request waiting to be accepted or refused.
#[derive(Debug)]
pub struct Incoming {
    request: RequestId,
    body: Body,
}

impl Incoming {
    /// The request.
    pub fn request(&self) -> RequestId {
        self.request
    }

    /// The creation request's body: `to`, `route`, `from`, `xml:lang`, … (§7.1).
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Whether the client is legacy (no `ver`, §17.1).
    pub fn is_legacy(&self) -> bool {
        self.body.attrs.creation().ver.is_none()
    }

    fn content_type(&self) -> &str {
        match &self.body.attrs.creation().content {
            Some(c)
                if c.len() <= 128
                    && c.bytes().all(|b| (0x20..0x7F).contains(&b))
                    && !c.is_empty() =>
            {
                c
            }
            _ => DEFAULT_CONTENT_TYPE,
        }
    }
}

/// The sid → session index and admission control of a connection manager.
///
/// The endpoint owns no session: the caller keeps each [`ServerSession`]
/// (typically in its own task) and reports its end with
/// [`session_closed`](Self::session_closed), so that the index always
/// matches the live sessions.
#[derive(Debug)]
pub struct ServerEndpoint {
    config: Arc<ServerConfig>,
    sessions: HashSet<String>,
}

impl ServerEndpoint {
    /// An endpoint with a validated configuration.
    pub fn new(config: ServerConfig) -> Result<ServerEndpoint, ConfigError> {
        config.validate()?;
        Ok(ServerEndpoint {
            config: Arc::new(config),
            sessions: HashSet::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// How many sessions are live.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Whether `sid` names a live session.
    pub fn contains(&self, sid: &str) -> bool {
        self.sessions.contains(sid)
    }

    /// Parses a request body and decides where it goes. Never panics, whatever
    /// the bytes; bad input is answered with `bad-request` and touches no
    /// session.
    pub fn route(&mut self, now: Instant, request: RequestId, input: Bytes) -> Routing {
        let parsed = parse_bytes(input, &self.config.parse_limits);
        self.route_parsed(now, request, parsed)
    }

    /// [`route`](Self::route) for a body the caller parsed itself, with
    /// [`parse_bytes`] and this endpoint's `parse_limits`: parsing needs no
    /// access to the endpoint, so a caller that shares the endpoint between
    /// threads can parse outside its lock.
    pub fn route_parsed(
        &mut self,
        _now: Instant,
        request: RequestId,
        parsed: Result<Body, ParseError>,
    ) -> Routing {
        let body = match parsed {
            Ok(b) => b,
            Err(e) => {
                return Routing::Respond(error_response(
                    e.condition(),
                    false,
                    DEFAULT_CONTENT_TYPE,
                    Vec::new(),
                ));
            }
        };
        match &body.attrs.sid {
            Some(sid) => {
                if self.sessions.contains(sid.as_str()) {
                    let sid = sid.clone();
                    Routing::Session { sid, body }
                } else {
                    // R10-4 / §17.2 item-not-found (1): bad sid.
                    Routing::Respond(error_response(
                        Condition::ItemNotFound,
                        false,
                        DEFAULT_CONTENT_TYPE,
                        Vec::new(),
                    ))
                }
            }
            None => {
                let incoming = Incoming { request, body };
                if incoming.body.attrs.rid.is_none() {
                    // R6-6: every request carries a rid.
                    return Routing::Respond(self.refuse(incoming, Condition::BadRequest));
                }
                if self.sessions.len() >= self.config.max_sessions {
                    return Routing::Respond(self.refuse(incoming, Condition::UndefinedCondition));
                }
                Routing::New(incoming)
            }
        }
    }

    /// Creates the session for `incoming` with the sid and secret the caller
    /// drew from a CSPRNG (R7.2-1, R19.3-1). The secret seeds the names of
    /// additional streams (R16.2-3). Refused with `internal-server-error` if
    /// the sid is already in use or not a short printable token, and with
    /// `undefined-condition` when the endpoint is full.
    #[allow(clippy::result_large_err)]
    pub fn accept(
        &mut self,
        now: Instant,
        incoming: Incoming,
        sid: String,
        secret: [u8; 16],
    ) -> Result<ServerSession, Response> {
        let sid_ok = !sid.is_empty()
            && sid.len() <= 128
            && sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !sid_ok || self.sessions.contains(&sid) {
            return Err(self.refuse(incoming, Condition::InternalServerError));
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(self.refuse(incoming, Condition::UndefinedCondition));
        }
        self.sessions.insert(sid.clone());
        Ok(ServerSession::new(
            now,
            self.config.clone(),
            sid,
            secret,
            incoming.request,
            incoming.body,
        ))
    }

    /// The response refusing a creation request with `condition`, e.g.
    /// `host-unknown` or `improper-addressing` for a `to`/`route` outside the
    /// caller's allow-list (§17.2).
    pub fn refuse(&self, incoming: Incoming, condition: Condition) -> Response {
        error_response(
            condition,
            incoming.is_legacy(),
            incoming.content_type(),
            Vec::new(),
        )
    }

    /// Forgets a session that reported [`SessionEvent::Closed`](super::SessionEvent::Closed)
    /// (or that the caller dropped). Returns whether it was known.
    pub fn session_closed(&mut self, sid: &str) -> bool {
        self.sessions.remove(sid)
    }
}
