//! The `<body/>` codec against the XEP examples, hostile inputs, and
//! round-trip properties.

use std::collections::BTreeMap;
use std::path::Path;

use bosh_core::body::{
    Body, BodyAttrs, BodyType, CreationAttrs, ExtraAttribute, MAX_NAMESPACES_IN_SCOPE, NS_HTTPBIND,
    NamespaceDecl, ParseErrorKind, ParseLimits, Version, parse, parse_bytes, uri_element,
    write_body,
};
use bosh_core::{Condition, Rid};
use bytes::Bytes;

fn limits() -> ParseLimits {
    ParseLimits::default()
}

fn ok(input: &[u8]) -> Body {
    match parse(input, &limits()) {
        Ok(b) => b,
        Err(e) => panic!("{e} in {:?}", String::from_utf8_lossy(input)),
    }
}

fn emit(body: &Body) -> Vec<u8> {
    let mut out = Vec::new();
    body.write(&mut out);
    out
}

/// The value of each manifest key as the typed field renders it.
fn field(attrs: &BodyAttrs, key: &str) -> Option<String> {
    let s = |v: &Option<String>| v.clone();
    let n = |v: Option<u16>| v.map(|x| x.to_string());
    match key {
        "rid" => attrs.rid.map(|r| r.to_string()),
        "sid" => attrs.sid.as_deref().map(str::to_owned),
        "to" => s(&attrs.creation().to),
        "from" => s(&attrs.creation().from),
        "route" => s(&attrs.creation().route),
        "xml_lang" => s(&attrs.creation().xml_lang),
        "ver" => attrs.creation().ver.map(|v| v.to_string()),
        "wait" => n(attrs.creation().wait),
        "hold" => attrs.creation().hold.map(|x| x.to_string()),
        "requests" => attrs.creation().requests.map(|x| x.to_string()),
        "polling" => n(attrs.creation().polling),
        "inactivity" => n(attrs.creation().inactivity),
        "maxpause" => n(attrs.creation().maxpause),
        "pause" => n(attrs.pause),
        "ack" => attrs.ack.map(|r| r.to_string()),
        "report" => attrs.report.map(|r| r.to_string()),
        "time" => n(attrs.time),
        "accept" => attrs.creation().accept.as_ref().map(|l| l.join(",")),
        "charsets" => attrs.creation().charsets.as_ref().map(|l| l.join(" ")),
        "content" => s(&attrs.creation().content),
        "key" => s(&attrs.key),
        "newkey" => s(&attrs.newkey),
        "stream" => s(&attrs.stream),
        "authid" => s(&attrs.creation().authid),
        "type" => attrs.body_type.map(|t| t.as_str().to_owned()),
        "condition" => attrs.condition.map(|c| c.as_str().to_owned()),
        "xmpp_version" => attrs.creation().xmpp_version.map(|v| v.to_string()),
        "xmpp_restart" => attrs.xmpp_restart.map(|b| b.to_string()),
        "xmpp_restartlogic" => attrs.creation().xmpp_restartlogic.map(|b| b.to_string()),
        other => panic!("unknown manifest key {other}"),
    }
}

const ATTR_KEYS: &[&str] = &[
    "rid",
    "sid",
    "to",
    "from",
    "route",
    "xml_lang",
    "ver",
    "wait",
    "hold",
    "requests",
    "polling",
    "inactivity",
    "maxpause",
    "pause",
    "ack",
    "report",
    "time",
    "accept",
    "charsets",
    "content",
    "key",
    "newkey",
    "stream",
    "authid",
    "type",
    "condition",
    "xmpp_version",
    "xmpp_restart",
    "xmpp_restartlogic",
];

#[test]
fn xep0124_and_xep0206_examples_parse_to_expected_fields() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/xep");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut items = line.split('\t');
        let file = items.next().unwrap();
        let expected: BTreeMap<&str, &str> = items
            .map(|i| {
                i.split_once('=')
                    .unwrap_or_else(|| panic!("{file}: bad item {i}"))
            })
            .collect();
        let input = std::fs::read(dir.join(file)).unwrap();
        let body = parse(&input, &limits()).unwrap_or_else(|e| panic!("{file}: {e}"));
        for key in ATTR_KEYS {
            let want = expected.get(key).map(|v| v.to_string());
            // Lists are normalised: `a, b` reads as ["a", "b"].
            let want = match *key {
                "accept" => want.map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(",")
                }),
                "charsets" => want.map(|v| v.split_whitespace().collect::<Vec<_>>().join(" ")),
                _ => want,
            };
            assert_eq!(field(&body.attrs, key), want, "{file}: {key}");
        }
        let children: usize = expected["children"].parse().unwrap();
        assert_eq!(body.elements().count(), children, "{file}: children");
        if let Some(first) = expected.get("first_child") {
            let e = body.elements().next().unwrap();
            assert!(
                e.starts_with(format!("<{first}").as_bytes()),
                "{file}: first child"
            );
        }
        assert!(
            body.attrs.extra.is_empty(),
            "{file}: unexpected extra attributes"
        );
        // emit -> parse -> emit is byte-stable, and the value survives.
        let once = emit(&body);
        let again = ok(&once);
        assert_eq!(again, body, "{file}: value changed by emit/parse");
        assert_eq!(emit(&again), once, "{file}: emit not byte-stable");
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} vectors");
}

#[test]
fn xep0124_22_attribute_ranges_are_enforced() {
    let b = ok(
        b"<body xmlns='http://jabber.org/protocol/httpbind' rid='9007199254740991' \
        wait='65535' hold='255' requests='255' time='0' ack='1'/>",
    );
    assert_eq!(b.attrs.rid, Rid::new(9_007_199_254_740_991));
    assert_eq!(b.attrs.creation().wait, Some(65535));
    assert_eq!(b.attrs.creation().hold, Some(255));
    // XML Schema lexical forms: leading '+', leading zeros, surrounding spaces.
    let b = ok(b"<body xmlns='http://jabber.org/protocol/httpbind' rid=' +0042 ' wait='060'/>");
    assert_eq!(b.attrs.rid, Rid::new(42));
    assert_eq!(b.attrs.creation().wait, Some(60));
}

#[test]
fn xep0206_booleans_accept_true_1_false_0() {
    for (v, want) in [("true", true), ("1", true), ("false", false), ("0", false)] {
        let input = format!(
            "<body xmlns='{NS_HTTPBIND}' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='{v}' xmpp:restartlogic='{v}'/>"
        );
        let b = ok(input.as_bytes());
        assert_eq!(b.attrs.xmpp_restart, Some(want));
        assert_eq!(b.attrs.creation().xmpp_restartlogic, Some(want));
    }
}

#[test]
fn xep0206_attributes_recognised_by_namespace_whatever_the_prefix() {
    let b = ok(
        b"<body xmlns='http://jabber.org/protocol/httpbind' xmlns:x='urn:xmpp:xbosh' \
        x:version='1.0' x:restart='true'/>",
    );
    assert_eq!(b.attrs.creation().xmpp_version, Some(Version::new(1, 0)));
    assert_eq!(b.attrs.xmpp_restart, Some(true));
    // A prefix named xmpp bound to another namespace is not XEP-0206.
    let b = ok(
        b"<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:other' \
        xmpp:version='1.0'/>",
    );
    assert_eq!(b.attrs.creation().xmpp_version, None);
    assert_eq!(
        b.attrs.extra,
        vec![ExtraAttribute {
            namespace: Some("urn:other".into()),
            name: "xmpp:version".into(),
            value: "1.0".into()
        }]
    );
    // Lenient: an undeclared xmpp prefix is read as urn:xmpp:xbosh.
    let b = ok(b"<body xmlns='http://jabber.org/protocol/httpbind' xmpp:version='1.0'/>");
    assert_eq!(b.attrs.creation().xmpp_version, Some(Version::new(1, 0)));
}

#[test]
fn xep0124_22_unknown_attributes_from_other_namespaces_are_kept() {
    let input = b"<body xmlns='http://jabber.org/protocol/httpbind' xmlns:ext='urn:example:ext' \
        rid='5' ext:flag='a&amp;b' secure='true'/>";
    let b = ok(input);
    assert_eq!(b.attrs.rid, Rid::new(5));
    assert_eq!(
        b.attrs.extra,
        vec![ExtraAttribute {
            namespace: Some("urn:example:ext".into()),
            name: "ext:flag".into(),
            value: "a&b".into()
        }]
    );
    // `secure` (removed in v1.8) is ignored and never emitted.
    let out = emit(&b);
    assert!(!String::from_utf8_lossy(&out).contains("secure"));
    assert_eq!(ok(&out), b);
}

#[test]
fn xep0124_7_creation_attributes_are_boxed_only_when_present() {
    // An empty poll (§8) and a request with payload: nothing boxed.
    for input in [
        &b"<body rid='1573741821' xmlns='http://jabber.org/protocol/httpbind' sid='SomeSID'/>"[..],
        b"<body rid='2' sid='s' ack='1' key='k' xmlns='http://jabber.org/protocol/httpbind'>\
          <message xmlns='jabber:client'/></body>",
    ] {
        let b = ok(input);
        assert!(b.attrs.creation.is_none());
        assert!(b.attrs.creation().is_empty());
        assert_eq!(b.attrs.creation(), &CreationAttrs::EMPTY);
    }
    // A creation request (§7.1) and a restart request (XEP-0206 §5).
    let b = ok(
        b"<body rid='1' to='example.com' wait='60' hold='1' ver='1.6' \
        xmlns='http://jabber.org/protocol/httpbind'/>",
    );
    let c = b.attrs.creation.as_deref().expect("boxed");
    assert_eq!(
        (c.to.as_deref(), c.wait, c.hold),
        (Some("example.com"), Some(60), Some(1))
    );
    let b = ok(
        b"<body rid='2' sid='s' to='example.com' xml:lang='en' xmpp:restart='true' \
        xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>",
    );
    assert_eq!(b.attrs.creation().xml_lang.as_deref(), Some("en"));
    assert!(b.attrs.is_restart());
    // No box and an empty box are the same attributes.
    let none = BodyAttrs {
        rid: Rid::new(3),
        ..BodyAttrs::default()
    };
    let mut empty = none.clone();
    let _ = empty.creation_mut();
    assert!(empty.creation.is_some());
    assert_eq!(none, empty);
    empty.creation_mut().wait = Some(5);
    assert_ne!(none, empty);
    let mut out = Vec::new();
    write_body(&empty, std::iter::empty::<&[u8]>(), &mut out);
    assert_eq!(ok(&out).attrs, empty);
}

#[test]
fn xep0124_7_1_route_is_kept_opaque() {
    let b =
        ok(b"<body xmlns='http://jabber.org/protocol/httpbind' route='xmpp:example.com:9999'/>");
    assert_eq!(
        b.attrs.creation().route.as_deref(),
        Some("xmpp:example.com:9999")
    );
    // Not a URI: anything goes, it is never parsed.
    let b =
        ok(b"<body xmlns='http://jabber.org/protocol/httpbind' route='xmpp:[::1]:5222/x?y#z'/>");
    assert_eq!(
        b.attrs.creation().route.as_deref(),
        Some("xmpp:[::1]:5222/x?y#z")
    );
}

#[test]
fn payload_is_a_zero_copy_slice_of_the_input() {
    let input = Bytes::from_static(
        b"<body xmlns='http://jabber.org/protocol/httpbind'> <message to='a'><body>x</body></message>\n<iq type='get' id='1'/></body>",
    );
    let b = parse_bytes(input.clone(), &limits()).unwrap();
    let elements: Vec<Bytes> = b.elements().collect();
    assert_eq!(
        elements,
        vec![
            Bytes::from_static(b"<message to='a'><body>x</body></message>"),
            Bytes::from_static(b"<iq type='get' id='1'/>")
        ]
    );
    let range = input.as_ptr_range();
    for e in &elements {
        assert!(range.contains(&e.as_ptr()), "element was copied");
    }
    assert!(range.contains(&b.payload().as_ptr()));
}

#[test]
fn xep0124_6_payload_message_with_its_own_body_child_is_legal() {
    let b = ok(
        b"<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>\
        <message xmlns='jabber:client'><body>hi</body></message></body>",
    );
    assert_eq!(b.elements().count(), 1);
}

#[test]
fn body_namespace_declarations_travel_with_a_payload_element_handed_on_alone() {
    let b = ok(b"<body xmlns='http://jabber.org/protocol/httpbind' \
        xmlns:stream='http://etherx.jabber.org/streams' xmlns:j='urn:j'>\
        <stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>\
        <j:x j:a='1'/><message xmlns='jabber:client'/>\
        <y xmlns:j='urn:other'><j:z/></y></body>");
    let alone: Vec<Bytes> = b.standalone_elements().collect();
    assert_eq!(
        &alone[0][..],
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    );
    assert_eq!(&alone[1][..], b"<j:x xmlns:j='urn:j' j:a='1'/>");
    // Needs nothing: the same bytes, not a copy.
    assert_eq!(&alone[2][..], b"<message xmlns='jabber:client'/>");
    assert_eq!(alone[2].as_ptr(), b.elements().nth(2).unwrap().as_ptr());
    // Declares its own binding of `j`: untouched.
    assert_eq!(&alone[3][..], b"<y xmlns:j='urn:other'><j:z/></y>");
    // Each one parses alone inside a fresh body that declares nothing.
    for e in &alone {
        let mut out = Vec::new();
        write_body(&BodyAttrs::default(), [e], &mut out);
        ok(&out);
    }
    assert!(
        b.stream_features()
            .unwrap()
            .starts_with(b"<stream:features xmlns:stream=")
    );
}

#[test]
fn prefixed_body_default_namespace_travels_with_children() {
    let b = ok(
        b"<hb:body xmlns:hb='http://jabber.org/protocol/httpbind' xmlns='jabber:client' rid='7'>\
        <message to='a'/></hb:body>",
    );
    assert_eq!(b.attrs.rid, Rid::new(7));
    let alone: Vec<Bytes> = b.standalone_elements().collect();
    assert_eq!(&alone[0][..], b"<message xmlns='jabber:client' to='a'/>");
    // Emitted with a plain <body>, the children keep their namespace.
    let out = emit(&b);
    assert!(
        String::from_utf8_lossy(&out).contains("<message xmlns='jabber:client' to='a'/>"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let again = ok(&out);
    assert_eq!(emit(&again), out);
}

#[test]
fn xep0206_2_emit_declares_stream_namespace_for_features_and_errors() {
    let mut out = Vec::new();
    let attrs = BodyAttrs {
        sid: Some("s".into()),
        ..BodyAttrs::default()
    };
    write_body(&attrs, [&b"<stream:features/>"[..]], &mut out);
    assert_eq!(
        out,
        b"<body sid='s' xmlns='http://jabber.org/protocol/httpbind' xmlns:stream='http://etherx.jabber.org/streams'><stream:features/></body>"
    );
    out.clear();
    let attrs = BodyAttrs::terminate(Condition::RemoteStreamError);
    write_body(
        &attrs,
        [
            &b"<message xmlns='jabber:client'/>"[..],
            b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        ],
        &mut out,
    );
    let b = ok(&out);
    assert_eq!(b.attrs.condition, Some(Condition::RemoteStreamError));
    assert_eq!(
        &b.stream_error().unwrap()[..],
        b"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
    );
    // No stream payload: no declaration.
    out.clear();
    write_body(&BodyAttrs::default(), [&b"<message/>"[..]], &mut out);
    assert!(!String::from_utf8_lossy(&out).contains("xmlns:stream"));
}

#[test]
fn xep0124_17_2_see_other_uri_carries_uri_child() {
    let mut out = Vec::new();
    write_body(
        &BodyAttrs::terminate(Condition::SeeOtherUri),
        [uri_element("https://cm.example.com/http-bind?a=1&b=<2>")],
        &mut out,
    );
    assert_eq!(
        out,
        b"<body type='terminate' condition='see-other-uri' xmlns='http://jabber.org/protocol/httpbind'><uri>https://cm.example.com/http-bind?a=1&amp;b=&lt;2&gt;</uri></body>"
    );
    let b = ok(&out);
    assert_eq!(
        b.see_other_uri().as_deref(),
        Some("https://cm.example.com/http-bind?a=1&b=<2>")
    );
}

#[test]
fn emit_writes_attributes_in_fixed_order_and_escapes_values() {
    let attrs = BodyAttrs {
        rid: Rid::new(10),
        sid: Some("a'b\"c<d>&e".into()),
        body_type: Some(BodyType::Error),
        creation: Some(Box::new(CreationAttrs {
            xml_lang: Some("en".into()),
            ver: Some(Version::new(1, 11)),
            wait: Some(60),
            hold: Some(1),
            accept: Some(vec!["deflate".into(), "gzip".into()]),
            charsets: Some(vec!["ISO_8859-1".into(), "ISO-2022-JP".into()]),
            xmpp_version: Some(Version::new(1, 0)),
            xmpp_restartlogic: Some(true),
            ..CreationAttrs::default()
        })),
        ..BodyAttrs::default()
    };
    let mut out = Vec::new();
    write_body(&attrs, std::iter::empty::<&[u8]>(), &mut out);
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "<body rid='10' sid='a&apos;b&quot;c&lt;d&gt;&amp;e' xml:lang='en' ver='1.11' wait='60' hold='1' \
         accept='deflate,gzip' charsets='ISO_8859-1 ISO-2022-JP' type='error' xmpp:version='1.0' \
         xmpp:restartlogic='true' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>"
    );
    assert_eq!(ok(&out).attrs, attrs);
}

/// Which error kind each hostile input must produce.
#[derive(Debug, Clone, Copy)]
enum K {
    TooLarge,
    TooDeep,
    Utf8,
    Char,
    NoRoot,
    Malformed,
    Mismatch,
    Unclosed,
    Name,
    Unbound,
    NsDecl,
    Dup,
    Lt,
    NotBody,
    WrongNs,
    CharData,
    Doctype,
    Pi,
    Decl,
    Comment,
    Entity,
    CharRef,
    Trailing,
    Attr(&'static str),
}

fn matches_kind(k: K, e: &ParseErrorKind) -> bool {
    use ParseErrorKind as P;
    match (k, e) {
        (K::TooLarge, P::TooLarge { .. })
        | (K::TooDeep, P::TooDeep { .. })
        | (K::Utf8, P::InvalidUtf8)
        | (K::Char, P::InvalidChar)
        | (K::NoRoot, P::NoRootElement)
        | (K::Malformed, P::Malformed(_))
        | (K::Mismatch, P::MismatchedEndTag)
        | (K::Unclosed, P::UnclosedElement)
        | (K::Name, P::InvalidName)
        | (K::Unbound, P::UnboundPrefix { .. })
        | (K::NsDecl, P::InvalidNamespaceDecl)
        | (K::Dup, P::DuplicateAttribute { .. })
        | (K::Lt, P::LtInAttributeValue)
        | (K::NotBody, P::NotBody { .. })
        | (K::WrongNs, P::WrongNamespace { .. })
        | (K::CharData, P::CharacterDataInBody)
        | (K::Doctype, P::Doctype)
        | (K::Pi, P::ProcessingInstruction)
        | (K::Decl, P::UnsupportedDeclaration)
        | (K::Comment, P::Comment)
        | (K::Entity, P::UndefinedEntity { .. })
        | (K::CharRef, P::InvalidCharRef)
        | (K::Trailing, P::TrailingContent) => true,
        (K::Attr(name), P::InvalidAttribute { name: n, .. }) => name == *n,
        _ => false,
    }
}

const B: &str = "<body xmlns='http://jabber.org/protocol/httpbind'";

fn hostile_inputs() -> Vec<(&'static str, Vec<u8>, K)> {
    let b = |rest: &str| format!("{B}{rest}").into_bytes();
    let wrap = |payload: &str| format!("{B}>{payload}</body>").into_bytes();
    let mut deep = String::from(B);
    deep.push('>');
    for _ in 0..100_000 {
        deep.push_str("<a>");
    }
    let billion_laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>\
        <!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\
        <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>\
        <body xmlns='http://jabber.org/protocol/httpbind'>&lol3;</body>";
    let huge_attr = format!("{B} sid='{}'/>", "x".repeat(10 * 1024 * 1024)).into_bytes();
    let mut invalid_utf8 = wrap("<message>caf\u{e9}</message>");
    let pos = invalid_utf8.iter().position(|&c| c == 0xC3).unwrap();
    invalid_utf8[pos] = 0xFF;
    vec![
        ("empty input", vec![], K::NoRoot),
        ("only white space", b"  \n ".to_vec(), K::NoRoot),
        ("plain text", b"hello".to_vec(), K::Malformed),
        ("JSON", b"{\"body\": 1}".to_vec(), K::Malformed),
        ("unclosed body", b(">"), K::Unclosed),
        ("unclosed start tag", b(" rid='1'"), K::Malformed),
        ("mismatched end tag", wrap("<a></b>"), K::Mismatch),
        (
            "stray end tag",
            format!("{B}/></x>").into_bytes(),
            K::Mismatch,
        ),
        (
            "billion laughs",
            billion_laughs.as_bytes().to_vec(),
            K::Doctype,
        ),
        (
            "DOCTYPE alone",
            format!("<!DOCTYPE body>{B}/>").into_bytes(),
            K::Doctype,
        ),
        ("100 000-deep nesting", deep.into_bytes(), K::TooDeep),
        ("10 MiB attribute", huge_attr, K::TooLarge),
        ("invalid UTF-8", invalid_utf8, K::Utf8),
        (
            "truncated UTF-8",
            b"<body xmlns='http://jabber.org/protocol/httpbind' sid='\xC3'/>".to_vec(),
            K::Utf8,
        ),
        ("NUL byte", wrap("<m>\0</m>"), K::Char),
        ("control character", wrap("<m>\x07</m>"), K::Char),
        ("U+FFFF", wrap("<m>\u{FFFF}</m>"), K::Char),
        (
            "root not body",
            b"<html xmlns='http://jabber.org/protocol/httpbind'/>".to_vec(),
            K::NotBody,
        ),
        (
            "body in the wrong namespace",
            b"<body xmlns='jabber:client'/>".to_vec(),
            K::WrongNs,
        ),
        (
            "body in no namespace",
            b"<body rid='1'/>".to_vec(),
            K::WrongNs,
        ),
        (
            "body with an unbound prefix",
            b"<b:body rid='1'/>".to_vec(),
            K::Unbound,
        ),
        ("character data in body", wrap("hello<m/>"), K::CharData),
        ("CDATA in body", wrap("<![CDATA[x]]>"), K::CharData),
        ("reference in body", wrap("&amp;"), K::CharData),
        ("processing instruction", wrap("<?php echo 1 ?>"), K::Pi),
        (
            "XML declaration not at the start",
            format!(" <?xml version='1.0'?>{B}/>").into_bytes(),
            K::Pi,
        ),
        (
            "XML 1.1 declaration",
            format!("<?xml version='1.1'?>{B}/>").into_bytes(),
            K::Decl,
        ),
        (
            "Latin-1 declaration",
            format!("<?xml version='1.0' encoding='ISO-8859-1'?>{B}/>").into_bytes(),
            K::Decl,
        ),
        ("comment in payload", wrap("<m><!-- hi --></m>"), K::Comment),
        (
            "comment before root",
            format!("<!-- hi -->{B}/>").into_bytes(),
            K::Comment,
        ),
        ("undefined entity", wrap("<m>&nbsp;</m>"), K::Entity),
        (
            "undefined entity in attribute",
            wrap("<m a='&foo;'/>"),
            K::Entity,
        ),
        ("external entity reference", wrap("<m>&xxe;</m>"), K::Entity),
        ("char ref to NUL", wrap("<m>&#0;</m>"), K::CharRef),
        (
            "char ref to a surrogate",
            wrap("<m>&#xD800;</m>"),
            K::CharRef,
        ),
        ("char ref not a number", wrap("<m a='&#xZZ;'/>"), K::CharRef),
        (
            "trailing element",
            format!("{B}/><body/>").into_bytes(),
            K::Trailing,
        ),
        (
            "trailing text",
            format!("{B}/>junk").into_bytes(),
            K::Trailing,
        ),
        (
            "trailing comment",
            format!("{B}/><!-- x -->").into_bytes(),
            K::Comment,
        ),
        ("element name starting with a digit", wrap("<1m/>"), K::Name),
        ("element name with two colons", wrap("<a:b:c/>"), K::Name),
        ("unbound element prefix", wrap("<x:m/>"), K::Unbound),
        ("unbound attribute prefix", wrap("<m x:a='1'/>"), K::Unbound),
        (
            "prefix undeclared outside its scope",
            wrap("<a xmlns:p='urn:p'/><p:b/>"),
            K::Unbound,
        ),
        (
            "empty prefixed namespace",
            wrap("<m xmlns:p=''/>"),
            K::NsDecl,
        ),
        (
            "xmlns prefix declared",
            wrap("<m xmlns:xmlns='urn:x'/>"),
            K::NsDecl,
        ),
        (
            "duplicate attribute in payload",
            wrap("<m a='1' a='2'/>"),
            K::Dup,
        ),
        (
            "duplicate attribute on body",
            b(" rid='1' rid='2'/>"),
            K::Dup,
        ),
        (
            "xbosh attribute twice through two prefixes",
            b(
                " xmlns:a='urn:xmpp:xbosh' xmlns:b='urn:xmpp:xbosh' a:version='1.0' b:version='1.0'/>",
            ),
            K::Dup,
        ),
        ("'<' in attribute value", wrap("<m a='<'/>"), K::Lt),
        ("unquoted attribute", wrap("<m a=1/>"), K::Malformed),
        ("rid zero", b(" rid='0'/>"), K::Attr("rid")),
        ("rid 2^53", b(" rid='9007199254740992'/>"), K::Attr("rid")),
        ("rid negative", b(" rid='-5'/>"), K::Attr("rid")),
        (
            "rid overflowing u64",
            b(" rid='99999999999999999999999'/>"),
            K::Attr("rid"),
        ),
        ("rid hexadecimal", b(" rid='0x10'/>"), K::Attr("rid")),
        (
            "wait above unsignedShort",
            b(" wait='65536'/>"),
            K::Attr("wait"),
        ),
        (
            "hold above unsignedByte",
            b(" hold='256'/>"),
            K::Attr("hold"),
        ),
        (
            "requests not a number",
            b(" requests='two'/>"),
            K::Attr("requests"),
        ),
        (
            "time above unsignedShort",
            b(" time='70000'/>"),
            K::Attr("time"),
        ),
        ("ack zero", b(" ack='0'/>"), K::Attr("ack")),
        ("ver without minor", b(" ver='1'/>"), K::Attr("ver")),
        ("unknown type", b(" type='result'/>"), K::Attr("type")),
        (
            "unknown condition",
            b(" type='terminate' condition='gone-fishing'/>"),
            K::Attr("condition"),
        ),
        (
            "boolean yes",
            b(" xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='yes'/>"),
            K::Attr("xmpp:restart"),
        ),
    ]
}

#[test]
fn xep0124_6_hostile_inputs_are_refused_with_precise_errors() {
    let table = hostile_inputs();
    assert!(table.len() >= 40);
    for (name, input, kind) in table {
        match parse(&input, &limits()) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => {
                assert!(
                    matches_kind(kind, &e.kind),
                    "{name}: expected {kind:?}, got {e}"
                );
                assert!(
                    e.offset <= input.len().max(limits().max_bytes),
                    "{name}: offset"
                );
                assert_eq!(e.condition(), Condition::BadRequest);
            }
        }
    }
}

#[test]
fn parse_limits_are_configurable() {
    let small = ParseLimits {
        max_bytes: 100,
        max_depth: 3,
    };
    let input = format!("{B}><a><b/></a></body>");
    assert!(parse(input.as_bytes(), &small).is_ok());
    let input = format!("{B}><a><b><c/></b></a></body>");
    let e = parse(input.as_bytes(), &small).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooDeep { limit: 3 });
    let input = format!("{B} sid='{}'/>", "x".repeat(60));
    let e = parse(input.as_bytes(), &small).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooLarge { limit: 100 });
}

#[test]
fn accepted_oddities_xml_declaration_bom_whitespace_and_cdata() {
    let b = ok(format!("\u{FEFF}<?xml version='1.0' encoding='UTF-8'?>\n{B} rid='3'>\n  <m><![CDATA[<not markup>]]>&lt;&#x1F600;</m>\n</body>\n").as_bytes());
    assert_eq!(b.attrs.rid, Rid::new(3));
    assert_eq!(b.elements().count(), 1);
    let b = ok(format!("{B}></body>").as_bytes());
    assert!(b.is_empty());
}

#[test]
fn namespaces_on_body_are_kept_for_re_emission() {
    let b = ok(b"<body xmlns='http://jabber.org/protocol/httpbind' xmlns:json='http://json.org/'><json:json>[]</json:json></body>");
    assert_eq!(
        b.namespaces(),
        &[NamespaceDecl {
            prefix: "json".into(),
            uri: "http://json.org/".into()
        }]
    );
    let out = emit(&b);
    assert_eq!(
        out,
        b"<body xmlns='http://jabber.org/protocol/httpbind' xmlns:json='http://json.org/'><json:json>[]</json:json></body>"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn xml_string() -> impl Strategy<Value = String> {
        // Any XML characters, including markup characters and white space
        // that must survive escaping and attribute-value normalisation.
        proptest::collection::vec(
            prop_oneof![
                Just('&'),
                Just('<'),
                Just('>'),
                Just('\''),
                Just('"'),
                Just('\t'),
                Just('\n'),
                Just('\r'),
                Just(' '),
                proptest::char::range('a', 'z'),
                proptest::char::range('\u{80}', '\u{D7FF}'),
                proptest::char::range('\u{10000}', '\u{10FFFF}'),
            ],
            0..12,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,8}"
    }

    fn rid() -> impl Strategy<Value = Rid> {
        (1u64..=Rid::MAX.get()).prop_map(|v| Rid::new(v).unwrap())
    }

    fn version() -> impl Strategy<Value = Version> {
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Version::new(a, b))
    }

    fn attrs() -> impl Strategy<Value = BodyAttrs> {
        let a = (
            proptest::option::of(rid()),
            proptest::option::of(xml_string()),
            proptest::option::of(xml_string()),
            proptest::option::of(xml_string()),
            proptest::option::of(xml_string()),
            proptest::option::of(xml_string()),
            proptest::option::of(version()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
        );
        let b = (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(rid()),
            proptest::option::of(rid()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(proptest::collection::vec(token(), 0..4)),
            proptest::option::of(proptest::collection::vec(token(), 0..4)),
            proptest::option::of(xml_string()),
        );
        let c = (
            proptest::option::of(xml_string()),
            proptest::option::of(xml_string()),
            proptest::option::of(xml_string()),
            proptest::option::of(xml_string()),
            proptest::option::of(prop_oneof![
                Just(BodyType::Terminate),
                Just(BodyType::Error)
            ]),
            proptest::option::of(proptest::sample::select(Condition::ALL.to_vec())),
            proptest::option::of(version()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::collection::vec((token(), xml_string()), 0..3),
        );
        (a, b, c).prop_map(|(a, b, c)| BodyAttrs {
            rid: a.0,
            sid: a.1.map(Into::into),
            pause: b.3,
            ack: b.4,
            report: b.5,
            time: b.6,
            key: c.0,
            newkey: c.1,
            stream: c.2,
            body_type: c.4,
            condition: c.5,
            xmpp_restart: c.7,
            extra: {
                let mut seen = std::collections::HashSet::new();
                c.9.into_iter()
                    .filter(|(n, _)| seen.insert(n.clone()))
                    .map(|(n, v)| ExtraAttribute {
                        namespace: Some(format!("urn:x:{n}")),
                        // Not `x{n}`: with n = "ml" that is the reserved
                        // `xml` prefix, which the emitter must rename
                        // (see the test of that case).
                        name: format!("p{n}:a"),
                        value: v,
                    })
                    .collect()
            },
            creation: Some(Box::new(CreationAttrs {
                to: a.2,
                from: a.3,
                route: a.4,
                xml_lang: a.5,
                ver: a.6,
                wait: a.7,
                hold: a.8,
                requests: a.9,
                polling: b.0,
                inactivity: b.1,
                maxpause: b.2,
                // An empty list is written as an empty attribute and read back as
                // an empty list.
                accept: b.7,
                charsets: b.8,
                content: b.9,
                authid: c.3,
                xmpp_version: c.6,
                xmpp_restartlogic: c.8,
            }))
            .filter(|c| !c.is_empty()),
        })
    }

    /// A well-formed payload element, nested to a small depth.
    fn element() -> impl Strategy<Value = String> {
        let leaf = (
            "[a-z][a-z0-9]{0,5}",
            proptest::option::of(xml_string()),
            xml_string(),
        )
            .prop_map(|(name, attr, text)| {
                let mut out = Vec::new();
                out.extend_from_slice(format!("<{name}").as_bytes());
                if let Some(a) = attr {
                    out.extend_from_slice(b" a='");
                    escape(&a, &mut out);
                    out.push(b'\'');
                }
                out.push(b'>');
                escape(&text, &mut out);
                out.extend_from_slice(format!("</{name}>").as_bytes());
                String::from_utf8(out).unwrap()
            });
        leaf.prop_recursive(3, 16, 4, |inner| {
            (
                prop_oneof![
                    Just("message xmlns='jabber:client'".to_owned()),
                    Just("iq".to_owned()),
                    Just("x xmlns='urn:x'".to_owned()),
                ],
                proptest::collection::vec(inner, 0..4),
            )
                .prop_map(|(open, kids)| {
                    let name = open.split(' ').next().unwrap().to_owned();
                    format!("<{open}>{}</{name}>", kids.concat())
                })
        })
    }

    fn escape(s: &str, out: &mut Vec<u8>) {
        for c in s.chars() {
            match c {
                '&' => out.extend_from_slice(b"&amp;"),
                '<' => out.extend_from_slice(b"&lt;"),
                '\'' => out.extend_from_slice(b"&apos;"),
                '\r' => out.extend_from_slice(b"&#13;"),
                c => {
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }

    #[test]
    fn namespaces_1_0_3_foreign_namespace_under_a_reserved_prefix_is_renamed() {
        // Found by the round-trip proptest: `xml` is bound to the XML
        // namespace and `xmlns` to that of declarations; neither may be
        // declared for another namespace, so the emitter picks another prefix.
        for name in ["xml:a", "xmlns:a"] {
            let attrs = BodyAttrs {
                extra: vec![ExtraAttribute {
                    namespace: Some("urn:x:ml".to_owned()),
                    name: name.to_owned(),
                    value: "v".to_owned(),
                }],
                ..BodyAttrs::default()
            };
            let mut out = Vec::new();
            write_body(&attrs, std::iter::empty::<&[u8]>(), &mut out);
            let text = String::from_utf8(out.clone()).unwrap();
            assert!(!text.contains("xmlns:xml="), "{text}");
            let body =
                parse(&out, &ParseLimits::default()).unwrap_or_else(|e| panic!("{e}: {text}"));
            let extra = &body.attrs.extra;
            assert_eq!(extra.len(), 1, "{text}");
            assert_eq!(extra[0].namespace.as_deref(), Some("urn:x:ml"), "{text}");
            assert_eq!(extra[0].value, "v");
            assert!(
                extra[0].name.ends_with(":a") && extra[0].name != name,
                "{text}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn emit_then_parse_gives_back_attributes_and_payload(
            attrs in attrs(),
            payload in proptest::collection::vec(
                prop_oneof![
                    4 => element(),
                    1 => Just("<stream:features><x xmlns='urn:y'/></stream:features>".to_owned()),
                ],
                0..4,
            ),
        ) {
            let mut out = Vec::new();
            write_body(&attrs, &payload, &mut out);
            let body = parse(&out, &ParseLimits::default())
                .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&out))))?;
            prop_assert_eq!(&body.attrs, &attrs);
            let got: Vec<Bytes> = body.elements().collect();
            let want: Vec<Bytes> = payload.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect();
            prop_assert_eq!(got, want);
            let mut again = Vec::new();
            body.write(&mut again);
            prop_assert_eq!(again, out);
        }

        #[test]
        fn parse_never_panics_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&input, &ParseLimits::default());
        }

        #[test]
        fn parse_never_panics_on_mutated_bodies(
            payload in proptest::collection::vec(element(), 0..3),
            cut in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut out = Vec::new();
            write_body(&BodyAttrs { rid: Rid::new(1), ..BodyAttrs::default() }, &payload, &mut out);
            let i = cut.index(out.len());
            let mut mutated = out.clone();
            mutated[i] = byte;
            let _ = parse(&mutated, &ParseLimits::default());
            let _ = parse(&out[..i], &ParseLimits::default());
        }
    }
}

/// Found in review: every prefixed name was resolved by scanning every
/// declaration in scope, so one body of 30 000 declarations and 80 000
/// prefixed elements (under 1 MiB) cost billions of comparisons. The
/// declarations in scope are bounded instead, on `<body/>` and inside.
#[test]
fn namespaces_in_scope_are_bounded() {
    let decls =
        |n: usize| -> String { (0..n).map(|i| format!(" xmlns:n{i}='urn:n{i}'")).collect() };
    let root = |n: usize| {
        format!(
            "<body rid='1' xmlns='http://jabber.org/protocol/httpbind'{}><n0:x/></body>",
            decls(n)
        )
    };
    let at_limit = root(MAX_NAMESPACES_IN_SCOPE);
    assert!(parse(at_limit.as_bytes(), &limits()).is_ok());
    let over = root(MAX_NAMESPACES_IN_SCOPE + 1);
    let e = parse(over.as_bytes(), &limits()).unwrap_err();
    assert_eq!(
        e.kind,
        ParseErrorKind::TooManyNamespaces {
            limit: MAX_NAMESPACES_IN_SCOPE
        }
    );
    assert_eq!(e.condition(), Condition::BadRequest);
    // Inside the payload: half on <body/>, the rest on nested elements.
    let half = MAX_NAMESPACES_IN_SCOPE / 2;
    let nested = format!(
        "<body rid='1' xmlns='http://jabber.org/protocol/httpbind'{}><a{}><b xmlns:z='urn:z'/></a></body>",
        decls(half),
        (half..MAX_NAMESPACES_IN_SCOPE)
            .map(|i| format!(" xmlns:m{i}='urn:m{i}'"))
            .collect::<String>()
    );
    assert!(matches!(
        parse(nested.as_bytes(), &limits()).unwrap_err().kind,
        ParseErrorKind::TooManyNamespaces { .. }
    ));
    // Out of scope again once their element ends: siblings may each
    // declare up to the limit.
    let siblings: String = (0..3)
        .map(|_| format!("<a{}/>", decls(MAX_NAMESPACES_IN_SCOPE)))
        .collect();
    let body =
        format!("<body rid='1' xmlns='http://jabber.org/protocol/httpbind'>{siblings}</body>");
    assert!(parse(body.as_bytes(), &limits()).is_ok());
}

/// Found in review: the reserved-namespace rules (Namespaces in XML 1.0 §3)
/// were checked on the escaped value, so `namespac&#101;` slipped through
/// and the emitted body did not parse again; the `xmlns` namespace and the
/// default namespace were not checked at all.
#[test]
fn reserved_namespaces_are_checked_on_the_unescaped_value() {
    let with = |decl: &str, payload: &str| {
        format!("<body rid='1' xmlns='http://jabber.org/protocol/httpbind' {decl}>{payload}</body>")
    };
    for bad in [
        with("xmlns:foo='http://www.w3.org/XML/1998/namespac&#101;'", ""),
        with("xmlns:p='http://www.w3.org/2000/xmlns/'", ""),
        with("", "<m xmlns='http://www.w3.org/XML/1998/namespace'/>"),
        with("", "<m xmlns='http://www.w3.org/2000/xmlns/'/>"),
        with("", "<m xmlns:p='http://www.w3.org/2000/xmln&#115;/'/>"),
    ] {
        assert_eq!(
            parse(bad.as_bytes(), &limits()).unwrap_err().kind,
            ParseErrorKind::InvalidNamespaceDecl,
            "{bad}"
        );
    }
    // `xml` declared as itself, escaped or not, parses and round-trips.
    let good = with(
        "xmlns:xml='http://www.w3.org/XML/1998/namespac&#101;'",
        "<m/>",
    );
    let body = ok(good.as_bytes());
    assert_eq!(ok(&emit(&body)), body);
}

/// Found in review: `str::trim` removed Unicode white space, so
/// `type='terminate&#xA0;'` was a terminate; only XML white space is
/// collapsed.
#[test]
fn only_xml_white_space_is_trimmed_from_attribute_values() {
    let body = |attr: &str| {
        format!("<body rid='1' sid='s' xmlns='http://jabber.org/protocol/httpbind' {attr}/>")
    };
    for bad in [
        "type='terminate&#xA0;'",
        "type='terminate&#x3000;'",
        "xmpp:restart='true&#xA0;' xmlns:xmpp='urn:xmpp:xbosh'",
    ] {
        assert!(
            matches!(
                parse(body(bad).as_bytes(), &limits()).unwrap_err().kind,
                ParseErrorKind::InvalidAttribute { .. }
            ),
            "{bad}"
        );
    }
    let t = ok(body("type=' terminate&#10;'").as_bytes());
    assert!(t.attrs.is_terminate());
}
