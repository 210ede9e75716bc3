//! Parsing `<body/>` wrappers (XEP-0124 §6, §22; XEP-0206 §11).

use std::borrow::Cow;
use std::collections::HashSet;

use bytes::Bytes;
use quick_xml::XmlVersion;

use super::Scope;
use super::attrs::{BodyAttrs, BodyType, ExtraAttribute, NamespaceDecl, Version};
use super::error::{ParseError, ParseErrorKind};
use super::xml::{
    NS_XML, check_attr_value, check_reference, find_invalid_char, is_allowed_ns_decl, is_ncname,
    is_xml_space, is_xml_space_char, split_qname, trim_xml_space, truncate,
};
use super::{Body, MAX_NAMESPACES_IN_SCOPE, NS_HTTPBIND, NS_XBOSH, Sid};
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
///
/// The input is read in one pass by a scanner specialised for this job (it
/// allocates nothing per element and skips character data with `memchr`);
/// the work is linear in the input size whatever its shape.
pub fn parse_bytes(input: Bytes, limits: &ParseLimits) -> Result<Body, ParseError> {
    parse_with(input, limits, true)
}

/// [`parse_bytes`], with or without [`Parser::root_fast`] (the tests
/// compare the two).
#[inline]
fn parse_with(input: Bytes, limits: &ParseLimits, fast_root: bool) -> Result<Body, ParseError> {
    check_size(input.len(), limits)?;
    let base = if input.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = std::str::from_utf8(&input[base..])
        .map_err(|e| ParseError::new(ParseErrorKind::InvalidUtf8, base + e.valid_up_to()))?;
    if let Some(i) = find_forbidden_char(text.as_bytes()) {
        return Err(ParseError::new(ParseErrorKind::InvalidChar, base + i));
    }
    // The body is built in place: the parser fills its attributes directly.
    let mut body = Body::default();
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        base,
        limits,
        depth: 0,
        open: Stack::new(),
        scopes: Vec::new(),
        raw: Stack::new(),
        attr_bits: 0,
        many: None,
        attrs: &mut body.attrs,
        scope: None,
        seen_root: false,
        root_done: false,
        payload: (0, 0),
        child_start: 0,
        children: Vec::new(),
        fast_root,
    };
    p.run()?;
    let Parser {
        seen_root,
        payload: (ps, pe),
        scope,
        children,
        ..
    } = p;
    if !seen_root {
        return Err(ParseError::new(ParseErrorKind::NoRootElement, input.len()));
    }
    if ps != pe {
        body.payload = input.slice(base + ps..base + pe);
    }
    body.scope = scope;
    body.children = children;
    Ok(body)
}

/// [`find_invalid_char`] with a quicker screen for short inputs: words with
/// no byte below 0x20 and no 0xEF are skipped eight (or 32) at a time, the
/// last partial word is read overlapping the one before it, and only from
/// the first suspicious word on does the exact check run. Nothing before
/// that word can start a forbidden character, so the result is the same.
#[inline]
fn find_forbidden_char(b: &[u8]) -> Option<usize> {
    #[inline(always)]
    fn suspicious(x: u64) -> u64 {
        let y = x ^ (LO * 0xEF);
        (x.wrapping_sub(LO * 0x20) & !x & HI) | zero_bytes(y)
    }
    let mut i = 0;
    #[inline(always)]
    fn word(c: &[u8], k: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&c[k..k + 8]);
        u64::from_le_bytes(w)
    }
    while let Some(c) = b.get(i..i + 32) {
        let m = suspicious(word(c, 0))
            | suspicious(word(c, 8))
            | suspicious(word(c, 16))
            | suspicious(word(c, 24));
        if m != 0 {
            break;
        }
        i += 32;
    }
    while let Some(x) = word_at(b, i) {
        if suspicious(x) != 0 {
            return find_invalid_char(&b[i..]).map(|j| i + j);
        }
        i += 8;
    }
    if i == b.len() {
        return None;
    }
    if b.len() >= 8 && word_at(b, b.len() - 8).is_some_and(|x| suspicious(x) == 0) {
        return None;
    }
    find_invalid_char(&b[i..]).map(|j| i + j)
}

/// A stack that keeps its first `N` items inline, so that the usual shallow
/// body with a handful of attributes allocates nothing.
struct Stack<T: Copy + Default, const N: usize> {
    len: usize,
    inline: [T; N],
    /// Used once more than `N` items were pushed; then `spill.len() == len`.
    spill: Vec<T>,
}

impl<T: Copy + Default, const N: usize> Stack<T, N> {
    fn new() -> Self {
        Stack {
            len: 0,
            inline: [T::default(); N],
            spill: Vec::new(),
        }
    }

    #[inline]
    fn as_slice(&self) -> &[T] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Pushes a default item and returns it, so that the caller writes the
    /// fields in place (building the item elsewhere and copying it in costs a
    /// store-forwarding stall per push: narrow stores read back wide).
    #[inline(always)]
    fn push_slot(&mut self) -> &mut T {
        if !(self.len < N && self.spill.is_empty()) {
            self.push_spilled(T::default());
            let last = self.spill.len() - 1;
            return &mut self.spill[last];
        }
        self.len += 1;
        &mut self.inline[self.len - 1]
    }

    #[cold]
    fn push_spilled(&mut self, item: T) {
        if self.spill.is_empty() {
            self.spill.extend_from_slice(&self.inline[..self.len]);
        }
        self.spill.push(item);
        self.len += 1;
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.len -= 1;
            self.spill.pop();
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }

    fn last(&self) -> Option<&T> {
        self.as_slice().last()
    }
}

/// An attribute of the start tag being read, as byte offsets: the qualified
/// name `start..end` with its colon (`NO_COLON` if none), the raw (escaped)
/// value `value..value_end`, and whether the value needs unescaping.
#[derive(Debug, Clone, Copy, Default)]
struct RawAttr {
    start: u32,
    colon: u32,
    end: u32,
    value: u32,
    value_end: u32,
    plain: bool,
}

const NO_COLON: u32 = u32::MAX;

/// The attribute names that [`Parser::root_fast`] tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastName {
    Rid,
    Sid,
    Ack,
    Xmlns,
    Other,
}

/// `rid=`, `sid=`, `ack=` and `xmlns=` as the low bytes of a little-endian word.
const RID_EQ: u64 = u32::from_le_bytes(*b"rid=") as u64;
const SID_EQ: u64 = u32::from_le_bytes(*b"sid=") as u64;
const ACK_EQ: u64 = u32::from_le_bytes(*b"ack=") as u64;
const XMLNS_EQ: u64 = u64::from_le_bytes(*b"xmlns=\0\0");

impl RawAttr {
    #[inline]
    fn qname<'a>(&self, s: &'a str) -> &'a str {
        &s[self.start as usize..self.end as usize]
    }

    #[inline]
    fn qname_bytes<'a>(&self, b: &'a [u8]) -> &'a [u8] {
        &b[self.start as usize..self.end as usize]
    }

    /// The prefix, for an attribute that has one.
    #[inline]
    fn prefix_bytes<'a>(&self, b: &'a [u8]) -> &'a [u8] {
        &b[self.start as usize..self.colon as usize]
    }

    #[inline]
    fn prefix<'a>(&self, s: &'a str) -> Option<&'a str> {
        (self.colon != NO_COLON).then(|| &s[self.start as usize..self.colon as usize])
    }

    #[inline]
    fn local<'a>(&self, s: &'a str) -> &'a str {
        if self.colon == NO_COLON {
            self.qname(s)
        } else {
            &s[self.colon as usize + 1..self.end as usize]
        }
    }

    #[inline]
    fn value<'a>(&self, s: &'a str) -> &'a str {
        &s[self.value as usize..self.value_end as usize]
    }

    /// The value unescaped and normalized (XML 1.0 §3.3.3).
    #[inline(always)]
    fn unescaped<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.plain {
            Cow::Borrowed(self.value(s))
        } else {
            unescape(self.value(s))
        }
    }
}

/// Attributes beyond this many on one element are checked for duplicates
/// with a hash set instead of a linear scan (quadratic work is a DoS).
const LINEAR_DUP_CHECK: usize = 16;

struct Parser<'a, 'b> {
    s: &'a str,
    b: &'a [u8],
    base: usize,
    limits: &'a ParseLimits,
    depth: usize,
    /// Qualified names of the open elements (byte ranges), outermost first.
    open: Stack<(u32, u32), 16>,
    /// Namespace prefixes in scope: (depth of the declaring element, prefix).
    scopes: Vec<(usize, &'a str)>,
    /// The attributes of the current start tag (reused).
    raw: Stack<RawAttr, 8>,
    /// Bloom filter of their names (see `attribute`).
    attr_bits: u64,
    /// Their names, once there are more than [`LINEAR_DUP_CHECK`].
    many: Option<HashSet<&'a str>>,
    attrs: &'b mut BodyAttrs,
    /// The namespace declarations of `<body/>` its children may rely on.
    scope: Option<Box<Scope>>,
    seen_root: bool,
    root_done: bool,
    /// Payload byte range within `s`.
    payload: (usize, usize),
    child_start: usize,
    /// Top-level child elements, relative to the payload start.
    children: Vec<(u32, u32)>,
    /// Whether to try [`Parser::root_fast`] first.
    fast_root: bool,
}

fn malformed(what: &str) -> ParseErrorKind {
    ParseErrorKind::Malformed(what.to_owned())
}

impl<'a> Parser<'a, '_> {
    fn err(&self, kind: ParseErrorKind, at: usize) -> ParseError {
        ParseError::new(kind, self.base + at)
    }

    fn run(&mut self) -> Result<(), ParseError> {
        let b = self.b;
        let mut pos = 0;
        if b.starts_with(b"<?xml") && b.get(5).is_some_and(|&c| is_xml_space(c) || c == b'?') {
            pos = self.declaration()?;
        }
        loop {
            let lt = if self.depth >= 2 {
                self.text(pos)?
            } else {
                self.space(pos)?
            };
            if lt >= b.len() {
                if self.depth > 0 {
                    return Err(self.err(ParseErrorKind::UnclosedElement, b.len()));
                }
                return Ok(());
            }
            pos = match b.get(lt + 1) {
                Some(b'/') => self.end_tag(lt)?,
                Some(b'!') => self.bang(lt)?,
                Some(b'?') => return Err(self.err(ParseErrorKind::ProcessingInstruction, lt)),
                Some(_) => self.start_tag(lt)?,
                None => return Err(self.err(malformed("input ends in markup"), lt)),
            };
        }
    }

    /// `<?xml version='1.0' encoding='UTF-8'?>` at the very start; returns
    /// the position after it.
    fn declaration(&mut self) -> Result<usize, ParseError> {
        let Some(end) = memchr::memmem::find(self.b, b"?>") else {
            return Err(self.err(malformed("unterminated XML declaration"), 0));
        };
        let content = &self.s[5..end];
        let unsupported = || self.err(ParseErrorKind::UnsupportedDeclaration, 0);
        let mut version = None;
        let mut encoding_ok = true;
        // XML 1.0 [23]: `version`, then `encoding`?, then `standalone`?,
        // each once.
        let mut last = None;
        let mut rest = content.trim_start_matches(is_xml_space_char);
        while !rest.is_empty() {
            let (name, after) = rest.split_once('=').ok_or_else(unsupported)?;
            let after = after.trim_start_matches(is_xml_space_char);
            let quote = after.chars().next().filter(|&q| q == '\'' || q == '"');
            let quote = quote.ok_or_else(unsupported)?;
            let (value, tail) = after[1..].split_once(quote).ok_or_else(unsupported)?;
            let rank = match name.trim_end_matches(is_xml_space_char) {
                "version" => {
                    version = Some(value);
                    0
                }
                "encoding" => {
                    encoding_ok = value.eq_ignore_ascii_case("utf-8");
                    1
                }
                // XML 1.0 [32].
                "standalone" if value == "yes" || value == "no" => 2,
                _ => return Err(unsupported()),
            };
            if last.map_or(rank != 0, |l| rank <= l) {
                return Err(unsupported());
            }
            last = Some(rank);
            let trimmed = tail.trim_start_matches(is_xml_space_char);
            if trimmed.len() == tail.len() && !trimmed.is_empty() {
                return Err(unsupported());
            }
            rest = trimmed;
        }
        if version != Some("1.0") || !encoding_ok {
            return Err(unsupported());
        }
        Ok(end + 2)
    }

    /// White space up to the next `<` outside elements or directly inside
    /// `<body/>`; anything else is an error there.
    fn space(&self, pos: usize) -> Result<usize, ParseError> {
        let b = self.b;
        let mut i = pos;
        while i < b.len() && is_xml_space(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] == b'<' {
            return Ok(i);
        }
        Err(self.err(self.data_outside_elements(), i))
    }

    /// Character data inside a payload element, up to the next `<`:
    /// references are checked, `]]>` is refused (XML 1.0 §2.4).
    fn text(&self, pos: usize) -> Result<usize, ParseError> {
        let b = self.b;
        let mut i = pos;
        loop {
            let Some(j) = next_markup(b, i) else {
                return Ok(b.len());
            };
            match b[j] {
                b'<' => return Ok(j),
                b'&' => i = self.reference(j)?,
                _ => {
                    if j >= pos + 2 && &b[j - 2..j] == b"]]" {
                        return Err(self.err(malformed("']]>' in text"), j - 2));
                    }
                    i = j + 1;
                }
            }
        }
    }

    /// Checks the reference starting with the `&` at `amp`; returns the
    /// position after its `;`.
    fn reference(&self, amp: usize) -> Result<usize, ParseError> {
        let b = self.b;
        match memchr::memchr2(b';', b'<', &b[amp + 1..]) {
            Some(k) if b[amp + 1 + k] == b';' => {
                let name = &self.s[amp + 1..amp + 1 + k];
                check_reference(name).map_err(|kind| self.err(kind, amp))?;
                Ok(amp + k + 2)
            }
            _ => Err(self.err(malformed("unterminated reference"), amp)),
        }
    }

    fn data_outside_elements(&self) -> ParseErrorKind {
        match (self.depth, self.root_done) {
            (1, _) => ParseErrorKind::CharacterDataInBody,
            (_, true) => ParseErrorKind::TrailingContent,
            (_, false) => malformed("character data outside the root element"),
        }
    }

    /// `<!…`: a CDATA section inside a payload element; comments, DOCTYPE
    /// and anything else are refused.
    fn bang(&self, lt: usize) -> Result<usize, ParseError> {
        let rest = &self.b[lt + 2..];
        if rest.starts_with(b"--") {
            return Err(self.err(ParseErrorKind::Comment, lt));
        }
        if rest.starts_with(b"[CDATA[") {
            if self.depth <= 1 {
                return Err(self.err(self.data_outside_elements(), lt));
            }
            let start = lt + 9;
            return match memchr::memmem::find(&self.b[start..], b"]]>") {
                Some(k) => Ok(start + k + 3),
                None => Err(self.err(malformed("unterminated CDATA section"), lt)),
            };
        }
        if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"DOCTYPE") {
            return Err(self.err(ParseErrorKind::Doctype, lt));
        }
        Err(self.err(malformed("unexpected '<!'"), lt))
    }

    /// The end of a name: the first white space, `/`, `>`, `=`, quote, `<`,
    /// `?` or `!`.
    #[inline]
    fn name_end(&self, from: usize) -> usize {
        let b = self.b;
        let mut i = from;
        while i < b.len() && NAME_CLASS[usize::from(b[i])] != DELIM {
            i += 1;
        }
        i
    }

    /// Scans a qualified name from `from` and checks it in the same pass
    /// (table-driven for ASCII, the full XML `NameChar` rules otherwise).
    /// Returns its end and `Ok(colon position)`, or `Err(())` if it is not a
    /// QName.
    #[inline]
    fn scan_qname(&self, from: usize) -> (usize, Result<Option<usize>, ()>) {
        let b = self.b;
        let mut i = from;
        let mut colon = None;
        let mut bad = false;
        let mut ascii = true;
        while i < b.len() {
            // The common case first: a run of ASCII name characters.
            let class = NAME_CLASS[usize::from(b[i])];
            if class == START || class == CHAR {
                i += 1;
                continue;
            }
            match class {
                DELIM => break,
                COLON => {
                    bad |= colon.is_some();
                    colon = Some(i);
                }
                NON_ASCII => ascii = false,
                _ => bad = true,
            }
            i += 1;
        }
        if !ascii {
            let checked = split_qname(&self.s[from..i])
                .map(|(p, _)| p.map(|p| from + p.len()))
                .ok_or(());
            return (i, checked);
        }
        let starts_name = |at: usize| at < i && NAME_CLASS[usize::from(b[at])] == START;
        let ok = !bad && starts_name(from) && colon.is_none_or(|c| starts_name(c + 1));
        (i, if ok { Ok(colon) } else { Err(()) })
    }

    #[inline]
    fn skip_space(&self, mut i: usize) -> usize {
        let b = self.b;
        while i < b.len() && is_xml_space(b[i]) {
            i += 1;
        }
        i
    }

    fn end_tag(&mut self, lt: usize) -> Result<usize, ParseError> {
        let start = lt + 2;
        let end = self.name_end(start);
        let close = self.skip_space(end);
        if self.b.get(close) != Some(&b'>') {
            return Err(self.err(malformed("malformed end tag"), lt));
        }
        let name = &self.b[start..end];
        match self.open.last() {
            Some(&(s, e)) if &self.b[s as usize..e as usize] == name => {}
            _ => return Err(self.err(ParseErrorKind::MismatchedEndTag, lt)),
        }
        self.end(lt, close + 1);
        Ok(close + 1)
    }

    fn end(&mut self, pos: usize, after: usize) {
        let depth = self.depth;
        while self.scopes.last().is_some_and(|&(d, _)| d >= depth) {
            self.scopes.pop();
        }
        self.open.pop();
        self.depth -= 1;
        match self.depth {
            0 => {
                self.root_done = true;
                if self.payload.0 < pos {
                    self.payload.1 = pos;
                }
            }
            1 => {
                let ps = self.payload.0;
                self.children
                    .push(((self.child_start - ps) as u32, (after - ps) as u32));
            }
            _ => {}
        }
    }

    /// A start tag at `lt`; returns the position after it.
    fn start_tag(&mut self, lt: usize) -> Result<usize, ParseError> {
        if self.fast_root
            && !self.seen_root
            && self.limits.max_depth > 0
            && let Some(after) = self.root_fast(lt)
        {
            return Ok(after);
        }
        let b = self.b;
        let name_start = lt + 1;
        let (name_end, checked) = self.scan_qname(name_start);
        if self.root_done {
            return Err(self.err(ParseErrorKind::TrailingContent, lt));
        }
        if self.depth >= self.limits.max_depth {
            return Err(self.err(
                ParseErrorKind::TooDeep {
                    limit: self.limits.max_depth,
                },
                lt,
            ));
        }
        let qname = &self.s[name_start..name_end];
        let colon = checked.map_err(|()| self.err(ParseErrorKind::InvalidName, lt))?;
        let (prefix, local) = match colon {
            Some(c) => (Some(&self.s[name_start..c]), &self.s[c + 1..name_end]),
            None => (None, qname),
        };

        // Attributes, up to `>` or `/>`.
        self.raw.clear();
        self.attr_bits = 0;
        if let Some(many) = &mut self.many {
            many.clear();
        }
        let mut i = name_end;
        let empty;
        loop {
            let spaced = i < b.len() && is_xml_space(b[i]);
            i = self.skip_space(i);
            match b.get(i) {
                Some(b'>') => {
                    empty = false;
                    i += 1;
                    break;
                }
                Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                    empty = true;
                    i += 2;
                    break;
                }
                None => return Err(self.err(malformed("input ends in a start tag"), lt)),
                Some(_) if !spaced => {
                    return Err(self.err(malformed("no white space before an attribute"), i));
                }
                Some(_) => i = self.attribute(lt, i)?,
            }
        }

        self.depth += 1;
        *self.open.push_slot() = (name_start as u32, name_end as u32);
        if self.depth == 1 {
            self.root(prefix, local, qname, lt)?;
            self.seen_root = true;
            self.payload = (i, i);
        } else {
            self.element(prefix, lt)?;
            if self.depth == 2 {
                self.child_start = lt;
            }
        }
        if empty {
            self.end(lt, i);
        }
        Ok(i)
    }

    /// The `<body/>` start tag at `lt` in its usual form, read in one pass
    /// straight into the typed attributes: `body` unprefixed, `xmlns` exactly
    /// httpbind, every other attribute unprefixed and one with a typed
    /// field, no value with a reference, `<`, tab, LF or CR. Returns the
    /// position after the tag, or `None` (the attributes reset) for any
    /// other tag, well-formed or not: the general path then reads it again
    /// and reports any error, so the result is the same either way.
    fn root_fast(&mut self, lt: usize) -> Option<usize> {
        let res = self.root_fast_attrs(lt);
        let Some((i, empty)) = res else {
            *self.attrs = BodyAttrs::default();
            return None;
        };
        // What `start_tag` and `root` do for this tag.
        let name_start = lt + 1;
        self.depth = 1;
        *self.open.push_slot() = (name_start as u32, (name_start + 4) as u32);
        self.seen_root = true;
        self.payload = (i, i);
        if empty {
            self.end(lt, i);
        }
        Some(i)
    }

    /// The attribute loop of [`Parser::root_fast`]: the position after the
    /// tag and whether it is empty (`/>`).
    #[inline]
    fn root_fast_attrs(&mut self, lt: usize) -> Option<(usize, bool)> {
        let b = self.b;
        let s = self.s;
        let name_start = lt + 1;
        if b.get(name_start..name_start + 4) != Some(b"body") {
            return None;
        }
        let mut i = name_start + 4;
        let mut seen_ns = false;
        loop {
            let spaced = i < b.len() && is_xml_space(b[i]);
            i = self.skip_space(i);
            match *b.get(i)? {
                b'>' => return seen_ns.then_some((i + 1, false)),
                b'/' if b.get(i + 1) == Some(&b'>') => return seen_ns.then_some((i + 2, true)),
                _ if !spaced => return None,
                _ => {}
            }
            // An ASCII name without a colon (what `scan_qname` accepts as
            // such), then `=` and a quote, usually with no space between.
            // The names of an empty request are told by their first bytes
            // with the `=`, with no scan.
            let (name_end, mut name) = match word_at(b, i) {
                Some(w) if w & 0xFFFF_FFFF == RID_EQ => (i + 3, FastName::Rid),
                Some(w) if w & 0xFFFF_FFFF == SID_EQ => (i + 3, FastName::Sid),
                Some(w) if w & 0xFFFF_FFFF == ACK_EQ => (i + 3, FastName::Ack),
                Some(w) if w & 0xFFFF_FFFF_FFFF == XMLNS_EQ => (i + 5, FastName::Xmlns),
                _ => {
                    if NAME_CLASS[usize::from(b[i])] != START {
                        return None;
                    }
                    let mut name_end = i + 1;
                    while let Some(&c) = b.get(name_end) {
                        match NAME_CLASS[usize::from(c)] {
                            START | CHAR => name_end += 1,
                            DELIM => break,
                            _ => return None,
                        }
                    }
                    (name_end, FastName::Other)
                }
            };
            let mut eq = name_end;
            if b.get(eq) != Some(&b'=') {
                eq = self.skip_space(eq);
                if b.get(eq) != Some(&b'=') {
                    return None;
                }
            }
            let mut q = eq + 1;
            if !matches!(b.get(q), Some(b'\'' | b'"')) {
                q = self.skip_space(q);
            }
            let quote = match b.get(q)? {
                &c @ (b'\'' | b'"') => c,
                _ => return None,
            };
            if name == FastName::Other {
                name = match &b[i..name_end] {
                    b"rid" => FastName::Rid,
                    b"sid" => FastName::Sid,
                    b"ack" => FastName::Ack,
                    b"xmlns" => FastName::Xmlns,
                    _ => FastName::Other,
                };
            }
            if name == FastName::Xmlns {
                // Compared in place: httpbind has nothing to unescape.
                let end = q + 1 + NS_HTTPBIND.len();
                if seen_ns
                    || b.get(q + 1..end) != Some(NS_HTTPBIND.as_bytes())
                    || b.get(end) != Some(&quote)
                {
                    return None;
                }
                seen_ns = true;
                i = end + 1;
                continue;
            }
            let end = next_in_value(b, q + 1, quote)?;
            if b[end] != quote {
                return None;
            }
            let value = &s[q + 1..end];
            let attrs = &mut *self.attrs;
            match name {
                FastName::Rid if attrs.rid.is_none() => {
                    let rid = rid_digits(value.as_bytes()).or_else(|| parse_rid("rid", value).ok());
                    attrs.rid = Some(rid?);
                }
                FastName::Ack if attrs.ack.is_none() => {
                    let ack = rid_digits(value.as_bytes()).or_else(|| parse_rid("ack", value).ok());
                    attrs.ack = Some(ack?);
                }
                FastName::Sid if attrs.sid.is_none() => {
                    Sid::store(&mut attrs.sid, value);
                }
                _ => {
                    let name = &s[i..name_end];
                    if !is_typed_plain(name) {
                        return None;
                    }
                    set_attr(attrs, None, name, name, Cow::Borrowed(value)).ok()?;
                }
            }
            i = end + 1;
        }
    }

    /// One `name='value'` at `i`; returns the position after the closing
    /// quote.
    fn attribute(&mut self, lt: usize, i: usize) -> Result<usize, ParseError> {
        let b = self.b;
        let (name_end, checked) = self.scan_qname(i);
        if name_end == i {
            return Err(self.err(malformed("expected an attribute"), i));
        }
        let colon = checked.map_err(|()| self.err(ParseErrorKind::InvalidName, lt))?;
        let eq = self.skip_space(name_end);
        if b.get(eq) != Some(&b'=') {
            return Err(self.err(malformed("attribute without a value"), i));
        }
        let q = self.skip_space(eq + 1);
        let quote = match b.get(q) {
            Some(&c @ (b'\'' | b'"')) => c,
            _ => return Err(self.err(malformed("unquoted attribute value"), q)),
        };
        // One pass to the closing quote, eight bytes at a time, noting what
        // needs a closer look: `<` and `&` (checked below), and tab, LF and
        // CR, the only bytes below 0x20 left (normalized when unescaping).
        let mut j = q + 1;
        let mut special = false;
        let mut spaces = false;
        loop {
            let Some(k) = next_in_value(b, j, quote) else {
                return Err(self.err(malformed("unterminated attribute value"), q));
            };
            match b[k] {
                c if c == quote => {
                    j = k;
                    break;
                }
                b'<' | b'&' => special = true,
                _ => spaces = true,
            }
            j = k + 1;
        }
        if special {
            let value = &self.s[q + 1..j];
            check_attr_value(value).map_err(|(at, kind)| self.err(kind, q + 1 + at))?;
        }
        // Duplicates by qualified name (XML 1.0 §3.1, WFC: Unique Att Spec).
        let qname = &self.s[i..name_end];
        let s = self.s;
        let dup = if self.raw.len() < LINEAR_DUP_CHECK {
            // A one-word Bloom filter over (length, first and last byte)
            // spares the scan for all but true or likely duplicates.
            // (Chosen so that the attribute sets of the usual bodies and
            // stanzas have no collision: `sid` and `xmlns` had one.)
            let bit = 1u64
                << (((name_end - i) + usize::from(b[i]) + 7 * usize::from(b[name_end - 1])) & 63);
            let maybe = self.attr_bits & bit != 0;
            self.attr_bits |= bit;
            maybe && self.raw.as_slice().iter().any(|a| a.qname(s) == qname)
        } else {
            let raw = &self.raw;
            let many = self
                .many
                .get_or_insert_with(|| HashSet::with_capacity(4 * LINEAR_DUP_CHECK));
            if many.is_empty() {
                many.extend(raw.as_slice().iter().map(|a| a.qname(s)));
            }
            !many.insert(qname)
        };
        if dup {
            return Err(self.err(
                ParseErrorKind::DuplicateAttribute {
                    name: truncate(qname, 64),
                },
                i,
            ));
        }
        let slot = self.raw.push_slot();
        slot.start = i as u32;
        slot.colon = colon.map_or(NO_COLON, |c| c as u32);
        slot.end = name_end as u32;
        slot.value = (q + 1) as u32;
        slot.value_end = j as u32;
        slot.plain = !special && !spaces;
        Ok(j + 1)
    }

    /// Checks a payload element's namespace declarations and prefixes.
    fn element(&mut self, prefix: Option<&'a str>, lt: usize) -> Result<(), ParseError> {
        let depth = self.depth;
        let s = self.s;
        let mut prefixed = prefix.is_some();
        for a in self.raw.as_slice() {
            match a.prefix(s) {
                None if a.qname_bytes(self.b) == b"xmlns"
                    && !is_allowed_ns_decl(None, &a.unescaped(s)) =>
                {
                    return Err(self.err(ParseErrorKind::InvalidNamespaceDecl, lt));
                }
                None => {}
                Some("xmlns") => {
                    check_ns_decl(a.local(s), &a.unescaped(s)).map_err(|k| self.err(k, lt))?;
                    if self.scopes.len() >= MAX_NAMESPACES_IN_SCOPE {
                        return Err(self.err(
                            ParseErrorKind::TooManyNamespaces {
                                limit: MAX_NAMESPACES_IN_SCOPE,
                            },
                            lt,
                        ));
                    }
                    self.scopes.push((depth, a.local(s)));
                }
                Some(_) => prefixed = true,
            }
        }
        if !prefixed {
            return Ok(());
        }
        let bound = |p: &str| p == "xml" || self.scopes.iter().rev().any(|&(_, q)| q == p);
        let unbound = prefix.filter(|p| !bound(p)).or_else(|| {
            self.raw
                .as_slice()
                .iter()
                .filter_map(|a| a.prefix(s))
                .find(|&p| p != "xmlns" && !bound(p))
        });
        if let Some(p) = unbound {
            return Err(self.err(
                ParseErrorKind::UnboundPrefix {
                    prefix: truncate(p, 64),
                },
                lt,
            ));
        }
        Ok(())
    }

    /// Reads the `<body/>` start tag into typed attributes (XEP-0124 §22).
    fn root(
        &mut self,
        prefix: Option<&'a str>,
        local: &str,
        qname: &str,
        pos: usize,
    ) -> Result<(), ParseError> {
        if local != "body" {
            return Err(self.err(
                ParseErrorKind::NotBody {
                    name: truncate(qname, 64),
                },
                pos,
            ));
        }
        // Namespace declarations first, so that order does not matter. Names
        // are compared as bytes (no character-boundary checks).
        let s = self.s;
        let b = self.b;
        let mut default_ns: Option<Cow<'_, str>> = None;
        let mut namespaces: Vec<NamespaceDecl> = Vec::new();
        // Whether an attribute other than a declaration has a prefix.
        let mut prefixed = false;
        for a in self.raw.as_slice() {
            if a.colon == NO_COLON {
                if a.qname_bytes(b) == b"xmlns" {
                    let uri = a.unescaped(s);
                    if !is_allowed_ns_decl(None, &uri) {
                        return Err(self.err(ParseErrorKind::InvalidNamespaceDecl, pos));
                    }
                    default_ns = Some(uri);
                }
            } else if a.prefix_bytes(b) == b"xmlns" {
                check_ns_decl(a.local(s), &a.unescaped(s)).map_err(|k| self.err(k, pos))?;
                if namespaces.len() >= MAX_NAMESPACES_IN_SCOPE {
                    return Err(self.err(
                        ParseErrorKind::TooManyNamespaces {
                            limit: MAX_NAMESPACES_IN_SCOPE,
                        },
                        pos,
                    ));
                }
                namespaces.push(NamespaceDecl {
                    prefix: a.local(s).to_owned(),
                    uri: a.unescaped(s).into_owned(),
                });
            } else {
                prefixed = true;
            }
        }
        if !namespaces.is_empty() {
            for a in self.raw.as_slice() {
                if a.colon != NO_COLON && a.prefix_bytes(b) == b"xmlns" {
                    self.scopes.push((1, a.local(s)));
                }
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

        let attrs = &mut *self.attrs;
        let err = |kind| ParseError::new(kind, self.base + pos);
        for a in self.raw.as_slice() {
            if a.colon == NO_COLON {
                if a.qname_bytes(b) != b"xmlns" {
                    set_plain_attr(attrs, a.qname(s), a.unescaped(s)).map_err(err)?;
                }
                continue;
            }
            if !prefixed {
                continue;
            }
            let ns = match a.prefix(s) {
                Some("xmlns") => continue,
                Some(p) => match resolve(p) {
                    Some(ns) => ns,
                    // Lenient: an undeclared `xmpp` prefix means urn:xmpp:xbosh.
                    None if p == "xmpp" => NS_XBOSH,
                    None => {
                        return Err(err(ParseErrorKind::UnboundPrefix {
                            prefix: truncate(p, 64),
                        }));
                    }
                },
                None => continue,
            };
            set_attr(attrs, Some(ns), a.local(s), a.qname(s), a.unescaped(s)).map_err(err)?;
        }
        if !namespaces.is_empty() || child_default_ns.is_some() {
            self.scope = Some(Box::new(Scope {
                namespaces,
                child_default_ns,
            }));
        }
        Ok(())
    }
}

/// Byte classes for names in tags: delimiters (XML white space, `/`, `>`,
/// `=`, quotes, `<`, `?`, `!`), ASCII name-start characters, other ASCII
/// name characters, the colon, bytes of non-ASCII characters (checked with
/// the full XML rules) and ASCII that no name may contain.
const DELIM: u8 = 0;
const START: u8 = 1;
const CHAR: u8 = 2;
const COLON: u8 = 3;
const NON_ASCII: u8 = 4;
const NOT_NAME: u8 = 5;

static NAME_CLASS: [u8; 256] = {
    let mut t = [NOT_NAME; 256];
    let mut i = 0x80;
    while i < 256 {
        t[i] = NON_ASCII;
        i += 1;
    }
    let mut c = b'a';
    while c <= b'z' {
        t[c as usize] = START;
        t[(c - b'a' + b'A') as usize] = START;
        c += 1;
    }
    t[b'_' as usize] = START;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = CHAR;
        d += 1;
    }
    t[b'-' as usize] = CHAR;
    t[b'.' as usize] = CHAR;
    t[b':' as usize] = COLON;
    let delims = b" \t\r\n/>='\"<?!";
    let mut k = 0;
    while k < delims.len() {
        t[delims[k] as usize] = DELIM;
        k += 1;
    }
    t
};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `i`, little-endian, if there are eight.
#[inline(always)]
fn word_at(b: &[u8], i: usize) -> Option<u64> {
    let chunk = b.get(i..i + 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    Some(u64::from_le_bytes(w))
}

/// High bit of each byte of `x` that is zero; the lowest one set marks the
/// first zero byte exactly (borrows only run upwards).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// The first byte at or after `from` that is `quote`, `<`, `&` or below 0x20.
#[inline(always)]
fn next_in_value(b: &[u8], from: usize, quote: u8) -> Option<usize> {
    let (q, lt, amp) = (
        LO * u64::from(quote),
        LO * u64::from(b'<'),
        LO * u64::from(b'&'),
    );
    let mut i = from;
    while let Some(x) = word_at(b, i) {
        let below_space = x.wrapping_sub(LO * 0x20) & !x & HI;
        let m = zero_bytes(x ^ q) | zero_bytes(x ^ lt) | zero_bytes(x ^ amp) | below_space;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == quote || c == b'<' || c == b'&' || c < 0x20)
        .map(|k| i + k)
}

/// The first `<`, `&` or `>` at or after `from`: word by word for the
/// short runs of text between tags, then `memchr` for long ones.
#[inline(always)]
fn next_markup(b: &[u8], from: usize) -> Option<usize> {
    let (lt, amp, gt) = (
        LO * u64::from(b'<'),
        LO * u64::from(b'&'),
        LO * u64::from(b'>'),
    );
    let mut i = from;
    for _ in 0..4 {
        let Some(x) = word_at(b, i) else {
            return b[i..]
                .iter()
                .position(|&c| matches!(c, b'<' | b'&' | b'>'))
                .map(|k| i + k);
        };
        let m = zero_bytes(x ^ lt) | zero_bytes(x ^ amp) | zero_bytes(x ^ gt);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr3(b'<', b'&', b'>', &b[i..]).map(|k| i + k)
}

/// `xmlns:prefix='uri'` (the value unescaped): an NCName bound to a
/// non-empty URI, within the reserved-namespace rules.
fn check_ns_decl(prefix: &str, uri: &str) -> Result<(), ParseErrorKind> {
    let ok = is_ncname(prefix) && !uri.is_empty() && is_allowed_ns_decl(Some(prefix), uri);
    if ok {
        Ok(())
    } else {
        Err(ParseErrorKind::InvalidNamespaceDecl)
    }
}

/// Unescapes and normalizes an attribute value already checked by
/// `check_attr_value` (XML 1.0 §3.3.3).
#[inline(never)]
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
    // The usual case: at most 15 digits and nothing else (no overflow is
    // possible, and the value only grows digit by digit, so checking `max`
    // once at the end is the same as checking it at each step).
    let b = value.as_bytes();
    if let Some(n) = digits_8_to_15(b) {
        return (n <= max).then_some(n);
    }
    if !b.is_empty() && b.len() < 8 && b.iter().all(u8::is_ascii_digit) {
        let n = b.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        return (n <= max).then_some(n);
    }
    let v = trim_xml_space(value);
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

/// The value of eight ASCII decimal digits read little-endian (the first
/// digit in the low byte), or `None` if one byte is not a digit.
#[inline]
fn eight_digits(x: u64) -> Option<u64> {
    // Every byte in 0x30..=0x39: high nibble 3, and adding 6 keeps it 3.
    let hi = 0xF0F0_F0F0_F0F0_F0F0u64;
    if x & hi != LO * 0x30 || (x.wrapping_add(LO * 0x06)) & hi != LO * 0x30 {
        return None;
    }
    let mut v = x - LO * 0x30;
    v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v * 10000 + (v >> 32)) & 0xFFFF_FFFF;
    Some(v)
}

/// A rid written as 8 to 15 digits and nothing else, read eight digits at
/// a time (what [`parse_rid`] gives for such a value); `None` for any
/// other value.
#[inline]
fn rid_digits(v: &[u8]) -> Option<Rid> {
    digits_8_to_15(v).and_then(Rid::new)
}

/// The value of 8 to 15 ASCII digits, eight at a time; `None` for any other
/// input.
#[inline]
fn digits_8_to_15(v: &[u8]) -> Option<u64> {
    const POW10: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];
    let n = v.len();
    if !(8..=15).contains(&n) {
        return None;
    }
    let high = eight_digits(word_at(v, 0)?)?;
    if n == 8 {
        return Some(high);
    }
    // The last eight bytes, overlapping the first eight: the overlap (the
    // low bytes, already checked) is read as zeros.
    let overlap = (1u64 << (8 * (16 - n))) - 1;
    let last = (word_at(v, n - 8)? & !overlap) | ((LO * 0x30) & overlap);
    Some(high * POW10[n - 8] + eight_digits(last)?)
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
    trim_xml_space(v)
        .parse()
        .map_err(|_| invalid(name, v, "major.minor"))
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ParseErrorKind> {
    match trim_xml_space(v) {
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

/// Stores `sid` in place (see [`Sid::store`]), refusing a second one.
fn set_sid(a: &mut BodyAttrs, v: &str) -> Result<(), ParseErrorKind> {
    if a.sid.is_some() {
        return Err(ParseErrorKind::DuplicateAttribute {
            name: "sid".to_owned(),
        });
    }
    Sid::store(&mut a.sid, v);
    Ok(())
}

/// Whether `name`, unprefixed, is an attribute with a typed field in
/// [`BodyAttrs`] (one `set_attr` stores there, refusing a second one).
fn is_typed_plain(name: &str) -> bool {
    matches!(
        name,
        "rid"
            | "sid"
            | "to"
            | "from"
            | "route"
            | "ver"
            | "wait"
            | "hold"
            | "requests"
            | "polling"
            | "inactivity"
            | "maxpause"
            | "pause"
            | "ack"
            | "report"
            | "time"
            | "accept"
            | "charsets"
            | "content"
            | "key"
            | "newkey"
            | "stream"
            | "authid"
            | "type"
            | "condition"
    )
}

/// Stores one unprefixed `<body/>` attribute in its typed field: the usual
/// ones of an empty request are picked by length and bytes first.
#[inline]
fn set_plain_attr(a: &mut BodyAttrs, name: &str, v: Cow<'_, str>) -> Result<(), ParseErrorKind> {
    match name.as_bytes() {
        b"rid" => set(&mut a.rid, "rid", parse_rid("rid", &v)?),
        b"sid" => set_sid(a, &v),
        b"ack" => set(&mut a.ack, "ack", parse_rid("ack", &v)?),
        _ => set_attr(a, None, name, name, v),
    }
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
        (None, "sid") => set_sid(a, &v),
        (None, "to") => set(&mut a.creation_mut().to, "to", owned()),
        (None, "from") => set(&mut a.creation_mut().from, "from", owned()),
        (None, "route") => set(&mut a.creation_mut().route, "route", owned()),
        (Some(NS_XML), "lang") => set(&mut a.creation_mut().xml_lang, "xml:lang", owned()),
        (None, "ver") => set(&mut a.creation_mut().ver, "ver", parse_version("ver", &v)?),
        (None, "wait") => set(&mut a.creation_mut().wait, "wait", parse_u16("wait", &v)?),
        (None, "hold") => set(&mut a.creation_mut().hold, "hold", parse_u8("hold", &v)?),
        (None, "requests") => set(
            &mut a.creation_mut().requests,
            "requests",
            parse_u8("requests", &v)?,
        ),
        (None, "polling") => set(
            &mut a.creation_mut().polling,
            "polling",
            parse_u16("polling", &v)?,
        ),
        (None, "inactivity") => set(
            &mut a.creation_mut().inactivity,
            "inactivity",
            parse_u16("inactivity", &v)?,
        ),
        (None, "maxpause") => set(
            &mut a.creation_mut().maxpause,
            "maxpause",
            parse_u16("maxpause", &v)?,
        ),
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
            set(&mut a.creation_mut().accept, "accept", list)
        }
        (None, "charsets") => {
            let list = v.split_ascii_whitespace().map(str::to_owned).collect();
            set(&mut a.creation_mut().charsets, "charsets", list)
        }
        (None, "content") => set(&mut a.creation_mut().content, "content", owned()),
        (None, "key") => set(&mut a.key, "key", owned()),
        (None, "newkey") => set(&mut a.newkey, "newkey", owned()),
        (None, "stream") => set(&mut a.stream, "stream", owned()),
        (None, "authid") => set(&mut a.creation_mut().authid, "authid", owned()),
        (None, "type") => {
            let t = match trim_xml_space(&v) {
                "terminate" => BodyType::Terminate,
                "error" => BodyType::Error,
                _ => return Err(invalid("type", &v, "terminate or error")),
            };
            set(&mut a.body_type, "type", t)
        }
        (None, "condition") => {
            let c: Condition = trim_xml_space(&v)
                .parse()
                .map_err(|_| invalid("condition", &v, "a condition of XEP-0124 section 17.2"))?;
            set(&mut a.condition, "condition", c)
        }
        (Some(NS_XBOSH), "version") => set(
            &mut a.creation_mut().xmpp_version,
            "xmpp:version",
            parse_version("xmpp:version", &v)?,
        ),
        (Some(NS_XBOSH), "restart") => set(
            &mut a.xmpp_restart,
            "xmpp:restart",
            parse_bool("xmpp:restart", &v)?,
        ),
        (Some(NS_XBOSH), "restartlogic") => set(
            &mut a.creation_mut().xmpp_restartlogic,
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

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "<body xmlns='http://jabber.org/protocol/httpbind'";

    fn parse_str(s: &str) -> Result<Body, ParseError> {
        parse(s.as_bytes(), &ParseLimits::default())
    }

    #[test]
    fn many_attributes_are_checked_for_duplicates_past_the_linear_scan() {
        let attrs: String = (0..40).map(|i| format!(" a{i}='{i}'")).collect();
        let ok = format!("{B}><m{attrs}/><n{attrs}/></body>");
        assert_eq!(parse_str(&ok).unwrap().elements().count(), 2);
        let dup = format!("{B}><m{attrs} a7='again'/></body>");
        assert!(matches!(
            parse_str(&dup).unwrap_err().kind,
            ParseErrorKind::DuplicateAttribute { name } if name == "a7"
        ));
        let dup_on_body = format!("{B}{attrs} a39='x'/>");
        assert!(matches!(
            parse_str(&dup_on_body).unwrap_err().kind,
            ParseErrorKind::DuplicateAttribute { .. }
        ));
    }

    #[test]
    fn deep_nesting_and_many_attributes_spill_the_inline_stacks() {
        let open: String = (0..40).map(|i| format!("<e{i}>")).collect();
        let close: String = (0..40).rev().map(|i| format!("</e{i}>")).collect();
        let body = parse_str(&format!("{B}>{open}{close}</body>")).unwrap();
        assert_eq!(body.elements().count(), 1);
        let bad: String = (0..40).rev().map(|i| format!("</e{}>", i ^ 1)).collect();
        assert_eq!(
            parse_str(&format!("{B}>{open}{bad}</body>"))
                .unwrap_err()
                .kind,
            ParseErrorKind::MismatchedEndTag
        );
        // The prefix is declared by the tenth attribute.
        let attrs: String = (0..9).map(|i| format!(" a{i}='{i}'")).collect();
        let ok = format!("{B}><p:m{attrs} xmlns:p='urn:p' p:x='1'/></body>");
        assert!(parse_str(&ok).is_ok());
    }

    #[test]
    fn attributes_must_be_separated_by_white_space() {
        // XML 1.0 §3.1: STag ::= '<' Name (S Attribute)* S? '>'.
        for bad in [
            format!("{B}><m a='1'b='2'/></body>"),
            format!("{B} rid='1'sid='x'/>"),
        ] {
            assert!(matches!(
                parse_str(&bad).unwrap_err().kind,
                ParseErrorKind::Malformed(_)
            ));
        }
        assert!(parse_str(&format!("{B}><m\ta='1'\nb=\"2\"\r\n/></body>")).is_ok());
    }

    #[test]
    fn names_are_checked_in_the_scan() {
        for (name, ok) in [
            ("m", true),
            ("_m-1.x", true),
            ("ünï", true),
            ("a:b", false), // unbound prefix, but a valid QName
            ("1m", false),
            ("-m", false),
            ("a:", false),
            (":a", false),
            ("a:1", false),
            ("a:b:c", false),
            ("m#", false),
            ("m\u{D7}", false),
        ] {
            let res = parse_str(&format!("{B}><{name}/></body>"));
            assert_eq!(res.is_ok(), ok, "{name}: {res:?}");
            if name == "a:b" {
                assert!(matches!(
                    res.unwrap_err().kind,
                    ParseErrorKind::UnboundPrefix { .. }
                ));
            } else if !ok {
                assert_eq!(res.unwrap_err().kind, ParseErrorKind::InvalidName, "{name}");
            }
        }
    }

    #[test]
    fn attribute_values_are_scanned_word_by_word_and_byte_by_byte() {
        for len in 0..40 {
            let v = "x".repeat(len);
            for (tail, ok) in [("", true), ("&amp;", true), ("<", false), ("&x;", false)] {
                let doc = format!("{B} sid='{v}{tail}{v}'/>");
                let res = parse_str(&doc);
                assert_eq!(res.is_ok(), ok, "{doc}");
                if ok {
                    let sid = res.unwrap().attrs.sid.unwrap();
                    assert_eq!(sid.len(), 2 * len + usize::from(!tail.is_empty()));
                }
            }
            let doc = format!("{B} sid='{v}\t{v}' to=\"{v}'{v}\"/>");
            let a = parse_str(&doc).unwrap().attrs;
            assert_eq!(a.sid.as_deref().unwrap(), format!("{v} {v}"));
            assert_eq!(a.creation().to.as_deref().unwrap(), format!("{v}'{v}"));
        }
    }

    /// The fast path for the `<body/>` start tag gives exactly what the
    /// general path gives (body or error, with its position), on tags it
    /// takes and on tags it hands back.
    #[test]
    fn the_fast_root_path_matches_the_general_path() {
        let names = [
            "rid",
            "sid",
            "xmlns",
            "ack",
            "to",
            "wait",
            "hold",
            "ver",
            "type",
            "condition",
            "accept",
            "charsets",
            "secure",
            "foo",
            "xml:lang",
            "xmpp:version",
            "xmlns:xmpp",
            "report",
            "time",
            "key",
            "1x",
            "r\u{e9}",
            "a:b",
            "xmlns:b",
        ];
        let values = [
            "1573741821",
            "9007199254740991",
            "9007199254740992",
            "0",
            "+12",
            " 12 ",
            "123456789012345",
            "12345678x",
            "SomeSID",
            "",
            "a&amp;b",
            "a\tb",
            "a<b",
            "http://jabber.org/protocol/httpbind",
            "urn:xmpp:xbosh",
            "1.6",
            "terminate",
            "item-not-found",
            "gzip, deflate",
            "urn:other",
        ];
        let seps = [" ", "  ", "\n", ""];
        let eqs = ["=", " = ", "=\t"];
        let ends = [
            "/>",
            " />",
            ">",
            "></body>",
            "><m xmlns='jabber:client'/></body>",
            "><b:m/></body>",
            "/",
            "",
            "/> ",
            "/>x",
        ];
        let heads = [
            "<body",
            "<body",
            "<body",
            "<b:body xmlns:b='http://jabber.org/protocol/httpbind'",
            "<bodyx",
            "<body:a",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let limits = ParseLimits::default();
        for round in 0..40_000 {
            let mut doc = String::from(heads[next(heads.len())]);
            let n = next(5);
            for k in 0..n {
                doc.push_str(seps[if next(8) == 0 { next(seps.len()) } else { 0 }]);
                let name = match (round % 3, k) {
                    (0, 0) => "xmlns",
                    (0, 1) => "rid",
                    (0, 2) => "sid",
                    _ => names[next(names.len())],
                };
                let value = match name {
                    "xmlns" if next(4) != 0 => NS_HTTPBIND,
                    "rid" | "ack" if next(3) != 0 => values[next(8)],
                    _ => values[next(values.len())],
                };
                let eq = eqs[if next(8) == 0 { next(eqs.len()) } else { 0 }];
                let q = if next(4) == 0 { '"' } else { '\'' };
                doc.push_str(&format!("{name}{eq}{q}{value}{q}"));
            }
            doc.push_str(ends[next(ends.len())]);
            let fast = parse_with(Bytes::from(doc.clone()), &limits, true);
            let general = parse_with(Bytes::from(doc.clone()), &limits, false);
            assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{doc}");
        }
        for doc in [
            format!("{B} rid='1' sid='s'/>"),
            format!("{B} rid='1' rid='2'/>"),
            format!("{B} sid='1' sid='2'/>"),
            format!("{B} secure='true' secure='false'/>"),
            format!("{B} foo='1' foo='2'/>"),
            format!("{B} xmlns='{NS_HTTPBIND}'/>"),
            "<body rid='1'/>".to_owned(),
            format!("{B}/><body/>"),
        ] {
            let fast = parse_with(Bytes::from(doc.clone()), &limits, true);
            let general = parse_with(Bytes::from(doc.clone()), &limits, false);
            assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{doc}");
            let shallow = ParseLimits {
                max_depth: 0,
                ..limits
            };
            assert!(parse_with(Bytes::from(doc), &shallow, true).is_err());
        }
    }

    #[test]
    fn eight_digits_at_a_time() {
        for v in [
            "12345678",
            "00000000",
            "99999999",
            "1234567890",
            "123456789012345",
            "1234567/",
            "1234567:",
            "/2345678",
            ":2345678",
            "12345678a",
            "123 5678",
        ] {
            let slow = if v.bytes().all(|b| b.is_ascii_digit()) {
                v.parse::<u64>().ok()
            } else {
                None
            };
            assert_eq!(parse_uint(v, u64::MAX >> 1), slow, "{v}");
        }
        // Every length, and every position of a byte just outside the
        // digits (the overlapping second word included).
        let digits = "9876543210123456";
        for len in 1..=16 {
            let v = &digits[..len];
            assert_eq!(parse_uint(v, u64::MAX >> 1), v.parse().ok(), "{v}");
            for at in 0..len {
                for c in ['/', ':', 'a', ' '] {
                    let mut bad = v.to_owned();
                    bad.replace_range(at..=at, &c.to_string());
                    let slow = bad
                        .trim_matches(' ')
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| bad.trim_matches(' ').parse::<u64>().ok())
                        .flatten();
                    assert_eq!(parse_uint(&bad, u64::MAX >> 1), slow, "{bad:?}");
                }
            }
        }
    }

    #[test]
    fn xml_declaration_pseudo_attributes_are_checked() {
        for (decl, ok) in [
            ("<?xml version='1.0'?>", true),
            (
                "<?xml version=\"1.0\" encoding='utf-8' standalone='yes' ?>",
                true,
            ),
            ("<?xml version='1.0' encoding='UTF-8'?>", true),
            ("<?xml version='1.1'?>", false),
            ("<?xml encoding='utf-8'?>", false),
            ("<?xml version='1.0' bogus='1'?>", false),
            ("<?xml version='1.0'encoding='utf-8'?>", false),
            ("<?xml?>", false),
            // XML 1.0 [23]: in this order, each once; [32]: yes or no.
            ("<?xml encoding='UTF-8' version='1.0'?>", false),
            (
                "<?xml version='1.0' standalone='no' encoding='UTF-8'?>",
                false,
            ),
            ("<?xml version='1.0' version='1.0'?>", false),
            ("<?xml version='1.0' standalone='maybe'?>", false),
            ("<?xml version='1.0' standalone='no'?>", true),
        ] {
            let res = parse_str(&format!("{decl}{B}/>"));
            assert_eq!(res.is_ok(), ok, "{decl}: {res:?}");
            if !ok {
                assert_eq!(
                    res.unwrap_err().kind,
                    ParseErrorKind::UnsupportedDeclaration
                );
            }
        }
    }
}
