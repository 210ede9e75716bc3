//! XEP-0206 upstream stream framing for a proxying connection manager.
//!
//! In proxy mode the connection manager owns one TCP connection per BOSH
//! session to the XMPP server and speaks an ordinary RFC 6120 client stream on
//! it (XEP-0206 §3, X3-3: the BOSH client never sends `<stream:stream>`
//! itself). This module is the sans-IO framing of that stream:
//!
//! - [`StreamHeader`] writes the opening `<stream:stream>` tag (RFC 6120 §4.7,
//!   XEP-0206 §3 X3-1/X3-2) and [`write_stream_close`] the closing tag (§4.4);
//! - [`StreamFramer`] splits the bytes read from the server, fed in arbitrary
//!   chunks, into [`StreamEvent`]s: the server's stream header, first-level
//!   elements (stanzas, SASL and other negotiation elements), `stream:features`
//!   (forwarded to the client, XEP-0206 §4 X4-1 and §5 X5-4), `stream:error`
//!   (which the session turns into a `remote-stream-error` body carrying the
//!   full element, XEP-0206 §6 X6-1) and the end of the stream (which, like
//!   the connection closing, the session reports as `remote-connection-failed`,
//!   XEP-0124 §17.2). Each element is handed out as a *standalone* element: the
//!   namespace declarations it inherited from the stream header are copied onto
//!   it, so it can be placed in a `<body/>` as is (XEP-0206 §2);
//! - [`StreamFramer::restart`] implements the stream restart over the same TCP
//!   connection (XEP-0206 §5, X5-4);
//! - [`classify_payload`] and [`bounce_undeliverable`] are helpers for the
//!   client-to-server direction (XEP-0206 §2 X2-2) and for stanzas that can no
//!   longer be delivered to the client (XEP-0206 §7, X7-1).
//!
//! The framer follows the h11 model: [`StreamFramer::feed`] only appends bytes;
//! [`StreamFramer::next_event`] returns the next event, or `Ok(None)` when more
//! bytes are needed. Peer errors are sticky: once `next_event` returns an
//! error, it returns the same error forever.
//!
//! ```
//! use bosh_core::xmpp::{StreamEvent, StreamFramer, StreamHeader};
//!
//! let mut out = Vec::new();
//! StreamHeader::new("example.com").write(&mut out).unwrap();
//! // ... write `out` to the server, then feed what it answers:
//! let mut framer = StreamFramer::default();
//! framer.feed(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
//!     xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='example.com' \
//!     version='1.0'><stream:features/><message to='a@example.com'><body>hi</bo");
//! let Some(StreamEvent::Opened(header)) = framer.next_event().unwrap() else { panic!() };
//! assert_eq!(header.id.as_deref(), Some("abc"));
//! let Some(StreamEvent::Features(features)) = framer.next_event().unwrap() else { panic!() };
//! assert_eq!(
//!     &features[..],
//!     b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"
//! );
//! assert_eq!(framer.next_event().unwrap(), None); // the message is incomplete
//! framer.feed(b"dy></message>");
//! let Some(StreamEvent::Stanza(stanza)) = framer.next_event().unwrap() else { panic!() };
//! assert_eq!(
//!     &stanza.bytes[..],
//!     b"<message xmlns='jabber:client' to='a@example.com'><body>hi</body></message>"
//! );
//! ```

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use quick_xml::XmlVersion;
use quick_xml::events::attributes::Attributes;
use quick_xml::events::{BytesRef, Event};
use quick_xml::reader::Reader;

use crate::xml::{
    BadReference, NS_XML, find_invalid_char, is_allowed_ns_decl, is_xml_char, is_xml_space,
    resolve_reference, split_qname, trim_end_space, write_attr, write_prefix_decl,
};

/// The streams namespace, bound to the `stream` prefix (RFC 6120 §4.8.1;
/// XEP-0206 §2 requires it declared on any `<body/>` carrying
/// `stream:features` or `stream:error`).
pub const NS_STREAMS: &str = "http://etherx.jabber.org/streams";

/// The `jabber:client` content namespace (RFC 6120 §4.8.2). Stanzas a BOSH
/// client sends without a namespace are in it (XEP-0206 §2, X2-2).
pub const NS_JABBER_CLIENT: &str = "jabber:client";

/// The `jabber:server` content namespace (RFC 6120 §4.8.2).
pub const NS_JABBER_SERVER: &str = "jabber:server";

/// The namespace of stream error conditions (RFC 6120 §4.9.3).
pub const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";

/// The namespace of stanza error conditions (RFC 6120 §8.3.3).
pub const NS_STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// The closing tag of the stream the connection manager opens with
/// [`StreamHeader`] (RFC 6120 §4.4).
pub const STREAM_CLOSE: &[u8] = b"</stream:stream>";

// ---------------------------------------------------------------------------
// Outgoing stream header
// ---------------------------------------------------------------------------

/// The opening stream header the connection manager sends to the server
/// (RFC 6120 §4.7; XEP-0206 §3 X3-1, X3-2; sent again on restart, §5 X5-4).
///
/// [`write`](Self::write) emits
/// `<?xml version='1.0'?><stream:stream xmlns='jabber:client'
/// xmlns:stream='http://etherx.jabber.org/streams' to='…' [from='…']
/// [xml:lang='…'] [version='…']>`, with every value escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader<'a> {
    /// `to`: the domain of the server (RFC 6120 §4.7.2; the `to` of the BOSH
    /// session creation request, XEP-0124 §7.1).
    pub to: &'a str,
    /// `from`: the client's JID, if known (RFC 6120 §4.7.1; XEP-0206 §5 X5-3
    /// for SASL EXTERNAL).
    pub from: Option<&'a str>,
    /// `xml:lang`: the default language of the stream (RFC 6120 §4.7.4).
    pub lang: Option<&'a str>,
    /// `version`: the client's `xmpp:version` (XEP-0206 §3 X3-1); `None` omits
    /// the attribute (a pre-1.0 stream, RFC 6120 §4.7.5).
    pub version: Option<&'a str>,
}

impl<'a> StreamHeader<'a> {
    /// A header for `to` with `version='1.0'` and neither `from` nor `xml:lang`.
    pub const fn new(to: &'a str) -> Self {
        StreamHeader {
            to,
            from: None,
            lang: None,
            version: Some("1.0"),
        }
    }

    /// Appends the XML declaration and the opening stream tag to `out`
    /// (RFC 6120 §4.7, §11.5: the declaration is optional but harmless).
    ///
    /// Nothing is written if a value contains a character XML 1.0 does not
    /// allow (RFC 6120 §11.1): that is caller misuse.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), HeaderError> {
        check_header_value("to", Some(self.to))?;
        check_header_value("from", self.from)?;
        check_header_value("xml:lang", self.lang)?;
        check_header_value("version", self.version)?;
        out.extend_from_slice(b"<?xml version='1.0'?><stream:stream");
        write_attr("xmlns", NS_JABBER_CLIENT, out);
        write_attr("xmlns:stream", NS_STREAMS, out);
        write_attr("to", self.to, out);
        if let Some(from) = self.from {
            write_attr("from", from, out);
        }
        if let Some(lang) = self.lang {
            write_attr("xml:lang", lang, out);
        }
        if let Some(version) = self.version {
            write_attr("version", version, out);
        }
        out.push(b'>');
        Ok(())
    }
}

/// Appends the closing `</stream:stream>` tag to `out` (RFC 6120 §4.4).
pub fn write_stream_close(out: &mut Vec<u8>) {
    out.extend_from_slice(STREAM_CLOSE);
}

/// Why [`StreamHeader::write`] refused to write a header (caller misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// A value contains a character that XML 1.0 does not allow (XML 1.0
    /// §2.2, RFC 6120 §11.1).
    #[error("stream header attribute `{attribute}` contains a character XML 1.0 does not allow")]
    InvalidChar {
        /// The attribute whose value was refused.
        attribute: &'static str,
    },
}

fn check_header_value(attribute: &'static str, value: Option<&str>) -> Result<(), HeaderError> {
    match value {
        Some(v) if !v.chars().all(is_xml_char) => Err(HeaderError::InvalidChar { attribute }),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Limits, events and errors
// ---------------------------------------------------------------------------

/// Resource limits of a [`StreamFramer`] (RFC 6120 §13.12: entities must
/// guard against oversized stanzas and other resource exhaustion).
///
/// A first-level element over either limit is skipped, not buffered: its
/// bytes are scanned for its end and discarded, and
/// [`StreamEvent::Skipped`] reports it. The stream goes on. Any user of the
/// XMPP server can send an element that is larger or deeper than a
/// connection manager accepts (the servers relay what their own limits
/// allow, and do not limit depth), and ending the stream for it would let
/// anyone end anyone's session. Only a stream header over
/// `max_stanza_bytes` is an error ([`FramingError::TooLarge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerLimits {
    /// Largest first-level element, in bytes as received (before namespace
    /// declarations are added). Also bounds the stream header and the XML
    /// declaration. An element is refused as soon as its buffered prefix
    /// exceeds this, without waiting for it to complete.
    pub max_stanza_bytes: usize,
    /// Deepest element nesting inside a first-level element; the first-level
    /// element itself is depth 1. Deeper elements are skipped (browsers'
    /// XML parsers refuse deep documents: libxml2's default limit is 256).
    pub max_depth: usize,
}

impl FramerLimits {
    /// The default limits: 256 KiB per element and a depth of 64.
    pub const DEFAULT: FramerLimits = FramerLimits {
        max_stanza_bytes: 256 * 1024,
        max_depth: 64,
    };
}

impl Default for FramerLimits {
    fn default() -> Self {
        FramerLimits::DEFAULT
    }
}

/// The server's stream header (RFC 6120 §4.7), as received.
///
/// Attribute values are unescaped and normalized (XML 1.0 §3.3.3); an absent
/// attribute is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IncomingHeader {
    /// `id`: the stream id (RFC 6120 §4.7.3; XEP-0206 §4 X4-3 `authid`).
    pub id: Option<String>,
    /// `from`: the server's domain (RFC 6120 §4.7.1).
    pub from: Option<String>,
    /// `to`: the client's JID or domain (RFC 6120 §4.7.2).
    pub to: Option<String>,
    /// `version`: the stream version (RFC 6120 §4.7.5; XEP-0206 §4
    /// `xmpp:version`).
    pub version: Option<String>,
    /// `xml:lang`: the default language of the stream (RFC 6120 §4.7.4).
    pub lang: Option<String>,
    /// The default namespace declared on the header, normally `jabber:client`
    /// (the content namespace, RFC 6120 §4.8.2).
    pub content_namespace: Option<String>,
}

/// What a first-level element is (RFC 6120 §8: the three stanza kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StanzaKind {
    /// `<message/>` (RFC 6120 §8.2.1).
    Message,
    /// `<presence/>` (RFC 6120 §8.2.2).
    Presence,
    /// `<iq/>` (RFC 6120 §8.2.3).
    Iq,
    /// Any other element, e.g. SASL `<success/>` (RFC 6120 §6.4) or XEP-0198
    /// `<r/>`, or a stanza name in a namespace other than `jabber:client` /
    /// `jabber:server`.
    Other,
}

impl StanzaKind {
    /// The kind of an element from its namespace and local name. `message`,
    /// `presence` and `iq` are stanzas when in `jabber:client`,
    /// `jabber:server`, or in no declared namespace (XEP-0206 §2 X2-2: a
    /// stanza without a namespace is `jabber:client`).
    pub fn of(namespace: Option<&str>, local_name: &str) -> StanzaKind {
        let content = match namespace {
            None => true,
            Some(ns) => ns == NS_JABBER_CLIENT || ns == NS_JABBER_SERVER,
        };
        match local_name {
            "message" if content => StanzaKind::Message,
            "presence" if content => StanzaKind::Presence,
            "iq" if content => StanzaKind::Iq,
            _ => StanzaKind::Other,
        }
    }
}

/// A first-level element of the stream other than `stream:features` and
/// `stream:error`: a stanza (RFC 6120 §8) or a negotiation element such as
/// SASL `<success/>` (RFC 6120 §6) or XEP-0198 `<r/>` (XEP-0206 §2 X2-1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stanza {
    /// Stanza or not, see [`StanzaKind::of`].
    pub kind: StanzaKind,
    /// The local name of the element, e.g. `message` or `success`.
    pub name: String,
    /// The namespace of the element, e.g. `jabber:client` or
    /// `urn:ietf:params:xml:ns:xmpp-sasl`; `None` if in no namespace.
    pub namespace: Option<String>,
    /// The element as a standalone, well-formed XML element, with the
    /// namespace declarations it inherited from the stream header added to
    /// its start tag (XEP-0206 §2). Only namespace declarations are added: the
    /// stream's default `xml:lang` (RFC 6120 §4.7.4) is in
    /// [`IncomingHeader::lang`]. Zero-copy when nothing needs adding.
    pub bytes: Bytes,
}

/// A `<stream:error/>` from the server (RFC 6120 §4.9). The session relays
/// it as `condition='remote-stream-error'` (XEP-0206 §6, X6-1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamError {
    /// The defined condition, e.g. `conflict`: the local name of the first
    /// child in `urn:ietf:params:xml:ns:xmpp-streams` other than `text`
    /// (RFC 6120 §4.9.3). `None` if the server sent none.
    pub condition: Option<String>,
    /// The descriptive `<text/>`, if any (RFC 6120 §4.9.2).
    pub text: Option<String>,
    /// The full element, standalone (with `xmlns:stream` declared), for the
    /// `remote-stream-error` body (XEP-0206 §6, X6-1).
    pub bytes: Bytes,
}

/// One unit of the incoming stream (RFC 6120 §4; XEP-0206 §2-§6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The server opened a stream (RFC 6120 §4.7), first or after a restart
    /// (XEP-0206 §5, X5-4).
    Opened(IncomingHeader),
    /// `<stream:features/>`, standalone; to be forwarded to the client
    /// (RFC 6120 §4.3.2; XEP-0206 §4 X4-1, §5 X5-4).
    Features(Bytes),
    /// A stanza or other first-level element, standalone. An element in the
    /// streams namespace other than `features` and `error` (none is defined
    /// by RFC 6120) also comes here, with [`StanzaKind::Other`], for the
    /// session to decide.
    Stanza(Stanza),
    /// `<stream:error/>` (RFC 6120 §4.9; XEP-0206 §6).
    Error(StreamError),
    /// `</stream:stream>`: the server closed the stream (RFC 6120 §4.4).
    Closed,
    /// A first-level element over the [`FramerLimits`] was skipped (RFC
    /// 6120 §13.12); the stream goes on.
    Skipped {
        /// Offset of the element's start.
        position: u64,
        /// Which limit it exceeded.
        reason: SkipReason,
    },
}

/// Why a first-level element was skipped ([`StreamEvent::Skipped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// Larger than [`FramerLimits::max_stanza_bytes`].
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`FramerLimits::max_depth`].
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::TooLarge { limit } => write!(f, "larger than {limit} bytes"),
            SkipReason::TooDeep { limit } => write!(f, "nested deeper than {limit}"),
        }
    }
}

/// A construct RFC 6120 §11.1 forbids in XMPP streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForbiddenConstruct {
    /// `<!-- … -->`.
    Comment,
    /// `<?target … ?>`, including an XML declaration that is not at the start
    /// of the stream.
    ProcessingInstruction,
    /// `<!DOCTYPE …>` (and with it any entity declaration).
    Doctype,
}

impl fmt::Display for ForbiddenConstruct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForbiddenConstruct::Comment => "a comment",
            ForbiddenConstruct::ProcessingInstruction => "a processing instruction",
            ForbiddenConstruct::Doctype => "a DOCTYPE declaration",
        })
    }
}

/// Why the incoming stream (or a standalone element given to a helper) was
/// refused. Every variant is a peer error; for a [`StreamFramer`] it is
/// terminal (RFC 6120 §4.9.3 maps most of them to `not-well-formed`,
/// `restricted-xml`, `policy-violation` or `unsupported-encoding`).
///
/// `position` is the byte offset in the stream since the framer was created
/// (for the helpers: in the slice given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The bytes are not UTF-8 (RFC 6120 §11.6).
    #[error("invalid UTF-8 at byte {position}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        position: u64,
    },
    /// A character XML 1.0 does not allow, e.g. a C0 control (XML 1.0 §2.2).
    #[error("character not allowed in XML at byte {position}")]
    InvalidChar {
        /// Offset of the character.
        position: u64,
    },
    /// A character reference to a character XML 1.0 does not allow, or a
    /// malformed one (XML 1.0 §4.1, WFC: Legal Character).
    #[error("invalid character reference at byte {position}")]
    InvalidCharRef {
        /// Offset of the construct containing the reference.
        position: u64,
    },
    /// A reference to an entity other than the five predefined ones
    /// (RFC 6120 §11.1, XML 1.0 §4.6).
    #[error("undefined entity `&{name};` at byte {position}")]
    UndefinedEntity {
        /// Offset of the construct containing the reference.
        position: u64,
        /// The entity name.
        name: String,
    },
    /// An end tag that does not match its start tag (XML 1.0 §3, WFC:
    /// Element Type Match), including a stream closed with the wrong name.
    #[error("end tag `</{found}>` at byte {position} does not match `<{expected}>`")]
    MismatchedEndTag {
        /// Offset of the end tag.
        position: u64,
        /// The name of the open element.
        expected: String,
        /// The name in the end tag.
        found: String,
    },
    /// A literal `<` in an attribute value (XML 1.0 §3.1, WFC: No < in
    /// Attribute Values).
    #[error("`<` in an attribute value at byte {position}")]
    LtInAttributeValue {
        /// Offset of the `<`.
        position: u64,
    },
    /// A comment, processing instruction or DOCTYPE (RFC 6120 §11.1).
    #[error("{construct} at byte {position} is not allowed in an XMPP stream")]
    Forbidden {
        /// Offset of the construct's `<`.
        position: u64,
        /// What was found.
        construct: ForbiddenConstruct,
    },
    /// A namespace prefix used without a declaration in scope (Namespaces in
    /// XML 1.0 §5; RFC 6120 §11.2 requires namespace well-formedness).
    #[error("undeclared namespace prefix `{prefix}` at byte {position}")]
    UndeclaredPrefix {
        /// Offset of the tag using the prefix.
        position: u64,
        /// The prefix.
        prefix: String,
    },
    /// The stream did not start with `<stream:stream>` in the streams
    /// namespace (RFC 6120 §4.7, §4.8.1).
    #[error("expected a stream header, found `<{name}>` at byte {position}")]
    UnexpectedRoot {
        /// Offset of the element.
        position: u64,
        /// Its qualified name.
        name: String,
    },
    /// Character data other than whitespace outside first-level elements
    /// (RFC 6120 §4.6.1 allows only whitespace keep-alives there).
    #[error("character data outside first-level elements at byte {position}")]
    UnexpectedText {
        /// Offset of the first non-whitespace character.
        position: u64,
    },
    /// The XML declaration names an encoding other than UTF-8 (RFC 6120
    /// §11.6).
    #[error("unsupported encoding `{encoding}` declared at byte {position}")]
    UnsupportedEncoding {
        /// Offset of the declaration.
        position: u64,
        /// The declared encoding.
        encoding: String,
    },
    /// The stream header exceeds [`FramerLimits::max_stanza_bytes`] (RFC
    /// 6120 §13.12). A first-level element over it is skipped instead
    /// ([`StreamEvent::Skipped`]).
    #[error("element at byte {position} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Offset of the element's start.
        position: u64,
        /// The limit.
        limit: usize,
    },
    /// Anything but whitespace after `</stream:stream>` (RFC 6120 §4.4).
    #[error("data after the end of the stream at byte {position}")]
    DataAfterStreamEnd {
        /// Offset of the data.
        position: u64,
    },
    /// Any other well-formedness error (XML 1.0 §2.1).
    #[error("XML not well-formed at byte {position}: {reason}")]
    NotWellFormed {
        /// Offset at or near the error.
        position: u64,
        /// What is wrong.
        reason: String,
    },
}

impl FramingError {
    fn not_well_formed(position: u64, reason: impl Into<String>) -> Self {
        FramingError::NotWellFormed {
            position,
            reason: reason.into(),
        }
    }
}

// ---------------------------------------------------------------------------
// The framer
// ---------------------------------------------------------------------------

/// Splits the incoming XMPP stream from the server into [`StreamEvent`]s
/// (RFC 6120 §4; XEP-0206 §2-§6), sans-IO.
///
/// Feed the bytes read from the TCP connection with [`feed`](Self::feed), in
/// chunks of any size (a chunk may end in the middle of a tag or of a UTF-8
/// character), then call [`next_event`](Self::next_event) until it returns
/// `Ok(None)`. Before the stream header an XML declaration and whitespace are
/// accepted; between first-level elements whitespace keep-alives (RFC 6120
/// §4.6.1) are skipped. Each element is checked for well-formedness and
/// namespace well-formedness (RFC 6120 §11) and the XMPP restrictions of
/// RFC 6120 §11.1 (no comments, processing instructions, DTDs or undefined
/// entities) before it is returned.
///
/// The work per byte is bounded: the boundary scan resumes where it stopped,
/// and each complete element is validated once.
#[derive(Debug)]
pub struct StreamFramer {
    limits: FramerLimits,
    /// Unconsumed input; `buf[0]` is at stream offset `consumed`.
    buf: BytesMut,
    consumed: u64,
    phase: Phase,
    /// The construct being scanned; it starts at `buf[0]`.
    partial: Option<Partial>,
    /// Namespace context of the current stream header.
    ctx: NsContext,
    header: Option<IncomingHeader>,
    /// Stream offset from which a new stream is expected (see `restart`).
    restart_at: Option<u64>,
    /// A self-closing stream header is reported as `Opened` then `Closed`.
    queued_close: bool,
}

#[derive(Debug, Clone)]
enum Phase {
    /// Expecting the stream header, optionally preceded by an XML declaration.
    Prolog { decl_seen: bool },
    /// Between first-level elements.
    Open,
    /// After `</stream:stream>`.
    Closed,
    /// After a peer error: terminal.
    Failed(FramingError),
}

impl Default for StreamFramer {
    fn default() -> Self {
        StreamFramer::new(FramerLimits::DEFAULT)
    }
}

impl StreamFramer {
    /// A framer expecting a new stream (optional XML declaration, then
    /// `<stream:stream>`), with the given limits.
    pub fn new(limits: FramerLimits) -> Self {
        StreamFramer {
            limits,
            buf: BytesMut::new(),
            consumed: 0,
            phase: Phase::Prolog { decl_seen: false },
            partial: None,
            ctx: NsContext::default(),
            header: None,
            restart_at: None,
            queued_close: false,
        }
    }

    /// The limits this framer enforces.
    pub fn limits(&self) -> FramerLimits {
        self.limits
    }

    /// The header of the current stream, once received (RFC 6120 §4.7).
    /// Cleared when a restart takes effect.
    pub fn header(&self) -> Option<&IncomingHeader> {
        self.header.as_ref()
    }

    /// The error that stopped the framer, if any (sticky).
    pub fn error(&self) -> Option<&FramingError> {
        match &self.phase {
            Phase::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the server has closed the stream (`</stream:stream>`,
    /// RFC 6120 §4.4) and no restart is pending.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed) && self.restart_at.is_none()
    }

    /// Bytes fed but not yet returned as events.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes read from the server. Never parses; see
    /// [`next_event`](Self::next_event). Ignored once the framer has failed.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.phase, Phase::Failed(_)) {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Expects a new stream: the XEP-0206 §5 restart (X5-4), after which the
    /// server sends a new stream header over the same connection, without
    /// closing the old stream.
    ///
    /// Call it *before* writing the new [`StreamHeader`]: every byte fed
    /// before this call belongs to the old stream (the server cannot answer a
    /// header it has not received), so the old stream's elements already fed,
    /// complete or not, are still returned in the old stream's context, and
    /// the framer expects an optional XML declaration and a new
    /// `<stream:stream>` from the first element boundary at or after the
    /// bytes fed so far. Has no effect once the framer has failed.
    pub fn restart(&mut self) {
        if !matches!(self.phase, Phase::Failed(_)) {
            self.restart_at = Some(self.consumed + self.buf.len() as u64);
        }
    }

    /// The next event, `Ok(None)` if more bytes are needed.
    ///
    /// An error is terminal: the buffer is released and every later call
    /// returns the same error.
    #[must_use = "events must be drained until Ok(None)"]
    pub fn next_event(&mut self) -> Result<Option<StreamEvent>, FramingError> {
        if let Phase::Failed(e) = &self.phase {
            return Err(e.clone());
        }
        match self.step() {
            Ok(event) => Ok(event),
            Err(e) => {
                self.phase = Phase::Failed(e.clone());
                self.buf = BytesMut::new();
                self.partial = None;
                self.restart_at = None;
                self.queued_close = false;
                Err(e)
            }
        }
    }

    fn step(&mut self) -> Result<Option<StreamEvent>, FramingError> {
        if self.queued_close {
            self.queued_close = false;
            return Ok(Some(StreamEvent::Closed));
        }
        loop {
            if self.partial.is_none() {
                // At a boundary: skip whitespace keep-alives (RFC 6120 §4.6.1).
                let ws = self.buf.iter().take_while(|b| is_xml_space(**b)).count();
                self.advance(ws);
                if let Some(mark) = self.restart_at
                    && self.consumed >= mark
                {
                    self.begin_new_stream();
                }
                if self.buf.is_empty() {
                    // Nothing unfinished: let the buffer go, so that an idle
                    // stream holds no memory (the elements handed out keep
                    // their bytes alive only as long as they live).
                    if self.buf.capacity() > 0 {
                        self.buf = BytesMut::new();
                    }
                    return Ok(None);
                }
                match self.begin_construct()? {
                    Some(partial) => self.partial = Some(partial),
                    None => return Ok(None),
                }
            }
            let Some(end) = self.scan_partial()? else {
                return Ok(None);
            };
            if let Some(event) = self.complete(end)? {
                return Ok(Some(event));
            }
        }
    }

    fn begin_new_stream(&mut self) {
        self.restart_at = None;
        self.phase = Phase::Prolog { decl_seen: false };
        self.ctx = NsContext::default();
        self.header = None;
    }

    fn advance(&mut self, n: usize) {
        self.buf.advance(n);
        self.consumed += n as u64;
    }

    /// Decides what starts at `buf[0]` (a non-whitespace byte). `Ok(None)`
    /// if more bytes are needed to decide.
    fn begin_construct(&self) -> Result<Option<Partial>, FramingError> {
        let position = self.consumed;
        let Some(&first) = self.buf.first() else {
            return Ok(None);
        };
        let prolog = match self.phase {
            Phase::Prolog { decl_seen } => Some(decl_seen),
            Phase::Open => None,
            Phase::Closed | Phase::Failed(_) => {
                return Err(FramingError::DataAfterStreamEnd { position });
            }
        };
        if first != b'<' {
            return Err(FramingError::UnexpectedText { position });
        }
        let Some(&second) = self.buf.get(1) else {
            return Ok(None);
        };
        match second {
            b'?' if prolog == Some(false) => Ok(Some(Partial::new(Construct::Decl))),
            b'?' => Err(FramingError::Forbidden {
                position,
                construct: ForbiddenConstruct::ProcessingInstruction,
            }),
            b'!' => match classify_bang(&self.buf) {
                Bang::NeedMore => Ok(None),
                Bang::Comment => Err(FramingError::Forbidden {
                    position,
                    construct: ForbiddenConstruct::Comment,
                }),
                Bang::Doctype => Err(FramingError::Forbidden {
                    position,
                    construct: ForbiddenConstruct::Doctype,
                }),
                // A CDATA section is character data.
                Bang::CData => Err(FramingError::UnexpectedText { position }),
                Bang::Invalid => Err(FramingError::not_well_formed(
                    position,
                    "invalid markup after `<!`",
                )),
            },
            b'/' if prolog.is_some() => Err(FramingError::not_well_formed(
                position,
                "end tag before the stream header",
            )),
            b'/' => Ok(Some(Partial::new(Construct::StreamEnd))),
            b if is_name_start_byte(b) => Ok(Some(Partial::new(if prolog.is_some() {
                Construct::Header
            } else {
                Construct::Element
            }))),
            _ => Err(FramingError::not_well_formed(
                position + 1,
                "invalid character after `<`",
            )),
        }
    }

    /// Continues the boundary scan of the construct at `buf[0]`; returns its
    /// end once complete. Enforces the size limit.
    fn scan_partial(&mut self) -> Result<Option<usize>, FramingError> {
        let max = self.limits.max_stanza_bytes;
        let Some(partial) = self.partial.as_mut() else {
            return Ok(None);
        };
        if partial.skip.is_none() {
            let visible = self.buf.len().min(max.saturating_add(1));
            let too_large = FramingError::TooLarge {
                position: self.consumed,
                limit: max,
            };
            let element = partial.construct == Construct::Element;
            let reason = SkipReason::TooLarge { limit: max };
            match scan(
                &self.buf[..visible],
                partial,
                self.limits.max_depth,
                self.consumed,
            )? {
                Some(end) if end > max && element => {
                    if partial.skip.is_none() {
                        partial.start_skip(reason, self.consumed);
                    }
                    return Ok(Some(end));
                }
                Some(end) if end > max => return Err(too_large),
                Some(end) => return Ok(Some(end)),
                // Too deep: skipping from here on.
                None if partial.skip.is_some() => {}
                None if self.buf.len() > max && element => {
                    partial.start_skip(reason, self.consumed);
                }
                None if self.buf.len() > max => return Err(too_large),
                None => return Ok(None),
            }
        }
        // Skipping: scan everything buffered, then let go of what is
        // scanned. Names are not kept, so only a `<` or `<!` waiting to be
        // classified needs its bytes: a skipped element of any size, even
        // a start tag that never ends, holds a few bytes.
        if let Some(end) = scan(&self.buf, partial, usize::MAX, self.consumed)? {
            return Ok(Some(end));
        }
        let keep = match partial.lex {
            Lex::MarkupOpen | Lex::Bang => partial.tag_start,
            _ => partial.pos,
        };
        partial.pos -= keep;
        partial.tag_start = partial.tag_start.saturating_sub(keep);
        self.advance(keep);
        Ok(None)
    }

    /// Handles the complete construct `buf[..end]`.
    fn complete(&mut self, end: usize) -> Result<Option<StreamEvent>, FramingError> {
        let Some(partial) = self.partial.take() else {
            return Ok(None);
        };
        if let Some(reason) = partial.skip {
            self.advance(end);
            return Ok(Some(StreamEvent::Skipped {
                position: partial.skip_start,
                reason,
            }));
        }
        let base = self.consumed;
        let raw = &self.buf[..end];
        match partial.construct {
            Construct::Decl => {
                check_xml_declaration(raw, base)?;
                self.advance(end);
                self.phase = Phase::Prolog { decl_seen: true };
                Ok(None)
            }
            Construct::Header => {
                let text = check_text(raw, base)?;
                let (header, ctx, self_closing) = parse_stream_header(text, base)?;
                self.advance(end);
                self.ctx = ctx;
                self.header = Some(header.clone());
                if self_closing {
                    self.phase = Phase::Closed;
                    self.queued_close = true;
                } else {
                    self.phase = Phase::Open;
                }
                Ok(Some(StreamEvent::Opened(header)))
            }
            Construct::StreamEnd => {
                let text = check_text(raw, base)?;
                let found = text
                    .get(2..text.len().saturating_sub(1))
                    .unwrap_or_default();
                let found = found
                    .get(..trim_end_space(found.as_bytes()))
                    .unwrap_or_default();
                if found != self.ctx.qname {
                    return Err(FramingError::MismatchedEndTag {
                        position: base,
                        expected: self.ctx.qname.clone(),
                        found: found.to_owned(),
                    });
                }
                self.advance(end);
                self.phase = Phase::Closed;
                Ok(Some(StreamEvent::Closed))
            }
            Construct::Element => {
                let text = check_text(raw, base)?;
                let analysis = analyze(text, base, &self.ctx)?;
                let bytes = if analysis.needs.is_empty() {
                    // Nothing to add: hand out the buffered bytes without copying.
                    let bytes = self.buf.split_to(end).freeze();
                    self.consumed += end as u64;
                    bytes
                } else {
                    let bytes = Bytes::from(inject_declarations(
                        raw,
                        analysis.qname_len,
                        &analysis.needs,
                        &self.ctx,
                    ));
                    self.advance(end);
                    bytes
                };
                Ok(Some(analysis.into_event(bytes)))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Boundary scanner
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Construct {
    /// `<?xml …?>` before the stream header.
    Decl,
    /// `<stream:stream …>` (only its start tag).
    Header,
    /// A first-level element.
    Element,
    /// `</stream:stream>`.
    StreamEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Character data inside an element.
    Content,
    /// Just after a `<` inside an element.
    MarkupOpen,
    /// At the `!` of `<!`, waiting for enough bytes to classify it.
    Bang,
    /// Inside a start tag; `quote` is the open quote (0 outside values),
    /// `slash` whether the previous byte was `/`.
    StartTag { quote: u8, slash: bool },
    /// Just after the closing quote of an attribute value: white space, `/`
    /// or `>` must follow (XML 1.0 §3.1 `STag`: `(S Attribute)*`).
    AfterValue,
    /// Inside an end tag.
    EndTag,
    /// Inside `<![CDATA[`, counting trailing `]`.
    CData { brackets: u8 },
    /// Inside `<?…`, `question` if the previous byte was `?`.
    Pi { question: bool },
}

impl Lex {
    /// Inside a start tag, outside attribute values.
    const IN_TAG: Lex = Lex::StartTag {
        quote: 0,
        slash: false,
    };
}

#[derive(Debug, Clone)]
struct Partial {
    construct: Construct,
    lex: Lex,
    /// Next byte to scan, relative to the construct's start.
    pos: usize,
    /// Name spans (start, length) of the open elements, relative to the
    /// construct's start: checks end tags as soon as they arrive.
    open: Vec<(usize, usize)>,
    /// `]` seen at the end of character data (for `]]>`).
    brackets: u8,
    /// Start of the tag being scanned.
    tag_start: usize,
    /// End of the first-level element's start tag.
    top_tag_end: usize,
    top_self_closing: bool,
    /// Set once the element is being skipped: its end is found by counting
    /// `depth`, names are not kept, scanned bytes are discarded.
    skip: Option<SkipReason>,
    /// Open elements while skipping.
    depth: usize,
    /// Stream offset of the element being skipped.
    skip_start: u64,
}

impl Partial {
    /// While skipping, a tag ended just before `end` with `depth` elements
    /// open: the skipped element's end when none is, else back to content.
    fn skipped_tag_closed(&mut self, end: usize) -> Option<usize> {
        if self.depth == 0 {
            self.pos = end;
            return Some(end);
        }
        self.lex = Lex::Content;
        self.brackets = 0;
        None
    }

    /// Turns this element's scan into a skip, `depth` elements open.
    fn start_skip(&mut self, reason: SkipReason, start: u64) {
        self.skip = Some(reason);
        self.depth = self.open.len();
        self.open = Vec::new();
        self.skip_start = start;
    }

    /// A construct starting with `<` followed by a byte already classified.
    fn new(construct: Construct) -> Self {
        let lex = match construct {
            Construct::Decl => Lex::Pi { question: false },
            Construct::StreamEnd => Lex::EndTag,
            Construct::Header | Construct::Element => Lex::IN_TAG,
        };
        Partial {
            construct,
            lex,
            pos: 2,
            open: Vec::new(),
            brackets: 0,
            tag_start: 0,
            top_tag_end: 0,
            top_self_closing: false,
            skip: None,
            depth: 0,
            skip_start: 0,
        }
    }
}

enum Bang {
    NeedMore,
    Comment,
    CData,
    Doctype,
    Invalid,
}

/// Classifies markup starting with `<!`.
fn classify_bang(bytes: &[u8]) -> Bang {
    let candidates: [(&[u8], Bang); 3] = [
        (b"<!--", Bang::Comment),
        (b"<![CDATA[", Bang::CData),
        (b"<!DOCTYPE", Bang::Doctype),
    ];
    let mut need_more = false;
    for (pattern, kind) in candidates {
        if bytes.len() >= pattern.len() {
            if bytes.starts_with(pattern) {
                return kind;
            }
        } else if pattern.starts_with(bytes) {
            need_more = true;
        }
    }
    if need_more {
        Bang::NeedMore
    } else {
        Bang::Invalid
    }
}

/// Scans `buf` from `p.pos`, tracking tags, quotes, CDATA and open elements, until
/// the construct ends (returns its exclusive end) or the bytes run out
/// (`Ok(None)`, state saved in `p`). `base` is the stream offset of `buf[0]`.
fn scan(
    buf: &[u8],
    p: &mut Partial,
    max_depth: usize,
    base: u64,
) -> Result<Option<usize>, FramingError> {
    let at = |i: usize| base + i as u64;
    let mut i = p.pos;
    while i < buf.len() {
        let b = buf[i];
        match p.lex {
            Lex::Content => match b {
                b'<' => {
                    p.lex = Lex::MarkupOpen;
                    p.tag_start = i;
                    p.brackets = 0;
                }
                b']' => p.brackets = (p.brackets + 1).min(2),
                b'>' if p.brackets == 2 => {
                    return Err(FramingError::not_well_formed(
                        at(i),
                        "`]]>` in character data",
                    ));
                }
                _ => p.brackets = 0,
            },
            Lex::MarkupOpen => match b {
                b'/' => p.lex = Lex::EndTag,
                b'?' => {
                    return Err(FramingError::Forbidden {
                        position: at(p.tag_start),
                        construct: ForbiddenConstruct::ProcessingInstruction,
                    });
                }
                b'!' => {
                    // Reprocess this byte once enough lookahead is buffered.
                    p.lex = Lex::Bang;
                    continue;
                }
                _ if is_name_start_byte(b) => p.lex = Lex::IN_TAG,
                _ => {
                    return Err(FramingError::not_well_formed(
                        at(i),
                        "invalid character after `<`",
                    ));
                }
            },
            Lex::Bang => match classify_bang(buf.get(p.tag_start..).unwrap_or_default()) {
                Bang::NeedMore => break,
                Bang::CData => {
                    p.lex = Lex::CData { brackets: 0 };
                    i = p.tag_start + b"<![CDATA[".len();
                    continue;
                }
                Bang::Comment => {
                    return Err(FramingError::Forbidden {
                        position: at(p.tag_start),
                        construct: ForbiddenConstruct::Comment,
                    });
                }
                Bang::Doctype => {
                    return Err(FramingError::Forbidden {
                        position: at(p.tag_start),
                        construct: ForbiddenConstruct::Doctype,
                    });
                }
                Bang::Invalid => {
                    return Err(FramingError::not_well_formed(
                        at(p.tag_start),
                        "invalid markup after `<!`",
                    ));
                }
            },
            Lex::StartTag { quote, slash } => {
                if quote != 0 {
                    if b == quote {
                        p.lex = Lex::AfterValue;
                    } else if b == b'<' {
                        return Err(FramingError::LtInAttributeValue { position: at(i) });
                    }
                } else {
                    match b {
                        b'\'' | b'"' => {
                            p.lex = Lex::StartTag {
                                quote: b,
                                slash: false,
                            }
                        }
                        b'<' => {
                            return Err(FramingError::not_well_formed(at(i), "`<` inside a tag"));
                        }
                        b'>' => {
                            if p.construct != Construct::Element {
                                // The stream header: only its start tag.
                                p.top_tag_end = i + 1;
                                p.top_self_closing = slash;
                                p.pos = i + 1;
                                return Ok(Some(i + 1));
                            }
                            if p.skip.is_none() && p.open.len() >= max_depth {
                                p.start_skip(SkipReason::TooDeep { limit: max_depth }, base);
                            }
                            if p.skip.is_some() {
                                if !slash {
                                    p.depth += 1;
                                }
                                if let Some(end) = p.skipped_tag_closed(i + 1) {
                                    return Ok(Some(end));
                                }
                                i += 1;
                                continue;
                            }
                            if p.open.is_empty() {
                                p.top_tag_end = i + 1;
                                p.top_self_closing = slash;
                                if slash {
                                    p.pos = i + 1;
                                    return Ok(Some(i + 1));
                                }
                            }
                            if !slash {
                                let name_start = p.tag_start + 1;
                                let tag = buf.get(name_start..i).unwrap_or_default();
                                let name_len = tag
                                    .iter()
                                    .position(|&c| is_xml_space(c) || c == b'/')
                                    .unwrap_or(tag.len());
                                p.open.push((name_start, name_len));
                            }
                            p.lex = Lex::Content;
                            p.brackets = 0;
                        }
                        _ => {
                            p.lex = Lex::StartTag {
                                quote: 0,
                                slash: b == b'/',
                            }
                        }
                    }
                }
            }
            Lex::AfterValue => {
                if !(is_xml_space(b) || b == b'/' || b == b'>') {
                    return Err(FramingError::not_well_formed(
                        at(i),
                        "no white space before an attribute",
                    ));
                }
                // Reprocess this byte inside the tag.
                p.lex = Lex::IN_TAG;
                continue;
            }
            Lex::EndTag => match b {
                b'>' => {
                    if p.construct == Construct::StreamEnd {
                        // Checked against the stream header by the caller.
                        p.pos = i + 1;
                        return Ok(Some(i + 1));
                    }
                    if p.skip.is_some() {
                        // Names are not kept while skipping: only the depth.
                        p.depth = p.depth.saturating_sub(1);
                        if let Some(end) = p.skipped_tag_closed(i + 1) {
                            return Ok(Some(end));
                        }
                        i += 1;
                        continue;
                    }
                    let found = buf.get(p.tag_start + 2..i).unwrap_or_default();
                    let found = found.get(..trim_end_space(found)).unwrap_or_default();
                    let (start, len) = p.open.pop().unwrap_or_default();
                    let expected = buf.get(start..start + len).unwrap_or_default();
                    if found != expected {
                        return Err(FramingError::MismatchedEndTag {
                            position: at(p.tag_start),
                            expected: String::from_utf8_lossy(expected).into_owned(),
                            found: String::from_utf8_lossy(found).into_owned(),
                        });
                    }
                    if p.open.is_empty() {
                        p.pos = i + 1;
                        return Ok(Some(i + 1));
                    }
                    p.lex = Lex::Content;
                    p.brackets = 0;
                }
                b'<' | b'\'' | b'"' => {
                    return Err(FramingError::not_well_formed(
                        at(i),
                        "unexpected character in an end tag",
                    ));
                }
                _ => {}
            },
            Lex::CData { brackets } => {
                p.lex = match b {
                    b']' => Lex::CData {
                        brackets: (brackets + 1).min(2),
                    },
                    b'>' if brackets == 2 => Lex::Content,
                    _ => Lex::CData { brackets: 0 },
                };
                if p.lex == Lex::Content {
                    p.brackets = 0;
                }
            }
            Lex::Pi { question } => {
                if question && b == b'>' {
                    p.pos = i + 1;
                    return Ok(Some(i + 1));
                }
                p.lex = Lex::Pi {
                    question: b == b'?',
                };
            }
        }
        i += 1;
    }
    p.pos = i;
    Ok(None)
}

// ---------------------------------------------------------------------------
// Validation and namespace analysis
// ---------------------------------------------------------------------------

/// Namespace declarations in force at stream level (from the stream header).
#[derive(Debug, Clone, Default)]
struct NsContext {
    /// Qualified name of the stream element, e.g. `stream:stream`.
    qname: String,
    /// The header's default namespace (`None` if undeclared or empty).
    default_ns: Option<String>,
    /// The header's `xmlns:prefix` declarations.
    prefixes: Vec<(String, String)>,
}

/// Declarations from the stream context an element relies on.
#[derive(Debug, Default)]
struct Needs {
    default_ns: bool,
    /// Indices into `NsContext::prefixes`.
    prefixes: Vec<usize>,
}

impl Needs {
    fn is_empty(&self) -> bool {
        !self.default_ns && self.prefixes.is_empty()
    }
}

/// Declarations made on one element.
#[derive(Debug, Default)]
struct Scope {
    default_ns: Option<String>,
    prefixes: Vec<(String, String)>,
}

/// What the attributes of one start tag declare and use.
#[derive(Debug, Default)]
struct TagInfo {
    /// `xmlns='…'` (`Some("")` un-declares).
    default_ns: Option<String>,
    /// `xmlns:prefix='…'`.
    prefixes: Vec<(String, String)>,
    /// Prefixes of the other attributes' names (other than `xml`).
    attr_prefixes: Vec<String>,
    /// The other attributes (qualified name, normalized value), if kept.
    attrs: Vec<(String, String)>,
}

impl TagInfo {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads and checks the attributes of one start tag (XML 1.0 §3.1, WFC:
/// Unique Att Spec; §3.3.3 normalization; RFC 6120 §11.1 entities).
fn read_tag(attrs: Attributes<'_>, position: u64, keep: bool) -> Result<TagInfo, FramingError> {
    let mut info = TagInfo::default();
    for attr in attrs {
        let attr = attr.map_err(|e| {
            FramingError::not_well_formed(position, format!("malformed attribute: {e}"))
        })?;
        let key = attr.key.0;
        let Some((prefix, _)) = split_qname(key) else {
            return Err(FramingError::not_well_formed(
                position,
                format!("invalid attribute name `{key}`"),
            ));
        };
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| map_xml_error(e, position))?;
        if let std::borrow::Cow::Owned(resolved) = &value {
            // Raw characters were checked already; these came from references.
            if !resolved.chars().all(is_xml_char) {
                return Err(FramingError::InvalidCharRef { position });
            }
        }
        if key == "xmlns" {
            if !is_allowed_ns_decl(None, &value) {
                return Err(FramingError::not_well_formed(
                    position,
                    "a reserved namespace as the default one",
                ));
            }
            info.default_ns = Some(value.into_owned());
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(FramingError::not_well_formed(
                    position,
                    format!("empty namespace name for prefix `{prefix}`"),
                ));
            }
            // Namespaces in XML 1.0 §3: `xmlns` is never declared, and `xml`
            // is bound to its namespace and nothing else is (the body
            // codec refuses these too; found by the `stream_framer` fuzz
            // target).
            if !is_allowed_ns_decl(Some(prefix), &value) {
                return Err(FramingError::not_well_formed(
                    position,
                    format!("invalid declaration of the prefix `{prefix}`"),
                ));
            }
            info.prefixes.push((prefix.to_owned(), value.into_owned()));
        } else {
            if let Some(prefix) = prefix
                && prefix != "xml"
            {
                info.attr_prefixes.push(prefix.to_owned());
            }
            if keep {
                info.attrs.push((key.to_owned(), value.into_owned()));
            }
        }
    }
    Ok(info)
}

/// Resolves a prefix (`None`: the default namespace) of a name used inside a
/// first-level element; records which stream-level declarations it needs.
fn resolve<'a>(
    prefix: Option<&str>,
    scopes: &'a [Scope],
    ctx: &'a NsContext,
    needs: &mut Needs,
    position: u64,
) -> Result<Option<&'a str>, FramingError> {
    let non_empty = |ns: &'a str| if ns.is_empty() { None } else { Some(ns) };
    match prefix {
        None => {
            if let Some(ns) = scopes.iter().rev().find_map(|s| s.default_ns.as_deref()) {
                return Ok(non_empty(ns));
            }
            if ctx.default_ns.is_some() {
                needs.default_ns = true;
            }
            Ok(ctx.default_ns.as_deref())
        }
        Some("xml") => Ok(Some(NS_XML)),
        Some(prefix) => {
            let own = scopes.iter().rev().find_map(|s| {
                s.prefixes
                    .iter()
                    .find(|(p, _)| p == prefix)
                    .map(|(_, ns)| ns.as_str())
            });
            if let Some(ns) = own {
                return Ok(Some(ns));
            }
            if let Some(index) = ctx.prefixes.iter().position(|(p, _)| p == prefix) {
                if !needs.prefixes.contains(&index) {
                    needs.prefixes.push(index);
                }
                return Ok(ctx.prefixes.get(index).map(|(_, ns)| ns.as_str()));
            }
            Err(FramingError::UndeclaredPrefix {
                position,
                prefix: prefix.to_owned(),
            })
        }
    }
}

/// The result of validating one complete first-level element.
#[derive(Debug)]
struct Analysis {
    /// Length of the first-level element's qualified name.
    qname_len: usize,
    local: String,
    namespace: Option<String>,
    needs: Needs,
    /// For `stream:error`: the condition and text.
    condition: Option<String>,
    text: Option<String>,
}

impl Analysis {
    fn into_event(self, bytes: Bytes) -> StreamEvent {
        if self.namespace.as_deref() == Some(NS_STREAMS) {
            match self.local.as_str() {
                "features" => return StreamEvent::Features(bytes),
                "error" => {
                    return StreamEvent::Error(StreamError {
                        condition: self.condition,
                        text: self.text,
                        bytes,
                    });
                }
                _ => {}
            }
        }
        StreamEvent::Stanza(Stanza {
            kind: StanzaKind::of(self.namespace.as_deref(), &self.local),
            name: self.local,
            namespace: self.namespace,
            bytes,
        })
    }
}

/// Validates one complete element (`text` holds exactly the element, as the
/// scanner delimited it) with quick-xml: matching end tags, attributes,
/// references (RFC 6120 §11.1) and namespace well-formedness (§11.2), and
/// finds which stream-level declarations it relies on.
fn analyze(text: &str, base: u64, ctx: &NsContext) -> Result<Analysis, FramingError> {
    let mut reader = Reader::from_str(text);
    let mut scopes: Vec<Scope> = Vec::new();
    let mut needs = Needs::default();
    let mut top: Option<(usize, String, Option<String>)> = None;
    let mut is_stream_error = false;
    let mut condition: Option<String> = None;
    let mut error_text: Option<String> = None;
    let mut in_text = false;
    loop {
        let position = base + reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| map_xml_error(e, base + reader.error_position()))?;
        let (tag, empty) = match event {
            Event::Start(tag) => (tag, false),
            Event::Empty(tag) => (tag, true),
            Event::End(_) => {
                if in_text && scopes.len() == 2 {
                    in_text = false;
                }
                scopes.pop();
                continue;
            }
            Event::Text(t) => {
                if in_text && scopes.len() == 2 {
                    error_text
                        .get_or_insert_with(String::new)
                        .push_str(&t.xml10_content());
                }
                continue;
            }
            Event::CData(c) => {
                if in_text && scopes.len() == 2 {
                    error_text
                        .get_or_insert_with(String::new)
                        .push_str(&c.xml10_content());
                }
                continue;
            }
            Event::GeneralRef(r) => {
                let c = reference_char(&r, position)?;
                if in_text && scopes.len() == 2 {
                    error_text.get_or_insert_with(String::new).push(c);
                }
                continue;
            }
            Event::Comment(_) => {
                return Err(FramingError::Forbidden {
                    position,
                    construct: ForbiddenConstruct::Comment,
                });
            }
            Event::PI(_) | Event::Decl(_) => {
                return Err(FramingError::Forbidden {
                    position,
                    construct: ForbiddenConstruct::ProcessingInstruction,
                });
            }
            Event::DocType(_) => {
                return Err(FramingError::Forbidden {
                    position,
                    construct: ForbiddenConstruct::Doctype,
                });
            }
            Event::Eof => break,
        };
        let qname = tag.name().0;
        let Some((prefix, local)) = split_qname(qname) else {
            return Err(FramingError::not_well_formed(
                position,
                format!("invalid element name `{qname}`"),
            ));
        };
        let info = read_tag(tag.attributes(), position, false)?;
        scopes.push(Scope {
            default_ns: info.default_ns,
            prefixes: info.prefixes,
        });
        for prefix in &info.attr_prefixes {
            resolve(Some(prefix), &scopes, ctx, &mut needs, position)?;
        }
        let namespace = resolve(prefix, &scopes, ctx, &mut needs, position)?;
        match scopes.len() {
            1 => {
                is_stream_error = namespace == Some(NS_STREAMS) && local == "error";
                top = Some((qname.len(), local.to_owned(), namespace.map(str::to_owned)));
            }
            2 if is_stream_error && namespace == Some(NS_STREAM_ERRORS) => {
                if local == "text" {
                    error_text.get_or_insert_with(String::new);
                    in_text = !empty;
                } else if condition.is_none() {
                    condition = Some(local.to_owned());
                }
            }
            _ => {}
        }
        if empty {
            scopes.pop();
        }
    }
    let Some((qname_len, local, namespace)) = top else {
        return Err(FramingError::not_well_formed(base, "no element"));
    };
    Ok(Analysis {
        qname_len,
        local,
        namespace,
        needs,
        condition,
        text: error_text,
    })
}

/// Copies `raw` (one element) adding the needed stream-level declarations
/// right after its name.
fn inject_declarations(raw: &[u8], qname_len: usize, needs: &Needs, ctx: &NsContext) -> Vec<u8> {
    let split = (1 + qname_len).min(raw.len());
    let mut out = Vec::with_capacity(raw.len() + 64);
    out.extend_from_slice(&raw[..split]);
    if needs.default_ns
        && let Some(ns) = &ctx.default_ns
    {
        write_attr("xmlns", ns, &mut out);
    }
    for &index in &needs.prefixes {
        if let Some((prefix, ns)) = ctx.prefixes.get(index) {
            write_prefix_decl(prefix, ns, &mut out);
        }
    }
    out.extend_from_slice(&raw[split..]);
    out
}

/// Resolves `&name;` / `&#…;` in character data (RFC 6120 §11.1: only the
/// five predefined entities; XML 1.0 §4.1 WFC: Legal Character).
fn reference_char(r: &BytesRef<'_>, position: u64) -> Result<char, FramingError> {
    resolve_reference(r).map_err(|e| match e {
        BadReference::CharRef => FramingError::InvalidCharRef { position },
        BadReference::UndefinedEntity => FramingError::UndefinedEntity {
            position,
            name: (**r).to_owned(),
        },
    })
}

/// Maps a quick-xml error to ours (no dependency type leaks out).
fn map_xml_error(e: quick_xml::Error, position: u64) -> FramingError {
    use quick_xml::errors::IllFormedError;
    use quick_xml::escape::EscapeError;
    match e {
        quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            FramingError::MismatchedEndTag {
                position,
                expected,
                found,
            }
        }
        quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
            FramingError::UndefinedEntity { position, name }
        }
        quick_xml::Error::Escape(EscapeError::InvalidCharRef(_)) => {
            FramingError::InvalidCharRef { position }
        }
        other => FramingError::not_well_formed(position, other.to_string()),
    }
}

/// Checks UTF-8 (RFC 6120 §11.6) and XML 1.0 characters (§2.2).
fn check_text(raw: &[u8], base: u64) -> Result<&str, FramingError> {
    let text = std::str::from_utf8(raw).map_err(|e| FramingError::InvalidUtf8 {
        position: base + e.valid_up_to() as u64,
    })?;
    match find_invalid_char(raw) {
        Some(i) => Err(FramingError::InvalidChar {
            position: base + i as u64,
        }),
        None => Ok(text),
    }
}

/// Checks the XML declaration (XML 1.0 §2.8) and its encoding (RFC 6120
/// §11.6: UTF-8 only). Any other processing instruction is forbidden
/// (RFC 6120 §11.1).
fn check_xml_declaration(raw: &[u8], base: u64) -> Result<(), FramingError> {
    let text = check_text(raw, base)?;
    let body = text.get(2..).unwrap_or_default();
    let target_len = body
        .bytes()
        .position(|b| is_xml_space(b) || b == b'?')
        .unwrap_or(body.len());
    if body.get(..target_len) != Some("xml") {
        return Err(FramingError::Forbidden {
            position: base,
            construct: ForbiddenConstruct::ProcessingInstruction,
        });
    }
    let mut reader = Reader::from_str(text);
    match reader.read_event() {
        Ok(Event::Decl(decl)) => {
            let version = decl.version().map_err(|e| map_xml_error(e, base))?;
            if !version.starts_with("1.") {
                return Err(FramingError::not_well_formed(
                    base,
                    format!("unsupported XML version `{version}`"),
                ));
            }
            if let Some(encoding) = decl.encoding() {
                let encoding = encoding.map_err(|e| {
                    FramingError::not_well_formed(base, format!("malformed XML declaration: {e}"))
                })?;
                if !encoding.eq_ignore_ascii_case("utf-8") {
                    return Err(FramingError::UnsupportedEncoding {
                        position: base,
                        encoding: encoding.into_owned(),
                    });
                }
            }
            Ok(())
        }
        Ok(_) => Err(FramingError::not_well_formed(
            base,
            "malformed XML declaration",
        )),
        Err(e) => Err(map_xml_error(e, base)),
    }
}

/// A start tag parsed on its own (`<name attr='…'>` or `<name …/>`).
#[derive(Debug)]
struct ParsedTag<'a> {
    qname: &'a str,
    prefix: Option<&'a str>,
    local: &'a str,
    self_closing: bool,
    info: TagInfo,
}

impl ParsedTag<'_> {
    /// The namespace of the element, resolved with the tag's own
    /// declarations only (a standalone element).
    fn namespace(&self, position: u64) -> Result<Option<String>, FramingError> {
        match self.prefix {
            None => Ok(self.info.default_ns.clone().filter(|ns| !ns.is_empty())),
            Some("xml") => Ok(Some(NS_XML.to_owned())),
            Some(prefix) => self
                .info
                .prefixes
                .iter()
                .find(|(p, _)| p == prefix)
                .map(|(_, ns)| Some(ns.clone()))
                .ok_or_else(|| FramingError::UndeclaredPrefix {
                    position,
                    prefix: prefix.to_owned(),
                }),
        }
    }

    /// Checks that attribute prefixes are declared on the tag itself.
    fn check_attr_prefixes(&self, position: u64) -> Result<(), FramingError> {
        for prefix in &self.info.attr_prefixes {
            if !self.info.prefixes.iter().any(|(p, _)| p == prefix) {
                return Err(FramingError::UndeclaredPrefix {
                    position,
                    prefix: prefix.clone(),
                });
            }
        }
        Ok(())
    }
}

fn parse_start_tag(text: &str, position: u64) -> Result<ParsedTag<'_>, FramingError> {
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .ok_or_else(|| FramingError::not_well_formed(position, "expected a start tag"))?;
    let (inner, self_closing) = match inner.strip_suffix('/') {
        Some(inner) => (inner, true),
        None => (inner, false),
    };
    let name_len = inner.bytes().position(is_xml_space).unwrap_or(inner.len());
    let qname = inner.get(..name_len).unwrap_or_default();
    let Some((prefix, local)) = split_qname(qname) else {
        return Err(FramingError::not_well_formed(
            position,
            format!("invalid element name `{qname}`"),
        ));
    };
    let info = read_tag(Attributes::new(inner, name_len), position, true)?;
    Ok(ParsedTag {
        qname,
        prefix,
        local,
        self_closing,
        info,
    })
}

/// Parses the server's `<stream:stream>` start tag (RFC 6120 §4.7, §4.8).
fn parse_stream_header(
    text: &str,
    base: u64,
) -> Result<(IncomingHeader, NsContext, bool), FramingError> {
    let tag = parse_start_tag(text, base)?;
    let local = tag.local;
    let namespace = match tag.namespace(base) {
        Ok(ns) => ns,
        Err(FramingError::UndeclaredPrefix { .. }) => None,
        Err(e) => return Err(e),
    };
    if local != "stream" || namespace.as_deref() != Some(NS_STREAMS) {
        return Err(FramingError::UnexpectedRoot {
            position: base,
            name: tag.qname.to_owned(),
        });
    }
    tag.check_attr_prefixes(base)?;
    let get = |name: &str| tag.info.attr(name).map(str::to_owned);
    let content_namespace = tag.info.default_ns.clone().filter(|ns| !ns.is_empty());
    let header = IncomingHeader {
        id: get("id"),
        from: get("from"),
        to: get("to"),
        version: get("version"),
        lang: get("xml:lang"),
        content_namespace: content_namespace.clone(),
    };
    let ctx = NsContext {
        qname: tag.qname.to_owned(),
        default_ns: content_namespace,
        prefixes: tag.info.prefixes,
    };
    Ok((header, ctx, tag.self_closing))
}

// ---------------------------------------------------------------------------
// Helpers for the client-to-server direction and undeliverable stanzas
// ---------------------------------------------------------------------------

/// What a standalone payload element from a BOSH client is (XEP-0206 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PayloadInfo {
    /// Stanza or not (RFC 6120 §8), see [`StanzaKind::of`].
    pub kind: StanzaKind,
    /// The local name, e.g. `message`.
    pub name: String,
    /// The namespace declared on the element itself (by `xmlns` or its
    /// prefix); `None` if it declares none, in which case it is
    /// `jabber:client` (XEP-0206 §2 X2-2).
    pub namespace: Option<String>,
    /// The `type` attribute (RFC 6120 §8.1.4).
    pub stanza_type: Option<String>,
    /// The `id` attribute (RFC 6120 §8.1.3).
    pub id: Option<String>,
}

impl PayloadInfo {
    /// Whether the element declares no namespace, so that it is in
    /// `jabber:client` by XEP-0206 §2 X2-2. Sent as is over a stream opened
    /// by [`StreamHeader`] (whose default namespace is `jabber:client`), it is
    /// read as `jabber:client` by the server.
    pub fn lacks_namespace(&self) -> bool {
        self.namespace.is_none()
    }

    /// Whether the element is in `jabber:client`, declared or implied
    /// (XEP-0206 §2 X2-1 (c), X2-2).
    pub fn is_jabber_client(&self) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == NS_JABBER_CLIENT)
    }
}

/// Classifies one standalone payload element (a child of a client's
/// `<body/>`) by its start tag: kind, name, namespace (XEP-0206 §2 X2-1,
/// X2-2), `type` and `id`.
///
/// Only the start tag is read (leading and trailing whitespace is ignored);
/// the `<body/>` parser checks the element's well-formedness. A prefix not
/// declared on the start tag itself is an error.
pub fn classify_payload(element: &[u8]) -> Result<PayloadInfo, FramingError> {
    let (element, offset) = trim_xml_ws(element);
    start_check(element, offset)?;
    let mut partial = Partial::new(Construct::Header);
    let Some(end) = scan(element, &mut partial, usize::MAX, offset)? else {
        return Err(FramingError::not_well_formed(
            offset,
            "incomplete start tag",
        ));
    };
    let text = check_text(&element[..end], offset)?;
    let tag = parse_start_tag(text, offset)?;
    let namespace = tag.namespace(offset)?;
    tag.check_attr_prefixes(offset)?;
    let name = tag.local.to_owned();
    Ok(PayloadInfo {
        kind: StanzaKind::of(namespace.as_deref(), &name),
        name,
        namespace,
        stanza_type: tag.info.attr("type").map(str::to_owned),
        id: tag.info.attr("id").map(str::to_owned),
    })
}

/// Builds the error reply for a stanza that can no longer be delivered to
/// the client, e.g. because its session is gone (XEP-0206 §7 X7-1,
/// following RFC 6121 §8.5.2 / §11.1):
///
/// - `iq` of type `get` or `set`: `<iq type='error'>` with `service-unavailable`
///   (error type `cancel`, RFC 6120 §8.3.3.19);
/// - `message` of type `normal` (or none), `chat` or another unknown type:
///   `<message type='error'>` with `recipient-unavailable` (error type
///   `wait`, as RFC 6120 §8.3.3.13 recommends: the recipient may come back,
///   and the server may store the message offline, XEP-0206 §7 X7-2);
/// - `message` of type `groupchat`: `service-unavailable` (error type
///   `cancel`), and of type `headline`: dropped silently, as a server does
///   for an unavailable recipient (RFC 6121 §8.5.2.1.1, §8.5.3.2.1; a
///   bounced pubsub notification can cost the user the subscription);
/// - anything else, in particular `presence` (dropped silently), `iq` results
///   and errors, and error stanzas of any kind (never bounce an error, so two
///   entities cannot loop): `Ok(None)`.
///
/// The reply swaps `to` and `from`, keeps `id` and `xml:lang`, keeps the
/// element's namespace declarations (adding `xmlns='jabber:client'` if it has
/// none, X2-2), includes the original child elements so the sender (or the
/// server's offline storage) can use them (RFC 6120 §8.3.1 allows it), and
/// appends the `<error/>` child (RFC 6120 §8.3.2). The input must be one
/// standalone, well-formed element (whitespace around it is ignored); it is
/// fully validated, with the default [`FramerLimits::max_depth`].
pub fn bounce_undeliverable(stanza: &[u8]) -> Result<Option<Vec<u8>>, FramingError> {
    let (element, offset) = trim_xml_ws(stanza);
    start_check(element, offset)?;
    let mut partial = Partial::new(Construct::Element);
    match scan(
        element,
        &mut partial,
        FramerLimits::DEFAULT.max_depth,
        offset,
    )? {
        Some(end) if end == element.len() => {}
        Some(end) => {
            return Err(FramingError::not_well_formed(
                offset + end as u64,
                "data after the element",
            ));
        }
        None => {
            return Err(FramingError::not_well_formed(offset, "incomplete element"));
        }
    }
    let text = check_text(element, offset)?;
    let analysis = analyze(text, offset, &NsContext::default())?;
    let kind = StanzaKind::of(analysis.namespace.as_deref(), &analysis.local);
    let tag_text = text.get(..partial.top_tag_end).unwrap_or_default();
    let tag = parse_start_tag(tag_text, offset)?;
    let stanza_type = tag.info.attr("type");
    let (condition, error_type) = match kind {
        StanzaKind::Iq if matches!(stanza_type, Some("get" | "set")) => {
            ("service-unavailable", "cancel")
        }
        // RFC 6121 §8.5.2.1.1, §8.5.3.2.1: a headline is ignored, a
        // groupchat message is `service-unavailable`.
        StanzaKind::Message if stanza_type == Some("headline") => return Ok(None),
        StanzaKind::Message if stanza_type == Some("groupchat") => {
            ("service-unavailable", "cancel")
        }
        StanzaKind::Message if stanza_type != Some("error") => ("recipient-unavailable", "wait"),
        _ => return Ok(None),
    };
    let prefix = tag.prefix;
    let mut out = Vec::with_capacity(element.len() + 192);
    out.push(b'<');
    out.extend_from_slice(tag.qname.as_bytes());
    match (&tag.info.default_ns, prefix) {
        (Some(ns), _) => write_attr("xmlns", ns, &mut out),
        (None, None) => write_attr("xmlns", NS_JABBER_CLIENT, &mut out),
        (None, Some(_)) => {}
    }
    for (p, ns) in &tag.info.prefixes {
        write_prefix_decl(p, ns, &mut out);
    }
    write_attr("type", "error", &mut out);
    if let Some(id) = tag.info.attr("id") {
        write_attr("id", id, &mut out);
    }
    if let Some(to) = tag.info.attr("to") {
        write_attr("from", to, &mut out);
    }
    if let Some(from) = tag.info.attr("from") {
        write_attr("to", from, &mut out);
    }
    if let Some(lang) = tag.info.attr("xml:lang") {
        write_attr("xml:lang", lang, &mut out);
    }
    out.push(b'>');
    if !tag.self_closing {
        let end_tag = text.rfind("</").unwrap_or(text.len());
        out.extend_from_slice(
            text.get(partial.top_tag_end..end_tag)
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    let error_qname = match prefix {
        Some(p) => format!("{p}:error"),
        None => "error".to_owned(),
    };
    out.push(b'<');
    out.extend_from_slice(error_qname.as_bytes());
    write_attr("type", error_type, &mut out);
    out.extend_from_slice(b"><");
    out.extend_from_slice(condition.as_bytes());
    write_attr("xmlns", NS_STANZA_ERRORS, &mut out);
    out.extend_from_slice(b"/></");
    out.extend_from_slice(error_qname.as_bytes());
    out.extend_from_slice(b"></");
    out.extend_from_slice(tag.qname.as_bytes());
    out.push(b'>');
    Ok(Some(out))
}

/// The element must start with `<` and a name.
fn start_check(element: &[u8], offset: u64) -> Result<(), FramingError> {
    match element {
        [b'<', b, ..] if is_name_start_byte(*b) => Ok(()),
        _ => Err(FramingError::not_well_formed(offset, "expected an element")),
    }
}

// ---------------------------------------------------------------------------
// Small lexical helpers
// ---------------------------------------------------------------------------

/// A byte that may start a name (ASCII letter, `_`, or the lead byte of any
/// non-ASCII character; `:` is excluded by Namespaces in XML). Only a quick
/// filter for the scanner: names are checked in full once the tag is
/// complete.
fn is_name_start_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// Trims XML whitespace; returns the rest and its offset in the input.
fn trim_xml_ws(bytes: &[u8]) -> (&[u8], u64) {
    let start = bytes.iter().take_while(|b| is_xml_space(**b)).count();
    let rest = bytes.get(start..).unwrap_or_default();
    let rest = rest.get(..trim_end_space(rest)).unwrap_or_default();
    (rest, start as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_bang_needs_lookahead() {
        assert!(matches!(classify_bang(b"<!"), Bang::NeedMore));
        assert!(matches!(classify_bang(b"<![CDA"), Bang::NeedMore));
        assert!(matches!(classify_bang(b"<!-"), Bang::NeedMore));
        assert!(matches!(classify_bang(b"<!--"), Bang::Comment));
        assert!(matches!(classify_bang(b"<!DOCTYPE x"), Bang::Doctype));
        assert!(matches!(classify_bang(b"<![CDATA["), Bang::CData));
        assert!(matches!(classify_bang(b"<!x"), Bang::Invalid));
    }

    #[test]
    fn xml_chars_are_checked_bytewise() {
        assert!(check_text("a\u{FFFE}".as_bytes(), 0).is_err());
        assert!(check_text("a\u{FFFD}\u{10000}".as_bytes(), 0).is_ok());
        assert_eq!(
            check_text(b"ab\x01", 10),
            Err(FramingError::InvalidChar { position: 12 })
        );
    }

    #[test]
    fn an_idle_framer_keeps_no_buffer() {
        let mut f = StreamFramer::new(FramerLimits::DEFAULT);
        f.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1' version='1.0'>");
        f.feed(b"<message><body>hi</body></message> <presence/>");
        let mut events = 0;
        while let Some(_event) = f.next_event().unwrap() {
            events += 1;
        }
        assert_eq!(events, 3, "header, message, presence");
        assert_eq!(f.buf.capacity(), 0, "nothing unfinished, nothing kept");
        // An unfinished element is kept, and only that.
        f.feed(b"<message><bo");
        assert!(f.next_event().unwrap().is_none());
        assert!(f.buf.capacity() > 0);
        f.feed(b"dy/></message>");
        assert!(f.next_event().unwrap().is_some());
        assert!(f.next_event().unwrap().is_none());
        assert_eq!(f.buf.capacity(), 0);
    }
}
