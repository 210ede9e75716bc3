//! Runs the `axum_mount` example: BOSH mounted at `/chat/bosh` inside an
//! axum application, next to the application's own route.

mod common;

#[path = "../examples/axum_mount.rs"]
#[allow(dead_code)]
mod example;

use std::time::Duration;

use common::*;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[tokio::test]
async fn axum_app_serves_bosh_at_its_own_path_next_to_its_routes() {
    let mut fake = FakeXmpp::start(Mode::Echo).await;
    let settings = test_config(fake.addr).validate().unwrap();
    let bosh = runtime_tokio::service(settings).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(example::serve(listener, bosh, async move {
        let _ = stop_rx.await;
    }));

    // The application's own route.
    let r = request(addr, "GET", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Hello from the application"));

    // BOSH at the mount path: the page, CORS, and a whole session.
    let r = request(addr, "GET", "/chat/bosh", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("BOSH endpoint"));
    let preflight = [
        ("Origin", "https://app.example.com"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ];
    let r = request(addr, "OPTIONS", "/chat/bosh", &preflight, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let post_to = |body: String| post_at(addr, "/chat/bosh", body);
    let r = post_to(creation(7, "example.com")).await;
    let sid = r.bosh().attrs.sid.expect("a session");
    let mut conn = fake.next_conn().await;
    conn.wait_for("<stream:stream").await;
    let msg = "<message to='echo@example.com' xmlns='jabber:client'><body>hi</body></message>";
    let r = post_to(with_payload(&sid, 8, msg)).await;
    assert!(r.text().contains("<body>echo</body>"), "{}", r.text());

    // A held request is answered system-shutdown when the application stops.
    let held = tokio::spawn(post_to(empty(&sid, 9)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop_tx.send(());
    let r = tokio::time::timeout(LIMIT, held).await.unwrap().unwrap();
    assert_eq!(condition(&r).as_deref(), Some("system-shutdown"));
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
