//! Property tests of the connection-manager session over random sequences
//! of requests, repeats, gaps, aborts, upstream stanzas and time steps.

mod server_support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bosh_core::body::BodyAttrs;
use bosh_core::server::{Leniency, RequestId, ServerConfig, SessionEvent, UpstreamEvent};
use bosh_core::{Condition, Rid};
use bytes::Bytes;
use proptest::prelude::*;
use server_support::*;

const R: u64 = 5_000;

#[derive(Debug, Clone)]
enum Op {
    /// A request at `next + offset` (offset may repeat an old rid or skip).
    Request { offset: i8, payload: bool },
    /// The client goes away from one of its open requests.
    Abort(u8),
    /// The server sends a stanza.
    Stanza,
    /// Time passes.
    Advance(u32),
    /// The server fails.
    UpstreamClosed,
    /// The connection manager shuts down.
    Shutdown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (-2i8..=2, any::<bool>()).prop_map(|(offset, payload)| Op::Request { offset, payload }),
        1 => any::<u8>().prop_map(Op::Abort),
        5 => Just(Op::Stanza),
        3 => (0u32..=70_000).prop_map(Op::Advance),
        1 => Just(Op::UpstreamClosed),
        1 => Just(Op::Shutdown),
    ]
}

fn stanza_ids(body: &bosh_core::body::Body) -> Vec<u32> {
    body.elements()
        .filter_map(|e| {
            let s = String::from_utf8_lossy(&e).into_owned();
            let i = s.find("id='s")? + 5;
            s[i..].split('\'').next()?.parse().ok()
        })
        .collect()
}

fn run(ops: Vec<Op>, config: ServerConfig) -> Result<(), TestCaseError> {
    let mut h = H::new(config);
    let creation = h.create(creation_attrs(R), true);
    let mut next = R + 1;
    let mut sent_stanzas = 0u32;
    let mut rid_of: HashMap<RequestId, u64> = HashMap::new();
    rid_of.insert(creation, R);
    let mut aborted_rids: BTreeSet<u64> = BTreeSet::new();
    for op in ops {
        match op {
            Op::Request { offset, payload } => {
                let rid = (next as i64 + i64::from(offset)).max(1) as u64;
                let p = ["<message xmlns='jabber:client' to='x'/>"];
                let id = h.send(
                    BodyAttrs {
                        rid: Rid::new(rid),
                        ..BodyAttrs::default()
                    },
                    if payload { &p[..] } else { &[][..] },
                );
                rid_of.insert(id, rid);
                if rid >= next {
                    next = rid + 1;
                }
            }
            Op::Abort(i) => {
                let open: Vec<RequestId> = rid_of
                    .keys()
                    .copied()
                    .filter(|id| !h.answered(*id))
                    .collect();
                if !open.is_empty() && !h.terminated() {
                    let mut open = open;
                    open.sort();
                    let id = open[usize::from(i) % open.len()];
                    // Its answer, when due, is only cached: the first one
                    // the client sees for this rid is a replay.
                    aborted_rids.insert(rid_of[&id]);
                    h.abort(id);
                }
            }
            Op::Stanza => {
                if !h.terminated() {
                    sent_stanzas += 1;
                    h.stanza(&format!(
                        "<message xmlns='jabber:client' id='s{sent_stanzas}'/>"
                    ));
                }
            }
            Op::Advance(ms) => h.advance(Duration::from_millis(u64::from(ms))),
            Op::UpstreamClosed => {
                if !h.terminated() {
                    h.up(0, UpstreamEvent::Closed);
                }
            }
            Op::Shutdown => {
                if !h.terminated() {
                    let now = h.now;
                    h.s().close(now, Condition::SystemShutdown);
                    h.drain();
                }
            }
        }
        // The endpoint's index matches the live session.
        let closed = h.events.contains(&SessionEvent::Closed);
        prop_assert_eq!(h.ep.session_count(), usize::from(!closed));
        // Time never runs backwards in the session's deadlines.
        if let Some(t) = h.s.as_ref().and_then(|s| s.poll_timeout()) {
            prop_assert!(t + Duration::from_secs(120) >= h.now);
        }
    }
    // If the session still lives, collect what is queued.
    if !h.terminated()
        && !h
            .events
            .iter()
            .any(|e| matches!(e, SessionEvent::Terminated(_)))
    {
        for _ in 0..3 {
            let id = h.send(
                BodyAttrs {
                    rid: Rid::new(next),
                    ..BodyAttrs::default()
                },
                &[],
            );
            rid_of.insert(id, next);
            next += 1;
            h.secs(61);
        }
    }
    let alive = !h.terminated();

    // Responses to fresh requests come in rid order, and no stanza is
    // delivered twice in them.
    let mut seen_rids: BTreeSet<u64> = aborted_rids.clone();
    let mut last_rid = 0u64;
    let mut delivered: Vec<u32> = Vec::new();
    let mut replayed: BTreeSet<u32> = BTreeSet::new();
    // Rids given up on in lenient mode and processed when they turned up late
    // (R14.2-5) are answered outside the global order.
    let late: BTreeSet<u64> = h
        .warnings()
        .iter()
        .filter_map(|w| match w {
            bosh_core::server::Warning::LateSkippedRid(r) => Some(r.get()),
            _ => None,
        })
        .collect();
    for (id, resp) in &h.responses {
        let Some(&rid) = rid_of.get(id) else {
            continue;
        };
        if resp.status != 200 {
            continue;
        }
        let body = parse_response(resp);
        if body.attrs.is_terminate() || body.attrs.is_error() {
            continue;
        }
        if late.contains(&rid) && seen_rids.insert(rid) {
            // Processed late, outside the order, but delivered once.
            delivered.extend(stanza_ids(&body));
            continue;
        }
        if !seen_rids.insert(rid) {
            // A replay: same content as before, not a new delivery.
            replayed.extend(stanza_ids(&body));
            continue;
        }
        prop_assert!(
            rid > last_rid,
            "response for rid {} after {}",
            rid,
            last_rid
        );
        last_rid = rid;
        delivered.extend(stanza_ids(&body));
    }
    let unique: BTreeSet<u32> = delivered.iter().copied().collect();
    prop_assert_eq!(
        unique.len(),
        delivered.len(),
        "a stanza delivered twice: {:?}",
        delivered
    );
    if alive {
        // Nothing lost while the session lives: every stanza reached a
        // response (a live one, or a cached one for an aborted request).
        let mut all: BTreeSet<u32> = unique;
        all.extend(replayed);
        let cached_or_sent = (1..=sent_stanzas).filter(|s| !all.contains(s)).count();
        prop_assert_eq!(cached_or_sent, 0, "stanzas lost; sent {}", sent_stanzas);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn server_session_random_operations_keep_order_and_lose_nothing(
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run(ops, ServerConfig::default())?;
    }

    #[test]
    fn server_session_random_operations_strict_mode(
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run(ops, ServerConfig { leniency: Leniency::STRICT, max_hold: 2, ..ServerConfig::default() })?;
    }

    #[test]
    fn endpoint_never_panics_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut h = H::with_default();
        h.create(creation_attrs(R), true);
        let id = h.send_raw(Bytes::from(input));
        prop_assert!(h.answered(id) || !h.terminated());
    }
}
