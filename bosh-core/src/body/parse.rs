//! Parsing `<body/>` wrappers (XEP-0124 §6, §22; XEP-0206 §11).

use std::borrow::Cow;

use bytes::Bytes;
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::attrs::{BodyAttrs, BodyType, ExtraAttribute, NamespaceDecl, Version};
use super::error::{ParseError, ParseErrorKind};
use super::xml::{
    NS_XML, check_attr_value, check_reference, find_invalid_char, is_all_space, is_ncname,
    split_qname, truncate,
};
use super::{Body, NS_HTTPBIND, NS_XBOSH};
use crate::condition::Condition;
use crate::rid::Rid;

/// Limits applied while parsing, before anything is allocated for the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest input accepted, in bytes. Default 1 MiB.
    pub max_bytes: usize,
    /// Deepest element nesting accepted, counting `<body/>` as 1. Default 64.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bytes: 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// Parses a `<body/>` from a byte slice (copied once into a [`Bytes`]).
///
/// See [`parse_bytes`].
pub fn parse(input: &[u8], limits: &ParseLimits) -> Result<Body, ParseError> {
    check_size(input.len(), limits)?;
    parse_bytes(Bytes::copy_from_slice(input), limits)
}

fn check_size(len: usize, limits: &ParseLimits) -> Result<(), ParseError> {
    // Payload offsets are stored as u32: 4 GiB is a hard ceiling.
    let limit = limits.max_bytes.min(u32::MAX as usize);
    if len > limit {
        return Err(ParseError::new(ParseErrorKind::TooLarge { limit }, limit));
    }
    Ok(())
}

/// Parses a `<body/>` (XEP-0124 §6) from `input`, without copying the payload:
/// [`Body::payload`] and [`Body::elements`] are slices of `input`.
///
/// The whole input is checked: valid UTF-8 (R7.2-12), well-formed XML 1.0
/// with namespaces (R6-2), a single root `body` in
/// `http://jabber.org/protocol/httpbind` (R6-1), no comments, processing
/// instructions, DTDs or undefined entity references (R6-3), no character
/// data directly inside `<body/>` (R6-4), only complete child elements
/// (R6-5), every known attribute in its schema range (§22), and the size and
/// depth `limits`. An XML declaration is accepted at the very start if it
/// says version 1.0 and, if it names one, the UTF-8 encoding; a UTF-8 byte
/// order mark is skipped.
///
/// Leniency: an `xmpp:`-prefixed attribute whose prefix is not declared is
/// read as being in `urn:xmpp:xbosh`, because some deployed clients omit the
/// declaration. Any other undeclared prefix is an error.
pub fn parse_bytes(input: Bytes, limits: &ParseLimits) -> Result<Body, ParseError> {
    check_size(input.len(), limits)?;
    let base = if input.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = std::str::from_utf8(&input[base..])
        .map_err(|e| ParseError::new(ParseErrorKind::InvalidUtf8, base + e.valid_up_to()))?;
    if let Some(i) = find_invalid_char(text.as_bytes()) {
        return Err(ParseError::new(ParseErrorKind::InvalidChar, base + i));
    }
    let mut p = Parser {
        text,
        base,
        limits,
        depth: 0,
        scopes: Vec::new(),
        attrs: BodyAttrs::default(),
        namespaces: Vec::new(),
        child_default_ns: None,
        seen_root: false,
        root_done: false,
        payload: (0, 0),
        child_start: 0,
        children: Vec::new(),
    };
    p.run()?;
    if !p.seen_root {
        return Err(ParseError::new(ParseErrorKind::NoRootElement, input.len()));
    }
    let (ps, pe) = p.payload;
    let payload = input.slice(base + ps..base + pe);
    let children = p
        .children
        .iter()
        .map(|&(s, e)| ((s - ps) as u32, (e - ps) as u32))
        .collect();
    Ok(Body {
        attrs: p.attrs,
        namespaces: p.namespaces,
        child_default_ns: p.child_default_ns,
        payload,
        children,
    })
}

struct Parser<'a> {
    text: &'a str,
    base: usize,
    limits: &'a ParseLimits,
    depth: usize,
    /// Namespace prefixes in scope: (depth of the declaring element, prefix).
    scopes: Vec<(usize, Box<str>)>,
    attrs: BodyAttrs,
    namespaces: Vec<NamespaceDecl>,
    child_default_ns: Option<String>,
    seen_root: bool,
    root_done: bool,
    /// Payload byte range within `text`.
    payload: (usize, usize),
    child_start: usize,
    children: Vec<(usize, usize)>,
}

impl<'a> Parser<'a> {
    fn err(&self, kind: ParseErrorKind, at: usize) -> ParseError {
        ParseError::new(kind, self.base + at)
    }

    fn run(&mut self) -> Result<(), ParseError> {
        let mut reader = Reader::from_str(self.text);
        {
            let config = reader.config_mut();
            config.check_end_names = true;
            config.expand_empty_elements = false;
            config.trim_text(false);
        }
        let mut first = true;
        loop {
            let pos = reader.buffer_position() as usize;
            let event = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let at = reader.error_position() as usize;
                    return Err(self.err(map_xml_error(&e), at));
                }
            };
            let is_first = std::mem::take(&mut first);
            match event {
                Event::Decl(d) => {
                    if !is_first || pos != 0 {
                        return Err(self.err(ParseErrorKind::ProcessingInstruction, pos));
                    }
                    let version_ok = d.version().is_ok_and(|v| v == "1.0");
                    let encoding_ok = match d.encoding() {
                        None => true,
                        Some(Ok(enc)) => enc.eq_ignore_ascii_case("utf-8"),
                        Some(Err(_)) => false,
                    };
                    if !version_ok || !encoding_ok {
                        return Err(self.err(ParseErrorKind::UnsupportedDeclaration, pos));
                    }
                }
                Event::PI(_) => return Err(self.err(ParseErrorKind::ProcessingInstruction, pos)),
                Event::Comment(_) => return Err(self.err(ParseErrorKind::Comment, pos)),
                Event::DocType(_) => return Err(self.err(ParseErrorKind::Doctype, pos)),
                Event::Start(e) => self.start(&e, pos, reader.buffer_position() as usize, false)?,
                Event::Empty(e) => self.start(&e, pos, reader.buffer_position() as usize, true)?,
                Event::End(_) => self.end(pos, reader.buffer_position() as usize),
                Event::Text(t) => {
                    if !is_all_space(&t) {
                        let kind = match self.depth {
                            0 if self.root_done => ParseErrorKind::TrailingContent,
                            0 => ParseErrorKind::Malformed("text before the root element".into()),
                            1 => ParseErrorKind::CharacterDataInBody,
                            _ => {
                                if let Some(i) = super::xml::find_cdata_end(&t) {
                                    return Err(self.err(
                                        ParseErrorKind::Malformed("']]>' in text".into()),
                                        pos + i,
                                    ));
                                }
                                continue;
                            }
                        };
                        return Err(self.err(kind, pos));
                    }
                }
                Event::CData(_) => {
                    if self.depth <= 1 {
                        return Err(self.err(self.data_outside_elements(), pos));
                    }
                }
                Event::GeneralRef(r) => {
                    if self.depth <= 1 {
                        return Err(self.err(self.data_outside_elements(), pos));
                    }
                    check_reference(&r).map_err(|k| self.err(k, pos))?;
                }
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(self.err(ParseErrorKind::UnclosedElement, pos));
                    }
                    return Ok(());
                }
            }
        }
    }

    fn data_outside_elements(&self) -> ParseErrorKind {
        match (self.depth, self.root_done) {
            (1, _) => ParseErrorKind::CharacterDataInBody,
            (_, true) => ParseErrorKind::TrailingContent,
            _ => ParseErrorKind::Malformed("character data outside the root element".into()),
        }
    }

    fn start(
        &mut self,
        e: &BytesStart<'a>,
        pos: usize,
        after: usize,
        empty: bool,
    ) -> Result<(), ParseError> {
        if self.root_done {
            return Err(self.err(ParseErrorKind::TrailingContent, pos));
        }
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.err(
                ParseErrorKind::TooDeep {
                    limit: self.limits.max_depth,
                },
                pos,
            ));
        }
        if self.depth == 1 {
            self.root(e, pos)?;
            self.seen_root = true;
            self.payload = (after, after);
        } else {
            self.element(e, pos)?;
            if self.depth == 2 {
                self.child_start = pos;
            }
        }
        if empty {
            self.end(pos, after);
        }
        Ok(())
    }

    fn end(&mut self, pos: usize, after: usize) {
        let depth = self.depth;
        self.scopes.retain(|&(d, _)| d < depth);
        self.depth -= 1;
        match self.depth {
            0 => {
                self.root_done = true;
                if self.payload.0 < pos {
                    self.payload.1 = pos;
                }
            }
            1 => self.children.push((self.child_start, after)),
            _ => {}
        }
    }

    /// Checks a payload element's name, attributes and namespace prefixes.
    fn element(&mut self, e: &BytesStart<'a>, pos: usize) -> Result<(), ParseError> {
        let name = e.name().into_inner();
        let (prefix, _) =
            split_qname(name).ok_or_else(|| self.err(ParseErrorKind::InvalidName, pos))?;
        let mut used: Vec<&str> = Vec::new();
        if let Some(p) = prefix {
            used.push(p);
        }
        let raw_attrs = attributes(e);
        for attr in raw_attrs {
            let (key, value) = attr.map_err(|k| self.err(k, pos))?;
            let (ap, local) =
                split_qname(key).ok_or_else(|| self.err(ParseErrorKind::InvalidName, pos))?;
            check_attr_value(value).map_err(|(_, k)| self.err(k, pos))?;
            match (ap, local) {
                (None, "xmlns") => {}
                (Some("xmlns"), p) => {
                    check_ns_decl(p, value).map_err(|k| self.err(k, pos))?;
                    self.scopes.push((self.depth, p.into()));
                }
                (Some(p), _) => used.push(p),
                (None, _) => {}
            }
        }
        for p in used {
            if p != "xml" && !self.scopes.iter().any(|(_, q)| &**q == p) {
                return Err(self.err(
                    ParseErrorKind::UnboundPrefix {
                        prefix: truncate(p, 64),
                    },
                    pos,
                ));
            }
        }
        Ok(())
    }

    /// Reads the `<body/>` start tag into typed attributes (XEP-0124 §22).
    fn root(&mut self, e: &BytesStart<'a>, pos: usize) -> Result<(), ParseError> {
        let name = e.name().into_inner();
        let (prefix, local) =
            split_qname(name).ok_or_else(|| self.err(ParseErrorKind::InvalidName, pos))?;
        if local != "body" {
            return Err(self.err(
                ParseErrorKind::NotBody {
                    name: truncate(name, 64),
                },
                pos,
            ));
        }
        // Collect the attributes (on the stack for the usual handful), then
        // read the namespace declarations first so that order does not matter.
        const STACK: usize = 24;
        let mut stack: [(&str, &str); STACK] = [("", ""); STACK];
        let mut heap: Vec<(&str, &str)> = Vec::new();
        let mut n = 0;
        for attr in attributes(e) {
            let (key, value) = attr.map_err(|k| self.err(k, pos))?;
            check_attr_value(value).map_err(|(_, k)| self.err(k, pos))?;
            if n < STACK {
                stack[n] = (key, value);
            } else {
                if heap.is_empty() {
                    heap.extend_from_slice(&stack);
                }
                heap.push((key, value));
            }
            n += 1;
        }
        let raw: &[(&str, &str)] = if n <= STACK { &stack[..n] } else { &heap };
        let mut default_ns: Option<Cow<'_, str>> = None;
        let mut namespaces: Vec<NamespaceDecl> = Vec::new();
        for &(key, value) in raw {
            if key == "xmlns" {
                default_ns = Some(unescape(value));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                check_ns_decl(p, value).map_err(|k| self.err(k, pos))?;
                self.scopes.push((1, p.into()));
                namespaces.push(NamespaceDecl {
                    prefix: p.to_owned(),
                    uri: unescape(value).into_owned(),
                });
            }
        }
        let resolve = |p: &str| -> Option<&str> {
            match p {
                "xml" => Some(NS_XML),
                _ => namespaces
                    .iter()
                    .find(|d| d.prefix == p)
                    .map(|d| d.uri.as_str()),
            }
        };
        let root_ns = match prefix {
            None => default_ns.as_deref(),
            Some(p) => Some(resolve(p).ok_or_else(|| {
                self.err(
                    ParseErrorKind::UnboundPrefix {
                        prefix: truncate(p, 64),
                    },
                    pos,
                )
            })?),
        };
        if root_ns != Some(NS_HTTPBIND) {
            return Err(self.err(
                ParseErrorKind::WrongNamespace {
                    namespace: root_ns.map(|n| truncate(n, 128)),
                },
                pos,
            ));
        }
        // With a prefixed root, a default namespace declared on it applies
        // to the children.
        let child_default_ns = match (prefix, default_ns) {
            (Some(_), Some(ns)) if !ns.is_empty() && ns != NS_HTTPBIND => Some(ns.into_owned()),
            _ => None,
        };

        let attrs = &mut self.attrs;
        for &(key, value) in raw {
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let err = |kind| ParseError::new(kind, self.base + pos);
            let (ap, local) = split_qname(key).ok_or_else(|| err(ParseErrorKind::InvalidName))?;
            let ns = match ap {
                None => None,
                Some(p) => match resolve(p) {
                    Some(ns) => Some(ns),
                    // Lenient: an undeclared `xmpp` prefix means urn:xmpp:xbosh.
                    None if p == "xmpp" => Some(NS_XBOSH),
                    None => {
                        return Err(err(ParseErrorKind::UnboundPrefix {
                            prefix: truncate(p, 64),
                        }));
                    }
                },
            };
            set_attr(attrs, ns, local, key, unescape(value)).map_err(err)?;
        }
        self.namespaces = namespaces;
        self.child_default_ns = child_default_ns;
        Ok(())
    }
}

/// The attributes of a start tag as raw (escaped) `(name, value)` pairs,
/// with duplicate and syntax checks.
fn attributes<'e>(
    e: &'e BytesStart<'_>,
) -> impl Iterator<Item = Result<(&'e str, &'e str), ParseErrorKind>> + 'e {
    let content: &'e str = e;
    let mut failed = false;
    let mut attrs = e.attributes();
    attrs.with_checks(true);
    attrs.map_while(move |a| {
        if failed {
            return None;
        }
        let item = match a {
            Ok(a) => match a.value {
                Cow::Borrowed(v) => Ok((a.key.into_inner(), v)),
                // Values read from a borrowed &str are always borrowed.
                Cow::Owned(_) => Err(ParseErrorKind::Malformed(
                    "unexpected attribute value".into(),
                )),
            },
            Err(AttrError::Duplicated(at, _)) => {
                let name: String = content
                    .get(at..)
                    .unwrap_or_default()
                    .chars()
                    .take_while(|&c| c != '=' && !c.is_whitespace())
                    .take(64)
                    .collect();
                Err(ParseErrorKind::DuplicateAttribute { name })
            }
            Err(other) => Err(ParseErrorKind::Malformed(other.to_string())),
        };
        failed = item.is_err();
        Some(item)
    })
}

fn check_ns_decl(prefix: &str, uri: &str) -> Result<(), ParseErrorKind> {
    let ok = is_ncname(prefix)
        && prefix != "xmlns"
        && !uri.is_empty()
        && (prefix == "xml") == (uri == NS_XML);
    if ok {
        Ok(())
    } else {
        Err(ParseErrorKind::InvalidNamespaceDecl)
    }
}

/// Unescapes and normalizes an attribute value already checked by
/// `check_attr_value` (XML 1.0 §3.3.3).
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw
        .bytes()
        .any(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
    {
        return Cow::Borrowed(raw);
    }
    let attr = quick_xml::events::attributes::Attribute {
        key: quick_xml::name::QName(""),
        value: Cow::Borrowed(raw),
    };
    match attr.normalized_value(XmlVersion::Implicit1_0) {
        Ok(Cow::Borrowed(v)) => Cow::Borrowed(v),
        Ok(Cow::Owned(v)) => Cow::Owned(v),
        Err(_) => Cow::Borrowed(raw),
    }
}

fn map_xml_error(e: &quick_xml::Error) -> ParseErrorKind {
    use quick_xml::errors::{Error, IllFormedError};
    match e {
        Error::IllFormed(IllFormedError::MismatchedEndTag { .. })
        | Error::IllFormed(IllFormedError::UnmatchedEndTag(_)) => ParseErrorKind::MismatchedEndTag,
        Error::IllFormed(IllFormedError::MissingEndTag(_)) => ParseErrorKind::UnclosedElement,
        Error::IllFormed(IllFormedError::DoubleHyphenInComment) => ParseErrorKind::Comment,
        other => ParseErrorKind::Malformed(other.to_string()),
    }
}

const RID_RANGE: &str = "an integer from 1 to 9007199254740991";
const U16_RANGE: &str = "an integer from 0 to 65535";
const U8_RANGE: &str = "an integer from 0 to 255";

fn invalid(name: &'static str, value: &str, expected: &'static str) -> ParseErrorKind {
    ParseErrorKind::InvalidAttribute {
        name,
        value: truncate(value, 64),
        expected,
    }
}

/// Parses an XML Schema unsigned integer: optional `+`, decimal digits,
/// surrounding white space allowed.
fn parse_uint(value: &str, max: u64) -> Option<u64> {
    let v = value.trim_matches(|c: char| c.is_ascii() && super::xml::is_xml_space(c as u8));
    let v = v.strip_prefix('+').unwrap_or(v);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in v.bytes() {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if n > max {
            return None;
        }
    }
    Some(n)
}

fn parse_rid(name: &'static str, v: &str) -> Result<Rid, ParseErrorKind> {
    parse_uint(v, Rid::MAX.get())
        .and_then(Rid::new)
        .ok_or_else(|| invalid(name, v, RID_RANGE))
}

fn parse_u16(name: &'static str, v: &str) -> Result<u16, ParseErrorKind> {
    parse_uint(v, u64::from(u16::MAX))
        .map(|n| n as u16)
        .ok_or_else(|| invalid(name, v, U16_RANGE))
}

fn parse_u8(name: &'static str, v: &str) -> Result<u8, ParseErrorKind> {
    parse_uint(v, u64::from(u8::MAX))
        .map(|n| n as u8)
        .ok_or_else(|| invalid(name, v, U8_RANGE))
}

fn parse_version(name: &'static str, v: &str) -> Result<Version, ParseErrorKind> {
    v.trim()
        .parse()
        .map_err(|_| invalid(name, v, "major.minor"))
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ParseErrorKind> {
    match v.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(name, v, "true, 1, false or 0")),
    }
}

fn set<T>(field: &mut Option<T>, name: &'static str, value: T) -> Result<(), ParseErrorKind> {
    if field.is_some() {
        return Err(ParseErrorKind::DuplicateAttribute {
            name: name.to_owned(),
        });
    }
    *field = Some(value);
    Ok(())
}

/// Stores one `<body/>` attribute in its typed field.
fn set_attr(
    a: &mut BodyAttrs,
    ns: Option<&str>,
    local: &str,
    qname: &str,
    v: Cow<'_, str>,
) -> Result<(), ParseErrorKind> {
    let owned = || v.clone().into_owned();
    match (ns, local) {
        (None, "rid") => set(&mut a.rid, "rid", parse_rid("rid", &v)?),
        (None, "sid") => set(&mut a.sid, "sid", owned()),
        (None, "to") => set(&mut a.to, "to", owned()),
        (None, "from") => set(&mut a.from, "from", owned()),
        (None, "route") => set(&mut a.route, "route", owned()),
        (Some(NS_XML), "lang") => set(&mut a.xml_lang, "xml:lang", owned()),
        (None, "ver") => set(&mut a.ver, "ver", parse_version("ver", &v)?),
        (None, "wait") => set(&mut a.wait, "wait", parse_u16("wait", &v)?),
        (None, "hold") => set(&mut a.hold, "hold", parse_u8("hold", &v)?),
        (None, "requests") => set(&mut a.requests, "requests", parse_u8("requests", &v)?),
        (None, "polling") => set(&mut a.polling, "polling", parse_u16("polling", &v)?),
        (None, "inactivity") => set(
            &mut a.inactivity,
            "inactivity",
            parse_u16("inactivity", &v)?,
        ),
        (None, "maxpause") => set(&mut a.maxpause, "maxpause", parse_u16("maxpause", &v)?),
        (None, "pause") => set(&mut a.pause, "pause", parse_u16("pause", &v)?),
        (None, "ack") => set(&mut a.ack, "ack", parse_rid("ack", &v)?),
        (None, "report") => set(&mut a.report, "report", parse_rid("report", &v)?),
        (None, "time") => set(&mut a.time, "time", parse_u16("time", &v)?),
        (None, "accept") => {
            let list = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            set(&mut a.accept, "accept", list)
        }
        (None, "charsets") => {
            let list = v.split_ascii_whitespace().map(str::to_owned).collect();
            set(&mut a.charsets, "charsets", list)
        }
        (None, "content") => set(&mut a.content, "content", owned()),
        (None, "key") => set(&mut a.key, "key", owned()),
        (None, "newkey") => set(&mut a.newkey, "newkey", owned()),
        (None, "stream") => set(&mut a.stream, "stream", owned()),
        (None, "authid") => set(&mut a.authid, "authid", owned()),
        (None, "type") => {
            let t = match v.trim() {
                "terminate" => BodyType::Terminate,
                "error" => BodyType::Error,
                _ => return Err(invalid("type", &v, "terminate or error")),
            };
            set(&mut a.body_type, "type", t)
        }
        (None, "condition") => {
            let c: Condition = v
                .trim()
                .parse()
                .map_err(|_| invalid("condition", &v, "a condition of XEP-0124 section 17.2"))?;
            set(&mut a.condition, "condition", c)
        }
        (Some(NS_XBOSH), "version") => set(
            &mut a.xmpp_version,
            "xmpp:version",
            parse_version("xmpp:version", &v)?,
        ),
        (Some(NS_XBOSH), "restart") => set(
            &mut a.xmpp_restart,
            "xmpp:restart",
            parse_bool("xmpp:restart", &v)?,
        ),
        (Some(NS_XBOSH), "restartlogic") => set(
            &mut a.xmpp_restartlogic,
            "xmpp:restartlogic",
            parse_bool("xmpp:restartlogic", &v)?,
        ),
        // Removed in XEP-0124 v1.8: ignored on input.
        (None, "secure") => Ok(()),
        _ => {
            a.extra.push(ExtraAttribute {
                namespace: ns.map(str::to_owned),
                name: qname.to_owned(),
                value: owned(),
            });
            Ok(())
        }
    }
}
