//! Shared fake-time harness for the client scenario tests: a base `Instant`
//! taken once, then `base + Duration`; server responses built with
//! `write_body`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bosh_core::body::{BodyAttrs, CreationAttrs, Version, parse, write_body};
use bosh_core::client::{ClientConfig, ClientSession, Event, Outcome, Output, RequestId, Transmit};
use bosh_core::{Body, ParseLimits, Rid};

pub(crate) const FIRST_RID: u64 = 1_573_741_820;
pub(crate) const SID: &str = "SomeSID";

pub(crate) fn rid(n: u64) -> Rid {
    Rid::new(n).expect("valid rid")
}

/// A 200 response carrying `attrs` and `payload`.
pub(crate) fn reply(attrs: &BodyAttrs, payload: &[&str]) -> Outcome {
    let mut out = Vec::new();
    write_body(attrs, payload.iter().map(|p| p.as_bytes()), &mut out);
    Outcome::ok(out)
}

/// An empty 200 response.
pub(crate) fn empty() -> Outcome {
    reply(&BodyAttrs::default(), &[])
}

/// A creation response: wait 60, hold 1, requests 2, ver 1.11, inactivity 30.
pub(crate) fn creation_attrs() -> BodyAttrs {
    BodyAttrs {
        sid: Some(SID.into()),
        creation: Some(Box::new(CreationAttrs {
            wait: Some(60),
            hold: Some(1),
            requests: Some(2),
            inactivity: Some(30),
            polling: Some(5),
            ver: Some(Version::new(1, 11)),
            from: Some("example.com".to_owned()),
            xmpp_version: Some(Version::new(1, 0)),
            xmpp_restartlogic: Some(true),
            ..CreationAttrs::default()
        })),
        ..BodyAttrs::default()
    }
}

pub(crate) fn parse_body(t: &Transmit) -> Body {
    parse(&t.body, &ParseLimits::default()).expect("the client emits valid bodies")
}

#[derive(Debug)]
pub(crate) struct Harness {
    pub(crate) s: ClientSession,
    pub(crate) base: Instant,
    pub(crate) now: Instant,
    pub(crate) sends: Vec<Transmit>,
    pub(crate) aborts: Vec<RequestId>,
    pub(crate) events: Vec<Event>,
}

impl Harness {
    pub(crate) fn new(config: ClientConfig) -> Harness {
        // Tests may read the clock once; the core never does.
        let base = Instant::now();
        let s = ClientSession::new(config, rid(FIRST_RID), base).expect("valid config");
        Harness::with(s, base)
    }

    pub(crate) fn with(s: ClientSession, base: Instant) -> Harness {
        let mut h = Harness {
            s,
            base,
            now: base,
            sends: Vec::new(),
            aborts: Vec::new(),
            events: Vec::new(),
        };
        h.drain();
        h
    }

    /// A session created with `attrs` as the creation response; returns it
    /// with the creation request and its events drained.
    pub(crate) fn connected_with(
        config: ClientConfig,
        attrs: &BodyAttrs,
        payload: &[&str],
    ) -> Harness {
        let mut h = Harness::new(config);
        let create = h.take_sends().remove(0);
        h.respond(create.id, reply(attrs, payload));
        h
    }

    pub(crate) fn connected() -> Harness {
        let mut h =
            Harness::connected_with(ClientConfig::new("example.com"), &creation_attrs(), &[]);
        h.events.clear();
        h
    }

    pub(crate) fn drain(&mut self) {
        while let Some(o) = self.s.poll_output() {
            match o {
                Output::Send(t) => self.sends.push(t),
                Output::Abort(id) => self.aborts.push(id),
                Output::Event(e) => self.events.push(e),
                _ => {}
            }
        }
    }

    pub(crate) fn at(&self, secs: u64) -> Instant {
        self.base + Duration::from_secs(secs)
    }

    /// Moves the clock to `base + secs` and fires the timer.
    pub(crate) fn tick_to(&mut self, secs: u64) {
        self.tick_to_instant(self.at(secs));
    }

    pub(crate) fn tick_to_instant(&mut self, t: Instant) {
        self.now = t;
        self.s.handle_timeout(t);
        self.drain();
    }

    /// Fires the timer at `poll_timeout()`, returning it.
    pub(crate) fn fire(&mut self) -> Option<Instant> {
        let t = self.s.poll_timeout()?;
        if t > self.now {
            self.now = t;
        }
        self.s.handle_timeout(self.now);
        self.drain();
        Some(t)
    }

    pub(crate) fn respond(&mut self, id: RequestId, outcome: Outcome) {
        self.s.handle_response(self.now, id, outcome);
        self.drain();
    }

    pub(crate) fn send(&mut self, payload: &str) {
        self.s
            .send(self.now, payload.as_bytes().to_vec())
            .expect("send accepted");
        self.drain();
    }

    pub(crate) fn take_sends(&mut self) -> Vec<Transmit> {
        std::mem::take(&mut self.sends)
    }

    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub(crate) fn take_aborts(&mut self) -> Vec<RequestId> {
        std::mem::take(&mut self.aborts)
    }

    /// The single request sent since the last take.
    pub(crate) fn one_send(&mut self) -> Transmit {
        let mut s = self.take_sends();
        assert_eq!(s.len(), 1, "expected exactly one request, got {s:#?}");
        s.remove(0)
    }

    pub(crate) fn stanzas(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Stanza { stanza, .. } => Some(String::from_utf8_lossy(stanza).into_owned()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn disconnected(&self) -> Option<&bosh_core::client::DisconnectReason> {
        self.events.iter().find_map(|e| match e {
            Event::Disconnected(r) => Some(r),
            _ => None,
        })
    }
}
