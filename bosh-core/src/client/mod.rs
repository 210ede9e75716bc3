//! The BOSH client session (XEP-0124, XEP-0206): the sans-IO counterpart of
//! Strophe.js's BOSH transport.
//!
//! [`ClientSession`] sequences rids, keeps up to `requests` HTTP requests in
//! flight, batches stanzas, processes responses in rid order, times requests
//! out as Strophe does, resends failed requests byte-identical with back-off,
//! and implements what Strophe does not: acknowledgements (§9), recoverable
//! errors (§17.3), the real `pause` attribute (§10), key sequencing (§15) and
//! multiple streams (§16). It also exports its state for another process to
//! [`attach`](ClientSession::attach) to.
//!
//! # Run loop
//!
//! The session does no IO and reads no clock. After every input
//! (`handle_*`, a command, or a constructor) drain [`ClientSession::poll_output`]
//! until `None`, then arm one timer at [`ClientSession::poll_timeout`] and call
//! [`ClientSession::handle_timeout`] when it fires.
//!
//! - [`Output::Send`]: POST the body now; report the result with
//!   [`ClientSession::handle_response`] and the same [`RequestId`].
//! - [`Output::Abort`]: cancel that HTTP request.
//! - [`Output::Event`]: hand it to the application.
//!
//! ```
//! use std::time::Instant;
//! use bosh_core::client::{ClientSession, Output, Outcome, RequestId};
//!
//! /// One turn of an adapter's loop; returns the instant to wake up at.
//! fn turn(
//!     session: &mut ClientSession,
//!     now: Instant,
//!     finished: Vec<(RequestId, Outcome)>,
//!     timer_fired: bool,
//! ) -> Option<Instant> {
//!     for (id, outcome) in finished {
//!         session.handle_response(now, id, outcome);
//!     }
//!     if timer_fired {
//!         session.handle_timeout(now);
//!     }
//!     while let Some(output) = session.poll_output() {
//!         match output {
//!             Output::Send(t) => { /* POST t.body, remember t.id */ }
//!             Output::Abort(id) => { /* cancel the request for id */ }
//!             Output::Event(e) => { /* deliver e */ }
//!             _ => {}
//!         }
//!     }
//!     session.poll_timeout()
//! }
//! ```
//!
//! # Behaviour where the specifications leave a choice
//!
//! - **Creation** ([`ClientSession::new`]): the creation request is emitted at
//!   once with `to`, `xml:lang`, `ver` (1.11), `wait`, `hold`, `content`,
//!   `route` and `from` when configured, `ack='1'` when acks are on (R9.2-2),
//!   `newkey` with keys (R15.4-1) and `xmpp:version` (XEP-0206 §3). The
//!   effective `hold` is the server's, at most ours; `requests` is the
//!   server's clamped to `1..=hold + 1` (`hold + 1` if absent), so a server
//!   advertising a large window (Strophe's `window`) does not make us open
//!   more connections than useful.
//! - **Requests in flight**: at most `requests` (R11-1), plus one pause or
//!   terminate request. When idle the session keeps `min(hold, requests − 1)`
//!   (at least one) empty polls outstanding (R10-1, R10-2), except between a
//!   SASL `<success/>` and the next request the application makes (normally
//!   the restart, XEP-0206 §5, X5-2): the old stream is over, so no poll is
//!   held for it, as with Strophe.js. After `<stream:features/>`, a SASL
//!   `<challenge/>` or a resource-binding result, it is the client's turn,
//!   and the empty poll waits up to [`ClientConfig::reply_window`] for the
//!   application's answer, which then is the next request and carries the
//!   poll. An empty poll
//!   followed at once by the answer on a second connection can arrive
//!   second; ejabberd 23.01 to 26.07 (`ejabberd_bosh:active1/3`)
//!   then holds the answer until the poll is answered, `wait` seconds
//!   later, and a resend of it crashes the session. A polling session
//!   (effective `hold` or `wait` 0, §12) keeps at most one and spaces empty
//!   polls by the server's `polling` plus one second of margin for network
//!   jitter (R11-4, R12-4), at least [`ClientConfig::min_poll_interval`].
//! - **Batching**: [`ClientSession::send`] only queues; stanzas go out at the
//!   next [`handle_timeout`](ClientSession::handle_timeout) (due
//!   [`ClientConfig::batch_delay`] after the first queued stanza) or
//!   [`flush`](ClientSession::flush), or as soon as a response frees a slot.
//!   Consecutive stanzas for the same stream go into one body up to
//!   [`ClientConfig::max_batch_bytes`] (R16.4-3). Every other command sends at
//!   once, after the stanzas queued before it.
//! - **Responses** are processed in rid order (R14.2-2): a response that
//!   arrives early is kept until the earlier ones are processed. The earlier
//!   unanswered requests are then "dead" (Strophe) and fail after the
//!   secondary timeout, `floor(wait × 0.1)` s (at least 1 s), instead of the
//!   primary `floor(wait × 1.1)` s (at least
//!   [`ClientConfig::min_request_timeout`]). Once a later response is a
//!   terminal error, no earlier request is resent: one that fails, reaches
//!   its secondary timeout or is waiting out a back-off (given up on after
//!   the secondary timeout at the latest) is skipped, and the session ends
//!   with that error.
//! - **Failures** (transport error, status 0, 5xx, 408, 429, a 200 whose body
//!   does not parse or names another sid, a timeout, `type='error'`) resend
//!   the same bytes under the same rid (R14.3-3) after Strophe's back-off
//!   (first resend at once, then `min(floor(wait × 1.1), sends³)` s: 8 s,
//!   27 s, …). A body that does not parse is treated as a failure rather than
//!   fatal (Strophe disconnects): a truncated response is more likely a
//!   network fault, and the server replays its response to a repeated rid
//!   (R14.3-4). `max_errors` (5) consecutive failures, or that many for one
//!   rid, end the session with [`DisconnectReason::TooManyErrors`]; any usable
//!   200 resets the count.
//! - **HTTP errors**: every other 4xx is fatal ([`DisconnectReason::HttpStatus`]),
//!   from legacy (R17.1-3) and non-legacy managers alike: a non-legacy manager
//!   SHOULD NOT send them (R17.1-2), so one that does, or an intermediary, has
//!   refused the request and a resend would fail the same way (Strophe does
//!   the same). Other statuses (1xx, 2xx other than 200, 3xx) are fatal too:
//!   a BOSH response is always 200 (R8-3).
//! - **`type='error'`** (R17.3-2): the failed request and every earlier
//!   unanswered one are resent byte-identical (Strophe ignores it).
//! - **`report`** (R9.2-5): the reported request, if still unanswered, is
//!   resent at once (no back-off, not counted as an error).
//! - **`ack`** (R9.2-1, R9.2-3): a request carries `ack` = the highest rid
//!   whose response was processed, and none when every earlier response was
//!   processed. The server's `ack` is not used: the timeouts already detect
//!   lost requests.
//! - **Terminate** ([`ClientSession::terminate`]): stanzas still queued for
//!   the whole session are put in the terminate body before the given payload
//!   (stanzas queued for one stream are dropped); the request may exceed
//!   `requests` by one (R11-1). The session ends with
//!   [`DisconnectReason::Terminated`] when the response to it, or a
//!   `type='terminate'` response without condition, is processed (R13-6), or
//!   [`DisconnectReason::TerminateTimedOut`] after
//!   [`ClientConfig::disconnect_timeout`].
//! - **Pause** ([`ClientSession::pause`]): only when `maxpause` was advertised
//!   (R10-7), clamped to it. Once the pause request is sent nothing else is
//!   sent until [`resume`](ClientSession::resume); if the pause runs out
//!   first the session ends locally with [`DisconnectReason::PauseExpired`]
//!   and sends nothing (another process may have attached).
//! - **Restart** ([`ClientSession::restart`], XEP-0206 §5): an empty body with
//!   `xmpp:restart='true'`, `to`, `xml:lang` (and `from` when configured, for
//!   SASL EXTERNAL); stanzas queued after it go in later bodies.
//! - **Key sequencing** ([`ClientSession::new_with_keys`]): the session asks
//!   for the next chain ([`Event::KeysNeeded`]) as soon as it starts a chain,
//!   and switches to it with K(1) (R15.5-2). If the application has not
//!   provided it by then, new requests wait for it.
//! - **Multiple streams** (§16): only when the creation response names a
//!   stream (R16.2-2). A response without `stream` belongs to the first
//!   stream (R16.4-7); payload for a just-closed stream is dropped, payload
//!   for a stream never opened terminates the session (R16.4-4,
//!   [`DisconnectReason::BadResponse`]); a fatal error with `stream` closes
//!   only that stream (R16.6-1). [`ClientSession::send`] sends without
//!   `stream` (the connection manager broadcasts it, R16.4-8).
//! - **Export** ([`ClientSession::export`]): the state holds the next rid;
//!   the attaching session takes every earlier response as received, so
//!   export when nothing unanswered matters (responses to requests still in
//!   flight go to the exporting process).
//! - **Time** never runs backwards inside the session: an instant earlier
//!   than one already seen is taken as that one. Deadlines that cannot be
//!   represented mean "never".

mod config;
mod output;
mod state;

pub use config::{ClientConfig, ClientError, MAX_FIRST_RID};
pub use output::{
    DisconnectReason, Event, Failure, Outcome, Output, RequestId, SessionParams, StreamRequest,
    Transmit,
};
pub use state::{KeyState, ParseStateError, SessionState};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::body::{Body, BodyAttrs, BodyType, CreationAttrs, Sid, parse_bytes, write_body};
use crate::condition::Condition;
use crate::keys::KeyChain;
use crate::rid::Rid;
use crate::timing::{earliest, retry_backoff, scaled_wait};

/// Floor of the secondary timeout: Strophe's `floor(wait × 0.1)` is 0 s for
/// `wait < 10`.
const MIN_SECONDARY_TIMEOUT: Duration = Duration::from_secs(1);
/// Margin added to the server's `polling` interval.
const POLLING_MARGIN: Duration = Duration::from_secs(1);
/// How many closed stream names are remembered, to drop late payloads.
const CLOSED_STREAMS_KEPT: usize = 16;
const STREAM_FEATURES: &[u8] = b"stream:features";
const SASL_SUCCESS: &[u8] = b"success";
const SASL_CHALLENGE: &[u8] = b"challenge";
const SASL_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-sasl";
const IQ: &[u8] = b"iq";
const BIND_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-bind";

/// The effective `hold` and `requests` from the manager's `hold` (already at
/// most ours) and `requests` (XEP-0124 §7.2): `requests` within
/// `1..=hold + 1` (`hold + 1` if absent), and `hold` below `requests`
/// (R7.2-4), so that `requests='1'` forces polling (R12-2).
fn hold_and_requests(hold: u8, requests: Option<u8>) -> (u8, u8) {
    let cap = hold.saturating_add(1);
    let requests = requests.unwrap_or(cap).clamp(1, cap);
    (hold.min(requests - 1), requests)
}

/// What the session waits for before its next empty poll, when a response
/// made it the client's turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaiting {
    /// Nothing: polls go out as `hold` requires.
    Nothing,
    /// A SASL `<success/>` arrived: the next request must be the restart
    /// (XEP-0206 §5, X5-2), and no empty poll goes out before it, however
    /// long the application takes.
    Restart,
    /// Stream features, a SASL challenge or a binding result arrived: the
    /// application's answer is due, and the empty poll waits for it until
    /// `until` ([`ClientConfig::reply_window`] after the response; at once
    /// if the clock cannot represent that). The answer is then the next
    /// request rather than racing an empty poll on a second connection.
    Reply { until: Instant },
}

/// Whether `iq` (well-formed: it was parsed) is a `type='result'` carrying a
/// resource-binding payload (RFC 6120 §7.6.1). The namespace is looked for
/// anywhere in the element: a false match only delays one empty poll by
/// [`ClientConfig::reply_window`].
fn is_bind_result(iq: &[u8]) -> bool {
    crate::xmpp::classify_payload(iq).is_ok_and(|p| p.stanza_type.as_deref() == Some("result"))
        && memchr::memmem::find(iq, BIND_NS).is_some()
}

/// Whether the start tag of `element` (well-formed: it was parsed) declares
/// the default namespace `ns`.
fn declares_namespace(element: &[u8], ns: &[u8]) -> bool {
    let end = element
        .iter()
        .position(|&b| b == b'>')
        .unwrap_or(element.len());
    let tag = &element[..end];
    tag.windows(6).enumerate().any(|(i, w)| {
        w == b"xmlns="
            && i > 0
            && matches!(tag[i - 1], b' ' | b'\t' | b'\r' | b'\n')
            && tag.get(i + 6).is_some_and(|&q| {
                (q == b'\'' || q == b'"')
                    && tag[i + 7..].starts_with(ns)
                    && tag.get(i + 7 + ns.len()) == Some(&q)
            })
    })
}

const STREAM_ERROR: &[u8] = b"stream:error";
const URI: &[u8] = b"uri";

/// A BOSH client session (XEP-0124, XEP-0206). See the [module
/// documentation](self) for the run loop and the behaviour.
///
/// Methods come in four groups (quinn-proto style):
/// - getters: [`sid`](Self::sid), [`params`](Self::params),
///   [`is_connected`](Self::is_connected), …;
/// - inputs: [`handle_response`](Self::handle_response),
///   [`handle_timeout`](Self::handle_timeout);
/// - commands: [`send`](Self::send), [`restart`](Self::restart),
///   [`pause`](Self::pause), [`terminate`](Self::terminate), …;
/// - outputs: [`poll_output`](Self::poll_output),
///   [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    phase: Phase,
    /// Why the session is terminating, when it was not the application.
    terminate_reason: Option<DisconnectReason>,
    params: Option<SessionParams>,
    sid: Option<Sid>,
    jid: Option<String>,
    wait: u16,
    hold: u8,
    requests: u8,
    polling: Option<u16>,
    maxpause: Option<u16>,
    next_rid: Option<Rid>,
    next_id: u64,
    next_stream_request: u64,
    /// Requests not yet processed, in rid order, rids contiguous.
    entries: VecDeque<Entry>,
    queue: VecDeque<Item>,
    queued_bytes: usize,
    pause_pending: bool,
    /// Whether a response made it the client's turn, so that the empty
    /// poll waits for the application's next request, which ends the wait.
    awaiting: Awaiting,
    /// A restart was sent: the stream is authenticated, and a SASL
    /// `<success/>` after it is not the end of SASL.
    restarted: bool,
    flush_at: Option<Instant>,
    /// When a request last went on the wire, new or resent: empty polls
    /// are spaced from it (R12-4: the manager times `polling` from
    /// arrivals, and a resend of a request it never received arrives new).
    last_sent_at: Option<Instant>,
    errors: u32,
    keys: Option<Keys>,
    streams: Option<Streams>,
    outputs: VecDeque<Output>,
    last_now: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The creation request is in flight.
    Creating,
    Connected,
    /// The pause request was sent; it runs out at `until`.
    Paused {
        until: Option<Instant>,
    },
    /// A terminate request is queued or sent.
    Terminating {
        deadline: Option<Instant>,
    },
    Disconnected,
}

#[derive(Debug)]
struct Entry {
    rid: Rid,
    body: Bytes,
    kind: Kind,
    /// Times put on the wire.
    sends: u32,
    /// Consecutive failures of this rid.
    failures: u32,
    /// When a later request was answered first (Strophe's "dead").
    dead_since: Option<Instant>,
    state: EntryState,
}

#[derive(Debug)]
enum EntryState {
    /// On the wire as `id`.
    Sent {
        id: RequestId,
        deadline: Option<Instant>,
    },
    /// Waiting out a back-off before the next send.
    Waiting { due: Instant },
    /// Answered; `None` when skipped (see `expire`).
    Answered(Option<Box<Body>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Create,
    Normal,
    Restart,
    Pause,
    AddStream(StreamRequest),
    CloseStream(String),
    Terminate,
}

#[derive(Debug)]
enum Item {
    Stanza {
        stream: Option<String>,
        data: Bytes,
    },
    Restart,
    Pause(u16),
    AddStream {
        request: StreamRequest,
        to: String,
        route: Option<String>,
    },
    CloseStream {
        stream: String,
        payload: Vec<Bytes>,
    },
    Terminate {
        payload: Vec<Bytes>,
    },
}

#[derive(Debug)]
struct Keys {
    current: KeyChain,
    spare: Option<KeyChain>,
}

#[derive(Debug)]
struct Streams {
    first: String,
    open: Vec<String>,
    closing: Vec<String>,
    closed: VecDeque<String>,
}

impl Streams {
    fn new(first: String) -> Streams {
        Streams {
            open: vec![first.clone()],
            first,
            closing: Vec::new(),
            closed: VecDeque::new(),
        }
    }

    fn is_open(&self, name: &str) -> bool {
        self.open.iter().any(|s| s == name)
    }

    fn is_usable(&self, name: &str) -> bool {
        self.is_open(name) && !self.closing.iter().any(|s| s == name)
    }

    fn known(&self, name: &str) -> bool {
        self.is_open(name) || self.closed.iter().any(|s| s == name)
    }

    fn close(&mut self, name: &str) -> bool {
        let was_open = self.is_open(name);
        self.open.retain(|s| s != name);
        self.closing.retain(|s| s != name);
        if was_open {
            if self.closed.len() == CLOSED_STREAMS_KEPT {
                self.closed.pop_front();
            }
            self.closed.push_back(name.to_owned());
        }
        was_open
    }
}

/// Where the payload of a response goes (XEP-0124 §16.4).
enum Route {
    To(Option<String>),
    Drop,
    Unknown,
}

fn qname(element: &[u8]) -> &[u8] {
    let rest = element.strip_prefix(b"<").unwrap_or(element);
    let end = rest
        .iter()
        .position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>'))
        .unwrap_or(rest.len());
    &rest[..end]
}

impl ClientSession {
    /// Starts a session and emits the creation request (XEP-0124 §7.1,
    /// XEP-0206 §3).
    ///
    /// `first_rid` must come from a CSPRNG (R14.1-1, R19.3-1) and be at most
    /// [`MAX_FIRST_RID`] (R14.1-2). `now` is the current time.
    pub fn new(
        config: ClientConfig,
        first_rid: Rid,
        now: Instant,
    ) -> Result<ClientSession, ClientError> {
        ClientSession::create(config, first_rid, None, now)
    }

    /// Like [`ClientSession::new`], with key sequencing (XEP-0124 §15): the
    /// creation request carries `keys.newkey()`. The caller builds `keys` with
    /// secret entropy and an unpredictable, high length (R15.3-1, R15.5-1),
    /// and gives a fresh chain each time the session emits
    /// [`Event::KeysNeeded`].
    pub fn new_with_keys(
        config: ClientConfig,
        first_rid: Rid,
        keys: KeyChain,
        now: Instant,
    ) -> Result<ClientSession, ClientError> {
        ClientSession::create(config, first_rid, Some(keys), now)
    }

    fn blank(config: ClientConfig, now: Instant) -> ClientSession {
        ClientSession {
            wait: config.wait,
            hold: config.hold,
            requests: 1,
            config,
            phase: Phase::Creating,
            terminate_reason: None,
            params: None,
            sid: None,
            jid: None,
            polling: None,
            maxpause: None,
            next_rid: None,
            next_id: 0,
            next_stream_request: 0,
            entries: VecDeque::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            pause_pending: false,
            awaiting: Awaiting::Nothing,
            restarted: false,
            flush_at: None,
            last_sent_at: None,
            errors: 0,
            keys: None,
            streams: None,
            outputs: VecDeque::new(),
            last_now: now,
        }
    }

    fn create(
        config: ClientConfig,
        first_rid: Rid,
        keys: Option<KeyChain>,
        now: Instant,
    ) -> Result<ClientSession, ClientError> {
        config.validate()?;
        if first_rid.get() > MAX_FIRST_RID {
            return Err(ClientError::FirstRidTooLarge(first_rid.get()));
        }
        let mut s = ClientSession::blank(config, now);
        s.next_rid = Some(first_rid);
        s.keys = keys.map(|current| Keys {
            current,
            spare: None,
        });
        let c = &s.config;
        let attrs = BodyAttrs {
            ack: if c.use_acks { Some(Rid::MIN) } else { None },
            creation: Some(Box::new(CreationAttrs {
                to: Some(c.to.clone()),
                from: c.from.clone(),
                route: c.route.clone(),
                xml_lang: Some(c.xml_lang.clone()),
                ver: Some(c.ver),
                wait: Some(c.wait),
                hold: Some(c.hold),
                content: c.content.clone(),
                xmpp_version: c.xmpp_version,
                ..CreationAttrs::default()
            })),
            ..BodyAttrs::default()
        };
        s.transmit_new(now, Kind::Create, attrs, &[]);
        if s.keys.is_some() {
            s.push_event(Event::KeysNeeded);
        }
        Ok(s)
    }

    /// Resumes a session exported by [`ClientSession::export`] (or
    /// pre-bound by a server), without a creation request: the session is
    /// connected at once ([`Event::Connected`]) and its first request carries
    /// `state.rid` (Strophe's `attach`).
    pub fn attach(
        config: ClientConfig,
        state: SessionState,
        now: Instant,
    ) -> Result<ClientSession, ClientError> {
        config.validate()?;
        if state.sid.is_empty() {
            return Err(ClientError::InvalidState("the sid is empty"));
        }
        let keys = match &state.keys {
            Some(k) => Some(KeyChain::resume(&k.seed, k.len, k.remaining)?),
            None => None,
        };
        let mut s = ClientSession::blank(config, now);
        s.sid = Some(Sid::from(state.sid.as_str()));
        s.jid = state.jid.clone();
        s.next_rid = Some(state.rid);
        s.wait = state.wait;
        // As at creation.
        (s.hold, s.requests) = hold_and_requests(state.hold, Some(state.requests));
        s.polling = state.polling;
        s.maxpause = state.maxpause;
        s.streams = state.stream.clone().map(Streams::new);
        let params = SessionParams {
            sid: state.sid,
            wait: s.wait,
            hold: s.hold,
            requests: s.requests,
            polling: state.polling,
            inactivity: state.inactivity,
            maxpause: state.maxpause,
            ver: state.ver,
            acks: state.acks,
            from: None,
            authid: None,
            restart_logic: false,
            xmpp_version: None,
            stream: state.stream,
            accept: None,
            charsets: None,
        };
        s.params = Some(params.clone());
        s.phase = Phase::Connected;
        s.push_event(Event::Connected(params));
        if let Some(current) = keys {
            s.keys = Some(Keys {
                current,
                spare: None,
            });
            s.push_event(Event::KeysNeeded);
        }
        s.pump(now);
        Ok(s)
    }

    // ----- getters -----

    /// The session id, once the creation response is processed (§7.2).
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The session parameters, once connected.
    pub fn params(&self) -> Option<&SessionParams> {
        self.params.as_ref()
    }

    /// Whether the session is created and neither terminating nor over
    /// (paused counts as connected).
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Connected | Phase::Paused { .. })
    }

    /// Whether a pause request (§10) has been sent and not resumed.
    pub fn is_paused(&self) -> bool {
        matches!(self.phase, Phase::Paused { .. })
    }

    /// Whether a terminate request (§13) is queued or in flight.
    pub fn is_terminating(&self) -> bool {
        matches!(self.phase, Phase::Terminating { .. })
    }

    /// Whether the session is over.
    pub fn is_disconnected(&self) -> bool {
        self.phase == Phase::Disconnected
    }

    /// Requests sent (or waiting to be resent) whose responses are not yet
    /// processed.
    pub fn in_flight(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of stanzas queued and not yet in a request, for back-pressure.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The rid the next new request will carry; `None` once 2^53 − 1 is used.
    pub fn next_rid(&self) -> Option<Rid> {
        self.next_rid
    }

    /// The open streams, first stream first (§16); empty without multi-stream
    /// support.
    pub fn streams(&self) -> impl Iterator<Item = &str> {
        self.streams
            .iter()
            .flat_map(|s| s.open.iter().map(String::as_str))
    }

    /// The JID set with [`ClientSession::set_jid`] or attached.
    pub fn jid(&self) -> Option<&str> {
        self.jid.as_deref()
    }

    /// Records the bound JID (XEP-0206 §5, after resource binding), for
    /// [`ClientSession::export`].
    pub fn set_jid(&mut self, jid: impl Into<String>) {
        self.jid = Some(jid.into());
    }

    /// The state another process needs to [`attach`](Self::attach) to this
    /// session: sid, next rid, wait, hold, requests, jid, keys, ….
    ///
    /// Responses to requests still in flight go to this process; the
    /// attaching one takes them as received. Errors: not connected yet,
    /// terminating, disconnected, or no rid left.
    pub fn export(&self) -> Result<SessionState, ClientError> {
        match self.phase {
            Phase::Creating => return Err(ClientError::NotConnected),
            Phase::Terminating { .. } => return Err(ClientError::Terminating),
            Phase::Disconnected => return Err(ClientError::Disconnected),
            Phase::Connected | Phase::Paused { .. } => {}
        }
        let (Some(sid), Some(rid), Some(p)) = (&self.sid, self.next_rid, &self.params) else {
            return Err(ClientError::InvalidState("no rid left"));
        };
        Ok(SessionState {
            sid: sid.to_string(),
            rid,
            wait: self.wait,
            hold: self.hold,
            requests: self.requests,
            jid: self.jid.clone(),
            ver: p.ver,
            polling: self.polling,
            inactivity: p.inactivity,
            maxpause: self.maxpause,
            acks: p.acks,
            stream: self.streams.as_ref().map(|s| s.first.clone()),
            keys: self.keys.as_ref().map(|k| KeyState {
                seed: k.current.seed().to_vec(),
                len: k.current.len(),
                remaining: k.current.remaining(),
            }),
        })
    }

    // ----- outputs -----

    /// The next output, if any. Drain until `None` after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`ClientSession::handle_timeout`] next; `None`: no timer.
    ///
    /// Call after draining [`ClientSession::poll_output`]. Right after
    /// `handle_timeout(now)` it is always later than `now`.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match self.phase {
            Phase::Disconnected => return None,
            Phase::Terminating { deadline } => deadline,
            Phase::Paused { until } => until,
            Phase::Creating | Phase::Connected => None,
        };
        let entries = self.entries.iter().map(|e| match e.state {
            EntryState::Sent { deadline, .. } => deadline,
            EntryState::Waiting { due } => Some(due),
            EntryState::Answered(_) => None,
        });
        // Right after `pump` this is `None` or later than now. It can be
        // due already when an input moved the clock past the end of a
        // `reply_window` without sending anything (an empty `send`, a
        // `resume` while not paused): the poll then goes out at the next
        // `handle_timeout`, not never.
        let poll = self.idle_poll_due();
        earliest([phase, self.flush_at, poll].into_iter().chain(entries))
    }

    // ----- inputs -----

    /// Reports the result of the HTTP request `id` (XEP-0124 §8, §14, §17).
    ///
    /// Results for unknown or aborted ids are ignored.
    pub fn handle_response(&mut self, now: Instant, id: RequestId, outcome: Outcome) {
        let now = self.advance(now);
        if self.phase == Phase::Disconnected {
            return;
        }
        let Some(idx) = self
            .entries
            .iter()
            .position(|e| matches!(e.state, EntryState::Sent { id: i, .. } if i == id))
        else {
            return;
        };
        match outcome {
            Outcome::TransportFailure | Outcome::Http { status: 0, .. } => {
                self.fail(idx, now, Failure::Transport, false);
            }
            Outcome::Http { status: 200, body } => self.on_body(idx, now, body),
            Outcome::Http { status, .. }
                if (500..600).contains(&status) || status == 408 || status == 429 =>
            {
                self.fail(idx, now, Failure::HttpStatus(status), false);
            }
            Outcome::Http { status, .. } => {
                // That request is over: nothing to abort.
                self.entries[idx].state = EntryState::Waiting { due: now };
                self.disconnect(DisconnectReason::HttpStatus(status));
            }
        }
        self.pump(now);
    }

    /// Handles the timers that are due at `now`: request timeouts, resends
    /// after back-off, batching, polling, pause and disconnect timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        match self.phase {
            Phase::Disconnected => return,
            Phase::Terminating { deadline: Some(d) } if d <= now => {
                if self.end_with_received_terminal(now) {
                    return;
                }
                let reason = self
                    .terminate_reason
                    .take()
                    .unwrap_or(DisconnectReason::TerminateTimedOut);
                self.disconnect(reason);
                return;
            }
            Phase::Paused { until: Some(u) } if u <= now => {
                if self.end_with_received_terminal(now) {
                    return;
                }
                self.disconnect(DisconnectReason::PauseExpired);
                return;
            }
            _ => {}
        }
        if self.flush_at.is_some_and(|t| t <= now) {
            self.flush_at = None;
        }
        // Each entry is handled at most once: afterwards its timer is later
        // than `now`, or it is answered.
        let mut budget = self.entries.len() * 2 + 2;
        while budget > 0 {
            budget -= 1;
            let due = self.entries.iter().position(|e| match e.state {
                EntryState::Sent {
                    deadline: Some(d), ..
                } => d <= now,
                EntryState::Waiting { due } => due <= now,
                _ => false,
            });
            let Some(idx) = due else { break };
            if matches!(self.entries[idx].state, EntryState::Waiting { .. }) {
                match self.terminal_after(idx) {
                    Some(terminal) => self.skip_to_terminal(terminal, now),
                    None => self.transmit(idx, now),
                }
            } else {
                self.expire(idx, now);
            }
            if self.phase == Phase::Disconnected {
                return;
            }
        }
        self.pump(now);
    }

    // ----- commands -----

    /// Queues a payload element (a stanza) for the session (XEP-0124 §8),
    /// without `stream`. It must be one or more complete elements; an empty
    /// payload is ignored. It is sent at the next
    /// [`handle_timeout`](Self::handle_timeout) (see
    /// [`ClientConfig::batch_delay`]), with whatever else was queued.
    ///
    /// Errors: terminating or disconnected. Before the session is created the
    /// payload waits for it.
    pub fn send(&mut self, now: Instant, payload: impl Into<Bytes>) -> Result<(), ClientError> {
        self.queue_stanza(now, None, payload.into())
    }

    /// Like [`ClientSession::send`], for one stream (`stream` attribute,
    /// XEP-0124 §16.4, R16.4-2).
    ///
    /// Errors: no multi-stream support, or no such open stream (one being
    /// closed counts as closed).
    pub fn send_to_stream(
        &mut self,
        now: Instant,
        stream: &str,
        payload: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        let streams = self
            .streams
            .as_ref()
            .ok_or(ClientError::StreamsNotSupported)?;
        if !streams.is_usable(stream) {
            return Err(ClientError::UnknownStream);
        }
        self.queue_stanza(now, Some(stream.to_owned()), payload.into())
    }

    fn queue_stanza(
        &mut self,
        now: Instant,
        stream: Option<String>,
        data: Bytes,
    ) -> Result<(), ClientError> {
        let now = self.advance(now);
        self.check_open()?;
        if data.is_empty() {
            return Ok(());
        }
        self.queued_bytes = self.queued_bytes.saturating_add(data.len());
        self.queue.push_back(Item::Stanza { stream, data });
        let at = now.checked_add(self.config.batch_delay).unwrap_or(now);
        self.flush_at = Some(self.flush_at.map_or(at, |t| t.min(at)));
        Ok(())
    }

    /// Sends the queued stanzas now, as far as `requests` allows.
    pub fn flush(&mut self, now: Instant) {
        let now = self.advance(now);
        self.pump(now);
    }

    /// Asks for an XMPP stream restart after SASL success (XEP-0206 §5,
    /// X5-2): an empty body with `xmpp:restart='true'`, `to` and `xml:lang`.
    /// The new stream's features arrive as [`Event::StreamFeatures`].
    ///
    /// Errors: not created yet, terminating or disconnected.
    pub fn restart(&mut self, now: Instant) -> Result<(), ClientError> {
        let now = self.advance(now);
        self.check_connected()?;
        self.queue.push_back(Item::Restart);
        self.pump(now);
        Ok(())
    }

    /// Asks the connection manager to pause the session for `secs` seconds
    /// (XEP-0124 §10), clamped to `maxpause`; returns the value sent.
    ///
    /// After the pause request is sent nothing else is sent until
    /// [`resume`](Self::resume), which must come before the pause runs out
    /// (or the session ends with [`DisconnectReason::PauseExpired`]).
    ///
    /// Errors: no `maxpause` advertised (R10-7), `secs == 0`, already paused,
    /// not created yet, terminating or disconnected.
    pub fn pause(&mut self, now: Instant, secs: u16) -> Result<u16, ClientError> {
        let now = self.advance(now);
        self.check_connected()?;
        if self.pause_pending || self.is_paused() {
            return Err(ClientError::AlreadyPaused);
        }
        // `maxpause='0'` advertises no pause at all (R10-7).
        let max = self
            .maxpause
            .filter(|&m| m > 0)
            .ok_or(ClientError::PauseNotSupported)?;
        if secs == 0 {
            return Err(ClientError::InvalidPause);
        }
        let secs = secs.min(max);
        self.queue.push_back(Item::Pause(secs));
        self.pause_pending = true;
        self.pump(now);
        Ok(secs)
    }

    /// Ends a pause (XEP-0124 §10): polling starts again, and the connection
    /// manager restores the normal inactivity on that request (R10-11). A
    /// pause not yet sent is cancelled.
    ///
    /// Errors: not paused, terminating or disconnected.
    pub fn resume(&mut self, now: Instant) -> Result<(), ClientError> {
        let now = self.advance(now);
        match self.phase {
            Phase::Paused { .. } => self.phase = Phase::Connected,
            Phase::Connected if self.pause_pending => {
                self.queue.retain(|i| !matches!(i, Item::Pause(_)));
                self.pause_pending = false;
            }
            Phase::Terminating { .. } => return Err(ClientError::Terminating),
            Phase::Disconnected => return Err(ClientError::Disconnected),
            Phase::Creating | Phase::Connected => return Err(ClientError::NotPaused),
        }
        self.pump(now);
        Ok(())
    }

    /// Terminates the session (XEP-0124 §13) with `type='terminate'` and
    /// `payload` (e.g. unavailable presence, R13-1), after any stanzas still
    /// queued for the whole session.
    ///
    /// The session ends with [`DisconnectReason::Terminated`] when the
    /// connection manager acknowledges it, or
    /// [`DisconnectReason::TerminateTimedOut`] after
    /// [`ClientConfig::disconnect_timeout`]. Before the session is created it
    /// ends at once.
    ///
    /// Errors: already terminating or disconnected.
    pub fn terminate<I>(&mut self, now: Instant, payload: I) -> Result<(), ClientError>
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        let now = self.advance(now);
        match self.phase {
            Phase::Terminating { .. } => Err(ClientError::Terminating),
            Phase::Disconnected => Err(ClientError::Disconnected),
            Phase::Creating => {
                self.disconnect(DisconnectReason::Terminated);
                Ok(())
            }
            Phase::Connected | Phase::Paused { .. } => {
                let payload = payload.into_iter().map(Into::into).collect();
                self.start_terminate(now, payload, None);
                Ok(())
            }
        }
    }

    /// Opens another stream (XEP-0124 §16.3) to `to` (and `route`); the
    /// stream's name comes in [`Event::StreamAdded`] with the returned
    /// request.
    ///
    /// Errors: no multi-stream support (R16.2-2), not created yet,
    /// terminating or disconnected.
    pub fn add_stream(
        &mut self,
        now: Instant,
        to: impl Into<String>,
        route: Option<String>,
    ) -> Result<StreamRequest, ClientError> {
        let now = self.advance(now);
        self.check_connected()?;
        if self.streams.is_none() {
            return Err(ClientError::StreamsNotSupported);
        }
        let request = StreamRequest(self.next_stream_request);
        self.next_stream_request = self.next_stream_request.saturating_add(1);
        self.queue.push_back(Item::AddStream {
            request,
            to: to.into(),
            route,
        });
        self.pump(now);
        Ok(request)
    }

    /// Closes one stream (XEP-0124 §16.5) with `type='terminate'`, `stream`
    /// and `payload`; [`Event::StreamClosed`] follows. Closing the last open
    /// stream terminates the session ([`ClientSession::terminate`], R16.5-2).
    ///
    /// Errors: no multi-stream support, no such open stream, not created yet,
    /// terminating or disconnected.
    pub fn close_stream<I>(
        &mut self,
        now: Instant,
        stream: &str,
        payload: I,
    ) -> Result<(), ClientError>
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        let now = self.advance(now);
        self.check_connected()?;
        let streams = self
            .streams
            .as_mut()
            .ok_or(ClientError::StreamsNotSupported)?;
        if !streams.is_usable(stream) {
            return Err(ClientError::UnknownStream);
        }
        let payload: Vec<Bytes> = payload.into_iter().map(Into::into).collect();
        if streams.open.len() - streams.closing.len() <= 1 {
            return self.terminate(now, payload);
        }
        streams.closing.push(stream.to_owned());
        self.queue.push_back(Item::CloseStream {
            stream: stream.to_owned(),
            payload,
        });
        self.pump(now);
        Ok(())
    }

    /// Gives the next key chain (XEP-0124 §15.5), built with fresh entropy,
    /// after [`Event::KeysNeeded`]. Replaces one given before and not yet
    /// used.
    ///
    /// Errors: the session does not use key sequencing, or is over.
    pub fn provide_key_chain(&mut self, now: Instant, chain: KeyChain) -> Result<(), ClientError> {
        let now = self.advance(now);
        if self.phase == Phase::Disconnected {
            return Err(ClientError::Disconnected);
        }
        let keys = self.keys.as_mut().ok_or(ClientError::KeysNotInUse)?;
        keys.spare = Some(chain);
        self.pump(now);
        Ok(())
    }

    // ----- internals -----

    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.last_now {
            self.last_now = now;
        }
        self.last_now
    }

    fn push_event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Commands that queue payload: allowed before creation too.
    fn check_open(&self) -> Result<(), ClientError> {
        match self.phase {
            Phase::Terminating { .. } => Err(ClientError::Terminating),
            Phase::Disconnected => Err(ClientError::Disconnected),
            _ => Ok(()),
        }
    }

    fn check_connected(&self) -> Result<(), ClientError> {
        match self.phase {
            Phase::Creating => Err(ClientError::NotConnected),
            _ => self.check_open(),
        }
    }

    fn is_polling_session(&self) -> bool {
        self.hold == 0 || self.wait == 0
    }

    fn timeout_wait(&self, kind: &Kind) -> u16 {
        if *kind == Kind::Create {
            self.config.wait
        } else {
            self.wait
        }
    }

    fn primary_timeout(&self, kind: &Kind) -> Duration {
        scaled_wait(self.timeout_wait(kind), self.config.timeout_multiplier)
            .max(self.config.min_request_timeout)
    }

    fn secondary_timeout(&self, kind: &Kind) -> Duration {
        scaled_wait(
            self.timeout_wait(kind),
            self.config.secondary_timeout_multiplier,
        )
        .max(MIN_SECONDARY_TIMEOUT)
    }

    fn keys_ready(&self) -> bool {
        self.keys
            .as_ref()
            .is_none_or(|k| k.current.remaining() > 1 || k.spare.is_some())
    }

    /// When an empty poll should go out, if one is needed now or later.
    fn idle_poll_due(&self) -> Option<Instant> {
        if self.phase != Phase::Connected
            || self.pause_pending
            || !self.queue.is_empty()
            || !self.keys_ready()
        {
            return None;
        }
        let due = if self.is_polling_session() {
            if !self.entries.is_empty() {
                return None;
            }
            let mut interval = self.config.min_poll_interval;
            if let Some(p) = self.polling {
                interval = interval.max(Duration::from_secs(u64::from(p)) + POLLING_MARGIN);
            }
            match self.last_sent_at {
                Some(t) => t.checked_add(interval),
                None => Some(self.last_now),
            }
        } else {
            let target = usize::from(self.hold.max(1));
            (self.entries.len() < target).then_some(self.last_now)
        };
        match self.awaiting {
            Awaiting::Nothing => due,
            Awaiting::Restart => None,
            Awaiting::Reply { until } => due.map(|d| d.max(until)),
        }
    }

    /// Sends new requests while the rules allow.
    fn pump(&mut self, now: Instant) {
        loop {
            if !matches!(self.phase, Phase::Connected | Phase::Terminating { .. }) {
                break;
            }
            let limit = usize::from(self.requests);
            if let Some(item) = self.queue.front() {
                let extra = matches!(
                    item,
                    Item::Pause(_) | Item::Terminate { .. } | Item::CloseStream { .. }
                );
                let cap = if extra { limit + 1 } else { limit };
                if self.entries.len() >= cap || !self.keys_ready() {
                    break;
                }
                self.send_item(now);
            } else if self.idle_poll_due().is_some_and(|t| t <= now) {
                self.transmit_new(now, Kind::Normal, BodyAttrs::default(), &[]);
            } else {
                break;
            }
        }
        if self.queue.is_empty() {
            self.flush_at = None;
        }
    }

    /// Builds the request for the item at the front of the queue.
    fn send_item(&mut self, now: Instant) {
        let Some(item) = self.queue.pop_front() else {
            return;
        };
        // Whatever the application sends next (the restart, normally)
        // ends the wait for the restart, or for its answer.
        self.awaiting = Awaiting::Nothing;
        let c = &self.config;
        match item {
            Item::Stanza { stream, data } => {
                let mut size = data.len();
                let mut payload = vec![data];
                while let Some(Item::Stanza { stream: s, data: d }) = self.queue.front() {
                    if *s != stream || size.saturating_add(d.len()) > c.max_batch_bytes {
                        break;
                    }
                    size += d.len();
                    payload.push(d.clone());
                    self.queue.pop_front();
                }
                self.queued_bytes = self.queued_bytes.saturating_sub(size);
                let attrs = BodyAttrs {
                    stream,
                    ..BodyAttrs::default()
                };
                self.transmit_new(now, Kind::Normal, attrs, &payload);
            }
            Item::Restart => {
                let attrs = BodyAttrs {
                    xmpp_restart: Some(true),
                    creation: Some(Box::new(CreationAttrs {
                        to: Some(c.to.clone()),
                        xml_lang: Some(c.xml_lang.clone()),
                        from: c.from.clone(),
                        ..CreationAttrs::default()
                    })),
                    ..BodyAttrs::default()
                };
                self.restarted = true;
                self.transmit_new(now, Kind::Restart, attrs, &[]);
            }
            Item::Pause(secs) => {
                let attrs = BodyAttrs {
                    pause: Some(secs),
                    ..BodyAttrs::default()
                };
                self.pause_pending = false;
                if self.transmit_new(now, Kind::Pause, attrs, &[]) {
                    self.phase = Phase::Paused {
                        until: now.checked_add(Duration::from_secs(u64::from(secs))),
                    };
                }
            }
            Item::AddStream { request, to, route } => {
                let attrs = BodyAttrs {
                    creation: Some(Box::new(CreationAttrs {
                        to: Some(to),
                        route,
                        from: c.from.clone(),
                        xml_lang: Some(c.xml_lang.clone()),
                        xmpp_version: c.xmpp_version,
                        ..CreationAttrs::default()
                    })),
                    ..BodyAttrs::default()
                };
                self.transmit_new(now, Kind::AddStream(request), attrs, &[]);
            }
            Item::CloseStream { stream, payload } => {
                let attrs = BodyAttrs {
                    body_type: Some(BodyType::Terminate),
                    stream: Some(stream.clone()),
                    ..BodyAttrs::default()
                };
                self.transmit_new(now, Kind::CloseStream(stream), attrs, &payload);
            }
            Item::Terminate { payload } => {
                let attrs = BodyAttrs {
                    body_type: Some(BodyType::Terminate),
                    ..BodyAttrs::default()
                };
                self.transmit_new(now, Kind::Terminate, attrs, &payload);
            }
        }
    }

    /// Builds, records and sends a request with a new rid. `false` if no rid
    /// is left (the session is then over).
    fn transmit_new(
        &mut self,
        now: Instant,
        kind: Kind,
        mut attrs: BodyAttrs,
        payload: &[Bytes],
    ) -> bool {
        let Some(rid) = self.next_rid else {
            self.disconnect(DisconnectReason::RidExhausted);
            return false;
        };
        attrs.rid = Some(rid);
        attrs.sid = self.sid.clone();
        if kind != Kind::Create && self.config.use_acks {
            // R9.2-1: the highest rid answered with all lower ones answered;
            // R9.2-3: none when every earlier request is answered.
            attrs.ack = self.entries.front().and_then(|e| e.rid.checked_sub(1));
        }
        let mut rekeyed = false;
        if let Some(keys) = &mut self.keys {
            if kind == Kind::Create {
                attrs.newkey = Some(keys.current.newkey());
            } else {
                attrs.key = keys.current.next_key();
                if keys.current.is_exhausted()
                    && let Some(next) = keys.spare.take()
                {
                    attrs.newkey = Some(next.newkey());
                    keys.current = next;
                    rekeyed = true;
                }
            }
        }
        let mut buf = Vec::new();
        write_body(&attrs, payload, &mut buf);
        self.next_rid = rid.next();
        self.entries.push_back(Entry {
            rid,
            body: Bytes::from(buf),
            kind,
            sends: 0,
            failures: 0,
            dead_since: None,
            state: EntryState::Waiting { due: now },
        });
        self.transmit(self.entries.len() - 1, now);
        if rekeyed {
            self.push_event(Event::KeysNeeded);
        }
        true
    }

    /// Puts entry `idx` on the wire (again), byte-identical.
    fn transmit(&mut self, idx: usize, now: Instant) {
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let Some(kind) = self.entries.get(idx).map(|e| e.kind.clone()) else {
            return;
        };
        let deadline = now.checked_add(self.primary_timeout(&kind));
        self.last_sent_at = Some(now);
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        e.sends = e.sends.saturating_add(1);
        e.dead_since = None;
        e.state = EntryState::Sent { id, deadline };
        let t = Transmit {
            id,
            rid: e.rid,
            body: e.body.clone(),
            deadline,
            attempt: e.sends,
        };
        self.outputs.push_back(Output::Send(t));
    }

    /// Counts a failure of entry `idx` and resends it after back-off, or
    /// gives up.
    fn fail(&mut self, idx: usize, now: Instant, failure: Failure, abort: bool) {
        if let Some(terminal) = self.terminal_after(idx) {
            // A later response ended the session: no point resending.
            if !abort && let Some(e) = self.entries.get_mut(idx) {
                e.state = EntryState::Waiting { due: now };
            }
            self.skip_to_terminal(terminal, now);
            return;
        }
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        if abort && let EntryState::Sent { id, .. } = e.state {
            self.outputs.push_back(Output::Abort(id));
        }
        e.failures = e.failures.saturating_add(1);
        e.state = EntryState::Waiting { due: now };
        let failures = e.failures;
        self.errors = self.errors.saturating_add(1);
        if self.errors >= self.config.max_errors || failures >= self.config.max_errors {
            self.disconnect(DisconnectReason::TooManyErrors(failure));
            return;
        }
        self.schedule_resend(idx, now);
    }

    /// Resends entry `idx` after Strophe's back-off for its send count.
    fn schedule_resend(&mut self, idx: usize, now: Instant) {
        let Some(e) = self.entries.get(idx) else {
            return;
        };
        // Capped at the request timeout, as Strophe caps it at
        // `wait × TIMEOUT`; that is at least `min_request_timeout`, so with
        // `wait='0'` the retries do not all go out in the same instant.
        let delay = retry_backoff(e.sends, self.primary_timeout(&e.kind));
        match now.checked_add(delay) {
            Some(due) if !delay.is_zero() => {
                if let Some(e) = self.entries.get_mut(idx) {
                    e.state = EntryState::Waiting { due };
                }
            }
            _ => self.transmit(idx, now),
        }
    }

    /// A request timed out (primary or secondary timeout).
    fn expire(&mut self, idx: usize, now: Instant) {
        let dead = self
            .entries
            .get(idx)
            .is_some_and(|e| e.dead_since.is_some());
        if dead && let Some(terminal) = self.terminal_after(idx) {
            self.skip_to_terminal(terminal, now);
            return;
        }
        self.fail(idx, now, Failure::Timeout, true);
    }

    /// The first entry after `idx` answered with `type='terminate'`.
    fn terminal_after(&self, idx: usize) -> Option<usize> {
        self.entries
            .iter()
            .skip(idx + 1)
            .position(
                |e| matches!(&e.state, EntryState::Answered(Some(b)) if b.attrs.is_terminate()),
            )
            .map(|offset| idx + 1 + offset)
    }

    /// When the session is about to end on a local deadline (disconnect
    /// timeout, pause expiry): a terminal answer already received behind a
    /// missing one says how the session ended. Returns whether it ended.
    fn end_with_received_terminal(&mut self, now: Instant) -> bool {
        let terminal = self.entries.iter().position(
            |e| matches!(&e.state, EntryState::Answered(Some(b)) if b.attrs.is_terminate()),
        );
        if let Some(terminal) = terminal {
            self.skip_to_terminal(terminal, now);
        }
        self.phase == Phase::Disconnected
    }

    /// The session is over anyway: skips the missing responses before the
    /// terminal one at `terminal` and processes it.
    fn skip_to_terminal(&mut self, terminal: usize, now: Instant) {
        for j in 0..terminal {
            let Some(e) = self.entries.get_mut(j) else {
                break;
            };
            match e.state {
                EntryState::Answered(_) => {}
                EntryState::Sent { id, .. } => {
                    self.outputs.push_back(Output::Abort(id));
                    e.state = EntryState::Answered(None);
                }
                EntryState::Waiting { .. } => e.state = EntryState::Answered(None),
            }
        }
        self.drain(now);
    }

    /// A 200 response for entry `idx`.
    fn on_body(&mut self, idx: usize, now: Instant, bytes: Bytes) {
        let body = match parse_bytes(bytes, &self.config.parse_limits) {
            Ok(b) => b,
            Err(_) => return self.fail(idx, now, Failure::BadResponse, false),
        };
        if let (Some(ours), Some(theirs)) = (&self.sid, &body.attrs.sid)
            && ours != theirs
        {
            return self.fail(idx, now, Failure::BadResponse, false);
        }
        if body.attrs.is_error() {
            return self.recoverable_error(idx, now);
        }
        self.errors = 0;
        if let Some(report) = body.attrs.report {
            self.resend_reported(report, idx, now);
        }
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        let terminal = body.attrs.is_terminate();
        e.state = EntryState::Answered(Some(Box::new(body)));
        // Earlier requests still unanswered are dead (Strophe): they get the
        // secondary timeout. After a terminal response, one waiting out a
        // back-off is given up on by then too.
        for j in 0..idx {
            let Some(kind) = self.entries.get(j).map(|e| e.kind.clone()) else {
                break;
            };
            let secondary = now.checked_add(self.secondary_timeout(&kind));
            let Some(Entry {
                state, dead_since, ..
            }) = self.entries.get_mut(j)
            else {
                break;
            };
            match state {
                EntryState::Sent { deadline, .. } if dead_since.is_none() => {
                    *dead_since = Some(now);
                    *deadline = earliest([*deadline, secondary]);
                }
                EntryState::Waiting { due } if terminal => {
                    if let Some(s) = secondary {
                        *due = (*due).min(s);
                    }
                }
                _ => {}
            }
        }
        self.drain(now);
    }

    /// `type='error'` (R17.3-2): resend the failed request and every earlier
    /// unanswered one.
    fn recoverable_error(&mut self, idx: usize, now: Instant) {
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        // This attempt is over.
        e.state = EntryState::Waiting { due: now };
        e.failures = e.failures.saturating_add(1);
        let failures = e.failures;
        self.errors = self.errors.saturating_add(1);
        if self.errors >= self.config.max_errors || failures >= self.config.max_errors {
            self.disconnect(DisconnectReason::TooManyErrors(Failure::RecoverableError));
            return;
        }
        for j in 0..idx {
            let Some(e) = self.entries.get_mut(j) else {
                break;
            };
            if let EntryState::Sent { id, .. } = e.state {
                self.outputs.push_back(Output::Abort(id));
                e.state = EntryState::Waiting { due: now };
                self.schedule_resend(j, now);
            }
        }
        self.schedule_resend(idx, now);
    }

    /// `report` (R9.2-5): resend the reported request if it is unanswered.
    fn resend_reported(&mut self, report: Rid, answered: usize, now: Instant) {
        let Some(j) = self.entries.iter().position(|e| e.rid == report) else {
            return;
        };
        if j == answered {
            return;
        }
        match self.entries[j].state {
            EntryState::Sent { id, .. } => {
                self.outputs.push_back(Output::Abort(id));
                self.transmit(j, now);
            }
            EntryState::Waiting { .. } => self.transmit(j, now),
            EntryState::Answered(_) => {}
        }
    }

    /// Processes answered requests at the front, in rid order (R14.2-2).
    fn drain(&mut self, now: Instant) {
        while self
            .entries
            .front()
            .is_some_and(|e| matches!(e.state, EntryState::Answered(_)))
        {
            let Some(entry) = self.entries.pop_front() else {
                break;
            };
            if let EntryState::Answered(Some(body)) = entry.state {
                self.process(entry.kind, *body, now);
            }
            if self.phase == Phase::Disconnected {
                break;
            }
        }
    }

    /// Processes one response, in rid order.
    fn process(&mut self, kind: Kind, body: Body, now: Instant) {
        if body.attrs.is_terminate() {
            return self.process_terminate(&kind, &body);
        }
        match &kind {
            Kind::Create if !self.on_created(&body) => return,
            Kind::AddStream(request) => {
                let request = *request;
                let added = match (&mut self.streams, &body.attrs.stream) {
                    (Some(streams), Some(name)) if !streams.known(name) => {
                        streams.open.push(name.clone());
                        true
                    }
                    _ => false,
                };
                let event = match (&body.attrs.stream, added) {
                    (Some(name), true) => Event::StreamAdded {
                        request,
                        stream: name.clone(),
                        from: body.attrs.creation().from.clone(),
                    },
                    _ => Event::StreamAddFailed { request },
                };
                self.push_event(event);
            }
            _ => {}
        }
        match self.route(body.attrs.stream.as_deref()) {
            Route::To(stream) => self.deliver(&body, stream, &[]),
            Route::Drop => {}
            Route::Unknown if !body.is_empty() => {
                self.abandon(now, DisconnectReason::BadResponse);
                return;
            }
            Route::Unknown => {}
        }
        match kind {
            Kind::CloseStream(name) => self.finish_close(&name, None),
            Kind::Terminate => {
                let reason = self
                    .terminate_reason
                    .take()
                    .unwrap_or(DisconnectReason::Terminated);
                self.disconnect(reason);
            }
            _ => {}
        }
    }

    /// The creation response (XEP-0124 §7.2, XEP-0206 §4).
    fn on_created(&mut self, body: &Body) -> bool {
        let a = &body.attrs;
        let Some(sid) = a.sid.clone().filter(|s| !s.is_empty()) else {
            self.disconnect(DisconnectReason::BadResponse);
            return false;
        };
        let c = a.creation();
        let hold = c.hold.unwrap_or(self.config.hold).min(self.config.hold);
        // R7.2-3: never longer than asked (a larger value would stretch
        // every timeout, and a dead connection would go unnoticed).
        self.wait = c.wait.unwrap_or(self.config.wait).min(self.config.wait);
        (self.hold, self.requests) = hold_and_requests(hold, c.requests);
        self.polling = c.polling;
        self.maxpause = c.maxpause;
        self.streams = a.stream.clone().map(Streams::new);
        self.sid = Some(sid.clone());
        let params = SessionParams {
            sid: sid.into(),
            wait: self.wait,
            hold: self.hold,
            requests: self.requests,
            polling: c.polling,
            inactivity: c.inactivity,
            maxpause: c.maxpause,
            ver: c.ver,
            acks: a.ack.is_some(),
            from: c.from.clone(),
            authid: c.authid.clone(),
            restart_logic: c.xmpp_restartlogic == Some(true),
            xmpp_version: c.xmpp_version,
            stream: a.stream.clone(),
            accept: c.accept.clone(),
            charsets: c.charsets.clone(),
        };
        self.params = Some(params.clone());
        self.phase = Phase::Connected;
        self.push_event(Event::Connected(params));
        true
    }

    /// A `type='terminate'` response (XEP-0124 §13, §16.6, §17.2).
    fn process_terminate(&mut self, kind: &Kind, body: &Body) {
        let condition = body.attrs.condition;
        if let (Some(streams), Some(name)) = (&self.streams, &body.attrs.stream) {
            if streams.closed.iter().any(|s| s == name) && !streams.is_open(name) {
                // Late news about a stream already closed.
                return;
            }
            if streams.is_open(name) && streams.open.len() > 1 {
                // R16.6-1: only this stream ends.
                let name = name.clone();
                self.deliver(body, Some(name.clone()), &[STREAM_ERROR]);
                self.finish_close(&name, condition);
                if *kind == Kind::Terminate {
                    self.disconnect(DisconnectReason::Terminated);
                }
                return;
            }
        }
        let stream = match self.route(body.attrs.stream.as_deref()) {
            Route::To(s) => s,
            _ => None,
        };
        self.deliver(body, stream, &[URI, STREAM_ERROR]);
        let asked = *kind == Kind::Terminate || self.is_terminating();
        let reason = match condition {
            None if asked => self
                .terminate_reason
                .take()
                .unwrap_or(DisconnectReason::Terminated),
            None => DisconnectReason::TerminatedByServer,
            Some(Condition::SeeOtherUri) => DisconnectReason::SeeOtherUri(body.see_other_uri()),
            Some(Condition::RemoteStreamError) => {
                DisconnectReason::RemoteStreamError(body.stream_error())
            }
            Some(c) => DisconnectReason::Condition(c),
        };
        self.disconnect(reason);
    }

    fn finish_close(&mut self, name: &str, condition: Option<Condition>) {
        if let Some(streams) = &mut self.streams
            && streams.close(name)
        {
            self.push_event(Event::StreamClosed {
                stream: name.to_owned(),
                condition,
            });
        }
    }

    /// Where payload with this `stream` attribute goes (R16.4-4, R16.4-7).
    fn route(&self, stream: Option<&str>) -> Route {
        let Some(streams) = &self.streams else {
            return Route::To(None);
        };
        match stream {
            None => Route::To(Some(streams.first.clone())),
            Some(n) if streams.is_open(n) => Route::To(Some(n.to_owned())),
            Some(n) if streams.known(n) => Route::Drop,
            Some(_) => Route::Unknown,
        }
    }

    /// Emits the payload elements, skipping those named in `skip`.
    fn deliver(&mut self, body: &Body, stream: Option<String>, skip: &[&[u8]]) {
        for (raw, element) in body.elements().zip(body.standalone_elements()) {
            let name = qname(&raw);
            if skip.contains(&name) {
                continue;
            }
            // Read off the start tag only for the two SASL names.
            let sasl = || declares_namespace(&element, SASL_NS);
            if name == SASL_SUCCESS && !self.restarted && sasl() {
                // X5-2: the old stream is over and the restart comes next.
                // An empty poll sent now would race the restart on a second
                // connection, which ejabberd 23.01 sometimes never answers;
                // Strophe.js, too, sends the restart as the next request.
                self.awaiting = Awaiting::Restart;
            } else if name == STREAM_FEATURES
                || (name == SASL_CHALLENGE && sasl())
                || (name == IQ && is_bind_result(&element))
            {
                // The client's turn (RFC 6120 §4.3.2, §6.4.2, §7.6.1): it
                // answers features with SASL or resource binding, a SASL
                // challenge with a `<response/>`, and a binding result
                // with its first stanzas (initial presence, RFC 6121
                // §4.2). An empty poll sent now would race that answer on
                // a second connection; ejabberd 23.01 to 26.07 holds a
                // request that overtook an unanswered empty poll until the
                // poll is answered, `wait` seconds later. Strophe.js, too,
                // runs its handlers before deciding to poll.
                if self.awaiting != Awaiting::Restart {
                    self.awaiting = Awaiting::Reply {
                        until: (self.last_now.checked_add(self.config.reply_window))
                            .unwrap_or(self.last_now),
                    };
                }
            }
            let event = if name == STREAM_FEATURES {
                Event::StreamFeatures {
                    stream: stream.clone(),
                    features: element,
                }
            } else {
                Event::Stanza {
                    stream: stream.clone(),
                    stanza: element,
                }
            };
            self.push_event(event);
        }
    }

    /// Ends the session because of the connection manager: with a terminate
    /// request if one can be sent, at once otherwise.
    fn abandon(&mut self, now: Instant, reason: DisconnectReason) {
        match self.phase {
            Phase::Connected | Phase::Paused { .. } => {
                self.start_terminate(now, Vec::new(), Some(reason));
            }
            Phase::Terminating { .. } => {
                self.terminate_reason.get_or_insert(reason);
            }
            Phase::Creating | Phase::Disconnected => self.disconnect(reason),
        }
    }

    fn start_terminate(
        &mut self,
        now: Instant,
        extra: Vec<Bytes>,
        reason: Option<DisconnectReason>,
    ) {
        let mut payload = Vec::new();
        for item in self.queue.drain(..) {
            if let Item::Stanza { stream: None, data } = item {
                payload.push(data);
            }
        }
        payload.extend(extra.into_iter().filter(|b| !b.is_empty()));
        self.queued_bytes = 0;
        self.pause_pending = false;
        self.flush_at = None;
        self.terminate_reason = reason;
        self.queue.push_back(Item::Terminate { payload });
        self.phase = Phase::Terminating {
            deadline: now.checked_add(self.config.disconnect_timeout),
        };
        self.pump(now);
    }

    /// Ends the session: aborts what is in flight and reports `reason`.
    fn disconnect(&mut self, reason: DisconnectReason) {
        if self.phase == Phase::Disconnected {
            return;
        }
        for e in self.entries.drain(..) {
            if let EntryState::Sent { id, .. } = e.state {
                self.outputs.push_back(Output::Abort(id));
            }
        }
        self.queue.clear();
        self.queued_bytes = 0;
        self.pause_pending = false;
        self.flush_at = None;
        self.terminate_reason = None;
        self.phase = Phase::Disconnected;
        self.push_event(Event::Disconnected(reason));
    }
}
