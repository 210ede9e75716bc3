//! Small XML helpers of the codec: reference and attribute value checks
//! (with the codec's error kinds), element names, and making a payload
//! element standalone. The XML 1.0 lexical rules themselves (white space,
//! characters, names, references, escaping) are in `crate::xml`, shared with
//! the stream framer, and re-exported here for the codec.

use bytes::{Bytes, BytesMut};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::attrs::NamespaceDecl;
use super::error::ParseErrorKind;

use crate::xml::{BadReference, resolve_reference, write_attr, write_prefix_decl};
pub(crate) use crate::xml::{
    NS_XML, NS_XMLNS, escape_text, find_invalid_char, is_allowed_ns_decl, is_ncname, is_xml_space,
    is_xml_space_char, split_qname, trim_xml_space,
};

/// Checks the body of a reference (`name` in `&name;`): one of the five
/// predefined entities or a character reference to an XML `Char`.
pub(crate) fn check_reference(name: &str) -> Result<(), ParseErrorKind> {
    match resolve_reference(name) {
        Ok(_) => Ok(()),
        Err(BadReference::CharRef) => Err(ParseErrorKind::InvalidCharRef),
        Err(BadReference::UndefinedEntity) => Err(ParseErrorKind::UndefinedEntity {
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
            Event::GeneralRef(r) => text.push(resolve_reference(&r).ok()?),
            Event::Eof => return Some(text),
            _ => {}
        }
    }
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
        write_attr("xmlns", ns, &mut buf);
    }
    for d in needed {
        write_prefix_decl(&d.prefix, &d.uri, &mut buf);
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
}
