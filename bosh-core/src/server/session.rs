//! One connection-manager session (XEP-0124 §7-§17, XEP-0206 §3-§7).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    DEFAULT_CONTENT_TYPE, Output, RequestId, Response, ServerConfig, SessionEvent, StreamId,
    TerminationReason, UpstreamCommand, UpstreamEvent, Warning,
};
use crate::body::{Body, BodyAttrs, BodyType, Sid, Version, write_body};
use crate::condition::Condition;
use crate::rid::Rid;
use crate::timing::{deadline, earliest};

/// What a held request is waiting for before it may be answered with
/// nothing but payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeldKind {
    /// An ordinary request.
    Normal,
    /// The session creation request (§7.2): answered with the session
    /// attributes, and with the stream features once they arrive (X4-1).
    Creation,
    /// A restart request (X5): answered with the new features (X5-4).
    Restart(StreamId),
    /// An add-stream request (§16.3): answered with the stream name.
    AddStream(StreamId),
}

#[derive(Debug)]
struct Held {
    rid: u64,
    /// `None` once the HTTP request was aborted: the response is then only
    /// cached, for the client's resend.
    request: Option<RequestId>,
    kind: HeldKind,
    deadline: Option<Instant>,
    /// Answer as soon as every older request is answered.
    answer_now: bool,
    /// `report` and `time` to include (§9.2, R9.2-4).
    report: Option<(Rid, u16)>,
    /// The §15 key the request was accepted with: a repeat must carry it.
    key: Option<Box<str>>,
}

#[derive(Debug)]
struct Pending {
    request: RequestId,
    /// Boxed: a B-tree leaf has room for 11 entries, allocated at once.
    body: Box<Body>,
}

#[derive(Debug)]
struct Cached {
    rid: u64,
    body: Bytes,
    sent_at: Instant,
    /// The §15 key the request was accepted with: a repeat must carry it.
    key: Option<Box<str>>,
}

#[derive(Debug)]
struct Stream {
    id: StreamId,
    name: String,
    open: bool,
    /// Waiting for `<stream:features/>` after open or restart.
    awaiting_features: bool,
    /// The server's stream id (`authid`).
    authid: Option<String>,
    /// The server's `from`.
    from: Option<String>,
    /// The server's stream version.
    version: Option<Version>,
    to: Option<String>,
    xml_lang: Option<String>,
    /// The client's `xmpp:version` for this stream (X3-1).
    requested_version: Option<Version>,
}

/// Something queued for the client.
#[derive(Debug)]
enum Outgoing {
    /// A payload element from the server.
    Payload(StreamId, Bytes),
    /// A stream of several ended: a terminal error for that stream only
    /// (§16.6, R16.6-1), with the `<stream:error/>` if there was one.
    StreamFatal(StreamId, Condition, Option<Bytes>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Terminated { until: Option<Instant> },
    Closed,
}

/// One BOSH session on the connection-manager side.
///
/// Created by [`ServerEndpoint::accept`](super::ServerEndpoint::accept) from
/// a session creation request. Feed it requests
/// ([`handle_request`](Self::handle_request)), aborted requests, upstream
/// events and timeouts; drain [`poll_output`](Self::poll_output) after each;
/// arm one timer at [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    sid: String,
    secret: [u8; 16],
    // Negotiated (§7.2).
    wait: u16,
    hold: u8,
    requests: u8,
    inactivity: u16,
    polling: u16,
    maxpause: u16,
    /// `None` for a legacy client (§17.1).
    ver: Option<Version>,
    acks: bool,
    content_type: String,
    creation_rid: u64,
    // Rid state (§14).
    next_rid: u64,
    pending: BTreeMap<u64, Pending>,
    gap_since: Option<Instant>,
    held: VecDeque<Held>,
    replay: VecDeque<Cached>,
    repeats: HashMap<u64, u8>,
    last_answered: u64,
    // Timing.
    last_now: Instant,
    idle_since: Instant,
    inactivity_override: Option<u16>,
    last_arrival: Option<Instant>,
    last_new_was_empty: bool,
    last_response_had_payload: bool,
    // Keys (§15).
    key_expect: Option<String>,
    // Streams (§16) and what is queued for the client.
    streams: Vec<Stream>,
    outbox: VecDeque<Outgoing>,
    outbox_bytes: usize,
    /// An upstream failure with no request open to report it on: the next
    /// request gets this terminal body (X6-1).
    deferred: Option<(Condition, Vec<Bytes>)>,
    deferral_used: bool,
    /// Why the session ended, to tell later requests (see
    /// `handle_after_termination`).
    ended: Option<TerminationReason>,
    /// Rid ranges `[from, to)` skipped in lenient mode (R14.2-5).
    skipped: Vec<(u64, u64)>,
    state: State,
    out: VecDeque<Output>,
}

/// Whether `value` may be sent as a Content-Type header value: printable
/// ASCII only (no CR/LF header injection), at most 128 bytes.
fn is_safe_content_type(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| (0x20..0x7F).contains(&b))
}

impl ServerSession {
    /// Creates the session from its creation request (§7.1), which the
    /// endpoint has checked carries a `rid` and no `sid`. Emits the upstream
    /// open and holds the request until the features arrive.
    pub(crate) fn new(
        now: Instant,
        config: Arc<ServerConfig>,
        sid: String,
        secret: [u8; 16],
        request: RequestId,
        body: Body,
    ) -> ServerSession {
        let a = &body.attrs;
        let c = a.creation();
        let rid = a.rid.map_or(1, Rid::get);
        let wait = c.wait.unwrap_or(config.max_wait).min(config.max_wait);
        let hold = c.hold.unwrap_or(1).min(config.max_hold);
        let polling_session = hold == 0 || wait == 0;
        let inactivity = if polling_session && config.inactivity > 0 {
            // R12-3: raise inactivity by more than polling for polling sessions.
            config.inactivity.saturating_add(config.polling)
        } else {
            config.inactivity
        };
        let ver = c.ver.map(|v| v.min(config.ver));
        let mut warnings = Vec::new();
        let content_type = match &c.content {
            Some(c) if is_safe_content_type(c) => c.clone(),
            Some(_) => {
                warnings.push(Warning::ContentIgnored);
                DEFAULT_CONTENT_TYPE.to_owned()
            }
            None => DEFAULT_CONTENT_TYPE.to_owned(),
        };
        let mut s = ServerSession {
            config: config.clone(),
            sid,
            secret,
            wait,
            hold,
            requests: hold.saturating_add(1),
            inactivity,
            polling: config.polling,
            maxpause: config.maxpause,
            ver,
            acks: a.ack.is_some(),
            content_type,
            creation_rid: rid,
            next_rid: rid + 1,
            pending: BTreeMap::new(),
            gap_since: None,
            held: VecDeque::new(),
            replay: VecDeque::new(),
            repeats: HashMap::new(),
            last_answered: rid - 1,
            last_now: now,
            idle_since: now,
            inactivity_override: None,
            last_arrival: Some(now),
            last_new_was_empty: false,
            last_response_had_payload: true,
            key_expect: a.newkey.clone(),
            streams: Vec::new(),
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            deferred: None,
            deferral_used: false,
            ended: None,
            skipped: Vec::new(),
            state: State::Active,
            out: VecDeque::new(),
        };
        for w in warnings {
            s.warn(w);
        }
        let stream = s.open_stream(
            c.to.clone(),
            c.from.clone(),
            c.xml_lang.clone(),
            c.xmpp_version,
            c.route.clone(),
        );
        s.deliver(stream, &body);
        s.push_held(now, rid, request, HeldKind::Creation, None);
        s.settle(now);
        s
    }

    // ----- getters -----

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The `wait` granted, in seconds (§7.2).
    pub fn wait(&self) -> u16 {
        self.wait
    }

    /// The `hold` granted (§7.2).
    pub fn hold(&self) -> u8 {
        self.hold
    }

    /// The `requests` advertised: `hold + 1` (§7.2, R7.2-4).
    pub fn requests(&self) -> u8 {
        self.requests
    }

    /// Whether the client is legacy: it sent no `ver` (§17.1).
    pub fn is_legacy(&self) -> bool {
        self.ver.is_none()
    }

    /// The Content-Type of every response (R7.1-10).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Whether the session has ended (it may still answer replays).
    pub fn is_terminated(&self) -> bool {
        self.state != State::Active
    }

    /// Whether the session is finished and can be dropped.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The next rid the session expects (every lower rid has been received).
    pub fn next_rid(&self) -> u64 {
        self.next_rid
    }

    /// How many requests are held open, including buffered early ones.
    pub fn open_requests(&self) -> usize {
        self.held.iter().filter(|h| h.request.is_some()).count() + self.pending.len()
    }

    /// How many payload elements wait for the client.
    pub fn queued(&self) -> usize {
        self.outbox.len()
    }

    /// The name of a stream (§16).
    pub fn stream_name(&self, stream: StreamId) -> Option<&str> {
        self.streams.get(stream.0 as usize).map(|s| s.name.as_str())
    }

    // ----- sans-IO plumbing -----

    /// The next output, if any. Drain until `None` after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        let next = self.out.pop_front();
        if next.is_none() && self.out.capacity() > 0 {
            // Drained: an idle session keeps no output queue.
            self.out = VecDeque::new();
        }
        next
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::Terminated { until } => until,
            State::Active => earliest([
                self.held.iter().filter_map(|h| h.deadline).min(),
                self.gap_since
                    .filter(|_| !self.pending.is_empty())
                    .and_then(|t| deadline(t, self.config.rid_gap_timeout)),
                self.inactivity_deadline(),
            ]),
        }
    }

    fn inactivity_deadline(&self) -> Option<Instant> {
        if !self.held.is_empty() || !self.pending.is_empty() {
            return None;
        }
        // A pause (R10-8) is its own length, 0 included: only an advertised
        // `inactivity` of 0 means unlimited (R10-5). A `pause='0'` that
        // meant "unlimited" kept the session, and its slot, for ever.
        if let Some(pause) = self.inactivity_override {
            return deadline(self.idle_since, Duration::from_secs(u64::from(pause)));
        }
        if self.inactivity == 0 {
            return None; // R10-5: unlimited
        }
        deadline(
            self.idle_since,
            Duration::from_secs(u64::from(self.inactivity)),
        )
    }

    /// Time never goes backwards inside the session.
    fn clamp(&mut self, now: Instant) -> Instant {
        if now > self.last_now {
            self.last_now = now;
        }
        self.last_now
    }

    fn warn(&mut self, w: Warning) {
        self.out.push_back(Output::Event(SessionEvent::Warning(w)));
    }

    fn upstream(&mut self, c: UpstreamCommand) {
        self.out.push_back(Output::Upstream(c));
    }

    // ----- inputs -----

    /// A request routed to this session by the endpoint (§8, §14).
    pub fn handle_request(&mut self, now: Instant, request: RequestId, body: Body) {
        let now = self.clamp(now);
        if self.state != State::Active {
            self.handle_after_termination(request, &body);
            return;
        }
        if let Some((condition, payload)) = self.deferred.take() {
            let response = error_response(condition, self.is_legacy(), &self.content_type, payload);
            if let Some(rid) = body.attrs.rid {
                let key = body.attrs.key.as_deref().map(Box::from);
                self.cache(rid.get(), response.body.clone(), now, key);
            }
            self.out.push_back(Output::Respond { request, response });
            self.terminate(now, Some(condition), &[], Vec::new());
            return;
        }
        let Some(rid) = body.attrs.rid else {
            self.fail(now, Condition::BadRequest, request, u64::MAX);
            return;
        };
        let r = rid.get();
        // R11-1: a pause or terminate may come on top of `requests`.
        let extra = u64::from(body.attrs.pause.is_some() || body.attrs.is_terminate());
        let window = u64::from(self.requests) + extra;
        if r > self.next_rid && self.config.leniency.rid_gap {
            self.skip_abandoned_rids(now, r, &body, window);
            if self.state != State::Active {
                self.handle_after_termination(request, &body);
                return;
            }
        }
        // With acks (§9.2), any request whose `ack` is below a gap says the
        // client is alive and still waits for the missing rid: the gap's
        // timer restarts (R14.2-5).
        if self.acks
            && !self.pending.is_empty()
            && body.attrs.ack.map_or(r.saturating_sub(1), Rid::get) < self.next_rid
        {
            self.gap_since = Some(now);
        }
        if r < self.next_rid && self.take_skipped(r) {
            self.handle_late_skipped(now, request, body, rid);
        } else if r < self.next_rid {
            self.handle_repeat(now, request, r, body.attrs.key.as_deref());
        } else if r - self.next_rid >= window {
            // R14.2-4, R14.3-8: same answer as a rid too old to replay.
            self.fail(now, Condition::ItemNotFound, request, r);
        } else if self.pending.contains_key(&r) {
            // A repeat of a buffered early request (R14.3-5). Counted before
            // it replaces the buffered copy: if the count ends the session,
            // both copies are answered once each.
            let stored = self
                .pending
                .get(&r)
                .and_then(|p| p.body.attrs.key.as_deref());
            if !self.repeat_key_ok(stored, body.attrs.key.as_deref()) {
                // R15.4-4: not the client's copy.
                self.fail(now, Condition::ItemNotFound, request, r);
            } else if self.count_repeat(now, r, request)
                && let Some(p) = self.pending.get_mut(&r)
            {
                let older = std::mem::replace(&mut p.request, request);
                self.respond_recoverable(older);
            }
        } else {
            if !self.check_activity(now, request, &body) {
                return;
            }
            if r > self.next_rid {
                // With acks (§9.2) an `ack` below the missing rids says the
                // client still waits for them and will resend them: the gap
                // stays open, timed from now.
                let waits = self.acks && body.attrs.ack.map_or(r - 1, Rid::get) < self.next_rid;
                self.pending.insert(
                    r,
                    Pending {
                        request,
                        body: Box::new(body),
                    },
                );
                if waits {
                    self.gap_since = Some(now);
                } else {
                    // Timed from when the gap was first seen, even if the
                    // early copies were aborted and resent since (R14.2-5).
                    let since = *self.gap_since.get_or_insert(now);
                    if deadline(since, self.config.rid_gap_timeout).is_some_and(|d| d <= now) {
                        self.give_up_gap(now);
                    }
                }
            } else {
                self.process(now, request, body);
                self.drain_pending(now);
            }
        }
        self.settle(now);
    }

    /// The HTTP request went away before it was answered (the client closed
    /// the connection). Its response, when due, is cached for the client's
    /// resend of the same rid (§14.3) instead of being sent.
    pub fn handle_request_aborted(&mut self, now: Instant, request: RequestId) {
        let now = self.clamp(now);
        if let Some(h) = self.held.iter_mut().find(|h| h.request == Some(request)) {
            h.request = None;
            // Answer it (empty) now so its slot is free; the cached copy is
            // replayed if the client resends the rid.
            h.answer_now = true;
        } else if let Some((&rid, _)) = self.pending.iter().find(|(_, p)| p.request == request) {
            // Not processed yet: forget it; the client resends the rid. The
            // gap stays: its timer keeps running (R14.2-5).
            self.pending.remove(&rid);
            if self.pending.is_empty() && self.held.is_empty() {
                // Inactivity starts now, not at the last answer.
                self.idle_since = now;
            }
        }
        self.settle(now);
    }

    /// Input from the upstream stream `stream` (XEP-0206).
    pub fn handle_upstream(&mut self, now: Instant, stream: StreamId, event: UpstreamEvent) {
        let now = self.clamp(now);
        if self.state != State::Active {
            return;
        }
        let Some(idx) = self.stream_index(stream) else {
            return;
        };
        match event {
            UpstreamEvent::Opened { id, from, version } => {
                let s = &mut self.streams[idx];
                s.authid = id;
                s.from = from;
                s.version = version;
            }
            UpstreamEvent::Features(f) => {
                self.streams[idx].awaiting_features = false;
                self.queue(now, Outgoing::Payload(stream, f));
            }
            UpstreamEvent::Stanza(s) => self.queue(now, Outgoing::Payload(stream, s)),
            UpstreamEvent::StreamError(e) => {
                self.stream_failed(now, idx, Condition::RemoteStreamError, Some(e));
            }
            UpstreamEvent::Closed => {
                self.stream_failed(now, idx, Condition::RemoteConnectionFailed, None);
            }
        }
        self.settle(now);
    }

    /// Timers: held requests reaching `wait` (R8-8), the rid gap (R14.2-5),
    /// inactivity (R10-3), and the linger of a terminated session.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clamp(now);
        match self.state {
            State::Closed => return,
            State::Terminated { until } => {
                if until.is_none_or(|u| u <= now) {
                    self.state = State::Closed;
                    self.out.push_back(Output::Event(SessionEvent::Closed));
                }
                return;
            }
            State::Active => {}
        }
        // Any held request at `wait` is answered, with every older one before
        // it (rid order, R8-7). Deadlines are not monotonic in rid order once
        // a late rid (R14.2-5) is held in front of newer requests.
        while self.state == State::Active
            && self
                .held
                .iter()
                .any(|h| h.deadline.is_some_and(|d| d <= now))
        {
            self.answer_front(now);
        }
        if let Some(gap) = self
            .gap_since
            .and_then(|t| deadline(t, self.config.rid_gap_timeout))
            && gap <= now
        {
            self.give_up_gap(now);
        }
        if self.state == State::Active && self.inactivity_deadline().is_some_and(|d| d <= now) {
            // R10-3: terminate silently; nothing is open to answer.
            self.terminate_with(now, None, TerminationReason::Inactivity, &[], Vec::new());
        }
        self.settle(now);
    }

    /// Ends the session with a terminal condition, e.g. `system-shutdown`
    /// (§17.2). Every open request is answered.
    pub fn close(&mut self, now: Instant, condition: Condition) {
        let now = self.clamp(now);
        if self.state == State::Active {
            self.terminate(now, Some(condition), &[], Vec::new());
        }
    }

    /// The caller will not open `stream`: an added stream (§16) whose `to`
    /// or `route` is outside its allow-list. The client is answered with
    /// `condition` (e.g. `host-unknown`) for that stream (R16.6-1), or the
    /// session ends with it if no other stream is open.
    pub fn refuse_stream(&mut self, now: Instant, stream: StreamId, condition: Condition) {
        let now = self.clamp(now);
        if self.state != State::Active {
            return;
        }
        if let Some(idx) = self.stream_index(stream) {
            self.stream_failed(now, idx, condition, None);
        }
        self.settle(now);
    }

    // ----- requests -----

    fn handle_after_termination(&mut self, request: RequestId, body: &Body) {
        // A terminated session still answers replays (§14.3). Anything else
        // is told why the session ended, so that a client whose terminal
        // answer was lost, or that had no request open when the session
        // ended, learns the same reason as the server: the acknowledgement
        // of its own terminate (R13-5), or the condition. After inactivity
        // the session counts as nonexistent: `item-not-found` (R10-4).
        if let Some(rid) = body.attrs.rid
            && let Some(c) = self.replay.iter().find(|c| c.rid == rid.get())
        {
            let body = c.body.clone();
            self.respond(request, 200, body);
            return;
        }
        let resp = match self.ended {
            Some(TerminationReason::ClientTerminate) => {
                let attrs = BodyAttrs {
                    body_type: Some(BodyType::Terminate),
                    ..BodyAttrs::default()
                };
                let mut out = Vec::new();
                write_body(&attrs, std::iter::empty::<&[u8]>(), &mut out);
                Response {
                    status: 200,
                    content_type: self.content_type.clone(),
                    body: Bytes::from(out),
                }
            }
            Some(TerminationReason::Condition(c)) => self.error_response(c),
            _ => self.error_response(Condition::ItemNotFound),
        };
        self.out.push_back(Output::Respond {
            request,
            response: resp,
        });
    }

    /// Counts a repeat of `rid`; past the limit terminates with
    /// `policy-violation` (R14.3-6) and returns false.
    fn count_repeat(&mut self, now: Instant, rid: u64, request: RequestId) -> bool {
        let n = self.repeats.entry(rid).or_insert(0);
        *n = n.saturating_add(1);
        if *n > self.config.max_repeats {
            self.fail(now, Condition::PolicyViolation, request, rid);
            return false;
        }
        true
    }

    /// A rid below the next expected one (§14.3).
    fn handle_repeat(&mut self, now: Instant, request: RequestId, rid: u64, key: Option<&str>) {
        let stored = match self.held.iter().find(|h| h.rid == rid) {
            Some(h) => h.key.as_deref(),
            None => self
                .replay
                .iter()
                .find(|c| c.rid == rid)
                .and_then(|c| c.key.as_deref()),
        };
        if !self.repeat_key_ok(stored, key) {
            // R15.4-4: a repeat carries the key its rid was accepted with
            // (a client's resend is byte-identical); any other copy gets
            // neither the held request nor the cached answer.
            self.fail(now, Condition::ItemNotFound, request, rid);
            return;
        }
        if !self.count_repeat(now, rid, request) {
            return;
        }
        if let Some(h) = self.held.iter_mut().find(|h| h.rid == rid) {
            // R14.3-5: answer the older copy now with a recoverable error and
            // the eventual response on the newer one.
            let older = h.request.replace(request);
            if let Some(older) = older {
                self.warn(Warning::RepeatedHeldRid(Rid::new(rid).unwrap_or(Rid::MIN)));
                self.respond_recoverable(older);
            }
        } else if let Some(c) = self.replay.iter().find(|c| c.rid == rid) {
            // R14.3-4: the byte-identical response. It is a response, so
            // inactivity counts from it (R10-3).
            let body = c.body.clone();
            self.respond(request, 200, body);
            if self.held.is_empty() && self.pending.is_empty() {
                self.idle_since = now;
            }
        } else {
            // R14.3-7: no longer available.
            self.fail(now, Condition::ItemNotFound, request, rid);
        }
    }

    /// Whether a repeat carrying `sent` may stand for the request accepted
    /// with `stored`: always without keys; with keys, only with the same
    /// key (R15.4-4: a client's resend is byte-identical), so that someone
    /// who only knows the sid can neither take over a held request nor
    /// read a cached answer.
    fn repeat_key_ok(&self, stored: Option<&str>, sent: Option<&str>) -> bool {
        self.key_expect.is_none() || (stored.is_some() && stored == sent)
    }

    /// Whether `rid` was skipped and has not arrived since; it no longer
    /// counts as skipped afterwards (a second copy is an ordinary repeat).
    fn take_skipped(&mut self, rid: u64) -> bool {
        let Some(i) = self
            .skipped
            .iter()
            .position(|&(a, b)| (a..b).contains(&rid))
        else {
            return false;
        };
        let (a, b) = self.skipped.remove(i);
        if a < rid {
            self.skipped.push((a, rid));
        }
        if rid + 1 < b {
            self.skipped.push((rid + 1, b));
        }
        self.forget_old_skips();
        true
    }

    /// Keeps the last `MAX_SKIPPED_RANGES` skipped ranges: a rid older than
    /// those is answered as a repeat.
    fn forget_old_skips(&mut self) {
        let excess = self.skipped.len().saturating_sub(MAX_SKIPPED_RANGES);
        self.skipped.drain(..excess);
    }

    /// A rid given up on (R14.2-5) arrives after all: a request the client
    /// was still retrying, or the last one of a process whose session another
    /// process attached to. It is processed now, like any request (its
    /// payload goes upstream late rather than never, a restart restarts),
    /// and answered in rid order before the newer held requests.
    fn handle_late_skipped(&mut self, now: Instant, request: RequestId, body: Body, rid: Rid) {
        self.warn(Warning::LateSkippedRid(rid));
        self.process_rid(now, rid.get(), request, body, true);
    }

    /// Overactivity (§11) and polling (§12) rules for a new rid. Returns
    /// false if the session was terminated.
    fn check_activity(&mut self, now: Instant, request: RequestId, body: &Body) -> bool {
        let exempt = body.attrs.pause.is_some() || body.attrs.is_terminate();
        let empty =
            body.is_empty() && !body.attrs.is_restart() && body.attrs.creation().to.is_none();
        let open = self.open_requests() + 1;
        let requests = usize::from(self.requests);
        let too_soon = self.polling > 0
            && self.last_arrival.is_some_and(|t| {
                now.duration_since(t) < Duration::from_secs(u64::from(self.polling))
            });
        let polling_session = self.hold == 0 || self.wait == 0;
        let violation = !exempt
            && (open > requests
                || (open == requests && empty && too_soon && !polling_session)
                || (polling_session
                    && empty
                    && self.last_new_was_empty
                    && too_soon
                    && !self.last_response_had_payload));
        self.last_arrival = Some(now);
        self.last_new_was_empty = empty;
        if violation {
            if self.config.leniency.overactivity {
                self.warn(Warning::Overactivity);
            } else {
                self.fail(
                    now,
                    Condition::PolicyViolation,
                    request,
                    body.attrs.rid.map_or(u64::MAX, Rid::get),
                );
                return false;
            }
        }
        true
    }

    fn drain_pending(&mut self, now: Instant) {
        while self.state == State::Active {
            let Some(p) = self.pending.remove(&self.next_rid) else {
                break;
            };
            self.process(now, p.request, *p.body);
        }
        self.gap_since = if self.pending.is_empty() {
            None
        } else {
            Some(now)
        };
    }

    /// R14.2-5: a gap that never filled.
    fn give_up_gap(&mut self, now: Instant) {
        let Some(&first) = self.pending.keys().next() else {
            // Nothing buffered now; a resend is skipped on arrival.
            return;
        };
        if self.config.leniency.rid_gap {
            self.skip_gap(now, first);
        } else {
            self.terminate(now, Some(Condition::ItemNotFound), &[], Vec::new());
        }
    }

    /// Lenient mode (R14.2-5): rids the client evidently gave up on will
    /// never come, as after a process attached past a rid that was never
    /// sent (Strophe's cached next rid, or an export while a request was on
    /// its way). The evidence, for request `r`: with acks, its `ack`
    /// (absent: every earlier response was received, R9.2-3) covers them;
    /// without, it is beyond the window while later rids are already
    /// buffered, which a client keeping to `requests` (R11-1) only does once
    /// it has no use for the missing ones. They are skipped at once, not
    /// after the gap timeout (by then the first stanza would have ended the
    /// session with `item-not-found`).
    fn skip_abandoned_rids(&mut self, now: Instant, r: u64, body: &Body, window: u64) {
        let first_pending = self.pending.keys().next().copied().unwrap_or(r);
        let to = if self.acks {
            // Only what a client can have had in flight: the rids of a
            // process that went away and of the one now sending, each
            // within the window. Further is item-not-found (R14.2-4), not
            // a skip.
            let ack = body.attrs.ack.map_or(r - 1, Rid::get).min(r - 1);
            (ack >= self.next_rid && r - self.next_rid < 2 * window)
                .then(|| (ack + 1).min(first_pending))
        } else {
            (r - self.next_rid >= window && first_pending < r && r - first_pending < window)
                .then_some(first_pending)
        };
        if let Some(to) = to
            && to > self.next_rid
        {
            self.skip_gap(now, to);
        }
    }

    /// Skips the missing rids below `to` and processes what was buffered.
    fn skip_gap(&mut self, now: Instant, to: u64) {
        if let (Some(from), Some(last)) = (Rid::new(self.next_rid), Rid::new(to - 1)) {
            self.warn(Warning::RidGapSkipped { from, to: last });
        }
        // Remember them (a few ranges, each within the window) so that a
        // skipped rid arriving late is not mistaken for a stale one.
        self.skipped.push((self.next_rid, to));
        self.forget_old_skips();
        self.next_rid = to;
        self.drain_pending(now);
    }

    /// Processes the request for `next_rid` (in rid order, R8-2).
    fn process(&mut self, now: Instant, request: RequestId, body: Body) {
        let rid = self.next_rid;
        self.next_rid += 1;
        self.process_rid(now, rid, request, body, false);
    }

    /// Processes request `rid`: the next one in order, or (`late`) one
    /// skipped earlier that arrived after all.
    fn process_rid(&mut self, now: Instant, rid: u64, request: RequestId, body: Body, late: bool) {
        let a = &body.attrs;

        // §15 key sequencing: verify before anything else (R15.4-4). A late
        // rid cannot be checked against a chain that has moved on: refused.
        if late && self.key_expect.is_some() {
            self.fail(now, Condition::ItemNotFound, request, rid);
            return;
        }
        if let Some(expect) = &self.key_expect {
            let ok = a
                .key
                .as_deref()
                .is_some_and(|k| crate::keys::verify_key(k, expect));
            if !ok {
                self.fail(now, Condition::ItemNotFound, request, rid);
                return;
            }
            self.key_expect = a.newkey.clone().or_else(|| a.key.clone());
        }

        // §9.2 client acks: forget acknowledged responses, spot missed ones.
        let mut report = None;
        if self.acks {
            let ack = a.ack.map_or(rid - 1, Rid::get);
            self.replay.retain(|c| c.rid > ack);
            self.repeats.retain(|&r, _| r > ack);
            if ack < self.last_answered
                && let Some(c) = self.replay.iter().find(|c| c.rid == ack + 1)
            {
                let ms = now.saturating_duration_since(c.sent_at).as_millis();
                report = Some((Rid::new(c.rid).unwrap_or(Rid::MIN), ms.min(65_535) as u16));
            }
        }

        // R10-11: the next request restores normal inactivity.
        self.inactivity_override = None;

        if a.is_terminate() {
            self.client_terminate(now, rid, request, &body);
            return;
        }

        if let Some(pause) = a.pause {
            if self.maxpause > 0 {
                let granted = if pause > self.maxpause {
                    if !self.config.leniency.pause_above_max {
                        self.fail(now, Condition::PolicyViolation, request, rid);
                        return;
                    }
                    self.warn(Warning::PauseClamped {
                        requested: pause,
                        granted: self.maxpause,
                    });
                    self.maxpause
                } else {
                    pause
                };
                // R10-8: answer every held request now, then the pause
                // request itself, with no payload (R10-9). R14.3-1 leaves
                // pause answers out of what must be kept, but a client whose
                // answer was lost resends the pause (R14.3-3): keep it, or
                // that resend would end the session with item-not-found.
                while !self.held.is_empty() {
                    self.answer_front(now);
                }
                let attrs = self.base_attrs(rid, None, false);
                let mut out = Vec::new();
                write_body(&attrs, std::iter::empty::<&[u8]>(), &mut out);
                let body = Bytes::from(out);
                self.cache(rid, body.clone(), now, a.key.as_deref().map(Box::from));
                self.respond(request, 200, body);
                self.inactivity_override = Some(granted);
                self.idle_since = now;
                return;
            }
            self.warn(Warning::PauseIgnored);
        }

        let mut kind = HeldKind::Normal;
        if a.is_restart() {
            // XEP-0206 §5: a new stream over the same connection (X5-4).
            let Some(idx) = self.target_stream(&body) else {
                self.fail(now, Condition::ItemNotFound, request, rid);
                return;
            };
            let s = &mut self.streams[idx];
            s.awaiting_features = true;
            let c = a.creation();
            if c.to.is_some() {
                s.to = c.to.clone();
            }
            if c.xml_lang.is_some() {
                s.xml_lang = c.xml_lang.clone();
            }
            let cmd = UpstreamCommand::Restart {
                stream: s.id,
                to: s.to.clone(),
                from: c.from.clone(),
                xml_lang: s.xml_lang.clone(),
                version: s.requested_version,
            };
            kind = HeldKind::Restart(s.id);
            self.upstream(cmd);
            if !body.is_empty() {
                self.warn(Warning::RestartPayloadIgnored {
                    elements: body.elements().len(),
                });
            }
        } else if a.creation().to.is_some() && self.config.multi_stream && a.stream.is_none() {
            // §16.3: add a stream (R16.3-3).
            if self.streams.len() as u32 >= self.config.max_streams {
                self.fail(now, Condition::PolicyViolation, request, rid);
                return;
            }
            let c = a.creation();
            let id = self.open_stream(
                c.to.clone(),
                c.from.clone(),
                c.xml_lang.clone(),
                c.xmpp_version,
                c.route.clone(),
            );
            kind = HeldKind::AddStream(id);
            self.deliver(id, &body);
        } else if !body.is_empty() {
            match &a.stream {
                Some(_) => match self.target_stream(&body) {
                    Some(idx) => {
                        let id = self.streams[idx].id;
                        self.deliver(id, &body);
                    }
                    None => {
                        // R16.4-4: unknown stream name.
                        self.fail(now, Condition::ItemNotFound, request, rid);
                        return;
                    }
                },
                None => {
                    // R16.4-8: broadcast to every open stream.
                    let ids: Vec<StreamId> = self
                        .streams
                        .iter()
                        .filter(|s| s.open)
                        .map(|s| s.id)
                        .collect();
                    for id in ids {
                        self.deliver(id, &body);
                    }
                }
            }
        }
        self.push_held(now, rid, request, kind, a.key.as_deref().map(Box::from));
        if report.is_some()
            && let Some(h) = self.held.iter_mut().find(|h| h.rid == rid)
        {
            h.report = report;
            h.answer_now = true;
        }
    }

    fn push_held(
        &mut self,
        now: Instant,
        rid: u64,
        request: RequestId,
        kind: HeldKind,
        key: Option<Box<str>>,
    ) {
        let wait = Duration::from_secs(u64::from(self.wait));
        // In rid order: a late rid (R14.2-5) goes before the newer ones.
        let at = self.held.partition_point(|h| h.rid <= rid);
        reserve_small(&mut self.held);
        self.held.insert(
            at,
            Held {
                rid,
                request: Some(request),
                kind,
                deadline: deadline(now, wait),
                answer_now: false,
                report: None,
                key,
            },
        );
    }

    /// The stream a request addresses: its `stream` attribute, or the first
    /// stream (R16.4-7).
    fn target_stream(&self, body: &Body) -> Option<usize> {
        match &body.attrs.stream {
            Some(name) => self.streams.iter().position(|s| s.open && &s.name == name),
            None => self.streams.iter().position(|s| s.open),
        }
    }

    fn stream_index(&self, stream: StreamId) -> Option<usize> {
        let idx = stream.0 as usize;
        (self.streams.get(idx)?.open).then_some(idx)
    }

    /// Opens a stream with an unpredictable name (R16.2-3), derived from the
    /// session secret.
    fn open_stream(
        &mut self,
        to: Option<String>,
        from: Option<String>,
        xml_lang: Option<String>,
        version: Option<Version>,
        route: Option<String>,
    ) -> StreamId {
        let id = StreamId(self.streams.len() as u32);
        let secret: String = self.secret.iter().map(|b| format!("{b:02x}")).collect();
        let mut name = crate::keys::key_hash(&format!("{secret}:{}:{}", self.sid, id.0));
        name.truncate(20);
        if self.streams.len() == self.streams.capacity() && self.streams.len() < SMALL {
            // Almost every session has one stream.
            self.streams.reserve_exact(1);
        }
        self.streams.push(Stream {
            id,
            name,
            open: true,
            awaiting_features: true,
            authid: None,
            from: None,
            version: None,
            to: to.clone(),
            xml_lang: xml_lang.clone(),
            requested_version: version,
        });
        self.upstream(UpstreamCommand::Open {
            stream: id,
            to,
            from,
            xml_lang,
            version,
            route,
        });
        id
    }

    /// Forwards a body's payload upstream (R8-1), each element standalone.
    fn deliver(&mut self, stream: StreamId, body: &Body) {
        if body.is_empty() {
            return;
        }
        let elements: Vec<Bytes> = body.standalone_elements().collect();
        self.upstream(UpstreamCommand::Deliver { stream, elements });
    }

    fn set_outbox(&mut self, outbox: VecDeque<Outgoing>) {
        self.outbox_bytes = outbox
            .iter()
            .map(|o| match o {
                Outgoing::Payload(_, b) => b.len(),
                Outgoing::StreamFatal(..) => 0,
            })
            .sum();
        self.outbox = outbox;
    }

    fn queue(&mut self, now: Instant, item: Outgoing) {
        if let Outgoing::Payload(_, b) = &item {
            self.outbox_bytes += b.len();
        }
        self.outbox.push_back(item);
        if self.outbox.len() > self.config.max_queued_stanzas
            || self.outbox_bytes > self.config.max_queued_bytes
        {
            self.terminate(now, Some(Condition::UndefinedCondition), &[], Vec::new());
        }
    }

    /// An upstream stream failed: the whole session if it was the last open
    /// stream (X6-1, `remote-connection-failed`), else just that stream
    /// (R16.6-1).
    fn stream_failed(
        &mut self,
        now: Instant,
        idx: usize,
        condition: Condition,
        error: Option<Bytes>,
    ) {
        self.streams[idx].open = false;
        let id = self.streams[idx].id;
        self.upstream(UpstreamCommand::Close { stream: id });
        if self.streams.iter().any(|s| s.open) {
            self.queue(now, Outgoing::StreamFatal(id, condition, error));
            return;
        }
        // The client gets what was queued, then the error (X6-1).
        let queued = std::mem::take(&mut self.outbox);
        self.outbox_bytes = 0;
        let mut payload: Vec<Bytes> = queued
            .into_iter()
            .filter_map(|o| match o {
                Outgoing::Payload(_, b) => Some(b),
                Outgoing::StreamFatal(..) => None,
            })
            .collect();
        payload.extend(error);
        self.terminate(now, Some(condition), &[], payload);
    }

    // ----- answering -----

    /// Answers held requests whose time has come, in rid order (R8-7).
    fn settle(&mut self, now: Instant) {
        if self.pending.is_empty() {
            // An emptied B-tree keeps its leaf; an idle session should not
            // (memory per idle session is a goal of the connection manager).
            self.pending = BTreeMap::new();
        }
        if self.state != State::Active {
            return;
        }
        // R8-6: never hold more than `hold` (a polling session holds none).
        let hold = if self.wait == 0 {
            0
        } else {
            usize::from(self.hold)
        };
        loop {
            let live = self.held.iter().filter(|h| h.request.is_some()).count();
            let must = live > hold || self.held.iter().any(|h| h.answer_now);
            let Some(front) = self.held.front() else {
                break;
            };
            let waiting = match front.kind {
                HeldKind::Creation => self.streams[0].awaiting_features,
                HeldKind::Restart(s) | HeldKind::AddStream(s) => self
                    .streams
                    .get(s.0 as usize)
                    .is_some_and(|s| s.open && s.awaiting_features),
                HeldKind::Normal => false,
            };
            let can = !waiting && !self.outbox.is_empty();
            if !(must || can) {
                break;
            }
            self.answer_front(now);
            if self.state != State::Active {
                return;
            }
        }
    }

    /// Answers the oldest held request with what is queued (one stream's
    /// worth, R16.4-3), or empty.
    fn answer_front(&mut self, now: Instant) {
        let Some(h) = self.held.pop_front() else {
            return;
        };
        // An aborted request's answer is only cached: keep the payload for a
        // request that is still there to receive it.
        let (payload, stream, fatal) = if h.request.is_some() {
            self.take_outgoing(h.kind)
        } else {
            (Vec::new(), None, None)
        };
        let mut attrs = self.base_attrs(h.rid, Some(&h), !payload.is_empty() || fatal.is_some());
        if let Some((cond, sid)) = fatal {
            attrs.body_type = Some(BodyType::Terminate);
            attrs.condition = Some(cond);
            attrs.stream = self.stream_name(sid).map(str::to_owned);
        } else if let Some(sid) = stream
            && (self.streams.iter().filter(|s| s.open).count() > 1
                || sid != self.streams[0].id
                || matches!(h.kind, HeldKind::AddStream(_)))
        {
            // R16.4-1, and R16.4-7 beyond it: a client takes a response
            // without `stream` as the first stream's, even once that stream
            // is closed, so an added stream's payload always names it.
            attrs.stream = self.stream_name(sid).map(str::to_owned);
        }
        let mut out = Vec::with_capacity(128 + payload.iter().map(Bytes::len).sum::<usize>());
        write_body(&attrs, &payload, &mut out);
        let body = Bytes::from(out);
        self.last_response_had_payload = !payload.is_empty();
        self.cache(h.rid, body.clone(), now, h.key);
        if let Some(request) = h.request {
            self.respond(request, 200, body);
        }
        if self.held.is_empty() {
            self.idle_since = now;
        }
    }

    /// Takes the queued items for one response: payload elements of the
    /// stream of the first queued item, or one stream-fatal error.
    #[allow(clippy::type_complexity)]
    fn take_outgoing(
        &mut self,
        kind: HeldKind,
    ) -> (Vec<Bytes>, Option<StreamId>, Option<(Condition, StreamId)>) {
        // An added stream that failed before it was answered: the answer is
        // that stream's terminal error (R16.6-1).
        if let HeldKind::AddStream(s) = kind
            && let Some(pos) = self
                .outbox
                .iter()
                .position(|o| matches!(o, Outgoing::StreamFatal(f, ..) if *f == s))
            && let Some(Outgoing::StreamFatal(_, c, e)) = self.outbox.remove(pos)
        {
            return (e.into_iter().collect(), Some(s), Some((c, s)));
        }
        let target = match kind {
            HeldKind::AddStream(s) => Some(s),
            _ => match self.outbox.front() {
                Some(Outgoing::Payload(s, _)) => Some(*s),
                Some(Outgoing::StreamFatal(s, c, _)) => {
                    let (s, c) = (*s, *c);
                    if let Some(Outgoing::StreamFatal(_, _, e)) = self.outbox.pop_front() {
                        return (e.into_iter().collect(), Some(s), Some((c, s)));
                    }
                    None
                }
                None => None,
            },
        };
        let Some(target) = target else {
            return (Vec::new(), None, None);
        };
        let mut payload = Vec::new();
        let mut rest = VecDeque::with_capacity(self.outbox.len());
        for item in self.outbox.drain(..) {
            match item {
                Outgoing::Payload(s, b) if s == target && rest.is_empty() => payload.push(b),
                Outgoing::Payload(s, b)
                    if s == target
                        && !rest
                            .iter()
                            .any(|o| matches!(o, Outgoing::StreamFatal(f, ..) if *f == target)) =>
                {
                    payload.push(b)
                }
                other => rest.push_back(other),
            }
        }
        self.set_outbox(rest);
        (payload, Some(target), None)
    }

    /// Attributes every response carries: the session creation attributes on
    /// the creation response (§7.2, X4), acks (§9), report/time (§9.2).
    fn base_attrs(&self, rid: u64, held: Option<&Held>, has_payload: bool) -> BodyAttrs {
        let mut a = BodyAttrs::default();
        let kind = held.map_or(HeldKind::Normal, |h| h.kind);
        if kind == HeldKind::Creation {
            let s0 = &self.streams[0];
            a.sid = Some(Sid::from(self.sid.as_str()));
            a.ack = self.acks.then(|| Rid::new(self.creation_rid)).flatten();
            let c = a.creation_mut();
            c.wait = Some(self.wait);
            c.requests = Some(self.requests);
            c.hold = Some(self.hold);
            c.ver = self.ver.map(|_| self.ver.unwrap_or(self.config.ver));
            c.polling = (self.polling > 0).then_some(self.polling);
            c.inactivity = (self.inactivity > 0).then_some(self.inactivity);
            c.maxpause = (self.maxpause > 0).then_some(self.maxpause);
            c.from = s0.from.clone().or_else(|| s0.to.clone());
            c.authid = s0.authid.clone();
            c.xmpp_version = Some(s0.version.unwrap_or(Version::new(1, 0)));
            c.xmpp_restartlogic = Some(true);
            if self.config.multi_stream {
                a.stream = Some(s0.name.clone());
            }
            return a;
        }
        if self.acks {
            // R9.1-1, R9.1-3: the highest rid received with all lower ones,
            // unless it equals the rid being answered.
            let ack = self.next_rid - 1;
            if ack != rid {
                a.ack = Rid::new(ack);
            }
        }
        if let Some((report, time)) = held.and_then(|h| h.report) {
            a.report = Some(report);
            a.time = Some(time);
        }
        if let HeldKind::AddStream(s) = kind
            && let Some(st) = self.streams.get(s.0 as usize)
        {
            a.stream = Some(st.name.clone());
            let c = a.creation_mut();
            c.from = st.from.clone().or_else(|| st.to.clone());
            c.xmpp_version = Some(st.version.unwrap_or(Version::new(1, 0)));
        }
        let _ = has_payload;
        a
    }

    fn cache(&mut self, rid: u64, body: Bytes, now: Instant, key: Option<Box<str>>) {
        self.last_answered = self.last_answered.max(rid);
        reserve_small(&mut self.replay);
        self.replay.push_back(Cached {
            rid,
            body,
            sent_at: now,
            key,
        });
        // R14.3-2: `requests` responses, or every unacknowledged one
        // (capped); one more for the pause or terminate a client may send on
        // top of `requests` (R11-1), or the answer to the oldest request it
        // has not processed could be gone when it resends it.
        let cap = if self.acks {
            // Never fewer than without acks: a `max_replay` below
            // `requests` would drop answers the client has not
            // acknowledged, and their resend would end the session.
            self.config.max_replay.max(usize::from(self.requests) + 1)
        } else {
            usize::from(self.requests) + 1
        };
        while self.replay.len() > cap {
            if let Some(old) = self.replay.pop_front() {
                self.repeats.remove(&old.rid);
            }
        }
    }

    fn respond(&mut self, request: RequestId, status: u16, body: Bytes) {
        self.out.push_back(Output::Respond {
            request,
            response: Response {
                status,
                content_type: self.content_type.clone(),
                body,
            },
        });
    }

    /// R14.3-5, §17.3: a recoverable error (`type='error'`), not cached.
    fn respond_recoverable(&mut self, request: RequestId) {
        let attrs = BodyAttrs {
            body_type: Some(BodyType::Error),
            ..BodyAttrs::default()
        };
        let mut out = Vec::new();
        write_body(&attrs, std::iter::empty::<&[u8]>(), &mut out);
        self.respond(request, 200, Bytes::from(out));
    }

    /// A terminal error response: the body with `condition`, or the legacy
    /// HTTP code for a client without `ver` (R17.2-3).
    fn error_response(&self, condition: Condition) -> Response {
        error_response(condition, self.is_legacy(), &self.content_type, Vec::new())
    }

    // ----- termination -----

    /// §13: the client ends the session. Its payload goes upstream first
    /// (R13-2); the oldest open request gets `type='terminate'`, every other
    /// one an empty body (R13-5).
    fn client_terminate(&mut self, now: Instant, rid: u64, request: RequestId, body: &Body) {
        if let Some(name) = &body.attrs.stream {
            // R16.5-1: close one stream; the session ends with its last one.
            let Some(idx) = self.streams.iter().position(|s| s.open && &s.name == name) else {
                self.fail(now, Condition::ItemNotFound, request, rid);
                return;
            };
            let id = self.streams[idx].id;
            self.deliver(id, body);
            if self.streams.iter().filter(|s| s.open).count() > 1 {
                self.streams[idx].open = false;
                self.bounce_stream(id);
                self.upstream(UpstreamCommand::Close { stream: id });
                self.push_held(
                    now,
                    rid,
                    request,
                    HeldKind::Normal,
                    body.attrs.key.as_deref().map(Box::from),
                );
                if let Some(h) = self.held.iter_mut().find(|h| h.rid == rid) {
                    h.answer_now = true;
                }
                return;
            }
        } else {
            // R16.5-3: payload to every stream.
            let ids: Vec<StreamId> = self
                .streams
                .iter()
                .filter(|s| s.open)
                .map(|s| s.id)
                .collect();
            for id in ids {
                self.deliver(id, body);
            }
        }
        self.terminate_with(
            now,
            None,
            TerminationReason::ClientTerminate,
            &[(request, rid)],
            Vec::new(),
        );
    }

    /// Ends the session with `condition`, answering `request` (which caused
    /// it) along with every open request.
    /// `rid` places the request among the other open ones, which are all
    /// answered in rid order (R8-7); `u64::MAX` when it has none.
    fn fail(&mut self, now: Instant, condition: Condition, request: RequestId, rid: u64) {
        self.terminate(now, Some(condition), &[(request, rid)], Vec::new());
    }

    fn terminate(
        &mut self,
        now: Instant,
        condition: Option<Condition>,
        extra: &[(RequestId, u64)],
        payload: Vec<Bytes>,
    ) {
        let reason = match condition {
            Some(c) => TerminationReason::Condition(c),
            None => TerminationReason::ClientTerminate,
        };
        self.terminate_with(now, condition, reason, extra, payload);
    }

    /// Ends the session: answers every open request in rid order, bounces
    /// what the client will never get (X7-1), closes the upstream streams.
    fn terminate_with(
        &mut self,
        now: Instant,
        condition: Option<Condition>,
        reason: TerminationReason,
        extra: &[(RequestId, u64)],
        payload: Vec<Bytes>,
    ) {
        if self.state != State::Active {
            return;
        }
        // Every open request, answered in rid order (R8-7).
        let mut by_rid: Vec<(u64, RequestId)> = self
            .held
            .drain(..)
            .filter_map(|h| Some((h.rid, h.request?)))
            .collect();
        by_rid.extend(
            std::mem::take(&mut self.pending)
                .into_iter()
                .map(|(rid, p)| (rid, p.request)),
        );
        by_rid.extend(extra.iter().map(|&(request, rid)| (rid, request)));
        by_rid.sort_by_key(|&(rid, _)| rid);
        let open: Vec<RequestId> = by_rid.into_iter().map(|(_, r)| r).collect();
        self.gap_since = None;
        if let (
            true,
            Some(c @ (Condition::RemoteStreamError | Condition::RemoteConnectionFailed)),
        ) = (open.is_empty() && !self.deferral_used, condition)
        {
            self.deferral_used = true;
            // Nobody to tell yet: close upstream now, tell the next request.
            for s in &mut self.streams {
                if s.open {
                    s.open = false;
                    self.out
                        .push_back(Output::Upstream(UpstreamCommand::Close { stream: s.id }));
                }
            }
            self.set_outbox(VecDeque::new());
            self.deferred = Some((c, payload));
            self.idle_since = now;
            return;
        }
        for (i, request) in open.into_iter().enumerate() {
            let response = match condition {
                Some(c) => {
                    let p = if i == 0 { payload.clone() } else { Vec::new() };
                    error_response(c, self.is_legacy(), &self.content_type, p)
                }
                None => {
                    let attrs = if i == 0 {
                        BodyAttrs {
                            body_type: Some(BodyType::Terminate),
                            ..BodyAttrs::default()
                        }
                    } else {
                        BodyAttrs::default()
                    };
                    let mut out = Vec::new();
                    write_body(&attrs, std::iter::empty::<&[u8]>(), &mut out);
                    Response {
                        status: 200,
                        content_type: self.content_type.clone(),
                        body: Bytes::from(out),
                    }
                }
            };
            self.out.push_back(Output::Respond { request, response });
        }
        let ids: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|s| s.open)
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.bounce_stream(id);
            self.upstream(UpstreamCommand::Close { stream: id });
        }
        for s in &mut self.streams {
            s.open = false;
        }
        self.set_outbox(VecDeque::new());
        self.ended = Some(reason);
        self.state = State::Terminated {
            until: deadline(now, self.config.linger),
        };
        self.out
            .push_back(Output::Event(SessionEvent::Terminated(reason)));
    }

    /// XEP-0206 §7 (X7-1): stanzas the client will never receive go back to
    /// the server as errors (iq: `service-unavailable`, message:
    /// `recipient-unavailable`); presence and errors are dropped.
    fn bounce_stream(&mut self, stream: StreamId) {
        let mut bounces = Vec::new();
        let mut dropped = 0;
        let mut rest = VecDeque::with_capacity(self.outbox.len());
        for item in self.outbox.drain(..) {
            match item {
                Outgoing::Payload(s, b) if s == stream => {
                    match crate::xmpp::bounce_undeliverable(&b) {
                        Ok(Some(e)) => bounces.push(Bytes::from(e)),
                        _ => dropped += 1,
                    }
                }
                Outgoing::StreamFatal(s, ..) if s == stream => {}
                other => rest.push_back(other),
            }
        }
        self.set_outbox(rest);
        if bounces.is_empty() && dropped == 0 {
            return;
        }
        let bounced = bounces.len();
        if !bounces.is_empty() {
            self.upstream(UpstreamCommand::Deliver {
                stream,
                elements: bounces,
            });
        }
        self.warn(Warning::Bounced { bounced, dropped });
    }
}

/// A terminal error response (§17.2): HTTP 200 with
/// `<body type='terminate' condition='…'/>` and `payload`, or for a legacy
/// client the deprecated HTTP code with an empty body where one exists
/// (R17.2-3).
pub fn error_response(
    condition: Condition,
    legacy: bool,
    content_type: &str,
    payload: Vec<Bytes>,
) -> Response {
    if legacy && let Some(status) = condition.legacy_http_status() {
        return Response {
            status,
            content_type: content_type.to_owned(),
            body: Bytes::new(),
        };
    }
    let mut out = Vec::new();
    write_body(&BodyAttrs::terminate(condition), &payload, &mut out);
    Response {
        status: 200,
        content_type: content_type.to_owned(),
        body: Bytes::from(out),
    }
}
/// How many skipped rid ranges a session remembers (R14.2-5): each is
/// within twice the window, so a late rid is recognised for a while, and a
/// client splitting ranges with late rids cannot grow the list.
const MAX_SKIPPED_RANGES: usize = 8;

/// Below this many entries, the per-session queues grow one slot at a time
/// (`hold` and `requests` are small; an idle session should not carry
/// three empty slots in each queue).
const SMALL: usize = 4;

fn reserve_small<T>(q: &mut VecDeque<T>) {
    if q.len() == q.capacity() && q.len() < SMALL {
        q.reserve_exact(1);
    }
}
