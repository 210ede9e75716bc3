//! Build-time configuration errors.

use thiserror::Error;

/// Why a configured origin is not a `serialized-origin`.
///
/// Browsers compare `Access-Control-Allow-Origin` byte for byte with the
/// serialized request origin (Fetch §4.9 "CORS check"; the serialization is
/// the URL Standard's "ASCII serialization of an origin"), so any other
/// spelling can never match and is refused when the policy is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The string is empty.
    ///
    /// Implements: Fetch §3.1: `Origin` is `origin-or-null`, never empty.
    #[error("the origin is empty")]
    Empty,
    /// There is no `scheme://` prefix (a bare host such as `example.com`).
    ///
    /// Implements: Fetch §3.1 `serialized-origin` starts with `scheme "://"`.
    #[error("the origin has no scheme (expected e.g. `https://example.com`)")]
    MissingScheme,
    /// The scheme contains characters outside `[a-z0-9+.-]` or does not
    /// start with a letter.
    ///
    /// Implements: Fetch §3.1; RFC 3986 §3.1 `scheme`.
    #[error("the scheme is not valid")]
    InvalidScheme,
    /// Upper-case letters: browsers serialize scheme and host in lower case.
    ///
    /// Implements: Fetch §3.1, §4.9 (byte-for-byte comparison).
    #[error("the origin contains upper-case letters (browsers send lower case)")]
    UpperCase,
    /// Non-ASCII characters: internationalized hosts are serialized as punycode.
    ///
    /// Implements: Fetch §3.1; URL Standard "domain to ASCII".
    #[error("the origin contains non-ASCII characters (use the punycode form)")]
    NonAscii,
    /// A trailing `/`: an origin has no path.
    ///
    /// Implements: Fetch §3.1 `serialized-origin` (no path).
    #[error("the origin ends with `/` (an origin has no path)")]
    TrailingSlash,
    /// A path, query or fragment.
    ///
    /// Implements: Fetch §3.1 `serialized-origin` (no path).
    #[error("the origin contains a path, query or fragment")]
    Path,
    /// `user:password@` is never part of an origin.
    ///
    /// Implements: Fetch §3.1 `serialized-origin`.
    #[error("the origin contains user information")]
    UserInfo,
    /// The host is empty, contains characters no serializer produces, or
    /// ends in a number (URL Standard "ends in a number checker") without
    /// being an IPv4 address, e.g. `app.123` or `256.0.0.1`.
    ///
    /// Implements: Fetch §3.1; URL Standard "host parsing".
    #[error("the host is not valid")]
    InvalidHost,
    /// The host is an IP address spelled differently from the way browsers
    /// serialize it (URL Standard "host serializer"): IPv4 as four decimal
    /// parts without leading zeros (`127.0.0.1`, not `127.1`, `0x7f.0.0.1`
    /// or `1.2.3.4.`), IPv6 compressed per RFC 5952 without embedded IPv4
    /// (`[::1]`, not `[0:0:0:0:0:0:0:1]`). Such an entry could never match
    /// an `Origin` byte for byte (Fetch §4.9 "CORS check").
    #[error("the IP address is not spelled as browsers serialize it")]
    NonCanonicalHost,
    /// The port is empty, not a number in `0..=65535`, or has leading zeros.
    ///
    /// Implements: Fetch §3.1 `serialized-origin` `[ ":" port ]`.
    #[error("the port is not valid")]
    InvalidPort,
    /// The scheme's default port (e.g. `:443` for `https`) is omitted by
    /// browsers when they serialize the origin.
    ///
    /// Implements: Fetch §3.1; URL Standard "default port".
    #[error("the origin spells out the scheme's default port, which browsers omit")]
    DefaultPort,
}

/// A contradiction or invalid value found by
/// [`CorsPolicyBuilder::build`](crate::CorsPolicyBuilder::build).
///
/// Each variant is a configuration that the Fetch standard makes
/// unsatisfiable (the browser would reject every response) or that cannot
/// be expressed on the wire. The builder reports the first one it finds; it
/// never panics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Credentials with `*` as `Access-Control-Allow-Origin`: Fetch §3.2.5
    /// "CORS protocol and credentials" and §4.9 "CORS check" fail every
    /// credentialed response whose ACAO is `*`. Use an allow-list instead.
    #[error("credentials cannot be combined with any origin (`*`); list the origins instead")]
    CredentialsWithAnyOrigin,
    /// Credentials with `Access-Control-Allow-Methods: *`: Fetch §3.2.4 makes
    /// `*` a wildcard only for requests without credentials.
    #[error("credentials cannot be combined with any method (`*`); list the methods instead")]
    CredentialsWithAnyMethod,
    /// Credentials with `Access-Control-Allow-Headers: *` (Fetch §3.2.4).
    #[error("credentials cannot be combined with any header (`*`); list the headers instead")]
    CredentialsWithAnyHeader,
    /// Credentials with `Access-Control-Expose-Headers: *` (Fetch §3.2.4).
    #[error(
        "credentials cannot be combined with exposing any header (`*`); list the headers instead"
    )]
    CredentialsWithAnyExposedHeader,
    /// `*` given as one origin of a list; `Access-Control-Allow-Origin` holds
    /// exactly one value (Fetch §3.2.4), so `*` is not a list member. Use
    /// `allow_any_origin()` or `allow_origin_pattern()`.
    #[error("`*` inside an origin list (`{origin}`); use allow_any_origin() or a pattern")]
    WildcardInOriginList {
        /// The offending entry (Fetch §3.2.4 `origin-or-null`).
        origin: String,
    },
    /// `*` given as a member of the method, header or exposed-header list:
    /// Fetch §3.2.4 says there is no way to match a literal `*`, so use the
    /// dedicated "any" setter.
    #[error("`*` inside the {list} list; use the dedicated allow-any setter")]
    WildcardInList {
        /// `"method"`, `"header"` or `"exposed header"` (Fetch §3.2.4).
        list: &'static str,
    },
    /// `allow_any_origin()` combined with a list, pattern or predicate.
    ///
    /// Implements: Fetch §3.2.4: ACAO is `*` or one origin, never both.
    #[error("allow_any_origin() cannot be combined with origin lists, patterns or predicates")]
    ConflictingOriginRules,
    /// An allowed origin is not a `serialized-origin` (Fetch §3.1).
    #[error("`{origin}` is not a serialized origin: {reason}")]
    InvalidOrigin {
        /// The offending entry (Fetch §3.1 `serialized-origin`).
        origin: String,
        /// What is wrong with it (Fetch §3.1).
        reason: OriginError,
    },
    /// `null` placed in the origin list; it is only allowed through the
    /// deliberate `allow_null_origin(true)` switch (Fetch §3.2.3 notes that
    /// echoing `null` admits every opaque origin).
    #[error("`null` in the origin list; use allow_null_origin(true) deliberately")]
    NullInOriginList,
    /// An origin pattern is not of the form `scheme://*.host[:port]`.
    ///
    /// Implements: Fetch §3.1 `serialized-origin`.
    #[error("`{pattern}` is not a valid origin pattern: {reason}")]
    InvalidOriginPattern {
        /// The offending pattern (Fetch §3.1 `serialized-origin` with `*`).
        pattern: String,
        /// What is wrong with it (Fetch §3.1).
        reason: String,
    },
    /// A method is not an RFC 9110 token (Fetch §3.2.4 `method`).
    #[error("`{0}` is not a valid method token")]
    InvalidMethod(String),
    /// A header name is not an RFC 9110 token (Fetch §3.2.4 `field-name`).
    #[error("`{0}` is not a valid header name")]
    InvalidHeaderName(String),
    /// `Access-Control-Max-Age` above 86400 s: no browser honours more
    /// (Firefox caps at 86400, Chromium at 7200).
    ///
    /// Implements: Fetch §3.2.3 `Access-Control-Max-Age`.
    #[error("max-age {0} exceeds 86400 seconds")]
    MaxAgeTooLarge(u32),
    /// Mirroring request headers combined with `allow_any_header()` or an
    /// explicit header list.
    ///
    /// Implements: Fetch §3.2.3 `Access-Control-Allow-Headers`.
    #[error("mirror_request_headers() cannot be combined with allow_any_header() or a header list")]
    ConflictingHeaderRules,
    /// The preflight success status is not an *ok status* (200-299, Fetch
    /// §2.2.3); any other status fails the preflight.
    #[error("preflight status {0} is not an ok status (200-299)")]
    InvalidPreflightStatus(u16),
    /// The denied-preflight status is not a final HTTP status (200-599).
    ///
    /// Implements: Fetch §3.2.3 suggests 403.
    #[error("denied-preflight status {0} is not in 200-599")]
    InvalidDeniedPreflightStatus(u16),
}
