//! A deterministic simulation of a BOSH client, a connection manager and an
//! XMPP server talking through a lossy network, driven by virtual time.
//!
//! - One base `Instant` is taken at start; virtual time then only moves to
//!   the next deadline: the earliest of the client's `poll_timeout`, every
//!   server session's `poll_timeout`, the network's next delivery, the fake
//!   XMPP server's next event and the script's next action. No sleeping, no
//!   threads.
//! - Randomness (latency, losses, reordering, broken connections) comes from
//!   a splitmix64 PRNG seeded per run ([`rng`]), so a seed replays a run.
//! - The client application ([`App`]) does what an XMPP client does over
//!   BOSH: SASL `<auth/>` on the first features, `restart` on `<success/>`,
//!   resource binding on the new features, then it is online and sends the
//!   scripted stanzas. The fake XMPP server ([`xmpp`]) sends its scripted
//!   stanzas once the resource is bound.
//! - Every instant handed to either side is checked to be no earlier than
//!   the previous one, every `poll_timeout` after an input is checked not to
//!   be in the past (and to be strictly later than `now` right after
//!   `handle_timeout`, or the loop could not progress), and the server must
//!   never answer a request twice or after it was told it was aborted.
//!   Violations panic with the tail of the trace.
//!
//! The properties checked at the end of a run are in [`check`].

#![allow(dead_code)]

pub(crate) mod check;
pub(crate) mod net;
pub(crate) mod rng;
pub(crate) mod xmpp;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bosh_core::body::{ParseLimits, parse};
use bosh_core::client::{
    ClientConfig, ClientSession, DisconnectReason, Event, Output as ClientOutput, SessionState,
};
use bosh_core::server::{
    Output as ServerOutput, RequestId, Routing, ServerConfig, ServerEndpoint, ServerSession,
    SessionEvent, StreamId, TerminationReason, Warning,
};
use bosh_core::{Condition, Rid};
use bytes::Bytes;

use net::{Net, NetConfig, NetEvent, contains};
use rng::Rng;
use xmpp::FakeXmpp;

/// One scripted action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// The client application sends its next numbered stanza (held back
    /// until the resource is bound).
    ClientSend,
    /// The XMPP server sends its next numbered stanza to the client (held
    /// back until the resource is bound).
    ServerSend,
    /// The client asks for a pause of this many seconds (XEP-0124 §10).
    Pause(u16),
    /// The client resumes.
    Resume,
    /// The client terminates, with unavailable presence.
    Terminate,
    /// The client state is exported to a string, the client process goes
    /// away (its browser closes its connections), and a new process attaches
    /// from the string. With `rid_gap`, the new process starts one rid
    /// further, as Strophe's cached next rid does when a body was built but
    /// never sent.
    ExportAttach { rid_gap: bool },
    /// The client process vanishes without closing anything.
    ClientVanish,
    /// The XMPP server drops the stream of the client's session.
    UpstreamClose,
    /// The connection manager shuts the client's session down
    /// (`system-shutdown`).
    ServerShutdown,
}

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub(crate) struct SimConfig {
    pub(crate) seed: u64,
    pub(crate) server: ServerConfig,
    pub(crate) client: ClientConfig,
    pub(crate) net: NetConfig,
    pub(crate) upstream_latency: Duration,
    pub(crate) first_rid: u64,
    /// Actions at offsets from the start.
    pub(crate) script: Vec<(Duration, Action)>,
    /// Once the script is over and everything sent both ways has arrived,
    /// the client terminates gracefully.
    pub(crate) auto_terminate: bool,
    /// With `auto_terminate`: a run that has neither ended nor reached that
    /// point this long after the script's end is stuck (a liveness failure).
    pub(crate) settle: Duration,
    /// Hard stop of the run, from the start.
    pub(crate) horizon: Duration,
}

impl SimConfig {
    /// wait 60, hold 1, inactivity 60, a 20 ms network without faults.
    pub(crate) fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            server: ServerConfig::default(),
            client: ClientConfig::new("example.com"),
            net: NetConfig::perfect(20),
            upstream_latency: Duration::from_millis(5),
            first_rid: 1_000_000 + (seed % 1_000_000),
            script: Vec::new(),
            auto_terminate: true,
            settle: Duration::from_secs(1200),
            horizon: Duration::from_secs(4 * 3600),
        }
    }

    pub(crate) fn at(mut self, secs_ms: u64, action: Action) -> SimConfig {
        self.script.push((Duration::from_millis(secs_ms), action));
        self
    }
}

/// The client application's view.
#[derive(Debug, Default)]
pub(crate) struct App {
    pub(crate) sid: Option<String>,
    pub(crate) connected_events: usize,
    pub(crate) auth_sent: bool,
    pub(crate) restart_asked: bool,
    pub(crate) bind_sent: bool,
    pub(crate) online: bool,
    pub(crate) online_at: Option<Instant>,
    pub(crate) next_c: u32,
    /// Client stanzas waiting for the resource to be bound.
    pub(crate) backlog: Vec<u32>,
    /// Client stanzas accepted by `send`, with the process (generation)
    /// that accepted them.
    pub(crate) sent: Vec<(u32, u32)>,
    pub(crate) refused: Vec<u32>,
    pub(crate) next_s: u32,
    /// Server stanzas waiting for the resource to be bound.
    pub(crate) server_backlog: Vec<u32>,
    /// Server stanzas received, in order, and when.
    pub(crate) received: Vec<u32>,
    pub(crate) received_at: Vec<Instant>,
    pub(crate) features: Vec<String>,
    pub(crate) end: Option<(Instant, DisconnectReason)>,
    /// A response carrying `type='terminate'` reached the live client.
    pub(crate) told_terminal: bool,
    pub(crate) vanished: bool,
}

/// One request the client put on the wire.
#[derive(Debug, Clone)]
pub(crate) struct SentRequest {
    pub(crate) at: Instant,
    pub(crate) proc_id: u32,
    pub(crate) rid: u64,
    pub(crate) attempt: u32,
    pub(crate) body: Bytes,
}

/// The server side's record of one session.
#[derive(Debug, Default)]
pub(crate) struct ServerLog {
    pub(crate) terminated: Option<(Instant, TerminationReason)>,
    pub(crate) closed: Option<Instant>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) max_open: usize,
}

/// The simulation.
#[derive(Debug)]
pub(crate) struct Sim {
    pub(crate) cfg: SimConfig,
    pub(crate) base: Instant,
    pub(crate) now: Instant,
    rng: Rng,
    pub(crate) net: Net,
    pub(crate) endpoint: ServerEndpoint,
    pub(crate) servers: BTreeMap<String, ServerSession>,
    pub(crate) logs: BTreeMap<String, ServerLog>,
    pub(crate) xmpp: BTreeMap<String, FakeXmpp>,
    pub(crate) client: Option<ClientSession>,
    /// The client process; bumped by an attach.
    pub(crate) proc_id: u32,
    pub(crate) app: App,
    script: VecDeque<(Instant, Action)>,
    script_end: Instant,
    pub(crate) trace: Vec<String>,
    last_client_now: Instant,
    last_server_now: Instant,
    next_sid: u32,
    pub(crate) harness_terminated_at: Option<Instant>,
    pub(crate) stuck: bool,
    steps_here: (Instant, usize),
    /// Requests the server was told are aborted.
    aborted: HashSet<u64>,
    /// Requests answered by the server.
    answered: HashSet<u64>,
    /// Which session each request was routed to.
    routed: HashMap<u64, String>,
    /// The endpoint answered a request for the client's sid after the
    /// session was forgotten (R10-4).
    pub(crate) forgotten_sid_answers: usize,
    /// Every request the client put on the wire.
    pub(crate) client_sends: Vec<SentRequest>,
    /// How many inputs each side was handed.
    pub(crate) server_inputs: usize,
    pub(crate) client_inputs: usize,
}

impl Sim {
    pub(crate) fn new(cfg: SimConfig) -> Sim {
        // The one clock read of the run.
        let base = Instant::now();
        let endpoint = ServerEndpoint::new(cfg.server.clone()).expect("valid server config");
        let wait = Duration::from_secs(u64::from(cfg.server.max_wait.min(cfg.client.wait)));
        let net = Net::new(cfg.net.clone(), base, wait);
        let mut script: Vec<(Instant, Action)> = cfg
            .script
            .iter()
            .map(|(d, a)| (base + *d, a.clone()))
            .collect();
        script.sort_by_key(|(t, _)| *t);
        let script_end = script.last().map_or(base, |(t, _)| *t);
        let client = ClientSession::new(
            cfg.client.clone(),
            Rid::new(cfg.first_rid).expect("valid rid"),
            base,
        )
        .expect("valid client config");
        let mut sim = Sim {
            rng: Rng::new(cfg.seed),
            cfg,
            base,
            now: base,
            net,
            endpoint,
            servers: BTreeMap::new(),
            logs: BTreeMap::new(),
            xmpp: BTreeMap::new(),
            client: Some(client),
            proc_id: 0,
            app: App::default(),
            script: script.into(),
            script_end,
            trace: Vec::new(),
            last_client_now: base,
            last_server_now: base,
            next_sid: 1,
            harness_terminated_at: None,
            stuck: false,
            steps_here: (base, 0),
            aborted: HashSet::new(),
            answered: HashSet::new(),
            routed: HashMap::new(),
            forgotten_sid_answers: 0,
            client_sends: Vec::new(),
            server_inputs: 0,
            client_inputs: 0,
        };
        sim.drain_client(false);
        sim
    }

    // ----- time -----

    /// Seconds since the start, for traces and assertions.
    pub(crate) fn t(&self) -> f64 {
        self.now.duration_since(self.base).as_secs_f64()
    }

    pub(crate) fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    fn log(&mut self, msg: impl AsRef<str>) {
        let line = format!("{:>10.3} {}", self.t(), msg.as_ref());
        self.trace.push(line);
    }

    /// Panics with the end of the trace.
    #[track_caller]
    pub(crate) fn fail(&self, msg: impl AsRef<str>) -> ! {
        panic!(
            "seed {}: {}\n--- trace (last 80) ---\n{}",
            self.cfg.seed,
            msg.as_ref(),
            self.trace_tail(80)
        );
    }

    pub(crate) fn trace_tail(&self, n: usize) -> String {
        let mut s = String::new();
        for l in self.trace.iter().skip(self.trace.len().saturating_sub(n)) {
            let _ = writeln!(s, "{l}");
        }
        s
    }

    fn client_now(&mut self) -> Instant {
        if self.now < self.last_client_now {
            self.fail("time went backwards for the client");
        }
        self.last_client_now = self.now;
        self.client_inputs += 1;
        self.now
    }

    fn server_now(&mut self) -> Instant {
        if self.now < self.last_server_now {
            self.fail("time went backwards for the server");
        }
        self.last_server_now = self.now;
        self.server_inputs += 1;
        self.now
    }

    /// The earliest deadline of anything in the simulation.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut ts: Vec<Option<Instant>> = vec![
            self.client.as_ref().and_then(ClientSession::poll_timeout),
            self.net.next_due(),
            self.script.front().map(|(t, _)| *t),
        ];
        ts.extend(self.servers.values().map(ServerSession::poll_timeout));
        ts.extend(self.xmpp.values().map(FakeXmpp::next_due));
        if self.cfg.auto_terminate && self.harness_terminated_at.is_none() && !self.stuck {
            ts.push(Some(self.script_end + self.cfg.settle));
        }
        ts.into_iter().flatten().min()
    }

    /// Whether nothing more can happen: the client is over, every server
    /// session is closed, nothing is on the wire or scripted.
    pub(crate) fn done(&self) -> bool {
        let client_over = self
            .client
            .as_ref()
            .is_none_or(ClientSession::is_disconnected);
        client_over
            && self.servers.is_empty()
            && self.net.is_idle()
            && self.script.is_empty()
            && self.xmpp.values().all(|x| x.next_due().is_none())
    }

    /// Runs to the end (or the horizon, or a liveness failure).
    pub(crate) fn run(&mut self) {
        let horizon = self.base + self.cfg.horizon;
        self.run_until(horizon, true);
    }

    /// Runs every event due up to `until`, then moves the clock there.
    pub(crate) fn run_until(&mut self, until: Instant, stop_when_done: bool) {
        loop {
            if stop_when_done && self.done() {
                return;
            }
            if self.stuck {
                return;
            }
            match self.next_deadline() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.step();
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `d` from now.
    pub(crate) fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until, false);
    }

    fn step(&mut self) {
        let now = self.now;
        if self.steps_here.0 == now {
            self.steps_here.1 += 1;
            if self.steps_here.1 > 2000 {
                self.fail("livelock: 2000 steps at one instant");
            }
        } else {
            self.steps_here = (now, 1);
        }
        // 1. The script.
        while self.script.front().is_some_and(|(t, _)| *t <= now) {
            let Some((_, a)) = self.script.pop_front() else {
                break;
            };
            self.act(a);
        }
        // 2. The XMPP server.
        let sids: Vec<String> = self.xmpp.keys().cloned().collect();
        for sid in sids {
            while let Some(ev) = self.xmpp.get_mut(&sid).and_then(|x| x.pop_due(now)) {
                if !self.servers.contains_key(&sid) {
                    continue;
                }
                let n = self.server_now();
                self.log(format!("xmpp[{sid}] -> cm: {}", short_event(&ev)));
                if let Some(s) = self.servers.get_mut(&sid) {
                    s.handle_upstream(n, StreamId(0), ev);
                }
                self.drain_server(&sid, false);
            }
        }
        // 3. The network.
        while let Some(ev) = self.net.pop_due(now, &mut self.rng) {
            self.net_event(ev);
        }
        // 4. The client's timer.
        if self
            .client
            .as_ref()
            .and_then(ClientSession::poll_timeout)
            .is_some_and(|t| t <= now)
        {
            let n = self.client_now();
            if let Some(c) = self.client.as_mut() {
                c.handle_timeout(n);
            }
            self.drain_client(true);
        }
        // 5. The servers' timers.
        let sids: Vec<String> = self.servers.keys().cloned().collect();
        for sid in sids {
            if self
                .servers
                .get(&sid)
                .and_then(ServerSession::poll_timeout)
                .is_some_and(|t| t <= now)
            {
                let n = self.server_now();
                if let Some(s) = self.servers.get_mut(&sid) {
                    s.handle_timeout(n);
                }
                self.drain_server(&sid, true);
            }
        }
        // 6. The end of the script.
        self.maybe_terminate();
    }

    // ----- the client -----

    fn drain_client(&mut self, after_timeout: bool) {
        loop {
            let mut events = Vec::new();
            while let Some(o) = self.client.as_mut().and_then(ClientSession::poll_output) {
                match o {
                    ClientOutput::Send(t) => {
                        self.log(format!(
                            "client#{} send {} rid {} attempt {}: {}",
                            self.proc_id,
                            t.id,
                            t.rid.get(),
                            t.attempt,
                            short(&t.body)
                        ));
                        self.client_sends.push(SentRequest {
                            at: self.now,
                            proc_id: self.proc_id,
                            rid: t.rid.get(),
                            attempt: t.attempt,
                            body: t.body.clone(),
                        });
                        self.net.send(
                            self.now,
                            &mut self.rng,
                            self.proc_id,
                            t.id,
                            t.rid.get(),
                            t.body,
                        );
                    }
                    ClientOutput::Abort(id) => {
                        self.log(format!("client#{} abort {id}", self.proc_id));
                        self.net.abort(self.now, &mut self.rng, self.proc_id, id);
                    }
                    ClientOutput::Event(e) => events.push(e),
                    other => self.log(format!("client output {other:?}")),
                }
            }
            if events.is_empty() {
                break;
            }
            for e in events {
                self.on_client_event(e);
            }
        }
        if let Some(t) = self.client.as_ref().and_then(ClientSession::poll_timeout)
            && (t < self.now || (after_timeout && t <= self.now))
        {
            self.fail(format!(
                "client poll_timeout {:?} not after now (after_timeout={after_timeout})",
                t.duration_since(self.base)
            ));
        }
    }

    fn on_client_event(&mut self, e: Event) {
        match e {
            Event::Connected(p) => {
                self.log(format!("client event Connected sid={}", p.sid));
                self.app.connected_events += 1;
                self.app.sid = Some(p.sid);
            }
            Event::StreamFeatures { features, .. } => {
                self.log(format!("client event features {}", short(&features)));
                self.app
                    .features
                    .push(String::from_utf8_lossy(&features).into_owned());
                if contains(&features, "<mechanisms") && !self.app.auth_sent {
                    self.app.auth_sent = true;
                    self.client_cmd(|c, n| c.send(n, xmpp::AUTH).map(|_| ()));
                }
                if contains(&features, "xmpp-bind") && !self.app.bind_sent {
                    self.app.bind_sent = true;
                    self.client_cmd(|c, n| c.send(n, xmpp::BIND).map(|_| ()));
                }
            }
            Event::Stanza { stanza, .. } => {
                self.log(format!("client event stanza {}", short(&stanza)));
                if contains(&stanza, "<success") && !self.app.restart_asked {
                    self.app.restart_asked = true;
                    self.client_cmd(ClientSession::restart);
                }
                if contains(&stanza, "id='bind_1'") && !self.app.online {
                    self.app.online = true;
                    self.app.online_at = Some(self.now);
                    if let Some(c) = self.client.as_mut() {
                        c.set_jid("juliet@example.com/sim");
                    }
                    for n in std::mem::take(&mut self.app.backlog) {
                        self.send_numbered(n);
                    }
                }
                for n in xmpp::numbered(&stanza, 's') {
                    self.app.received.push(n);
                    self.app.received_at.push(self.now);
                }
            }
            Event::Disconnected(r) => {
                self.log(format!("client event Disconnected({r:?})"));
                if self.app.end.is_some() {
                    self.fail("the client reported Disconnected twice");
                }
                self.app.end = Some((self.now, r));
            }
            other => self.log(format!("client event {other:?}")),
        }
    }

    /// Runs a client command and drains.
    fn client_cmd<F, T, E>(&mut self, f: F) -> Option<Result<T, E>>
    where
        F: FnOnce(&mut ClientSession, Instant) -> Result<T, E>,
        E: std::fmt::Debug,
    {
        let n = self.client_now();
        let c = self.client.as_mut()?;
        let r = f(c, n);
        if let Err(e) = &r {
            self.log(format!("client command refused: {e:?}"));
        }
        self.drain_client(false);
        Some(r)
    }

    fn send_numbered(&mut self, n: u32) {
        let proc_id = self.proc_id;
        match self.client_cmd(|c, now| c.send(now, xmpp::client_stanza(n))) {
            Some(Ok(())) => self.app.sent.push((n, proc_id)),
            _ => self.app.refused.push(n),
        }
    }

    fn act(&mut self, a: Action) {
        self.log(format!("script {a:?}"));
        let alive = self
            .client
            .as_ref()
            .is_some_and(|c| !c.is_disconnected() && !c.is_terminating());
        match a {
            Action::ClientSend => {
                let n = self.app.next_c;
                self.app.next_c += 1;
                if !alive {
                    self.app.refused.push(n);
                } else if self.app.online {
                    self.send_numbered(n);
                } else {
                    self.app.backlog.push(n);
                }
            }
            Action::ServerSend => {
                let n = self.app.next_s;
                self.app.next_s += 1;
                self.server_send(n);
            }
            Action::Pause(secs) => {
                self.client_cmd(|c, n| c.pause(n, secs));
            }
            Action::Resume => {
                self.client_cmd(ClientSession::resume);
            }
            Action::Terminate => {
                self.client_cmd(|c, n| c.terminate(n, [xmpp::BYE]));
            }
            Action::ExportAttach { rid_gap } => self.export_attach(rid_gap),
            Action::ClientVanish => {
                self.net.vanish_generation(self.proc_id);
                self.client = None;
                self.app.vanished = true;
            }
            Action::UpstreamClose => {
                if let Some(sid) = self.app.sid.clone()
                    && let Some(x) = self.xmpp.get_mut(&sid)
                {
                    x.drop_stream(self.now);
                }
            }
            Action::ServerShutdown => {
                if let Some(sid) = self.app.sid.clone()
                    && self.servers.contains_key(&sid)
                {
                    let n = self.server_now();
                    if let Some(s) = self.servers.get_mut(&sid) {
                        s.close(n, Condition::SystemShutdown);
                    }
                    self.drain_server(&sid, false);
                }
            }
        }
    }

    fn server_send(&mut self, n: u32) {
        let bound = self
            .app
            .sid
            .as_ref()
            .and_then(|sid| self.xmpp.get(sid))
            .filter(|x| x.bound);
        match bound {
            Some(x) if x.open => {
                let sid = self.app.sid.clone().unwrap_or_default();
                if let Some(x) = self.xmpp.get_mut(&sid) {
                    x.send_stanza(self.now, n);
                }
            }
            // The stream is gone: nothing is sent.
            Some(_) => {}
            None => {
                if self.app.end.is_none() && !self.app.vanished {
                    self.app.server_backlog.push(n);
                }
            }
        }
    }

    fn export_attach(&mut self, rid_gap: bool) {
        let Some(c) = self.client.as_ref() else {
            return;
        };
        // Like Strophe's session cache, only once authenticated and bound:
        // the stream negotiation lives in the process.
        if !self.app.online {
            self.log("export skipped: not online yet");
            return;
        }
        let state = match c.export() {
            Ok(s) => s,
            Err(e) => {
                self.log(format!("export refused: {e:?}"));
                return;
            }
        };
        let text = state.to_string();
        let mut parsed: SessionState = match text.parse() {
            Ok(s) => s,
            Err(e) => self.fail(format!("exported state does not parse: {e:?}: {text}")),
        };
        if parsed != state {
            self.fail(format!("exported state does not round-trip: {text}"));
        }
        if rid_gap {
            parsed.rid = parsed.rid.next().expect("rid left");
        }
        self.log(format!("export {text} (rid gap: {rid_gap})"));
        self.attach(parsed);
    }

    /// The current client process (if any) goes away, its browser closing
    /// its connections (whatever it had queued is lost with it), and a new
    /// process attaches with `state`.
    pub(crate) fn attach(&mut self, state: SessionState) {
        if self.client.is_some() {
            self.net
                .drop_generation(self.now, &mut self.rng, self.proc_id);
            self.client = None;
        }
        self.proc_id += 1;
        self.app.vanished = false;
        self.log(format!(
            "client#{} attaches at rid {}",
            self.proc_id,
            state.rid.get()
        ));
        let now = self.client_now();
        match ClientSession::attach(self.cfg.client.clone(), state, now) {
            Ok(c) => self.client = Some(c),
            Err(e) => self.fail(format!("attach refused: {e:?}")),
        }
        self.drain_client(false);
    }

    /// The log of the client's session on the server side.
    pub(crate) fn server_log(&self) -> &ServerLog {
        self.app
            .sid
            .as_ref()
            .and_then(|s| self.logs.get(s))
            .expect("the client has a session")
    }

    /// The XMPP stream of the client's session.
    pub(crate) fn upstream(&self) -> &FakeXmpp {
        self.app
            .sid
            .as_ref()
            .and_then(|s| self.xmpp.get(s))
            .expect("the client has a session")
    }

    /// The client's requests for `rid`, in order.
    pub(crate) fn sends_of(&self, rid: u64) -> Vec<&SentRequest> {
        self.client_sends.iter().filter(|s| s.rid == rid).collect()
    }

    /// Seconds from the start to `t`.
    pub(crate) fn secs(&self, t: Instant) -> f64 {
        t.duration_since(self.base).as_secs_f64()
    }

    /// How the client ended.
    pub(crate) fn client_end(&self) -> Option<&DisconnectReason> {
        self.app.end.as_ref().map(|e| &e.1)
    }

    /// How the client's session ended on the server side, and when.
    pub(crate) fn server_end(&self) -> Option<(Instant, TerminationReason)> {
        self.server_log().terminated
    }

    /// The graceful end of a run: once the script is over and everything
    /// has arrived, the client terminates.
    fn maybe_terminate(&mut self) {
        if !self.cfg.auto_terminate || self.harness_terminated_at.is_some() || self.stuck {
            return;
        }
        if !self.script.is_empty() || self.now < self.script_end {
            return;
        }
        let alive = self
            .client
            .as_ref()
            .is_some_and(ClientSession::is_connected);
        if !alive {
            return;
        }
        if self.quiescent() {
            self.log("harness: everything arrived; terminate");
            self.harness_terminated_at = Some(self.now);
            self.client_cmd(|c, n| c.terminate(n, [xmpp::BYE]));
        } else if self.now >= self.script_end + self.cfg.settle {
            self.log("harness: STUCK");
            self.stuck = true;
        }
    }

    /// Everything sent both ways has arrived (or was lost with a client
    /// process that went away).
    pub(crate) fn quiescent(&self) -> bool {
        let Some(c) = &self.client else { return false };
        if !self.app.online || c.is_paused() || !self.app.backlog.is_empty() {
            return false;
        }
        if !self.app.server_backlog.is_empty() {
            return false;
        }
        let Some(sid) = &self.app.sid else {
            return false;
        };
        let Some(x) = self.xmpp.get(sid) else {
            return false;
        };
        if x.next_due().is_some() {
            return false;
        }
        let delivered: HashSet<u32> = x.client_ids.iter().copied().collect();
        let old_flights = self.net.flights.iter().any(|f| f.proc_id != self.proc_id);
        let up_ok = self
            .app
            .sent
            .iter()
            .all(|(n, g)| delivered.contains(n) || (*g != self.proc_id && !old_flights));
        let received: HashSet<u32> = self.app.received.iter().copied().collect();
        let lost = self.lost_with_process_now();
        let down_ok = x
            .sent_ids
            .iter()
            .all(|n| received.contains(n) || lost.contains(n));
        up_ok && down_ok
    }

    /// Server stanzas put in a response to a request of a client process
    /// that has gone away (it may have lost them with it).
    pub(crate) fn lost_with_process_now(&self) -> HashSet<u32> {
        self.net
            .responses
            .iter()
            .filter(|(p, _)| *p != self.proc_id)
            .flat_map(|(_, b)| xmpp::numbered(b, 's'))
            .collect()
    }

    // ----- the network and the server -----

    fn net_event(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Arrive { seq, body } => self.arrive(seq, body),
            NetEvent::ServerAbort { seq } => {
                let Some(sid) = self.routed.get(&seq).cloned() else {
                    return;
                };
                if !self.servers.contains_key(&sid) || self.answered.contains(&seq) {
                    return;
                }
                self.log(format!("net: connection of req {seq} gone, server told"));
                self.aborted.insert(seq);
                let n = self.server_now();
                if let Some(s) = self.servers.get_mut(&sid) {
                    s.handle_request_aborted(n, RequestId(seq));
                }
                self.drain_server(&sid, false);
            }
            NetEvent::Outcome {
                proc_id,
                cid,
                outcome,
            } => {
                if proc_id != self.proc_id || self.client.is_none() {
                    return;
                }
                match &outcome {
                    bosh_core::client::Outcome::Http { status, body } => {
                        self.log(format!(
                            "client#{proc_id} gets {cid} {status} {}",
                            short(body)
                        ));
                        if contains(body, "type='terminate'") {
                            self.app.told_terminal = true;
                        }
                    }
                    other => self.log(format!("client#{proc_id} gets {cid} {other:?}")),
                }
                let n = self.client_now();
                if let Some(c) = self.client.as_mut() {
                    c.handle_response(n, cid, outcome);
                }
                self.drain_client(false);
            }
        }
    }

    fn arrive(&mut self, seq: u64, body: Bytes) {
        self.log(format!("cm gets req {seq}: {}", short(&body)));
        let sid_in_body = parse(&body, &ParseLimits::default())
            .ok()
            .and_then(|b| b.attrs.sid);
        let n = self.server_now();
        match self.endpoint.route(n, RequestId(seq), body) {
            Routing::Session { sid, body } => {
                self.routed.insert(seq, sid.to_string());
                match self.servers.get_mut(sid.as_str()) {
                    Some(s) => s.handle_request(n, RequestId(seq), body),
                    None => self.fail(format!("endpoint routed to unknown session {sid}")),
                }
                self.track_open(&sid);
                self.drain_server(&sid, false);
            }
            Routing::New(incoming) => {
                let sid = format!("sim{}", self.next_sid);
                self.next_sid += 1;
                let secret = self.rng.next_u64().to_le_bytes();
                let mut s16 = [0u8; 16];
                s16[..8].copy_from_slice(&secret);
                match self.endpoint.accept(n, incoming, sid.clone(), s16) {
                    Ok(s) => {
                        self.log(format!("cm: new session {sid}"));
                        self.routed.insert(seq, sid.clone());
                        self.servers.insert(sid.clone(), s);
                        self.logs.insert(sid.clone(), ServerLog::default());
                        self.xmpp
                            .insert(sid.clone(), FakeXmpp::new(self.cfg.upstream_latency));
                        self.drain_server(&sid, false);
                    }
                    Err(r) => {
                        self.answered.insert(seq);
                        self.net.respond(n, &mut self.rng, seq, r.status, r.body);
                    }
                }
            }
            Routing::Respond(r) => {
                if sid_in_body.is_some() && sid_in_body.as_deref() == self.app.sid.as_deref() {
                    self.forgotten_sid_answers += 1;
                }
                self.log(format!("endpoint answers req {seq}: {}", short(&r.body)));
                self.answered.insert(seq);
                self.net.respond(n, &mut self.rng, seq, r.status, r.body);
            }
        }
    }

    fn track_open(&mut self, sid: &str) {
        if let (Some(s), Some(l)) = (self.servers.get(sid), self.logs.get_mut(sid)) {
            l.max_open = l.max_open.max(s.open_requests());
        }
    }

    fn drain_server(&mut self, sid: &str, after_timeout: bool) {
        let mut closed = false;
        while let Some(o) = self
            .servers
            .get_mut(sid)
            .and_then(ServerSession::poll_output)
        {
            match o {
                ServerOutput::Respond { request, response } => {
                    let seq = request.0;
                    self.log(format!(
                        "cm[{sid}] answers req {seq}: {} {}",
                        response.status,
                        short(&response.body)
                    ));
                    if self.aborted.contains(&seq) {
                        self.fail(format!("server answered req {seq} after it was aborted"));
                    }
                    if !self.answered.insert(seq) {
                        self.fail(format!("server answered req {seq} twice"));
                    }
                    if !self.net.is_open_at_server(seq) {
                        self.fail(format!("server answered req {seq}, which is not open"));
                    }
                    self.net
                        .respond(self.now, &mut self.rng, seq, response.status, response.body);
                }
                ServerOutput::Upstream(cmd) => {
                    self.log(format!("cm[{sid}] -> xmpp: {}", short_cmd(&cmd)));
                    if let Some(x) = self.xmpp.get_mut(sid) {
                        x.command(self.now, cmd);
                    }
                    let bound = self.xmpp.get(sid).is_some_and(|x| x.bound);
                    if bound && self.app.sid.as_deref() == Some(sid) {
                        for n in std::mem::take(&mut self.app.server_backlog) {
                            self.server_send(n);
                        }
                    }
                }
                ServerOutput::Event(e) => {
                    self.log(format!("cm[{sid}] event {e:?}"));
                    let log = self.logs.entry(sid.to_owned()).or_default();
                    match e {
                        SessionEvent::Terminated(r) => {
                            if log.terminated.is_some() {
                                self.fail("server terminated twice");
                            }
                            log.terminated = Some((self.now, r));
                        }
                        SessionEvent::Closed => {
                            log.closed = Some(self.now);
                            closed = true;
                        }
                        SessionEvent::Warning(w) => log.warnings.push(w),
                        other => self.log(format!("cm event {other:?}")),
                    }
                }
            }
        }
        if closed {
            if self.logs.get(sid).and_then(|l| l.terminated).is_none() {
                self.fail("server closed without terminating");
            }
            self.servers.remove(sid);
            if !self.endpoint.session_closed(sid) {
                self.fail("endpoint did not know the closed session");
            }
            return;
        }
        if let Some(t) = self.servers.get(sid).and_then(ServerSession::poll_timeout)
            && (t < self.now || (after_timeout && t <= self.now))
        {
            self.fail(format!(
                "server poll_timeout {:?} not after now {:?} (after_timeout={after_timeout})",
                t.duration_since(self.base),
                self.now.duration_since(self.base)
            ));
        }
    }
}

fn short(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.replace(" xmlns='http://jabber.org/protocol/httpbind'", "");
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

fn short_event(e: &bosh_core::server::UpstreamEvent) -> String {
    use bosh_core::server::UpstreamEvent as U;
    match e {
        U::Opened { id, .. } => format!("opened {id:?}"),
        U::Features(f) => format!("features {}", short(f)),
        U::Stanza(s) => format!("stanza {}", short(s)),
        U::StreamError(s) => format!("stream error {}", short(s)),
        U::Closed => "closed".into(),
    }
}

fn short_cmd(c: &bosh_core::server::UpstreamCommand) -> String {
    use bosh_core::server::UpstreamCommand as C;
    match c {
        C::Open { .. } => "open".into(),
        C::Restart { .. } => "restart".into(),
        C::Deliver { elements, .. } => {
            let v: Vec<String> = elements.iter().map(|e| short(e)).collect();
            format!("deliver {v:?}")
        }
        C::Close { .. } => "close".into(),
    }
}
