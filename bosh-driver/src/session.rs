//! The task that owns one [`ServerSession`].
//!
//! Every input (a request, an abort, an upstream event, a timer, shutdown)
//! arrives as one message; after each, the task drains `poll_output()` until
//! `None`, then arms its one timer at `poll_timeout()` (checking the clock
//! first, so an elapsed deadline is handled without a timer round trip).

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bosh_core::Condition;
use bosh_core::body::Body;
use bosh_core::server::{
    Output, RequestId, Response, ServerSession, SessionEvent, StreamId, UpstreamCommand,
    UpstreamEvent,
};
use futures_channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures_channel::oneshot;
use futures_util::StreamExt;
use tracing::{Instrument, debug, info, trace, warn};

use crate::runtime::Timer;
use crate::service::Shared;
use crate::sync::WaitGuard;
use crate::upstream::{OpenParams, UpstreamCmd, UpstreamStart, Upstreams, run_upstream};

/// One input for a session task.
#[derive(Debug)]
pub(crate) enum SessionMsg {
    /// An HTTP request routed to the session; answer on `reply`.
    Request {
        id: RequestId,
        body: Box<Body>,
        reply: oneshot::Sender<Response>,
    },
    /// The HTTP request `id` went away before its answer.
    Aborted(RequestId),
    /// Something from the upstream connection of `stream`.
    Upstream {
        stream: StreamId,
        event: UpstreamEvent,
    },
    /// The connection manager is shutting down.
    Shutdown,
}

/// Starts the task of a freshly accepted session whose creation request
/// `first` waits on `reply`.
pub(crate) fn spawn_session(
    shared: Arc<Shared>,
    session: ServerSession,
    first: RequestId,
    reply: oneshot::Sender<Response>,
    tx: UnboundedSender<SessionMsg>,
    rx: UnboundedReceiver<SessionMsg>,
    guard: WaitGuard,
) {
    // No parent: the session outlives the HTTP connection that created it.
    let span = tracing::info_span!(parent: None, "session", sid = %session.sid());
    let mut pending = HashMap::new();
    pending.insert(first, reply);
    // Boxed apart from its future: an `async fn` future keeps its moved-in
    // arguments and the locals they become in separate slots, so a task
    // passed by value would be stored twice.
    let task = Box::new(SessionTask {
        shared: shared.clone(),
        session,
        pending,
        tx,
        rx,
        upstreams: Upstreams::default(),
        refused: VecDeque::new(),
        timer: None,
        armed: false,
        shutting_down: false,
        closed: false,
        _guard: guard,
    });
    shared.rt.spawn(Box::pin(task.run().instrument(span)));
}

struct SessionTask {
    shared: Arc<Shared>,
    session: ServerSession,
    /// Requests the core has not answered yet.
    pending: HashMap<RequestId, oneshot::Sender<Response>>,
    /// Our own sender, handed to upstream tasks.
    tx: UnboundedSender<SessionMsg>,
    rx: UnboundedReceiver<SessionMsg>,
    upstreams: Upstreams,
    /// Streams refused by the upstream policy while draining, reported to
    /// the core after the drain.
    refused: VecDeque<(StreamId, Condition)>,
    timer: Option<Pin<Box<dyn Timer>>>,
    armed: bool,
    shutting_down: bool,
    closed: bool,
    _guard: WaitGuard,
}

enum Wake {
    Msg(Option<SessionMsg>),
    Timer,
}

impl SessionTask {
    async fn run(mut self: Box<Self>) {
        info!("session created");
        loop {
            self.drain();
            while let Some((stream, condition)) = self.refused.pop_front() {
                let now = self.shared.rt.now();
                self.session.refuse_stream(now, stream, condition);
                self.drain();
            }
            if self.closed {
                break;
            }
            if self.shutting_down && self.session.is_terminated() {
                // Every open request has its answer; nobody will come back.
                break;
            }
            let now = self.shared.rt.now();
            match self.session.poll_timeout() {
                Some(at) if at <= now => {
                    self.session.handle_timeout(now);
                    continue;
                }
                Some(at) => {
                    match &mut self.timer {
                        Some(t) => t.as_mut().reset(at),
                        None => self.timer = Some(self.shared.rt.timer(at)),
                    }
                    self.armed = true;
                }
                None => self.armed = false,
            }
            let wake = std::future::poll_fn(|cx| {
                if let Poll::Ready(msg) = self.rx.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Msg(msg));
                }
                if self.armed
                    && let Some(t) = &mut self.timer
                    && t.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Wake::Timer);
                }
                Poll::Pending
            })
            .await;
            let now = self.shared.rt.now();
            match wake {
                Wake::Timer => {
                    self.armed = false;
                    self.session.handle_timeout(now);
                }
                // Cannot happen while the registry holds a sender; treat it
                // as a shutdown.
                Wake::Msg(None) | Wake::Msg(Some(SessionMsg::Shutdown)) => {
                    if !self.shutting_down {
                        info!("closing the session: the connection manager is shutting down");
                    }
                    self.shutting_down = true;
                    self.session.close(now, Condition::SystemShutdown);
                }
                Wake::Msg(Some(SessionMsg::Request { id, body, reply })) => {
                    trace!(request = id.0, rid = ?body.attrs.rid.map(|r| r.get()), "request");
                    self.pending.insert(id, reply);
                    self.session.handle_request(now, id, *body);
                }
                Wake::Msg(Some(SessionMsg::Aborted(id))) => {
                    if self.pending.remove(&id).is_some() {
                        debug!(request = id.0, "client went away before its answer");
                        self.session.handle_request_aborted(now, id);
                    }
                }
                Wake::Msg(Some(SessionMsg::Upstream { stream, event })) => {
                    trace!(stream = stream.0, ?event, "upstream event");
                    self.session.handle_upstream(now, stream, event);
                }
            }
        }
        self.shared.forget_session(self.session.sid());
        // Answers still pending (none in practice) are dropped: their
        // handlers answer `item-not-found`. Dropping `upstreams` closes the
        // remaining upstream connections.
        info!("session closed");
    }

    fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Respond { request, response } => match self.pending.remove(&request) {
                    Some(reply) => {
                        trace!(request = request.0, status = response.status, "respond");
                        // The handler may be gone; the core cached the answer
                        // for a resend (§14.3).
                        let _ = reply.send(response);
                    }
                    None => debug!(request = request.0, "answer for a request that went away"),
                },
                Output::Upstream(cmd) => self.upstream(cmd),
                Output::Event(SessionEvent::Warning(w)) => info!(warning = ?w, "client warning"),
                Output::Event(SessionEvent::Terminated(reason)) => {
                    info!(?reason, "session terminated");
                }
                Output::Event(SessionEvent::Closed) => self.closed = true,
                Output::Event(other) => debug!(event = ?other, "session event"),
            }
        }
    }

    fn upstream(&mut self, cmd: UpstreamCommand) {
        match cmd {
            UpstreamCommand::Open {
                stream,
                to,
                from,
                xml_lang,
                version,
                route,
            } => {
                let settings = &self.shared.settings;
                let address = match settings.upstream.resolve(to.as_deref(), route.as_deref()) {
                    Ok(a) => a,
                    Err(condition) => {
                        // A stream added later (§16) to a target outside the
                        // allow-list: refused without connecting.
                        warn!(stream = stream.0, ?to, ?route, %condition, "stream refused by the upstream policy");
                        self.refused.push_back((stream, condition));
                        return;
                    }
                };
                let params = OpenParams {
                    stream,
                    address,
                    to: to.unwrap_or_default(),
                    from,
                    xml_lang,
                    version: OpenParams::version_of(version),
                };
                let (ctx, crx) = mpsc::unbounded();
                self.upstreams.insert(stream, ctx);
                let rt = self.shared.rt.clone();
                let guard = self.shared.upstream_tasks.enter();
                let limits = settings.conn_limits();
                let events = self.tx.clone();
                let span = tracing::Span::current();
                self.shared.rt.spawn(Box::pin(
                    async move {
                        run_upstream(Box::new(UpstreamStart {
                            rt,
                            params,
                            limits,
                            commands: crx,
                            events,
                        }))
                        .await;
                        drop(guard);
                    }
                    .instrument(span),
                ));
            }
            UpstreamCommand::Restart {
                stream,
                to,
                from,
                xml_lang,
                // The upstream task keeps the version it opened with.
                version: _,
            } => {
                debug!(stream = stream.0, "stream restart");
                self.upstreams
                    .send(stream, UpstreamCmd::Restart { to, from, xml_lang });
            }
            UpstreamCommand::Deliver { stream, elements } => {
                trace!(
                    stream = stream.0,
                    elements = elements.len(),
                    "deliver upstream"
                );
                self.upstreams.send(stream, UpstreamCmd::Deliver(elements));
            }
            UpstreamCommand::Close { stream } => {
                debug!(stream = stream.0, "closing upstream stream");
                self.upstreams.send(stream, UpstreamCmd::Close);
            }
        }
    }
}

/// The sizes of a session task's future and of an upstream task's future
/// (never run): see `http1::tests::idle_session_futures_stay_small`.
#[cfg(test)]
pub(crate) fn task_future_sizes() -> (usize, usize) {
    fn size_of_future<A, F: std::future::Future>(_: fn(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    (
        size_of_future(SessionTask::run),
        size_of_future(run_upstream),
    )
}
