//! The exported session state and its string form (attach / restore).

use bosh_core::Rid;
use bosh_core::body::Version;
use bosh_core::client::{KeyState, ParseStateError, SessionState};
use proptest::prelude::*;

fn full() -> SessionState {
    let mut s = SessionState::new("a b&c=d%é", Rid::new(42).unwrap());
    s.wait = 30;
    s.hold = 2;
    s.requests = 3;
    s.jid = Some("juliet@example.com/balcony 1".to_owned());
    s.ver = Some(Version::new(1, 11));
    s.polling = Some(5);
    s.inactivity = Some(60);
    s.maxpause = Some(120);
    s.acks = true;
    s.stream = Some("first".to_owned());
    s.keys = Some(KeyState::new(vec![0, 1, 0xfe, 0xff], 100, 37));
    s
}

#[test]
fn session_state_string_round_trips_every_field() {
    let s = full();
    let text = s.to_string();
    assert_eq!(
        text,
        "v=1&sid=a%20b%26c%3Dd%25%C3%A9&rid=42&wait=30&hold=2&requests=3\
         &jid=juliet%40example.com%2Fbalcony%201&ver=1.11&polling=5&inactivity=60\
         &maxpause=120&acks=1&stream=first&keyseed=0001feff&keylen=100&keyleft=37"
    );
    assert_eq!(text.parse::<SessionState>(), Ok(s));
}

#[test]
fn minimal_state_is_what_strophe_attach_needs() {
    let s = SessionState::new("SomeSID", Rid::new(1573741825).unwrap());
    assert_eq!(
        s.to_string(),
        "v=1&sid=SomeSID&rid=1573741825&wait=60&hold=1&requests=2"
    );
    assert_eq!(s.to_string().parse(), Ok(s));
}

#[test]
fn parsing_accepts_any_order_plus_as_space_and_unknown_keys() {
    let s: SessionState = "requests=2&future=x&hold=1&wait=60&rid=7&sid=a+b&v=1&jid=x%40y"
        .parse()
        .unwrap();
    assert_eq!(s.sid, "a b");
    assert_eq!(s.rid.get(), 7);
    assert_eq!(s.jid.as_deref(), Some("x@y"));
    assert!(!s.acks);
}

#[test]
fn parsing_rejects_bad_input() {
    let ok = "v=1&sid=S&rid=7&wait=60&hold=1&requests=2";
    assert!(ok.parse::<SessionState>().is_ok());
    let cases: &[(&str, ParseStateError)] = &[
        (
            "v=2&sid=S&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::UnsupportedVersion,
        ),
        (
            "sid=S&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::Missing("v"),
        ),
        (
            "v=1&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::Missing("sid"),
        ),
        (
            "v=1&sid=&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::Invalid("sid"),
        ),
        (
            "v=1&sid=S&rid=0&wait=60&hold=1&requests=2",
            ParseStateError::Invalid("rid"),
        ),
        (
            "v=1&sid=S&rid=9007199254740992&wait=60&hold=1&requests=2",
            ParseStateError::Invalid("rid"),
        ),
        (
            "v=1&sid=S&rid=-7&wait=60&hold=1&requests=2",
            ParseStateError::Invalid("rid"),
        ),
        (
            "v=1&sid=S&rid=7&wait=65536&hold=1&requests=2",
            ParseStateError::Invalid("wait"),
        ),
        (
            "v=1&sid=S&rid=7&wait=60&hold=256&requests=2",
            ParseStateError::Invalid("hold"),
        ),
        (
            "v=1&sid=S&rid=7&wait=60&hold=1&requests=+2",
            ParseStateError::Invalid("requests"),
        ),
        (
            "v=1&sid=S&sid=T&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::Duplicate("sid".into()),
        ),
        (
            "v=1&sid=S%2&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::Malformed,
        ),
        (
            "v=1&sid=%FF&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::Malformed,
        ),
        (
            "v=1&sid&rid=7&wait=60&hold=1&requests=2",
            ParseStateError::Malformed,
        ),
        (
            "v=1&sid=S&rid=7&wait=60&hold=1&requests=2&keyseed=00",
            ParseStateError::Missing("keyseed, keylen and keyleft"),
        ),
        (
            "v=1&sid=S&rid=7&wait=60&hold=1&requests=2&keyseed=0&keylen=5&keyleft=2",
            ParseStateError::Invalid("keyseed"),
        ),
        (
            "v=1&sid=S&rid=7&wait=60&hold=1&requests=2&acks=yes",
            ParseStateError::Invalid("acks"),
        ),
        (
            "v=1&sid=S&rid=7&wait=60&hold=1&requests=2&ver=1",
            ParseStateError::Invalid("ver"),
        ),
    ];
    for (input, err) in cases {
        assert_eq!(
            input.parse::<SessionState>().as_ref().err(),
            Some(err),
            "{input}"
        );
    }
}

#[test]
fn key_state_debug_hides_the_seed() {
    let s = full();
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("254") && !debug.contains("seed:"),
        "{debug}"
    );
}

proptest! {
    #[test]
    fn any_state_round_trips_through_its_string(
        sid in "\\PC{1,20}",
        rid in 1u64..=Rid::MAX.get(),
        wait: u16, hold: u8, requests: u8,
        jid in proptest::option::of("\\PC{0,30}"),
        polling: Option<u16>, acks: bool,
        seed in proptest::collection::vec(any::<u8>(), 1..32),
        keys: bool,
    ) {
        let mut s = SessionState::new(sid, Rid::new(rid).unwrap());
        s.wait = wait;
        s.hold = hold;
        s.requests = requests;
        s.jid = jid;
        s.polling = polling;
        s.acks = acks;
        if keys {
            s.keys = Some(KeyState::new(seed, 10, 3));
        }
        let text = s.to_string();
        prop_assert!(text.bytes().all(|b| b.is_ascii_graphic()));
        prop_assert_eq!(text.parse::<SessionState>(), Ok(s));
    }

    #[test]
    fn parsing_arbitrary_strings_never_panics(input in "\\PC{0,200}") {
        let _ = input.parse::<SessionState>();
    }
}
