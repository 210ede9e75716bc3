//! Small XML helpers shared by the codec: name and reference validation,
//! escaping, and making a payload element standalone.

use bytes::{Bytes, BytesMut};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::attrs::NamespaceDecl;
use super::error::ParseErrorKind;

/// The namespace bound to the `xml` prefix (XML Namespaces §3).
pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// XML 1.0 `S` (white space).
pub(crate) fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// XML 1.0 `Char`.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Finds the first byte of `input` (valid UTF-8) that starts a character XML
/// 1.0 forbids: C0 controls other than tab, LF and CR, and U+FFFE / U+FFFF.
///
/// Eight bytes at a time: a word with no byte below 0x20 and no 0xEF byte
/// (the lead byte of U+FFFE and U+FFFF) needs no closer look.
pub(crate) fn find_invalid_char(input: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Nonzero if some byte of `x` is below 0x20 or equal to 0xEF.
    fn suspicious(x: u64) -> u64 {
        let below = x.wrapping_sub(LOW * 0x20) & !x & HIGH;
        let y = x ^ (LOW * 0xEF);
        below | (y.wrapping_sub(LOW) & !y & HIGH)
    }
    fn word(b: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        u64::from_le_bytes(w)
    }
    let mut i = 0;
    // 32 bytes a step, four independent words for instruction-level parallelism.
    while i + 32 <= input.len() {
        let c = &input[i..i + 32];
        let m = suspicious(word(c))
            | suspicious(word(&c[8..]))
            | suspicious(word(&c[16..]))
            | suspicious(word(&c[24..]));
        if m != 0
            && let Some(j) = scan_invalid(&input[i..(i + 34).min(input.len())], 32)
        {
            return Some(i + j);
        }
        i += 32;
    }
    scan_invalid(&input[i..], input.len() - i).map(|j| i + j)
}

/// Byte-by-byte check of the first `n` bytes of `input` (which may extend
/// past them so that a three-byte sequence starting near the end is seen).
fn scan_invalid(input: &[u8], n: usize) -> Option<usize> {
    (0..n.min(input.len())).find(|&i| {
        let b = input[i];
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || (b == 0xEF
                && input.get(i + 1) == Some(&0xBF)
                && matches!(input.get(i + 2), Some(0xBE | 0xBF)))
    })
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | 'a'..='z' | '_'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML Namespaces `NCName`: an XML name without a colon.
pub(crate) fn is_ncname(s: &str) -> bool {
    let b = s.as_bytes();
    if let Some(&first) = b.first()
        && b.is_ascii()
    {
        return (first.is_ascii_alphabetic() || first == b'_')
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_name_start(c) => chars.all(is_name_char),
        _ => false,
    }
}

/// Splits a `QName` into prefix and local part, or `None` if it is not one.
pub(crate) fn split_qname(name: &str) -> Option<(Option<&str>, &str)> {
    match name.bytes().position(|b| b == b':') {
        None => is_ncname(name).then_some((None, name)),
        Some(i) => {
            let (p, l) = (&name[..i], &name[i + 1..]);
            (is_ncname(p) && is_ncname(l)).then_some((Some(p), l))
        }
    }
}

/// Checks the body of a reference (`name` in `&name;`): one of the five
/// predefined entities or a character reference to an XML `Char`.
pub(crate) fn check_reference(name: &str) -> Result<(), ParseErrorKind> {
    if let Some(num) = name.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(ParseErrorKind::InvalidCharRef);
        }
        let code =
            u32::from_str_radix(digits, radix).map_err(|_| ParseErrorKind::InvalidCharRef)?;
        return match char::from_u32(code) {
            Some(c) if is_xml_char(c) => Ok(()),
            _ => Err(ParseErrorKind::InvalidCharRef),
        };
    }
    match name {
        "lt" | "gt" | "amp" | "apos" | "quot" => Ok(()),
        _ => Err(ParseErrorKind::UndefinedEntity {
            name: truncate(name, 64),
        }),
    }
}

/// Checks a raw attribute value: no `<`, and every `&` starts a valid reference.
/// On failure, returns the byte offset within `raw` and the error.
pub(crate) fn check_attr_value(raw: &str) -> Result<(), (usize, ParseErrorKind)> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(j) = memchr::memchr2(b'<', b'&', &bytes[i..]) {
        let at = i + j;
        if bytes[at] == b'<' {
            return Err((at, ParseErrorKind::LtInAttributeValue));
        }
        let end = raw[at + 1..].find(';').ok_or((
            at,
            ParseErrorKind::Malformed("unterminated reference".into()),
        ))?;
        check_reference(&raw[at + 1..at + 1 + end]).map_err(|k| (at, k))?;
        i = at + end + 2;
    }
    Ok(())
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Escapes an attribute value for a single-quoted attribute. Tab, LF and CR
/// become character references so that attribute-value normalization on the
/// way back in preserves them; characters XML cannot carry become U+FFFD.
pub(crate) fn escape_attr(value: &str, out: &mut Vec<u8>) {
    let mut last = 0;
    for (i, c) in value.char_indices() {
        let rep: &[u8] = match c {
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            '\'' => b"&apos;",
            '"' => b"&quot;",
            '\t' => b"&#9;",
            '\n' => b"&#10;",
            '\r' => b"&#13;",
            c if !is_xml_char(c) => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        out.extend_from_slice(&value.as_bytes()[last..i]);
        out.extend_from_slice(rep);
        last = i + c.len_utf8();
    }
    out.extend_from_slice(&value.as_bytes()[last..]);
}

/// Escapes character data (`&`, `<`, `>`); characters XML cannot carry
/// become U+FFFD.
pub(crate) fn escape_text(value: &str, out: &mut Vec<u8>) {
    let mut last = 0;
    for (i, c) in value.char_indices() {
        let rep: &[u8] = match c {
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            c if !is_xml_char(c) => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        out.extend_from_slice(&value.as_bytes()[last..i]);
        out.extend_from_slice(rep);
        last = i + c.len_utf8();
    }
    out.extend_from_slice(&value.as_bytes()[last..]);
}

/// The qualified name of an element given as its bytes (`<name …`).
pub(crate) fn element_qname(element: &[u8]) -> Option<&str> {
    let rest = element.strip_prefix(b"<")?;
    let end = rest
        .iter()
        .position(|&b| is_xml_space(b) || b == b'/' || b == b'>')
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()
}

/// Whether the element is `stream:<local>` (XEP-0206 §2).
pub(crate) fn is_stream_element(element: &[u8], local: &[u8]) -> bool {
    element_qname(element).is_some_and(|n| {
        n.as_bytes()
            .strip_prefix(b"stream:")
            .is_some_and(|l| l == local)
    })
}

/// The unescaped text content of a simple element such as `<uri>…</uri>`.
pub(crate) fn simple_text(element: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(element).ok()?;
    let mut reader = Reader::from_str(s);
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Text(t) => text.push_str(&t),
            Event::CData(t) => text.push_str(&t),
            Event::GeneralRef(r) => match r.resolve_char_ref().ok()? {
                Some(c) => text.push(c),
                None => text.push_str(predefined_entity(&r)?),
            },
            Event::Eof => return Some(text),
            _ => {}
        }
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

/// Makes `element` standalone: adds to its start tag the declarations of the
/// prefixes from `decls` that it uses without declaring, and `default_ns` if
/// given and the element declares no default namespace of its own.
pub(crate) fn make_standalone(
    element: Bytes,
    decls: &[NamespaceDecl],
    default_ns: Option<&str>,
) -> Bytes {
    let Ok(s) = std::str::from_utf8(&element) else {
        return element;
    };
    let mut needed: Vec<&NamespaceDecl> = Vec::new();
    let mut needs_default = false;
    let mut scopes: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut reader = Reader::from_str(s);
    loop {
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(_) => return element,
        };
        let (start, empty) = match ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                scopes.retain(|&(d, _)| d < depth);
                depth -= 1;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        depth += 1;
        let mut used: Vec<String> = Vec::new();
        let mut own_default = false;
        let name = start.name().into_inner();
        if let Some((p, _)) = name.split_once(':') {
            used.push(p.to_owned());
        }
        for attr in start.attributes().flatten() {
            let key = attr.key.into_inner();
            if key == "xmlns" {
                own_default = true;
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                scopes.push((depth, p.to_owned()));
            } else if let Some((p, _)) = key.split_once(':') {
                used.push(p.to_owned());
            }
        }
        if depth == 1 && !own_default && default_ns.is_some() {
            needs_default = true;
        }
        for p in used {
            if p == "xml" || scopes.iter().any(|(_, q)| *q == p) {
                continue;
            }
            if let Some(d) = decls.iter().rev().find(|d| d.prefix == p)
                && !needed.iter().any(|n| n.prefix == p)
            {
                needed.push(d);
            }
        }
        if empty {
            scopes.retain(|&(d, _)| d < depth);
            depth -= 1;
        }
    }
    if needed.is_empty() && !needs_default {
        return element;
    }
    let name_len = element_qname(&element).map_or(0, str::len);
    let mut out = BytesMut::with_capacity(element.len() + 64);
    let mut buf = Vec::with_capacity(64);
    if let (true, Some(ns)) = (needs_default, default_ns) {
        buf.extend_from_slice(b" xmlns='");
        escape_attr(ns, &mut buf);
        buf.push(b'\'');
    }
    for d in needed {
        buf.extend_from_slice(b" xmlns:");
        buf.extend_from_slice(d.prefix.as_bytes());
        buf.extend_from_slice(b"='");
        escape_attr(&d.uri, &mut buf);
        buf.push(b'\'');
    }
    out.extend_from_slice(&element[..1 + name_len]);
    out.extend_from_slice(&buf);
    out.extend_from_slice(&element[1 + name_len..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_names_are_validated() {
        assert!(is_ncname("message"));
        assert!(is_ncname("a-b.c_1"));
        assert!(is_ncname("ünïcode"));
        assert!(!is_ncname("1abc"));
        assert!(!is_ncname("-x"));
        assert!(!is_ncname(""));
        assert!(split_qname("stream:features").is_some());
        assert!(split_qname("a:b:c").is_none());
        assert!(split_qname(":b").is_none());
    }

    #[test]
    fn xep0124_6_only_predefined_entities_and_char_refs() {
        for ok in ["lt", "gt", "amp", "apos", "quot", "#65", "#x41", "#x1F600"] {
            assert_eq!(check_reference(ok), Ok(()), "{ok}");
        }
        assert!(matches!(
            check_reference("lol"),
            Err(ParseErrorKind::UndefinedEntity { .. })
        ));
        for bad in [
            "#0", "#x0", "#1", "#xD800", "#xFFFE", "#", "#x", "#-1", "#x110000",
        ] {
            assert_eq!(
                check_reference(bad),
                Err(ParseErrorKind::InvalidCharRef),
                "{bad}"
            );
        }
    }

    #[test]
    fn invalid_chars_are_found_at_any_offset() {
        for len in 0..40 {
            for bad in [
                &b"\x01"[..],
                b"\x1f",
                b"\x00",
                "\u{FFFE}".as_bytes(),
                "\u{FFFF}".as_bytes(),
            ] {
                for at in 0..=len {
                    let mut v = vec![b'a'; len];
                    v.splice(at..at, bad.iter().copied());
                    assert_eq!(find_invalid_char(&v), Some(at), "len {len} at {at}");
                }
            }
            let ok = "\t\n\r \u{FFFD}\u{EFFF}é".repeat(len);
            assert_eq!(find_invalid_char(ok.as_bytes()), None);
        }
    }

    #[test]
    fn escape_attr_round_trips_whitespace_as_char_refs() {
        let mut out = Vec::new();
        escape_attr("a&b<c>'\"\t\n\r\u{1}", &mut out);
        assert_eq!(
            out,
            b"a&amp;b&lt;c&gt;&apos;&quot;&#9;&#10;&#13;\xEF\xBF\xBD"
        );
    }
}
