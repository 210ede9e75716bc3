//! The simulated HTTP network between the client and the endpoint.
//!
//! Every client `Transmit` becomes one HTTP exchange ([`Flight`]) that goes
//! through three legs: the request travelling to the server, the request
//! open at the server (held), the response (or a failure) travelling back.
//! Each leg's fate is drawn from the seeded PRNG when the leg starts:
//!
//! - latency: uniform in `latency_ms`, plus with probability `reorder` an
//!   extra delay up to `reorder_ms` (so deliveries overtake each other, in
//!   both directions, within that bound);
//! - loss of the request: it never reaches the server; with probability
//!   `notice` the client sees a transport failure one latency later
//!   (connection reset), else nothing (it relies on its own timeout);
//! - loss of the response: the server thinks it answered; the client sees a
//!   transport failure (with probability `notice`) or nothing;
//! - broken connection: while the request is open at the server, the
//!   connection breaks at a random instant within `wait + 2 s`; the server
//!   is told (`handle_request_aborted`) and the client sees a transport
//!   failure;
//! - partitions: every request reaching the server and every response sent
//!   inside a partition window is lost (always noticed: connection refused).
//!
//! A client `Abort(id)` cancels its exchange: a request not yet at the server
//! never arrives; one open at the server is reported aborted to it one
//! latency later; a response on its way is discarded.

use std::time::{Duration, Instant};

use bosh_core::client::{Outcome, RequestId as ClientId};
use bytes::Bytes;

use super::rng::Rng;

/// Network parameters. Probabilities are per exchange and per leg.
#[derive(Debug, Clone)]
pub(crate) struct NetConfig {
    /// One-way latency, uniform in this range (milliseconds).
    pub(crate) latency_ms: (u64, u64),
    /// Probability of an extra delay (reordering).
    pub(crate) reorder: f64,
    /// Bound of that extra delay (milliseconds).
    pub(crate) reorder_ms: u64,
    /// Probability that a request is lost before the server.
    pub(crate) lose_request: f64,
    /// Probability that a response is lost on its way back.
    pub(crate) lose_response: f64,
    /// Probability that the connection of a request open at the server breaks.
    pub(crate) break_conn: f64,
    /// Probability that a loss is seen by the client as a transport failure
    /// rather than as silence.
    pub(crate) notice: f64,
    /// Windows, from the simulation start, during which nothing gets through.
    pub(crate) partitions: Vec<(Duration, Duration)>,
    /// Targeted faults: lose the next `n` responses whose body contains the
    /// text.
    pub(crate) lose_responses_with: Vec<(String, usize)>,
}

impl NetConfig {
    /// A perfect network with a fixed latency.
    pub(crate) fn perfect(latency_ms: u64) -> NetConfig {
        NetConfig {
            latency_ms: (latency_ms, latency_ms),
            reorder: 0.0,
            reorder_ms: 0,
            lose_request: 0.0,
            lose_response: 0.0,
            break_conn: 0.0,
            notice: 1.0,
            partitions: Vec::new(),
            lose_responses_with: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) enum Stage {
    ToServer {
        at: Instant,
        lost: bool,
    },
    AtServer {
        break_at: Option<Instant>,
        abort_at: Option<Instant>,
    },
    ToClient {
        at: Instant,
        outcome: Outcome,
    },
}

/// One HTTP exchange.
#[derive(Debug)]
pub(crate) struct Flight {
    /// Unique; also the server-side `RequestId`.
    pub(crate) seq: u64,
    /// The client process (generation) that sent it.
    pub(crate) proc_id: u32,
    pub(crate) cid: ClientId,
    pub(crate) rid: u64,
    pub(crate) body: Bytes,
    /// The client gave up on it (abort, or its process went away).
    pub(crate) gone: bool,
    pub(crate) stage: Stage,
}

impl Flight {
    fn due(&self) -> Option<Instant> {
        match &self.stage {
            Stage::ToServer { at, .. } | Stage::ToClient { at, .. } => Some(*at),
            Stage::AtServer { break_at, abort_at } => match (break_at, abort_at) {
                (Some(a), Some(b)) => Some((*a).min(*b)),
                (a, b) => a.or(*b),
            },
        }
    }
}

/// What a network step asks the simulation to do.
#[derive(Debug)]
pub(crate) enum NetEvent {
    /// The request reaches the endpoint.
    Arrive { seq: u64, body: Bytes },
    /// The server learns that the request's connection is gone.
    ServerAbort { seq: u64 },
    /// The client learns the outcome of its request.
    Outcome {
        proc_id: u32,
        cid: ClientId,
        outcome: Outcome,
    },
}

/// Counters, for the report.
#[derive(Debug, Default, Clone)]
pub(crate) struct NetStats {
    pub(crate) requests: usize,
    pub(crate) lost_requests: usize,
    pub(crate) lost_responses: usize,
    pub(crate) broken: usize,
    pub(crate) aborted_by_client: usize,
    pub(crate) silent_losses: usize,
}

#[derive(Debug)]
pub(crate) struct Net {
    pub(crate) cfg: NetConfig,
    base: Instant,
    wait: Duration,
    next_seq: u64,
    pub(crate) flights: Vec<Flight>,
    pub(crate) stats: NetStats,
    /// Every response the server sent, with the client process whose
    /// request it answered.
    pub(crate) responses: Vec<(u32, Bytes)>,
}

impl Net {
    pub(crate) fn new(cfg: NetConfig, base: Instant, wait: Duration) -> Net {
        Net {
            cfg,
            base,
            wait,
            next_seq: 1,
            flights: Vec::new(),
            stats: NetStats::default(),
            responses: Vec::new(),
        }
    }

    fn latency(&self, rng: &mut Rng) -> Duration {
        let (lo, hi) = self.cfg.latency_ms;
        let mut d = rng.ms(lo, hi);
        if rng.chance(self.cfg.reorder) {
            d += rng.ms(0, self.cfg.reorder_ms);
        }
        d
    }

    fn partitioned(&self, t: Instant) -> bool {
        let since = t.saturating_duration_since(self.base);
        self.cfg
            .partitions
            .iter()
            .any(|(a, b)| *a <= since && since < *b)
    }

    /// The client POSTs a body.
    pub(crate) fn send(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        proc_id: u32,
        cid: ClientId,
        rid: u64,
        body: Bytes,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.stats.requests += 1;
        let at = now + self.latency(rng);
        let lost = rng.chance(self.cfg.lose_request);
        self.flights.push(Flight {
            seq,
            proc_id,
            cid,
            rid,
            body,
            gone: false,
            stage: Stage::ToServer { at, lost },
        });
    }

    /// The client aborts its request `cid` (generation `proc_id`).
    pub(crate) fn abort(&mut self, now: Instant, rng: &mut Rng, proc_id: u32, cid: ClientId) {
        let lat = self.latency(rng);
        let Some(i) = self
            .flights
            .iter()
            .position(|f| f.proc_id == proc_id && f.cid == cid && !f.gone)
        else {
            return;
        };
        self.stats.aborted_by_client += 1;
        self.cancel(i, now + lat);
    }

    /// The client process `proc_id` went away: its browser closes every
    /// connection.
    pub(crate) fn drop_generation(&mut self, now: Instant, rng: &mut Rng, proc_id: u32) {
        let mut i = 0;
        while i < self.flights.len() {
            if self.flights[i].proc_id == proc_id && !self.flights[i].gone {
                let lat = self.latency(rng);
                let before = self.flights.len();
                self.cancel(i, now + lat);
                if self.flights.len() < before {
                    continue;
                }
            }
            i += 1;
        }
    }

    /// The client process `proc_id` vanished without closing anything (a
    /// laptop lid closed): requests still arrive and stay open; responses go
    /// nowhere.
    pub(crate) fn vanish_generation(&mut self, proc_id: u32) {
        for f in &mut self.flights {
            if f.proc_id == proc_id {
                f.gone = true;
            }
        }
    }

    fn cancel(&mut self, i: usize, notify_at: Instant) {
        let f = &mut self.flights[i];
        f.gone = true;
        match &mut f.stage {
            Stage::ToServer { .. } => {
                self.flights.remove(i);
            }
            Stage::AtServer { abort_at, .. } => {
                abort_at.get_or_insert(notify_at);
            }
            Stage::ToClient { .. } => {
                self.flights.remove(i);
            }
        }
    }

    /// The server (or the endpoint) answers request `seq`. Returns false if
    /// no such request is open (answered twice, or after being aborted).
    pub(crate) fn respond(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        seq: u64,
        status: u16,
        body: Bytes,
    ) -> bool {
        let Some(i) = self.flights.iter().position(|f| f.seq == seq) else {
            return false;
        };
        if !matches!(self.flights[i].stage, Stage::AtServer { .. }) {
            return false;
        }
        self.responses.push((self.flights[i].proc_id, body.clone()));
        if self.flights[i].gone {
            self.flights.remove(i);
            return true;
        }
        let lat = self.latency(rng);
        let mut lost = rng.chance(self.cfg.lose_response) || self.partitioned(now);
        if let Some(rule) = self
            .cfg
            .lose_responses_with
            .iter_mut()
            .find(|(text, n)| *n > 0 && contains(&body, text))
        {
            rule.1 -= 1;
            lost = true;
        }
        let outcome = if lost {
            self.stats.lost_responses += 1;
            if rng.chance(self.cfg.notice) || self.partitioned(now) {
                Outcome::TransportFailure
            } else {
                self.stats.silent_losses += 1;
                self.flights.remove(i);
                return true;
            }
        } else {
            Outcome::Http { status, body }
        };
        self.flights[i].stage = Stage::ToClient {
            at: now + lat,
            outcome,
        };
        true
    }

    /// The next instant something happens on the network.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.flights.iter().filter_map(Flight::due).min()
    }

    /// Whether nothing is on the wire.
    pub(crate) fn is_idle(&self) -> bool {
        self.flights.is_empty()
    }

    /// Whether the request `seq` is still open at the server.
    pub(crate) fn is_open_at_server(&self, seq: u64) -> bool {
        self.flights
            .iter()
            .any(|f| f.seq == seq && matches!(f.stage, Stage::AtServer { .. }))
    }

    /// Takes the earliest event due at or before `now` (ties: lowest seq).
    pub(crate) fn pop_due(&mut self, now: Instant, rng: &mut Rng) -> Option<NetEvent> {
        let i = self
            .flights
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.due().filter(|t| *t <= now).map(|t| (t, f.seq, i)))
            .min()?
            .2;
        let lat = self.latency(rng);
        let seq = self.flights[i].seq;
        match &self.flights[i].stage {
            Stage::ToServer { lost, .. } => {
                let lost = *lost || self.partitioned(now);
                if lost {
                    self.stats.lost_requests += 1;
                    if rng.chance(self.cfg.notice) || self.partitioned(now) {
                        self.flights[i].stage = Stage::ToClient {
                            at: now + lat,
                            outcome: Outcome::TransportFailure,
                        };
                    } else {
                        self.stats.silent_losses += 1;
                        self.flights.remove(i);
                    }
                    // Nothing for the server; look again.
                    return self.pop_due(now, rng);
                }
                let break_at = rng
                    .chance(self.cfg.break_conn)
                    .then(|| now + rng.ms(0, self.wait.as_millis() as u64 + 2000));
                self.flights[i].stage = Stage::AtServer {
                    break_at,
                    abort_at: None,
                };
                Some(NetEvent::Arrive {
                    seq,
                    body: self.flights[i].body.clone(),
                })
            }
            Stage::AtServer { abort_at, .. } => {
                let f = &self.flights[i];
                if abort_at.is_some_and(|a| a <= now) || f.gone {
                    self.flights.remove(i);
                } else {
                    // The connection broke.
                    self.stats.broken += 1;
                    self.flights[i].stage = Stage::ToClient {
                        at: now + lat,
                        outcome: Outcome::TransportFailure,
                    };
                }
                Some(NetEvent::ServerAbort { seq })
            }
            Stage::ToClient { .. } => {
                let f = self.flights.remove(i);
                let Stage::ToClient { outcome, .. } = f.stage else {
                    unreachable!()
                };
                if f.gone {
                    return self.pop_due(now, rng);
                }
                Some(NetEvent::Outcome {
                    proc_id: f.proc_id,
                    cid: f.cid,
                    outcome,
                })
            }
        }
    }
}

/// Whether `hay` contains `needle`.
pub(crate) fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n)
}
