//! Scenario tests of the connection-manager session, one or more per
//! requirement of XEP-0124 and XEP-0206 (see CONFORMANCE.md).

mod server_support;

use std::time::Duration;

use bosh_core::body::{BodyAttrs, BodyType, CreationAttrs, Version};
use bosh_core::keys::key_hash;
use bosh_core::server::{
    Leniency, Routing, ServerConfig, SessionEvent, StreamId, TerminationReason, UpstreamCommand,
    UpstreamEvent, Warning,
};
use bosh_core::{Condition, Rid};
use bytes::Bytes;
use server_support::*;

const R: u64 = 1_000;

fn msg(n: u32) -> String {
    format!(
        "<message xmlns='jabber:client' to='a@example.com' id='m{n}'><body>{n}</body></message>"
    )
}

fn started() -> H {
    let mut h = H::with_default();
    h.create(creation_attrs(R), true);
    h
}

fn strict() -> ServerConfig {
    ServerConfig {
        leniency: Leniency::STRICT,
        ..ServerConfig::default()
    }
}

// ---------- §7 session creation ----------

#[test]
fn xep0124_7_2_creation_response_carries_every_session_attribute() {
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    c.creation_mut().route = Some("xmpp:example.com:5222".into());
    c.creation_mut().content = Some("text/xml; charset=utf-8".into());
    let id = h.create(c, false);
    // X3-1: the stream is opened with the client's to, lang, version, route.
    assert_eq!(
        h.upstream[0],
        UpstreamCommand::Open {
            stream: StreamId(0),
            to: Some("example.com".into()),
            from: None,
            xml_lang: Some("en".into()),
            version: Some(Version::new(1, 0)),
            route: Some("xmpp:example.com:5222".into()),
        }
    );
    // X4-1: held until the features arrive.
    assert!(!h.answered(id));
    h.up(
        0,
        UpstreamEvent::Opened {
            id: Some("abc123".into()),
            from: Some("example.com".into()),
            version: Some(Version::new(1, 0)),
        },
    );
    assert!(!h.answered(id));
    h.up(
        0,
        UpstreamEvent::Features(Bytes::from_static(FEATURES.as_bytes())),
    );
    let b = h.resp(id);
    let a = &b.attrs;
    assert_eq!(a.sid.as_deref(), Some(h.sid.as_str()));
    assert_eq!(a.creation().wait, Some(60));
    assert_eq!(a.creation().requests, Some(2));
    assert_eq!(a.creation().hold, Some(1));
    assert_eq!(a.creation().ver, Some(Version::new(1, 6)));
    assert_eq!(a.creation().polling, Some(2));
    assert_eq!(a.creation().inactivity, Some(60));
    assert_eq!(a.creation().maxpause, Some(120));
    assert_eq!(a.creation().from.as_deref(), Some("example.com"));
    assert_eq!(a.ack, Rid::new(R), "R7.2-9: ack = creation rid");
    assert_eq!(a.creation().authid.as_deref(), Some("abc123"));
    assert_eq!(a.creation().xmpp_version, Some(Version::new(1, 0)));
    assert_eq!(a.creation().xmpp_restartlogic, Some(true));
    assert!(a.stream.is_some(), "R16.2-1: multi-stream advertised");
    assert!(b.stream_features().is_some());
    assert_eq!(h.raw(id).status, 200);
    assert_eq!(h.raw(id).content_type, "text/xml; charset=utf-8");
}

#[test]
fn xep0124_7_2_wait_is_clamped_and_hold_never_exceeds_the_clients() {
    let mut h = H::new(ServerConfig {
        max_wait: 30,
        max_hold: 2,
        ..ServerConfig::default()
    });
    let mut c = creation_attrs(R);
    c.creation_mut().wait = Some(65535);
    c.creation_mut().hold = Some(5);
    let id = h.create(c, true);
    let a = h.resp(id).attrs;
    assert_eq!(a.creation().wait, Some(30), "R7.2-3");
    assert_eq!(a.creation().hold, Some(2), "R7.2-7");
    assert_eq!(a.creation().requests, Some(3), "R7.2-4: hold + 1");
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.creation_mut().hold = Some(0);
    c.creation_mut().ver = Some(Version::new(1, 20));
    let id = h.create(c, true);
    let a = h.resp(id).attrs;
    assert_eq!(a.creation().hold, Some(0));
    assert_eq!(a.creation().requests, Some(1));
    assert_eq!(
        a.creation().ver,
        Some(Version::new(1, 11)),
        "R7.2-6: the lower version"
    );
    assert_eq!(
        a.creation().inactivity,
        Some(62),
        "R12-3: polling sessions get more inactivity"
    );
}

#[test]
fn xep0206_4_creation_without_features_is_answered_at_wait_and_features_come_later() {
    let mut h = H::with_default();
    let id = h.create(creation_attrs(R), false);
    h.secs(59);
    assert!(!h.answered(id));
    h.secs(1);
    let b = h.resp(id);
    assert!(b.attrs.sid.is_some() && b.is_empty());
    // X4-4: the client polls; the features come in the next response.
    let poll = h.rid(R + 1, &[]);
    h.up(
        0,
        UpstreamEvent::Features(Bytes::from_static(FEATURES.as_bytes())),
    );
    assert!(h.resp(poll).stream_features().is_some());
}

#[test]
fn xep0124_7_1_content_is_the_content_type_of_every_response() {
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.creation_mut().content = Some("text/plain; charset=utf-8".into());
    let id = h.create(c, true);
    assert_eq!(h.raw(id).content_type, "text/plain; charset=utf-8");
    let poll = h.rid(R + 1, &[]);
    h.secs(60);
    assert_eq!(h.raw(poll).content_type, "text/plain; charset=utf-8");
    let bad = h.rid(R + 5, &[]);
    assert_eq!(
        h.raw(bad).content_type,
        "text/plain; charset=utf-8",
        "errors too"
    );
    // A header-injecting value is not used.
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.creation_mut().content = Some("text/xml\r\nSet-Cookie: x=1".into());
    let id = h.create(c, true);
    assert_eq!(h.raw(id).content_type, "text/xml; charset=utf-8");
    assert!(h.warnings().contains(&Warning::ContentIgnored));
}

// ---------- §8 payloads and holding ----------

#[test]
fn xep0124_8_held_request_answered_as_soon_as_a_stanza_arrives() {
    let mut h = started();
    let poll = h.rid(R + 1, &[]);
    assert!(
        !h.answered(poll),
        "R8-4: not answered until a payload is available"
    );
    h.stanza(&msg(1));
    let b = h.resp(poll);
    assert_eq!(payload_strings(&b), vec![msg(1)]);
    // R7.2-2, R7.2-5: session attributes only on the creation response.
    let a = &b.attrs;
    assert!(
        a.sid.is_none()
            && a.creation().wait.is_none()
            && a.creation().requests.is_none()
            && a.creation().hold.is_none()
    );
    assert!(
        a.creation().ver.is_none()
            && a.creation().polling.is_none()
            && a.creation().inactivity.is_none()
    );
}

#[test]
fn xep0124_8_client_payload_is_forwarded_upstream_at_once() {
    let mut h = started();
    h.rid(R + 1, &[&msg(1), &msg(2)]);
    assert_eq!(h.delivered(), vec![msg(1), msg(2)]);
}

#[test]
fn xep0124_8_new_request_beyond_hold_answers_the_oldest_with_an_empty_body() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let b = h.rid(R + 2, &[&msg(1)]);
    let ra = h.resp(a);
    assert!(ra.is_empty() && !ra.attrs.is_terminate(), "R8-6");
    assert!(!h.answered(b), "the newest stays held");
}

#[test]
fn xep0124_8_empty_body_when_wait_expires() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    h.secs(59);
    assert!(!h.answered(a));
    h.secs(1);
    let b = h.resp(a);
    assert!(b.is_empty(), "R8-8");
}

#[test]
fn xep0124_14_2_out_of_order_requests_are_processed_and_answered_in_rid_order() {
    let mut h = H::new(ServerConfig {
        max_hold: 2,
        ..ServerConfig::default()
    });
    let mut c = creation_attrs(R);
    c.creation_mut().hold = Some(2);
    h.create(c, true);
    let b = h.rid(R + 2, &[&msg(2)]);
    assert!(
        h.delivered().is_empty(),
        "R14.2-1: buffered until the gap fills"
    );
    let a = h.rid(R + 1, &[&msg(1)]);
    assert_eq!(h.delivered(), vec![msg(1), msg(2)], "R8-2");
    h.stanza(&msg(9));
    // R8-7: the oldest is answered first.
    assert!(h.answered(a));
    assert!(!h.answered(b));
    let pos_a = h.responses.iter().position(|(r, _)| *r == a).unwrap();
    h.secs(60);
    let pos_b = h.responses.iter().position(|(r, _)| *r == b).unwrap();
    assert!(pos_a < pos_b);
}

#[test]
fn xep0124_14_2_a_request_that_overtook_an_empty_poll_is_processed_when_the_poll_arrives() {
    // The race that stalls ejabberd's own BOSH (benches/LOAD.md, Findings):
    // an empty poll and, right behind it on a second connection, a request
    // with payload that arrives first. ejabberd holds the early request
    // until the poll is answered, up to `wait` seconds; here its payload
    // goes upstream as soon as the gap fills.
    let mut h = started();
    let early = h.rid(R + 2, &[&msg(1)]);
    assert!(h.delivered().is_empty(), "R14.2-1: buffered");
    let poll = h.rid(R + 1, &[]);
    assert_eq!(h.delivered(), vec![msg(1)], "R8-2: processed at once");
    // hold 1: of the two requests now held, the older is answered (R8-7).
    assert!(h.answered(poll));
    assert!(!h.answered(early));
}

// ---------- §14 rids ----------

#[test]
fn xep0124_14_2_rid_above_the_window_and_too_old_rid_get_identical_answers() {
    let mut h = started();
    let above = h.rid(R + 3, &[]); // window is [R+1, R+3)
    let above_bytes = h.raw(above).body.clone();
    assert_eq!(condition(&h.resp(above)), Some(Condition::ItemNotFound));
    let mut h = started();
    for i in 1..=4 {
        h.rid(R + i, &[]);
    }
    let old = h.rid(R, &[]); // no longer in the replay cache
    assert_eq!(h.raw(old).body, above_bytes, "R14.3-8");
}

#[test]
fn xep0124_14_3_repeated_rid_replays_response() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    h.stanza(&msg(1));
    let original = h.raw(a).body.clone();
    let again = h.rid(R + 1, &[]);
    assert_eq!(h.raw(again).body, original, "R14.3-4: byte-identical");
    assert!(!h.terminated());
    // The creation response is replayable too.
    let creation_again = h.send(creation_attrs(R), &[]);
    assert!(h.resp(creation_again).attrs.sid.is_some());
}

#[test]
fn xep0124_14_3_repeated_rid_still_held_answers_the_older_copy_with_a_recoverable_error() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let a2 = h.rid(R + 1, &[]);
    assert_eq!(h.resp(a).attrs.body_type, Some(BodyType::Error), "R14.3-5");
    assert!(!h.answered(a2));
    h.stanza(&msg(1));
    assert_eq!(payload_strings(&h.resp(a2)), vec![msg(1)]);
}

#[test]
fn xep0124_14_3_too_many_repeats_is_a_policy_violation() {
    let mut h = H::new(ServerConfig {
        max_repeats: 3,
        ..ServerConfig::default()
    });
    h.create(creation_attrs(R), true);
    h.rid(R + 1, &[]);
    h.secs(60);
    let mut last = None;
    for _ in 0..4 {
        last = Some(h.rid(R + 1, &[]));
    }
    assert_eq!(
        condition(&h.resp(last.unwrap())),
        Some(Condition::PolicyViolation)
    );
}

#[test]
fn xep0124_14_2_gap_that_never_fills_terminates_in_strict_mode() {
    let mut h = H::new(ServerConfig {
        max_hold: 2,
        rid_gap_timeout: Duration::from_secs(10),
        ..strict()
    });
    let mut c = creation_attrs(R);
    c.creation_mut().hold = Some(2);
    h.create(c, true);
    let early = h.rid(R + 2, &[]);
    h.secs(10);
    assert_eq!(condition(&h.resp(early)), Some(Condition::ItemNotFound));
    assert!(h.terminated());
}

#[test]
fn xep0124_14_2_gap_that_never_fills_is_skipped_in_lenient_mode() {
    let mut h = H::new(ServerConfig {
        max_hold: 2,
        rid_gap_timeout: Duration::from_secs(10),
        ..ServerConfig::default()
    });
    let mut c = creation_attrs(R);
    c.creation_mut().hold = Some(2);
    h.create(c, true);
    let early = h.rid(R + 2, &[&msg(2)]);
    h.secs(10);
    assert_eq!(h.delivered(), vec![msg(2)]);
    assert!(!h.terminated());
    assert!(h.warnings().contains(&Warning::RidGapSkipped {
        from: Rid::new(R + 1).unwrap(),
        to: Rid::new(R + 1).unwrap()
    }));
    h.stanza(&msg(3));
    assert_eq!(payload_strings(&h.resp(early)), vec![msg(3)]);
    // The skipped rid arriving late is processed like any request, not
    // fatal: held, then answered with the next stanza.
    let late = h.rid(R + 1, &[]);
    assert!(!h.answered(late));
    assert!(
        h.warnings()
            .contains(&Warning::LateSkippedRid(Rid::new(R + 1).unwrap()))
    );
    h.stanza(&msg(4));
    assert_eq!(payload_strings(&h.resp(late)), vec![msg(4)]);
    assert!(!h.terminated());
}

#[test]
fn aborted_request_response_is_kept_for_the_resend() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    h.abort(a);
    assert!(!h.answered(a));
    h.stanza(&msg(1));
    // The stanza waits for a live request; the resend of R+1 gets the cached
    // (empty) answer, and the next request the stanza.
    let a2 = h.rid(R + 1, &[]);
    assert!(h.resp(a2).is_empty());
    let b = h.rid(R + 2, &[]);
    assert_eq!(payload_strings(&h.resp(b)), vec![msg(1)]);
}

// ---------- §9 acks ----------

#[test]
fn xep0124_9_acks_are_omitted_when_equal_to_the_answered_rid() {
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    h.create(c, true);
    let a = h.rid(R + 1, &[]);
    h.stanza(&msg(1));
    assert_eq!(h.resp(a).attrs.ack, None, "R9.1-3");
    let b = h.rid(R + 2, &[]);
    let c2 = h.rid(R + 3, &[]);
    // b is answered early (hold=1) while R+3 has been received.
    assert_eq!(h.resp(b).attrs.ack, Rid::new(R + 3), "R9.1-1");
    let _ = c2;
}

#[test]
fn xep0124_9_2_client_ack_below_last_answered_gets_report_and_time() {
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    h.create(c, true);
    let a = h.rid(R + 1, &[]);
    h.stanza(&msg(1));
    assert!(h.answered(a));
    h.secs(2);
    // The client says it only has responses up to R: it missed R+1's.
    let b = h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            ack: Rid::new(R),
            ..BodyAttrs::default()
        },
        &[],
    );
    let rb = h.resp(b);
    assert_eq!(rb.attrs.report, Rid::new(R + 1), "R9.2-4");
    assert_eq!(rb.attrs.time, Some(2000));
    // R9.2-5: the client resends R+1 and gets the original response.
    let again = h.rid(R + 1, &[]);
    assert_eq!(payload_strings(&h.resp(again)), vec![msg(1)]);
}

#[test]
fn xep0124_14_3_acknowledged_responses_leave_the_replay_cache() {
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    h.create(c, true);
    h.rid(R + 1, &[]);
    h.stanza(&msg(1));
    h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            ack: Rid::new(R + 1),
            ..BodyAttrs::default()
        },
        &[],
    );
    let again = h.rid(R + 1, &[]);
    assert_eq!(condition(&h.resp(again)), Some(Condition::ItemNotFound));
}

#[test]
fn xep0124_14_3_2_with_acks_the_replay_cache_keeps_at_least_requests_answers() {
    // max_replay below `requests` (hold 4, so 5 requests): the answers the
    // client has not acknowledged must still be replayable.
    let mut h = H::new(ServerConfig {
        max_replay: 2,
        max_hold: 4,
        ..ServerConfig::default()
    });
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    c.creation_mut().hold = Some(4);
    h.create(c, true);
    let mut first = None;
    for i in 1..=4u32 {
        let id = h.send(
            BodyAttrs {
                rid: Rid::new(R + u64::from(i)),
                ack: Rid::new(R),
                ..BodyAttrs::default()
            },
            &[],
        );
        h.stanza(&msg(i));
        if i == 1 {
            assert_eq!(payload_strings(&h.resp(id)), vec![msg(1)]);
            first = Some(h.raw(id).body.clone());
        }
    }
    // The answer to R+1 was lost: the resend gets it, not item-not-found.
    let again = h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            ack: Rid::new(R),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert_eq!(Some(h.raw(again).body.clone()), first, "R14.3-2, R14.3-4");
    assert!(!h.terminated());
}

// ---------- §10 pause and inactivity ----------

#[test]
fn xep0124_10_pause_answers_held_requests_and_extends_inactivity() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let p = h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            pause: Some(100),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(h.answered(a), "R10-8");
    assert!(h.resp(p).is_empty(), "R10-9");
    h.stanza(&msg(1));
    h.secs(99);
    assert!(!h.terminated(), "inactivity raised to the pause");
    h.secs(2);
    assert!(h.terminated());
}

#[test]
fn xep0124_10_pause_above_maxpause_is_clamped_or_refused() {
    let mut h = started();
    let p = h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            pause: Some(500),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(h.answered(p));
    assert!(h.warnings().contains(&Warning::PauseClamped {
        requested: 500,
        granted: 120
    }));
    h.secs(121);
    assert!(h.terminated());

    let mut h = H::new(strict());
    h.create(creation_attrs(R), true);
    let p = h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            pause: Some(500),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert_eq!(condition(&h.resp(p)), Some(Condition::PolicyViolation));
}

#[test]
fn xep0124_10_pause_without_maxpause_is_ignored() {
    let mut h = H::new(ServerConfig {
        maxpause: 0,
        ..ServerConfig::default()
    });
    let id = h.create(creation_attrs(R), true);
    assert_eq!(h.resp(id).attrs.creation().maxpause, None);
    let p = h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            pause: Some(30),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(!h.answered(p), "treated as an ordinary poll");
    assert!(h.warnings().contains(&Warning::PauseIgnored));
}

#[test]
fn xep0124_10_inactivity_terminates_silently_and_later_requests_get_item_not_found() {
    let mut h = started();
    h.secs(59);
    assert!(!h.terminated());
    h.secs(1);
    assert!(
        h.events
            .contains(&SessionEvent::Terminated(TerminationReason::Inactivity))
    );
    assert!(h.upstream.contains(&UpstreamCommand::Close {
        stream: StreamId(0)
    }));
    let late = h.rid(R + 1, &[]);
    assert_eq!(
        condition(&h.resp(late)),
        Some(Condition::ItemNotFound),
        "R10-4"
    );
    // After the linger the endpoint forgets the sid.
    h.secs(30);
    assert_eq!(h.ep.session_count(), 0);
    let gone = h.rid(R + 2, &[]);
    assert_eq!(condition(&h.resp(gone)), Some(Condition::ItemNotFound));
}

#[test]
fn xep0124_10_inactivity_is_not_counted_while_a_request_is_held() {
    let mut h = started();
    for i in 1..=5 {
        h.rid(R + i, &[]);
        h.secs(60);
    }
    assert!(!h.terminated());
}

// ---------- §11, §12 overactivity ----------

#[test]
fn xep0124_11_too_frequent_empty_requests_violate_policy_in_strict_mode() {
    let mut h = H::new(strict());
    h.create(creation_attrs(R), true);
    h.rid(R + 1, &[]);
    let b = h.rid(R + 2, &[]); // requests=2 unanswered, empty, < polling apart
    assert_eq!(
        condition(&h.resp(b)),
        Some(Condition::PolicyViolation),
        "R11-4"
    );

    let mut h = started(); // lenient: logged
    h.rid(R + 1, &[]);
    let b = h.rid(R + 2, &[]);
    assert!(!h.answered(b));
    assert!(h.warnings().contains(&Warning::Overactivity));
    // With a payload it is fine (R11-4 is about empty requests).
    let mut h = H::new(strict());
    h.create(creation_attrs(R), true);
    h.rid(R + 1, &[]);
    h.rid(R + 2, &[&msg(1)]);
    assert!(!h.terminated());
}

#[test]
fn xep0124_12_polling_session_too_frequent_polls_violate_policy() {
    let mut h = H::new(strict());
    let mut c = creation_attrs(R);
    c.creation_mut().hold = Some(0);
    h.create(c, true);
    // X4-4: polling for the features right after creation is allowed.
    let a = h.rid(R + 1, &[]);
    assert!(
        h.resp(a).stream_features().is_some(),
        "a polling session holds nothing"
    );
    h.secs(2);
    let b = h.rid(R + 2, &[]);
    assert!(h.resp(b).is_empty());
    h.secs(1);
    let c = h.rid(R + 3, &[]);
    assert_eq!(
        condition(&h.resp(c)),
        Some(Condition::PolicyViolation),
        "R12-4"
    );
    // Polling at the advertised interval is fine.
    let mut h = H::new(strict());
    let mut c = creation_attrs(R);
    c.creation_mut().hold = Some(0);
    h.create(c, true);
    for i in 1..=5 {
        h.secs(2);
        let r = h.rid(R + i, &[]);
        assert!(h.answered(r));
    }
    assert!(!h.terminated());
}

// ---------- §13 termination ----------

#[test]
fn xep0124_13_terminate_forwards_payload_and_acknowledges_on_the_oldest_request() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let presence = "<presence type='unavailable' xmlns='jabber:client'/>";
    let t = h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            body_type: Some(BodyType::Terminate),
            ..BodyAttrs::default()
        },
        &[presence],
    );
    assert_eq!(h.delivered(), vec![presence.to_owned()], "R13-2");
    let deliver = h
        .upstream
        .iter()
        .position(|c| matches!(c, UpstreamCommand::Deliver { .. }))
        .unwrap();
    let close = h
        .upstream
        .iter()
        .position(|c| matches!(c, UpstreamCommand::Close { .. }))
        .unwrap();
    assert!(deliver < close, "payload before the stream closes");
    let ra = h.resp(a);
    assert!(
        ra.attrs.is_terminate() && ra.attrs.condition.is_none(),
        "R13-5: oldest"
    );
    let rt = h.resp(t);
    assert!(
        !rt.attrs.is_terminate() && rt.is_empty(),
        "R13-5: others empty"
    );
    assert!(h.events.contains(&SessionEvent::Terminated(
        TerminationReason::ClientTerminate
    )));
}

// ---------- §15 keys ----------

fn chain(seed: &str, n: usize) -> Vec<String> {
    let mut k = vec![key_hash(seed)];
    while k.len() < n {
        let next = key_hash(k.last().unwrap());
        k.push(next);
    }
    k // k[i] = K(i+1)
}

#[test]
fn xep0124_15_key_sequence_is_verified_and_can_be_renewed() {
    let k = chain("seed", 4);
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.newkey = Some(k[3].clone()); // K(4)
    h.create(c, true);
    let with_key = |rid: u64, key: &str, newkey: Option<String>| BodyAttrs {
        rid: Rid::new(rid),
        key: Some(key.to_owned()),
        newkey,
        ..BodyAttrs::default()
    };
    h.send(with_key(R + 1, &k[2].to_uppercase(), None), &[]); // K(3), case-insensitive
    h.send(with_key(R + 2, &k[1], None), &[]);
    let k2 = chain("other", 3);
    h.send(with_key(R + 3, &k[0], Some(k2[2].clone())), &[]); // re-key
    h.send(with_key(R + 4, &k2[1], None), &[]);
    assert!(!h.terminated(), "a valid chain and a renewal are accepted");
    let bad = h.send(with_key(R + 5, &k[0], None), &[]);
    assert_eq!(
        condition(&h.resp(bad)),
        Some(Condition::ItemNotFound),
        "R15.4-4"
    );
}

#[test]
fn xep0124_15_missing_key_terminates_and_is_not_processed() {
    let k = chain("seed", 3);
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.newkey = Some(k[2].clone());
    h.create(c, true);
    let bad = h.rid(R + 1, &[&msg(1)]);
    assert_eq!(condition(&h.resp(bad)), Some(Condition::ItemNotFound));
    assert!(h.delivered().is_empty(), "MUST NOT process the request");
}

// ---------- §16 multiple streams ----------

#[test]
fn xep0124_16_add_stream_route_payload_and_close_one_stream() {
    let mut h = started();
    let first = h.s().stream_name(StreamId(0)).unwrap().to_owned();
    let add = h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            creation: Some(Box::new(CreationAttrs {
                to: Some("example.org".into()),
                xml_lang: Some("en".into()),
                ..CreationAttrs::default()
            })),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(matches!(
        h.upstream.last(),
        Some(UpstreamCommand::Open { stream: StreamId(1), to: Some(t), .. }) if t == "example.org"
    ));
    h.up(
        1,
        UpstreamEvent::Opened {
            id: Some("s2".into()),
            from: Some("example.org".into()),
            version: None,
        },
    );
    h.up(
        1,
        UpstreamEvent::Features(Bytes::from_static(FEATURES.as_bytes())),
    );
    let ra = h.resp(add);
    let second = ra.attrs.stream.clone().unwrap();
    assert_ne!(second, first, "R16.3-3: a new name");
    assert_eq!(ra.attrs.creation().from.as_deref(), Some("example.org"));
    // Payload addressed to the second stream goes there only.
    h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            stream: Some(second.clone()),
            ..BodyAttrs::default()
        },
        &[&msg(1)],
    );
    assert!(h.upstream.iter().any(|c| matches!(
        c,
        UpstreamCommand::Deliver {
            stream: StreamId(1),
            ..
        }
    )));
    // R16.4-1: with two streams open, payload responses name their stream.
    h.stanza(&msg(2));
    let r2 = h
        .responses
        .iter()
        .rev()
        .map(|(_, r)| parse_response(r))
        .find(|b| !b.is_empty())
        .unwrap();
    assert_eq!(r2.attrs.stream.as_deref(), Some(first.as_str()));
    // R16.4-8: no stream attribute broadcasts.
    let before = h.upstream.len();
    h.rid(R + 3, &[&msg(3)]);
    let delivers = h.upstream[before..]
        .iter()
        .filter(|c| matches!(c, UpstreamCommand::Deliver { .. }))
        .count();
    assert_eq!(delivers, 2);
    // R16.4-4: an unknown stream name is item-not-found.
    // R16.5-1: terminate with a stream closes only that stream.
    let t = h.send(
        BodyAttrs {
            rid: Rid::new(R + 4),
            stream: Some(second),
            body_type: Some(BodyType::Terminate),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(h.answered(t));
    assert!(h.upstream.contains(&UpstreamCommand::Close {
        stream: StreamId(1)
    }));
    assert!(!h.terminated());
    let unknown = h.send(
        BodyAttrs {
            rid: Rid::new(R + 5),
            stream: Some("nope".into()),
            ..BodyAttrs::default()
        },
        &[&msg(4)],
    );
    assert_eq!(condition(&h.resp(unknown)), Some(Condition::ItemNotFound));
}

#[test]
fn xep0124_16_without_multi_stream_an_add_stream_request_is_a_poll() {
    let mut h = H::new(ServerConfig {
        multi_stream: false,
        ..ServerConfig::default()
    });
    let id = h.create(creation_attrs(R), true);
    assert_eq!(h.resp(id).attrs.stream, None, "R16.2-1");
    let add = h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            creation: Some(Box::new(CreationAttrs {
                to: Some("example.org".into()),
                ..CreationAttrs::default()
            })),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(!h.answered(add));
    let opens = h
        .upstream
        .iter()
        .filter(|c| matches!(c, UpstreamCommand::Open { .. }))
        .count();
    assert_eq!(opens, 1, "R16.3-2");
}

// ---------- §17 errors and legacy clients ----------

#[test]
fn xep0124_17_legacy_clients_get_http_error_codes() {
    let legacy = || {
        let mut h = H::with_default();
        let mut c = creation_attrs(R);
        c.creation_mut().ver = None;
        let id = h.create(c, true);
        assert_eq!(h.resp(id).attrs.creation().ver, None);
        h
    };
    let mut h = legacy();
    let x = h.rid(R + 7, &[]);
    assert_eq!(h.raw(x).status, 404, "item-not-found");
    assert!(h.raw(x).body.is_empty());
    let mut h = H::new(ServerConfig {
        leniency: Leniency::STRICT,
        ..ServerConfig::default()
    });
    let mut c = creation_attrs(R);
    c.creation_mut().ver = None;
    h.create(c, true);
    h.rid(R + 1, &[]);
    let x = h.rid(R + 2, &[]);
    assert_eq!(h.raw(x).status, 403, "policy-violation");
    let mut h = legacy();
    let x = h.send_raw(Bytes::from(format!(
        "<body xmlns='http://jabber.org/protocol/httpbind' sid='{}'/>",
        h.sid
    )));
    assert_eq!(h.raw(x).status, 400, "bad-request: no rid");
    // Non-legacy clients always get 200 with a condition (R17.1-2).
    let mut h = started();
    let x = h.rid(R + 7, &[]);
    assert_eq!(h.raw(x).status, 200);
}

// ---------- XEP-0206 ----------

#[test]
fn xep0206_5_restart_opens_a_new_stream_and_forwards_the_new_features() {
    let mut h = started();
    let sasl = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>";
    let auth = h.rid(R + 1, &[sasl]);
    h.stanza("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert!(h.answered(auth));
    let restart = h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            xmpp_restart: Some(true),
            creation: Some(Box::new(CreationAttrs {
                to: Some("example.com".into()),
                xml_lang: Some("en".into()),
                ..CreationAttrs::default()
            })),
            ..BodyAttrs::default()
        },
        &[&msg(1)],
    );
    assert!(matches!(
        h.upstream.last(),
        Some(UpstreamCommand::Restart { stream: StreamId(0), to: Some(t), .. }) if t == "example.com"
    ));
    assert!(
        !h.delivered().contains(&msg(1)),
        "X5-2: payload in a restart is ignored"
    );
    assert!(
        h.warnings()
            .contains(&Warning::RestartPayloadIgnored { elements: 1 })
    );
    assert!(!h.answered(restart));
    h.up(
        0,
        UpstreamEvent::Opened {
            id: Some("second".into()),
            from: Some("example.com".into()),
            version: Some(Version::new(1, 0)),
        },
    );
    let bind = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    h.up(
        0,
        UpstreamEvent::Features(Bytes::from_static(bind.as_bytes())),
    );
    let r = h.resp(restart);
    assert_eq!(
        r.stream_features().as_deref(),
        Some(bind.as_bytes()),
        "X5-4"
    );
}

#[test]
fn xep0206_6_stream_error_with_no_request_held_reaches_the_client_on_its_next_request() {
    let mut h = started();
    h.stanza(&msg(1));
    let err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>";
    h.up(
        0,
        UpstreamEvent::StreamError(Bytes::from_static(err.as_bytes())),
    );
    assert!(h.upstream.contains(&UpstreamCommand::Close {
        stream: StreamId(0)
    }));
    assert!(!h.terminated(), "kept until the client can be told");
    let x = h.rid(R + 1, &[]);
    let r = h.resp(x);
    assert_eq!(condition(&r), Some(Condition::RemoteStreamError));
    // X6-1: the stanzas first, then a full copy of the stream error.
    assert_eq!(payload_strings(&r), vec![msg(1), err.to_owned()]);
    assert!(h.terminated());
    // The client's resend of that rid gets the same answer.
    let again = h.rid(R + 1, &[]);
    assert_eq!(h.raw(again).body, h.raw(x).body);
}
#[test]
fn xep0206_6_remote_stream_error_answers_the_held_request_with_the_error_copy() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    h.up(
        0,
        UpstreamEvent::StreamError(Bytes::from_static(err.as_bytes())),
    );
    let r = h.resp(a);
    assert_eq!(condition(&r), Some(Condition::RemoteStreamError), "R17.2-2");
    assert_eq!(
        r.stream_error().as_deref(),
        Some(err.as_bytes()),
        "X6-1: full copy"
    );
}

#[test]
fn xep0206_upstream_loss_is_remote_connection_failed() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    h.up(0, UpstreamEvent::Closed);
    assert_eq!(
        condition(&h.resp(a)),
        Some(Condition::RemoteConnectionFailed)
    );
}

#[test]
fn xep0206_7_undeliverable_stanzas_are_bounced_upstream_when_the_session_dies() {
    let mut h = started();
    h.stanza("<iq xmlns='jabber:client' type='get' id='q1' from='x@example.com/r' to='u@example.com/b'><ping xmlns='urn:xmpp:ping'/></iq>");
    h.stanza("<presence xmlns='jabber:client' from='x@example.com/r'/>");
    h.stanza("<message xmlns='jabber:client' type='chat' id='m1' from='x@example.com/r' to='u@example.com/b'><body>hi</body></message>");
    h.secs(60); // inactivity
    assert!(h.terminated());
    let bounced = h.delivered();
    assert_eq!(bounced.len(), 2, "{bounced:?}");
    assert!(bounced[0].contains("service-unavailable") && bounced[0].contains("type='error'"));
    assert!(bounced[1].contains("recipient-unavailable"));
    assert!(h.warnings().contains(&Warning::Bounced {
        bounced: 2,
        dropped: 1
    }));
    let deliver = h
        .upstream
        .iter()
        .position(|c| matches!(c, UpstreamCommand::Deliver { .. }))
        .unwrap();
    let close = h
        .upstream
        .iter()
        .position(|c| matches!(c, UpstreamCommand::Close { .. }))
        .unwrap();
    assert!(deliver < close);
}

#[test]
fn xep0206_2_payload_elements_are_delivered_standalone() {
    let mut h = started();
    h.send_raw(Bytes::from(format!(
        "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:j='jabber:client' sid='{}' rid='{}'><j:message to='a'/><message to='b'/></body>",
        h.sid,
        R + 1
    )));
    assert_eq!(
        h.delivered(),
        vec![
            "<j:message xmlns:j='jabber:client' to='a'/>".to_owned(),
            "<message to='b'/>".to_owned()
        ]
    );
}

// ---------- bad input ----------

#[test]
fn bad_input_never_panics_and_gets_the_protocol_answer() {
    let mut h = started();
    // Unparsable: bad-request from the endpoint; the session is untouched.
    let x = h.send_raw(Bytes::from_static(b"<body xmlns='wrong'/>"));
    assert_eq!(condition(&h.resp(x)), Some(Condition::BadRequest));
    assert!(!h.terminated());
    // Unknown sid.
    let x = h.send_raw(Bytes::from_static(
        b"<body xmlns='http://jabber.org/protocol/httpbind' sid='nope' rid='5'/>",
    ));
    assert_eq!(condition(&h.resp(x)), Some(Condition::ItemNotFound));
    // Huge and deep payloads are refused by the parser.
    let deep = format!(
        "<body xmlns='http://jabber.org/protocol/httpbind' sid='{}' rid='{}'>{}</body>",
        h.sid,
        R + 1,
        "<a>".repeat(100)
    );
    let x = h.send_raw(Bytes::from(deep));
    assert_eq!(condition(&h.resp(x)), Some(Condition::BadRequest));
    assert!(!h.terminated());
    // A clock that goes backwards does not panic or move deadlines back.
    let a = h.rid(R + 1, &[]);
    let back = h.now - Duration::from_secs(30);
    h.s().handle_timeout(back);
    h.drain();
    assert!(!h.answered(a));
    h.secs(60);
    assert!(h.answered(a));
    // A missing rid on a live session is bad-request and ends it.
    let x = h.send_raw(Bytes::from(format!(
        "<body xmlns='http://jabber.org/protocol/httpbind' sid='{}'/>",
        h.sid
    )));
    assert_eq!(condition(&h.resp(x)), Some(Condition::BadRequest));
    assert!(h.terminated());
}

#[test]
fn close_answers_every_open_request_with_the_condition() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let now = h.now;
    h.s().close(now, Condition::SystemShutdown);
    h.drain();
    assert_eq!(condition(&h.resp(a)), Some(Condition::SystemShutdown));
    assert!(h.upstream.contains(&UpstreamCommand::Close {
        stream: StreamId(0)
    }));
}

// ---------- endpoint ----------

#[test]
fn endpoint_admission_limits_sessions_and_refuses_bad_sids() {
    let mut h = H::new(ServerConfig {
        max_sessions: 1,
        ..ServerConfig::default()
    });
    h.create(creation_attrs(R), true);
    let now = h.now;
    let full = h.ep.route(
        now,
        bosh_core::server::RequestId(99),
        body_bytes(&creation_attrs(5), &[]),
    );
    match full {
        Routing::Respond(r) => {
            assert_eq!(
                condition(&parse_response(&r)),
                Some(Condition::UndefinedCondition)
            )
        }
        other => panic!("{other:?}"),
    }
    let mut ep = bosh_core::server::ServerEndpoint::new(ServerConfig::default()).unwrap();
    for sid in ["", "has space", "a\"b"] {
        let Routing::New(inc) = ep.route(
            now,
            bosh_core::server::RequestId(1),
            body_bytes(&creation_attrs(5), &[]),
        ) else {
            panic!()
        };
        assert!(ep.accept(now, inc, sid.into(), [0; 16]).is_err(), "{sid:?}");
    }
    let Routing::New(inc) = ep.route(
        now,
        bosh_core::server::RequestId(1),
        body_bytes(&creation_attrs(5), &[]),
    ) else {
        panic!()
    };
    assert!(ep.accept(now, inc, "s1".into(), [0; 16]).is_ok());
    let Routing::New(inc) = ep.route(
        now,
        bosh_core::server::RequestId(2),
        body_bytes(&creation_attrs(5), &[]),
    ) else {
        panic!()
    };
    assert!(
        ep.accept(now, inc, "s1".into(), [0; 16]).is_err(),
        "duplicate sid"
    );
    let Routing::New(inc) = ep.route(
        now,
        bosh_core::server::RequestId(3),
        body_bytes(&creation_attrs(5), &[]),
    ) else {
        panic!()
    };
    let r = ep.refuse(inc, Condition::HostUnknown);
    assert_eq!(condition(&parse_response(&r)), Some(Condition::HostUnknown));
    assert_eq!(ep.session_count(), 1);
    assert!(ep.session_closed("s1"));
    assert_eq!(ep.session_count(), 0);
}

#[test]
fn config_out_of_range_is_refused() {
    for bad in [
        ServerConfig {
            max_wait: 0,
            ..ServerConfig::default()
        },
        ServerConfig {
            max_hold: 0,
            ..ServerConfig::default()
        },
        ServerConfig {
            inactivity: 2,
            ..ServerConfig::default()
        },
        ServerConfig {
            max_replay: 1,
            ..ServerConfig::default()
        },
        ServerConfig {
            rid_gap_timeout: Duration::ZERO,
            ..ServerConfig::default()
        },
    ] {
        assert!(bosh_core::server::ServerEndpoint::new(bad).is_err());
    }
}

/// Adds a second stream (`to='example.org'`, rid R + 1, §16.3) and opens
/// it upstream; returns its name.
fn add_second_stream(h: &mut H) -> String {
    let add = h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            creation: Some(Box::new(CreationAttrs {
                to: Some("example.org".into()),
                ..CreationAttrs::default()
            })),
            ..BodyAttrs::default()
        },
        &[],
    );
    h.up(
        1,
        UpstreamEvent::Features(Bytes::from_static(FEATURES.as_bytes())),
    );
    h.resp(add).attrs.stream.expect("the added stream is named")
}

#[test]
fn xep0124_16_6_a_failed_stream_among_several_ends_only_that_stream() {
    let mut h = started();
    let second = add_second_stream(&mut h);
    let poll = h.rid(R + 2, &[]);
    let err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><host-gone xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    h.up(
        1,
        UpstreamEvent::StreamError(Bytes::from_static(err.as_bytes())),
    );
    let r = h.resp(poll);
    assert_eq!(condition(&r), Some(Condition::RemoteStreamError));
    assert_eq!(r.attrs.stream.as_deref(), Some(second.as_str()), "R16.6-1");
    assert_eq!(r.stream_error().as_deref(), Some(err.as_bytes()));
    assert!(h.upstream.contains(&UpstreamCommand::Close {
        stream: StreamId(1)
    }));
    assert!(!h.terminated(), "the session goes on with its first stream");
    let next = h.rid(R + 3, &[]);
    h.stanza(&msg(1));
    assert_eq!(payload_strings(&h.resp(next)), vec![msg(1)]);
}

#[test]
fn xep0124_16_streams_beyond_the_limit_are_a_policy_violation() {
    let mut h = H::new(ServerConfig {
        max_streams: 2,
        ..ServerConfig::default()
    });
    h.create(creation_attrs(R), true);
    let add = |rid| BodyAttrs {
        rid: Rid::new(rid),
        creation: Some(Box::new(CreationAttrs {
            to: Some("example.org".into()),
            ..CreationAttrs::default()
        })),
        ..BodyAttrs::default()
    };
    h.send(add(R + 1), &[]);
    assert!(!h.terminated());
    let third = h.send(add(R + 2), &[]);
    assert_eq!(condition(&h.resp(third)), Some(Condition::PolicyViolation));
    let opens = h
        .upstream
        .iter()
        .filter(|c| matches!(c, UpstreamCommand::Open { .. }))
        .count();
    assert_eq!(opens, 2, "no third upstream connection");
}

#[test]
fn queued_stanzas_are_bounded_when_the_client_stops_polling() {
    let mut h = H::new(ServerConfig {
        max_queued_stanzas: 5,
        ..ServerConfig::default()
    });
    h.create(creation_attrs(R), true);
    for i in 0..5 {
        h.stanza(&msg(i));
    }
    assert!(!h.terminated());
    h.stanza(&msg(5));
    assert!(
        h.events
            .contains(&SessionEvent::Terminated(TerminationReason::Condition(
                Condition::UndefinedCondition
            )))
    );
    let mut h = H::new(ServerConfig {
        max_queued_bytes: 64 * 1024,
        ..ServerConfig::default()
    });
    h.create(creation_attrs(R), true);
    let big = format!(
        "<message xmlns='jabber:client'><body>{}</body></message>",
        "x".repeat(40_000)
    );
    h.stanza(&big);
    assert!(!h.terminated());
    h.stanza(&big);
    assert!(h.terminated(), "bytes bound");
}

/// Found by the simulated network (`tests/sim_network.rs`): the client may
/// have `requests` requests plus one pause or terminate in flight (R11-1), so
/// while the oldest is being resent the pause or terminate is one rid beyond
/// the window of `requests`. It must be buffered, not answered with
/// `item-not-found` (R14.2-3 sizes the window by what the client may send).
#[test]
fn xep0124_11_1_the_extra_pause_or_terminate_request_is_inside_the_window() {
    for terminate in [false, true] {
        let mut h = started();
        // R + 1 is lost on the way; R + 2 arrives early and is buffered.
        let early = h.rid(R + 2, &[&msg(2)]);
        let extra = h.send(
            BodyAttrs {
                rid: Rid::new(R + 3),
                pause: (!terminate).then_some(30),
                body_type: terminate.then_some(BodyType::Terminate),
                ..BodyAttrs::default()
            },
            &[],
        );
        assert!(!h.terminated(), "terminate={terminate}: {:?}", h.events);
        assert!(!h.answered(extra));
        // The resend of R + 1 fills the gap: everything in rid order.
        let first = h.rid(R + 1, &[&msg(1)]);
        assert_eq!(h.delivered(), vec![msg(1), msg(2)]);
        assert!(h.answered(first) && h.answered(early) && h.answered(extra));
        if terminate {
            assert!(h.events.contains(&SessionEvent::Terminated(
                TerminationReason::ClientTerminate
            )));
        } else {
            assert!(!h.terminated());
            assert!(h.resp(extra).is_empty(), "R10-9");
        }
    }
    // A normal request one rid beyond the window is still refused (R14.2-4;
    // lenient mode skips the gap instead, see
    // `xep0124_14_2_a_gap_the_client_gave_up_on_is_skipped_at_once`).
    let mut h = H::new(strict());
    h.create(creation_attrs(R), true);
    h.rid(R + 2, &[]);
    let beyond = h.rid(R + 3, &[]);
    assert_eq!(condition(&h.resp(beyond)), Some(Condition::ItemNotFound));
}

/// Found by the simulated network: a session that ended tells every later
/// request (until it is forgotten) why it ended, so that both sides agree.
/// Before, `close()` with no request open at that instant (the held one just
/// answered, the next one on its way), or the loss of the terminal answer,
/// left the client with `item-not-found` while the server had ended with
/// another condition. After inactivity it stays `item-not-found` (R10-4).
#[test]
fn a_terminated_session_tells_later_requests_why_it_ended() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    h.stanza(&msg(1));
    assert!(h.answered(a));
    let now = h.now;
    h.s().close(now, Condition::SystemShutdown);
    h.drain();
    assert!(h.terminated());
    let next = h.rid(R + 2, &[]);
    assert_eq!(condition(&h.resp(next)), Some(Condition::SystemShutdown));
    // That answer was lost: the resend gets it again.
    let again = h.rid(R + 2, &[]);
    assert_eq!(condition(&h.resp(again)), Some(Condition::SystemShutdown));
    // Replays of answered rids are still byte-identical (R14.3-4).
    let replay = h.rid(R + 1, &[]);
    assert_eq!(h.raw(replay).body, h.raw(a).body);

    // The client's terminate, acknowledged on the oldest request (R13-5):
    // the resend of either rid is acknowledged again.
    let mut h = started();
    let poll = h.rid(R + 1, &[]);
    let t = h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            body_type: Some(BodyType::Terminate),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(h.resp(poll).attrs.is_terminate());
    assert!(h.answered(t));
    let again = h.rid(R + 1, &[]);
    let b = h.resp(again);
    assert!(b.attrs.is_terminate());
    assert_eq!(b.attrs.condition, None);
}

/// Found by the simulated network: the answer to a pause request was lost
/// and the client resent the pause byte-identical (R14.3-3); the session
/// ended with `item-not-found` because pause answers were not kept for
/// replay. R14.3-1 only leaves them out of what the manager SHOULD keep; an
/// empty body is kept and replayed like any other answer.
#[test]
fn xep0124_14_3_a_resent_pause_request_gets_its_answer_again() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let pause = BodyAttrs {
        rid: Rid::new(R + 2),
        pause: Some(30),
        ..BodyAttrs::default()
    };
    let p = h.send(pause.clone(), &[]);
    assert!(h.answered(a) && h.answered(p));
    let again = h.send(pause, &[]);
    assert!(!h.terminated(), "{:?}", h.events);
    assert_eq!(h.raw(again).body, h.raw(p).body);
    assert!(h.resp(again).is_empty(), "R10-9");
}

/// Found by the simulated network: a buffered early request (its
/// predecessor lost) was open for longer than `inactivity` and then aborted.
/// The inactivity deadline was counted from the last answer, long past, so
/// `poll_timeout` returned an instant in the past and the session expired at
/// once. Inactivity starts when the last open request goes away, as for an
/// aborted held request.
#[test]
fn xep0124_10_inactivity_restarts_when_the_last_buffered_request_is_aborted() {
    let mut h = started();
    h.secs(50);
    let early = h.rid(R + 2, &[]);
    h.secs(20);
    h.abort(early);
    assert!(!h.terminated());
    let now = h.now;
    assert!(h.s().poll_timeout().is_some_and(|t| t > now));
    h.secs(59);
    assert!(!h.terminated());
    h.secs(2);
    assert!(
        h.events
            .contains(&SessionEvent::Terminated(TerminationReason::Inactivity))
    );
}

/// Found by the simulated network: after an export/attach in another
/// process, rid R + 1 never comes (the exporting process built it and went
/// away; Strophe's cached next rid does the same). The attached process
/// times out its request R + 2 (66 s at wait 60), aborts it and resends it.
/// Each abort used to restart the gap timer, so the gap that never fills
/// (R14.2-5) was never skipped and the client gave up. The gap is timed from
/// when it was first seen, whatever happens to the early copies.
#[test]
fn xep0124_14_2_gap_is_skipped_even_when_the_early_request_is_resent() {
    let mut h = started();
    let first = h.rid(R + 2, &[&msg(2)]);
    h.secs(66);
    h.abort(first);
    let resent = h.rid(R + 2, &[&msg(2)]);
    assert!(h.delivered().is_empty());
    h.secs(10);
    assert_eq!(
        h.delivered(),
        vec![msg(2)],
        "skipped 75 s after the gap began"
    );
    assert!(h.warnings().contains(&Warning::RidGapSkipped {
        from: Rid::new(R + 1).unwrap(),
        to: Rid::new(R + 1).unwrap()
    }));
    assert!(!h.terminated());
    h.stanza(&msg(3));
    assert_eq!(payload_strings(&h.resp(resent)), vec![msg(3)]);

    // The resend comes only after the gap timed out: skipped on arrival.
    let mut h = started();
    let first = h.rid(R + 2, &[&msg(2)]);
    h.secs(70);
    h.abort(first);
    h.secs(10);
    h.rid(R + 2, &[&msg(2)]);
    assert_eq!(h.delivered(), vec![msg(2)]);
    let now = h.now;
    assert!(h.s().poll_timeout().is_some_and(|t| t > now));
}

/// Found by the simulated network, with acks (§9.2): a buffered request's
/// `ack` tells whether the client still waits for the missing rid (it will
/// resend it: the gap stays open, timed from that evidence) or has moved
/// past it (an attached process whose first request carries no `ack`, R9.2-3:
/// the rid will never come, the gap is skipped at once).
#[test]
fn xep0124_14_2_with_acks_the_clients_ack_decides_whether_a_gap_can_fill() {
    let with_acks = || {
        let mut h = H::with_default();
        let mut c = creation_attrs(R);
        c.ack = Rid::new(1);
        h.create(c, true);
        h
    };
    let early = |ack: Option<u64>| BodyAttrs {
        rid: Rid::new(R + 2),
        ack: ack.and_then(Rid::new),
        ..BodyAttrs::default()
    };
    // R + 1 was lost twice; the client still waits for it (ack = R).
    let mut h = with_acks();
    let first = h.send(early(Some(R)), &[&msg(2)]);
    h.secs(66);
    h.abort(first);
    h.send(early(Some(R)), &[&msg(2)]);
    h.secs(70);
    assert!(h.delivered().is_empty(), "the gap may still fill");
    assert!(!h.terminated());
    h.rid(R + 1, &[&msg(1)]);
    assert_eq!(h.delivered(), vec![msg(1), msg(2)]);
    assert!(!h.terminated());

    // An attached process never sends R + 1: its first request says every
    // earlier response was received.
    let mut h = with_acks();
    h.send(early(None), &[&msg(2)]);
    assert_eq!(h.delivered(), vec![msg(2)], "skipped at once");
    assert!(h.warnings().contains(&Warning::RidGapSkipped {
        from: Rid::new(R + 1).unwrap(),
        to: Rid::new(R + 1).unwrap()
    }));
}

/// Found by the simulated network (export/attach with Strophe's rid gap):
/// rid R + 1 will never come, R + 2 (the attached process's poll) is
/// buffered, then its first stanza comes at R + 3, beyond the window counted
/// from R + 1. A client keeping to `requests` has given up on R + 1 by then:
/// in lenient mode the gap is skipped instead of ending the session at the
/// first stanza. With acks, the `ack` says exactly which rids are given up
/// (here R + 1 only: R + 2 is still on its way).
#[test]
fn xep0124_14_2_a_gap_the_client_gave_up_on_is_skipped_at_once() {
    // Without acks (Strophe).
    let mut h = started();
    let poll = h.rid(R + 2, &[]);
    let first = h.rid(R + 3, &[&msg(3)]);
    assert!(!h.terminated(), "{:?}", h.events);
    assert_eq!(h.delivered(), vec![msg(3)]);
    assert!(h.answered(poll), "R8-6: the older of two held is answered");
    assert!(!h.answered(first));
    assert!(h.warnings().contains(&Warning::RidGapSkipped {
        from: Rid::new(R + 1).unwrap(),
        to: Rid::new(R + 1).unwrap()
    }));
    // Without anything buffered it is still beyond the window (R14.2-4).
    let mut h = started();
    let far = h.rid(R + 3, &[]);
    assert_eq!(condition(&h.resp(far)), Some(Condition::ItemNotFound));
    // Strict mode keeps the XEP's answer.
    let mut h = H::new(strict());
    h.create(creation_attrs(R), true);
    h.rid(R + 2, &[]);
    let far = h.rid(R + 3, &[]);
    assert_eq!(condition(&h.resp(far)), Some(Condition::ItemNotFound));

    // With acks: R + 3 arrives first, acknowledging up to R + 1.
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    h.create(c, true);
    let late = h.send(
        BodyAttrs {
            rid: Rid::new(R + 3),
            ack: Rid::new(R + 1),
            ..BodyAttrs::default()
        },
        &[&msg(3)],
    );
    assert!(!h.terminated(), "{:?}", h.events);
    assert!(h.delivered().is_empty(), "R + 2 is still to come");
    h.rid(R + 2, &[&msg(2)]);
    assert_eq!(h.delivered(), vec![msg(2), msg(3)]);
    assert!(!h.terminated());
    assert!(h.answered(late) || h.s().open_requests() == 1);
}

/// Found by the simulated network: without acks the replay cache held
/// `requests` answers, but the client may have a pause or terminate on top
/// (R11-1): `requests + 1` rids it has not processed yet. The answer to the
/// oldest, lost on the way, had left the cache when the client resent it.
#[test]
fn xep0124_14_3_the_replay_cache_covers_the_extra_pause_request() {
    let mut h = started();
    let a = h.rid(R + 1, &[]);
    let b = h.rid(R + 2, &[]);
    let p = h.send(
        BodyAttrs {
            rid: Rid::new(R + 3),
            pause: Some(30),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(h.answered(a) && h.answered(b) && h.answered(p));
    let again = h.rid(R + 1, &[]);
    assert!(!h.terminated(), "{:?}", h.events);
    assert_eq!(h.raw(again).body, h.raw(a).body);
}

#[test]
fn xep0124_14_2_a_skipped_rid_arriving_late_is_processed_not_fatal() {
    // Export/attach race: the attached process's first request (R+2) arrives
    // before the old process's last one (R+1), which is skipped at once (its
    // ack says every earlier answer arrived); then R+1 turns up.
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    h.create(c, true);
    let new_first = h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            ack: Rid::new(R + 1),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(
        h.warnings()
            .iter()
            .any(|w| matches!(w, Warning::RidGapSkipped { .. }))
    );
    let late = h.rid(R + 1, &[&msg(1)]);
    let r = h.resp(late);
    assert!(
        !r.attrs.is_terminate() && r.is_empty(),
        "answered, not fatal"
    );
    assert!(
        h.warnings()
            .contains(&Warning::LateSkippedRid(Rid::new(R + 1).unwrap()))
    );
    assert_eq!(h.delivered(), vec![msg(1)], "late rather than lost");
    assert!(!h.terminated());
    // A resend of it gets the same answer; the live request still works.
    let again = h.rid(R + 1, &[&msg(1)]);
    assert_eq!(h.raw(again).body, h.raw(late).body);
    assert_eq!(h.delivered(), vec![msg(1)], "not delivered twice");
    h.stanza(&msg(2));
    assert_eq!(payload_strings(&h.resp(new_first)), vec![msg(2)]);
}

fn with_acks() -> H {
    let mut h = H::with_default();
    let mut c = creation_attrs(R);
    c.ack = Rid::new(1);
    h.create(c, true);
    h
}

/// Found in review: with acks, a request without `ack` said "every earlier
/// answer arrived" for any distance, so a rid a million ahead was skipped
/// to (and each skipped range could then be split without bound by late
/// rids). A client can only have given up on rids it had in flight: beyond
/// twice the window it is item-not-found, as R14.2-4 says.
#[test]
fn xep0124_14_2_with_acks_a_rid_far_beyond_the_window_is_item_not_found_not_skipped() {
    let mut h = with_acks();
    let far = h.rid(R + 1_000_000, &[&msg(1)]);
    assert_eq!(condition(&h.resp(far)), Some(Condition::ItemNotFound));
    assert!(h.terminated());
    assert!(h.delivered().is_empty());
    // Within twice the window (requests = 2) it is still a skip.
    let mut h = with_acks();
    let near = h.rid(R + 4, &[&msg(4)]);
    assert!(!h.terminated(), "{:?}", h.events);
    assert_eq!(h.delivered(), vec![msg(4)]);
    assert!(!h.answered(near), "held like any poll");
}

/// The skipped ranges a session remembers stay at eight, also when late
/// rids split them: each split used to add a range.
#[test]
fn xep0124_14_2_at_most_eight_skipped_ranges_are_remembered_however_they_are_split() {
    let mut h = with_acks();
    // Eight skips of three rids each: [R+1+4k, R+4+4k), then R+4+4k sent.
    let sent: Vec<String> = (0..8).map(|k| msg(100 + k)).collect();
    for (k, m) in (0u64..).zip(&sent) {
        h.rid(R + 4 + 4 * k, &[m]);
    }
    assert!(!h.terminated(), "{:?}", h.events);
    let skips = h
        .warnings()
        .iter()
        .filter(|w| matches!(w, Warning::RidGapSkipped { .. }))
        .count();
    assert_eq!(skips, 8);
    // A late rid in the middle of the newest range splits it in two...
    let late = h.rid(R + 30, &[&msg(30)]);
    assert!(h.answered(late));
    let mut delivered = sent.clone();
    delivered.push(msg(30));
    assert_eq!(h.delivered(), delivered, "processed late");
    // ...and the oldest range is forgotten: its rid is now an ordinary
    // stale rid (R14.3-7), not a late one.
    let oldest = h.rid(R + 1, &[&msg(1)]);
    assert_eq!(condition(&h.resp(oldest)), Some(Condition::ItemNotFound));
    assert_eq!(h.delivered(), delivered);
}

/// Found in review: the `stream` attribute was only written while two or
/// more streams were open. Once the first stream closed, the added
/// stream's payload went out without it, and a client takes such a
/// response as the first stream's (R16.4-7).
#[test]
fn xep0124_16_4_7_an_added_streams_payload_names_it_after_the_first_stream_closed() {
    let mut h = started();
    let first = h.s().stream_name(StreamId(0)).unwrap().to_owned();
    let second = add_second_stream(&mut h);
    // The client ends the first stream (R16.5-1).
    h.send(
        BodyAttrs {
            rid: Rid::new(R + 2),
            stream: Some(first),
            body_type: Some(BodyType::Terminate),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(!h.terminated());
    let poll = h.rid(R + 3, &[]);
    h.up(
        1,
        UpstreamEvent::Stanza(Bytes::copy_from_slice(msg(5).as_bytes())),
    );
    let r = h.resp(poll);
    assert_eq!(payload_strings(&r), vec![msg(5)]);
    assert_eq!(r.attrs.stream.as_deref(), Some(second.as_str()));
}

/// Found in review: `pause='0'` was stored as an inactivity of 0, which
/// means "unlimited" (R10-5), so the session never ended and kept its slot.
/// A pause of 0 s is over at once.
#[test]
fn xep0124_10_8_a_pause_of_0_ends_the_session_at_the_next_timer() {
    let mut h = started();
    h.send(
        BodyAttrs {
            rid: Rid::new(R + 1),
            pause: Some(0),
            ..BodyAttrs::default()
        },
        &[],
    );
    assert!(h.s().poll_timeout().is_some(), "a deadline");
    h.secs(1);
    assert!(h.terminated());
}

/// Found in review: only new rids had their §15 key checked, so anyone
/// who knew the sid could repeat a held rid without a key and take its
/// answer, or read an answered rid's cached body.
#[test]
fn xep0124_15_a_repeat_must_carry_its_rids_key() {
    let k = chain("seed", 4);
    let keyed = |rid: u64, key: Option<&str>| BodyAttrs {
        rid: Rid::new(rid),
        key: key.map(str::to_owned),
        ..BodyAttrs::default()
    };
    let with_keys = || {
        let mut h = H::with_default();
        let mut c = creation_attrs(R);
        c.newkey = Some(k[3].clone()); // K(4)
        h.create(c, true);
        h
    };
    // The client's own resend (same key) takes over the held request.
    let mut h = with_keys();
    let a = h.send(keyed(R + 1, Some(&k[2])), &[]);
    let again = h.send(keyed(R + 1, Some(&k[2])), &[]);
    assert!(h.answered(a));
    h.stanza(&msg(1));
    assert_eq!(payload_strings(&h.resp(again)), vec![msg(1)]);
    // Anyone else's copy gets neither the held request...
    let mut h = with_keys();
    h.send(keyed(R + 1, Some(&k[2])), &[]);
    let thief = h.send(keyed(R + 1, None), &[]);
    assert_eq!(condition(&h.resp(thief)), Some(Condition::ItemNotFound));
    h.stanza(&msg(2));
    assert!(payload_strings(&h.resp(thief)).is_empty());
    // ...nor the cached answer.
    let mut h = with_keys();
    let a = h.send(keyed(R + 1, Some(&k[2])), &[]);
    h.stanza(&msg(3));
    assert_eq!(payload_strings(&h.resp(a)), vec![msg(3)]);
    let thief = h.send(keyed(R + 1, Some(&k[0])), &[]);
    assert_eq!(condition(&h.resp(thief)), Some(Condition::ItemNotFound));
    assert!(payload_strings(&h.resp(thief)).is_empty());
}

/// Found in review: a replayed answer is a response, and inactivity counts
/// from the last response (R10-3); the session ended as if the client had
/// been silent since the first copy.
#[test]
fn xep0124_10_3_a_replayed_answer_restarts_the_inactivity_clock() {
    let mut h = started();
    let first = h.rid(R + 1, &[]);
    h.stanza(&msg(1));
    assert!(h.answered(first));
    h.secs(59);
    let again = h.rid(R + 1, &[]);
    assert_eq!(h.raw(again).body, h.raw(first).body);
    h.secs(2);
    assert!(!h.terminated(), "{:?}", h.events);
    let next = h.rid(R + 2, &[]);
    assert!(!h.terminated());
    h.stanza(&msg(2));
    assert_eq!(payload_strings(&h.resp(next)), vec![msg(2)]);
}

/// `route_parsed` (the body parsed by the caller, outside any lock) routes
/// exactly as `route` does.
#[test]
fn route_parsed_routes_as_route_does() {
    use bosh_core::body::parse_bytes;
    use bosh_core::server::{RequestId, Routing, ServerEndpoint};
    let config = ServerConfig::default();
    let limits = config.parse_limits;
    let mut a = ServerEndpoint::new(config.clone()).unwrap();
    let mut b = ServerEndpoint::new(config).unwrap();
    let now = std::time::Instant::now();
    let creation = body_bytes(&creation_attrs(R), &[]);
    let unknown_sid = body_bytes(
        &BodyAttrs {
            rid: Rid::new(R),
            sid: Some("nope".into()),
            ..BodyAttrs::default()
        },
        &[],
    );
    for input in [
        Bytes::from_static(b"<body"),
        Bytes::from_static(b"<body xmlns='http://jabber.org/protocol/httpbind'/>"),
        unknown_sid,
        creation,
    ] {
        let via_route = a.route(now, RequestId(1), input.clone());
        let via_parsed = b.route_parsed(now, RequestId(1), parse_bytes(input, &limits));
        match (via_route, via_parsed) {
            (Routing::Respond(x), Routing::Respond(y)) => assert_eq!(x, y),
            (Routing::New(x), Routing::New(y)) => assert_eq!(x.body(), y.body()),
            (x, y) => panic!("{x:?} / {y:?}"),
        }
    }
}
