//! Random sequences of server outcomes, timer firings, clock jumps (also
//! backwards) and commands: the client never panics, numbers new requests
//! strictly one by one, resends byte-identical, never has more than
//! `requests + 1` requests in flight, never arms a timer in the past after
//! handling one, never reuses a request id, and says nothing after
//! `Disconnected`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bosh_core::body::{BodyAttrs, BodyType, CreationAttrs, Version, write_body};
use bosh_core::client::{ClientConfig, ClientSession, Event, Outcome, Output, RequestId, Transmit};
use bosh_core::{Condition, Rid};
use bytes::Bytes;
use proptest::prelude::*;

const FIRST_RID: u64 = 4_000_000_000;
/// `requests` advertised by the scripted server.
const REQUESTS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    /// 200 to one of the open requests (any of them: out of order too).
    Ok {
        pick: usize,
        stanza: bool,
    },
    /// 200 with `report` naming another open request.
    Report {
        pick: usize,
        other: usize,
    },
    /// A failure status or a transport failure.
    Status {
        pick: usize,
        status: u16,
    },
    Transport {
        pick: usize,
    },
    /// A body that does not parse.
    Garbage {
        pick: usize,
        bytes: Vec<u8>,
    },
    /// `type='error'`.
    Recoverable {
        pick: usize,
    },
    /// `type='terminate'`.
    Terminal {
        pick: usize,
    },
    /// A late answer to an aborted request.
    Stale {
        pick: usize,
    },
    /// Move the clock forward and fire the timer.
    Advance {
        ms: u32,
    },
    /// Fire the timer at `poll_timeout()`.
    Fire,
    /// Fire the timer with an instant in the past.
    Backwards {
        ms: u32,
    },
    Send {
        n: u8,
    },
    Restart,
    Pause {
        secs: u16,
    },
    Resume,
    Terminate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        16 => (any::<usize>(), any::<bool>()).prop_map(|(pick, stanza)| Op::Ok { pick, stanza }),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(pick, other)| Op::Report { pick, other }),
        3 => (any::<usize>(), prop::sample::select(vec![0u16, 408, 429, 500, 503]))
            .prop_map(|(pick, status)| Op::Status { pick, status }),
        1 => (any::<usize>(), prop::sample::select(vec![204u16, 302, 400, 403, 404]))
            .prop_map(|(pick, status)| Op::Status { pick, status }),
        3 => any::<usize>().prop_map(|pick| Op::Transport { pick }),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(pick, bytes)| Op::Garbage { pick, bytes }),
        2 => any::<usize>().prop_map(|pick| Op::Recoverable { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Terminal { pick }),
        2 => any::<usize>().prop_map(|pick| Op::Stale { pick }),
        6 => (0u32..90_000).prop_map(|ms| Op::Advance { ms }),
        6 => Just(Op::Fire),
        2 => (0u32..90_000).prop_map(|ms| Op::Backwards { ms }),
        6 => any::<u8>().prop_map(|n| Op::Send { n }),
        2 => Just(Op::Restart),
        2 => (0u16..100).prop_map(|secs| Op::Pause { secs }),
        2 => Just(Op::Resume),
        1 => Just(Op::Terminate),
    ]
}

struct Sim {
    s: ClientSession,
    base: Instant,
    /// The latest instant given to the session.
    clock: Instant,
    open: Vec<(RequestId, Rid)>,
    aborted: Vec<RequestId>,
    bodies: HashMap<u64, Bytes>,
    ids: HashSet<RequestId>,
    max_rid: Option<u64>,
    disconnected: bool,
}

fn body(attrs: &BodyAttrs, payload: &[&str]) -> Outcome {
    let mut out = Vec::new();
    write_body(attrs, payload.iter().map(|p| p.as_bytes()), &mut out);
    Outcome::ok(out)
}

impl Sim {
    fn check_send(&mut self, t: &Transmit) -> Result<(), TestCaseError> {
        prop_assert!(!self.disconnected, "a request after Disconnected");
        let r = t.rid.get();
        match self.max_rid {
            Some(max) if r > max => {
                prop_assert_eq!(r, max + 1, "new rids go up by exactly one");
            }
            Some(_) => {
                let first = self.bodies.get(&r);
                prop_assert_eq!(first, Some(&t.body), "a resend is byte-identical");
            }
            None => prop_assert_eq!(r, FIRST_RID),
        }
        if self.max_rid.is_none_or(|m| r > m) {
            self.max_rid = Some(r);
            self.bodies.insert(r, t.body.clone());
        }
        if let Some(d) = t.deadline {
            prop_assert!(d > self.clock, "a deadline in the past");
        }
        prop_assert!(self.ids.insert(t.id), "a request id reused");
        self.open.push((t.id, t.rid));
        prop_assert!(
            self.open.len() <= REQUESTS + 1,
            "{} requests in flight",
            self.open.len()
        );
        Ok(())
    }

    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(o) = self.s.poll_output() {
            match o {
                Output::Send(t) => self.check_send(&t)?,
                Output::Abort(id) => {
                    let before = self.open.len();
                    self.open.retain(|(i, _)| *i != id);
                    prop_assert_eq!(self.open.len() + 1, before, "abort of a request not open");
                    self.aborted.push(id);
                }
                Output::Event(e) => {
                    prop_assert!(!self.disconnected, "an event after Disconnected: {:?}", e);
                    if matches!(e, Event::Disconnected(_)) {
                        self.disconnected = true;
                        prop_assert!(self.open.is_empty(), "requests left open: {:?}", self.open);
                    }
                }
                _ => {}
            }
        }
        prop_assert_eq!(self.disconnected, self.s.is_disconnected());
        Ok(())
    }

    fn take(&mut self, pick: usize) -> Option<(RequestId, Rid)> {
        if self.open.is_empty() {
            return None;
        }
        let i = pick % self.open.len();
        Some(self.open.remove(i))
    }

    fn respond(
        &mut self,
        pick: usize,
        make: impl FnOnce(Rid) -> Outcome,
    ) -> Result<(), TestCaseError> {
        if let Some((id, rid)) = self.take(pick) {
            let outcome = make(rid);
            self.s.handle_response(self.clock, id, outcome);
        }
        self.drain()
    }

    fn timeout_at(&mut self, at: Instant) -> Result<(), TestCaseError> {
        if at > self.clock {
            self.clock = at;
        }
        self.s.handle_timeout(at);
        self.drain()?;
        if let Some(next) = self.s.poll_timeout() {
            prop_assert!(
                next > self.clock,
                "timer armed in the past after handle_timeout"
            );
        }
        Ok(())
    }

    fn run(&mut self, op: Op) -> Result<(), TestCaseError> {
        let creation = BodyAttrs {
            sid: Some("S".into()),
            creation: Some(Box::new(CreationAttrs {
                wait: Some(60),
                hold: Some(1),
                requests: Some(REQUESTS as u8),
                maxpause: Some(60),
                ver: Some(Version::new(1, 11)),
                ..CreationAttrs::default()
            })),
            ..BodyAttrs::default()
        };
        let ok = |rid: Rid, stanza: bool| {
            if rid.get() == FIRST_RID {
                body(&creation, &[])
            } else if stanza {
                body(
                    &BodyAttrs::default(),
                    &["<message><body>hi</body></message>"],
                )
            } else {
                body(&BodyAttrs::default(), &[])
            }
        };
        let now = self.clock;
        match op {
            Op::Ok { pick, stanza } => self.respond(pick, |r| ok(r, stanza))?,
            Op::Report { pick, other } => {
                let report = if self.open.is_empty() {
                    None
                } else {
                    Some(self.open[other % self.open.len()].1)
                };
                self.respond(pick, |r| {
                    if r.get() == FIRST_RID {
                        return ok(r, false);
                    }
                    body(
                        &BodyAttrs {
                            report,
                            time: Some(100),
                            ..BodyAttrs::default()
                        },
                        &[],
                    )
                })?
            }
            Op::Status { pick, status } => self.respond(pick, |_| Outcome::Http {
                status,
                body: Bytes::new(),
            })?,
            Op::Transport { pick } => self.respond(pick, |_| Outcome::TransportFailure)?,
            Op::Garbage { pick, bytes } => self.respond(pick, |_| Outcome::ok(bytes))?,
            Op::Recoverable { pick } => self.respond(pick, |_| {
                body(
                    &BodyAttrs {
                        body_type: Some(BodyType::Error),
                        ..BodyAttrs::default()
                    },
                    &[],
                )
            })?,
            Op::Terminal { pick } => self.respond(pick, |_| {
                body(&BodyAttrs::terminate(Condition::SystemShutdown), &[])
            })?,
            Op::Stale { pick } => {
                if !self.aborted.is_empty() {
                    let id = self.aborted[pick % self.aborted.len()];
                    self.s.handle_response(now, id, ok(Rid::MIN, true));
                }
                self.drain()?;
            }
            Op::Advance { ms } => self.timeout_at(now + Duration::from_millis(u64::from(ms)))?,
            Op::Fire => {
                if let Some(t) = self.s.poll_timeout() {
                    self.timeout_at(t)?;
                }
            }
            Op::Backwards { ms } => {
                let at = now
                    .checked_sub(Duration::from_millis(u64::from(ms)))
                    .unwrap_or(self.base)
                    .max(self.base);
                self.timeout_at(at)?;
            }
            Op::Send { n } => {
                let _ = self.s.send(now, format!("<message id='{n}'/>"));
                self.drain()?;
            }
            Op::Restart => {
                let _ = self.s.restart(now);
                self.drain()?;
            }
            Op::Pause { secs } => {
                let _ = self.s.pause(now, secs);
                self.drain()?;
            }
            Op::Resume => {
                let _ = self.s.resume(now);
                self.drain()?;
            }
            Op::Terminate => {
                let _ = self.s.terminate(now, ["<presence type='unavailable'/>"]);
                self.drain()?;
            }
        }
        Ok(())
    }
}

proptest! {
    // 512 cases unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn client_survives_any_sequence_of_outcomes(ops in prop::collection::vec(op(), 0..120)) {
        // Tests may read the clock once; the core never does.
        let base = Instant::now();
        let s = ClientSession::new(
            ClientConfig::new("example.com"),
            Rid::new(FIRST_RID).unwrap(),
            base,
        )
        .unwrap();
        let mut sim = Sim {
            s,
            base,
            clock: base,
            open: Vec::new(),
            aborted: Vec::new(),
            bodies: HashMap::new(),
            ids: HashSet::new(),
            max_rid: None,
            disconnected: false,
        };
        sim.drain()?;
        for op in ops {
            sim.run(op)?;
        }
        // Time alone always ends or continues the session cleanly.
        for _ in 0..50 {
            match sim.s.poll_timeout() {
                Some(t) => sim.timeout_at(t)?,
                None => break,
            }
        }
    }
}
