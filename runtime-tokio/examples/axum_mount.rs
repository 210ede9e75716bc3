//! An axum application that mounts BOSH at `/chat/bosh`, next to a route of
//! its own.
//!
//! ```sh
//! cargo run -p runtime-tokio --example axum_mount
//! # then point a BOSH client at http://127.0.0.1:8080/chat/bosh
//! ```
//!
//! The XMPP server is expected at 127.0.0.1:5222 (the `bosh-cm` default).
//! The BOSH handler is a `tower::Service`; axum routes `/chat/bosh` to it
//! and everything else to the application. On Ctrl-C the application stops
//! accepting and every BOSH session is answered `system-shutdown`.

use std::future::Future;

use axum::Router;
use axum::routing::get;
use runtime_tokio::BoshService;
use tokio::net::TcpListener;

/// The application: its own page at `/` and BOSH at `/chat/bosh`.
pub(crate) fn app(bosh: BoshService) -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from the application\n" }))
        .route_service("/chat/bosh", bosh)
}

/// Serves the application on `listener` until `stop` completes, then closes
/// every BOSH session with `system-shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    bosh: BoshService,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let on_stop = bosh.clone();
    axum::serve(listener, app(bosh))
        .with_graceful_shutdown(async move {
            stop.await;
            // Answer held BOSH requests before the server waits for them.
            on_stop.shutdown().await;
        })
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = runtime_tokio::bosh_driver::Config::default().validate()?;
    let bosh = runtime_tokio::service(settings)?;
    let listener = TcpListener::bind("127.0.0.1:8080").await?;
    serve(listener, bosh, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
