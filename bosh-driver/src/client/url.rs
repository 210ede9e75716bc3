//! The connection manager's URL, parsed once with [`http::Uri`].

use std::fmt;
use std::str::FromStr;

use http::Uri;

/// An `http://` BOSH endpoint, e.g. `http://127.0.0.1:5280/http-bind`.
///
/// Parsed with [`http::Uri`]: the scheme must be `http` (any case), the host
/// must be present, the port, when given, must be in `1..=65535` (default
/// 80), and user information (`user:pass@`) is refused rather than silently
/// sent nowhere. A fragment is dropped, as browsers do. The path and query
/// are sent as they are; an empty path is `/`.
///
/// `https://` is refused with [`UrlError::UnsupportedScheme`]: TLS is not
/// implemented yet (future work; put a TLS-terminating proxy in front
/// meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoshUrl {
    /// The host to connect to: a name or an IP address (IPv6 without
    /// brackets).
    host: String,
    port: u16,
    /// The `Host` header: the authority as written (brackets and port
    /// included).
    authority: String,
    /// The request target: path and query.
    path_and_query: String,
}

/// Why a string is not a usable BOSH URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URI at all (a space, a stray character, …).
    #[error("not a valid URL: {0}")]
    Invalid(String),
    /// A relative reference (no scheme or no host).
    #[error("the URL must be absolute, e.g. http://127.0.0.1:5280/http-bind")]
    NotAbsolute,
    /// A scheme other than `http`.
    #[error("unsupported scheme {0:?}: only http:// is supported (TLS is not implemented yet)")]
    UnsupportedScheme(String),
    /// `user:password@` in the authority.
    #[error("user information in the URL is not supported")]
    UserInfo,
    /// The host is empty.
    #[error("the URL has no host")]
    MissingHost,
    /// The port is not a number in `1..=65535`.
    #[error("the port must be a number in 1..=65535")]
    InvalidPort,
}

impl BoshUrl {
    /// Parses `s` (see the type documentation for what is accepted).
    pub fn parse(s: &str) -> Result<BoshUrl, UrlError> {
        let uri: Uri = s
            .trim()
            .parse()
            .map_err(|e: http::uri::InvalidUri| UrlError::Invalid(e.to_string()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(UrlError::NotAbsolute);
        };
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(UrlError::UnsupportedScheme(scheme.to_ascii_lowercase()));
        }
        let authority = authority.as_str();
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let host = uri.host().unwrap_or_default();
        if host.is_empty() || host == "[]" {
            return Err(UrlError::MissingHost);
        }
        // What follows the host in the authority: nothing, `:` or `:port`.
        let rest = authority.get(host.len()..).unwrap_or_default();
        let port = match rest.strip_prefix(':') {
            None if rest.is_empty() => 80,
            None => return Err(UrlError::InvalidPort),
            Some("") => 80,
            Some(p) => {
                if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UrlError::InvalidPort);
                }
                match p.parse::<u16>() {
                    Ok(port) if port != 0 => port,
                    _ => return Err(UrlError::InvalidPort),
                }
            }
        };
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let path_and_query = if path_and_query.starts_with('/') {
            path_and_query.to_owned()
        } else {
            format!("/{path_and_query}")
        };
        Ok(BoshUrl {
            host: bare.to_owned(),
            port,
            authority: authority.trim_end_matches(':').to_owned(),
            path_and_query,
        })
    }

    /// The host to connect to (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port (80 when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The value of the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request target: the path and the query, e.g. `/http-bind`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

impl FromStr for BoshUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BoshUrl::parse(s)
    }
}

impl fmt::Display for BoshUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path_and_query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        let u = BoshUrl::parse("http://127.0.0.1:5280/http-bind").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.authority(), u.path_and_query()),
            ("127.0.0.1", 5280, "127.0.0.1:5280", "/http-bind")
        );
        assert_eq!(u.to_string(), "http://127.0.0.1:5280/http-bind");
    }

    #[test]
    fn defaults_port_and_path_and_keeps_the_query() {
        let u = BoshUrl::parse("HTTP://Example.com").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.path_and_query()),
            ("Example.com", 80, "/")
        );
        let u = BoshUrl::parse("http://example.com:/bind?x=1#frag").unwrap();
        assert_eq!((u.port(), u.authority()), (80, "example.com"));
        assert_eq!(u.path_and_query(), "/bind?x=1");
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets_for_connecting_only() {
        let u = BoshUrl::parse("http://[::1]:8080/b").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.authority()),
            ("::1", 8080, "[::1]:8080")
        );
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        assert_eq!(
            BoshUrl::parse("https://example.com/"),
            Err(UrlError::UnsupportedScheme("https".to_owned()))
        );
        assert_eq!(BoshUrl::parse("/http-bind"), Err(UrlError::NotAbsolute));
        assert_eq!(BoshUrl::parse("http://u:p@h/"), Err(UrlError::UserInfo));
        assert_eq!(BoshUrl::parse("http://:80/"), Err(UrlError::MissingHost));
        assert_eq!(
            BoshUrl::parse("http://h:99999/"),
            Err(UrlError::InvalidPort)
        );
        assert_eq!(BoshUrl::parse("http://h:0/"), Err(UrlError::InvalidPort));
        assert!(matches!(
            BoshUrl::parse("http://h/a b"),
            Err(UrlError::Invalid(_))
        ));
    }
}
