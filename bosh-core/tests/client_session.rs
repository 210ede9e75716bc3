//! Scenario tests of the BOSH client session (XEP-0124, XEP-0206, Strophe.js
//! timing), with fake time and scripted server responses.

mod client_support;

use std::time::Duration;

use bosh_core::body::{BodyAttrs, BodyType, CreationAttrs, Version, uri_element};
use bosh_core::client::{
    ClientConfig, ClientError, ClientSession, DisconnectReason, Event, Failure, Outcome,
    SessionState,
};
use bosh_core::keys::{KeyChain, verify_key};
use bosh_core::{Condition, Rid};
use client_support::*;

// ----- creation (§7) -----

#[test]
fn xep0124_7_1_creation_request_has_the_required_attributes() {
    let mut config = ClientConfig::new("example.com");
    config.route = Some("xmpp:example.com:9999".to_owned());
    config.content = Some("text/xml; charset=utf-8".to_owned());
    config.from = Some("user@example.com".to_owned());
    let mut h = Harness::new(config);
    let t = h.one_send();
    assert_eq!(t.rid, rid(FIRST_RID));
    assert_eq!(t.attempt, 1);
    assert_eq!(
        t.deadline,
        Some(h.at(66)),
        "wait x TIMEOUT = floor(60 x 1.1)"
    );
    let text = String::from_utf8(t.body.to_vec()).unwrap();
    assert!(text.contains("xmlns:xmpp='urn:xmpp:xbosh'"), "{text}");
    let a = parse_body(&t).attrs;
    assert_eq!(a.rid, Some(rid(FIRST_RID)));
    assert_eq!(a.sid, None, "R7.1-11: no sid on the first request");
    assert_eq!(a.creation().to.as_deref(), Some("example.com"));
    assert_eq!(a.creation().xml_lang.as_deref(), Some("en"));
    assert_eq!(a.creation().ver, Some(Version::new(1, 11)));
    assert_eq!(a.creation().wait, Some(60));
    assert_eq!(a.creation().hold, Some(1));
    assert_eq!(a.ack, Some(Rid::MIN), "R9.2-2: ack='1'");
    assert_eq!(a.creation().route.as_deref(), Some("xmpp:example.com:9999"));
    assert_eq!(a.creation().from.as_deref(), Some("user@example.com"));
    assert_eq!(
        a.creation().content.as_deref(),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(a.creation().xmpp_version, Some(Version::new(1, 0)));
    assert_eq!(
        (a.key, a.newkey, a.pause, a.body_type),
        (None, None, None, None)
    );
    assert!(h.events.is_empty());
    assert!(!h.s.is_connected());
}

#[test]
fn xep0124_7_2_creation_response_parameters_are_parsed() {
    let attrs = BodyAttrs {
        ack: Some(rid(FIRST_RID)),
        creation: Some(Box::new(CreationAttrs {
            maxpause: Some(120),
            authid: Some("ServerStreamID".to_owned()),
            accept: Some(vec!["deflate".to_owned(), "gzip".to_owned()]),
            charsets: Some(vec!["ISO_8859-1".to_owned()]),
            requests: Some(5),
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let features = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                    <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[features]);
    let events = h.take_events();
    let Event::Connected(p) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(p.sid, SID);
    assert_eq!((p.wait, p.hold), (60, 1));
    assert_eq!(p.requests, 2, "clamped to hold + 1");
    assert_eq!(p.polling, Some(5));
    assert_eq!(p.inactivity, Some(30));
    assert_eq!(p.maxpause, Some(120));
    assert_eq!(p.ver, Some(Version::new(1, 11)));
    assert!(p.acks);
    assert_eq!(p.from.as_deref(), Some("example.com"));
    assert_eq!(p.authid.as_deref(), Some("ServerStreamID"));
    assert!(p.restart_logic);
    assert_eq!(p.xmpp_version, Some(Version::new(1, 0)));
    assert_eq!(p.stream, None);
    assert_eq!(p.accept.as_ref().map(Vec::len), Some(2));
    assert_eq!(p.charsets.as_ref().map(Vec::len), Some(1));
    let Event::StreamFeatures {
        features: f,
        stream,
    } = &events[1]
    else {
        panic!("{events:?}")
    };
    assert_eq!(stream, &None);
    let f = std::str::from_utf8(f).unwrap();
    assert!(f.starts_with("<stream:features xmlns:stream='http://etherx.jabber.org/streams'"));
    assert_eq!(events.len(), 2);
    assert_eq!(h.s.sid(), Some(SID));
    // R10-1: an empty poll follows, with the sid and nothing else: once the
    // reply window for the application's answer to the features is over.
    assert!(h.take_sends().is_empty());
    assert_eq!(h.fire(), Some(h.base + Duration::from_millis(100)));
    let poll = h.one_send();
    assert_eq!(poll.rid, rid(FIRST_RID + 1));
    let a = parse_body(&poll).attrs;
    assert_eq!(a.sid.as_deref(), Some(SID));
    // No creation attribute at all: nothing boxed.
    assert!(a.creation.is_none());
    assert_eq!(a.ack, None);
    assert!(parse_body(&poll).is_empty());
}

#[test]
fn xep0124_7_2_creation_response_without_sid_is_a_bad_response() {
    let attrs = BodyAttrs {
        sid: None,
        ..creation_attrs()
    };
    let h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    assert_eq!(h.disconnected(), Some(&DisconnectReason::BadResponse));
    assert!(h.sends.is_empty());
}

#[test]
fn xep0124_17_2_creation_refused_with_host_unknown() {
    let h = Harness::connected_with(
        ClientConfig::new("example.com"),
        &BodyAttrs::terminate(Condition::HostUnknown),
        &[],
    );
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::Condition(Condition::HostUnknown))
    );
    assert!(h.s.is_disconnected());
}

#[test]
fn invalid_config_and_first_rid_are_refused() {
    let base = std::time::Instant::now();
    let mut c = ClientConfig::new("");
    assert!(matches!(
        ClientSession::new(c.clone(), rid(1), base),
        Err(ClientError::InvalidConfig(_))
    ));
    c.to = "example.com".to_owned();
    c.timeout_multiplier = f64::NAN;
    assert!(ClientSession::new(c, rid(1), base).is_err());
    let c = ClientConfig::new("example.com");
    let max = bosh_core::client::MAX_FIRST_RID;
    assert!(ClientSession::new(c.clone(), rid(max), base).is_ok());
    assert_eq!(
        ClientSession::new(c, rid(max + 1), base).err(),
        Some(ClientError::FirstRidTooLarge(max + 1))
    );
}

// ----- requests in flight, batching, ordering (§8, §10, §11, §14) -----

#[test]
fn xep0124_10_hold_1_keeps_one_long_poll_outstanding() {
    let mut h = Harness::connected();
    for i in 1..=4 {
        let poll = h.one_send();
        assert_eq!(poll.rid, rid(FIRST_RID + i));
        assert_eq!(h.s.in_flight(), 1);
        h.tick_to(i * 10);
        assert!(
            h.sends.is_empty(),
            "nothing else is sent while the poll is held"
        );
        h.respond(poll.id, empty());
    }
}

#[test]
fn xep0124_8_several_sends_are_batched_into_one_body() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message id='a'/>");
    h.send("<message id='b'/>");
    h.send("<presence/>");
    assert!(h.sends.is_empty(), "send only queues");
    assert_eq!(
        h.s.poll_timeout(),
        Some(h.now),
        "batch_delay 0: due at once"
    );
    h.fire();
    let t = h.one_send();
    assert_eq!(t.rid, rid(FIRST_RID + 2));
    let body = parse_body(&t);
    let elements: Vec<_> = body.elements().collect();
    assert_eq!(elements.len(), 3);
    assert_eq!(&elements[2][..], b"<presence/>");
    assert_eq!(h.s.in_flight(), 2);
    // R11-1: no third request; the next stanza waits for a response.
    h.send("<message id='c'/>");
    h.fire();
    assert!(h.sends.is_empty());
    assert_eq!(h.s.queued_bytes(), "<message id='c'/>".len());
    h.respond(poll.id, empty());
    let t = h.one_send();
    assert_eq!(parse_body(&t).elements().count(), 1);
    assert_eq!(h.s.queued_bytes(), 0);
}

#[test]
fn batches_are_split_at_max_batch_bytes() {
    let mut config = ClientConfig::new("example.com");
    config.max_batch_bytes = 40;
    let mut h = Harness::connected_with(config, &creation_attrs(), &[]);
    let poll = h.one_send();
    h.send("<message id='1'>aaaaaaaaaa</message>"); // 35 bytes
    h.send("<message id='2'/>");
    h.fire();
    assert_eq!(parse_body(&h.one_send()).elements().count(), 1);
    h.respond(poll.id, empty());
    assert_eq!(parse_body(&h.one_send()).elements().count(), 1);
}

#[test]
fn xep0124_14_2_2_out_of_order_responses_are_processed_in_rid_order() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message id='out'/>");
    h.fire();
    let data = h.one_send();
    h.respond(
        data.id,
        reply(&BodyAttrs::default(), &["<message id='second'/>"]),
    );
    assert!(h.events.is_empty(), "rid+2 waits for rid+1");
    assert!(h.sends.is_empty());
    h.respond(
        poll.id,
        reply(&BodyAttrs::default(), &["<message id='first'/>"]),
    );
    assert_eq!(
        h.stanzas(),
        ["<message id='first'/>", "<message id='second'/>"]
    );
    assert_eq!(h.one_send().rid, rid(FIRST_RID + 3));
}

// ----- timeouts, retries, back-off (§14.3, Strophe) -----

#[test]
fn xep0124_14_3_resends_byte_identical_request_after_timeout() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    assert_eq!(h.s.poll_timeout(), Some(h.at(66)));
    h.tick_to(65);
    assert!(h.sends.is_empty() && h.aborts.is_empty());
    h.tick_to(66);
    assert_eq!(h.take_aborts(), [poll.id]);
    let again = h.one_send();
    assert_eq!(again.rid, poll.rid);
    assert_eq!(again.body, poll.body, "byte-identical");
    assert_ne!(again.id, poll.id);
    assert_eq!(again.attempt, 2);
    assert_eq!(again.deadline, Some(h.at(132)));
    // The aborted attempt's late answer is ignored.
    h.respond(poll.id, reply(&BodyAttrs::default(), &["<message/>"]));
    assert!(h.events.is_empty() && h.sends.is_empty());
    h.respond(again.id, reply(&BodyAttrs::default(), &["<message/>"]));
    assert_eq!(h.stanzas().len(), 1);
}

#[test]
fn strophe_secondary_timeout_resends_a_dead_request() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.tick_to(1);
    h.send("<message/>");
    h.fire();
    let data = h.one_send();
    h.now = h.at(2);
    h.respond(data.id, empty());
    // rid+1 is now dead: failed after floor(60 x 0.1) = 6 s, not 66 s.
    assert_eq!(h.s.poll_timeout(), Some(h.at(8)));
    h.tick_to(8);
    assert_eq!(h.take_aborts(), [poll.id]);
    let again = h.one_send();
    assert_eq!((again.rid, &again.body), (poll.rid, &poll.body));
    assert_eq!(
        again.deadline,
        Some(h.at(8 + 66)),
        "a fresh attempt is not dead"
    );
    h.respond(
        again.id,
        reply(&BodyAttrs::default(), &["<message id='late'/>"]),
    );
    assert_eq!(h.stanzas(), ["<message id='late'/>"]);
}

#[test]
fn strophe_backoff_schedule_is_0_8_27_64_seconds() {
    let mut h = Harness::connected();
    let mut t = h.one_send();
    let original = t.clone();
    let mut resent_at = Vec::new();
    for _ in 0..4 {
        h.respond(t.id, Outcome::TransportFailure);
        if h.sends.is_empty() {
            h.fire();
        }
        t = h.one_send();
        assert_eq!((t.rid, &t.body), (original.rid, &original.body));
        resent_at.push(h.now.duration_since(h.base).as_secs());
    }
    assert_eq!(resent_at, [0, 8, 8 + 27, 8 + 27 + 64]);
    assert!(h.s.is_connected());
}

#[test]
fn strophe_gives_up_after_five_consecutive_errors() {
    let mut h = Harness::connected();
    let mut t = h.one_send();
    for i in 1..=5 {
        h.respond(
            t.id,
            Outcome::Http {
                status: 503,
                body: Default::default(),
            },
        );
        if i == 5 {
            break;
        }
        if h.sends.is_empty() {
            h.fire();
        }
        t = h.one_send();
    }
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::TooManyErrors(Failure::HttpStatus(503)))
    );
    assert!(h.sends.is_empty());
    assert_eq!(h.s.poll_timeout(), None);
    assert_eq!(
        h.s.send(h.now, "<message/>"),
        Err(ClientError::Disconnected)
    );
}

#[test]
fn strophe_a_200_resets_the_error_count() {
    let mut h = Harness::connected();
    let mut t = h.one_send();
    for _ in 0..4 {
        h.respond(t.id, Outcome::TransportFailure);
        if h.sends.is_empty() {
            h.fire();
        }
        t = h.one_send();
    }
    h.respond(t.id, empty());
    let mut t = h.one_send();
    for _ in 0..4 {
        h.respond(t.id, Outcome::TransportFailure);
        if h.sends.is_empty() {
            h.fire();
        }
        t = h.one_send();
    }
    assert!(h.s.is_connected(), "4 + 4 failures with a 200 between");
    h.respond(t.id, Outcome::TransportFailure);
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::TooManyErrors(Failure::Transport))
    );
}

#[test]
fn timeouts_count_as_errors() {
    let mut h = Harness::connected();
    h.take_sends();
    // Timeouts at 66 s, each resend after back-off (0, 8, 27, 64 s).
    while h.disconnected().is_none() {
        assert!(h.fire().is_some());
    }
    assert_eq!(h.now, h.at(66 + 66 + 8 + 66 + 27 + 66 + 64 + 66));
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::TooManyErrors(Failure::Timeout))
    );
}

#[test]
fn garbage_bodies_are_retried_then_give_up() {
    let mut h = Harness::connected();
    let mut t = h.one_send();
    let original = t.clone();
    for i in 1..=5 {
        h.respond(t.id, Outcome::ok("<html>proxy error</html"));
        if i == 5 {
            break;
        }
        if h.sends.is_empty() {
            h.fire();
        }
        t = h.one_send();
        assert_eq!(t.body, original.body);
    }
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::TooManyErrors(Failure::BadResponse))
    );
}

#[test]
fn a_response_for_another_sid_is_retried() {
    let mut h = Harness::connected();
    let t = h.one_send();
    let other = BodyAttrs {
        sid: Some("OtherSID".into()),
        ..BodyAttrs::default()
    };
    h.respond(t.id, reply(&other, &["<message/>"]));
    assert!(h.events.is_empty());
    let again = h.one_send();
    assert_eq!((again.rid, again.body), (t.rid, t.body));
}

// ----- HTTP status handling (§17.1) -----

#[test]
fn xep0124_17_1_legacy_404_is_fatal() {
    let attrs = BodyAttrs {
        creation: Some(Box::new(CreationAttrs {
            ver: None,
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    let Some(Event::Connected(p)) = h.events.first() else {
        panic!()
    };
    assert_eq!(p.ver, None, "legacy connection manager");
    let t = h.one_send();
    h.respond(
        t.id,
        Outcome::Http {
            status: 404,
            body: Default::default(),
        },
    );
    assert_eq!(h.disconnected(), Some(&DisconnectReason::HttpStatus(404)));
    assert!(h.aborts.is_empty(), "the 404 ended that request");
}

#[test]
fn xep0124_17_1_4xx_is_fatal_from_non_legacy_too_but_408_and_5xx_are_retried() {
    let mut h = Harness::connected();
    let t = h.one_send();
    h.respond(
        t.id,
        Outcome::Http {
            status: 408,
            body: Default::default(),
        },
    );
    let t = h.one_send();
    h.respond(
        t.id,
        Outcome::Http {
            status: 500,
            body: Default::default(),
        },
    );
    h.fire();
    let t = h.one_send();
    h.respond(
        t.id,
        Outcome::Http {
            status: 403,
            body: Default::default(),
        },
    );
    assert_eq!(h.disconnected(), Some(&DisconnectReason::HttpStatus(403)));
}

#[test]
fn other_statuses_are_fatal() {
    let mut h = Harness::connected();
    let t = h.one_send();
    h.respond(
        t.id,
        Outcome::Http {
            status: 204,
            body: Default::default(),
        },
    );
    assert_eq!(h.disconnected(), Some(&DisconnectReason::HttpStatus(204)));
}

// ----- recoverable errors, acks, report (§9, §17.3) -----

#[test]
fn xep0124_17_3_2_type_error_resends_every_unanswered_request() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message/>");
    h.fire();
    let data = h.one_send();
    let error = BodyAttrs {
        body_type: Some(BodyType::Error),
        ..BodyAttrs::default()
    };
    h.respond(data.id, reply(&error, &[]));
    assert_eq!(h.take_aborts(), [poll.id], "the held earlier request");
    let resent = h.take_sends();
    assert_eq!(resent.len(), 2);
    assert_eq!((resent[0].rid, &resent[0].body), (poll.rid, &poll.body));
    assert_eq!((resent[1].rid, &resent[1].body), (data.rid, &data.body));
    assert!(resent.iter().all(|t| t.attempt == 2));
    assert!(h.s.is_connected());
    h.respond(resent[0].id, empty());
    h.respond(resent[1].id, reply(&BodyAttrs::default(), &["<message/>"]));
    assert_eq!(h.stanzas().len(), 1);
}

#[test]
fn xep0124_9_2_5_report_resends_the_missing_request() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message/>");
    h.fire();
    let data = h.one_send();
    let report = BodyAttrs {
        report: Some(poll.rid),
        time: Some(852),
        ..BodyAttrs::default()
    };
    h.respond(data.id, reply(&report, &["<message id='2'/>"]));
    assert_eq!(h.take_aborts(), [poll.id]);
    let again = h.one_send();
    assert_eq!((again.rid, &again.body), (poll.rid, &poll.body));
    h.respond(
        again.id,
        reply(&BodyAttrs::default(), &["<message id='1'/>"]),
    );
    assert_eq!(h.stanzas(), ["<message id='1'/>", "<message id='2'/>"]);
}

#[test]
fn xep0124_9_2_acks_on_requests_omitted_when_all_responses_received() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    assert_eq!(
        parse_body(&poll).attrs.ack,
        None,
        "R9.2-3: everything answered"
    );
    h.send("<message/>");
    h.fire();
    let data = h.one_send();
    assert_eq!(
        parse_body(&data).attrs.ack,
        Some(rid(FIRST_RID)),
        "R9.2-1: rid+1 is unanswered, so the creation rid"
    );
    h.respond(poll.id, empty());
    h.send("<message/>");
    h.fire();
    let next = h.one_send();
    assert_eq!(parse_body(&next).attrs.ack, Some(poll.rid));

    let mut config = ClientConfig::new("example.com");
    config.use_acks = false;
    let mut h = Harness::new(config);
    assert_eq!(parse_body(&h.one_send()).attrs.ack, None);
}

// ----- key sequencing (§15) -----

fn attrs_of(t: &bosh_core::client::Transmit) -> BodyAttrs {
    parse_body(t).attrs
}

#[test]
fn xep0124_15_key_sequencing_and_rekeying() {
    let a = KeyChain::new(b"first secret seed", 4).unwrap();
    let b = KeyChain::new(b"second secret seed", 3).unwrap();
    let (a4, a3, a2, a1) = (
        a.newkey(),
        a.key(3).unwrap(),
        a.key(2).unwrap(),
        a.key(1).unwrap(),
    );
    let (b3, b2) = (b.newkey(), b.key(2).unwrap());
    let base = std::time::Instant::now();
    let s = ClientSession::new_with_keys(ClientConfig::new("example.com"), rid(FIRST_RID), a, base)
        .unwrap();
    let mut h = Harness::with(s, base);
    assert_eq!(h.take_events(), [Event::KeysNeeded]);
    let create = h.one_send();
    assert_eq!(attrs_of(&create).newkey.as_deref(), Some(a4.as_str()));
    assert_eq!(attrs_of(&create).key, None);
    h.respond(create.id, reply(&creation_attrs(), &[]));
    let p1 = h.one_send();
    assert_eq!(attrs_of(&p1).key.as_deref(), Some(a3.as_str()));
    assert_eq!(attrs_of(&p1).newkey, None);
    h.respond(p1.id, empty());
    let p2 = h.one_send();
    assert_eq!(attrs_of(&p2).key.as_deref(), Some(a2.as_str()));
    // K(1) needs the next chain: without it nothing more is sent.
    h.respond(p2.id, empty());
    assert!(h.sends.is_empty());
    assert_eq!(h.s.in_flight(), 0);
    h.s.provide_key_chain(h.now, b).unwrap();
    h.drain();
    let p3 = h.one_send();
    let k = attrs_of(&p3);
    assert_eq!(
        k.key.as_deref(),
        Some(a1.as_str()),
        "R15.5-2: K(1) of the old chain"
    );
    assert_eq!(
        k.newkey.as_deref(),
        Some(b3.as_str()),
        "and K(n) of the new one"
    );
    assert!(h.events.contains(&Event::KeysNeeded));
    h.respond(p3.id, empty());
    let p4 = h.one_send();
    assert_eq!(attrs_of(&p4).key.as_deref(), Some(b2.as_str()));
    // What a connection manager checks (R15.4-3).
    assert!(verify_key(&a3, &a4) && verify_key(&a2, &a3) && verify_key(&a1, &a2));
    assert!(verify_key(&b2, &b3));
    // A resend keeps its key: it is byte-identical.
    h.tick_to(200);
    let again = h.one_send();
    assert_eq!(again.body, p4.body);
}

#[test]
fn keys_are_refused_without_key_sequencing() {
    let mut h = Harness::connected();
    let chain = KeyChain::new(b"seed", 5).unwrap();
    assert_eq!(
        h.s.provide_key_chain(h.now, chain),
        Err(ClientError::KeysNotInUse)
    );
}

// ----- pause (§10) -----

#[test]
fn xep0124_10_7_pause_refused_without_maxpause() {
    let mut h = Harness::connected();
    assert_eq!(h.s.pause(h.now, 60), Err(ClientError::PauseNotSupported));
    h.drain();
    assert_eq!(h.sends.len(), 1, "only the poll");
}

#[test]
fn xep0124_10_pause_with_maxpause_stops_requests_until_resume() {
    let attrs = BodyAttrs {
        creation: Some(Box::new(CreationAttrs {
            maxpause: Some(120),
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    let poll = h.one_send();
    assert_eq!(h.s.pause(h.now, 0), Err(ClientError::InvalidPause));
    assert_eq!(h.s.pause(h.now, 500), Ok(120), "clamped to maxpause");
    h.drain();
    let pause = h.one_send();
    assert_eq!(attrs_of(&pause).pause, Some(120));
    assert_eq!(pause.rid, rid(FIRST_RID + 2));
    assert!(h.s.is_paused());
    assert_eq!(h.s.pause(h.now, 10), Err(ClientError::AlreadyPaused));
    // R10-8: the manager answers everything at once; no new poll follows.
    h.respond(poll.id, empty());
    h.respond(pause.id, empty());
    assert!(h.sends.is_empty());
    h.send("<message/>");
    h.fire();
    assert!(h.sends.is_empty(), "nothing is sent while paused");
    assert_eq!(h.s.poll_timeout(), Some(h.at(120)));
    h.now = h.at(100);
    h.s.resume(h.now).unwrap();
    h.drain();
    let t = h.one_send();
    assert_eq!(t.rid, rid(FIRST_RID + 3));
    assert_eq!(parse_body(&t).elements().count(), 1);
    assert!(!h.s.is_paused());
    assert_eq!(h.s.resume(h.now), Err(ClientError::NotPaused));
}

#[test]
fn xep0124_10_pause_expiry_ends_the_session_locally() {
    let attrs = BodyAttrs {
        creation: Some(Box::new(CreationAttrs {
            maxpause: Some(120),
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    let poll = h.one_send();
    h.s.pause(h.now, 30).unwrap();
    h.drain();
    let pause = h.one_send();
    h.respond(poll.id, empty());
    h.respond(pause.id, empty());
    h.tick_to(30);
    assert_eq!(h.disconnected(), Some(&DisconnectReason::PauseExpired));
    assert!(h.sends.is_empty());
}

// ----- restart (XEP-0206 §5) -----

#[test]
fn xep0206_5_restart_after_sasl_success_carries_restart_to_lang_and_no_stanzas() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message id='before'/>");
    h.s.restart(h.now).unwrap();
    h.send("<message id='after'/>");
    let before = h.one_send();
    assert_eq!(parse_body(&before).elements().count(), 1);
    h.respond(
        poll.id,
        reply(
            &BodyAttrs::default(),
            &["<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"],
        ),
    );
    let restart = h.one_send();
    let b = parse_body(&restart);
    assert!(b.is_empty(), "X5-2: no stanzas in the restart body");
    assert_eq!(b.attrs.xmpp_restart, Some(true));
    assert_eq!(b.attrs.creation().to.as_deref(), Some("example.com"));
    assert_eq!(b.attrs.creation().xml_lang.as_deref(), Some("en"));
    assert_eq!(b.attrs.sid.as_deref(), Some(SID));
    assert_eq!(
        (
            b.attrs.creation().wait,
            b.attrs.creation().hold,
            b.attrs.creation().ver
        ),
        (None, None, None)
    );
    let text = String::from_utf8(restart.body.to_vec()).unwrap();
    assert!(text.contains("xmpp:restart='true'") && text.contains("xmlns:xmpp='urn:xmpp:xbosh'"));
    h.respond(before.id, empty());
    let after = h.one_send();
    assert_eq!(after.rid, rid(FIRST_RID + 4));
    let features =
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    h.respond(restart.id, reply(&BodyAttrs::default(), &[features]));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::StreamFeatures { .. }))
    );
}

#[test]
fn xep0206_5_no_empty_poll_between_sasl_success_and_the_restart() {
    let mut h = Harness::connected();
    answer_the_poll_with(
        &mut h,
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    );
    // The old stream is over (X5-2): no empty poll is held for it, however
    // long the application takes to ask for the restart.
    assert!(h.take_sends().is_empty());
    h.tick_to(5);
    assert!(h.take_sends().is_empty());
    h.s.restart(h.now).unwrap();
    h.drain();
    let restart = h.one_send();
    assert_eq!(parse_body(&restart).attrs.xmpp_restart, Some(true));
    // Idle polls resume after the restart.
    h.respond(restart.id, empty());
    let poll = h.one_send();
    assert!(parse_body(&poll).is_empty());
    assert_eq!(poll.rid, rid(restart.rid.get() + 1));
}

#[test]
fn rfc6120_4_3_2_the_answer_to_features_is_the_only_request_not_raced_by_an_empty_poll() {
    let features = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                    <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
    let mut h = Harness::connected_with(
        ClientConfig::new("example.com"),
        &creation_attrs(),
        &[features],
    );
    // No empty poll while the application may still answer the features,
    // and the session's timer says when one is due.
    assert!(h.take_sends().is_empty());
    assert_eq!(
        h.s.poll_timeout(),
        Some(h.base + Duration::from_millis(100))
    );
    h.now += Duration::from_millis(99);
    h.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>");
    h.fire();
    // The auth is the next rid and the only request: it is the held one.
    let auth = h.one_send();
    assert_eq!(auth.rid, rid(FIRST_RID + 1));
    assert_eq!(parse_body(&auth).elements().count(), 1);
    h.tick_to(10);
    assert!(
        h.take_sends().is_empty(),
        "hold 1 is kept by the auth request"
    );
}

#[test]
fn rfc6120_7_6_the_first_stanza_after_a_bind_result_is_the_only_request() {
    let mut h = Harness::connected();
    let bind_result = "<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
                       <jid>a@example.com/r</jid></bind></iq>";
    let poll = h.one_send();
    h.respond(poll.id, reply(&BodyAttrs::default(), &[bind_result]));
    assert!(h.take_sends().is_empty());
    h.now += Duration::from_millis(5);
    h.send("<presence/>");
    h.fire();
    let presence = h.one_send();
    assert_eq!(presence.rid, rid(poll.rid.get() + 1));
    assert_eq!(parse_body(&presence).elements().count(), 1);
    assert!(String::from_utf8_lossy(&presence.body).contains("<presence/>"));
}

#[test]
fn without_an_answer_the_empty_poll_goes_out_when_the_reply_window_ends() {
    let mut h = Harness::connected();
    let bind_result =
        "<iq type=\"result\" id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>";
    let poll = h.one_send();
    h.respond(poll.id, reply(&BodyAttrs::default(), &[bind_result]));
    assert!(h.take_sends().is_empty());
    let at = h.now + Duration::from_millis(100);
    assert_eq!(h.fire(), Some(at));
    let next = h.one_send();
    assert!(parse_body(&next).is_empty());
    assert_eq!(next.rid, rid(poll.rid.get() + 1));
}

#[test]
fn rfc6120_6_4_2_the_response_to_a_sasl_challenge_is_not_raced_by_an_empty_poll() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let challenge = "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1meWtv</challenge>";
    h.respond(poll.id, reply(&BodyAttrs::default(), &[challenge]));
    assert!(h.take_sends().is_empty());
    h.now += Duration::from_millis(1);
    h.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdz</response>");
    h.fire();
    let response = h.one_send();
    assert_eq!(response.rid, rid(poll.rid.get() + 1));
    assert_eq!(parse_body(&response).elements().count(), 1);
}

#[test]
fn a_bind_result_with_spaces_around_the_equals_sign_is_recognised() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let bind_result =
        "<iq id='b1' type = 'result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>";
    h.respond(poll.id, reply(&BodyAttrs::default(), &[bind_result]));
    assert!(h.take_sends().is_empty());
}

#[test]
fn features_after_sasl_success_in_one_body_still_wait_for_the_restart() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let success = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
    let features =
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    h.respond(poll.id, reply(&BodyAttrs::default(), &[success, features]));
    // Not the reply window's 100 ms: no poll at all before the restart.
    h.tick_to(5);
    assert!(h.take_sends().is_empty());
}

#[test]
fn a_reply_window_that_an_input_outlived_still_ends_in_a_poll() {
    // An input that moves the clock past the window without sending
    // anything (here an empty send) must leave the poll due, not dropped:
    // otherwise no request is in flight, no timer is armed, and the
    // session waits for the manager's inactivity timeout.
    let mut h = Harness::connected();
    let poll = h.one_send();
    let features =
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    h.respond(poll.id, reply(&BodyAttrs::default(), &[features]));
    assert!(h.take_sends().is_empty());
    h.now += Duration::from_millis(150);
    h.s.send(h.now, Vec::new()).unwrap();
    h.drain();
    assert!(h.take_sends().is_empty());
    let due = h.s.poll_timeout().expect("the poll is still due");
    assert!(due <= h.now);
    h.fire();
    let next = h.one_send();
    assert!(parse_body(&next).is_empty());
}

#[test]
fn other_iq_results_and_a_zero_reply_window_poll_at_once() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let roster = "<iq type='result' id='r1'><query xmlns='jabber:iq:roster'/></iq>";
    h.respond(poll.id, reply(&BodyAttrs::default(), &[roster]));
    assert!(parse_body(&h.one_send()).is_empty());

    let mut config = ClientConfig::new("example.com");
    config.reply_window = Duration::ZERO;
    let features =
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    let mut h = Harness::connected_with(config, &creation_attrs(), &[features]);
    assert!(parse_body(&h.one_send()).is_empty());
}

#[test]
fn a_reply_window_over_ten_seconds_is_refused() {
    let mut config = ClientConfig::new("example.com");
    config.reply_window = Duration::from_secs(11);
    assert!(matches!(
        config.validate(),
        Err(ClientError::InvalidConfig(_))
    ));
    config.reply_window = Duration::from_secs(10);
    assert!(config.validate().is_ok());
}

#[test]
fn success_in_another_namespace_does_not_hold_back_polls() {
    let mut h = Harness::connected();
    answer_the_poll_with(&mut h, "<success xmlns='urn:example:not-sasl'/>");
    assert!(parse_body(&h.one_send()).is_empty());
}

/// Answers the one outstanding empty poll with `element`.
fn answer_the_poll_with(h: &mut Harness, element: &str) {
    let poll = h.one_send();
    h.respond(poll.id, reply(&BodyAttrs::default(), &[element]));
}

#[test]
fn restart_before_creation_is_refused() {
    let mut h = Harness::new(ClientConfig::new("example.com"));
    assert_eq!(h.s.restart(h.now), Err(ClientError::NotConnected));
    // Stanzas may be queued before creation; they follow it.
    h.send("<presence/>");
    h.fire();
    let create = h.one_send();
    h.respond(create.id, reply(&creation_attrs(), &[]));
    let first = h.one_send();
    assert_eq!(parse_body(&first).elements().count(), 1);
}

// ----- terminate (§13, §17.2) -----

#[test]
fn xep0124_13_terminate_with_payload_and_its_ack_is_terminated() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message id='queued'/>");
    h.s.terminate(h.now, [&b"<presence type='unavailable'/>"[..]])
        .unwrap();
    h.drain();
    let term = h.one_send();
    let b = parse_body(&term);
    assert_eq!(b.attrs.body_type, Some(BodyType::Terminate));
    let payload: Vec<_> = b.elements().collect();
    assert_eq!(payload.len(), 2);
    assert_eq!(&payload[1][..], b"<presence type='unavailable'/>");
    assert!(h.s.is_terminating());
    assert_eq!(h.s.send(h.now, "<x/>"), Err(ClientError::Terminating));
    h.respond(poll.id, empty());
    assert!(h.disconnected().is_none());
    assert!(h.sends.is_empty(), "no poll while terminating");
    h.respond(term.id, empty());
    assert_eq!(h.disconnected(), Some(&DisconnectReason::Terminated));
    assert!(h.aborts.is_empty());
}

#[test]
fn xep0124_13_terminate_acknowledged_on_the_oldest_request() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.s.terminate(h.now, Vec::<bytes::Bytes>::new()).unwrap();
    h.drain();
    let term = h.one_send();
    h.respond(
        poll.id,
        reply(
            &BodyAttrs {
                body_type: Some(BodyType::Terminate),
                ..BodyAttrs::default()
            },
            &[],
        ),
    );
    assert_eq!(h.disconnected(), Some(&DisconnectReason::Terminated));
    assert_eq!(h.take_aborts(), [term.id]);
}

#[test]
fn strophe_terminate_gives_up_after_the_disconnect_timeout() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.s.terminate(h.now, Vec::<bytes::Bytes>::new()).unwrap();
    h.drain();
    let term = h.one_send();
    assert_eq!(h.s.poll_timeout(), Some(h.at(3)));
    h.tick_to(3);
    assert_eq!(h.disconnected(), Some(&DisconnectReason::TerminateTimedOut));
    assert_eq!(h.take_aborts(), [poll.id, term.id]);
}

#[test]
fn xep0124_17_2_terminate_response_with_condition() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.respond(
        poll.id,
        reply(&BodyAttrs::terminate(Condition::SystemShutdown), &[]),
    );
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::Condition(Condition::SystemShutdown))
    );
}

#[test]
fn xep0124_13_server_terminate_without_condition() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let attrs = BodyAttrs {
        body_type: Some(BodyType::Terminate),
        ..BodyAttrs::default()
    };
    h.respond(poll.id, reply(&attrs, &[]));
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::TerminatedByServer)
    );
}

#[test]
fn xep0124_17_2_see_other_uri_carries_the_uri() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let uri = uri_element("https://secure.example.com/http-bind?a=1&b=2");
    h.respond(
        poll.id,
        reply(
            &BodyAttrs::terminate(Condition::SeeOtherUri),
            &[std::str::from_utf8(&uri).unwrap()],
        ),
    );
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::SeeOtherUri(Some(
            "https://secure.example.com/http-bind?a=1&b=2".to_owned()
        )))
    );
    assert!(h.stanzas().is_empty(), "the <uri/> is not a stanza");
}

#[test]
fn xep0206_6_remote_stream_error_carries_the_stream_error() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let error =
        "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    h.respond(
        poll.id,
        reply(
            &BodyAttrs::terminate(Condition::RemoteStreamError),
            &["<message id='last'/>", error],
        ),
    );
    assert_eq!(h.stanzas(), ["<message id='last'/>"]);
    let Some(DisconnectReason::RemoteStreamError(Some(e))) = h.disconnected() else {
        panic!("{:?}", h.events)
    };
    let e = std::str::from_utf8(e).unwrap();
    assert!(e.starts_with("<stream:error xmlns:stream='http://etherx.jabber.org/streams'"));
    assert!(e.contains("<conflict"));
}

#[test]
fn terminal_error_after_a_lost_response_ends_after_the_secondary_timeout() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message/>");
    h.fire();
    let data = h.one_send();
    h.respond(
        data.id,
        reply(&BodyAttrs::terminate(Condition::SystemShutdown), &[]),
    );
    assert!(h.disconnected().is_none(), "rid+1 may still arrive");
    h.tick_to(6);
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::Condition(Condition::SystemShutdown))
    );
    assert_eq!(h.take_aborts(), [poll.id]);
    assert!(h.sends.is_empty(), "the dead request is not resent");
}

/// Found by the simulated network (`tests/sim_network.rs`): once a later
/// response carries a terminal condition, an earlier request whose attempt
/// fails is not resent (the session is over) and the session ends with the
/// condition it was told, not with `TooManyErrors` after minutes of back-off.
#[test]
fn terminal_error_then_a_failed_earlier_request_ends_with_the_terminal_error() {
    // The earlier attempt fails after the terminal response.
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.send("<message/>");
    h.fire();
    let data = h.one_send();
    h.respond(
        data.id,
        reply(&BodyAttrs::terminate(Condition::ItemNotFound), &[]),
    );
    h.respond(poll.id, Outcome::TransportFailure);
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::Condition(Condition::ItemNotFound))
    );
    assert!(h.sends.is_empty(), "not resent");

    // The earlier request is waiting out a back-off when the terminal
    // response comes: it is not resent either.
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.respond(poll.id, Outcome::TransportFailure);
    let again = h.one_send();
    assert_eq!(again.rid, poll.rid, "first resend at once");
    h.respond(again.id, Outcome::TransportFailure);
    assert!(h.sends.is_empty(), "second resend after 8 s");
    h.send("<message/>");
    h.fire();
    let data = h
        .take_sends()
        .into_iter()
        .find(|t| t.rid != poll.rid)
        .unwrap();
    h.respond(
        data.id,
        reply(&BodyAttrs::terminate(Condition::SystemShutdown), &[]),
    );
    // Given up with the dead requests, after the secondary timeout, not
    // after the 8 s back-off.
    h.tick_to(5);
    assert!(h.disconnected().is_none());
    h.tick_to(6);
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::Condition(Condition::SystemShutdown))
    );
    assert!(
        h.take_sends().iter().all(|t| t.rid != poll.rid),
        "not resent"
    );
}

/// Found by the simulated network: the answer to the terminate request is a
/// terminal condition (the session had already ended), but an earlier
/// request is still unanswered when the disconnect timeout fires. The
/// session ends with the condition it was told, not `TerminateTimedOut`, so
/// that it agrees with the connection manager.
#[test]
fn terminate_answered_with_a_condition_ends_with_it_at_the_disconnect_timeout() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.s.terminate(h.now, Vec::<bytes::Bytes>::new()).unwrap();
    h.drain();
    let t = h.one_send();
    assert_ne!(t.rid, poll.rid);
    h.respond(
        t.id,
        reply(&BodyAttrs::terminate(Condition::ItemNotFound), &[]),
    );
    assert!(
        h.disconnected().is_none(),
        "the poll's answer may still come"
    );
    h.tick_to(3);
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::Condition(Condition::ItemNotFound))
    );
    assert_eq!(h.take_aborts(), [poll.id]);
}

/// Found by the simulated network: paused, the answer to the pause request
/// is a terminal condition (the upstream connection failed) while the poll
/// before it is still unanswered; the pause runs out first. The session ends
/// with the condition it was told, not `PauseExpired`.
#[test]
fn pause_answered_with_a_condition_ends_with_it_when_the_pause_runs_out() {
    let attrs = BodyAttrs {
        creation: Some(Box::new(CreationAttrs {
            maxpause: Some(120),
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    let poll = h.one_send();
    assert_eq!(h.s.pause(h.now, 5), Ok(5));
    h.drain();
    let pause = h.one_send();
    h.respond(
        pause.id,
        reply(
            &BodyAttrs::terminate(Condition::RemoteConnectionFailed),
            &[],
        ),
    );
    assert!(
        h.disconnected().is_none(),
        "the poll's answer may still come"
    );
    h.tick_to(5);
    assert_eq!(
        h.disconnected(),
        Some(&DisconnectReason::Condition(
            Condition::RemoteConnectionFailed
        ))
    );
    assert_eq!(h.take_aborts(), [poll.id]);
}

#[test]
fn terminate_before_creation_ends_at_once() {
    let mut h = Harness::new(ClientConfig::new("example.com"));
    let create = h.one_send();
    h.s.terminate(h.now, Vec::<bytes::Bytes>::new()).unwrap();
    h.drain();
    assert_eq!(h.disconnected(), Some(&DisconnectReason::Terminated));
    assert_eq!(h.take_aborts(), [create.id]);
}

// ----- multiple streams (§16) -----

fn multi_stream() -> Harness {
    let attrs = BodyAttrs {
        stream: Some("first".to_owned()),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    h.events.clear();
    h
}

#[test]
fn xep0124_16_streams_need_server_support() {
    let mut h = Harness::connected();
    assert_eq!(
        h.s.add_stream(h.now, "other.example", None),
        Err(ClientError::StreamsNotSupported)
    );
    assert_eq!(
        h.s.send_to_stream(h.now, "first", "<x/>"),
        Err(ClientError::StreamsNotSupported)
    );
}

#[test]
fn xep0124_16_add_send_receive_and_close_streams() {
    let mut h = multi_stream();
    let poll = h.one_send();
    let request = h.s.add_stream(h.now, "other.example", None).unwrap();
    h.drain();
    let add = h.one_send();
    let a = attrs_of(&add);
    assert_eq!(a.creation().to.as_deref(), Some("other.example"));
    assert_eq!(a.creation().xml_lang.as_deref(), Some("en"));
    assert_eq!(a.creation().xmpp_version, Some(Version::new(1, 0)));
    let c = a.creation();
    assert_eq!(
        (c.wait, c.hold, c.ver, c.content.as_deref()),
        (None, None, None, None)
    );
    h.respond(poll.id, empty());
    let added = BodyAttrs {
        stream: Some("second".to_owned()),
        creation: Some(Box::new(CreationAttrs {
            from: Some("other.example".to_owned()),
            ..CreationAttrs::default()
        })),
        ..BodyAttrs::default()
    };
    h.respond(add.id, reply(&added, &[]));
    assert_eq!(
        h.take_events(),
        [Event::StreamAdded {
            request,
            stream: "second".to_owned(),
            from: Some("other.example".to_owned())
        }]
    );
    assert_eq!(h.s.streams().collect::<Vec<_>>(), ["first", "second"]);
    let poll = h.one_send();

    h.s.send_to_stream(h.now, "second", "<message id='to-second'/>")
        .unwrap();
    h.send("<message id='broadcast'/>");
    assert_eq!(
        h.s.send_to_stream(h.now, "nope", "<x/>"),
        Err(ClientError::UnknownStream)
    );
    h.fire();
    let to_second = h.one_send();
    assert_eq!(attrs_of(&to_second).stream.as_deref(), Some("second"));
    assert_eq!(parse_body(&to_second).elements().count(), 1, "R16.4-3");

    // Payload with a stream name, and without (the first stream, R16.4-7).
    let on_second = BodyAttrs {
        stream: Some("second".to_owned()),
        ..BodyAttrs::default()
    };
    h.respond(poll.id, reply(&on_second, &["<message id='s'/>"]));
    let broadcast = h.one_send();
    assert_eq!(attrs_of(&broadcast).stream, None);
    h.respond(
        to_second.id,
        reply(&BodyAttrs::default(), &["<message id='f'/>"]),
    );
    let streams: Vec<_> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Stanza { stream, .. } => stream,
            _ => None,
        })
        .collect();
    assert_eq!(streams, ["second", "first"]);

    // Close the second stream (R16.5-1).
    h.s.close_stream(h.now, "second", Vec::<bytes::Bytes>::new())
        .unwrap();
    h.drain();
    let close = h.one_send();
    let a = attrs_of(&close);
    assert_eq!(a.body_type, Some(BodyType::Terminate));
    assert_eq!(a.stream.as_deref(), Some("second"));
    h.respond(broadcast.id, empty());
    h.respond(close.id, empty());
    assert_eq!(
        h.take_events(),
        [Event::StreamClosed {
            stream: "second".to_owned(),
            condition: None
        }]
    );
    assert!(h.s.is_connected());
    assert_eq!(h.s.streams().collect::<Vec<_>>(), ["first"]);
    // Late payload for the closed stream is dropped (R16.4-4).
    let poll = h.one_send();
    h.respond(poll.id, reply(&on_second, &["<message id='late'/>"]));
    assert!(h.stanzas().is_empty());
    assert!(h.s.is_connected());
}

#[test]
fn xep0124_16_6_fatal_error_with_stream_closes_only_that_stream() {
    let mut h = multi_stream();
    let poll = h.one_send();
    h.s.add_stream(h.now, "other.example", None).unwrap();
    h.drain();
    let add = h.one_send();
    h.respond(poll.id, empty());
    let added = BodyAttrs {
        stream: Some("second".to_owned()),
        ..BodyAttrs::default()
    };
    h.respond(add.id, reply(&added, &[]));
    h.events.clear();
    let poll = h.one_send();
    let fatal = BodyAttrs {
        stream: Some("second".to_owned()),
        ..BodyAttrs::terminate(Condition::HostGone)
    };
    h.respond(poll.id, reply(&fatal, &[]));
    assert_eq!(
        h.take_events(),
        [Event::StreamClosed {
            stream: "second".to_owned(),
            condition: Some(Condition::HostGone)
        }]
    );
    assert!(h.s.is_connected());
    assert_eq!(h.one_send().rid, rid(FIRST_RID + 4));
}

#[test]
fn xep0124_16_4_4_payload_for_an_unknown_stream_terminates_the_session() {
    let mut h = multi_stream();
    let poll = h.one_send();
    let bogus = BodyAttrs {
        stream: Some("bogus".to_owned()),
        ..BodyAttrs::default()
    };
    h.respond(poll.id, reply(&bogus, &["<message/>"]));
    assert!(h.stanzas().is_empty());
    let term = h.one_send();
    assert_eq!(attrs_of(&term).body_type, Some(BodyType::Terminate));
    h.respond(term.id, empty());
    assert_eq!(h.disconnected(), Some(&DisconnectReason::BadResponse));
}

#[test]
fn closing_the_last_stream_terminates_the_session() {
    let mut h = multi_stream();
    h.take_sends();
    h.s.close_stream(h.now, "first", Vec::<bytes::Bytes>::new())
        .unwrap();
    h.drain();
    let term = h.one_send();
    assert_eq!(attrs_of(&term).stream, None);
    assert!(h.s.is_terminating());
}

// ----- polling sessions (§12) -----

#[test]
fn xep0124_12_polling_session_respects_the_polling_interval() {
    let mut config = ClientConfig::new("example.com");
    config.hold = 0;
    let attrs = BodyAttrs {
        creation: Some(Box::new(CreationAttrs {
            hold: Some(0),
            requests: Some(1),
            polling: Some(5),
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(config, &attrs, &[]);
    assert!(
        h.sends.is_empty(),
        "no poll right after the creation request"
    );
    assert_eq!(
        h.s.poll_timeout(),
        Some(h.at(6)),
        "polling 5 s + 1 s margin"
    );
    h.fire();
    let p = h.one_send();
    h.respond(p.id, empty());
    assert!(h.sends.is_empty());
    // Payload does not wait for the polling interval.
    h.now = h.at(7);
    h.send("<message/>");
    h.fire();
    let data = h.one_send();
    assert_eq!(parse_body(&data).elements().count(), 1);
    h.respond(data.id, empty());
    assert_eq!(h.s.poll_timeout(), Some(h.at(13)));
}

// ----- export and attach (Strophe's attach/restore) -----

#[test]
fn export_to_string_parse_and_attach_continues_with_the_next_rid() {
    let attrs = BodyAttrs {
        ack: Some(rid(FIRST_RID)),
        creation: Some(Box::new(CreationAttrs {
            maxpause: Some(120),
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    let poll = h.one_send();
    h.respond(poll.id, empty());
    let _held = h.one_send();
    h.s.set_jid("juliet@example.com/balcony");
    let state = h.s.export().unwrap();
    assert_eq!(state.rid, rid(FIRST_RID + 3));
    assert_eq!(state.sid, SID);
    assert_eq!((state.wait, state.hold, state.requests), (60, 1, 2));
    let text = state.to_string();
    assert!(text.starts_with("v=1&sid=SomeSID&rid=1573741823&wait=60&hold=1&requests=2&jid=juliet%40example.com%2Fbalcony"), "{text}");
    let parsed: SessionState = text.parse().unwrap();
    assert_eq!(parsed, state);

    let base = h.now;
    let s = ClientSession::attach(ClientConfig::new("example.com"), parsed, base).unwrap();
    let mut other = Harness::with(s, base);
    let Some(Event::Connected(p)) = other.events.first() else {
        panic!()
    };
    assert_eq!((p.sid.as_str(), p.maxpause, p.acks), (SID, Some(120), true));
    assert_eq!(other.s.jid(), Some("juliet@example.com/balcony"));
    let first = other.one_send();
    assert_eq!(first.rid, rid(FIRST_RID + 3));
    let a = attrs_of(&first);
    assert_eq!(a.sid.as_deref(), Some(SID));
    assert_eq!(a.ack, None, "earlier responses count as received");
    other.respond(first.id, empty());
    assert_eq!(other.one_send().rid, rid(FIRST_RID + 4));
}

#[test]
fn export_and_attach_continue_the_key_sequence() {
    let chain = KeyChain::new(b"exported seed", 10).unwrap();
    let base = std::time::Instant::now();
    let s = ClientSession::new_with_keys(
        ClientConfig::new("example.com"),
        rid(FIRST_RID),
        chain,
        base,
    )
    .unwrap();
    let mut h = Harness::with(s, base);
    let create = h.one_send();
    h.respond(create.id, reply(&creation_attrs(), &[]));
    let poll = h.one_send();
    let last_key = attrs_of(&poll).key.unwrap();
    let text = h.s.export().unwrap().to_string();
    assert!(text.contains("keylen=10&keyleft=8"), "{text}");
    let state: SessionState = text.parse().unwrap();
    assert!(!format!("{:?}", state.keys).contains("seed:"));
    let s = ClientSession::attach(ClientConfig::new("example.com"), state, base).unwrap();
    let mut other = Harness::with(s, base);
    assert!(other.events.contains(&Event::KeysNeeded));
    let next = other.one_send();
    assert!(verify_key(&attrs_of(&next).key.unwrap(), &last_key));
}

#[test]
fn export_before_creation_is_refused_and_bad_states_are_refused() {
    let h = Harness::new(ClientConfig::new("example.com"));
    assert_eq!(h.s.export().err(), Some(ClientError::NotConnected));
    let base = std::time::Instant::now();
    let state = SessionState::new("", rid(5));
    assert!(matches!(
        ClientSession::attach(ClientConfig::new("example.com"), state, base),
        Err(ClientError::InvalidState(_))
    ));
}

#[test]
fn xep0124_14_1_rid_never_exceeds_2_pow_53_minus_1() {
    let base = std::time::Instant::now();
    let state = SessionState::new(SID, Rid::MAX.checked_sub(1).unwrap());
    let s = ClientSession::attach(ClientConfig::new("example.com"), state, base).unwrap();
    let mut h = Harness::with(s, base);
    let a = h.one_send();
    assert_eq!(a.rid.get(), 9_007_199_254_740_990);
    h.respond(a.id, empty());
    let b = h.one_send();
    assert_eq!(b.rid, Rid::MAX);
    assert_eq!(h.s.next_rid(), None);
    h.respond(b.id, empty());
    assert_eq!(h.disconnected(), Some(&DisconnectReason::RidExhausted));
    assert!(h.sends.is_empty());
}

// ----- robustness -----

#[test]
fn time_going_backwards_never_moves_deadlines_back() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    h.tick_to(50);
    // A response reported with an earlier instant.
    h.s.handle_response(h.base, poll.id, empty());
    h.drain();
    let next = h.one_send();
    assert_eq!(next.deadline, Some(h.at(50 + 66)));
    h.s.handle_timeout(h.base);
    h.drain();
    assert!(h.sends.is_empty() && h.aborts.is_empty());
    assert!(h.s.poll_timeout() > Some(h.at(50)));
}

#[test]
fn the_timer_is_always_in_the_future_after_handle_timeout() {
    let mut h = Harness::connected();
    h.take_sends();
    for _ in 0..20 {
        let Some(t) = h.fire() else { break };
        if let Some(next) = h.s.poll_timeout() {
            assert!(next > t);
        }
    }
}

#[test]
fn shorter_waits_get_at_least_the_minimum_timeouts() {
    let mut config = ClientConfig::new("example.com");
    config.wait = 5;
    let attrs = BodyAttrs {
        creation: Some(Box::new(CreationAttrs {
            wait: Some(5),
            ..creation_attrs().creation().clone()
        })),
        ..creation_attrs()
    };
    let mut h = Harness::connected_with(config, &attrs, &[]);
    let poll = h.one_send();
    assert_eq!(
        poll.deadline,
        Some(h.at(10)),
        "floor(5 x 1.1) = 5 is raised to 10 s"
    );
    h.send("<m/>");
    h.fire();
    let data = h.one_send();
    h.respond(data.id, empty());
    assert_eq!(
        h.s.poll_timeout(),
        Some(h.now + Duration::from_secs(1)),
        "floor(5 x 0.1) = 0 is raised to 1 s"
    );
}

// ----- found in review -----

fn with_creation(f: impl FnOnce(&mut CreationAttrs)) -> BodyAttrs {
    let mut c = creation_attrs().creation().clone();
    f(&mut c);
    BodyAttrs {
        creation: Some(Box::new(c)),
        ..creation_attrs()
    }
}

/// A resent poll arrives at the manager as new; the next empty poll is
/// spaced from it, not from when the first copy was sent (R12-4: the
/// manager times `polling` from arrivals, and ends the session for
/// polls that come too soon).
#[test]
fn xep0124_12_4_empty_polls_are_spaced_from_the_last_send_resends_included() {
    let mut config = ClientConfig::new("example.com");
    config.hold = 0;
    let attrs = with_creation(|c| {
        c.hold = Some(0);
        c.requests = Some(1);
        c.polling = Some(2);
    });
    let mut h = Harness::connected_with(config, &attrs, &[]);
    h.fire();
    let p = h.one_send();
    // Twice unreachable: the first resend goes at once, the second after
    // Strophe's back-off (2³ s).
    h.respond(p.id, Outcome::TransportFailure);
    let again = h.one_send();
    h.respond(again.id, Outcome::TransportFailure);
    assert!(h.sends.is_empty());
    h.fire();
    let last = h.one_send();
    assert_eq!(last.rid, p.rid, "the same request");
    let sent_at = h.now;
    h.respond(last.id, empty());
    assert!(h.sends.is_empty(), "no poll right after the resend");
    assert_eq!(
        h.s.poll_timeout(),
        Some(sent_at + Duration::from_secs(3)),
        "polling 2 s + 1 s margin, from the resend"
    );
}

/// A SASL `<success/>` after the restart is not the end of SASL: the
/// client used to stop polling for a restart that never came, with nothing
/// in flight and no timer, until the manager expired the session.
#[test]
fn xep0206_5_a_stray_sasl_success_after_the_restart_does_not_stop_polling() {
    let mut h = Harness::connected();
    let poll = h.one_send();
    let success = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
    h.respond(poll.id, reply(&BodyAttrs::default(), &[success]));
    assert!(h.sends.is_empty(), "the restart comes next (X5-2)");
    h.s.restart(h.now).unwrap();
    h.drain();
    let restart = h.one_send();
    h.respond(restart.id, empty());
    let poll = h.one_send();
    // Logged in; the server (or a peer through it) sends another one.
    h.respond(poll.id, reply(&BodyAttrs::default(), &[success]));
    let next = h.one_send();
    assert!(parse_body(&next).is_empty(), "polling goes on");
}

/// R7.2-3: the manager's `wait` may not exceed the client's; a larger one
/// is not believed (it would stretch every timeout to hours).
#[test]
fn xep0124_7_2_3_a_wait_above_the_clients_is_capped() {
    let attrs = with_creation(|c| c.wait = Some(u16::MAX));
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    assert_eq!(h.s.params().unwrap().wait, 60);
    let poll = h.one_send();
    assert!(
        poll.deadline <= Some(h.now + Duration::from_secs(66)),
        "{:?}",
        poll.deadline
    );
}

/// With `wait='0'` Strophe's back-off cap is zero: every retry went out in
/// the same instant and a blip ended the session. The cap is at least
/// `min_request_timeout`.
#[test]
fn retries_back_off_even_with_wait_0() {
    let attrs = with_creation(|c| c.wait = Some(0));
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    h.send("<message/>");
    h.fire();
    assert!(!h.sends.is_empty());
    let mut failures = 0;
    for _ in 0..6 {
        let sends = h.take_sends();
        if sends.is_empty() {
            break;
        }
        for t in sends {
            h.respond(t.id, Outcome::TransportFailure);
            failures += 1;
        }
    }
    assert_eq!(failures, 2, "the third send waits");
    assert!(h.disconnected().is_none(), "{:?}", h.events);
    assert!(h.s.poll_timeout().is_some_and(|t| t > h.now), "a back-off");
}

/// `maxpause='0'` advertises no pause (R10-7): `pause()` is refused instead
/// of sending `pause='0'`, which ended the session at the next timer.
#[test]
fn xep0124_10_7_maxpause_0_is_no_pause() {
    let attrs = with_creation(|c| c.maxpause = Some(0));
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    assert_eq!(h.s.pause(h.now, 30), Err(ClientError::PauseNotSupported));
    h.tick_to(1);
    assert!(h.disconnected().is_none());
}

/// R12-2: a manager that forces polling with `requests='1'` need not send
/// `hold`; the client then holds no poll, so a stanza goes out at once.
#[test]
fn xep0124_12_2_requests_1_without_hold_is_a_polling_session() {
    let attrs = with_creation(|c| {
        c.hold = None;
        c.requests = Some(1);
    });
    let mut h = Harness::connected_with(ClientConfig::new("example.com"), &attrs, &[]);
    assert_eq!(h.s.params().unwrap().hold, 0);
    assert!(h.take_sends().is_empty(), "no long poll held");
    h.send("<message/>");
    h.fire();
    let t = h.one_send();
    assert_eq!(parse_body(&t).elements().count(), 1);
}
