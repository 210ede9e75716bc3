//! The client and the connection manager meet, through a simulated network
//! (see `sim/mod.rs` for the harness and `sim/check.rs` for the properties):
//! named scenarios, then random schedules (proptest).
//!
//! Debugging aids: `PROPTEST_RNG_SEED` replays a proptest run;
//! `SIM_TRACE_LINES=n` prints more of a failing run's trace;
//! `SIM_DEBUG_ENDING=text` fails (and shrinks) the first random run whose
//! ending (`client / server`) contains `text`, to see how it came about.

mod sim;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use bosh_core::Condition;
use bosh_core::client::{DisconnectReason, Failure, SessionState};
use bosh_core::server::{Leniency, ServerConfig, TerminationReason, Warning};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sim::net::NetConfig;
use sim::xmpp::{BIND_FEATURES, SASL_FEATURES};
use sim::{Action, Sim, SimConfig, check::Ending};

const EMPTY: &str = "<body xmlns='http://jabber.org/protocol/httpbind'/>";

fn ms(sim: &Sim, t: std::time::Instant) -> u64 {
    t.duration_since(sim.base).as_millis() as u64
}

/// Runs `cfg` to the end and checks the properties.
fn run(cfg: SimConfig) -> (Sim, Ending) {
    let mut sim = Sim::new(cfg);
    sim.run();
    let ending = sim.assert_properties();
    (sim, ending)
}

// ----- named scenarios -----

/// Long polling with hold=1 (XEP-0124 §8, R10-1): the manager holds one
/// request, answers it as soon as a stanza arrives (one latency to the
/// client), answers it empty at `wait` when idle, and never holds more than
/// `hold`; every stanza arrives once, in order, both ways.
#[test]
fn sim_long_poll_hold_1_delivers_both_ways() {
    let mut cfg = SimConfig::new(7);
    cfg.net = NetConfig::perfect(50);
    for t in [1_000, 3_000, 5_000, 200_000, 200_500] {
        cfg = cfg.at(t, Action::ClientSend);
    }
    for t in [2_000, 3_500, 150_000, 200_250, 260_000] {
        cfg = cfg.at(t, Action::ServerSend);
    }
    let (sim, ending) = run(cfg);
    assert_eq!(ending, Ending::Completed);
    assert_eq!(sim.client_end(), Some(&DisconnectReason::Terminated));
    assert_eq!(
        sim.server_end().map(|e| e.1),
        Some(TerminationReason::ClientTerminate)
    );
    assert_eq!(sim.app.received, [0, 1, 2, 3, 4]);
    assert_eq!(sim.upstream().client_ids, [0, 1, 2, 3, 4]);
    assert_eq!(sim.server_log().max_open, 1, "never more than hold");
    // A held request carries each stanza at once: one latency.
    let x = sim.upstream();
    for (n, sent) in x.sent_at.iter().enumerate() {
        let got = sim.app.received_at[n];
        assert!(
            got.duration_since(*sent) <= Duration::from_millis(60),
            "s{n} took {:?}",
            got.duration_since(*sent)
        );
    }
    // Idle from 5 s to 150 s: one poll per `wait` (answered empty at 60 s),
    // nothing more, nothing resent.
    let idle: Vec<_> = sim
        .client_sends
        .iter()
        .filter(|s| (10_000..140_000).contains(&ms(&sim, s.at)))
        .collect();
    assert_eq!(idle.len(), 2, "{idle:#?}");
    assert!(idle.iter().all(|s| s.attempt == 1));
    assert!(ms(&sim, idle[1].at) - ms(&sim, idle[0].at) >= 60_000);
}

/// A response carrying a stanza is lost. The client resends the same rid
/// byte-identical (R14.3-3) and the manager replays the same response
/// (R14.3-4): the stanza arrives exactly once, before the later ones. Three
/// ways to notice: a transport failure (resent at once); silence with acks,
/// where the next request's `ack` makes the manager `report` the missing
/// response (§9.2, R9.2-4, R9.2-5); silence without acks, where a later
/// response marks the request dead and the secondary timeout fires.
#[test]
fn sim_lost_response_recovered_by_replay() {
    for (notice, acks) in [(true, true), (false, true), (false, false)] {
        let what = format!("notice={notice} acks={acks}");
        let mut cfg = SimConfig::new(11);
        cfg.net.lose_responses_with = vec![("id='s1'".into(), 1)];
        cfg.net.notice = if notice { 1.0 } else { 0.0 };
        cfg.client.use_acks = acks;
        for t in [1_000, 2_000, 3_000] {
            cfg = cfg.at(t, Action::ServerSend);
        }
        for t in [1_500, 2_500] {
            cfg = cfg.at(t, Action::ClientSend);
        }
        let (sim, ending) = run(cfg);
        assert_eq!(ending, Ending::Completed, "{what}");
        assert_eq!(sim.app.received, [0, 1, 2], "{what}");
        assert_eq!(sim.upstream().client_ids, [0, 1], "{what}");
        // Two identical responses carried s1: the lost one and the replay.
        let with_s1: Vec<_> = sim
            .net
            .responses
            .iter()
            .filter(|(_, b)| sim::net::contains(b, "id='s1'"))
            .collect();
        assert_eq!(with_s1.len(), 2, "{what}");
        assert_eq!(with_s1[0].1, with_s1[1].1, "{what}: R14.3-4 byte-identical");
        // One rid went out twice, byte-identical.
        let resent: Vec<_> = sim.client_sends.iter().filter(|s| s.attempt > 1).collect();
        assert_eq!(resent.len(), 1, "{what}: {resent:#?}");
        let both = sim.sends_of(resent[0].rid);
        assert_eq!(both[0].body, both[1].body, "{what}: R14.3-3");
        // s1 was answered at 2 s.
        let resent_at = ms(&sim, both[1].at);
        let reported = sim
            .net
            .responses
            .iter()
            .any(|(_, b)| sim::net::contains(b, "report="));
        match (notice, acks) {
            (true, _) => assert!(resent_at <= 2_050, "{what}: at once, {resent_at}"),
            (false, true) => {
                // The next request (c1 at 2.5 s) carries the old ack.
                assert!(reported, "{what}");
                assert!((2_500..2_600).contains(&resent_at), "{what}: {resent_at}");
            }
            (false, false) => {
                // Dead once s2's response came (3 s): 6 s later.
                assert!(!reported, "{what}");
                assert!((9_000..9_100).contains(&resent_at), "{what}: {resent_at}");
            }
        }
    }
}

/// The client state is exported to a string while the poll is held; the
/// process goes away (its browser closes the connection) and another one
/// attaches from the string, one rid further (Strophe's cached next rid when
/// a body was built and never sent). The manager skips the rid that never
/// comes (R14.2-5): at once when the attached process's requests show it has
/// given up on it (its first stanza beyond the window, or its `ack`), or
/// after `rid_gap_timeout` (75 s), even though the client keeps timing out
/// and resending its buffered poll meanwhile.
#[test]
fn sim_rid_gap_after_export_attach_in_another_process() {
    struct Case {
        acks: bool,
        first_stanza_ms: u64,
        resent: bool,
    }
    let cases = [
        // Strophe (no acks), a stanza soon after the attach.
        Case {
            acks: false,
            first_stanza_ms: 25_000,
            resent: false,
        },
        // Strophe, nothing to send for a while: the gap timer.
        Case {
            acks: false,
            first_stanza_ms: 200_000,
            resent: true,
        },
        // With acks: the first request's missing `ack` says it all.
        Case {
            acks: true,
            first_stanza_ms: 25_000,
            resent: false,
        },
    ];
    for case in cases {
        let mut cfg = SimConfig::new(13);
        cfg.client.use_acks = case.acks;
        cfg = cfg
            .at(1_000, Action::ClientSend)
            .at(2_000, Action::ServerSend)
            .at(20_000, Action::ExportAttach { rid_gap: true })
            .at(case.first_stanza_ms, Action::ClientSend)
            .at(case.first_stanza_ms + 5_000, Action::ServerSend)
            .at(case.first_stanza_ms + 6_000, Action::ClientSend);
        let (sim, ending) = run(cfg);
        let what = format!("acks={} first={}", case.acks, case.first_stanza_ms);
        assert_eq!(ending, Ending::Completed, "{what}");
        assert_eq!(sim.app.received, [0, 1], "{what}");
        assert_eq!(sim.upstream().client_ids, [0, 1, 2], "{what}");
        assert!(
            sim.server_log()
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::RidGapSkipped { from, to } if from == to)),
            "{what}: {:?}",
            sim.server_log().warnings
        );
        // The attached process started one rid past the exporting one's next.
        let last_old = sim
            .client_sends
            .iter()
            .filter(|s| s.proc_id == 0)
            .map(|s| s.rid)
            .max()
            .unwrap();
        let first_new = sim.client_sends.iter().find(|s| s.proc_id == 1).unwrap();
        assert_eq!(first_new.rid, last_old + 2, "{what}");
        let resends = sim.sends_of(first_new.rid).len() > 1;
        assert_eq!(resends, case.resent, "{what}");
        // Strophe's first poll waited out the 75 s gap timer, across the
        // client's 66 s timeout and resend.
        if case.resent {
            let answered = sim.sends_of(first_new.rid + 1)[0].at;
            assert!(ms(&sim, answered) >= 95_000, "{what}");
        }
    }
}

/// The client pauses (XEP-0124 §10) for longer than `inactivity`: the
/// manager answers the held request at once (R10-8) and raises inactivity to
/// the pause; the client sends nothing until it resumes; what both sides sent
/// meanwhile arrives after the resume.
#[test]
fn sim_pause_then_resume() {
    let mut cfg = SimConfig::new(17);
    cfg.server.inactivity = 20;
    cfg = cfg
        .at(5_000, Action::Pause(100))
        .at(30_000, Action::ServerSend)
        .at(50_000, Action::ClientSend)
        .at(60_000, Action::ServerSend)
        .at(90_000, Action::Resume)
        .at(95_000, Action::ServerSend);
    let (sim, ending) = run(cfg);
    assert_eq!(ending, Ending::Completed);
    assert_eq!(sim.app.received, [0, 1, 2]);
    assert_eq!(sim.upstream().client_ids, [0]);
    let pause = sim
        .client_sends
        .iter()
        .find(|s| sim::net::contains(&s.body, "pause='100'"))
        .expect("pause sent");
    assert_eq!(ms(&sim, pause.at), 5_000);
    // R10-8: the held poll came back at once (one round trip).
    let held_back = sim
        .client_sends
        .iter()
        .filter(|s| s.rid < pause.rid)
        .all(|s| s.attempt == 1);
    assert!(held_back);
    let during: Vec<_> = sim
        .client_sends
        .iter()
        .filter(|s| (5_001..90_000).contains(&ms(&sim, s.at)))
        .collect();
    assert!(during.is_empty(), "nothing while paused: {during:#?}");
    // Queued stanzas flow right after the resume.
    assert!(
        sim.app.received_at[..2]
            .iter()
            .all(|t| ms(&sim, *t) < 91_000)
    );
}

/// SASL then the XEP-0206 restart (X5): `<auth/>` goes upstream, `<success/>`
/// comes back, the client restarts (`xmpp:restart='true'`, no payload), the
/// manager restarts the stream and answers the restart request with the new
/// features. The answer to the restart request is lost once: the resent
/// restart is replayed, not executed twice.
#[test]
fn sim_restart_after_sasl() {
    let mut cfg = SimConfig::new(19);
    cfg.net.lose_responses_with = vec![("xmpp-bind'/></stream:features>".into(), 1)];
    cfg = cfg
        .at(2_000, Action::ClientSend)
        .at(2_500, Action::ServerSend);
    let (sim, ending) = run(cfg);
    assert_eq!(ending, Ending::Completed);
    let x = sim.upstream();
    assert_eq!((x.opens, x.restarts), (1, 1), "{:?}", x.commands);
    let auth = x.commands.iter().position(|c| c.contains("<auth")).unwrap();
    let restart = x.commands.iter().position(|c| c == "restart").unwrap();
    let bind = x
        .commands
        .iter()
        .position(|c| c.contains("bind_1"))
        .unwrap();
    assert!(x.commands[0] == "open" && auth < restart && restart < bind);
    assert_eq!(sim.app.features, [SASL_FEATURES, BIND_FEATURES]);
    let restarts: Vec<_> = sim
        .client_sends
        .iter()
        .filter(|s| sim::net::contains(&s.body, "xmpp:restart='true'"))
        .collect();
    assert_eq!(restarts.len(), 2, "sent, then resent once");
    assert_eq!(restarts[0].body, restarts[1].body);
    assert!(!sim::net::contains(&restarts[0].body, "<message"));
    assert_eq!(sim.app.received, [0]);
    assert_eq!(x.client_ids, [0]);
}

/// hold=2: the client terminates (§13) while two polls are held. The manager
/// forwards the terminate payload (R13-2), acknowledges on the oldest open
/// request with `type='terminate'` and answers the others empty (R13-5),
/// closes the upstream stream; both sides end `Terminated`/`ClientTerminate`.
#[test]
fn sim_terminate_while_requests_are_held() {
    let mut cfg = SimConfig::new(23);
    cfg.server.max_hold = 2;
    cfg.client.hold = 2;
    cfg.auto_terminate = false;
    cfg = cfg
        .at(2_000, Action::ClientSend)
        .at(3_000, Action::ServerSend)
        .at(10_000, Action::Terminate);
    let (sim, ending) = run(cfg);
    assert_eq!(
        ending,
        Ending::Ended {
            client: Some(DisconnectReason::Terminated),
            server: Some(TerminationReason::ClientTerminate),
        }
    );
    assert_eq!(sim.app.received, [0]);
    let x = sim.upstream();
    assert_eq!(x.client_ids, [0]);
    assert!(x.saw_bye && x.closed_by_cm);
    assert!(
        x.commands.iter().position(|c| c.contains("id='bye'"))
            < x.commands.iter().position(|c| c == "close")
    );
    assert_eq!(sim.server_log().max_open, 2);
    // The two held polls and the terminate request, in rid order.
    let last: Vec<String> = sim.net.responses[sim.net.responses.len() - 3..]
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(last[0].contains("type='terminate'") && !last[0].contains("condition"));
    assert_eq!(last[1], EMPTY);
    assert_eq!(last[2], EMPTY);
    let (at, _) = sim.app.end.as_ref().unwrap();
    assert!(ms(&sim, *at) < 10_100, "acknowledged within a round trip");
}

/// The client process vanishes (no connection closed). The manager answers
/// the held poll at `wait` to nobody, expires the session `inactivity` later
/// (R10-3) bouncing the undelivered stanza (X7-1), forgets it after the
/// linger; a process attaching later gets `item-not-found` (R10-4): both
/// sides agree.
#[test]
fn sim_server_inactivity_expiry() {
    let mut cfg = SimConfig::new(29);
    cfg.auto_terminate = false;
    cfg = cfg
        .at(1_000, Action::ClientSend)
        .at(1_500, Action::ServerSend)
        .at(10_000, Action::ClientVanish)
        .at(80_000, Action::ServerSend);
    let mut sim = Sim::new(cfg);
    sim.run_until(sim.at(9_000), false);
    let saved = sim.client.as_ref().unwrap().export().unwrap().to_string();
    let last_request = sim.client_sends.last().unwrap().at;
    sim.run();
    let (end, why) = sim.server_end().unwrap();
    assert_eq!(why, TerminationReason::Inactivity);
    // Held until `wait`, then `inactivity` with nothing open.
    let expected = ms(&sim, last_request) + 20 + 60_000 + 60_000;
    assert!(
        ms(&sim, end).abs_diff(expected) <= 50,
        "{} vs {expected}",
        ms(&sim, end)
    );
    assert_eq!(sim.upstream().bounced, [1], "X7-1");
    let closed = sim.server_log().closed.unwrap();
    assert_eq!(closed.duration_since(end), Duration::from_secs(30));
    assert!(sim.servers.is_empty() && sim.endpoint.session_count() == 0);
    // Another process attaches, too late.
    let state: SessionState = saved.parse().unwrap();
    sim.attach(state);
    sim.run();
    assert_eq!(
        sim.client_end(),
        Some(&DisconnectReason::Condition(Condition::ItemNotFound))
    );
    assert_eq!(sim.forgotten_sid_answers, 1);
    assert!(matches!(sim.assert_properties(), Ending::Ended { .. }));
}

/// Everything fails from 30 s on (the network is gone; every attempt is a
/// transport failure). The client resends its held poll's rid with Strophe's
/// back-off (at once, 8 s, 27 s, 64 s) and gives up after the fifth
/// consecutive failure. The manager, which never hears from it again, ends
/// the session by inactivity: that is how the two agree (see
/// `sim/check.rs`), even though the server ended first (about 122 s) and the
/// client later (about 161 s).
#[test]
fn sim_five_consecutive_failures_end_the_client() {
    let mut cfg = SimConfig::new(31);
    cfg.auto_terminate = false;
    cfg.net.partitions = vec![(Duration::from_secs(30), Duration::from_secs(86_400))];
    cfg = cfg
        .at(1_000, Action::ClientSend)
        .at(2_000, Action::ServerSend);
    let (sim, ending) = run(cfg);
    assert_eq!(
        ending,
        Ending::Ended {
            client: Some(DisconnectReason::TooManyErrors(Failure::Transport)),
            server: Some(TerminationReason::Inactivity),
        }
    );
    let failed = sim.client_sends.iter().find(|s| s.attempt == 5).unwrap();
    let tries: Vec<u64> = sim
        .sends_of(failed.rid)
        .iter()
        .map(|s| ms(&sim, s.at))
        .collect();
    // Held for `wait` (60 s); its answer is lost at 62 s: resent at once,
    // then after 8 s, 27 s, 64 s; the fifth failure ends it.
    let gaps: Vec<u64> = tries
        .windows(2)
        .map(|w| (w[1] - w[0] + 500) / 1000)
        .collect();
    assert_eq!(gaps, [60, 8, 27, 64], "{tries:?}");
    let (end, _) = sim.app.end.as_ref().unwrap();
    assert!(
        sim.client_sends.iter().all(|s| s.at <= *end),
        "nothing after"
    );
    assert!(
        sim.server_end().unwrap().0 < *end,
        "the server expired first"
    );
    assert_eq!(sim.app.received, [0]);
    assert_eq!(sim.upstream().client_ids, [0]);
}

/// Regression (server): `close()` while no request is open (the held one
/// just answered, the next still on its way); the next request is told
/// `system-shutdown`, not `item-not-found`.
#[test]
fn sim_shutdown_between_requests_reaches_the_client() {
    let mut cfg = SimConfig::new(37);
    cfg.net = NetConfig::perfect(500);
    cfg.auto_terminate = false;
    cfg = cfg
        .at(5_000, Action::ServerSend)
        .at(5_500, Action::ServerShutdown);
    let (sim, ending) = run(cfg);
    assert_eq!(
        ending,
        Ending::Ended {
            client: Some(DisconnectReason::Condition(Condition::SystemShutdown)),
            server: Some(TerminationReason::Condition(Condition::SystemShutdown)),
        }
    );
    assert_eq!(sim.app.received, [0]);
}

/// A scripted event of the random runs, besides stanzas.
#[derive(Debug, Clone)]
enum Extra {
    PauseResume { secs: u16, resume_after_s: u16 },
    UpstreamClose,
    ServerShutdown,
    Attach { rid_gap: bool },
    Partition { secs: u16 },
    Terminate,
}

#[derive(Debug, Clone)]
struct Params {
    seed: u64,
    lose_request: f64,
    lose_response: f64,
    break_conn: f64,
    notice: f64,
    latency_ms: (u64, u64),
    reorder: f64,
    reorder_ms: u64,
    wait: u16,
    hold: u8,
    acks: bool,
    client_at_ms: Vec<u64>,
    server_at_ms: Vec<u64>,
    extras: Vec<(u64, Extra)>,
}

fn extra() -> impl Strategy<Value = Extra> {
    prop_oneof![
        // Most pauses are resumed in time; about one in eight runs out.
        4 => (1u16..90, 0.0..1.15f64).prop_map(|(secs, f)| Extra::PauseResume {
            secs,
            resume_after_s: (f64::from(secs) * f) as u16,
        }),
        1 => Just(Extra::UpstreamClose),
        1 => Just(Extra::ServerShutdown),
        3 => any::<bool>().prop_map(|rid_gap| Extra::Attach { rid_gap }),
        2 => (1u16..45).prop_map(|secs| Extra::Partition { secs }),
        1 => Just(Extra::Terminate),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    (
        (
            any::<u64>(),
            0.0..0.2f64,
            0.0..0.2f64,
            0.0..0.1f64,
            0.0..=1.0f64,
            (1u64..300, 0u64..2000),
            0.0..0.3f64,
            0u64..3000,
        ),
        (
            prop_oneof![Just(5u16), Just(10), Just(30), Just(60)],
            0u8..=2,
            any::<bool>(),
            prop::collection::vec(0u64..120_000, 0..16),
            prop::collection::vec(0u64..120_000, 0..16),
            prop::collection::vec((0u64..120_000, extra()), 0..3),
        ),
    )
        .prop_map(
            |(
                (seed, lreq, lresp, brk, notice, (lat, spread), reorder, reorder_ms),
                (wait, hold, acks, client_at_ms, server_at_ms, extras),
            )| Params {
                seed,
                lose_request: lreq,
                lose_response: lresp,
                break_conn: brk,
                notice,
                latency_ms: (lat, lat + spread),
                reorder,
                reorder_ms,
                wait,
                hold,
                acks,
                client_at_ms,
                server_at_ms,
                extras,
            },
        )
}

fn config(p: &Params) -> SimConfig {
    let mut cfg = SimConfig::new(p.seed);
    cfg.server = ServerConfig {
        max_wait: p.wait,
        max_hold: 2,
        // Without acks a connection manager cannot tell a rid the client
        // gave up on from one it is still retrying (XEP-0124 has no signal
        // for it), so lenient gap skipping may deliver a late request's
        // stanzas out of order: a documented trade-off for restored Strophe
        // sessions, covered by the named attach scenarios. The random
        // property holds the strict rule there (the gap ends the session,
        // and both sides agree); with acks the client's ack decides exactly.
        leniency: Leniency {
            rid_gap: p.acks,
            ..Leniency::default()
        },
        ..ServerConfig::default()
    };
    cfg.client.wait = p.wait;
    cfg.client.hold = p.hold;
    cfg.client.use_acks = p.acks;
    cfg.net = NetConfig {
        latency_ms: p.latency_ms,
        reorder: p.reorder,
        reorder_ms: p.reorder_ms,
        lose_request: p.lose_request,
        lose_response: p.lose_response,
        break_conn: p.break_conn,
        notice: p.notice,
        partitions: Vec::new(),
        lose_responses_with: Vec::new(),
    };
    for &t in &p.client_at_ms {
        cfg = cfg.at(t, Action::ClientSend);
    }
    for &t in &p.server_at_ms {
        cfg = cfg.at(t, Action::ServerSend);
    }
    for (t, e) in &p.extras {
        cfg = match e {
            Extra::PauseResume {
                secs,
                resume_after_s,
            } => cfg
                .at(*t, Action::Pause(*secs))
                .at(t + u64::from(*resume_after_s) * 1000, Action::Resume),
            Extra::UpstreamClose => cfg.at(*t, Action::UpstreamClose),
            Extra::ServerShutdown => cfg.at(*t, Action::ServerShutdown),
            Extra::Attach { rid_gap } => cfg.at(*t, Action::ExportAttach { rid_gap: *rid_gap }),
            Extra::Partition { secs } => {
                let from = Duration::from_millis(*t);
                cfg.net
                    .partitions
                    .push((from, from + Duration::from_secs(u64::from(*secs))));
                cfg
            }
            Extra::Terminate => cfg.at(*t, Action::Terminate),
        };
    }
    cfg
}

fn label(e: &Ending) -> String {
    match e {
        Ending::Completed => "completed".into(),
        Ending::Ended { client, server } => format!("{client:?} / {server:?}"),
    }
}

#[test]
fn sim_random_schedules_deliver_exactly_once_in_order_or_end_in_agreement() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let endings: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
    let result = runner.run(&params(), |p| {
        let mut sim = Sim::new(config(&p));
        sim.run();
        match sim::check::check(&sim) {
            Ok(e) => {
                if let Ok(want) = std::env::var("SIM_DEBUG_ENDING")
                    && label(&e).contains(&want)
                {
                    return Err(TestCaseError::fail(format!(
                        "DEBUG {}\n{}",
                        label(&e),
                        sim.trace_tail(
                            std::env::var("SIM_TRACE_LINES")
                                .ok()
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(150)
                        )
                    )));
                }
                *endings.borrow_mut().entry(label(&e)).or_default() += 1;
                Ok(())
            }
            Err(msg) => Err(TestCaseError::fail(format!(
                "{msg}\n--- trace ---\n{}",
                sim.trace_tail(
                    std::env::var("SIM_TRACE_LINES")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(150)
                )
            ))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let endings = endings.into_inner();
    let completed = endings.get("completed").copied().unwrap_or(0);
    let total: usize = endings.values().sum();
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{total} runs, endings (client / server): {endings:#?}");
    }
    if total >= 64 {
        // Typically 45-60 % complete; the rest end on a scripted upstream
        // close, shutdown, terminate, an expired pause, a partition longer
        // than the client's five tries, or loss.
        assert!(
            completed * 10 >= total * 4,
            "most runs should complete: {endings:#?}"
        );
        assert!(completed < total, "some runs should end: {endings:#?}");
    }
}
