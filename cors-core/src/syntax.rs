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
/// (internationalized names arrive in their punycode form).
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
    if rest.contains(['/', '?', '#']) {
        return Err(if rest.ends_with('/') && rest.matches('/').count() == 1 {
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
        let ok = inner.contains(':')
            && inner.bytes().all(|b| {
                b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':' || b == b'.'
            });
        return if ok {
            Ok(())
        } else {
            Err(OriginError::InvalidHost)
        };
    }
    if host.is_empty() {
        return Err(OriginError::InvalidHost);
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
