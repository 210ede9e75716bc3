//! Header names, the header set a decision produces, and `Vary` merging.

use crate::syntax::list_items;

/// Lower-case names of the headers this crate reads and writes.
///
/// Names are lower case so that adapters can build `http::HeaderName`s with
/// `HeaderName::from_static` (which requires lower case); HTTP field names
/// are case-insensitive (RFC 9110 §5.1).
pub mod name {
    /// `Origin` request header (Fetch §3.1 "`Origin` header").
    pub const ORIGIN: &str = "origin";
    /// `Access-Control-Request-Method` (Fetch §3.2.2 "HTTP requests").
    pub const ACCESS_CONTROL_REQUEST_METHOD: &str = "access-control-request-method";
    /// `Access-Control-Request-Headers` (Fetch §3.2.2 "HTTP requests").
    pub const ACCESS_CONTROL_REQUEST_HEADERS: &str = "access-control-request-headers";
    /// `Access-Control-Request-Private-Network` (Private Network Access draft,
    /// "Additional CORS Headers").
    pub const ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK: &str =
        "access-control-request-private-network";
    /// `Access-Control-Allow-Origin` (Fetch §3.2.3 "HTTP responses").
    pub const ACCESS_CONTROL_ALLOW_ORIGIN: &str = "access-control-allow-origin";
    /// `Access-Control-Allow-Credentials` (Fetch §3.2.3 "HTTP responses").
    pub const ACCESS_CONTROL_ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
    /// `Access-Control-Allow-Methods` (Fetch §3.2.3 "HTTP responses").
    pub const ACCESS_CONTROL_ALLOW_METHODS: &str = "access-control-allow-methods";
    /// `Access-Control-Allow-Headers` (Fetch §3.2.3 "HTTP responses").
    pub const ACCESS_CONTROL_ALLOW_HEADERS: &str = "access-control-allow-headers";
    /// `Access-Control-Max-Age` (Fetch §3.2.3 "HTTP responses").
    pub const ACCESS_CONTROL_MAX_AGE: &str = "access-control-max-age";
    /// `Access-Control-Expose-Headers` (Fetch §3.2.3 "HTTP responses").
    pub const ACCESS_CONTROL_EXPOSE_HEADERS: &str = "access-control-expose-headers";
    /// `Access-Control-Allow-Private-Network` (Private Network Access draft,
    /// "Additional CORS Headers").
    pub const ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK: &str = "access-control-allow-private-network";
    /// `Vary` (RFC 9110 §12.5.5; Fetch appendix "CORS protocol and HTTP caches").
    pub const VARY: &str = "vary";

    /// Every response header this crate owns.
    ///
    /// An adapter should remove these from the application's response before
    /// applying a [`Decision`](crate::Decision), so that a handler that sets
    /// its own `Access-Control-Allow-Origin` can never produce a second value
    /// (Fetch §3.2.4: exactly one `origin-or-null / wildcard`). `Vary` is not
    /// listed: it is merged, never replaced.
    pub const MANAGED: [&str; 7] = [
        ACCESS_CONTROL_ALLOW_ORIGIN,
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        ACCESS_CONTROL_ALLOW_METHODS,
        ACCESS_CONTROL_ALLOW_HEADERS,
        ACCESS_CONTROL_MAX_AGE,
        ACCESS_CONTROL_EXPOSE_HEADERS,
        ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK,
    ];
}

/// `Vary` member naming the `Origin` request header.
pub(crate) const VARY_ORIGIN: &str = "Origin";
/// `Vary` member naming `Access-Control-Request-Headers`.
pub(crate) const VARY_REQUEST_HEADERS: &str = "Access-Control-Request-Headers";
/// `Vary` member naming `Access-Control-Request-Private-Network`.
pub(crate) const VARY_REQUEST_PRIVATE_NETWORK: &str = "Access-Control-Request-Private-Network";

/// The response headers a [`Decision`](crate::Decision) asks for.
///
/// Two parts, applied differently:
///
/// * [`fields`](Self::fields): set each one, **replacing** any field of the
///   same name (see [`name::MANAGED`]). At most one of each name is present;
///   in particular there is never more than one `Access-Control-Allow-Origin`
///   and its value is never a list (Fetch §3.2.4).
/// * [`vary`](Self::vary): header names to **merge** into the response's
///   `Vary` with [`merged_vary`](Self::merged_vary) / [`merge_vary`], never
///   replacing what the application already put there (Fetch appendix
///   "CORS protocol and HTTP caches").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsHeaders {
    fields: Vec<(&'static str, String)>,
    vary: Vec<&'static str>,
}

impl CorsHeaders {
    pub(crate) fn push(&mut self, name: &'static str, value: impl Into<String>) {
        debug_assert!(self.get(name).is_none(), "duplicate field {name}");
        self.fields.push((name, value.into()));
    }

    pub(crate) fn push_vary(&mut self, token: &'static str) {
        if !self.vary.contains(&token) {
            self.vary.push(token);
        }
    }

    /// The fields to set, as `(lower-case name, value)` pairs, in a stable
    /// order. Each name appears at most once.
    ///
    /// Implements: Fetch §3.2.3 "HTTP responses".
    #[must_use]
    pub fn fields(&self) -> &[(&'static str, String)] {
        &self.fields
    }

    /// Iterates over [`fields`](Self::fields) as `(&str, &str)` pairs.
    ///
    /// Implements: Fetch §3.2.3 "HTTP responses".
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'static str, &str)> + '_ {
        self.fields
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }

    /// The value of the field `name` (compared case-insensitively), if set.
    ///
    /// Implements: Fetch §3.2.3; names compare case-insensitively (RFC 9110 §5.1).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Request-header names the response varies on, to be merged into `Vary`.
    ///
    /// Implements: Fetch appendix "CORS protocol and HTTP caches".
    #[must_use]
    pub fn vary(&self) -> &[&'static str] {
        &self.vary
    }

    /// The `Vary` value to write, given the response's current `Vary` (all
    /// field lines joined with `", "`), or `None` when this decision adds
    /// nothing to `Vary` and the response should be left as it is.
    ///
    /// Implements: Fetch appendix "CORS protocol and HTTP caches".
    #[must_use]
    pub fn merged_vary(&self, existing: Option<&str>) -> Option<String> {
        if self.vary.is_empty() {
            None
        } else {
            Some(merge_vary(existing, &self.vary))
        }
    }

    /// `true` when there is nothing to set and nothing to merge.
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.vary.is_empty()
    }
}

/// Merges header names into a `Vary` value (RFC 9110 §12.5.5), as the Fetch
/// appendix "CORS protocol and HTTP caches" requires of CORS middleware that
/// wraps an application which may set `Vary` itself.
///
/// * Existing members keep their order and spelling; new ones are appended.
/// * Members compare case-insensitively, so nothing is duplicated (either
///   from `existing` or within `add`); empty list elements are dropped.
/// * `Vary: *` already varies on everything, so if either side contains a
///   `*` member the result is exactly `*`.
/// * Each element of `add` may itself be a comma-separated list.
///
/// An empty result means "no `Vary` needed".
///
/// ```
/// use cors_core::merge_vary;
/// assert_eq!(merge_vary(Some("Accept-Encoding"), &["Origin"]), "Accept-Encoding, Origin");
/// assert_eq!(merge_vary(Some("origin"), &["Origin"]), "origin");
/// assert_eq!(merge_vary(Some("*"), &["Origin"]), "*");
/// assert_eq!(merge_vary(None, &["Origin"]), "Origin");
/// ```
#[must_use]
pub fn merge_vary(existing: Option<&str>, add: &[&str]) -> String {
    let mut members: Vec<&str> = Vec::new();
    let incoming = existing
        .into_iter()
        .flat_map(list_items)
        .chain(add.iter().flat_map(|item| list_items(item)));
    for member in incoming {
        if member == "*" {
            return "*".to_owned();
        }
        if !members.iter().any(|m| m.eq_ignore_ascii_case(member)) {
            members.push(member);
        }
    }
    members.join(", ")
}
