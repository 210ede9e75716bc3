//! Parse errors of the `<body/>` codec.

use crate::condition::Condition;

/// Why a `<body/>` was refused, and where.
///
/// Every parse error is answered with the terminal condition
/// [`ParseError::condition`] (`bad-request`, XEP-0124 §17.2), or HTTP 400 for
/// a legacy client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize) -> ParseError {
        ParseError { kind, offset }
    }

    /// The binding condition a connection manager answers this error with:
    /// always `bad-request` (XEP-0124 §17.2: "the format of an HTTP header or
    /// binding element received from the client is unacceptable").
    pub fn condition(&self) -> Condition {
        Condition::BadRequest
    }
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input is larger than the configured limit.
    #[error("input larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Elements are nested deeper than the configured limit.
    #[error("elements nested deeper than the limit of {limit}")]
    TooDeep {
        /// The limit, counting `<body/>` as depth 1.
        limit: usize,
    },
    /// More namespace declarations in scope at once than
    /// [`MAX_NAMESPACES_IN_SCOPE`](crate::body::MAX_NAMESPACES_IN_SCOPE):
    /// every prefixed name is resolved against them, so without a bound a
    /// body of many declarations and many prefixed names costs their product.
    #[error("more than {limit} namespace declarations in scope")]
    TooManyNamespaces {
        /// The limit.
        limit: usize,
    },
    /// The input is not valid UTF-8 (XEP-0124 §7.2, R7.2-12).
    #[error("input is not valid UTF-8")]
    InvalidUtf8,
    /// A character that XML 1.0 does not allow (e.g. a control character).
    #[error("character not allowed in XML 1.0")]
    InvalidChar,
    /// The input has no root element.
    #[error("no root element")]
    NoRootElement,
    /// The input is not well-formed XML; the text says how.
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    /// An end tag does not match its start tag.
    #[error("end tag does not match the start tag")]
    MismatchedEndTag,
    /// The input ends inside an element.
    #[error("input ends inside an element")]
    UnclosedElement,
    /// An element or attribute name is not a valid XML name.
    #[error("invalid element or attribute name")]
    InvalidName,
    /// A namespace prefix is used without being declared.
    #[error("undeclared namespace prefix {prefix:?}")]
    UnboundPrefix {
        /// The prefix.
        prefix: String,
    },
    /// A namespace declaration that XML Namespaces forbids.
    #[error("invalid namespace declaration")]
    InvalidNamespaceDecl,
    /// An attribute appears twice on one element.
    #[error("duplicate attribute {name:?}")]
    DuplicateAttribute {
        /// The attribute name.
        name: String,
    },
    /// A `<` inside an attribute value.
    #[error("'<' in an attribute value")]
    LtInAttributeValue,
    /// The root element is not named `body`.
    #[error("root element is {name:?}, not body")]
    NotBody {
        /// The root element's qualified name.
        name: String,
    },
    /// The root element is `body` but not in `http://jabber.org/protocol/httpbind`.
    #[error("body is in namespace {namespace:?}, not http://jabber.org/protocol/httpbind")]
    WrongNamespace {
        /// The namespace found, `None` if none.
        namespace: Option<String>,
    },
    /// Character data directly inside `<body/>` (XEP-0124 §6, R6-4).
    #[error("character data directly inside body")]
    CharacterDataInBody,
    /// A DOCTYPE or entity declaration (XEP-0124 §6, R6-3).
    #[error("DOCTYPE and entity declarations are not allowed")]
    Doctype,
    /// A processing instruction, or an XML declaration that is not at the start
    /// (XEP-0124 §6, R6-3).
    #[error("processing instructions are not allowed")]
    ProcessingInstruction,
    /// An XML declaration of a version or encoding other than XML 1.0 in UTF-8.
    #[error("only XML 1.0 in UTF-8 is accepted")]
    UnsupportedDeclaration,
    /// A comment (XEP-0124 §6, R6-3).
    #[error("comments are not allowed")]
    Comment,
    /// An entity reference other than the five predefined ones (XEP-0124 §6, R6-3).
    #[error("undefined entity reference &{name};")]
    UndefinedEntity {
        /// The entity name.
        name: String,
    },
    /// A character reference to a character XML does not allow, or malformed.
    #[error("invalid character reference")]
    InvalidCharRef,
    /// Content after the end of `</body>` other than white space (R6-1).
    #[error("content after the end of body")]
    TrailingContent,
    /// An attribute value outside its schema range (XEP-0124 §22, XEP-0206 §11).
    #[error("attribute {name} has invalid value {value:?}: expected {expected}")]
    InvalidAttribute {
        /// The attribute name.
        name: &'static str,
        /// The value found (truncated to 64 characters).
        value: String,
        /// What the schema allows.
        expected: &'static str,
    },
}
