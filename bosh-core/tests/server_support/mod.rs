//! A deterministic harness for server-session tests: fake time, an endpoint,
//! one session, and everything it emitted.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bosh_core::body::{Body, BodyAttrs, CreationAttrs, ParseLimits, Version, parse, write_body};
use bosh_core::server::{
    Output, RequestId, Response, Routing, ServerConfig, ServerEndpoint, ServerSession,
    SessionEvent, StreamId, UpstreamCommand, UpstreamEvent, Warning,
};
use bosh_core::{Condition, Rid};
use bytes::Bytes;

pub const FEATURES: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";

pub struct H {
    pub ep: ServerEndpoint,
    pub s: Option<ServerSession>,
    pub t0: Instant,
    pub now: Instant,
    next_req: u64,
    pub sid: String,
    pub first_rid: u64,
    pub responses: Vec<(RequestId, Response)>,
    pub upstream: Vec<UpstreamCommand>,
    pub events: Vec<SessionEvent>,
}

pub fn attrs() -> BodyAttrs {
    BodyAttrs::default()
}

pub fn body_bytes(attrs: &BodyAttrs, payload: &[&str]) -> Bytes {
    let mut out = Vec::new();
    write_body(attrs, payload.iter().map(|p| p.as_bytes()), &mut out);
    Bytes::from(out)
}

pub fn parse_response(r: &Response) -> Body {
    parse(&r.body, &ParseLimits::default()).expect("response parses")
}

pub fn creation_attrs(rid: u64) -> BodyAttrs {
    BodyAttrs {
        rid: Rid::new(rid),
        creation: Some(Box::new(CreationAttrs {
            to: Some("example.com".into()),
            xml_lang: Some("en".into()),
            ver: Some(Version::new(1, 6)),
            wait: Some(60),
            hold: Some(1),
            xmpp_version: Some(Version::new(1, 0)),
            ..CreationAttrs::default()
        })),
        ..BodyAttrs::default()
    }
}

impl H {
    pub fn new(config: ServerConfig) -> H {
        let t0 = Instant::now();
        H {
            ep: ServerEndpoint::new(config).expect("valid config"),
            s: None,
            t0,
            now: t0,
            next_req: 1,
            sid: String::new(),
            first_rid: 0,
            responses: Vec::new(),
            upstream: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn with_default() -> H {
        H::new(ServerConfig::default())
    }

    pub fn s(&mut self) -> &mut ServerSession {
        self.s.as_mut().expect("session")
    }

    fn next_id(&mut self) -> RequestId {
        let id = RequestId(self.next_req);
        self.next_req += 1;
        id
    }

    /// Creates a session from `creation` and completes the upstream stream
    /// open (header + features) unless `features` is false.
    pub fn create(&mut self, creation: BodyAttrs, features: bool) -> RequestId {
        let id = self.next_id();
        self.first_rid = creation.rid.map_or(0, Rid::get);
        let bytes = body_bytes(&creation, &[]);
        match self.ep.route(self.now, id, bytes) {
            Routing::New(incoming) => {
                let sid = format!("sid{}", self.ep.session_count() + 1);
                let s = self
                    .ep
                    .accept(self.now, incoming, sid.clone(), [7; 16])
                    .expect("accepted");
                self.sid = sid;
                self.s = Some(s);
            }
            other => panic!("not a new session: {other:?}"),
        }
        self.drain();
        if features {
            self.up(
                0,
                UpstreamEvent::Opened {
                    id: Some("stream-id-1".into()),
                    from: Some("example.com".into()),
                    version: Some(Version::new(1, 0)),
                },
            );
            self.up(
                0,
                UpstreamEvent::Features(Bytes::from_static(FEATURES.as_bytes())),
            );
        }
        id
    }

    /// Sends a request with this rid (sid added) and payload.
    pub fn send(&mut self, mut a: BodyAttrs, payload: &[&str]) -> RequestId {
        if a.sid.is_none() {
            a.sid = Some(self.sid.as_str().into());
        }
        self.send_raw(body_bytes(&a, payload))
    }

    pub fn rid(&mut self, rid: u64, payload: &[&str]) -> RequestId {
        self.send(
            BodyAttrs {
                rid: Rid::new(rid),
                ..BodyAttrs::default()
            },
            payload,
        )
    }

    pub fn send_raw(&mut self, bytes: Bytes) -> RequestId {
        let id = self.next_id();
        match self.ep.route(self.now, id, bytes) {
            Routing::Session { sid, body } => {
                assert_eq!(sid, self.sid);
                let now = self.now;
                self.s().handle_request(now, id, body);
            }
            Routing::Respond(r) => self.responses.push((id, r)),
            Routing::New(_) => panic!("unexpected creation"),
        }
        self.drain();
        id
    }

    pub fn up(&mut self, stream: u32, ev: UpstreamEvent) {
        let now = self.now;
        self.s().handle_upstream(now, StreamId(stream), ev);
        self.drain();
    }

    pub fn stanza(&mut self, xml: &str) {
        self.up(
            0,
            UpstreamEvent::Stanza(Bytes::copy_from_slice(xml.as_bytes())),
        );
    }

    pub fn abort(&mut self, id: RequestId) {
        let now = self.now;
        self.s().handle_request_aborted(now, id);
        self.drain();
    }

    /// Moves time forward, firing every timer that comes due on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self.s.as_ref().and_then(|s| s.poll_timeout());
            match next {
                Some(t) if t <= end => {
                    assert!(t >= self.now || t + Duration::from_secs(3600) > self.now);
                    self.now = self.now.max(t);
                    let now = self.now;
                    self.s().handle_timeout(now);
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    pub fn secs(&mut self, s: u64) {
        self.advance(Duration::from_secs(s));
    }

    pub fn drain(&mut self) {
        let Some(s) = self.s.as_mut() else {
            return;
        };
        while let Some(o) = s.poll_output() {
            match o {
                Output::Respond { request, response } => self.responses.push((request, response)),
                Output::Upstream(c) => self.upstream.push(c),
                Output::Event(e) => {
                    if e == SessionEvent::Closed {
                        self.ep.session_closed(&self.sid);
                    }
                    self.events.push(e);
                }
            }
        }
    }

    /// The response to `id`, parsed; panics if there is none or several.
    pub fn resp(&self, id: RequestId) -> Body {
        parse_response(self.raw(id))
    }

    pub fn raw(&self, id: RequestId) -> &Response {
        let all: Vec<&Response> = self
            .responses
            .iter()
            .filter(|(r, _)| *r == id)
            .map(|(_, r)| r)
            .collect();
        assert_eq!(all.len(), 1, "responses to {id:?}: {all:?}");
        all[0]
    }

    pub fn answered(&self, id: RequestId) -> bool {
        self.responses.iter().any(|(r, _)| *r == id)
    }

    pub fn delivered(&self) -> Vec<String> {
        self.upstream
            .iter()
            .filter_map(|c| match c {
                UpstreamCommand::Deliver { elements, .. } => Some(
                    elements
                        .iter()
                        .map(|e| String::from_utf8_lossy(e).into_owned())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    }

    pub fn warnings(&self) -> Vec<Warning> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Warning(w) => Some(w.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn terminated(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, SessionEvent::Terminated(_)))
    }
}

pub fn payload_strings(b: &Body) -> Vec<String> {
    b.elements()
        .map(|e| String::from_utf8_lossy(&e).into_owned())
        .collect()
}

pub fn condition(b: &Body) -> Option<Condition> {
    if b.attrs.is_terminate() {
        b.attrs.condition
    } else {
        None
    }
}
