//! Black-box tests of the binary's HTTP/1.1 connections (RFC 9112): framing,
//! the defences against request smuggling, `Expect`, persistence and
//! pipelining, head limits, and idle keep-alive connections.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::BIN;
use crate::support::*;

const ORIGIN: &str = "https://app.example.com";

fn start_cm(args: CmArgs) -> CmProcess {
    CmProcess::start(BIN, &args.add("--allow-origin", ORIGIN))
}

fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("write");
}

/// Whether the server closes `stream` within `limit` (end of stream or a
/// reset, after any bytes still in flight).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    let mut buf = [0u8; 512];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn rfc9112_6_1_content_length_with_chunked_is_refused_with_cors_and_closed() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    let body = creation(1000, "example.com");
    let head = format!(
        "POST /http-bind HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nContent-Length: {}\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        body.len()
    );
    send(&mut stream, head.as_bytes());
    send(&mut stream, body.as_bytes());
    let resp = read_response(&mut stream);
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_within(&mut stream, LIMIT));
    assert_eq!(fake.accepted(), 0, "the smuggled body reached no session");
}

#[test]
fn rfc9112_6_3_unknown_transfer_coding_is_501_and_not_chunked_last_400() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    for (coding, status) in [
        ("gzip, chunked", 501),
        ("chunked, gzip", 400),
        ("gzip", 400),
    ] {
        let mut stream = connect(cm.addr);
        let head = format!(
            "POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {coding}\r\n\r\n0\r\n\r\n"
        );
        send(&mut stream, head.as_bytes());
        assert_eq!(read_response(&mut stream).status, status, "{coding}");
        assert!(closed_within(&mut stream, LIMIT), "{coding}");
    }
}

#[test]
fn rfc9112_3_2_http11_request_without_host_is_400() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    send(&mut stream, b"GET /http-bind HTTP/1.1\r\n\r\n");
    assert_eq!(read_response(&mut stream).status, 400);
}

#[test]
fn rfc9112_7_1_chunked_body_with_extensions_and_trailers_creates_a_session() {
    let mut fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    let body = creation(1000, "example.com");
    let (a, b) = body.split_at(10);
    let chunked = format!(
        "POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x};ext=1\r\n{a}\r\n{:X}\r\n{b}\r\n0\r\nX-Trailer: t\r\n\r\n",
        a.len(),
        b.len()
    );
    // Sent in small pieces, to cross every parse boundary.
    for piece in chunked.as_bytes().chunks(7) {
        send(&mut stream, piece);
    }
    let resp = read_response(&mut stream);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.bosh().attrs.sid.is_some(), "{}", resp.text());
    fake.next_conn().wait_for("<stream:stream");
    // The connection is still usable.
    write_request(&mut stream, "GET", "/http-bind", &[], b"");
    assert_eq!(read_response(&mut stream).status, 200);
}

#[test]
fn rfc9112_7_1_malformed_chunk_is_400_and_closed() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    send(
        &mut stream,
        b"POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\n<bodyXX0\r\n\r\n",
    );
    let resp = read_response(&mut stream);
    assert_eq!(resp.status, 400);
    assert!(closed_within(&mut stream, LIMIT));
    assert_eq!(fake.accepted(), 0);
}

#[test]
fn rfc9112_7_1_a_chunk_line_without_digits_is_400_not_the_last_chunk() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    // httparse alone reads the empty line as the last chunk, and the GET
    // after it as a second request that a proxy in front never saw.
    for line in ["", ";x", " 5"] {
        let mut stream = connect(cm.addr);
        let raw = format!(
            "POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
             {line}\r\n\r\nGET /http-bind HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        send(&mut stream, raw.as_bytes());
        assert_eq!(read_response(&mut stream).status, 400, "{line:?}");
        assert!(
            closed_within(&mut stream, LIMIT),
            "{line:?}: the GET is not answered"
        );
    }
}

#[test]
fn rfc9112_7_1_2_a_request_where_the_trailers_go_is_400_and_closed() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    let body = creation(1000, "example.com");
    let raw = format!(
        "POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\nGET /http-bind HTTP/1.1\r\nHost: y\r\n\r\n",
        body.len()
    );
    send(&mut stream, raw.as_bytes());
    assert_eq!(read_response(&mut stream).status, 400);
    assert!(closed_within(&mut stream, LIMIT));
    assert_eq!(fake.accepted(), 0, "the body reached no session");
}

#[test]
fn rfc9110_15_2_no_interim_answer_to_an_http10_client() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    let body = creation(1000, "example.com");
    let head = format!(
        "POST /http-bind HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    send(&mut stream, head.as_bytes());
    send(&mut stream, body.as_bytes());
    // The first answer is the final one: a 1.0 client would take a 100 as
    // the answer and lose the real one.
    let resp = read_response(&mut stream);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.bosh().attrs.sid.is_some(), "{}", resp.text());
}

#[test]
fn rfc9110_9_3_2_a_refused_head_request_gets_no_content() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    send(
        &mut stream,
        b"HEAD /http-bind HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    );
    let mut all = Vec::new();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream
        .read_to_end(&mut all)
        .expect("closed after the refusal");
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    let end = text.find("\r\n\r\n").expect("a complete head") + 4;
    assert_eq!(&text[end..], "", "nothing after the head");
}

#[test]
fn rfc9110_10_1_1_expect_100_continue_gets_the_interim_answer_first() {
    let mut fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    let body = creation(1000, "example.com");
    let head = format!(
        "POST /http-bind HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    send(&mut stream, head.as_bytes());
    let interim = read_response(&mut stream);
    assert_eq!(interim.status, 100);
    send(&mut stream, body.as_bytes());
    let resp = read_response(&mut stream);
    assert_eq!(resp.status, 200);
    assert!(resp.bosh().attrs.sid.is_some());
    fake.next_conn().wait_for("<stream:stream");
}

#[test]
fn rfc9110_10_1_1_other_expectations_are_417() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    send(
        &mut stream,
        b"POST /http-bind HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Length: 5\r\n\r\n",
    );
    assert_eq!(read_response(&mut stream).status, 417);
}

#[test]
fn rfc9112_9_3_pipelined_requests_are_answered_in_order() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    let bad = "<body";
    let pipelined = format!(
        "GET /http-bind HTTP/1.1\r\nHost: x\r\n\r\n\
         POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{bad}\
         OPTIONS /http-bind HTTP/1.1\r\nHost: x\r\n\r\n",
        bad.len()
    );
    send(&mut stream, pipelined.as_bytes());
    let first = read_response(&mut stream);
    assert_eq!(first.status, 200);
    assert!(first.text().contains("<html"), "{}", first.text());
    let second = read_response(&mut stream);
    assert_eq!(condition(&second).as_deref(), Some("bad-request"));
    let third = read_response(&mut stream);
    assert_eq!(third.status, 200);
    assert!(third.header("allow").is_some());
}

#[test]
fn rfc9112_9_3_http10_closes_unless_keep_alive_is_asked() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    send(&mut stream, b"GET /http-bind HTTP/1.0\r\n\r\n");
    let resp = read_response(&mut stream);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_within(&mut stream, LIMIT));

    let mut stream = connect(cm.addr);
    for _ in 0..2 {
        send(
            &mut stream,
            b"GET /http-bind HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        );
        let resp = read_response(&mut stream);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn rfc9112_9_6_connection_close_is_honoured() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    write_request(
        &mut stream,
        "GET",
        "/http-bind",
        &[("Connection", "close")],
        b"",
    );
    let resp = read_response(&mut stream);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_within(&mut stream, LIMIT));
}

#[test]
fn rfc9110_9_3_2_head_has_the_length_but_no_body() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    write_request(&mut stream, "GET", "/http-bind", &[], b"");
    let get = read_response(&mut stream);
    send(&mut stream, b"HEAD /http-bind HTTP/1.1\r\nHost: x\r\n\r\n");
    send(&mut stream, b"GET /http-bind HTTP/1.1\r\nHost: x\r\n\r\n");
    // The HEAD answer's head, then straight the next answer: had it carried
    // a body, the next status line would not be where it is read.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {}", get.body.len())),
        "{head}"
    );
    assert_eq!(read_response(&mut stream).body, get.body);
}

#[test]
fn head_over_max_header_bytes_is_431() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr).set("--max-header-bytes", 2048));
    let mut stream = connect(cm.addr);
    let big = "a".repeat(3000);
    write_request(&mut stream, "GET", "/http-bind", &[("Cookie", &big)], b"");
    assert_eq!(read_response(&mut stream).status, 431);
    // Within the limit is fine.
    let mut stream = connect(cm.addr);
    let small = "a".repeat(1500);
    write_request(&mut stream, "GET", "/http-bind", &[("Cookie", &small)], b"");
    assert_eq!(read_response(&mut stream).status, 200);
}

#[test]
fn more_fields_than_max_headers_is_431() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr).set("--max-headers", 10));
    let fields: Vec<(String, String)> = (0..12).map(|i| (format!("X-{i}"), "v".into())).collect();
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (&**n, &**v)).collect();
    let mut stream = connect(cm.addr);
    write_request(&mut stream, "GET", "/http-bind", &fields, b"");
    assert_eq!(read_response(&mut stream).status, 431);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_header_read_timeout() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr).set("--header-read-timeout", 1));
    let mut stream = connect(cm.addr);
    write_request(&mut stream, "GET", "/http-bind", &[], b"");
    assert_eq!(read_response(&mut stream).status, 200);
    let start = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(5)));
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_held_request_survives_an_idle_connection_timeout() {
    // The header timeout is shorter than `wait`: it must not cut a request
    // the server is holding.
    let mut fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(
        CmArgs::test(fake.addr)
            .set("--header-read-timeout", 1)
            .set("--max-wait", 3),
    );
    let (sid, rid, _conn) = create_session(cm.addr, &mut fake);
    let start = Instant::now();
    let resp = post(cm.addr, &empty(&sid, rid));
    assert_eq!(resp.status, 200);
    assert!(resp.bosh().attrs.body_type.is_none(), "{}", resp.text());
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn rfc9112_2_2_a_head_sent_a_byte_at_a_time_is_answered() {
    let fake = FakeXmpp::start(Mode::Echo);
    let cm = start_cm(CmArgs::test(fake.addr));
    let mut stream = connect(cm.addr);
    for byte in b"GET /http-bind HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n" {
        send(&mut stream, &[*byte]);
    }
    assert_eq!(read_response(&mut stream).status, 200);
}
