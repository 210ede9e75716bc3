//! A small XMPP login over BOSH (RFC 6120, XEP-0206): SASL PLAIN, the stream
//! restart, resource binding and, when required, the legacy session.
//!
//! [`Login`] is the sans-IO part: feed it the stream features and the
//! stanzas of a fresh session; it says what to send ([`LoginAction`]) and
//! ends with the bound JID. [`login`] drives it over a [`BoshClient`] and its
//! [`EventStream`], for every runtime.
//!
//! It is deliberately small: PLAIN only (no SCRAM), no STARTTLS (BOSH over
//! `http://` on loopback, or TLS in front), no stream management. SASL
//! PLAIN sends the password in the clear: use it over loopback or TLS only.
//!
//! The payloads arrive from the core as standalone elements (namespaces
//! declared on them), so they are parsed with namespaces ([`quick_xml`]
//! `NsReader`) into a tiny element tree, within limits.

use std::time::Duration;

use bytes::Bytes;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event as XmlEvent;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::client::{BoshClient, ClientError, DisconnectReason, Event, EventStream};
use crate::runtime::{deadline_in, with_deadline};

use bosh_core::xmpp::{NS_JABBER_CLIENT, NS_STANZA_ERRORS, NS_STREAM_ERRORS, NS_STREAMS};

const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
const BIND_ID: &str = "bosh-login-bind";
const SESSION_ID: &str = "bosh-login-session";
/// Bounds on the elements parsed here (features and stanzas are small).
const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 4096;

/// Who logs in: a bare or full JID and a password.
#[derive(Clone)]
pub struct Credentials {
    username: String,
    domain: String,
    resource: Option<String>,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("domain", &self.domain)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `jid` is `user@domain` or `user@domain/resource` (the resource is the
    /// one asked for when binding; without one the server picks it).
    pub fn new(jid: &str, password: impl Into<String>) -> Result<Credentials, LoginError> {
        let (bare, resource) = match jid.split_once('/') {
            Some((b, r)) => (b, Some(r)),
            None => (jid, None),
        };
        let (username, domain) = bare
            .split_once('@')
            .ok_or(LoginError::InvalidJid("expected user@domain"))?;
        if username.is_empty() || username.contains(char::is_whitespace) {
            return Err(LoginError::InvalidJid("empty or invalid localpart"));
        }
        if domain.is_empty() || domain.contains(['@', ' ', '<', '>', '\'', '"', '&']) {
            return Err(LoginError::InvalidJid("empty or invalid domain"));
        }
        if resource.is_some_and(str::is_empty) {
            return Err(LoginError::InvalidJid("empty resource"));
        }
        let password = password.into();
        // PLAIN separates its fields with NUL, so neither may hold one
        // (RFC 4616 §2).
        if username.contains('\0') {
            return Err(LoginError::InvalidJid("NUL in the localpart"));
        }
        if password.contains('\0') {
            return Err(LoginError::InvalidPassword);
        }
        Ok(Credentials {
            username: username.to_owned(),
            domain: domain.to_ascii_lowercase(),
            resource: resource.map(str::to_owned),
            password,
        })
    }

    /// Asks for this resource when binding (replaces the JID's).
    pub fn with_resource(mut self, resource: impl Into<String>) -> Credentials {
        self.resource = Some(resource.into()).filter(|r| !r.is_empty());
        self
    }

    /// The localpart, used as the SASL authentication identity.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The domain: the BOSH `to` ([`ClientConfig::to`](crate::client::ClientConfig::to)).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The resource asked for, if any.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The JID is not `user@domain[/resource]`.
    #[error("invalid JID: {0}")]
    InvalidJid(&'static str),
    /// The password holds a NUL, which SASL PLAIN cannot carry (RFC 4616
    /// §2).
    #[error("invalid password: it holds a NUL character")]
    InvalidPassword,
    /// The server sent a stream error (RFC 6120 §4.9) in the middle of the
    /// login, outside a terminate body.
    #[error("stream error during the login: {condition}")]
    StreamError {
        /// The stream error condition, e.g. `policy-violation`.
        condition: String,
    },
    /// The server offers no SASL PLAIN (RFC 6120 §6.3.3).
    #[error("the server does not offer SASL PLAIN (offered: {})", .offered.join(", "))]
    NoPlain {
        /// The mechanisms offered.
        offered: Vec<String>,
    },
    /// SASL `<failure/>` (RFC 6120 §6.4.5): wrong password, unknown user, ….
    #[error("authentication failed: {condition}{}", .text.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    AuthFailed {
        /// The failure condition, e.g. `not-authorized`.
        condition: String,
        /// The server's `<text/>`, if any.
        text: Option<String>,
    },
    /// A SASL `<challenge/>`, which PLAIN never has.
    #[error("unexpected SASL challenge")]
    UnexpectedChallenge,
    /// The restarted stream offers no resource binding (RFC 6120 §7).
    #[error("the server does not offer resource binding")]
    NoBind,
    /// Resource binding failed (RFC 6120 §7.6.2).
    #[error("resource binding failed: {condition}")]
    BindFailed {
        /// The stanza error condition, e.g. `conflict`.
        condition: String,
    },
    /// Session establishment failed (RFC 3921 §3).
    #[error("session establishment failed: {condition}")]
    SessionFailed {
        /// The stanza error condition.
        condition: String,
    },
    /// A features element or a login response that cannot be understood.
    #[error("malformed server response: {0}")]
    Malformed(String),
    /// The BOSH session ended during the login.
    #[error("the session ended during the login: {0:?}")]
    Disconnected(DisconnectReason),
    /// The event stream ended (the client was detached).
    #[error("the client stopped during the login")]
    Stopped,
    /// The login did not finish in time.
    #[error("the login did not finish in time")]
    TimedOut,
    /// The client refused a command.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl LoginError {
    /// Whether the server refused the credentials (SASL failure), as opposed
    /// to a network or protocol problem.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, LoginError::AuthFailed { .. })
    }
}

/// What [`Login`] asks for. Its `Debug` shows the size of what is to be
/// sent, not the bytes (the `<auth/>` carries the password, base64-coded).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginAction {
    /// Send this element.
    Send(Bytes),
    /// Restart the stream (XEP-0206 §5), after SASL success.
    Restart,
    /// Logged in; the full JID the server bound.
    Done(String),
}

impl std::fmt::Debug for LoginAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginAction::Send(b) => write!(f, "Send({} bytes)", b.len()),
            LoginAction::Restart => f.write_str("Restart"),
            LoginAction::Done(jid) => f.debug_tuple("Done").field(jid).finish(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Features,
    Sasl,
    RestartFeatures,
    Bind { session: bool },
    Session { jid: String },
    Done,
}

/// The login state machine (sans IO). Give it every
/// [`Event::StreamFeatures`] with [`Login::handle_features`] and every
/// [`Event::Stanza`] with [`Login::handle_stanza`], and carry out the
/// [`LoginAction`]s; [`LoginAction::Done`] ends it.
///
/// Mirrors Strophe.js: PLAIN with an empty authorization identity, restart,
/// bind (with the requested resource, if any), then the legacy session only
/// when advertised without `<optional/>`.
#[derive(Debug)]
pub struct Login {
    credentials: Credentials,
    step: Step,
}

impl Login {
    /// A login for `credentials`, waiting for the first stream features.
    pub fn new(credentials: Credentials) -> Login {
        Login {
            credentials,
            step: Step::Features,
        }
    }

    /// Whether [`LoginAction::Done`] was given.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Stream features arrived. `Ok(None)`: not expected now (ignored).
    pub fn handle_features(&mut self, features: &[u8]) -> Result<Option<LoginAction>, LoginError> {
        if !matches!(self.step, Step::Features | Step::RestartFeatures) {
            return Ok(None);
        }
        let el = parse(features)?;
        if el.ns != NS_STREAMS || el.name != "features" {
            return Err(malformed("not <stream:features/>"));
        }
        match self.step {
            Step::Features => {
                let offered: Vec<String> = el
                    .child(NS_SASL, "mechanisms")
                    .map(|m| {
                        m.children_named(NS_SASL, "mechanism")
                            .map(|c| c.text.trim().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if !offered.iter().any(|m| m == "PLAIN") {
                    return Err(LoginError::NoPlain { offered });
                }
                let mut creds = Vec::new();
                creds.push(0);
                creds.extend_from_slice(self.credentials.username.as_bytes());
                creds.push(0);
                creds.extend_from_slice(self.credentials.password.as_bytes());
                let auth = format!(
                    "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{}</auth>",
                    base64(&creds)
                );
                self.step = Step::Sasl;
                Ok(Some(LoginAction::Send(Bytes::from(auth))))
            }
            Step::RestartFeatures => {
                if el.child(NS_BIND, "bind").is_none() {
                    return Err(LoginError::NoBind);
                }
                let session = el
                    .child(NS_SESSION, "session")
                    .is_some_and(|s| s.child(NS_SESSION, "optional").is_none());
                let resource = match &self.credentials.resource {
                    Some(r) => format!("<resource>{}</resource>", escape_xml(r)),
                    None => String::new(),
                };
                let iq = format!(
                    "<iq xmlns='{NS_JABBER_CLIENT}' type='set' id='{BIND_ID}'>\
                     <bind xmlns='{NS_BIND}'>{resource}</bind></iq>"
                );
                self.step = Step::Bind { session };
                Ok(Some(LoginAction::Send(Bytes::from(iq))))
            }
            _ => Ok(None),
        }
    }

    /// A stanza (or other payload element) arrived. `Ok(None)`: not part of
    /// the login (the caller keeps it).
    ///
    /// A stanza that cannot be parsed here (deeper or larger than this
    /// small parser takes, e.g. a pubsub notification that arrives after
    /// bind) is not part of the login either; a stream error
    /// (`<stream:error/>`) ends it.
    pub fn handle_stanza(&mut self, stanza: &[u8]) -> Result<Option<LoginAction>, LoginError> {
        if matches!(
            self.step,
            Step::Features | Step::RestartFeatures | Step::Done
        ) {
            return Ok(None);
        }
        let Ok(el) = parse(stanza) else {
            return Ok(None);
        };
        if el.ns == NS_STREAMS && el.name == "error" {
            return Err(LoginError::StreamError {
                condition: el.condition(NS_STREAM_ERRORS),
            });
        }
        match &self.step {
            Step::Sasl => {
                if el.ns != NS_SASL {
                    return Ok(None);
                }
                match el.name.as_str() {
                    "success" => {
                        self.step = Step::RestartFeatures;
                        Ok(Some(LoginAction::Restart))
                    }
                    "failure" => Err(LoginError::AuthFailed {
                        condition: el.condition(NS_SASL),
                        text: el
                            .child(NS_SASL, "text")
                            .map(|t| t.text.clone())
                            .filter(|t| !t.is_empty()),
                    }),
                    "challenge" => Err(LoginError::UnexpectedChallenge),
                    _ => Ok(None),
                }
            }
            Step::Bind { session } => {
                let session = *session;
                let Some(kind) = iq_answer(&el, BIND_ID) else {
                    return Ok(None);
                };
                if kind == "error" {
                    return Err(LoginError::BindFailed {
                        condition: stanza_error_condition(&el),
                    });
                }
                let jid = el
                    .child(NS_BIND, "bind")
                    .and_then(|b| b.child(NS_BIND, "jid"))
                    .map(|j| j.text.trim().to_owned())
                    .filter(|j| !j.is_empty())
                    .ok_or_else(|| LoginError::Malformed("bind result without a jid".into()))?;
                if session {
                    self.step = Step::Session { jid };
                    let iq = format!(
                        "<iq xmlns='{NS_JABBER_CLIENT}' type='set' id='{SESSION_ID}'>\
                         <session xmlns='{NS_SESSION}'/></iq>"
                    );
                    Ok(Some(LoginAction::Send(Bytes::from(iq))))
                } else {
                    self.step = Step::Done;
                    Ok(Some(LoginAction::Done(jid)))
                }
            }
            Step::Session { jid } => {
                let jid = jid.clone();
                let Some(kind) = iq_answer(&el, SESSION_ID) else {
                    return Ok(None);
                };
                if kind == "error" {
                    return Err(LoginError::SessionFailed {
                        condition: stanza_error_condition(&el),
                    });
                }
                self.step = Step::Done;
                Ok(Some(LoginAction::Done(jid)))
            }
            // Returned early above: these steps take no stanza.
            Step::Features | Step::RestartFeatures | Step::Done => Ok(None),
        }
    }
}

/// The `type` of an `<iq/>` answering `id` (`result` or `error`).
fn iq_answer<'a>(el: &'a Element, id: &str) -> Option<&'a str> {
    if el.name != "iq"
        || (el.ns != NS_JABBER_CLIENT && !el.ns.is_empty())
        || el.attr("id") != Some(id)
    {
        return None;
    }
    el.attr("type").filter(|t| *t == "result" || *t == "error")
}

fn stanza_error_condition(el: &Element) -> String {
    el.children.iter().find(|c| c.name == "error").map_or_else(
        || "undefined-condition".to_owned(),
        |e| e.condition(NS_STANZA_ERRORS),
    )
}

/// The end of a successful [`login`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedIn {
    /// The full JID the server bound (also recorded with
    /// [`BoshClient::set_jid`]).
    pub jid: String,
    /// Stanzas that arrived during the login and were not part of it, in
    /// order.
    pub other_stanzas: Vec<Bytes>,
}

/// Logs in on a freshly connected `client` (SASL PLAIN, restart, bind,
/// session if required), reading `events` until done, within `timeout`.
///
/// On error the session is left as it is: terminate it (an authentication
/// failure leaves the session open).
pub async fn login(
    client: &BoshClient,
    events: &mut EventStream,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<LoggedIn, LoginError> {
    let rt = client.runtime().clone();
    // A timeout too large for the clock (e.g. `Duration::MAX`) is no limit.
    let at = deadline_in(&*rt, timeout);
    with_deadline(&*rt, at, run_login(client, events, credentials))
        .await
        .unwrap_or(Err(LoginError::TimedOut))
}

async fn run_login(
    client: &BoshClient,
    events: &mut EventStream,
    credentials: &Credentials,
) -> Result<LoggedIn, LoginError> {
    let mut login = Login::new(credentials.clone());
    let mut other_stanzas = Vec::new();
    loop {
        let action = match events.next_event().await {
            None => return Err(LoginError::Stopped),
            Some(Event::Disconnected(reason)) => return Err(LoginError::Disconnected(reason)),
            Some(Event::StreamFeatures { features, .. }) => login.handle_features(&features)?,
            Some(Event::Stanza { stanza, .. }) => {
                let action = login.handle_stanza(&stanza)?;
                if action.is_none() {
                    other_stanzas.push(stanza);
                }
                action
            }
            Some(_) => None,
        };
        match action {
            None => {}
            Some(LoginAction::Send(element)) => {
                client.send(element)?;
                client.flush()?;
            }
            Some(LoginAction::Restart) => client.restart()?,
            Some(LoginAction::Done(jid)) => {
                client.set_jid(jid.clone());
                return Ok(LoggedIn { jid, other_stanzas });
            }
        }
    }
}

/// The addressing of a stanza, for applications that print or route
/// stanzas: see [`stanza_info`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StanzaInfo {
    /// The element's local name: `message`, `presence`, `iq`, ….
    pub name: String,
    /// `from`.
    pub from: Option<String>,
    /// `to`.
    pub to: Option<String>,
    /// `type`.
    pub kind: Option<String>,
    /// `id`.
    pub id: Option<String>,
    /// The text of a `<message/>`'s `<body/>`.
    pub body: Option<String>,
}

/// Reads the name, addressing and message body of a stanza; `None` if it is
/// not well-formed.
pub fn stanza_info(stanza: &[u8]) -> Option<StanzaInfo> {
    let el = parse(stanza).ok()?;
    let attr = |n: &str| el.attr(n).map(str::to_owned);
    Some(StanzaInfo {
        from: attr("from"),
        to: attr("to"),
        kind: attr("type"),
        id: attr("id"),
        body: el
            .children
            .iter()
            .find(|c| c.name == "body" && c.ns == el.ns)
            .map(|b| b.text.clone()),
        name: el.name,
    })
}

/// Escapes text for XML content and attribute values (`&`, `<`, `>`, `'`,
/// `"`).
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4), for SASL (RFC 6120 §6.4.2).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = u32::from(b0) << 16 | u32::from(b1) << 8 | u32::from(b2);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// A parsed element: namespace, local name, attributes (local names,
/// namespace declarations left out), children and text.
#[derive(Debug, Default)]
struct Element {
    ns: String,
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.ns == ns && c.name == name)
    }

    /// The name of the first child in `ns` other than `<text/>`: the
    /// condition of a stream error or a SASL failure (RFC 6120 §4.9.3,
    /// §6.5), `undefined-condition` when there is none.
    fn condition(&self, ns: &str) -> String {
        self.children
            .iter()
            .find(|c| c.ns == ns && c.name != "text")
            .map_or_else(|| "undefined-condition".to_owned(), |c| c.name.clone())
    }

    fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |c| c.ns == ns && c.name == name)
    }
}

fn malformed(what: impl std::fmt::Display) -> LoginError {
    LoginError::Malformed(what.to_string())
}

/// Parses one standalone element.
fn parse(input: &[u8]) -> Result<Element, LoginError> {
    let mut reader = NsReader::from_reader(input);
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.0.to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => return Err(malformed(format!("unbound prefix {p}"))),
        };
        match event {
            XmlEvent::Start(ref start) | XmlEvent::Empty(ref start) => {
                let empty = matches!(event, XmlEvent::Empty(_));
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(malformed("element too large"));
                }
                let mut el = Element {
                    ns,
                    name: start.local_name().as_ref().to_owned(),
                    ..Element::default()
                };
                for attr in start.attributes() {
                    let attr = attr.map_err(malformed)?;
                    if attr.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(malformed)?;
                    el.attrs.push((
                        attr.key.local_name().as_ref().to_owned(),
                        value.into_owned(),
                    ));
                }
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => return Ok(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            XmlEvent::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(malformed("unbalanced end tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            XmlEvent::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            XmlEvent::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            XmlEvent::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r)
                        .ok_or_else(|| malformed(format!("unknown entity &{};", &*r)))?
                        .to_owned(),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            XmlEvent::Eof => return Err(malformed("no complete element")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEATURES_SASL: &[u8] =
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
        <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
        <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
    const FEATURES_BIND: &[u8] = b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
        <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
        <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>";

    fn text(action: Option<LoginAction>) -> String {
        match action {
            Some(LoginAction::Send(b)) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("expected Send, got {other:?}"),
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
        assert_eq!(base64(b"\0alice\0pw"), "AGFsaWNlAHB3");
    }

    /// A login at the bind step (SASL done, restarted, bind sent).
    fn at_bind() -> Login {
        let mut login = Login::new(Credentials::new("alice@example.com", "pw").unwrap());
        login.handle_features(FEATURES_SASL).unwrap();
        login
            .handle_stanza(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            .unwrap();
        login.handle_features(FEATURES_BIND).unwrap();
        login
    }

    #[test]
    fn a_stanza_too_deep_for_the_login_parser_is_left_to_the_caller() {
        let mut login = at_bind();
        let deep = format!(
            "<message xmlns='jabber:client'>{}{}</message>",
            "<x>".repeat(100),
            "</x>".repeat(100)
        );
        assert_eq!(login.handle_stanza(deep.as_bytes()).unwrap(), None);
        let result = b"<iq xmlns='jabber:client' type='result' id='bosh-login-bind'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.com/r</jid></bind></iq>";
        assert_eq!(
            login.handle_stanza(result).unwrap(),
            Some(LoginAction::Done("alice@example.com/r".to_owned()))
        );
    }

    #[test]
    fn rfc6120_4_9_a_stream_error_during_the_login_ends_it() {
        let mut login = at_bind();
        let error = b"<stream:error xmlns:stream='http://etherx.jabber.org/streams'>\
            <policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
        assert_eq!(
            login.handle_stanza(error),
            Err(LoginError::StreamError {
                condition: "policy-violation".to_owned()
            })
        );
    }

    #[test]
    fn the_auth_element_is_not_in_debug_output() {
        let mut login = Login::new(Credentials::new("alice@example.com", "pw").unwrap());
        let auth = login.handle_features(FEATURES_SASL).unwrap().unwrap();
        let shown = format!("{auth:?}");
        assert!(!shown.contains("AGFsaWNlAHB3"), "{shown}");
        assert!(shown.starts_with("Send("), "{shown}");
    }

    #[test]
    fn rfc4616_2_nul_in_the_localpart_or_password_is_refused() {
        assert_eq!(
            Credentials::new("alice@example.com", "p\0w").unwrap_err(),
            LoginError::InvalidPassword
        );
        assert!(matches!(
            Credentials::new("al\0ice@example.com", "pw"),
            Err(LoginError::InvalidJid(_))
        ));
    }

    #[test]
    fn full_login_with_resource_and_optional_session() {
        let creds = Credentials::new("alice@Example.com/desk", "pw").unwrap();
        assert_eq!(creds.domain(), "example.com");
        let mut login = Login::new(creds);
        assert_eq!(login.handle_stanza(b"<presence/>").unwrap(), None);
        let auth = text(login.handle_features(FEATURES_SASL).unwrap());
        assert!(
            auth.contains("mechanism='PLAIN'>AGFsaWNlAHB3</auth>"),
            "{auth}"
        );
        // Something unrelated is left to the caller.
        assert_eq!(
            login
                .handle_stanza(b"<message xmlns='jabber:client'/>")
                .unwrap(),
            None
        );
        assert_eq!(
            login
                .handle_stanza(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                .unwrap(),
            Some(LoginAction::Restart)
        );
        let bind = text(login.handle_features(FEATURES_BIND).unwrap());
        assert!(bind.contains("<resource>desk</resource>"), "{bind}");
        assert!(bind.contains("id='bosh-login-bind'"), "{bind}");
        let result = b"<iq xmlns='jabber:client' type='result' id='bosh-login-bind'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.com/desk</jid></bind></iq>";
        assert_eq!(
            login.handle_stanza(result).unwrap(),
            Some(LoginAction::Done("alice@example.com/desk".to_owned()))
        );
        assert!(login.is_done());
    }

    #[test]
    fn required_session_is_established() {
        let mut login = Login::new(Credentials::new("bob@example.com", "x").unwrap());
        login.handle_features(FEATURES_SASL).unwrap();
        login
            .handle_stanza(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            .unwrap();
        let features = b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
            <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>";
        let bind = text(login.handle_features(features).unwrap());
        assert!(!bind.contains("<resource>"), "{bind}");
        let result = b"<iq xmlns='jabber:client' type='result' id='bosh-login-bind'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>bob@example.com/r1</jid></bind></iq>";
        let session = text(login.handle_stanza(result).unwrap());
        assert!(
            session.contains("urn:ietf:params:xml:ns:xmpp-session"),
            "{session}"
        );
        assert_eq!(
            login
                .handle_stanza(b"<iq xmlns='jabber:client' type='result' id='bosh-login-session'/>")
                .unwrap(),
            Some(LoginAction::Done("bob@example.com/r1".to_owned()))
        );
    }

    #[test]
    fn sasl_failure_is_an_auth_failure_with_its_condition() {
        let mut login = Login::new(Credentials::new("alice@example.com", "bad").unwrap());
        login.handle_features(FEATURES_SASL).unwrap();
        let err = login
            .handle_stanza(
                b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>\
                  <text>Wrong &amp; bad</text></failure>",
            )
            .unwrap_err();
        assert!(err.is_auth_failure());
        assert_eq!(
            err,
            LoginError::AuthFailed {
                condition: "not-authorized".to_owned(),
                text: Some("Wrong & bad".to_owned())
            }
        );
    }

    #[test]
    fn no_plain_and_bind_errors_are_reported() {
        let mut login = Login::new(Credentials::new("a@b", "x").unwrap());
        let features = b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
            <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
            </mechanisms></stream:features>";
        assert_eq!(
            login.handle_features(features).unwrap_err(),
            LoginError::NoPlain {
                offered: vec!["SCRAM-SHA-1".to_owned()]
            }
        );
        let mut login = Login::new(Credentials::new("a@b", "x").unwrap());
        login.handle_features(FEATURES_SASL).unwrap();
        login
            .handle_stanza(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            .unwrap();
        login.handle_features(FEATURES_BIND).unwrap();
        let err = login
            .handle_stanza(
                b"<iq xmlns='jabber:client' type='error' id='bosh-login-bind'><error type='cancel'>\
                  <conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
            )
            .unwrap_err();
        assert_eq!(
            err,
            LoginError::BindFailed {
                condition: "conflict".to_owned()
            }
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let mut login = Login::new(Credentials::new("a@b", "x").unwrap());
        for input in [
            &b""[..],
            b"<",
            b"<a>",
            b"<a></b>",
            b"<p:a/>",
            b"<a>&unknown;</a>",
            b"<a>&#0;</a>",
        ] {
            assert!(login.handle_features(input).is_err(), "{input:?}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn jids_are_checked() {
        assert!(Credentials::new("nodomain", "x").is_err());
        assert!(Credentials::new("@example.com", "x").is_err());
        assert!(Credentials::new("a@", "x").is_err());
        assert!(Credentials::new("a@b/", "x").is_err());
        let c = Credentials::new("a@b/r", "sekret")
            .unwrap()
            .with_resource("s");
        assert_eq!(
            (c.username(), c.domain(), c.resource()),
            ("a", "b", Some("s"))
        );
        assert!(
            !format!("{c:?}").contains("sekret"),
            "Debug hides the password"
        );
    }

    #[test]
    fn stanza_info_reads_addressing_and_body() {
        let info = stanza_info(
            b"<message xmlns='jabber:client' from='a@b/r' to='c@d' type='chat' id='1'>\
              <body>hi &lt;there&gt;</body></message>",
        )
        .unwrap();
        assert_eq!(info.name, "message");
        assert_eq!(info.from.as_deref(), Some("a@b/r"));
        assert_eq!(info.to.as_deref(), Some("c@d"));
        assert_eq!(info.kind.as_deref(), Some("chat"));
        assert_eq!(info.body.as_deref(), Some("hi <there>"));
        assert!(stanza_info(b"<oops").is_none());
        assert_eq!(escape_xml("a<'&\">"), "a&lt;&apos;&amp;&quot;&gt;");
    }
}
