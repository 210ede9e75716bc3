#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/seeds/<target>/.

The structured targets decode their input with the byte reader of
`bosh_core::fuzzing` / `cors_core::fuzzing` / `bosh_driver::fuzzing` (one byte per decision, zeros past
the end); the encoders below follow those decoders, so that each seed starts
the fuzzer on a meaningful path (a whole session, a real XMPP stream, ...).
If a decoder changes, the seeds stay valid inputs (every byte string is), they
just lead elsewhere: re-run this script and check the replay tests.

    python3 fuzz/seeds/generate.py
"""

import os
import pathlib
import shutil
import struct

ROOT = pathlib.Path(__file__).resolve().parent
REPO = ROOT.parent.parent
XEP = REPO / "bosh-core" / "testdata" / "xep"


def out(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def reset(target):
    """Empties a target's seeds, except the `regression-*` inputs of crashes
    found so far, which were added by hand and are not generated here."""
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    for p in d.iterdir():
        if p.is_dir():
            shutil.rmtree(p)
        elif not p.name.startswith("regression-"):
            p.unlink()


NS = "http://jabber.org/protocol/httpbind"

# ---------------------------------------------------------------- parse_body


def parse_body():
    reset("parse_body")
    for f in sorted(XEP.glob("*.xml")):
        shutil.copy(f, ROOT / "parse_body" / f.name)
    h = {
        # Entity expansion and external entities: DOCTYPE is refused.
        "billion-laughs.xml": "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        + "".join(
            f"<!ENTITY lol{i} '{('&lol%s;' % ('' if i == 1 else i - 1)) * 10}'>"
            for i in range(1, 10)
        )
        + f"]><body xmlns='{NS}'><message><body>&lol9;</body></message></body>",
        "xxe.xml": "<!DOCTYPE body [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
        f"<body xmlns='{NS}'><message><body>&xxe;</body></message></body>",
        "undefined-entity.xml": f"<body xmlns='{NS}'><message><body>&nbsp;</body></message></body>",
        "deep-nesting.xml": f"<body xmlns='{NS}'>" + "<a>" * 200 + "</a>" * 200 + "</body>",
        "deep-nesting-unclosed.xml": f"<body xmlns='{NS}'>" + "<a>" * 5000,
        "bad-utf8.xml": f"<body rid='1' xmlns='{NS}'><message><body>".encode()
        + b"\xc3\x28\xff\xfe\xed\xa0\x80"
        + b"</body></message></body>",
        "overlong-utf8.xml": f"<body xmlns='{NS}'>".encode() + b"<\xc0\xbcx/></body>",
        "nul-byte.xml": f"<body rid='1' xmlns='{NS}'><m>\x00</m></body>",
        "control-char.xml": f"<body rid='1' xmlns='{NS}'><m a='\x01'/></body>",
        "fffe.xml": f"<body xmlns='{NS}'><m>\ufffe</m></body>",
        "huge-attribute.xml": f"<body rid='1' sid='{'A' * 70000}' xmlns='{NS}'/>",
        "many-attributes.xml": "<body "
        + " ".join(f"a{i}='{i}'" for i in range(2000))
        + f" xmlns='{NS}'/>",
        "duplicate-attribute.xml": f"<body rid='1' rid='2' xmlns='{NS}'/>",
        "duplicate-via-prefix.xml": f"<body xmlns='{NS}' xmlns:a='urn:x' xmlns:b='urn:x' a:z='1' b:z='2'/>",
        "duplicate-xmpp.xml": f"<body xmlns='{NS}' xmlns:xmpp='urn:xmpp:xbosh' xmlns:x='urn:xmpp:xbosh' xmpp:version='1.0' x:version='1.0'/>",
        "xmpp-undeclared.xml": f"<body xmlns='{NS}' xmpp:version='1.0' xmpp:restart='true' xmpp:foo='bar'/>",
        "xmpp-redeclared.xml": f"<body xmlns='{NS}' xmlns:xmpp='urn:other' xmlns:x='urn:xmpp:xbosh' x:restart='true' xmpp:foo='1'/>",
        "prefixed-root.xml": f"<h:body xmlns:h='{NS}' xmlns='jabber:client' rid='5'><message/></h:body>",
        "wrong-namespace.xml": "<body xmlns='urn:wrong'/>",
        "no-namespace.xml": "<body/>",
        "not-body.xml": f"<html xmlns='{NS}'/>",
        "comment.xml": f"<body xmlns='{NS}'><!-- hi --></body>",
        "pi.xml": f"<body xmlns='{NS}'><?php echo 1; ?></body>",
        "decl-latin1.xml": f"<?xml version='1.0' encoding='ISO-8859-1'?><body xmlns='{NS}'/>",
        "decl-late.xml": f" <?xml version='1.0'?><body xmlns='{NS}'/>",
        "bom.xml": b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>"
        + f"<body rid='1' xmlns='{NS}'/>".encode(),
        "cdata.xml": f"<body xmlns='{NS}'><m><![CDATA[<not a tag> ]]]]><![CDATA[>]]></m></body>",
        "cdata-in-body.xml": f"<body xmlns='{NS}'><![CDATA[x]]></body>",
        "cdata-end-in-text.xml": f"<body xmlns='{NS}'><m>a]]>b</m></body>",
        "text-in-body.xml": f"<body xmlns='{NS}'>hello<m/></body>",
        "trailing.xml": f"<body xmlns='{NS}'/><body xmlns='{NS}'/>",
        "charref-bad.xml": f"<body xmlns='{NS}'><m>&#0;&#xD800;&#x110000;</m></body>",
        "charref-attr.xml": f"<body sid='&#9;&#10;&#13;&#x1F600;&lt;&amp;' xmlns='{NS}'/>",
        "attr-normalization.xml": f"<body sid='a\tb\nc\r\nd' xmlns='{NS}'/>",
        "lt-in-attr.xml": f"<body sid='a<b' xmlns='{NS}'/>",
        "unbound-prefix.xml": f"<body xmlns='{NS}'><p:m/></body>",
        "xmlns-xml.xml": f"<body xmlns='{NS}' xmlns:xml='urn:not-xml'/>",
        "xmlns-empty.xml": f"<body xmlns='{NS}' xmlns:p=''/>",
        "rid-overflow.xml": f"<body rid='9007199254740992' xmlns='{NS}'/>",
        "rid-huge.xml": f"<body rid='{'9' * 400}' xmlns='{NS}'/>",
        "rid-plus.xml": f"<body rid=' +42 ' wait='+0060' hold='01' xmlns='{NS}'/>",
        "ver-weird.xml": f"<body ver='1.10' xmpp:version='65535.65535' xmlns:xmpp='urn:xmpp:xbosh' xmlns='{NS}'/>",
        "condition-unknown.xml": f"<body type='terminate' condition='nope' xmlns='{NS}'/>",
        "mismatched.xml": f"<body xmlns='{NS}'><a></b></body>",
        "unclosed.xml": f"<body xmlns='{NS}'><a>",
        "empty.xml": "",
        "whitespace.xml": " \n\t ",
        "stream-error.xml": f"<body type='terminate' condition='remote-stream-error' xmlns='{NS}' xmlns:stream='http://etherx.jabber.org/streams'><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></body>",
        "see-other-uri.xml": f"<body type='terminate' condition='see-other-uri' xmlns='{NS}'><uri>https://other.example/bind?a=1&amp;b=2</uri></body>",
        "accept-charsets.xml": f"<body accept=' deflate , gzip,,' charsets='  UTF-8\tISO-8859-1 ' xmlns='{NS}'/>",
        "extra-attrs.xml": f"<body xmlns='{NS}' xmlns:e='urn:e' e:x='1' unknown='2' xml:lang='en' xml:foo='3' secure='true'/>",
        "namespaced-payload.xml": f"<body xmlns='{NS}' xmlns:a='urn:a' xmlns:stream='http://etherx.jabber.org/streams'><a:x/><stream:features/><m xmlns:a='urn:b'><a:y/></m></body>",
    }
    for name, data in h.items():
        out("parse_body", "hostile-" + name, data)


# ------------------------------------------------------------ body_roundtrip


def body_roundtrip():
    reset("body_roundtrip")
    # Every field present (odd bytes), then none, then a mix.
    out("body_roundtrip", "all-present", bytes([1, 2] * 200))
    out("body_roundtrip", "none", bytes([0] * 64))
    out("body_roundtrip", "ff", bytes([0xFF] * 300))
    out("body_roundtrip", "mixed", bytes(range(256)) * 2)
    out("body_roundtrip", "strings", b"\x01\x03\x05hello\x01\x01\x03\x08<&'\"\t\n\r" * 12)


# ------------------------------------------------------------- stream_framer

STREAM = (
    "<?xml version='1.0'?>"
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='abc' from='example.com' version='1.0' xml:lang='en'>"
)
FEATURES = (
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
)


def framer(limits, plan, stream):
    if isinstance(stream, str):
        stream = stream.encode()
    return bytes([limits, len(plan)]) + bytes(plan) + stream


def stream_framer():
    reset("stream_framer")
    whole = (
        STREAM
        + FEATURES
        + "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
        + "\n \n"
        + "<message to='a@example.com' type='chat'><body>hi &amp; &#x1F600;</body></message>"
        + "<iq type='result' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a@example.com/r</jid></bind></iq>"
        + "<presence from='b@example.com'><x:y xmlns:x='urn:x'/></presence>"
        + "</stream:stream>"
    )
    out("stream_framer", "session-whole", framer(3, [], whole))
    out("stream_framer", "session-bytewise", framer(3, [1], whole))
    out("stream_framer", "session-chunks", framer(3, [7, 3, 64, 1, 13], whole))
    restart = (
        STREAM
        + FEATURES
        + "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
        + STREAM
        + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    )
    cut = len((STREAM + FEATURES + "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>").encode())
    plan = []
    left = cut
    while left > 0x7F:
        plan.append(0x7F)
        left -= 0x7F
    plan.append(0x80 | left)
    out("stream_framer", "restart", framer(3, plan, restart))
    out(
        "stream_framer",
        "stream-error",
        framer(
            3,
            [5],
            STREAM
            + "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>",
        ),
    )
    out("stream_framer", "self-closing", framer(3, [], STREAM[:-1] + "/>"))
    out("stream_framer", "too-large", framer(0, [9], STREAM + "<message><body>" + "x" * 200 + "</body></message>"))
    out("stream_framer", "too-deep", framer(0, [2], STREAM + "<a><b><c><d/></c></b></a>"))
    out("stream_framer", "comment", framer(3, [], STREAM + "<!-- no -->"))
    out("stream_framer", "doctype", framer(3, [], "<!DOCTYPE x [<!ENTITY a 'b'>]>" + STREAM))
    out("stream_framer", "bad-utf8", framer(3, [3], STREAM.encode() + b"<m>\xe2\x82</m>"))
    out("stream_framer", "split-utf8", framer(3, [1], STREAM + "<m>\u00e9\u20ac\U0001F600</m>"))
    out("stream_framer", "mismatch", framer(3, [], STREAM + "<a></b>"))
    out("stream_framer", "cdata-end", framer(3, [], STREAM + "<m>a]]>b</m>"))
    out("stream_framer", "text-between", framer(3, [], STREAM + "hello<m/>"))
    out("stream_framer", "data-after-end", framer(3, [], STREAM + "</stream:stream><m/>"))
    out("stream_framer", "latin1", framer(3, [], "<?xml version='1.0' encoding='ISO-8859-1'?>" + STREAM[21:]))
    out("stream_framer", "prefixed-content", framer(3, [4], "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns:c='jabber:client'><c:message><c:body>x</c:body></c:message><s:features/>"))


# ------------------------------------------------------------ server_session


class Enc:
    def __init__(self):
        self.b = bytearray()

    def u8(self, v):
        self.b.append(v & 0xFF)
        return self

    def u16(self, v):
        self.b += struct.pack("<H", v)
        return self

    def u32(self, v):
        self.b += struct.pack("<I", v)
        return self

    def s(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.u8(len(data))
        self.b += data
        return self

    def bytes(self):
        return bytes(self.b)


def server_config(e, strict=False, multi=True):
    # max_wait 60, max_hold 1, inactivity 60, polling 2, maxpause 120,
    # max_replay 4, max_repeats 8, rid_gap 75, linger 30, stanzas 1000,
    # bytes 1 MiB, multi_stream, max_streams 4, leniency.
    for v in [2, 0, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1 if multi else 0, 1, 0 if strict else 1]:
        e.u8(v)


def creation(e, rid=1000, hold=1, ack=True):
    e.u8(1).u32(rid - 1)  # rid = u32 + 1
    e.u8(1).u8(1)  # ver 1.11
    e.u8(1).u8(3)  # wait 60
    e.u8(1).u8({0: 0, 1: 1, 2: 2, 5: 3}[hold])
    e.u8(1 if ack else 0)  # ack
    e.u8(0)  # content
    e.u8(0)  # newkey


def up(e, stream, kind, stanza=None):
    e.u8(6).u8(stream).u8(kind)
    if kind == 0:
        e.u8(1).u8(1).u8(1).u8(2).u8(1).u16(1).u16(0)  # id, from, version
    if kind >= 4:
        e.u8(1).u8(stanza or 0)


def req(e, delta=2, flags=0, extra=b""):
    e.u8(0).u8(delta).u8(flags)
    e.b += extra


def step(e, secs):
    e.u8(8).u8(1).u8(secs)


def server_session():
    reset("server_session")
    # Happy path: create, features, stanzas both ways, long-poll timeouts,
    # then a client terminate.
    e = Enc()
    server_config(e)
    creation(e)
    up(e, 0, 0)
    up(e, 0, 1)
    req(e)  # empty poll, rid+1
    req(e, flags=0x80, extra=bytes([2, 1, 0, 1, 2]))  # two stanzas
    up(e, 0, 4, 0)
    up(e, 0, 4, 2)
    step(e, 61)
    req(e, flags=0x01)
    e.u8(10)
    req(e, flags=0x02, extra=bytes([0]))  # terminate
    out("server_session", "happy-path", e.bytes())

    # Out-of-order rids, a gap, repeats and aborts.
    e = Enc()
    server_config(e)
    creation(e, hold=2)
    up(e, 0, 1)
    req(e, delta=3)  # rid+2 (buffered)
    req(e, delta=2)  # fills the gap
    e.u8(5).u8(0)  # abort one
    e.u8(11).u8(1).u8(0)  # repeat the last rid
    e.u8(11).u8(1).u8(2)  # repeat an older rid
    req(e, delta=7)  # out of the window
    out("server_session", "reorder-repeat-abort", e.bytes())

    # Restart, pause, multiple streams, stream error.
    e = Enc()
    server_config(e)
    creation(e)
    up(e, 0, 1)
    req(e, flags=0x08)  # restart
    up(e, 0, 1)
    req(e, flags=0x20, extra=bytes([1]))  # add a stream
    up(e, 1, 0)
    up(e, 1, 1)
    req(e, flags=0x04, extra=bytes([2]))  # pause 30
    step(e, 40)
    up(e, 0, 2)  # stream error
    req(e)
    out("server_session", "restart-pause-streams-error", e.bytes())

    # Strict mode, overactivity, polling, inactivity.
    e = Enc()
    server_config(e, strict=True, multi=False)
    creation(e, hold=0)
    up(e, 0, 1)
    for _ in range(4):
        req(e)
    step(e, 200)
    out("server_session", "strict-polling-inactivity", e.bytes())

    # Upstream closed before features, then time runs.
    e = Enc()
    server_config(e)
    creation(e)
    up(e, 0, 3)
    step(e, 5)
    req(e)
    out("server_session", "upstream-closed-early", e.bytes())

    # Keys, acks, reports, raw garbage at the endpoint.
    e = Enc()
    server_config(e)
    creation(e)
    up(e, 0, 1)
    req(e, flags=0x10, extra=bytes([1]))
    req(e, flags=0x40, extra=bytes([1, 1]) + struct.pack("<H", 100))
    e.u8(4).s("<body sid='sid1' rid='1' xmlns='http://jabber.org/protocol/httpbind'/>")
    e.u8(4).s(b"\xff\xfe<body")
    e.u8(11).u8(0).u8(3)  # close(condition)
    out("server_session", "keys-report-raw-close", e.bytes())


# ------------------------------------------------------------ client_session


def client_config(e, wait=3, hold=1, acks=1, keys=0):
    e.u8(wait).u8(hold).u8(acks).u8(0).u8(1)  # wait, hold, acks, batch 0, max_errors 5
    e.u8(1).u32(999)  # first rid 1000
    e.u8(keys).u8(1)  # keys, auto keys
    if keys:
        e.u8(4)


def respond_create(e, maxpause=True, stream=False):
    e.u8(0).u8(0)  # respond to request 0
    e.u8(0)  # a generated body
    e.u8(2)  # sid right
    e.u8(1).u8(3)  # wait 60
    e.u8(1).u8(1)  # hold 1
    e.u8(1).u8(2)  # requests 2
    e.u8(1).u8(1)  # polling 2
    e.u8(1).u8(1)  # inactivity 30
    e.u8(1 if maxpause else 0)
    if maxpause:
        e.u8(1)
    e.u8(1).u8(1)  # ver 1.11
    e.u8(1)  # ack
    e.u8(1 if stream else 0)
    if stream:
        e.u8(0)
    e.u8(5)  # no type
    e.u8(1).u8(0)  # one payload: features


def respond(e, which=0, kind=5, payload=()):
    e.u8(0).u8(which)
    e.u8(0).u8(2)  # body, right sid
    e.u8(1)  # not a creation-like answer (u8 % 8 != 0)
    e.u8(kind)
    if kind == 0:
        e.u8(1).u8(3)
    if kind == 2:
        e.u8(1).u16(0)
    if kind == 3:
        e.u8(1).u8(1)
    e.u8(len(payload))
    for p in payload:
        e.u8(p)
        if p >= 3:
            e.u8(1).u8(0)


def client_session():
    reset("client_session")
    e = Enc()
    client_config(e)
    respond_create(e)
    e.u8(4).u8(1).u8(0).u8(0)  # send a stanza
    e.u8(5)  # flush
    respond(e, 0, payload=[3, 4])
    respond(e, 0)
    e.u8(7).u8(1).u8(70)  # 70 s pass: timeouts and resends
    respond(e, 0, kind=1)  # recoverable error
    e.u8(6).u8(0)  # restart
    respond(e, 0, payload=[0])
    e.u8(6).u8(1).u8(2)  # pause 60
    e.u8(6).u8(2)  # resume
    e.u8(6).u8(7)  # export/attach
    e.u8(6).u8(3).u8(1).u8(0)  # terminate
    respond(e, 0, kind=0)
    out("client_session", "happy-path", e.bytes())

    e = Enc()
    client_config(e)
    respond_create(e)
    for status in range(10):
        e.u8(0).u8(0).u8(6).u8(status)
        e.u8(9)
    out("client_session", "http-statuses", e.bytes())

    e = Enc()
    client_config(e, keys=1)
    respond_create(e, stream=True)
    e.u8(6).u8(4)  # add a stream
    respond(e, 0, kind=3)
    for _ in range(6):
        e.u8(4).u8(1).u8(1).u8(1)
        respond(e, 0, kind=2)
        e.u8(11).u8(3)
    e.u8(6).u8(5).u8(0)  # close a stream
    respond(e, 0)
    out("client_session", "keys-streams-report", e.bytes())

    e = Enc()
    client_config(e, wait=0, hold=0)
    respond_create(e, maxpause=False)
    for _ in range(5):
        e.u8(7).u8(1).u8(3)
        respond(e, 0)
    e.u8(0).u8(0).u8(7)  # transport failure
    e.u8(10).u8(0)  # a stale answer
    out("client_session", "polling-failures", e.bytes())

    e = Enc()
    client_config(e)
    e.u8(0).u8(0).u8(5).s("<body xmlns='http://jabber.org/protocol/httpbind' sid='x'")
    e.u8(9).u8(9).u8(9)
    out("client_session", "garbage-creation-response", e.bytes())


# -------------------------------------------------------------- cors_policy


def cors_policy():
    reset("cors_policy")
    # Builder ops are `u8 % 18` (see cors_core::fuzzing::build); requests
    # follow: method, [origin], [request method], [request headers], [pna].
    def req(method=1, origin=1, rm=None, rh=None):
        b = bytearray([1, method])
        b += bytes([1, 1, origin]) if origin is not None else bytes([0])
        b += bytes([1, 1, rm]) if rm is not None else bytes([0])
        b += bytes([1, 1, rh]) if rh is not None else bytes([0])
        b += bytes([0])  # no PNA
        b += bytes([1, 0])  # existing Vary
        return bytes(b)

    bosh = bytes([0, 0]) + bytes([2]) + req(5, 0, 1, 0) + req(1, 0) + req(1, None)
    out("cors_policy", "bosh-preset", bosh)
    creds = bytes([1, 5, 1, 1, 0, 4, 1, 0, 7, 1, 10, 1, 2, 8, 1, 2]) + bytes([7]) + b"".join(
        req(5, o, 2, 2) + req(1, o) for o in range(7)
    )
    out("cors_policy", "credentials-list-pattern", creds)
    bad = bytes([1, 3, 0, 7, 1]) + bytes([0])
    out("cors_policy", "any-with-credentials", bad)
    mirror = bytes([1, 4, 6, 1, 12, 16, 1, 2, 1, 6]) + bytes([3]) + req(5, 7, 2, 6) + req(5, 0, 2, 9) + req(1, 12)
    out("cors_policy", "mirror-null-pna", mirror)
    out("cors_policy", "noise", bytes(range(256)))


# ----------------------------------------------------------- http1_requests


def http1_requests():
    """One client connection's bytes, after three bytes: the piece size of
    the second read-through, and the head and body limits (see
    `bosh_driver::fuzzing::http1_requests`)."""
    reset("http1_requests")
    body = (
        f"<body rid='1000' to='example.com' wait='60' hold='1' ver='1.6' xmlns='{NS}'/>"
    ).encode()

    def chunked(parts, ext=b"", trailer=b""):
        b = b""
        for i, p in enumerate(parts):
            b += b"%x" % len(p) + (ext if i == 0 else b"") + b"\r\n" + p + b"\r\n"
        return b + b"0\r\n" + trailer + b"\r\n"

    def post(fields, data=b"", version=b"1.1"):
        return b"POST /http-bind HTTP/" + version + b"\r\n" + fields + b"\r\n" + data

    te = b"Host: x\r\nTransfer-Encoding: chunked\r\n"
    seeds = {
        "get": b"GET /http-bind HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "post-length": post(
            b"Host: example.com:5280\r\nOrigin: https://app.example.com\r\n"
            b"Content-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n" % len(body),
            body,
        ),
        "post-chunked-ext-trailer": post(
            te, chunked([body[:10], body[10:]], b";ext=1", b"X-Trailer: t\r\n")
        ),
        "pipelined": post(b"Host: x\r\nContent-Length: %d\r\n" % len(body), body) * 2
        + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "http10-keep-alive": post(
            b"Connection: keep-alive\r\nContent-Length: 5\r\n", b"hello", b"1.0"
        )
        + b"GET / HTTP/1.0\r\n\r\n",
        "expect-continue": post(
            b"Host: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n", b"hello"
        ),
        "smuggle-cl-te": post(
            b"Host: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n",
            b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        "smuggle-te-te": post(
            te + b"Transfer-Encoding: identity\r\n", b"0\r\n\r\n"
        ),
        "smuggle-empty-chunk-line": post(
            te, b"\r\n\r\nGET /http-bind HTTP/1.1\r\nHost: x\r\n\r\n"
        ),
        "smuggle-trailer-request": post(
            te, b"1\r\na\r\n0\r\nGET /x HTTP/1.1\r\nHost: y\r\n\r\n"
        ),
        "smuggle-lf-in-ext": post(te, b"1;\nX\r\na\r\n0\r\n\r\n"),
        "conflicting-lengths": post(
            b"Host: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n", b"hello!"
        ),
        "length-list": post(b"Host: x\r\nContent-Length: 5, 5\r\n", b"hello"),
        "bare-lf-head": b"GET /http-bind HTTP/1.1\nHost: x\n\n"
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "bad-host": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "no-host": b"GET / HTTP/1.1\r\n\r\n",
        "many-fields": b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(40))
        + b"\r\n",
        "long-chunk-ext": post(te, b"1;" + b"e" * 1100 + b"\r\na\r\n0\r\n\r\n"),
        "head-method": b"HEAD /http-bind HTTP/1.1\r\nHost: x\r\n\r\n",
        "options-preflight": b"OPTIONS /http-bind HTTP/1.1\r\nHost: x\r\n"
        b"Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n"
        b"Access-Control-Request-Headers: content-type\r\n\r\n",
        "truncated-body": post(b"Host: x\r\nContent-Length: 50\r\n", b"short"),
    }
    # Piece size, head limit, body limit: generous, small, tiny body.
    prefixes = [bytes([1, 255, 255]), bytes([7, 64, 20]), bytes([3, 255, 2])]
    for i, (name, data) in enumerate(sorted(seeds.items())):
        out("http1_requests", name, prefixes[i % 3] + data)


if __name__ == "__main__":
    parse_body()
    body_roundtrip()
    stream_framer()
    server_session()
    client_session()
    cors_policy()
    http1_requests()
    for d in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
