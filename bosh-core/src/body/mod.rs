//! The `<body/>` wrapper codec (XEP-0124 §6, §7, §22; XEP-0206 §2-§5).
//!
//! [`parse`] turns the bytes of an HTTP request or response into a [`Body`]:
//! every attribute of XEP-0124 and XEP-0206 becomes a typed field of
//! [`BodyAttrs`] with its schema range (those of session creation in a
//! [`CreationAttrs`] that it boxes only when one is present), and the
//! payload stays the raw bytes of the input (a [`Bytes`] slice, no copy, no
//! DOM), with [`Body::elements`] iterating over the top-level child
//! elements. The payload is still checked to be well-formed XML 1.0 with
//! namespaces, as XEP-0124 §6 requires (R6-2 to R6-5): no comments,
//! processing instructions, DTDs, or entity references other than the five
//! predefined ones and character references, and no character data directly
//! inside `<body/>`.
//!
//! [`write_body`] and [`Body::write`] emit a `<body/>` into a caller-supplied
//! buffer. Emitting, parsing and emitting again gives the same bytes.
//!
//! ```
//! use bosh_core::body::{parse, BodyAttrs, ParseLimits, write_body};
//! use bosh_core::Rid;
//!
//! let body = parse(
//!     b"<body rid='1573741820' sid='SomeSID' xmlns='http://jabber.org/protocol/httpbind'>\
//!       <message to='a@example.com' xmlns='jabber:client'><body>Hi</body></message></body>",
//!     &ParseLimits::default(),
//! )
//! .unwrap();
//! assert_eq!(body.attrs.rid, Rid::new(1573741820));
//! assert_eq!(body.attrs.sid.as_deref(), Some("SomeSID"));
//! assert_eq!(body.elements().count(), 1);
//!
//! let mut out = Vec::new();
//! body.write(&mut out);
//! assert_eq!(parse(&out, &ParseLimits::default()).unwrap(), body);
//! ```

mod attrs;
mod emit;
mod error;
mod parse;
mod sid;
mod xml;

pub use attrs::{BodyAttrs, BodyType, CreationAttrs, ExtraAttribute, NamespaceDecl, Version};
pub use emit::{uri_element, write_body};
pub use error::{ParseError, ParseErrorKind};
pub use parse::{ParseLimits, parse, parse_bytes};

/// Most namespace declarations a body may have in scope at once (on
/// `<body/>` and the payload elements around a point). Real bodies have a
/// handful; the bound keeps resolving prefixed names linear in the input
/// (XML Namespaces 1.0 §5), however many there are
/// ([`ParseErrorKind::TooManyNamespaces`]).
pub const MAX_NAMESPACES_IN_SCOPE: usize = 64;
pub use sid::Sid;

use bytes::Bytes;

/// The `http://jabber.org/protocol/httpbind` namespace of `<body/>` (XEP-0124 §6).
pub const NS_HTTPBIND: &str = "http://jabber.org/protocol/httpbind";
/// The `urn:xmpp:xbosh` namespace of the XEP-0206 attributes (XEP-0206 §3).
pub const NS_XBOSH: &str = "urn:xmpp:xbosh";
/// The `http://etherx.jabber.org/streams` namespace of `stream:features` and
/// `stream:error` (XEP-0206 §2).
pub const NS_STREAMS: &str = "http://etherx.jabber.org/streams";
/// The `jabber:client` namespace that stanzas without a namespace belong to
/// (XEP-0206 §2, X2-2).
pub const NS_JABBER_CLIENT: &str = "jabber:client";

/// A parsed `<body/>` wrapper (XEP-0124 §6).
///
/// The attributes are typed in [`BodyAttrs`]; the payload stays raw bytes.
/// Two bodies are equal when their attributes, the namespace declarations on
/// `<body/>` and their top-level child elements are equal byte for byte
/// (whitespace between the children is not significant).
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// The attributes of `<body/>`.
    pub attrs: BodyAttrs,
    /// The namespace declarations of `<body/>` that its children may rely
    /// on, boxed and `None` when there is none (the usual case).
    scope: Option<Box<Scope>>,
    /// Raw bytes between `<body …>` and `</body>` (empty for `<body/>`).
    payload: Bytes,
    /// Top-level child elements as byte ranges of `payload`.
    children: Vec<(u32, u32)>,
}

/// The namespace declarations made on `<body/>` for its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Scope {
    /// Prefixed namespace declarations made on `<body/>` (`xmlns:p='…'`), in
    /// document order. Payload elements may rely on them.
    namespaces: Vec<NamespaceDecl>,
    /// A default namespace other than httpbind in scope for the children; only
    /// possible when the root element itself is prefixed.
    child_default_ns: Option<String>,
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.attrs == other.attrs
            && self.namespaces() == other.namespaces()
            && self.child_default_ns() == other.child_default_ns()
            && self.elements().eq(other.elements())
    }
}

impl Eq for Body {}

impl Body {
    /// A body with these attributes and no payload.
    pub fn new(attrs: BodyAttrs) -> Body {
        Body {
            attrs,
            ..Body::default()
        }
    }

    /// The raw payload: every byte between the `<body …>` start tag and
    /// `</body>`, whitespace between the children included.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The prefixed namespace declarations made on `<body/>`, in document order.
    pub fn namespaces(&self) -> &[NamespaceDecl] {
        self.scope.as_deref().map_or(&[], |s| &s.namespaces)
    }

    fn child_default_ns(&self) -> Option<&str> {
        self.scope.as_deref()?.child_default_ns.as_deref()
    }

    /// Iterates over the top-level child elements ("payloads", XEP-0124 §6,
    /// R6-5), each as a zero-copy slice of the input.
    ///
    /// A slice is exactly as written in the body, so an element that relies
    /// on a namespace prefix declared on `<body/>` is not standalone: use
    /// [`Body::standalone_elements`] to hand elements on alone.
    pub fn elements(&self) -> Elements<'_> {
        Elements {
            body: self,
            index: 0,
        }
    }

    /// Whether the body carries no payload element (an empty poll, XEP-0124 §8).
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Iterates over the top-level child elements made standalone: each
    /// element gets, on its own start tag, the declarations of the namespace
    /// prefixes it uses that were declared on `<body/>` (and the default
    /// namespace, when a prefixed `<body/>` declared one). Elements that need
    /// nothing are returned without copying.
    pub fn standalone_elements(&self) -> impl Iterator<Item = Bytes> + '_ {
        self.elements().map(move |e| self.make_standalone(e))
    }

    fn make_standalone(&self, element: Bytes) -> Bytes {
        if self.namespaces().is_empty() && self.child_default_ns().is_none() {
            return element;
        }
        xml::make_standalone(element, self.namespaces(), self.child_default_ns())
    }

    /// The first payload element whose qualified name is `qname` (e.g.
    /// `stream:features`).
    pub fn find_element(&self, qname: &str) -> Option<Bytes> {
        self.elements()
            .find(|e| xml::element_qname(e).is_some_and(|n| n == qname))
    }

    /// The `<stream:error/>` child of a `remote-stream-error` body (XEP-0206
    /// §6), made standalone.
    pub fn stream_error(&self) -> Option<Bytes> {
        self.elements()
            .find(|e| xml::is_stream_element(e, b"error"))
            .map(|e| self.make_standalone(e))
    }

    /// The `<stream:features/>` child (XEP-0206 §4), made standalone.
    pub fn stream_features(&self) -> Option<Bytes> {
        self.elements()
            .find(|e| xml::is_stream_element(e, b"features"))
            .map(|e| self.make_standalone(e))
    }

    /// The text of the `<uri/>` child of a `see-other-uri` body (XEP-0124
    /// §17.2, R17.2-5), unescaped.
    pub fn see_other_uri(&self) -> Option<String> {
        self.elements()
            .find(|e| xml::element_qname(e).is_some_and(|n| n == "uri"))
            .and_then(|e| xml::simple_text(&e))
    }

    /// Writes this body (XEP-0124 §6) into `out`, appending.
    ///
    /// The payload is written as its top-level elements with no whitespace
    /// between them. See [`write_body`].
    pub fn write(&self, out: &mut Vec<u8>) {
        if self.child_default_ns().is_some() {
            let pieces: Vec<Bytes> = self.standalone_elements().collect();
            emit::write_body_with(&self.attrs, self.namespaces(), &pieces, out);
        } else {
            emit::write_body_with(&self.attrs, self.namespaces(), self.elements(), out);
        }
    }
}

/// Iterator over the top-level payload elements of a [`Body`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    body: &'a Body,
    index: usize,
}

impl Iterator for Elements<'_> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let &(start, end) = self.body.children.get(self.index)?;
        self.index += 1;
        Some(self.body.payload.slice(start as usize..end as usize))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.body.children.len() - self.index;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Elements<'_> {}
