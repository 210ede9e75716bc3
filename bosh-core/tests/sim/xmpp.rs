//! The scripted fake XMPP server behind the connection manager, and the
//! stanzas both sides exchange.
//!
//! It opens streams with SASL features, answers `<auth/>` with `<success/>`,
//! offers resource binding after the restart, answers the bind iq, and
//! records, in order, every element the connection manager delivered.
//! Replies leave after a fixed upstream latency, in order (one TCP stream).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bosh_core::body::Version;
use bosh_core::server::{UpstreamCommand, UpstreamEvent};
use bytes::Bytes;

use super::net::contains;

pub(crate) const SASL_FEATURES: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
pub(crate) const BIND_FEATURES: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
pub(crate) const AUTH: &str =
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>";
pub(crate) const SUCCESS: &str = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
pub(crate) const BIND: &str = "<iq xmlns='jabber:client' type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>sim</resource></bind></iq>";
pub(crate) const BIND_RESULT: &str = "<iq xmlns='jabber:client' type='result' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/sim</jid></bind></iq>";
pub(crate) const BYE: &str = "<presence xmlns='jabber:client' type='unavailable' id='bye'/>";

/// Client stanza number `n` (unique id `c{n}`).
pub(crate) fn client_stanza(n: u32) -> String {
    format!(
        "<message xmlns='jabber:client' to='romeo@example.net' id='c{n}' type='chat'><body>c{n}</body></message>"
    )
}

/// Server stanza number `n` (unique id `s{n}`).
pub(crate) fn server_stanza(n: u32) -> String {
    format!(
        "<message xmlns='jabber:client' from='romeo@example.net' to='juliet@example.com/sim' id='s{n}' type='chat'><body>s{n}</body></message>"
    )
}

/// The number of every stanza with id `{prefix}{n}` in `xml`, in order.
pub(crate) fn numbered(xml: &[u8], prefix: char) -> Vec<u32> {
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        let pat = format!("id={quote}{prefix}");
        let p = pat.as_bytes();
        let mut i = 0;
        while i + p.len() <= xml.len() {
            if &xml[i..i + p.len()] == p {
                let digits: String = xml[i + p.len()..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .map(|&b| b as char)
                    .collect();
                if xml.get(i + p.len() + digits.len()) == Some(&(quote as u8))
                    && let Ok(n) = digits.parse()
                {
                    out.push((i, n));
                }
            }
            i += 1;
        }
    }
    out.sort();
    out.into_iter().map(|(_, n)| n).collect()
}

/// One upstream stream (one connection-manager session).
#[derive(Debug)]
pub(crate) struct FakeXmpp {
    latency: Duration,
    pub(crate) open: bool,
    pub(crate) opens: usize,
    pub(crate) restarts: usize,
    pub(crate) authed: bool,
    pub(crate) bound: bool,
    pub(crate) closed_by_cm: bool,
    /// Every element delivered, in order.
    pub(crate) received: Vec<Bytes>,
    /// Numbers of the client stanzas delivered, in order (bounces excluded).
    pub(crate) client_ids: Vec<u32>,
    /// Numbers of our stanzas bounced back (XEP-0206 §7).
    pub(crate) bounced: Vec<u32>,
    /// Numbers of the stanzas sent to the client, in order.
    pub(crate) sent_ids: Vec<u32>,
    pub(crate) sent_at: Vec<Instant>,
    pub(crate) saw_bye: bool,
    /// Every command, in order, as a short label.
    pub(crate) commands: Vec<String>,
    queue: VecDeque<(Instant, UpstreamEvent)>,
}

impl FakeXmpp {
    pub(crate) fn new(latency: Duration) -> FakeXmpp {
        FakeXmpp {
            latency,
            open: false,
            opens: 0,
            restarts: 0,
            authed: false,
            bound: false,
            closed_by_cm: false,
            received: Vec::new(),
            client_ids: Vec::new(),
            bounced: Vec::new(),
            sent_ids: Vec::new(),
            sent_at: Vec::new(),
            saw_bye: false,
            commands: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    fn push(&mut self, now: Instant, ev: UpstreamEvent) {
        let at = now + self.latency;
        let at = self.queue.back().map_or(at, |(t, _)| at.max(*t));
        self.queue.push_back((at, ev));
    }

    fn header(&mut self, now: Instant) {
        let id = format!("stream-{}", self.opens + self.restarts);
        self.push(
            now,
            UpstreamEvent::Opened {
                id: Some(id),
                from: Some("example.com".into()),
                version: Some(Version::new(1, 0)),
            },
        );
        let f = if self.authed {
            BIND_FEATURES
        } else {
            SASL_FEATURES
        };
        self.push(
            now,
            UpstreamEvent::Features(Bytes::from_static(f.as_bytes())),
        );
    }

    /// A command from the connection manager.
    pub(crate) fn command(&mut self, now: Instant, cmd: UpstreamCommand) {
        match cmd {
            UpstreamCommand::Open { .. } => {
                self.commands.push("open".into());
                self.open = true;
                self.opens += 1;
                self.header(now);
            }
            UpstreamCommand::Restart { .. } => {
                self.commands.push("restart".into());
                self.restarts += 1;
                if self.open {
                    self.header(now);
                }
            }
            UpstreamCommand::Deliver { elements, .. } => {
                for e in elements {
                    self.commands.push(format!(
                        "deliver {}",
                        String::from_utf8_lossy(&e[..e.len().min(60)])
                    ));
                    self.element(now, e);
                }
            }
            UpstreamCommand::Close { .. } => {
                self.commands.push("close".into());
                self.open = false;
                self.closed_by_cm = true;
                self.queue.clear();
            }
        }
    }

    fn element(&mut self, now: Instant, e: Bytes) {
        let error = contains(&e, "type='error'") || contains(&e, "type=\"error\"");
        if error {
            self.bounced.extend(numbered(&e, 's'));
        } else {
            self.client_ids.extend(numbered(&e, 'c'));
        }
        if contains(&e, "<auth") && self.open {
            self.authed = true;
            self.push(
                now,
                UpstreamEvent::Stanza(Bytes::from_static(SUCCESS.as_bytes())),
            );
        }
        if contains(&e, "id='bind_1'") && self.open && !error {
            self.bound = true;
            self.push(
                now,
                UpstreamEvent::Stanza(Bytes::from_static(BIND_RESULT.as_bytes())),
            );
        }
        if contains(&e, "id='bye'") {
            self.saw_bye = true;
        }
        self.received.push(e);
    }

    /// Sends server stanza `n` to the client.
    pub(crate) fn send_stanza(&mut self, now: Instant, n: u32) {
        self.sent_ids.push(n);
        self.sent_at.push(now + self.latency);
        self.push(now, UpstreamEvent::Stanza(Bytes::from(server_stanza(n))));
    }

    /// The server drops the stream (its TCP connection is lost).
    pub(crate) fn drop_stream(&mut self, now: Instant) {
        if self.open {
            self.open = false;
            self.push(now, UpstreamEvent::Closed);
        }
    }

    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(t, _)| *t)
    }

    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<UpstreamEvent> {
        if self.queue.front().is_some_and(|(t, _)| *t <= now) {
            self.queue.pop_front().map(|(_, e)| e)
        } else {
            None
        }
    }
}
