//! HTTP/1.1 POSTs to the connection manager: hyper 1 client connections on
//! [`Runtime::connect_tcp`] streams, kept alive in a small pool.
//!
//! One request at a time per connection (no pipelining): with `hold = 1` the
//! session has at most two requests in flight (three while terminating), so
//! the pool holds at most a few idle connections. Every request either
//! reuses an idle connection or opens a new one; a request that fails on a
//! reused connection before any response arrived (the server closed it while
//! idle) is sent once more on a fresh connection: a BOSH request may always
//! be repeated byte-identical (XEP-0124 §14.3).
//!
//! Cancelling a request (dropping its future) closes its connection, which is
//! how the connection manager learns that the client gave up on it.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bosh_core::client::Outcome;
use bytes::Bytes;
use futures_channel::oneshot;
use http::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::client::conn::http1;
use tracing::{debug, trace};

use super::url::BoshUrl;
use crate::io::HyperIo;
use crate::runtime::{Runtime, with_deadline};

/// The media type of every request (XEP-0124 §5).
const CONTENT_TYPE_XML: &str = "text/xml; charset=utf-8";

type Sender = http1::SendRequest<OnceBody>;

/// Knobs of the HTTP side.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_idle: usize,
    pub(crate) user_agent: Option<String>,
}

/// Posts bodies to one URL.
#[derive(Debug)]
pub(crate) struct HttpClient {
    rt: Arc<dyn Runtime>,
    url: BoshUrl,
    settings: HttpSettings,
    idle: Mutex<Vec<Sender>>,
}

/// How one exchange failed.
enum Failed {
    /// Before any response: worth another try on a fresh connection when the
    /// connection was a reused one.
    BeforeResponse,
    /// During or after the response head.
    Later,
}

impl HttpClient {
    pub(crate) fn new(rt: Arc<dyn Runtime>, url: BoshUrl, settings: HttpSettings) -> HttpClient {
        HttpClient {
            rt,
            url,
            settings,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn url(&self) -> &BoshUrl {
        &self.url
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.settings.connect_timeout
    }

    /// Opens a connection (bounded by the connect timeout) and puts it in
    /// the pool: `connect` uses this to fail fast on a wrong URL.
    pub(crate) async fn warm_up(&self) -> io::Result<()> {
        let sender = self.connect().await?;
        self.check_in(sender);
        Ok(())
    }

    /// POSTs `body` and reports the outcome for the session. `written` is
    /// completed once the body is handed to a connection (dropped if the
    /// request fails before that).
    pub(crate) async fn post(&self, body: Bytes, written: oneshot::Sender<()>) -> Outcome {
        let written = Arc::new(Mutex::new(Some(written)));
        if let Some(sender) = self.check_out() {
            let once = OnceBody::new(body.clone(), written.clone());
            match self.exchange(sender, once).await {
                Ok(outcome) => return outcome,
                Err(Failed::Later) => return Outcome::TransportFailure,
                Err(Failed::BeforeResponse) => {
                    debug!("reused connection failed before the response; retrying on a new one");
                }
            }
        }
        let sender = match self.connect().await {
            Ok(s) => s,
            Err(e) => {
                debug!(url = %self.url, error = %e, "cannot connect");
                return Outcome::TransportFailure;
            }
        };
        self.exchange(sender, OnceBody::new(body, written))
            .await
            .unwrap_or(Outcome::TransportFailure)
    }

    async fn connect(&self) -> io::Result<Sender> {
        let at = self
            .rt
            .now()
            .checked_add(self.settings.connect_timeout)
            .unwrap_or_else(|| self.rt.now());
        let connect = self.rt.connect_tcp(self.url.host(), self.url.port());
        let stream = with_deadline(&*self.rt, at, connect)
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        let handshake = http1::Builder::new().handshake::<_, OnceBody>(HyperIo::new(stream));
        let (sender, conn) = with_deadline(&*self.rt, at, handshake)
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))?
            .map_err(io::Error::other)?;
        // The connection ends when every sender is dropped, or when a request
        // future is dropped before its response (hyper then closes it).
        self.rt.spawn(Box::pin(async move {
            if let Err(e) = conn.await {
                trace!(error = %e, "client connection ended");
            }
        }));
        Ok(sender)
    }

    /// Closes every idle connection (the session is over).
    pub(crate) fn close_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn check_out(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn check_in(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.settings.max_idle {
            idle.push(sender);
        }
    }

    async fn exchange(&self, mut sender: Sender, body: OnceBody) -> Result<Outcome, Failed> {
        sender.ready().await.map_err(|_| Failed::BeforeResponse)?;
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.url.path_and_query())
            .header(HOST, self.url.authority())
            .header(CONTENT_TYPE, CONTENT_TYPE_XML);
        if let Some(agent) = &self.settings.user_agent {
            builder = builder.header(USER_AGENT, agent.as_str());
        }
        let request = builder.body(body).map_err(|e| {
            debug!(error = %e, "cannot build the request");
            Failed::Later
        })?;
        let response = sender.send_request(request).await.map_err(|e| {
            debug!(error = %e, "request failed before a response");
            Failed::BeforeResponse
        })?;
        let status = response.status().as_u16();
        let close = response
            .headers()
            .get(CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        let limited = Limited::new(response.into_body(), self.settings.max_response_bytes);
        let body = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                debug!(status, error = %e, "response body failed or was too large");
                return Err(Failed::Later);
            }
        };
        trace!(status, bytes = body.len(), "response");
        if !close {
            self.check_in(sender);
        }
        Ok(Outcome::Http { status, body })
    }
}

/// Who waits for a request's body to be handed to a connection (shared by
/// the attempts of one request).
type Written = Arc<Mutex<Option<oneshot::Sender<()>>>>;

/// A request body sent in one frame, which reports when hyper took it.
#[derive(Debug)]
pub(crate) struct OnceBody {
    data: Option<Bytes>,
    len: u64,
    written: Written,
}

impl OnceBody {
    fn new(data: Bytes, written: Written) -> OnceBody {
        OnceBody {
            len: data.len() as u64,
            data: Some(data),
            written,
        }
    }
}

impl Body for OnceBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let Some(data) = this.data.take() else {
            return Poll::Ready(None);
        };
        let waiter = this
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waiter) = waiter {
            let _ = waiter.send(());
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}
