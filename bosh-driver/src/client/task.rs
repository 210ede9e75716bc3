//! The task that drives one [`ClientSession`](bosh_core::client::ClientSession).
//!
//! It wakes on a command (a handle called the session), on an HTTP result or
//! on its one timer; after each it drains `poll_output()` until `None`
//! (handling timeouts already due on the spot), then arms the timer at
//! `poll_timeout()`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use bosh_core::client::{Event, Outcome, Output, RequestId, Transmit};
use bytes::Bytes;
use futures_channel::mpsc::{self, UnboundedSender};
use futures_channel::oneshot;
use futures_util::StreamExt;
use tracing::{Instrument, debug, trace};

use super::Shared;
use crate::runtime::Timer;

/// Starts the task of a new client.
pub(super) fn spawn(shared: Arc<Shared>, events: UnboundedSender<Event>) {
    let span = tracing::debug_span!(parent: None, "bosh_client", url = %shared.http.url());
    let rt = shared.rt.clone();
    rt.spawn(Box::pin(run(shared, events).instrument(span)));
}

/// Marks the client stopped when the task ends, however it ends (even when
/// the runtime drops it).
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
    }
}

enum Wake {
    Command,
    Result(RequestId, Outcome),
    Timer,
}

async fn run(shared: Arc<Shared>, events: UnboundedSender<Event>) {
    let _stop = StopGuard(shared.clone());
    let (results_tx, mut results) = mpsc::unbounded::<(RequestId, Outcome)>();
    let mut timer: Option<Pin<Box<dyn Timer>>> = None;
    let mut terminate_asked = false;
    loop {
        let armed = {
            let mut guard = shared.lock();
            let st = &mut *guard;
            if st.detached {
                debug!("detached; leaving the session to another client");
                break;
            }
            let now = shared.rt.now();
            if st.handles == 0 && !terminate_asked {
                terminate_asked = true;
                if !st.session.is_terminating() && !st.session.is_disconnected() {
                    debug!("every handle dropped; terminating the session");
                    let _ = st.session.terminate(now, Vec::<Bytes>::new());
                }
            }
            let mut ended = false;
            let next = loop {
                while let Some(output) = st.session.poll_output() {
                    if let Some(event) = apply(&shared, &mut st.in_flight, output, &results_tx) {
                        if let Event::Disconnected(reason) = &event {
                            debug!(?reason, "session over");
                            ended = true;
                        }
                        // The application may have dropped the stream.
                        let _ = events.unbounded_send(event);
                    }
                }
                match st.session.poll_timeout() {
                    Some(at) if at <= now => st.session.handle_timeout(now),
                    other => break other,
                }
            };
            if ended || st.session.is_disconnected() {
                break;
            }
            match next {
                Some(at) => {
                    match &mut timer {
                        Some(t) => t.as_mut().reset(at),
                        None => timer = Some(shared.rt.timer(at)),
                    }
                    true
                }
                None => false,
            }
        };
        let wake = std::future::poll_fn(|cx| {
            shared.waker.register(cx.waker());
            if shared.notified.swap(false, Ordering::SeqCst) {
                return Poll::Ready(Wake::Command);
            }
            if let Poll::Ready(Some((id, outcome))) = results.poll_next_unpin(cx) {
                return Poll::Ready(Wake::Result(id, outcome));
            }
            if armed
                && let Some(t) = &mut timer
                && t.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Wake::Timer);
            }
            Poll::Pending
        })
        .await;
        let now = shared.rt.now();
        match wake {
            Wake::Command => {}
            Wake::Result(id, outcome) => {
                let mut st = shared.lock();
                if st.in_flight.remove(&id).is_some() {
                    trace!(request = %id, ?outcome, "result");
                    st.session.handle_response(now, id, outcome);
                }
            }
            Wake::Timer => shared.lock().session.handle_timeout(now),
        }
    }
    // After Disconnected the session has aborted every request already.
    // After a detach the requests in flight finish unobserved: dropping a
    // cancel handle does not cancel (the connection manager must see every
    // rid before the attached client's). Idle connections are closed.
    shared.lock().in_flight.clear();
    shared.http.close_idle();
}

/// A request on the wire, as the task and [`BoshClient::detach`] see it.
///
/// [`BoshClient::detach`]: super::BoshClient::detach
#[derive(Debug)]
pub(super) struct InFlight {
    /// Sending cancels the request (its connection is closed); dropping
    /// lets it finish unobserved.
    cancel: oneshot::Sender<()>,
    /// Completes once the body was handed to the connection (or the
    /// request failed before that).
    pub(super) written: Option<oneshot::Receiver<()>>,
}

/// Carries out one output of the session: a `Send` is started, an `Abort`
/// cancels its request; an event is handed back.
pub(super) fn apply(
    shared: &Shared,
    in_flight: &mut HashMap<RequestId, InFlight>,
    output: Output,
    results: &UnboundedSender<(RequestId, Outcome)>,
) -> Option<Event> {
    match output {
        Output::Send(t) => {
            let id = t.id;
            let request = start_request(shared, t, results.clone());
            in_flight.insert(id, request);
            None
        }
        Output::Abort(id) => {
            if let Some(request) = in_flight.remove(&id) {
                trace!(request = %id, "abort");
                let _ = request.cancel.send(());
            }
            None
        }
        Output::Event(event) => Some(event),
        other => {
            debug!(?other, "unhandled output");
            None
        }
    }
}

/// Spawns the HTTP request for `t`.
fn start_request(
    shared: &Shared,
    t: Transmit,
    results: UnboundedSender<(RequestId, Outcome)>,
) -> InFlight {
    let (cancel, mut cancelled) = oneshot::channel::<()>();
    let (written_tx, written) = oneshot::channel::<()>();
    let http = shared.http.clone();
    let id = t.id;
    debug!(request = %id, rid = t.rid.get(), attempt = t.attempt, bytes = t.body.len(), "POST");
    let task = async move {
        let mut post = std::pin::pin!(http.post(t.body, written_tx));
        let mut cancellable = true;
        let outcome = std::future::poll_fn(|cx| {
            if let Poll::Ready(outcome) = post.as_mut().poll(cx) {
                return Poll::Ready(Some(outcome));
            }
            if cancellable {
                match Pin::new(&mut cancelled).poll(cx) {
                    // Aborted: dropping the request closes its connection.
                    Poll::Ready(Ok(())) => return Poll::Ready(None),
                    // The client stopped watching: finish unobserved.
                    Poll::Ready(Err(_)) => cancellable = false,
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await;
        if let Some(outcome) = outcome {
            let _ = results.unbounded_send((id, outcome));
        }
    };
    shared
        .rt
        .spawn(Box::pin(task.instrument(tracing::Span::current())));
    InFlight {
        cancel,
        written: Some(written),
    }
}
