//! Lexical helpers shared by the policy builder and the decision procedure:
//! RFC 9110 tokens, optional whitespace, `#list` splitting and the
//! `serialized-origin` grammar (Fetch §3.1, RFC 6454 §7.1 as amended by the
//! URL Standard's origin serialization).

use crate::error::OriginError;

/// RFC 9110 §5.6.2 `tchar`.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// RFC 9110 §5.6.2 `token = 1*tchar`. Methods (§9.1) and field names (§5.1)
/// are tokens.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Strips RFC 9110 §5.6.3 `OWS` (SP / HTAB) from both ends.
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Splits an RFC 9110 §5.6.1 `#list`: comma separated, OWS trimmed, empty
/// elements ignored (the recipient rules of §5.6.1.2).
pub(crate) fn list_items(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(trim_ows).filter(|item| !item.is_empty())
}

/// The scheme / host / port of a syntactically valid `serialized-origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedOrigin<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: Option<&'a str>,
}

/// Ports the URL Standard omits when serializing an origin ("special schemes").
fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        "ftp" => Some("21"),
        _ => None,
    }
}

/// Parses `scheme "://" host [ ":" port ]` exactly as a browser serializes a
/// tuple origin: lower-case scheme and host, no user info, no path (not even
/// a trailing `/`), no query or fragment, no default port, ASCII only
/// (internationalized names arrive in their punycode form), and IP
/// addresses in the one spelling the URL Standard's host serializer writes.
///
/// The literal `null` is *not* accepted here; callers handle it explicitly.
pub(crate) fn parse_origin(s: &str) -> Result<ParsedOrigin<'_>, OriginError> {
    if s.is_empty() {
        return Err(OriginError::Empty);
    }
    if !s.is_ascii() {
        return Err(OriginError::NonAscii);
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(OriginError::MissingScheme);
    };
    check_scheme(scheme)?;
    if let Some(at) = rest.find(['/', '?', '#']) {
        // Only a lone `/` at the very end is a "trailing slash"; anything
        // else (`/app`, `?/`, `#/`) is a path, query or fragment.
        return Err(if at + 1 == rest.len() && rest.ends_with('/') {
            OriginError::TrailingSlash
        } else {
            OriginError::Path
        });
    }
    if rest.contains('@') {
        return Err(OriginError::UserInfo);
    }
    let (host, port) = split_host_port(rest)?;
    check_host(host)?;
    if let Some(port) = port {
        check_port(port)?;
        if default_port(scheme) == Some(port) {
            return Err(OriginError::DefaultPort);
        }
    }
    Ok(ParsedOrigin { scheme, host, port })
}

fn check_scheme(scheme: &str) -> Result<(), OriginError> {
    let bytes = scheme.as_bytes();
    if bytes.iter().any(u8::is_ascii_uppercase) {
        return Err(OriginError::UpperCase);
    }
    let valid = match bytes.split_first() {
        Some((first, tail)) => {
            first.is_ascii_lowercase()
                && tail
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(b))
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(OriginError::InvalidScheme)
    }
}

fn split_host_port(rest: &str) -> Result<(&str, Option<&str>), OriginError> {
    if rest.starts_with('[') {
        // IPv6 literal: "[" ... "]" [ ":" port ]
        let Some(close) = rest.find(']') else {
            return Err(OriginError::InvalidHost);
        };
        let (host, after) = rest.split_at(close + 1);
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(OriginError::InvalidHost),
            },
        };
    }
    Ok(match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    })
}

fn check_host(host: &str) -> Result<(), OriginError> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(OriginError::UpperCase);
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        return check_ipv6(inner);
    }
    if host.is_empty() {
        return Err(OriginError::InvalidHost);
    }
    if ends_in_a_number(host) {
        return check_ipv4(host);
    }
    // A trailing dot denotes a distinct (fully qualified) host and is kept by
    // browsers; empty labels anywhere else are not produced by serialization.
    let labels = host.strip_suffix('.').unwrap_or(host);
    let ok = labels.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    if ok {
        Ok(())
    } else {
        Err(OriginError::InvalidHost)
    }
}

/// URL Standard "ends in a number checker": a host whose last label (a
/// single trailing dot ignored) is all digits or parses as an IPv4 number
/// (`0x` hex) is an IPv4 address, never a domain.
fn ends_in_a_number(host: &str) -> bool {
    let host = if host.len() > 1 {
        host.strip_suffix('.').unwrap_or(host)
    } else {
        host
    };
    let last = host.rsplit('.').next().unwrap_or(host);
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())) || ipv4_number(last).is_some()
}

/// URL Standard "IPv4 number parser" (decimal, `0x` hex, leading-`0`
/// octal). `None` on failure or on a value that does not fit in `u64`.
fn ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        return Some(0);
    }
    digits.chars().try_fold(0u64, |acc, c| {
        let digit = c.to_digit(radix)?;
        acc.checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))
    })
}

/// A host that ends in a number must be exactly the dotted-quad form the
/// URL Standard's IPv4 serializer produces; other spellings that a URL
/// parser accepts (`127.1`, `0x7f.0.0.1`, `1.2.3.4.`) are refused as
/// non-canonical, the rest as invalid.
fn check_ipv4(host: &str) -> Result<(), OriginError> {
    let mut parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() > 4 {
        return Err(OriginError::InvalidHost);
    }
    let numbers: Vec<u64> = parts
        .iter()
        .map(|part| ipv4_number(part))
        .collect::<Option<_>>()
        .ok_or(OriginError::InvalidHost)?;
    let (last, init) = numbers.split_last().ok_or(OriginError::InvalidHost)?;
    if init.iter().any(|n| *n > 255) {
        return Err(OriginError::InvalidHost);
    }
    let exponent = u32::try_from(5 - numbers.len()).unwrap_or(4);
    if *last >= 256u64.pow(exponent) {
        return Err(OriginError::InvalidHost);
    }
    let mut address = *last;
    for (index, n) in init.iter().enumerate() {
        address += n << (8 * (3 - index));
    }
    let canonical = core::net::Ipv4Addr::from(u32::try_from(address).unwrap_or(u32::MAX));
    if canonical.to_string() == host {
        Ok(())
    } else {
        Err(OriginError::NonCanonicalHost)
    }
}

/// The inside of `[...]`: a valid IPv6 address, spelled as the URL
/// Standard's IPv6 serializer writes it (RFC 5952: lower-case hex, no
/// leading zeros, the first longest run of two or more zero pieces
/// compressed, no embedded IPv4).
fn check_ipv6(inner: &str) -> Result<(), OriginError> {
    let charset_ok = inner.contains(':')
        && inner
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    let address: core::net::Ipv6Addr = match inner.parse() {
        Ok(address) if charset_ok => address,
        _ => return Err(OriginError::InvalidHost),
    };
    if serialize_ipv6(address.segments()) == inner {
        Ok(())
    } else {
        Err(OriginError::NonCanonicalHost)
    }
}

/// URL Standard "IPv6 serializer".
fn serialize_ipv6(pieces: [u16; 8]) -> String {
    use std::fmt::Write as _;
    // First longest run of at least two zero pieces.
    let mut compress: Option<(usize, usize)> = None;
    let mut index = 0;
    while index < pieces.len() {
        let start = index;
        while index < pieces.len() && pieces[index] == 0 {
            index += 1;
        }
        let len = index - start;
        if len >= 2 && compress.is_none_or(|(_, best)| len > best) {
            compress = Some((start, len));
        }
        index += 1;
    }
    let mut out = String::new();
    let mut index = 0;
    while index < pieces.len() {
        if let Some((start, len)) = compress.filter(|(start, _)| *start == index) {
            out.push_str(if start == 0 { "::" } else { ":" });
            index += len;
            continue;
        }
        let _ = write!(out, "{:x}", pieces[index]);
        if index != 7 {
            out.push(':');
        }
        index += 1;
    }
    out
}

fn check_port(port: &str) -> Result<(), OriginError> {
    let digits_only = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    let canonical = port == "0" || !port.starts_with('0');
    match port.parse::<u16>() {
        Ok(_) if digits_only && canonical => Ok(()),
        _ => Err(OriginError::InvalidPort),
    }
}

/// Whether `host` is an IP literal (IPv4 dotted quad or bracketed IPv6).
pub(crate) fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[')
        || (host.split('.').count() == 4
            && host
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_rfc9110_tchar() {
        let rows: &[(&str, bool, &str)] = &[
            ("GET", true, "plain method"),
            ("x-custom_header.v2", true, "punctuation allowed in tchar"),
            ("", false, "empty is not a token"),
            ("con tent", false, "space is not a tchar"),
            ("a,b", false, "comma is a list separator, not a tchar"),
            ("caf\u{e9}", false, "non-ASCII is not a tchar"),
            ("a:b", false, "colon is not a tchar"),
        ];
        for (input, expected, description) in rows {
            assert_eq!(is_token(input), *expected, "{description}: {input:?}");
        }
    }

    #[test]
    fn list_items_trim_ows_and_skip_empty_elements() {
        let items: Vec<&str> = list_items(" a ,,\tb\t, ,c").collect();
        assert_eq!(items, ["a", "b", "c"]);
        assert_eq!(list_items("").count(), 0);
        assert_eq!(list_items(" , ,").count(), 0);
    }

    #[test]
    fn serialized_origin_grammar() {
        use OriginError as E;
        let rows: &[(&str, Result<(), OriginError>, &str)] = &[
            ("https://example.com", Ok(()), "plain https origin"),
            ("http://localhost:8080", Ok(()), "explicit non-default port"),
            ("https://[::1]:8443", Ok(()), "IPv6 literal with port"),
            ("http://127.0.0.1", Ok(()), "IPv4 literal"),
            ("https://xn--bcher-kva.example", Ok(()), "punycode IDN"),
            ("moz-extension://abc", Ok(()), "non-special scheme"),
            (
                "https://example.com.",
                Ok(()),
                "fully qualified trailing dot",
            ),
            ("", Err(E::Empty), "empty"),
            (
                "example.com",
                Err(E::MissingScheme),
                "bare host (rack-cors accepts it)",
            ),
            (
                "https://example.com/",
                Err(E::TrailingSlash),
                "trailing slash",
            ),
            ("https://example.com/app", Err(E::Path), "path"),
            ("https://example.com?x", Err(E::Path), "query"),
            ("https://Example.com", Err(E::UpperCase), "upper-case host"),
            (
                "HTTPS://example.com",
                Err(E::UpperCase),
                "upper-case scheme",
            ),
            ("https://user@example.com", Err(E::UserInfo), "user info"),
            (
                "https://example.com:443",
                Err(E::DefaultPort),
                "default port",
            ),
            (
                "http://example.com:80",
                Err(E::DefaultPort),
                "default port http",
            ),
            ("https://example.com:", Err(E::InvalidPort), "empty port"),
            (
                "https://example.com:08443",
                Err(E::InvalidPort),
                "leading zero",
            ),
            (
                "https://example.com:99999",
                Err(E::InvalidPort),
                "port overflow",
            ),
            ("https://ex ample.com", Err(E::InvalidHost), "space in host"),
            ("https://a..b", Err(E::InvalidHost), "empty label"),
            ("https://", Err(E::InvalidHost), "empty host"),
            (
                "https://b\u{fc}cher.example",
                Err(E::NonAscii),
                "unencoded IDN",
            ),
            (
                "1https://x",
                Err(E::InvalidScheme),
                "scheme starts with digit",
            ),
            ("https://[::G]", Err(E::UpperCase), "upper-case in IPv6"),
            ("https://[::1", Err(E::InvalidHost), "unterminated IPv6"),
            ("https://[::1]x", Err(E::InvalidHost), "garbage after IPv6"),
            ("https://example.com?/", Err(E::Path), "query ending in `/`"),
            (
                "https://example.com#/",
                Err(E::Path),
                "fragment ending in `/`",
            ),
            // Hosts that end in a number are IPv4 addresses (URL Standard
            // "ends in a number checker"); browsers serialize them as a
            // dotted quad of decimal numbers without leading zeros.
            ("http://10.0.0.255:8080", Ok(()), "canonical IPv4 with port"),
            ("http://0.0.0.0", Ok(()), "all-zero IPv4"),
            (
                "http://127.1",
                Err(E::NonCanonicalHost),
                "short IPv4 (127.0.0.1)",
            ),
            (
                "http://2130706433",
                Err(E::NonCanonicalHost),
                "IPv4 as one number",
            ),
            (
                "http://127.000.0.1",
                Err(E::NonCanonicalHost),
                "octal IPv4 part",
            ),
            (
                "http://0x7f.0.0.1",
                Err(E::NonCanonicalHost),
                "hex IPv4 part",
            ),
            (
                "http://010.0.0.1",
                Err(E::NonCanonicalHost),
                "leading zero is octal",
            ),
            (
                "http://1.2.3.4.",
                Err(E::NonCanonicalHost),
                "IPv4 trailing dot dropped",
            ),
            (
                "http://256.0.0.1",
                Err(E::InvalidHost),
                "IPv4 part above 255",
            ),
            ("http://1.2.3.4.5", Err(E::InvalidHost), "five IPv4 parts"),
            (
                "http://1.2.3.09",
                Err(E::InvalidHost),
                "9 is not an octal digit",
            ),
            (
                "https://app.123",
                Err(E::InvalidHost),
                "domain ending in a number",
            ),
            (
                "https://app.0x1f",
                Err(E::InvalidHost),
                "domain ending in a hex number",
            ),
            (
                "https://99999999999999999999999",
                Err(E::InvalidHost),
                "IPv4 overflow",
            ),
            ("https://app.1x", Ok(()), "last label not a number"),
            // IPv6: browsers compress the first longest run of zeros, print
            // lower-case hex without leading zeros and never embed IPv4.
            ("https://[2001:db8::1]", Ok(()), "compressed IPv6"),
            ("https://[::]", Ok(()), "unspecified IPv6"),
            (
                "https://[1:0:0:2::3]",
                Ok(()),
                "first longest run compressed",
            ),
            (
                "https://[1::2:3:4:5:6:7]",
                Err(E::NonCanonicalHost),
                "a single zero is not compressed",
            ),
            (
                "https://[1:0:0:2:0:0:0:3]",
                Err(E::NonCanonicalHost),
                "uncompressed zeros",
            ),
            (
                "https://[1::2:0:0:0:3]",
                Err(E::NonCanonicalHost),
                "not the longest run",
            ),
            (
                "https://[0:0:0:0:0:0:0:1]",
                Err(E::NonCanonicalHost),
                "uncompressed loopback",
            ),
            (
                "https://[::0001]",
                Err(E::NonCanonicalHost),
                "leading zeros in a piece",
            ),
            (
                "https://[::ffff:1.2.3.4]",
                Err(E::NonCanonicalHost),
                "embedded IPv4",
            ),
            ("https://[:::]", Err(E::InvalidHost), "three colons"),
            (
                "https://[1:2:3:4:5:6:7:8:9]",
                Err(E::InvalidHost),
                "nine pieces",
            ),
            (
                "https://[::1]:443",
                Err(E::DefaultPort),
                "IPv6 with default port",
            ),
        ];
        for (input, expected, description) in rows {
            assert_eq!(
                parse_origin(input).map(|_| ()),
                *expected,
                "{description}: {input:?}"
            );
        }
    }

    #[test]
    fn parsed_origin_parts() {
        let parsed = parse_origin("https://a.example.com:8443");
        assert_eq!(
            parsed,
            Ok(ParsedOrigin {
                scheme: "https",
                host: "a.example.com",
                port: Some("8443"),
            })
        );
    }

    #[test]
    fn ip_literals_are_recognised() {
        assert!(is_ip_literal("127.0.0.1"));
        assert!(is_ip_literal("[::1]"));
        assert!(!is_ip_literal("example.com"));
        assert!(!is_ip_literal("1.2.3.example"));
    }
}
