//! Fixtures shared by the criterion benches in `benches/benches/`: the body
//! inputs, the two parse baselines (a bare quick-xml event loop and a
//! roxmltree DOM), and [`Pair`], a client and a server core exchanging
//! requests in memory with fake time. See `BENCHMARKS.md` at the repository
//! root for how to run them and the latest figures.

use std::time::{Duration, Instant};

use bosh_core::body::{BodyAttrs, CreationAttrs, Version, write_body};
use bosh_core::client::{self, ClientConfig, ClientSession, Outcome};
use bosh_core::server::{
    self, RequestId, Routing, ServerConfig, ServerEndpoint, ServerSession, StreamId, UpstreamEvent,
};
use bosh_core::{Body, Rid};
use bytes::Bytes;
use quick_xml::events::Event;

/// The httpbind namespace.
pub const NS: &str = "http://jabber.org/protocol/httpbind";

/// A client's empty poll, as Strophe.js sends it (82 bytes).
pub fn small_body() -> Bytes {
    Bytes::from_static(
        b"<body rid='1573741821' xmlns='http://jabber.org/protocol/httpbind' sid='SomeSID'/>",
    )
}

/// A body carrying one chat message, 1 KiB in all.
pub fn typical_body() -> Bytes {
    let head = "<body rid='1573741822' sid='SomeSID' ack='1573741820' \
                xmlns='http://jabber.org/protocol/httpbind'>\
                <message to='juliet@capulet.example/balcony' from='romeo@montague.example/orchard' \
                type='chat' id='a1b2c3d4' xmlns='jabber:client'><body>";
    let tail = "</body><active xmlns='http://jabber.org/protocol/chatstates'/>\
                <request xmlns='urn:xmpp:receipts'/></message></body>";
    let filler = "But soft, what light through yonder window breaks? It is the east, \
                  and Juliet is the sun. &amp; ";
    let mut text = String::new();
    while head.len() + text.len() + tail.len() < 1024 {
        text.push_str(filler);
    }
    // Cut on a character boundary outside an entity reference.
    let mut cut = 1024 - head.len() - tail.len();
    while !text.is_char_boundary(cut) || text[..cut].rfind('&') > text[..cut].rfind(';') {
        cut -= 1;
    }
    text.truncate(cut);
    let mut out = String::with_capacity(1024);
    out.push_str(head);
    out.push_str(&text);
    out.push_str(tail);
    Bytes::from(out)
}

/// A body with 64 KiB of stanzas: chat messages, presence with entity
/// capabilities and roster results, as a connection manager relays them
/// after login.
pub fn large_body() -> Bytes {
    let mut out = String::from(
        "<body sid='SomeSID' ack='1573741830' xmlns='http://jabber.org/protocol/httpbind' \
         xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    let mut i = 0u32;
    while out.len() < 64 * 1024 {
        match i % 3 {
            0 => out.push_str(&format!(
                "<message from='nurse@capulet.example/kitchen' to='juliet@capulet.example/balcony' \
                 type='chat' id='m{i}' xmlns='jabber:client'><body>Madam, your mother craves \
                 a word with you: &lt;now&gt; &amp; quickly &#x1F339;.</body>\
                 <active xmlns='http://jabber.org/protocol/chatstates'/></message>"
            )),
            1 => out.push_str(&format!(
                "<presence from='contact{i}@example.net/phone' to='juliet@capulet.example' \
                 xmlns='jabber:client'><show>away</show><status>On the road</status>\
                 <priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
                 node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>"
            )),
            _ => out.push_str(&format!(
                "<iq type='result' id='r{i}' to='juliet@capulet.example/balcony' \
                 xmlns='jabber:client'><query xmlns='jabber:iq:roster' ver='ver{i}'>\
                 <item jid='romeo@montague.example' name='Romeo' subscription='both'>\
                 <group>Friends</group></item><item jid='nurse@capulet.example' \
                 name='Nurse' subscription='both'><group>Family</group></item></query></iq>"
            )),
        }
        i += 1;
    }
    out.push_str("</body>");
    Bytes::from(out)
}

/// The floor: UTF-8 validation of the whole input, then quick-xml's event
/// loop over it (`Reader::from_str`, default configuration, which checks end
/// names), doing nothing with the events: no attribute is iterated, no
/// namespace resolved, no character checked, nothing allocated. Returns the
/// number of events.
pub fn bare_quick_xml(input: &[u8]) -> usize {
    let text = std::str::from_utf8(input).expect("UTF-8 input");
    let mut reader = quick_xml::Reader::from_str(text);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return events,
            Ok(_) => events += 1,
            Err(e) => panic!("bench input is well-formed: {e}"),
        }
    }
}

/// A second reference, above the floor: the same loop, also iterating the
/// attributes of every start tag (quick-xml's default duplicate check on),
/// still without decoding or checking anything else.
pub fn bare_quick_xml_attrs(input: &[u8]) -> usize {
    let text = std::str::from_utf8(input).expect("UTF-8 input");
    let mut reader = quick_xml::Reader::from_str(text);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return n,
            Ok(Event::Start(e) | Event::Empty(e)) => {
                for a in e.attributes() {
                    n += a.expect("well-formed attribute").value.len();
                }
            }
            Ok(_) => n += 1,
            Err(e) => panic!("bench input is well-formed: {e}"),
        }
    }
}

/// What a naive implementation would do: build a roxmltree DOM of the whole
/// input (UTF-8 check included), then read the root's attributes and its
/// child elements. Returns a count so the work is not optimised away.
pub fn roxmltree_dom(input: &[u8]) -> usize {
    let text = std::str::from_utf8(input).expect("UTF-8 input");
    let doc = roxmltree::Document::parse(text).expect("well-formed input");
    let root = doc.root_element();
    assert_eq!(root.tag_name().namespace(), Some(NS));
    let mut n = root.attributes().len();
    n += root.children().filter(|c| c.is_element()).count();
    n
}

/// A stanza the client sends each cycle of [`Pair::exchange`].
pub const CLIENT_STANZA: &str = "<message to='romeo@montague.example' type='chat' \
                                 xmlns='jabber:client'><body>Wherefore art thou?</body></message>";
/// A stanza the server relays each cycle of [`Pair::exchange`].
pub const SERVER_STANZA: &[u8] = b"<message from='romeo@montague.example/orchard' \
                                   to='juliet@capulet.example/balcony' type='chat' \
                                   xmlns='jabber:client'><body>Here.</body></message>";

/// A client core and a server core (endpoint and session) wired together in
/// memory: every body the client sends is routed (parsed) by the endpoint and
/// handled by the session; every response is handed back to the client
/// (which parses it). Time is fake and moves 1 ms per exchange; the upstream
/// is a sink that answers the stream open with features.
#[derive(Debug)]
pub struct Pair {
    client: ClientSession,
    endpoint: ServerEndpoint,
    server: ServerSession,
    now: Instant,
    next_request: u64,
    /// Client requests on the wire, not yet given to the server.
    to_server: Vec<(client::RequestId, Bytes)>,
    /// Server request id -> client request id.
    open: Vec<(RequestId, client::RequestId)>,
    /// Responses the client received (HTTP round trips completed).
    pub round_trips: u64,
    /// Stanzas the client application received.
    pub stanzas_in: u64,
    /// Stanzas delivered upstream.
    pub stanzas_up: u64,
}

impl Pair {
    /// A connected pair: session created, features delivered, the client's
    /// first empty poll held by the server.
    pub fn new() -> Pair {
        let now = Instant::now();
        // The steady state is measured, not the login: no reply window
        // after the features, so the first empty poll goes out at once.
        let mut config = ClientConfig::new("example.com");
        config.reply_window = Duration::ZERO;
        let client = ClientSession::new(config, Rid::new(1_573_741_820).expect("valid rid"), now)
            .expect("valid client config");
        let mut endpoint = ServerEndpoint::new(ServerConfig::default()).expect("valid config");
        let mut client = client;
        let first = match client.poll_output() {
            Some(client::Output::Send(t)) => t,
            other => panic!("no creation request: {other:?}"),
        };
        let server = match endpoint.route(now, RequestId(0), first.body.clone()) {
            Routing::New(incoming) => endpoint
                .accept(now, incoming, "bench-sid".to_owned(), [1; 16])
                .expect("accepted"),
            other => panic!("creation not routed: {other:?}"),
        };
        let mut pair = Pair {
            client,
            endpoint,
            server,
            now,
            next_request: 1,
            to_server: Vec::new(),
            open: vec![(RequestId(0), first.id)],
            round_trips: 0,
            stanzas_in: 0,
            stanzas_up: 0,
        };
        pair.drain_server();
        pair.server.handle_upstream(
            now,
            StreamId(0),
            UpstreamEvent::Opened {
                id: Some("stream-1".into()),
                from: Some("example.com".into()),
                version: Some(Version::new(1, 0)),
            },
        );
        pair.server.handle_upstream(
            now,
            StreamId(0),
            UpstreamEvent::Features(Bytes::from_static(
                b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
            )),
        );
        pair.settle();
        assert!(pair.client.is_connected(), "the pair did not connect");
        pair
    }

    /// One message each way: the client sends a stanza, the server relays
    /// one from upstream. Returns the HTTP round trips completed (2 in the
    /// steady state: the held poll answered with the server's stanza, and
    /// the request carrying the client's stanza answered when the next poll
    /// arrives).
    pub fn exchange(&mut self) -> u64 {
        let before = self.round_trips;
        self.now += Duration::from_millis(1);
        self.server.handle_upstream(
            self.now,
            StreamId(0),
            UpstreamEvent::Stanza(Bytes::from_static(SERVER_STANZA)),
        );
        self.settle();
        self.client
            .send(self.now, Bytes::from_static(CLIENT_STANZA.as_bytes()))
            .expect("connected");
        self.client.flush(self.now);
        self.settle();
        self.round_trips - before
    }

    /// Moves messages between the two until both are quiet.
    fn settle(&mut self) {
        loop {
            self.drain_server();
            self.drain_client();
            if self.to_server.is_empty() {
                break;
            }
            for (cid, body) in std::mem::take(&mut self.to_server) {
                let id = RequestId(self.next_request);
                self.next_request += 1;
                match self.endpoint.route(self.now, id, body) {
                    Routing::Session { body, .. } => {
                        self.open.push((id, cid));
                        self.server.handle_request(self.now, id, body);
                    }
                    Routing::Respond(r) => {
                        self.client
                            .handle_response(self.now, cid, Outcome::ok(r.body));
                    }
                    Routing::New(_) => panic!("unexpected creation request"),
                }
            }
        }
    }

    fn drain_server(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                server::Output::Respond { request, response } => {
                    let k = self
                        .open
                        .iter()
                        .position(|&(r, _)| r == request)
                        .expect("a known request");
                    let (_, cid) = self.open.swap_remove(k);
                    self.round_trips += 1;
                    self.client
                        .handle_response(self.now, cid, Outcome::ok(response.body));
                }
                server::Output::Upstream(server::UpstreamCommand::Deliver { elements, .. }) => {
                    self.stanzas_up += elements.len() as u64;
                }
                _ => {}
            }
        }
    }

    fn drain_client(&mut self) {
        while let Some(o) = self.client.poll_output() {
            match o {
                client::Output::Send(t) => self.to_server.push((t.id, t.body)),
                client::Output::Event(client::Event::Stanza { .. }) => self.stanzas_in += 1,
                client::Output::Event(client::Event::Disconnected(r)) => {
                    panic!("the bench session ended: {r:?}")
                }
                _ => {}
            }
        }
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

/// A connected server session (hold = 1) with its endpoint, for the rid
/// benches: the creation request answered, rid `first + 1` held.
#[derive(Debug)]
pub struct ServerFixture {
    /// The endpoint.
    pub endpoint: ServerEndpoint,
    /// The session.
    pub session: ServerSession,
    /// The fake clock.
    pub now: Instant,
    /// The next rid a client would use.
    pub next_rid: u64,
    /// The next request id.
    pub next_request: u64,
}

impl ServerFixture {
    /// A session created with `config`, features delivered, then `polls`
    /// empty polls sent in order (each answers the previous one).
    pub fn new(config: ServerConfig, polls: u64) -> ServerFixture {
        let now = Instant::now();
        let mut endpoint = ServerEndpoint::new(config).expect("valid config");
        let first = 1_000_000u64;
        let creation = BodyAttrs {
            rid: Rid::new(first),
            ack: Rid::new(1),
            creation: Some(Box::new(CreationAttrs {
                to: Some("example.com".into()),
                ver: Some(Version::new(1, 11)),
                wait: Some(60),
                hold: Some(1),
                ..CreationAttrs::default()
            })),
            ..BodyAttrs::default()
        };
        let mut bytes = Vec::new();
        write_body(&creation, std::iter::empty::<&[u8]>(), &mut bytes);
        let session = match endpoint.route(now, RequestId(0), Bytes::from(bytes)) {
            Routing::New(incoming) => endpoint
                .accept(now, incoming, "bench-sid".to_owned(), [1; 16])
                .expect("accepted"),
            other => panic!("creation not routed: {other:?}"),
        };
        let mut f = ServerFixture {
            endpoint,
            session,
            now,
            next_rid: first + 1,
            next_request: 1,
        };
        f.session.handle_upstream(
            now,
            StreamId(0),
            UpstreamEvent::Features(Bytes::from_static(
                b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
            )),
        );
        f.drain();
        for _ in 0..polls {
            let rid = f.next_rid;
            f.next_rid += 1;
            f.request(rid);
        }
        f
    }

    /// The default configuration without `polling`: the fixture sends empty
    /// polls back to back, which would otherwise be reported as overactivity.
    pub fn config() -> ServerConfig {
        ServerConfig {
            polling: 0,
            ..ServerConfig::default()
        }
    }

    /// A body with only `rid` and `sid`, as the endpoint would hand it over.
    pub fn body(rid: u64) -> Body {
        Body::new(BodyAttrs {
            rid: Rid::new(rid),
            sid: Some("bench-sid".into()),
            ..BodyAttrs::default()
        })
    }

    /// Hands the session a request with `rid`, drains; returns the outputs.
    pub fn request(&mut self, rid: u64) -> usize {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.session
            .handle_request(self.now, id, ServerFixture::body(rid));
        self.drain()
    }

    /// Drains the outputs; returns how many there were.
    pub fn drain(&mut self) -> usize {
        let mut n = 0;
        while let Some(o) = self.session.poll_output() {
            std::hint::black_box(&o);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosh_core::body::{ParseLimits, parse_bytes};

    #[test]
    fn fixtures_have_the_advertised_sizes_and_parse() {
        assert_eq!(small_body().len(), 82);
        assert_eq!(typical_body().len(), 1024);
        let large = large_body();
        assert!((64 * 1024..64 * 1024 + 1024).contains(&large.len()));
        for b in [small_body(), typical_body(), large] {
            let body = parse_bytes(b.clone(), &ParseLimits::default()).expect("parses");
            assert!(bare_quick_xml(&b) > 0);
            assert!(bare_quick_xml_attrs(&b) > 0);
            assert!(roxmltree_dom(&b) > 0);
            let _ = body;
        }
    }

    #[test]
    fn the_pair_exchanges_two_round_trips_per_message() {
        let mut pair = Pair::new();
        for _ in 0..10 {
            assert_eq!(pair.exchange(), 2);
        }
        assert_eq!(pair.stanzas_in, 10);
        assert_eq!(pair.stanzas_up, 10);
    }

    #[test]
    fn the_server_fixture_answers_each_poll_with_the_previous() {
        let mut f = ServerFixture::new(ServerFixture::config(), 3);
        let rid = f.next_rid;
        f.next_rid += 1;
        assert_eq!(f.request(rid), 1);
    }
}
