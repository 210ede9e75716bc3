//! The end-of-run properties.
//!
//! **Delivery.** Client stanzas carry unique increasing numbers (`c{n}`),
//! server stanzas too (`s{n}`).
//! - Always: the numbers the XMPP server received from the client's session
//!   are strictly increasing (in order, no duplicate) and were all sent; the
//!   numbers the client received are strictly increasing and were all sent by
//!   the XMPP server. No client stanza reaches another session.
//! - Unless the session ended with a condition (see below), nothing is
//!   missing: the XMPP server received exactly the stanzas `send` accepted,
//!   and the client received exactly what the XMPP server sent. The only
//!   exception is what was lost with a client process that went away
//!   (export/attach): stanzas that process had accepted but not delivered,
//!   and responses on their way to it. The client documents that an export
//!   hands responses in flight to the exporting process.
//!
//! **Ending.** A run either *completes*: after the script, everything sent
//! both ways arrived and the client terminated (how that terminate ends
//! still has to agree: `TerminateTimedOut` against `Inactivity` when the
//! terminate request was lost, for one); or *ends* before that, and both
//! sides must agree on why, as [`agree`] defines. Either way both sides must
//! have ended: the client with `Disconnected`, the server session with
//! `Terminated` then `Closed`. A run that neither ends nor completes is stuck
//! (a liveness failure).

use std::collections::HashSet;

use bosh_core::Condition;
use bosh_core::client::DisconnectReason;
use bosh_core::server::TerminationReason;

use super::Sim;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Everything arrived both ways, then the client terminated.
    Completed,
    /// The session ended with reasons both sides agree on.
    Ended {
        client: Option<DisconnectReason>,
        server: Option<TerminationReason>,
    },
}

/// Whether the client's reason for the end agrees with the server's.
///
/// - `told`: a response with `type='terminate'` reached the client;
/// - `forgotten`: the endpoint answered a request for the client's sid after
///   the session was forgotten (XEP-0124 R10-4: `item-not-found`).
///
/// | client | agrees with the server's |
/// |---|---|
/// | `Terminated`, `TerminatedByServer` | `ClientTerminate` |
/// | `Condition(c)` | `Condition(c)` |
/// | `Condition(item-not-found)` | also `Inactivity` (R10-4), or anything once the session was forgotten |
/// | `RemoteStreamError(_)` | `Condition(remote-stream-error)` |
/// | `SeeOtherUri(_)` | `Condition(see-other-uri)` |
/// | `TerminateTimedOut` | `ClientTerminate` (the acknowledgement was lost), `Inactivity` (the terminate never arrived), or anything the client was never told |
/// | `TooManyErrors(_)`, `PauseExpired` | `Inactivity`: the client stopped, the server noticed by inactivity; or, if no terminal response ever reached the client, whatever the server ended with (it could not tell the client) |
/// | anything else (`HttpStatus`, `BadResponse`, `RidExhausted`) | nothing: a conforming pair never produces them |
pub(crate) fn agree(
    client: &DisconnectReason,
    server: TerminationReason,
    told: bool,
    forgotten: bool,
) -> bool {
    use DisconnectReason as D;
    use TerminationReason as T;
    match client {
        D::Terminated | D::TerminatedByServer => server == T::ClientTerminate,
        D::Condition(Condition::ItemNotFound) => {
            matches!(
                server,
                T::Condition(Condition::ItemNotFound) | T::Inactivity
            ) || forgotten
        }
        D::Condition(c) => server == T::Condition(*c),
        D::RemoteStreamError(_) => server == T::Condition(Condition::RemoteStreamError),
        D::SeeOtherUri(_) => server == T::Condition(Condition::SeeOtherUri),
        D::TerminateTimedOut => matches!(server, T::ClientTerminate | T::Inactivity) || !told,
        D::TooManyErrors(_) | D::PauseExpired => server == T::Inactivity || !told,
        _ => false,
    }
}

fn strictly_increasing(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

/// Checks every property; returns how the run ended.
pub(crate) fn check(sim: &Sim) -> Result<Ending, String> {
    if sim.stuck {
        let x = sim.app.sid.as_ref().and_then(|s| sim.xmpp.get(s));
        return Err(format!(
            "stuck: neither ended nor delivered everything: online {}, sent {:?}, \
             delivered {:?}, server sent {:?}, received {:?}, lost with a process {:?}",
            sim.app.online,
            sim.app.sent,
            x.map(|x| &x.client_ids),
            x.map(|x| &x.sent_ids),
            sim.app.received,
            sim.lost_with_process_now(),
        ));
    }
    if !sim.done() {
        return Err("not finished at the horizon".into());
    }
    let app = &sim.app;
    let sid = app.sid.clone();

    // Sessions the client does not use (a creation request repeated after
    // its response was lost creates one) must see nothing and expire.
    for (s, x) in &sim.xmpp {
        if Some(s) != sid.as_ref() {
            if !x.client_ids.is_empty() {
                return Err(format!("client stanzas reached session {s}"));
            }
            let r = sim.logs.get(s).and_then(|l| l.terminated).map(|t| t.1);
            if r != Some(TerminationReason::Inactivity) {
                return Err(format!("unused session {s} ended with {r:?}"));
            }
        }
    }

    // Delivery: in order, no duplicate, nothing invented.
    let x = sid.as_ref().and_then(|s| sim.xmpp.get(s));
    let delivered: Vec<u32> = x.map(|x| x.client_ids.clone()).unwrap_or_default();
    let sent: Vec<u32> = app.sent.iter().map(|(n, _)| *n).collect();
    let sent_set: HashSet<u32> = sent.iter().copied().collect();
    if !strictly_increasing(&delivered) {
        return Err(format!(
            "client stanzas out of order or duplicated: {delivered:?}"
        ));
    }
    if let Some(n) = delivered.iter().find(|n| !sent_set.contains(n)) {
        return Err(format!("client stanza c{n} delivered but never sent"));
    }
    let server_sent: Vec<u32> = x.map(|x| x.sent_ids.clone()).unwrap_or_default();
    let server_set: HashSet<u32> = server_sent.iter().copied().collect();
    if !strictly_increasing(&app.received) {
        return Err(format!(
            "server stanzas out of order or duplicated: {:?}",
            app.received
        ));
    }
    if let Some(n) = app.received.iter().find(|n| !server_set.contains(n)) {
        return Err(format!("server stanza s{n} received but never sent"));
    }

    // How it ended.
    let server_end = sid
        .as_ref()
        .and_then(|s| sim.logs.get(s))
        .and_then(|l| l.terminated)
        .map(|t| t.1);
    let client_end = app.end.as_ref().map(|e| e.1.clone());
    if sid.is_some() && server_end.is_none() {
        return Err("the server session never ended".into());
    }
    if client_end.is_none() && !app.vanished {
        return Err("the client never ended".into());
    }

    if sim.harness_terminated_at.is_some() {
        // Everything had arrived (the harness terminated only then); check it
        // again, and that the terminate payload went upstream when the
        // terminate was acknowledged.
        let delivered_set: HashSet<u32> = delivered.iter().copied().collect();
        for (n, p) in &app.sent {
            if !delivered_set.contains(n) && *p == sim.proc_id {
                return Err(format!("client stanza c{n} never delivered"));
            }
        }
        let received: HashSet<u32> = app.received.iter().copied().collect();
        let lost = sim.lost_with_process_now();
        for n in &server_sent {
            if !received.contains(n) && !lost.contains(n) {
                return Err(format!("server stanza s{n} never received"));
            }
        }
        if client_end == Some(DisconnectReason::Terminated) && !x.is_some_and(|x| x.saw_bye) {
            return Err("terminate acknowledged, its payload never reached the server".into());
        }
    }

    match (&client_end, server_end) {
        (Some(c), Some(s)) => {
            if !agree(c, s, app.told_terminal, sim.forgotten_sid_answers > 0) {
                return Err(format!("disagreement: client {c:?}, server {s:?}"));
            }
        }
        (Some(c), None) => {
            // No session was ever created for the client (it gave up, or
            // terminated before the creation response): every session the
            // server created expired unused (checked above).
            if !matches!(
                c,
                DisconnectReason::TooManyErrors(_) | DisconnectReason::Terminated
            ) {
                return Err(format!("client ended {c:?} without a session"));
            }
        }
        (None, Some(s)) => {
            // The client process vanished: the server can only notice by
            // inactivity.
            if s != TerminationReason::Inactivity {
                return Err(format!("client vanished, server ended {s:?}"));
            }
        }
        (None, None) => return Err("nothing ended".into()),
    }
    if sim.harness_terminated_at.is_some() {
        return Ok(Ending::Completed);
    }
    Ok(Ending::Ended {
        client: client_end,
        server: server_end,
    })
}

impl Sim {
    /// Checks the properties; panics with the trace on failure.
    #[track_caller]
    pub(crate) fn assert_properties(&self) -> Ending {
        match check(self) {
            Ok(e) => e,
            Err(msg) => self.fail(msg),
        }
    }
}
