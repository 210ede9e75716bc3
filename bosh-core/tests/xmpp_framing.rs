//! Integration tests of the XEP-0206 upstream stream framing (`bosh_core::xmpp`).

use bosh_core::body::{NS_HTTPBIND, ParseLimits, parse};
use bosh_core::xmpp::{
    ForbiddenConstruct, FramerLimits, FramingError, HeaderError, NS_JABBER_CLIENT, NS_STREAMS,
    SkipReason, StanzaKind, StreamEvent, StreamFramer, StreamHeader, bounce_undeliverable,
    classify_payload, write_stream_close,
};
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

// ---------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------

const HEADER_1: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' id='c2s-8d3f0a' from='example.com' \
    version='1.0' xml:lang='en'>";

/// What the server sends before the SASL restart (Prosody-like).
const FIRST_STREAM: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' id='c2s-8d3f0a' from='example.com' \
    version='1.0' xml:lang='en'>\
    <stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\
    <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
    <mechanism>PLAIN</mechanism></mechanisms></stream:features>\
    <challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wz</challenge>\
    <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9</success>";

/// What the server sends after it receives the restart header.
const SECOND_STREAM: &str = "<?xml version='1.0'?>\n<stream:stream xmlns='jabber:client' \
    xmlns:stream=\"http://etherx.jabber.org/streams\" id='c2s-91b2c7' from='example.com' \
    version='1.0' xml:lang='en'>\
    <stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind>\
    <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
    <sm xmlns='urn:xmpp:sm:3'/></stream:features>\
    <iq type='result' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
    <jid>juliet@example.com/balcony</jid></bind></iq> \
    <message from='romeo@example.net/orchard' to='juliet@example.com/balcony' type='chat' \
    id='m1' xml:lang='en'><body>Wherefore art thou, Romeo? \u{2603} &amp; \u{fc} &#x1F600;</body>\
    <![CDATA[<not a tag>]]></message> \n \
    <presence from='nurse@example.com/kitchen'><show>away</show></presence>\
    <r xmlns='urn:xmpp:sm:3'/> \
    <stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
    <text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Replaced by new connection</text>\
    </stream:error></stream:stream>";

fn transcript() -> (Vec<u8>, usize) {
    let mut bytes = FIRST_STREAM.as_bytes().to_vec();
    let restart_at = bytes.len();
    bytes.extend_from_slice(SECOND_STREAM.as_bytes());
    (bytes, restart_at)
}

fn drain(framer: &mut StreamFramer, events: &mut Vec<StreamEvent>) -> Result<(), FramingError> {
    while let Some(event) = framer.next_event()? {
        events.push(event);
    }
    Ok(())
}

/// Feeds `bytes` cut at `cuts` (and at `restart_at`, where the connection
/// manager calls `restart()` before sending its new header, as a real one
/// does: the server only answers after it), draining events after each chunk.
fn run(bytes: &[u8], restart_at: usize, cuts: &[usize]) -> Result<Vec<StreamEvent>, FramingError> {
    let mut points: Vec<usize> = cuts.iter().copied().filter(|&c| c < bytes.len()).collect();
    points.push(restart_at);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    let mut framer = StreamFramer::default();
    let mut events = Vec::new();
    let mut start = 0;
    for end in points {
        if start == restart_at {
            framer.restart();
        }
        framer.feed(&bytes[start..end]);
        drain(&mut framer, &mut events)?;
        start = end;
    }
    Ok(events)
}

fn whole_events() -> Vec<StreamEvent> {
    let (bytes, restart_at) = transcript();
    run(&bytes, restart_at, &[]).expect("the transcript is valid")
}

fn feed_all(input: &[u8]) -> (Vec<StreamEvent>, Result<(), FramingError>) {
    let mut framer = StreamFramer::default();
    framer.feed(input);
    let mut events = Vec::new();
    let result = drain(&mut framer, &mut events);
    (events, result)
}

fn first_error(input: &[u8]) -> FramingError {
    let (_, result) = feed_all(input);
    result.expect_err("input must be refused")
}

fn with_stream(body: &str) -> Vec<u8> {
    format!("{HEADER_1}{body}").into_bytes()
}

fn element_bytes(event: &StreamEvent) -> &[u8] {
    match event {
        StreamEvent::Features(bytes) => bytes,
        StreamEvent::Stanza(stanza) => &stanza.bytes,
        StreamEvent::Error(error) => &error.bytes,
        other => panic!("not an element event: {other:?}"),
    }
}

/// Parses `bytes` as a complete XML document with quick-xml's namespace-aware
/// reader: well-formed, exactly one root element, every prefix declared.
fn assert_standalone(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let mut reader = NsReader::from_str(text);
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .unwrap_or_else(|e| panic!("not well-formed ({e}): {text}"));
        let ns_is_unknown = matches!(ns, ResolveResult::Unknown(_));
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                assert!(!ns_is_unknown, "undeclared prefix in {text}");
                if depth == 0 {
                    roots += 1;
                }
                for attr in tag.attributes() {
                    let attr = attr.expect("attribute");
                    let (resolved, _) = reader.resolver().resolve_attribute(attr.key);
                    assert!(
                        !matches!(resolved, ResolveResult::Unknown(_)),
                        "undeclared attribute prefix in {text}"
                    );
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth -= 1,
            Event::Text(t) => assert!(depth > 0 || t.trim().is_empty(), "text outside root"),
            Event::GeneralRef(_) | Event::CData(_) => assert!(depth > 0),
            Event::Eof => break,
            other => panic!("unexpected {other:?} in {text}"),
        }
    }
    assert_eq!(depth, 0, "unbalanced: {text}");
    assert_eq!(roots, 1, "not exactly one root: {text}");
}

fn stanza_of(event: &StreamEvent) -> &bosh_core::xmpp::Stanza {
    match event {
        StreamEvent::Stanza(stanza) => stanza,
        other => panic!("expected a stanza, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The realistic transcript
// ---------------------------------------------------------------------------

#[test]
fn rfc6120_4_transcript_yields_expected_events() {
    let events = whole_events();
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e {
            StreamEvent::Opened(h) => format!("opened {}", h.id.as_deref().unwrap_or("-")),
            StreamEvent::Features(_) => "features".to_owned(),
            StreamEvent::Stanza(s) => format!("stanza {:?} {}", s.kind, s.name),
            StreamEvent::Error(e) => {
                format!("error {}", e.condition.as_deref().unwrap_or("-"))
            }
            StreamEvent::Closed => "closed".to_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "opened c2s-8d3f0a",
            "features",
            "stanza Other challenge",
            "stanza Other success",
            "opened c2s-91b2c7",
            "features",
            "stanza Iq iq",
            "stanza Message message",
            "stanza Presence presence",
            "stanza Other r",
            "error conflict",
            "closed",
        ]
    );
    let StreamEvent::Opened(header) = &events[0] else {
        panic!()
    };
    assert_eq!(header.from.as_deref(), Some("example.com"));
    assert_eq!(header.to, None);
    assert_eq!(header.version.as_deref(), Some("1.0"));
    assert_eq!(header.lang.as_deref(), Some("en"));
    assert_eq!(header.content_namespace.as_deref(), Some(NS_JABBER_CLIENT));
    let StreamEvent::Error(error) = &events[10] else {
        panic!()
    };
    assert_eq!(error.text.as_deref(), Some("Replaced by new connection"));
    let message = stanza_of(&events[7]);
    assert_eq!(message.namespace.as_deref(), Some(NS_JABBER_CLIENT));
    assert!(
        std::str::from_utf8(&message.bytes)
            .unwrap()
            .contains("Romeo? \u{2603} &amp; \u{fc} &#x1F600;</body><![CDATA[<not a tag>]]>")
    );
    for event in &events {
        if !matches!(event, StreamEvent::Opened(_) | StreamEvent::Closed) {
            assert_standalone(element_bytes(event));
        }
    }
}

#[test]
fn rfc6120_4_every_two_way_split_gives_identical_events() {
    let (bytes, restart_at) = transcript();
    let expected = whole_events();
    for cut in 1..bytes.len() {
        let events = run(&bytes, restart_at, &[cut]).expect("valid");
        assert_eq!(events, expected, "split at {cut}");
    }
}

#[test]
fn rfc6120_4_one_byte_chunks_give_identical_events() {
    let (bytes, restart_at) = transcript();
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(
        run(&bytes, restart_at, &cuts).expect("valid"),
        whole_events()
    );
}

#[test]
fn rfc6120_4_multibyte_utf8_split_inside_a_character() {
    let input = with_stream("<message><body>\u{2603}\u{1F600}</body></message>");
    let snowman = input
        .windows(3)
        .position(|w| w == "\u{2603}".as_bytes())
        .unwrap();
    for cut in [snowman + 1, snowman + 2, snowman + 4, snowman + 5] {
        let events = run(&input, 0, &[cut]).expect("valid");
        assert_eq!(events.len(), 2, "cut {cut}");
        assert!(
            std::str::from_utf8(element_bytes(&events[1]))
                .unwrap()
                .contains("\u{2603}\u{1F600}")
        );
    }
}

proptest! {
    #[test]
    fn rfc6120_4_arbitrary_chunkings_match_whole_feed(
        sizes in proptest::collection::vec(1usize..48, 0..120)
    ) {
        let (bytes, restart_at) = transcript();
        let mut cuts = Vec::new();
        let mut at = 0;
        for size in sizes {
            at += size;
            cuts.push(at);
        }
        prop_assert_eq!(run(&bytes, restart_at, &cuts).expect("valid"), whole_events());
    }

    #[test]
    fn framer_never_panics_on_arbitrary_bytes(
        prefix_len in 0usize..400,
        noise in proptest::collection::vec(any::<u8>(), 0..64),
        cut in 0usize..500,
    ) {
        let (bytes, _) = transcript();
        let mut input = bytes[..prefix_len.min(bytes.len())].to_vec();
        input.extend_from_slice(&noise);
        let cut = cut.min(input.len());
        let mut framer = StreamFramer::default();
        let mut events = Vec::new();
        framer.feed(&input[..cut]);
        let first = drain(&mut framer, &mut events);
        framer.feed(&input[cut..]);
        let second = drain(&mut framer, &mut events);
        if let Err(e) = first.and(second) {
            prop_assert_eq!(framer.next_event(), Err(e.clone()));
            prop_assert_eq!(framer.error(), Some(&e));
        }
    }
}

// ---------------------------------------------------------------------------
// Restart (XEP-0206 §5, X5-4)
// ---------------------------------------------------------------------------

#[test]
fn xep0206_5_restart_expects_new_stream_header() {
    let mut framer = StreamFramer::default();
    framer.feed(FIRST_STREAM.as_bytes());
    let mut events = Vec::new();
    drain(&mut framer, &mut events).unwrap();
    assert!(framer.header().is_some());
    framer.restart();
    // After a restart the stream header must come first again ...
    framer.feed(b"<?xml version='1.0'?><iq type='result' id='x'/>");
    assert!(matches!(
        framer.next_event(),
        Err(FramingError::UnexpectedRoot { name, .. }) if name == "iq"
    ));

    // ... and a new header (with its own XML declaration) is accepted.
    let mut framer = StreamFramer::default();
    framer.feed(FIRST_STREAM.as_bytes());
    drain(&mut framer, &mut Vec::new()).unwrap();
    framer.restart();
    framer.feed(SECOND_STREAM.as_bytes());
    let mut events = Vec::new();
    drain(&mut framer, &mut events).unwrap();
    let StreamEvent::Opened(header) = &events[0] else {
        panic!("expected the new header, got {:?}", events[0])
    };
    assert_eq!(header.id.as_deref(), Some("c2s-91b2c7"));
    assert_eq!(
        framer.header().and_then(|h| h.id.as_deref()),
        Some("c2s-91b2c7")
    );
}

#[test]
fn xep0206_5_restart_completes_a_partially_received_old_stanza_first() {
    let mut framer = StreamFramer::default();
    framer.feed(HEADER_1.as_bytes());
    framer.feed(b"<message from='a@example.com'><body>la");
    let mut events = Vec::new();
    drain(&mut framer, &mut events).unwrap();
    assert_eq!(events.len(), 1);
    framer.restart();
    framer.feed(b"te</body></message>  ");
    framer.feed(SECOND_STREAM.as_bytes());
    drain(&mut framer, &mut events).unwrap();
    let late = stanza_of(&events[1]);
    assert_eq!(
        &late.bytes[..],
        b"<message xmlns='jabber:client' from='a@example.com'><body>late</body></message>"
    );
    assert!(matches!(&events[2], StreamEvent::Opened(h) if h.id.as_deref() == Some("c2s-91b2c7")));
}

#[test]
fn xep0206_5_restart_before_draining_keeps_old_elements_in_old_stream() {
    let mut framer = StreamFramer::default();
    framer.feed(FIRST_STREAM.as_bytes());
    framer.restart(); // nothing drained yet
    framer.feed(SECOND_STREAM.as_bytes());
    let mut events = Vec::new();
    drain(&mut framer, &mut events).unwrap();
    assert_eq!(events, whole_events());
}

#[test]
fn xep0206_5_restart_with_whitespace_keepalive_before_new_header() {
    let mut framer = StreamFramer::default();
    framer.feed(FIRST_STREAM.as_bytes());
    framer.feed(b" \n ");
    drain(&mut framer, &mut Vec::new()).unwrap();
    framer.restart();
    framer.feed(b"   ");
    framer.feed(SECOND_STREAM.as_bytes());
    let mut events = Vec::new();
    drain(&mut framer, &mut events).unwrap();
    assert!(matches!(&events[0], StreamEvent::Opened(_)));
}

#[test]
fn rfc6120_4_4_stream_end_then_data_is_refused() {
    let (events, result) = feed_all(&with_stream("</stream:stream> \n"));
    assert_eq!(result, Ok(()));
    assert_eq!(events.last(), Some(&StreamEvent::Closed));
    let err = first_error(&with_stream("</stream:stream><message/>"));
    assert!(
        matches!(err, FramingError::DataAfterStreamEnd { .. }),
        "{err:?}"
    );
    let err = first_error(&with_stream("</stream:streamx>"));
    assert!(
        matches!(&err, FramingError::MismatchedEndTag { expected, found, .. }
            if expected == "stream:stream" && found == "stream:streamx"),
        "{err:?}"
    );
}

#[test]
fn rfc6120_4_7_self_closing_header_opens_and_closes() {
    let (events, result) =
        feed_all(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='x'/>");
    assert_eq!(result, Ok(()));
    assert!(matches!(&events[0], StreamEvent::Opened(_)));
    assert_eq!(events[1], StreamEvent::Closed);
}

// ---------------------------------------------------------------------------
// Standalone output (XEP-0206 §2)
// ---------------------------------------------------------------------------

#[test]
fn xep0206_2_stanza_without_xmlns_gets_stream_default_namespace() {
    let (events, result) = feed_all(&with_stream(
        "<presence/><iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    ));
    assert_eq!(result, Ok(()));
    assert_eq!(
        element_bytes(&events[1]),
        b"<presence xmlns='jabber:client'/>"
    );
    assert_eq!(
        element_bytes(&events[2]),
        b"<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"
    );
    for event in &events[1..] {
        assert_standalone(element_bytes(event));
    }
}

#[test]
fn xep0206_2_nondefault_content_namespace_is_propagated() {
    let input = b"<stream:stream xmlns='jabber:server' \
        xmlns:stream='http://etherx.jabber.org/streams'><message to='a@b'/>";
    let (events, result) = feed_all(input);
    assert_eq!(result, Ok(()));
    let stanza = stanza_of(&events[1]);
    assert_eq!(
        &stanza.bytes[..],
        b"<message xmlns='jabber:server' to='a@b'/>"
    );
    assert_eq!(stanza.kind, StanzaKind::Message);
}

#[test]
fn xep0206_2_features_get_stream_prefix_declaration() {
    let (events, result) = feed_all(&with_stream(
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    ));
    assert_eq!(result, Ok(()));
    assert_eq!(
        element_bytes(&events[1]),
        format!(
            "<stream:features xmlns:stream='{NS_STREAMS}'><bind \
             xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
        )
        .as_bytes()
    );
    assert!(matches!(events[1], StreamEvent::Features(_)));
    assert_standalone(element_bytes(&events[1]));
}

#[test]
fn xep0206_2_features_child_without_xmlns_gets_default_namespace_too() {
    let (events, result) = feed_all(&with_stream("<stream:features><foo/></stream:features>"));
    assert_eq!(result, Ok(()));
    assert_eq!(
        element_bytes(&events[1]),
        format!("<stream:features xmlns='jabber:client' xmlns:stream='{NS_STREAMS}'><foo/></stream:features>")
            .as_bytes()
    );
}

#[test]
fn xep0206_6_stream_error_is_standalone_with_condition() {
    let (events, result) = feed_all(&with_stream(
        "<stream:error><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>a &amp; b</text>\
         <system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
         <app xmlns='urn:example'/></stream:error>",
    ));
    assert_eq!(result, Ok(()));
    let StreamEvent::Error(error) = &events[1] else {
        panic!("{:?}", events[1])
    };
    assert_eq!(error.condition.as_deref(), Some("system-shutdown"));
    assert_eq!(error.text.as_deref(), Some("a & b"));
    assert!(
        error
            .bytes
            .starts_with(format!("<stream:error xmlns:stream='{NS_STREAMS}'>").as_bytes())
    );
    assert_standalone(&error.bytes);
}

#[test]
fn xep0206_2_element_using_header_prefix_gets_its_declaration() {
    let input =
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
        xmlns:db='jabber:server:dialback' xmlns:unused='urn:unused'>\
        <db:result from='a' to='b'>key</db:result>\
        <message><x db:flag='1'/></message>";
    let (events, result) = feed_all(input);
    assert_eq!(result, Ok(()));
    assert_eq!(
        element_bytes(&events[1]),
        b"<db:result xmlns:db='jabber:server:dialback' from='a' to='b'>key</db:result>"
    );
    let dialback = stanza_of(&events[1]);
    assert_eq!(
        dialback.namespace.as_deref(),
        Some("jabber:server:dialback")
    );
    assert_eq!(dialback.name, "result");
    assert_eq!(
        element_bytes(&events[2]),
        b"<message xmlns='jabber:client' xmlns:db='jabber:server:dialback'><x db:flag='1'/></message>"
    );
    for event in &events[1..] {
        assert_standalone(element_bytes(event));
    }
}

#[test]
fn xep0206_2_element_with_own_namespace_is_untouched_and_not_copied() {
    let input = with_stream("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1=</success>");
    let (events, result) = feed_all(&input);
    assert_eq!(result, Ok(()));
    let stanza = stanza_of(&events[1]);
    assert_eq!(
        &stanza.bytes[..],
        b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1=</success>"
    );
    assert_eq!(stanza.kind, StanzaKind::Other);
    assert_eq!(
        stanza.namespace.as_deref(),
        Some("urn:ietf:params:xml:ns:xmpp-sasl")
    );
    assert_standalone(&stanza.bytes);
    // A stream prefix declared again on the element itself is not duplicated.
    let (events, _) = feed_all(&with_stream(&format!(
        "<stream:features xmlns:stream='{NS_STREAMS}'/>"
    )));
    assert_eq!(
        element_bytes(&events[1]),
        format!("<stream:features xmlns:stream='{NS_STREAMS}'/>").as_bytes()
    );
}

#[test]
fn rfc6120_4_6_1_whitespace_keepalives_are_skipped() {
    let (events, result) = feed_all(&with_stream(" \n\t <presence/>  \r\n <presence/> "));
    assert_eq!(result, Ok(()));
    assert_eq!(events.len(), 3);
}

// ---------------------------------------------------------------------------
// Limits (RFC 6120 §13.12)
// ---------------------------------------------------------------------------

/// An element over the size limit is skipped as it arrives, without
/// buffering it, and the stream goes on: any user of the XMPP server can
/// send one, and ending the stream would end the recipient's session.
#[test]
fn rfc6120_13_12_oversize_stanza_skipped_without_buffering_and_the_stream_goes_on() {
    let limits = FramerLimits {
        max_stanza_bytes: 1024,
        max_depth: 64,
    };
    let mut framer = StreamFramer::new(limits);
    framer.feed(HEADER_1.as_bytes());
    assert!(matches!(
        framer.next_event(),
        Ok(Some(StreamEvent::Opened(_)))
    ));
    framer.feed(b"<message><body>");
    assert_eq!(framer.next_event(), Ok(None));
    framer.feed(&[b'a'; 1000]);
    assert_eq!(framer.next_event(), Ok(None));
    // Past the limit, and then a megabyte more: nothing is kept.
    for _ in 0..1024 {
        framer.feed(&[b'a'; 1024]);
        assert_eq!(framer.next_event(), Ok(None));
        assert!(framer.buffered_len() < 16, "{}", framer.buffered_len());
    }
    framer.feed(b"</body></message><presence/>");
    let mut events = Vec::new();
    drain(&mut framer, &mut events).expect("the stream goes on");
    assert_eq!(
        events[0],
        StreamEvent::Skipped {
            position: HEADER_1.len() as u64,
            reason: SkipReason::TooLarge { limit: 1024 }
        }
    );
    assert!(element_bytes(&events[1]).starts_with(b"<presence "));
    assert_eq!(events.len(), 2);
}

/// While skipping, `>` in attribute values and CDATA, and `</m>` in CDATA,
/// do not end the element early; a start tag that never ends holds
/// nothing.
#[test]
fn rfc6120_13_12_a_skipped_element_ends_where_its_end_tag_is() {
    let limits = FramerLimits {
        max_stanza_bytes: 256,
        max_depth: 64,
    };
    let tricky = format!(
        "<m a='>' b=\"x>y\"><x>{}</x><![CDATA[</m> ]] >]]><y/></m><presence/>",
        "z".repeat(300)
    );
    for cut in [1, 3, 7, tricky.len()] {
        let mut framer = StreamFramer::new(limits);
        framer.feed(HEADER_1.as_bytes());
        let mut events = Vec::new();
        for piece in tricky.as_bytes().chunks(cut) {
            framer.feed(piece);
            drain(&mut framer, &mut events).expect("well-formed");
        }
        assert!(
            matches!(
                events[1],
                StreamEvent::Skipped {
                    reason: SkipReason::TooLarge { limit: 256 },
                    ..
                }
            ),
            "{events:?}"
        );
        assert!(
            element_bytes(&events[2]).starts_with(b"<presence "),
            "pieces of {cut}: {events:?}"
        );
        assert_eq!(events.len(), 3, "pieces of {cut}");
    }
    let mut framer = StreamFramer::new(limits);
    framer.feed(HEADER_1.as_bytes());
    framer.feed(b"<m a='");
    for _ in 0..100 {
        framer.feed(&[b'v'; 1000]);
        drain(&mut framer, &mut Vec::new()).expect("still skipping");
        assert!(framer.buffered_len() < 16, "{}", framer.buffered_len());
    }
}

#[test]
fn rfc6120_13_12_element_exactly_at_limit_is_accepted() {
    let header = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";
    let element = "<presence><status>xx</status></presence>";
    let limit = header.len().max(element.len());
    let padded = format!(
        "<presence><status>{}</status></presence>",
        "x".repeat(limit - element.len() + 2)
    );
    assert_eq!(padded.len(), limit);
    let mut framer = StreamFramer::new(FramerLimits {
        max_stanza_bytes: limit,
        max_depth: 64,
    });
    framer.feed(header.as_bytes());
    framer.feed(padded.as_bytes());
    let mut events = Vec::new();
    drain(&mut framer, &mut events).expect("exactly at the limit");
    assert_eq!(events.len(), 2);
    // One byte more is skipped.
    framer.feed(
        format!(
            "<presence><status>{}</status></presence>",
            "x".repeat(limit - element.len() + 3)
        )
        .as_bytes(),
    );
    assert!(matches!(
        framer.next_event(),
        Ok(Some(StreamEvent::Skipped { reason: SkipReason::TooLarge { limit: l }, .. })) if l == limit
    ));
    // The header is bounded by the same limit, and that is an error.
    let mut small = StreamFramer::new(FramerLimits {
        max_stanza_bytes: header.len() - 1,
        max_depth: 64,
    });
    small.feed(header.as_bytes());
    assert!(matches!(
        small.next_event(),
        Err(FramingError::TooLarge { position: 0, .. })
    ));
}

#[test]
fn rfc6120_13_12_too_deep_skipped_and_the_stream_goes_on() {
    let limits = FramerLimits {
        max_stanza_bytes: 4096,
        max_depth: 3,
    };
    let mut framer = StreamFramer::new(limits);
    framer.feed(&with_stream("<a><b><c/></b></a>"));
    let mut events = Vec::new();
    drain(&mut framer, &mut events).expect("depth 3 is fine");
    assert_eq!(events.len(), 2);
    let start = (HEADER_1.len() + "<a><b><c/></b></a>".len()) as u64;
    framer.feed(b"<a><b><c><d>");
    assert_eq!(framer.next_event(), Ok(None));
    framer.feed(b"<e/></d></c></b></a><presence/>");
    let mut more = Vec::new();
    drain(&mut framer, &mut more).expect("the stream goes on");
    assert_eq!(
        more[0],
        StreamEvent::Skipped {
            position: start,
            reason: SkipReason::TooDeep { limit: 3 }
        }
    );
    assert!(element_bytes(&more[1]).starts_with(b"<presence "));
    // An empty element counts as a level too.
    let mut framer = StreamFramer::new(limits);
    framer.feed(&with_stream("<a><b><c><d/></c></b></a><presence/>"));
    let mut events = Vec::new();
    drain(&mut framer, &mut events).expect("the stream goes on");
    assert!(matches!(
        events[1],
        StreamEvent::Skipped {
            reason: SkipReason::TooDeep { limit: 3 },
            ..
        }
    ));
    assert!(element_bytes(&events[2]).starts_with(b"<presence "));
}

// ---------------------------------------------------------------------------
// Malformed input (RFC 6120 §11)
// ---------------------------------------------------------------------------

/// Found by the `stream_framer` fuzz target: `xmlns:xmlns` passed the
/// framer, and the stanza it handed out was not a standalone element (the
/// body codec refuses it). Namespaces in XML 1.0 §3 reserves both prefixes.
#[test]
fn rfc6120_11_reserved_namespace_prefixes_cannot_be_declared() {
    for bad in [
        "<text xmlns:xmlns='urn:x'/>",
        "<text xmlns:xml='urn:x'/>",
        "<text xmlns:x='http://www.w3.org/XML/1998/namespace'/>",
        "<text xmlns:x='http://www.w3.org/2000/xmlns/'/>",
        "<text xmlns='http://www.w3.org/XML/1998/namespace'/>",
        "<text xmlns='http://www.w3.org/2000/xmln&#115;/'/>",
    ] {
        let err = first_error(&with_stream(bad));
        assert!(
            matches!(err, FramingError::NotWellFormed { .. }),
            "{bad}: {err:?}"
        );
    }
    let mut framer = StreamFramer::default();
    framer.feed(&with_stream(
        "<text xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
    ));
    let mut events = Vec::new();
    drain(&mut framer, &mut events).expect("`xml` may be declared as itself");
    assert_eq!(events.len(), 2);
}

#[test]
fn rfc6120_11_mismatched_end_tag_is_refused() {
    let err = first_error(&with_stream("<message><body>x</bdy></message>"));
    assert!(
        matches!(&err, FramingError::MismatchedEndTag { expected, found, .. }
            if expected == "body" && found == "bdy"),
        "{err:?}"
    );
}

#[test]
fn rfc6120_11_mismatched_end_tag_is_refused_without_waiting_for_more() {
    let mut framer = StreamFramer::default();
    framer.feed(&with_stream("<message><body>x"));
    assert!(matches!(
        framer.next_event(),
        Ok(Some(StreamEvent::Opened(_)))
    ));
    assert_eq!(framer.next_event(), Ok(None));
    framer.feed(b"</message>");
    let err = framer.next_event().expect_err("mismatch detected at once");
    assert_eq!(
        err,
        FramingError::MismatchedEndTag {
            position: (HEADER_1.len() + "<message><body>x".len()) as u64,
            expected: "body".to_owned(),
            found: "message".to_owned(),
        }
    );
}

#[test]
fn rfc6120_13_12_large_stanza_in_one_byte_chunks_is_scanned_once() {
    // Linear work: a quadratic rescan would not finish in reasonable time.
    let body = "a".repeat(200 * 1024);
    let input = with_stream(&format!("<message><body>{body}</body></message>"));
    let mut framer = StreamFramer::default();
    let mut events = Vec::new();
    for byte in &input {
        framer.feed(std::slice::from_ref(byte));
        drain(&mut framer, &mut events).unwrap();
    }
    assert_eq!(events.len(), 2);
    assert_eq!(framer.buffered_len(), 0);
}

#[test]
fn rfc6120_11_6_invalid_utf8_is_refused_with_position() {
    let mut input = with_stream("<message><body>");
    let bad_at = input.len() + 1;
    input.extend_from_slice(b"a\xff</body></message>");
    assert_eq!(
        first_error(&input),
        FramingError::InvalidUtf8 {
            position: bad_at as u64
        }
    );
    // A truncated multi-byte character.
    let mut input = with_stream("<message><body>");
    input.extend_from_slice(b"\xe2\x98</body></message>");
    assert!(matches!(
        first_error(&input),
        FramingError::InvalidUtf8 { .. }
    ));
}

#[test]
fn rfc6120_11_1_doctype_is_forbidden() {
    let err = first_error(b"<!DOCTYPE stream [<!ENTITY x 'y'>]><stream:stream>");
    assert_eq!(
        err,
        FramingError::Forbidden {
            position: 0,
            construct: ForbiddenConstruct::Doctype
        }
    );
    let err = first_error(&with_stream("<message><!DOCTYPE x></message>"));
    assert!(matches!(
        err,
        FramingError::Forbidden {
            construct: ForbiddenConstruct::Doctype,
            ..
        }
    ));
}

#[test]
fn rfc6120_11_1_comment_is_forbidden() {
    let at = HEADER_1.len() as u64;
    assert_eq!(
        first_error(&with_stream("<!-- hi --><presence/>")),
        FramingError::Forbidden {
            position: at,
            construct: ForbiddenConstruct::Comment
        }
    );
    assert_eq!(
        first_error(&with_stream("<presence><!-- hi --></presence>")),
        FramingError::Forbidden {
            position: at + 10,
            construct: ForbiddenConstruct::Comment
        }
    );
}

#[test]
fn rfc6120_11_1_processing_instruction_is_forbidden() {
    let pi = ForbiddenConstruct::ProcessingInstruction;
    let err = first_error(&with_stream("<presence><?php x ?></presence>"));
    assert!(matches!(err, FramingError::Forbidden { construct, .. } if construct == pi));
    let err = first_error(&with_stream("<?xml version='1.0'?><presence/>"));
    assert!(matches!(err, FramingError::Forbidden { construct, .. } if construct == pi));
    let err = first_error(b"<?xml-stylesheet href='x'?><stream:stream>");
    assert!(matches!(err, FramingError::Forbidden { position: 0, construct } if construct == pi));
    let err = first_error(b"<?xml version='1.0'?><?xml version='1.0'?><stream:stream>");
    assert!(matches!(err, FramingError::Forbidden { position: 21, construct } if construct == pi));
}

#[test]
fn rfc6120_11_1_undefined_entity_is_refused() {
    let err = first_error(&with_stream("<message><body>&foo;</body></message>"));
    assert!(
        matches!(&err, FramingError::UndefinedEntity { name, .. } if name == "foo"),
        "{err:?}"
    );
    let err = first_error(&with_stream("<message to='&bar;'/>"));
    assert!(
        matches!(&err, FramingError::UndefinedEntity { name, .. } if name == "bar"),
        "{err:?}"
    );
}

#[test]
fn xml_1_0_lt_in_attribute_value_is_refused() {
    let input = with_stream("<message to='a<b'/>");
    let lt = HEADER_1.len() + "<message to='a".len();
    assert_eq!(
        first_error(&input),
        FramingError::LtInAttributeValue {
            position: lt as u64
        }
    );
}

#[test]
fn xml_1_0_invalid_characters_and_references_are_refused() {
    assert!(matches!(
        first_error(&with_stream("<message><body>\u{1}</body></message>")),
        FramingError::InvalidChar { .. }
    ));
    assert!(matches!(
        first_error(&with_stream("<message><body>&#1;</body></message>")),
        FramingError::InvalidCharRef { .. }
    ));
    assert!(matches!(
        first_error(&with_stream("<message to='&#0;'/>")),
        FramingError::InvalidCharRef { .. }
    ));
    assert!(matches!(
        first_error(&with_stream("<message><body>]]></body></message>")),
        FramingError::NotWellFormed { .. }
    ));
}

#[test]
fn rfc6120_4_8_text_and_bad_roots_are_refused() {
    assert!(matches!(
        first_error(&with_stream("hello<presence/>")),
        FramingError::UnexpectedText { .. }
    ));
    assert!(matches!(
        first_error(&with_stream("<![CDATA[x]]>")),
        FramingError::UnexpectedText { .. }
    ));
    assert!(matches!(
        first_error(b"<html><body/>"),
        FramingError::UnexpectedRoot { name, .. } if name == "html"
    ));
    // right name, wrong namespace
    assert!(matches!(
        first_error(b"<stream:stream xmlns:stream='urn:not-streams'>"),
        FramingError::UnexpectedRoot { .. }
    ));
    assert!(matches!(
        first_error(b"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>"),
        FramingError::UnsupportedEncoding { encoding, .. } if encoding == "ISO-8859-1"
    ));
    assert!(matches!(
        first_error(&with_stream("<foo:bar/>")),
        FramingError::UndeclaredPrefix { prefix, .. } if prefix == "foo"
    ));
    assert!(matches!(
        first_error(&with_stream("<message a='1' a='2'/>")),
        FramingError::NotWellFormed { .. }
    ));
}

// ---------------------------------------------------------------------------
// XML 1.0 names and attribute separation (fuzzer regressions: the body
// parser refused elements the framer had forwarded)
// ---------------------------------------------------------------------------

/// Wraps `element` in a `<body/>` and parses it with the crate's body
/// parser: the element can be relayed to the client as is.
fn assert_relayable(element: &[u8]) {
    let mut doc = format!("<body xmlns='{NS_HTTPBIND}'>").into_bytes();
    doc.extend_from_slice(element);
    doc.extend_from_slice(b"</body>");
    if let Err(e) = parse(&doc, &ParseLimits::default()) {
        panic!(
            "the body parser refuses {:?}: {e}",
            String::from_utf8_lossy(element)
        );
    }
}

/// Frames `element` after a stream header; checks that the framer forwards
/// it and that the body parser takes what it forwards.
fn forwarded(element: &str) -> StreamEvent {
    let (mut events, result) = feed_all(&with_stream(element));
    assert_eq!(result, Ok(()), "{element}");
    assert_eq!(events.len(), 2, "{element}");
    let event = events.remove(1);
    assert_relayable(element_bytes(&event));
    event
}

/// The error for `input`, checked to be the same in one-byte chunks.
fn error_in_any_chunking(input: &[u8]) -> FramingError {
    let whole = first_error(input);
    let cuts: Vec<usize> = (1..input.len()).collect();
    let chunked = run(input, input.len(), &cuts).expect_err("input must be refused");
    assert_eq!(chunked, whole, "the error depends on the chunking");
    whole
}

/// Checks that the framer refuses `element` (after a stream header) as not
/// well-formed for the reason starting with `reason`, in any chunking.
fn assert_refused_as(element: &str, reason: &str) {
    let err = error_in_any_chunking(&with_stream(element));
    assert!(
        matches!(&err, FramingError::NotWellFormed { reason: r, .. } if r.starts_with(reason)),
        "{element:?}: {err:?}"
    );
}

#[test]
fn xmpp_framer_refuses_attributes_without_separating_space() {
    // XML 1.0 §3.1 [40] STag ::= '<' Name (S Attribute)* S? '>': white space
    // before every attribute, including right after a quoted value.
    for (element, missing) in [
        ("<message to='a@b'from='c@d'/>", "from="),
        ("<message to=\"a@b\"from=\"c@d\"/>", "from="),
        (
            "<message to='a@b'type='chat'><body>hi</body></message>",
            "type=",
        ),
        (
            "<message><body xml:lang='en'a='1'>hi</body></message>",
            "a='1'",
        ),
        ("<presence a='1'\"/>", "\"/>"),
    ] {
        let input = with_stream(element);
        let position = (HEADER_1.len() + element.find(missing).unwrap()) as u64;
        let expected = FramingError::NotWellFormed {
            position,
            reason: "no white space before an attribute".into(),
        };
        assert_eq!(error_in_any_chunking(&input), expected, "{element}");
        // Refused as soon as the offending byte arrives.
        let (_, result) = feed_all(&input[..=position as usize]);
        assert_eq!(result, Err(expected), "{element}");
    }
    // In the stream header too.
    let header =
        b"<stream:stream xmlns='jabber:client'xmlns:stream='http://etherx.jabber.org/streams'>";
    assert!(matches!(
        error_in_any_chunking(header),
        FramingError::NotWellFormed { position: 36, .. }
    ));
    // And in the client-to-server helpers.
    assert!(matches!(
        classify_payload(b"<message to='a@b'type='chat'/>"),
        Err(FramingError::NotWellFormed { position: 17, .. })
    ));
    assert!(matches!(
        bounce_undeliverable(b"<message to='a@b'type='chat'><body>hi</body></message>"),
        Err(FramingError::NotWellFormed { position: 17, .. })
    ));

    // Any white space separates; `/>` and `>` may follow a value directly;
    // `Eq` may have white space around it.
    let element =
        "<message to = 'a@b'\tfrom='c@d'\r\ntype='chat' id=\"x\"\n><body a='1'>hi</body></message>";
    assert_eq!(stanza_of(&forwarded(element)).kind, StanzaKind::Message);
    assert_eq!(
        stanza_of(&forwarded("<presence type='away'/>")).kind,
        StanzaKind::Presence
    );
}

#[test]
fn xmpp_framer_refuses_non_name_char_in_element_name() {
    // XML 1.0 (5th edition) [4] NameStartChar, [4a] NameChar: U+0083 (a C1
    // control), U+00D7 `×` and U+00F7 `÷` are in neither; U+00B7 `·` and
    // U+0300..U+036F only after the first character.
    for element in [
        "<m\u{83}/>",
        "<\u{83}m/>",
        "<m\u{D7}/>",
        "<m\u{F7} xmlns='urn:x'/>",
        "<\u{B7}m/>",
        "<\u{300}m/>",
        "<message><b\u{83}>hi</b\u{83}></message>",
        "<x\u{83}:m xmlns:x\u{83}='urn:x'/>",
        "<x:m\u{83} xmlns:x='urn:x'/>",
    ] {
        assert_refused_as(element, "invalid element name");
    }
    // The stream header and the client-to-server helpers apply the same rule.
    assert!(matches!(
        first_error(
            "<stream:stream\u{83} xmlns:stream='http://etherx.jabber.org/streams'>".as_bytes()
        ),
        FramingError::NotWellFormed { reason, .. } if reason.starts_with("invalid element name")
    ));
    assert!(matches!(
        classify_payload("<message\u{83}/>".as_bytes()),
        Err(FramingError::NotWellFormed { .. })
    ));
    assert!(matches!(
        bounce_undeliverable("<message><b\u{83}/></message>".as_bytes()),
        Err(FramingError::NotWellFormed { .. })
    ));

    // Non-ASCII name characters that XML allows are accepted, and what the
    // framer forwards, the body parser takes.
    for (element, name) in [
        ("<ünïcode xmlns='urn:x'/>", "ünïcode"),
        (
            "<m\u{B7}\u{300}\u{203F} xmlns='urn:x'/>",
            "m\u{B7}\u{300}\u{203F}",
        ),
        ("<日本:語 xmlns:日本='urn:x'><日本:b/></日本:語>", "語"),
        ("<message><\u{10000}>hi</\u{10000}></message>", "message"),
    ] {
        assert_eq!(stanza_of(&forwarded(element)).name, name);
    }
}

#[test]
fn xmpp_framer_refuses_non_name_char_in_attribute_name() {
    for element in [
        "<message a\u{83}='1'/>",
        "<message \u{B7}a='1'/>",
        "<message xmlns:x\u{83}='urn:x'/>",
        "<message><body a\u{D7}='1'>hi</body></message>",
    ] {
        assert_refused_as(element, "invalid attribute name");
    }
    forwarded("<message xmlns:é='urn:x' é:à\u{B7}='1' ü='2'/>");
}

#[test]
fn framer_errors_are_sticky() {
    let mut framer = StreamFramer::default();
    framer.feed(&with_stream(
        "<presence/><message><!-- x --></message><presence/>",
    ));
    assert!(matches!(
        framer.next_event(),
        Ok(Some(StreamEvent::Opened(_)))
    ));
    assert!(matches!(
        framer.next_event(),
        Ok(Some(StreamEvent::Stanza(_)))
    ));
    let err = framer.next_event().expect_err("comment");
    for _ in 0..3 {
        assert_eq!(framer.next_event(), Err(err.clone()));
    }
    framer.feed(b"<presence/>");
    framer.restart();
    assert_eq!(framer.next_event(), Err(err.clone()));
    assert_eq!(framer.error(), Some(&err));
    assert_eq!(framer.buffered_len(), 0);
}

// ---------------------------------------------------------------------------
// Outgoing header (RFC 6120 §4.7, XEP-0206 §3)
// ---------------------------------------------------------------------------

#[test]
fn xep0206_3_header_writer_emits_attributes() {
    let mut out = Vec::new();
    let header = StreamHeader {
        from: Some("juliet@example.com"),
        lang: Some("en"),
        ..StreamHeader::new("example.com")
    };
    header.write(&mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='example.com' \
         from='juliet@example.com' xml:lang='en' version='1.0'>"
    );
    write_stream_close(&mut out);
    assert!(out.ends_with(b"'1.0'></stream:stream>"));

    let mut out = Vec::new();
    StreamHeader {
        version: None,
        ..StreamHeader::new("example.com")
    }
    .write(&mut out)
    .unwrap();
    assert!(out.ends_with(b" to='example.com'>"));
}

#[test]
fn xep0206_3_header_writer_escapes_values() {
    let mut out = Vec::new();
    StreamHeader {
        from: Some("a'b\"c<d>e&f"),
        lang: Some("x\ty"),
        ..StreamHeader::new("ex&ample.com")
    }
    .write(&mut out)
    .unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.contains(" to='ex&amp;ample.com'"), "{text}");
    assert!(
        text.contains(" from='a&apos;b&quot;c&lt;d&gt;e&amp;f'"),
        "{text}"
    );
    assert!(text.contains(" xml:lang='x&#9;y'"), "{text}");
    // What we write, our own framer reads back (round trip through a server echo).
    let echoed = text.replace(" to='", " id='s1' to='");
    let (events, result) = feed_all(echoed.as_bytes());
    assert_eq!(result, Ok(()));
    let StreamEvent::Opened(header) = &events[0] else {
        panic!()
    };
    assert_eq!(header.to.as_deref(), Some("ex&ample.com"));
    assert_eq!(header.from.as_deref(), Some("a'b\"c<d>e&f"));
    assert_eq!(header.lang.as_deref(), Some("x\ty"));
}

#[test]
fn xep0206_3_header_writer_refuses_non_xml_characters() {
    let mut out = Vec::new();
    let err = StreamHeader::new("exa\u{0}mple.com").write(&mut out);
    assert_eq!(err, Err(HeaderError::InvalidChar { attribute: "to" }));
    assert!(out.is_empty(), "nothing written");
}

// ---------------------------------------------------------------------------
// Client payload classification (XEP-0206 §2, X2-2)
// ---------------------------------------------------------------------------

#[test]
fn xep0206_2_classify_payload_without_namespace_is_jabber_client() {
    let info = classify_payload(
        b"<message to='romeo@example.net' type='chat' id='a1'><body>hi</body></message>",
    )
    .unwrap();
    assert_eq!(info.kind, StanzaKind::Message);
    assert_eq!(info.name, "message");
    assert!(info.lacks_namespace());
    assert!(info.is_jabber_client());
    assert_eq!(info.stanza_type.as_deref(), Some("chat"));
    assert_eq!(info.id.as_deref(), Some("a1"));

    let info = classify_payload(b" <iq xmlns='jabber:client' type='get' id='p'/> ").unwrap();
    assert_eq!(info.kind, StanzaKind::Iq);
    assert!(!info.lacks_namespace());
    assert!(info.is_jabber_client());

    let info = classify_payload(b"<presence/>").unwrap();
    assert_eq!(info.kind, StanzaKind::Presence);

    let info = classify_payload(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>").unwrap();
    assert_eq!(info.kind, StanzaKind::Other);
    assert!(!info.is_jabber_client());

    let info = classify_payload(b"<message xmlns='urn:other'/>").unwrap();
    assert_eq!(info.kind, StanzaKind::Other);

    assert!(matches!(
        classify_payload(b"<x:message/>"),
        Err(FramingError::UndeclaredPrefix { .. })
    ));
    assert!(matches!(
        classify_payload(b"hello"),
        Err(FramingError::NotWellFormed { .. })
    ));
}

// ---------------------------------------------------------------------------
// Bounces for undeliverable stanzas (XEP-0206 §7, X7-1)
// ---------------------------------------------------------------------------

fn bounce(input: &str) -> Option<String> {
    bounce_undeliverable(input.as_bytes())
        .expect("valid stanza")
        .map(|b| String::from_utf8(b).expect("UTF-8"))
}

#[test]
fn xep0206_7_iq_get_bounces_service_unavailable() {
    let out = bounce(
        "<iq xmlns='jabber:client' type='get' id='v1' from='romeo@example.net/orchard' \
         to='juliet@example.com/balcony'><query xmlns='jabber:iq:version'/></iq>",
    )
    .expect("bounced");
    assert_eq!(
        out,
        "<iq xmlns='jabber:client' type='error' id='v1' from='juliet@example.com/balcony' \
         to='romeo@example.net/orchard'><query xmlns='jabber:iq:version'/><error type='cancel'>\
         <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    assert_standalone(out.as_bytes());
}

#[test]
fn xep0206_7_iq_set_bounces_and_gains_jabber_client() {
    let out = bounce("<iq type='set' id='s&amp;1' from='a@b/c' to='d@e/f'/>").expect("bounced");
    assert_eq!(
        out,
        "<iq xmlns='jabber:client' type='error' id='s&amp;1' from='d@e/f' to='a@b/c'>\
         <error type='cancel'><service-unavailable \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    assert_standalone(out.as_bytes());
    // the bounce is itself an error stanza: bouncing it again gives nothing
    assert_eq!(bounce(&out), None);
}

#[test]
fn xep0206_7_iq_result_and_error_are_not_bounced() {
    assert_eq!(
        bounce("<iq type='result' id='1' from='a@b' to='c@d'/>"),
        None
    );
    assert_eq!(
        bounce(
            "<iq type='error' id='1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        ),
        None
    );
}

#[test]
fn xep0206_7_message_chat_bounces_recipient_unavailable() {
    let out = bounce(
        "<message xmlns='jabber:client' xmlns:x='urn:x' type='chat' id='m1' xml:lang='en' \
         from='romeo@example.net/orchard' to='juliet@example.com/balcony'>\
         <body>Art thou there?</body><x:thread x:a='1'>t1</x:thread></message>",
    )
    .expect("bounced");
    assert_eq!(
        out,
        "<message xmlns='jabber:client' xmlns:x='urn:x' type='error' id='m1' \
         from='juliet@example.com/balcony' to='romeo@example.net/orchard' xml:lang='en'>\
         <body>Art thou there?</body><x:thread x:a='1'>t1</x:thread><error type='wait'>\
         <recipient-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    );
    assert_standalone(out.as_bytes());
    // a message without type is `normal` and is bounced too
    assert!(bounce("<message to='a@b'><body>x</body></message>").is_some());
}

#[test]
fn xep0206_7_prefixed_stanza_bounce_keeps_error_in_content_namespace() {
    let out = bounce("<c:message xmlns:c='jabber:client' to='a@b' from='c@d'/>").expect("bounced");
    assert_eq!(
        out,
        "<c:message xmlns:c='jabber:client' type='error' from='a@b' to='c@d'>\
         <c:error type='wait'><recipient-unavailable \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></c:error></c:message>"
    );
    assert_standalone(out.as_bytes());
}

/// Found in review: RFC 6121 §8.5.2.1.1 and §8.5.3.2.1 have a server ignore
/// a headline for an unavailable recipient and answer a groupchat message
/// `service-unavailable`; both got `recipient-unavailable`, and a bounced
/// pubsub notification can cost the user the subscription.
#[test]
fn xep0206_7_headline_is_dropped_and_groupchat_is_service_unavailable() {
    assert_eq!(
        bounce(
            "<message type='headline' from='pubsub.example.com' to='u@example.com/r'>\
             <event xmlns='http://jabber.org/protocol/pubsub#event'/></message>"
        ),
        None
    );
    let out = bounce(
        "<message type='groupchat' from='room@muc.example.com/nick' to='u@example.com/r'>\
         <body>hi</body></message>",
    )
    .expect("bounced");
    assert!(
        out.contains("<error type='cancel'><service-unavailable"),
        "{out}"
    );
    assert_standalone(out.as_bytes());
}

#[test]
fn xep0206_7_message_error_is_not_bounced() {
    assert_eq!(
        bounce(
            "<message type='error' from='a@b' to='c@d'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        ),
        None
    );
}

#[test]
fn xep0206_7_presence_is_dropped_not_bounced() {
    assert_eq!(bounce("<presence from='a@b/c' to='d@e'/>"), None);
    assert_eq!(
        bounce("<presence type='subscribe' from='a@b' to='d@e'/>"),
        None
    );
    assert_eq!(bounce("<r xmlns='urn:xmpp:sm:3'/>"), None);
}

#[test]
fn xep0206_7_bounce_refuses_malformed_or_non_standalone_input() {
    assert!(matches!(
        bounce_undeliverable(b"<message><body></message>"),
        Err(FramingError::MismatchedEndTag { .. })
    ));
    assert!(matches!(
        bounce_undeliverable(b"<message><x:y/></message>"),
        Err(FramingError::UndeclaredPrefix { .. })
    ));
    assert!(matches!(
        bounce_undeliverable(b"<message/><message/>"),
        Err(FramingError::NotWellFormed { .. })
    ));
    assert!(matches!(
        bounce_undeliverable(b"<message><body>"),
        Err(FramingError::NotWellFormed { .. })
    ));
}

#[test]
fn xep0206_7_bounce_of_framer_output_round_trips() {
    let (events, result) = feed_all(&with_stream(
        "<message from='romeo@example.net' to='juliet@example.com' id='k'><body>hi</body></message>",
    ));
    assert_eq!(result, Ok(()));
    let out = bounce_undeliverable(element_bytes(&events[1]))
        .unwrap()
        .expect("bounced");
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(
        "<message xmlns='jabber:client' type='error' id='k' from='juliet@example.com' to='romeo@example.net'>"
    ));
    assert_standalone(text.as_bytes());
}
