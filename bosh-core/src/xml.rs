//! XML 1.0 lexical rules shared by the `<body/>` codec ([`crate::body`]) and
//! the upstream stream framer ([`crate::xmpp`]): white space, characters,
//! names, references, escaping. Each rule exists here once.

/// The namespace bound to the `xml` prefix (Namespaces in XML 1.0 §3).
pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations themselves (Namespaces in XML
/// 1.0 §3), bound to `xmlns` and to nothing else.
pub(crate) const NS_XMLNS: &str = "http://www.w3.org/2000/xmlns/";

/// Namespaces in XML 1.0 §3 on a declaration of `prefix` (`None`: the
/// default namespace) as `uri`, unescaped: `xmlns` is never declared, `xml`
/// only as [`NS_XML`], which no other prefix takes, and nothing takes
/// [`NS_XMLNS`] (neither reserved namespace may be the default one).
pub(crate) fn is_allowed_ns_decl(prefix: Option<&str>, uri: &str) -> bool {
    match prefix {
        None => uri != NS_XML && uri != NS_XMLNS,
        Some(p) => p != "xmlns" && uri != NS_XMLNS && (p == "xml") == (uri == NS_XML),
    }
}

/// XML 1.0 §2.3 `S` (white space), one byte.
pub(crate) fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// [`is_xml_space`] for a `char` (not Unicode white space: a no-break
/// space is not XML white space), as a pattern for `str::trim_*_matches`.
pub(crate) fn is_xml_space_char(c: char) -> bool {
    c.is_ascii() && is_xml_space(c as u8)
}

/// `s` without leading and trailing XML white space (not Unicode white
/// space: a no-break space is part of a value).
pub(crate) fn trim_xml_space(s: &str) -> &str {
    s.trim_matches(is_xml_space_char)
}

/// The length of `s` without its trailing XML white space.
pub(crate) fn trim_end_space(s: &[u8]) -> usize {
    s.len() - s.iter().rev().take_while(|&&b| is_xml_space(b)).count()
}

/// XML 1.0 §2.2 `Char`.
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

/// XML 1.0 (5th edition) [4] `NameStartChar`, without `:` (Namespaces in XML).
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | 'a'..='z' | '_'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (5th edition) [4a] `NameChar`, without `:`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Namespaces in XML 1.0 §3 `NCName`: an XML name without a colon.
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

/// Splits a `QName` (Namespaces in XML 1.0 §4) into prefix and local part,
/// or `None` if it is not one.
pub(crate) fn split_qname(name: &str) -> Option<(Option<&str>, &str)> {
    match name.bytes().position(|b| b == b':') {
        None => is_ncname(name).then_some((None, name)),
        Some(i) => {
            let (p, l) = (&name[..i], &name[i + 1..]);
            (is_ncname(p) && is_ncname(l)).then_some((Some(p), l))
        }
    }
}

/// Why a reference cannot be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadReference {
    /// A malformed character reference, or one to a character that is not an
    /// XML `Char` (XML 1.0 §4.1, WFC: Legal Character).
    CharRef,
    /// An entity other than the five predefined ones (XML 1.0 §4.6; RFC 6120
    /// §11.1 and XEP-0124 §6 allow no others).
    UndefinedEntity,
}

/// Resolves the body of a reference (`name` in `&name;`): one of the five
/// predefined entities or a character reference to an XML `Char`.
pub(crate) fn resolve_reference(name: &str) -> Result<char, BadReference> {
    if let Some(num) = name.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(BadReference::CharRef);
        }
        let code = u32::from_str_radix(digits, radix).map_err(|_| BadReference::CharRef)?;
        return match char::from_u32(code) {
            Some(c) if is_xml_char(c) => Ok(c),
            _ => Err(BadReference::CharRef),
        };
    }
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(BadReference::UndefinedEntity),
    }
}

/// Escapes an attribute value for either quote (XML 1.0 §2.4, §3.1). Tab, LF
/// and CR become character references so that attribute-value normalization
/// (§3.3.3) on the way back in preserves them; characters XML cannot carry
/// become U+FFFD.
pub(crate) fn escape_attr(value: &str, out: &mut Vec<u8>) {
    escape(value, out, |c| match c {
        '\'' => Some(b"&apos;"),
        '"' => Some(b"&quot;"),
        '\t' => Some(b"&#9;"),
        '\n' => Some(b"&#10;"),
        '\r' => Some(b"&#13;"),
        _ => None,
    });
}

/// Escapes character data (`&`, `<`, `>`); characters XML cannot carry
/// become U+FFFD.
pub(crate) fn escape_text(value: &str, out: &mut Vec<u8>) {
    escape(value, out, |_| None);
}

/// Appends `value` to `out` with `&`, `<`, `>` and the characters `extra`
/// names replaced, and characters XML cannot carry replaced by U+FFFD.
/// Copies the runs between replacements as they are.
fn escape(value: &str, out: &mut Vec<u8>, extra: impl Fn(char) -> Option<&'static [u8]>) {
    let mut last = 0;
    for (i, c) in value.char_indices() {
        let rep: &[u8] = match c {
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            c => match extra(c) {
                Some(rep) => rep,
                None if is_xml_char(c) => continue,
                None => "\u{FFFD}".as_bytes(),
            },
        };
        out.extend_from_slice(&value.as_bytes()[last..i]);
        out.extend_from_slice(rep);
        last = i + c.len_utf8();
    }
    out.extend_from_slice(&value.as_bytes()[last..]);
}

/// Appends ` name='value'`, the value escaped with [`escape_attr`].
pub(crate) fn write_attr(name: &str, value: &str, out: &mut Vec<u8>) {
    write_qualified_attr(None, name, value, out);
}

/// Appends the namespace declaration ` xmlns:prefix='uri'`.
pub(crate) fn write_prefix_decl(prefix: &str, uri: &str, out: &mut Vec<u8>) {
    write_qualified_attr(Some("xmlns"), prefix, uri, out);
}

/// Appends ` [prefix:]local='value'`, the value escaped with [`escape_attr`].
fn write_qualified_attr(prefix: Option<&str>, local: &str, value: &str, out: &mut Vec<u8>) {
    out.push(b' ');
    if let Some(prefix) = prefix {
        out.extend_from_slice(prefix.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
    out.extend_from_slice(b"='");
    escape_attr(value, out);
    out.push(b'\'');
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
        assert!(split_qname("a:").is_none());
    }

    #[test]
    fn xml_1_0_name_chars_are_the_fifth_edition_productions() {
        // C1 controls, `×`, `÷` are not name characters.
        for bad in [
            "m\u{83}", "\u{83}", "a\u{D7}", "a\u{F7}", "\u{B7}a", "\u{300}a",
        ] {
            assert!(!is_ncname(bad), "{bad:?}");
        }
        // Middle dot and combining marks may follow the first character.
        for ok in ["a\u{B7}", "a\u{300}", "\u{C0}", "a\u{203F}", "\u{10000}"] {
            assert!(is_ncname(ok), "{ok:?}");
        }
    }

    #[test]
    fn references_resolve_to_predefined_entities_and_xml_chars() {
        for (name, c) in [
            ("lt", '<'),
            ("gt", '>'),
            ("amp", '&'),
            ("apos", '\''),
            ("quot", '"'),
            ("#65", 'A'),
            ("#x41", 'A'),
            ("#x1F600", '\u{1F600}'),
        ] {
            assert_eq!(resolve_reference(name), Ok(c), "{name}");
        }
        assert_eq!(resolve_reference("lol"), Err(BadReference::UndefinedEntity));
        for bad in [
            "#0", "#x0", "#1", "#xD800", "#xFFFE", "#", "#x", "#-1", "#+1", "#X41", "#x110000",
        ] {
            assert_eq!(resolve_reference(bad), Err(BadReference::CharRef), "{bad}");
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

    #[test]
    fn escape_text_leaves_quotes_and_whitespace() {
        let mut out = Vec::new();
        escape_text("a&b<c>'\"\t\n\r\u{1}\u{FFFE}é", &mut out);
        assert_eq!(out, "a&amp;b&lt;c&gt;'\"\t\n\r\u{FFFD}\u{FFFD}é".as_bytes());
    }

    #[test]
    fn attributes_and_declarations_are_written_escaped() {
        let mut out = Vec::new();
        write_attr("to", "a'b", &mut out);
        write_prefix_decl("x", "urn:&", &mut out);
        assert_eq!(out, b" to='a&apos;b' xmlns:x='urn:&amp;'");
    }
}
