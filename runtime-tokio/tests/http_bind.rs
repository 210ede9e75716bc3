//! Black-box tests of `bosh-cm` on tokio: a real listener on 127.0.0.1:0,
//! a raw HTTP/1.1 client, and an in-process fake XMPP server.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

const ORIGIN: &str = "https://app.example.com";

fn allow_list_config(upstream: std::net::SocketAddr) -> bosh_driver::Config {
    bosh_driver::Config {
        allow_origins: vec![ORIGIN.to_owned()],
        ..test_config(upstream)
    }
}

#[tokio::test]
async fn full_cycle_create_auth_restart_and_message_echo() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;

    // Session creation: held until the server's features arrive.
    let resp = post(cm.addr, &creation(1000, "example.com")).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(resp.header("transfer-encoding"), None);
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    let body = resp.bosh();
    let sid = body.attrs.sid.clone().unwrap();
    assert_eq!(sid.len(), 32);
    assert_eq!(body.attrs.wait, Some(2), "wait is clamped to max_wait");
    assert_eq!(body.attrs.hold, Some(1));
    assert_eq!(body.attrs.requests, Some(2));
    assert_eq!(body.attrs.authid.as_deref(), Some("fake-1-1"));
    assert_eq!(body.attrs.xmpp_restartlogic, Some(true));
    let features = body
        .stream_features()
        .expect("features in the creation response");
    assert!(String::from_utf8_lossy(&features).contains("PLAIN"));

    let mut conn = fake.next_conn().await;
    let header = conn.wait_for("<stream:stream").await;
    assert!(header.contains("to='example.com'"), "{header}");
    assert!(header.contains("version='1.0'"), "{header}");

    // SASL: the <auth/> goes upstream, <success/> comes back.
    let auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>";
    let resp = post(cm.addr, &with_payload(&sid, 1001, auth)).await;
    conn.wait_for("</auth>").await;
    assert!(resp.text().contains("<success"), "{}", resp.text());

    // Restart (XEP-0206 §5): a new stream header on the same connection.
    let restart = format!(
        "<body rid='1002' sid='{sid}' to='example.com' xml:lang='en' xmpp:restart='true' \
         xmlns='{NS}' xmlns:xmpp='urn:xmpp:xbosh'/>"
    );
    let resp = post(cm.addr, &restart).await;
    let body = resp.bosh();
    let features = body.stream_features().expect("features after restart");
    assert!(String::from_utf8_lossy(&features).contains("bind"));
    let seen = conn.wait_for_count("<stream:stream", 2).await;
    assert!(
        seen.rfind("<stream:stream").unwrap() > seen.find("</auth>").unwrap(),
        "{seen}"
    );
    assert_eq!(fake.accepted(), 1, "restart reuses the connection");

    // A message goes up; the server's echo comes back on the held request.
    let msg = "<message to='echo@example.com' type='chat' xmlns='jabber:client'><body>hi</body></message>";
    let resp = post(cm.addr, &with_payload(&sid, 1003, msg)).await;
    conn.wait_for("<body>hi</body>").await;
    let text = resp.text();
    assert!(text.contains("<body>echo</body>"), "{text}");
    cm.shutdown.shutdown();
}

#[tokio::test]
async fn held_request_answered_empty_at_wait() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let (sid, rid, _conn) = create_session(&cm, &mut fake).await;
    let start = Instant::now();
    let resp = post(cm.addr, &empty(&sid, rid)).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1800) && elapsed < Duration::from_secs(4),
        "held for {elapsed:?}, expected about wait = 2 s"
    );
    let body = resp.bosh();
    assert!(body.is_empty());
    assert_eq!(body.attrs.condition, None);
}

#[tokio::test]
async fn held_request_answered_when_a_stanza_arrives() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let (sid, rid, conn) = create_session(&cm, &mut fake).await;
    let addr = cm.addr;
    let poll = tokio::spawn(async move {
        let start = Instant::now();
        (post(addr, &empty(&sid, rid)).await, start.elapsed())
    });
    sleep(Duration::from_millis(300)).await;
    conn.send("<message from='a@example.com' to='user@example.com'><body>pushed</body></message>");
    let (resp, elapsed) = poll.await.unwrap();
    assert!(
        elapsed < Duration::from_millis(1500),
        "answered after {elapsed:?}"
    );
    let text = resp.text();
    assert!(text.contains("<body>pushed</body>"), "{text}");
    // Standalone: the stanza carries its namespace.
    assert!(text.contains("xmlns='jabber:client'"), "{text}");
}

#[tokio::test]
async fn replayed_rid_gets_identical_bytes() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let (sid, rid, _conn) = create_session(&cm, &mut fake).await;
    let msg = "<message to='echo@example.com' xmlns='jabber:client'><body>hi</body></message>";
    let first = post(cm.addr, &with_payload(&sid, rid, msg)).await;
    assert!(first.text().contains("echo"));
    let start = Instant::now();
    let again = post(cm.addr, &with_payload(&sid, rid, msg)).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "a replay is answered at once"
    );
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body, first.body,
        "byte-identical replay (XEP-0124 §14.3)"
    );
}

#[tokio::test]
async fn inactivity_ends_the_session_and_closes_upstream() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        inactivity: 5,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let (sid, rid, mut conn) = create_session(&cm, &mut fake).await;
    let start = Instant::now();
    let seen = conn.wait_closed().await;
    let elapsed = start.elapsed();
    assert!(seen.ends_with("</stream:stream>"), "{seen}");
    assert!(
        elapsed >= Duration::from_millis(4500) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}, expected inactivity = 5 s"
    );
    let resp = post(cm.addr, &empty(&sid, rid)).await;
    assert_eq!(condition(&resp).as_deref(), Some("item-not-found"));
}

#[tokio::test]
async fn terminate_forwards_payload_answers_terminate_and_closes_upstream() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let (sid, rid, mut conn) = create_session(&cm, &mut fake).await;
    let resp = post(
        cm.addr,
        &terminate(
            &sid,
            rid,
            "<presence type='unavailable' xmlns='jabber:client'/>",
        ),
    )
    .await;
    assert_eq!(resp.status, 200);
    let body = resp.bosh();
    assert_eq!(body.attrs.body_type.map(|t| t.as_str()), Some("terminate"));
    let seen = conn.wait_closed().await;
    assert!(seen.contains("<presence"), "{seen}");
    assert!(seen.ends_with("</stream:stream>"), "{seen}");
    // The session is gone for new rids.
    // While the ended session lingers, a later request is told it was
    // terminated (so a client whose acknowledgement was lost agrees).
    let resp = post(cm.addr, &empty(&sid, rid + 1)).await;
    assert!(resp.bosh().attrs.is_terminate(), "{}", resp.text());
    assert_eq!(condition(&resp), None);
}

#[tokio::test]
async fn cors_headers_and_vary_on_terminate_and_error_responses() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(allow_list_config(fake.addr)).await;
    let check = |r: &HttpResponse, what: &str| {
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some(ORIGIN),
            "{what}"
        );
        assert_eq!(r.header_count("access-control-allow-origin"), 1, "{what}");
        assert_eq!(r.header("vary"), Some("Origin"), "{what}");
    };
    let resp = post_from(cm.addr, ORIGIN, &creation(1000, "example.com")).await;
    check(&resp, "creation");
    let sid = resp.bosh().attrs.sid.unwrap();
    let _conn = fake.next_conn().await;

    let r = post_from(cm.addr, ORIGIN, &terminate(&sid, 1001, "")).await;
    assert_eq!(
        r.bosh().attrs.body_type.map(|t| t.as_str()),
        Some("terminate")
    );
    check(&r, "terminate");

    let r = post_from(cm.addr, ORIGIN, "<body").await;
    assert_eq!(condition(&r).as_deref(), Some("bad-request"));
    check(&r, "bad-request");

    let r = post_from(cm.addr, ORIGIN, &empty("0123456789abcdef", 5)).await;
    assert_eq!(condition(&r).as_deref(), Some("item-not-found"));
    check(&r, "item-not-found");

    let big = "x".repeat(2 * 1024 * 1024);
    let r = post_from(cm.addr, ORIGIN, &big).await;
    assert_eq!(r.status, 413);
    check(&r, "413");

    let r = request(cm.addr, "PUT", "/http-bind", &[("Origin", ORIGIN)], b"").await;
    assert_eq!(r.status, 405);
    check(&r, "405");

    // Another origin gets no CORS fields, but still the Vary.
    let r = post_from(cm.addr, "https://evil.example", "<body").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), Some("Origin"));
    // And so does a request without Origin.
    let r = post(cm.addr, "<body").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), Some("Origin"));
}

#[tokio::test]
async fn credentials_are_allowed_only_with_the_echoed_origin() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        allow_credentials: true,
        ..allow_list_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let r = post_from(cm.addr, ORIGIN, "<body").await;
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
}

#[tokio::test]
async fn shutdown_answers_system_shutdown_to_held_requests() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        max_wait: 30,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let (sid, rid, mut conn) = create_session(&cm, &mut fake).await;
    let addr = cm.addr;
    let held = tokio::spawn(async move { post(addr, &empty(&sid, rid)).await });
    sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    cm.shutdown.shutdown();
    let resp = held.await.unwrap();
    assert_eq!(condition(&resp).as_deref(), Some("system-shutdown"));
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    timeout(Duration::from_secs(6), cm.done)
        .await
        .expect("the server stops within the grace period")
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(3));
    let seen = conn.wait_closed().await;
    assert!(seen.ends_with("</stream:stream>"), "{seen}");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn oversized_body_refused_before_read() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        max_body: 4096,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let mut stream = TcpStream::connect(cm.addr).await.unwrap();
    // Announce 10 MB and send none of it: the answer must not wait for it.
    stream
        .write_all(
            b"POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n\
              Content-Length: 10000000\r\n\r\n",
        )
        .await
        .unwrap();
    let resp = timeout(Duration::from_secs(2), read_response(&mut stream))
        .await
        .expect("413 before the body is sent");
    assert_eq!(resp.status, 413);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(condition(&resp).as_deref(), Some("bad-request"));
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn oversized_chunked_body_refused_while_streaming() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        max_body: 4096,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let mut stream = TcpStream::connect(cm.addr).await.unwrap();
    stream
        .write_all(b"POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("1000\r\n{}\r\n", "a".repeat(0x1000));
    stream.write_all(chunk.as_bytes()).await.unwrap();
    stream.write_all(chunk.as_bytes()).await.unwrap();
    let resp = read_response(&mut stream).await;
    assert_eq!(resp.status, 413);
}

#[tokio::test]
async fn malformed_requests_answered_bad_request() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    for bad in [
        "",
        "<body",
        "not xml at all",
        "<notbody xmlns='http://jabber.org/protocol/httpbind'/>",
        "<!DOCTYPE body [<!ENTITY a 'b'>]><body rid='1' xmlns='http://jabber.org/protocol/httpbind'/>",
        "<body rid='x' to='example.com' xmlns='http://jabber.org/protocol/httpbind'/>",
    ] {
        let resp = post(cm.addr, bad).await;
        assert_eq!(resp.status, 200, "{bad:?}");
        assert_eq!(condition(&resp).as_deref(), Some("bad-request"), "{bad:?}");
    }
    assert_eq!(fake.accepted(), 0);
}

#[tokio::test]
async fn route_or_to_outside_the_allow_list_refused_without_connecting() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let mut domains = BTreeMap::new();
    domains.insert("example.com".to_owned(), fake.addr.to_string());
    let config = bosh_driver::Config {
        upstream: None,
        domains,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let resp = post(cm.addr, &creation(1000, "evil.example")).await;
    assert_eq!(condition(&resp).as_deref(), Some("host-unknown"));
    let with_route = format!(
        "<body rid='1000' to='example.com' route='xmpp:10.0.0.1:5222' wait='60' hold='1' \
         ver='1.6' xmlns='{NS}'/>"
    );
    let resp = post(cm.addr, &with_route).await;
    assert_eq!(condition(&resp).as_deref(), Some("host-unknown"));
    let no_to = format!("<body rid='1000' wait='60' hold='1' ver='1.6' xmlns='{NS}'/>");
    let resp = post(cm.addr, &no_to).await;
    assert_eq!(condition(&resp).as_deref(), Some("improper-addressing"));
    assert_eq!(fake.accepted(), 0, "no upstream connection was attempted");
    // The allowed domain with its own route works.
    let ok = format!(
        "<body rid='1000' to='example.com' route='xmpp:{}' wait='60' hold='1' ver='1.6' \
         xmlns='{NS}'/>",
        fake.addr
    );
    let resp = post(cm.addr, &ok).await;
    assert!(resp.bosh().attrs.sid.is_some(), "{}", resp.text());
}

#[tokio::test]
async fn upstream_closing_mid_session_reports_remote_connection_failed() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        max_wait: 30,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let (sid, rid, conn) = create_session(&cm, &mut fake).await;
    let addr = cm.addr;
    let held = tokio::spawn(async move { post(addr, &empty(&sid, rid)).await });
    sleep(Duration::from_millis(300)).await;
    conn.close();
    let resp = timeout(Duration::from_secs(5), held)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        condition(&resp).as_deref(),
        Some("remote-connection-failed")
    );
}

#[tokio::test]
async fn unreachable_upstream_reports_remote_connection_failed() {
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cm = start_cm(test_config(closed)).await;
    let resp = post(cm.addr, &creation(1000, "example.com")).await;
    assert_eq!(
        condition(&resp).as_deref(),
        Some("remote-connection-failed")
    );
}

#[tokio::test]
async fn client_dropping_a_held_request_gets_the_cached_answer_on_resend() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        max_wait: 30,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let (sid, rid, conn) = create_session(&cm, &mut fake).await;
    let mut stream = TcpStream::connect(cm.addr).await.unwrap();
    write_request(
        &mut stream,
        "POST",
        "/http-bind",
        &[],
        empty(&sid, rid).as_bytes(),
    )
    .await;
    sleep(Duration::from_millis(300)).await;
    drop(stream); // the client goes away while its request is held
    sleep(Duration::from_millis(300)).await;
    // The resend of that rid is answered at once from the cache (§14.3),
    // instead of being held again for `wait`.
    let start = Instant::now();
    let resend = post(cm.addr, &empty(&sid, rid)).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(resend.status, 200);
    let body = resend.bosh();
    assert_eq!(body.attrs.body_type, None, "{}", resend.text());
    assert_eq!(body.attrs.condition, None);
    // The session lives on: the next rid is held and gets pushed data.
    let addr = cm.addr;
    let next = tokio::spawn(async move { post(addr, &empty(&sid, rid + 1)).await });
    sleep(Duration::from_millis(200)).await;
    conn.send("<message from='a@example.com'><body>after</body></message>");
    let resp = timeout(Duration::from_secs(5), next)
        .await
        .unwrap()
        .unwrap();
    assert!(resp.text().contains("after"), "{}", resp.text());
}

#[tokio::test]
async fn get_answers_an_html_page() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let r = request(cm.addr, "GET", "/http-bind", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("BOSH endpoint"));
    assert!(r.text().contains("/http-bind"));
    let r = request(cm.addr, "GET", "/elsewhere", &[], b"").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn put_answers_405_with_allow() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    for method in ["PUT", "DELETE", "PATCH"] {
        let r = request(cm.addr, method, "/http-bind", &[], b"").await;
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    }
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_answered_and_from_another_denied() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(allow_list_config(fake.addr)).await;
    let headers = [
        ("Origin", ORIGIN),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ];
    let r = request(cm.addr, "OPTIONS", "/http-bind", &headers, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, POST, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Content-Type")
    );
    assert_eq!(r.header("access-control-max-age"), Some("7200"));
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(r.header("content-length"), Some("0"));

    let evil = [
        ("Origin", "https://evil.example"),
        ("Access-Control-Request-Method", "POST"),
    ];
    let r = request(cm.addr, "OPTIONS", "/http-bind", &evil, b"").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), Some("Origin"));

    // A plain OPTIONS (no preflight) describes the endpoint.
    let r = request(cm.addr, "OPTIONS", "/http-bind", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let cm = start_cm(test_config(fake.addr)).await;
    let mut stream = TcpStream::connect(cm.addr).await.unwrap();
    for _ in 0..3 {
        write_request(&mut stream, "GET", "/http-bind", &[], b"").await;
        assert_eq!(read_response(&mut stream).await.status, 200);
        write_request(&mut stream, "POST", "/http-bind", &[], b"<body").await;
        assert_eq!(
            condition(&read_response(&mut stream).await).as_deref(),
            Some("bad-request")
        );
    }
}

#[tokio::test]
async fn slow_request_headers_are_cut_by_the_header_read_timeout() {
    let fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        header_read_timeout: 1,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let mut stream = TcpStream::connect(cm.addr).await.unwrap();
    stream
        .write_all(b"POST /http-bind HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 256];
    let n = timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("the server closes a slow connection")
        .unwrap_or(0);
    let _ = n;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn max_sessions_refuses_further_sessions() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        max_sessions: 1,
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let (_sid, _rid, _conn) = create_session(&cm, &mut fake).await;
    let resp = post(cm.addr, &creation(5000, "example.com")).await;
    assert_eq!(
        resp.bosh().attrs.body_type.map(|t| t.as_str()),
        Some("terminate")
    );
    assert_eq!(fake.accepted(), 1);
}

#[tokio::test]
async fn added_stream_outside_the_allow_list_is_refused_without_connecting() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let config = bosh_driver::Config {
        allowed_domains: vec!["example.com".to_owned()],
        ..test_config(fake.addr)
    };
    let cm = start_cm(config).await;
    let (sid, rid, _conn) = create_session(&cm, &mut fake).await;
    // XEP-0124 §16.3: a request with `to` adds a stream to the session.
    let add = format!(
        "<body rid='{rid}' sid='{sid}' to='evil.example' xmpp:version='1.0' xmlns='{NS}' \
         xmlns:xmpp='urn:xmpp:xbosh'/>"
    );
    let resp = post(cm.addr, &add).await;
    let body = resp.bosh();
    // The add-stream request is answered with the refusal, for that stream
    // only (R16.6-1).
    assert!(body.attrs.stream.is_some(), "the refused stream is named");
    assert_eq!(
        body.attrs.condition.map(|c| c.as_str()),
        Some("host-unknown")
    );
    assert_eq!(fake.accepted(), 1, "no connection for the refused stream");
    // The first stream lives on.
    let msg = "<message to='echo@example.com' xmlns='jabber:client'><body>hi</body></message>";
    let resp = post(cm.addr, &with_payload(&sid, rid + 1, msg)).await;
    assert!(resp.text().contains("<body>echo</body>"), "{}", resp.text());
}
