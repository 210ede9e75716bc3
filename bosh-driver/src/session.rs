//! The task that owns one [`ServerSession`] and its upstream connections.
//!
//! Every input (a request, an abort, a timer, shutdown) arrives as one
//! message, and the task polls its upstream connections itself (their
//! writes, then their reads, framed into events); after each input, the
//! task drains `poll_output()` until `None` (what it asks of an upstream is
//! applied to that connection at once), then arms its one timer at
//! `poll_timeout()` (checking the clock first, so an elapsed deadline is
//! handled without a timer round trip). A stanza thus goes from the server
//! to the held request's handler through one task, not two.

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
use futures_channel::mpsc::UnboundedReceiver;
use futures_channel::oneshot;
use futures_util::StreamExt;
use tracing::{Instrument, debug, info, trace, warn};

use crate::runtime::Timer;
use crate::service::Shared;
use crate::sync::WaitGuard;
use crate::upstream::{Conn, End, OpenParams, finish_closing};

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
        rx,
        upstreams: Vec::new(),
        upstream_events: VecDeque::new(),
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
    rx: UnboundedReceiver<SessionMsg>,
    /// The session's upstream connections (one per stream), polled by this
    /// task: no task or channel between the core and the XMPP server.
    upstreams: Vec<Conn>,
    /// Events read from the upstreams, for the core.
    upstream_events: VecDeque<(StreamId, UpstreamEvent)>,
    /// Streams refused by the upstream policy while draining, reported to
    /// the core after the drain.
    refused: VecDeque<(StreamId, Condition)>,
    timer: Option<Pin<Box<dyn Timer>>>,
    armed: bool,
    shutting_down: bool,
    closed: bool,
    /// Counts the session in the service's task group until it is dropped
    /// (graceful shutdown waits for the group).
    _guard: WaitGuard,
}

impl Drop for SessionTask {
    /// The registry forgets the sid when the task ends, however it ends:
    /// normally, by a panic in it (which the runtime catches), or by a
    /// runtime that dropped it. Otherwise the sid would stay registered,
    /// answering nothing and counting against `max_sessions` for ever.
    fn drop(&mut self) {
        if std::thread::panicking() {
            warn!("session task panicked; session forgotten");
        }
        self.shared.forget_session(self.session.sid());
    }
}

enum Wake {
    Msg(Option<SessionMsg>),
    Timer,
    Upstream,
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
                // Upstreams first (their writes go out, their reads are
                // framed); their events wait in `upstream_events`, which
                // is handled after any message, so neither side starves.
                self.poll_upstreams(cx);
                if let Poll::Ready(msg) = self.rx.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Msg(msg));
                }
                if !self.upstream_events.is_empty() {
                    return Poll::Ready(Wake::Upstream);
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
                Wake::Upstream => {}
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
            }
            while let Some((stream, event)) = self.upstream_events.pop_front() {
                trace!(stream = stream.0, ?event, "upstream event");
                self.session.handle_upstream(now, stream, event);
            }
        }
        // The sid is forgotten when the task is dropped, just after this.
        // Answers still pending (none in practice) are dropped: their
        // handlers answer `item-not-found`. Upstream connections still open
        // are closed on tasks of their own (tracked for shutdown).
        for conn in self.upstreams.drain(..) {
            let guard = self.shared.upstream_tasks.enter();
            let span = tracing::Span::current();
            self.shared.rt.spawn(Box::pin(
                async move {
                    finish_closing(Box::new(conn)).await;
                    drop(guard);
                }
                .instrument(span),
            ));
        }
        info!("session closed");
    }

    /// Polls every upstream connection once: their events are queued in
    /// `upstream_events`; one that ended is removed (and, if it was lost,
    /// the core is told `Closed`).
    fn poll_upstreams(&mut self, cx: &mut std::task::Context<'_>) {
        let mut i = 0;
        while i < self.upstreams.len() {
            match self.upstreams[i].poll(cx, &mut self.upstream_events) {
                Poll::Pending => i += 1,
                Poll::Ready(end) => {
                    let conn = self.upstreams.swap_remove(i);
                    let stream = conn.stream();
                    match end {
                        End::Closed => debug!(stream = stream.0, "upstream closed"),
                        End::Lost(reason) => {
                            info!(stream = stream.0, %reason, "upstream connection ended");
                            self.upstream_events
                                .push_back((stream, UpstreamEvent::Closed));
                        }
                    }
                }
            }
        }
    }

    fn conn(&mut self, stream: StreamId) -> Option<&mut Conn> {
        self.upstreams.iter_mut().find(|c| c.stream() == stream)
    }

    /// The connection of `stream` failed outside a poll: dropped, and the
    /// core told.
    fn lose(&mut self, stream: StreamId, reason: &str) {
        warn!(stream = stream.0, reason, "upstream connection dropped");
        self.upstreams.retain(|c| c.stream() != stream);
        self.upstream_events
            .push_back((stream, UpstreamEvent::Closed));
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
                let limits = settings.conn_limits();
                match Conn::open(self.shared.rt.clone(), params, &limits) {
                    Ok(conn) => {
                        // Almost every session has one stream.
                        self.upstreams.reserve_exact(1);
                        self.upstreams.push(conn);
                    }
                    Err(e) => self.lose(stream, &format!("cannot write the stream header: {e}")),
                }
            }
            UpstreamCommand::Restart {
                stream,
                to,
                from,
                xml_lang,
                // The connection keeps the version it opened with.
                version: _,
            } => {
                debug!(stream = stream.0, "stream restart");
                // The restart's `to` goes through the upstream policy like
                // the creation's: a domain outside the allow-list, or one
                // served at another address than this connection's, is
                // refused for this stream (`host-unknown`), not sent.
                let resolved = self.shared.settings.upstream.resolve(to.as_deref(), None);
                let refusal = self.conn(stream).and_then(|c| match resolved {
                    Ok(address) if &address == c.address() => None,
                    Ok(_) => Some(Condition::HostUnknown),
                    Err(condition) => Some(condition),
                });
                if let Some(condition) = refusal {
                    warn!(stream = stream.0, ?to, %condition, "stream restart refused by the upstream policy");
                    self.refused.push_back((stream, condition));
                    return;
                }
                let restarted = self
                    .conn(stream)
                    .map(|c| c.restart(to.as_deref(), from.as_deref(), xml_lang.as_deref()));
                if let Some(Err(e)) = restarted {
                    self.lose(stream, &format!("restart header refused: {e}"));
                }
            }
            UpstreamCommand::Deliver { stream, elements } => {
                trace!(
                    stream = stream.0,
                    elements = elements.len(),
                    "deliver upstream"
                );
                if let Some(c) = self.conn(stream) {
                    c.deliver(elements);
                }
            }
            UpstreamCommand::Close { stream } => {
                debug!(stream = stream.0, "closing upstream stream");
                if let Some(c) = self.conn(stream) {
                    c.close();
                }
            }
        }
    }
}

/// The size of a session task's future (never run): see
/// `http1::tests::idle_session_futures_stay_small`.
#[cfg(test)]
pub(crate) fn task_future_size() -> usize {
    fn size_of_future<A, F: std::future::Future>(_: fn(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    size_of_future(SessionTask::run)
}
