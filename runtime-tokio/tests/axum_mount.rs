//! Runs the `axum_mount` example: BOSH mounted at `/chat/bosh` inside an
//! axum application, next to the application's own route. In process and
//! tokio-specific (the shared black-box suites are in `blackbox/`); the
//! application runs on a tokio runtime of its own thread, the test talks to
//! it with the suites' blocking HTTP client and fake XMPP server.

#[path = "../../blackbox/support.rs"]
mod support;

#[path = "../examples/axum_mount.rs"]
#[allow(dead_code)]
mod example;

use std::time::Duration;

use bosh_driver::Config;
use support::*;
use tokio::sync::oneshot;

#[test]
fn axum_app_serves_bosh_at_its_own_path_next_to_its_routes() {
    let mut fake = FakeXmpp::start(Mode::Echo);
    let config = Config {
        listen: "127.0.0.1:0".to_owned(),
        upstream: Some(fake.addr.to_string()),
        max_wait: 2,
        shutdown_grace: 5,
        ..Config::default()
    };
    let settings = config.validate().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (addr, server) = rt.block_on(async move {
        let bosh = runtime_tokio::service(settings).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(example::serve(listener, bosh, async move {
            let _ = stop_rx.await;
        }));
        (addr, server)
    });

    // The application's own route.
    let r = request(addr, "GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Hello from the application"));

    // BOSH at the mount path: the page, CORS, and a whole session.
    let r = request(addr, "GET", "/chat/bosh", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("BOSH endpoint"));
    let preflight = [
        ("Origin", "https://app.example.com"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ];
    let r = request(addr, "OPTIONS", "/chat/bosh", &preflight, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let post_to = move |body: String| post_at(addr, "/chat/bosh", &body);
    let r = post_to(creation(7, "example.com"));
    let sid = r.bosh().attrs.sid.expect("a session");
    let mut conn = fake.next_conn();
    conn.wait_for("<stream:stream");
    let msg = "<message to='echo@example.com' xmlns='jabber:client'><body>hi</body></message>";
    let r = post_to(with_payload(&sid, 8, msg));
    assert!(r.text().contains("<body>echo</body>"), "{}", r.text());

    // A held request is answered system-shutdown when the application stops.
    let held = Bg::spawn(move || post_to(empty(&sid, 9)));
    std::thread::sleep(Duration::from_millis(300));
    let _ = stop_tx.send(());
    let r = held
        .join_within(LIMIT)
        .expect("the held request is answered");
    assert_eq!(condition(&r).as_deref(), Some("system-shutdown"));
    rt.block_on(async { tokio::time::timeout(LIMIT, server).await })
        .unwrap()
        .unwrap()
        .unwrap();
}
