//! The request view, the decision types and [`decide`].

use std::collections::HashSet;

use thiserror::Error;

use crate::headers::{
    CorsHeaders, VARY_ORIGIN, VARY_REQUEST_HEADERS, VARY_REQUEST_PRIVATE_NETWORK, name,
};
use crate::policy::{CorsPolicy, HeaderRule, MethodRule, OriginMatch};
use crate::syntax::{is_token, list_items, trim_ows};

/// The CORS-relevant parts of an HTTP request, borrowed from the adapter's
/// own request type (Fetch §3.2.2 "HTTP requests").
///
/// Each header field is the raw field value, or `None` when absent. If a
/// field occurs on several lines, join them with `", "` first (RFC 9110
/// §5.3); a repeated `Origin` then never matches any policy entry. A value
/// that is not valid UTF-8 may be passed lossily converted: it can never
/// match a serialized origin or be a valid token, so the request is denied
/// rather than mis-allowed. Leading and trailing whitespace is ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorsRequest<'a> {
    /// The request method, case-sensitive (`OPTIONS` is a preflight
    /// candidate, `options` is not; Fetch §2.2.1 "method", §3.2.2).
    pub method: &'a str,
    /// `Origin` (Fetch §3.1).
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method` (Fetch §3.2.2).
    pub request_method: Option<&'a str>,
    /// `Access-Control-Request-Headers` (Fetch §3.2.2).
    pub request_headers: Option<&'a str>,
    /// `Access-Control-Request-Private-Network` (PNA draft, "Additional CORS
    /// Headers").
    pub request_private_network: Option<&'a str>,
}

impl<'a> CorsRequest<'a> {
    /// A request with the given method and `Origin` and no other CORS header.
    ///
    /// Implements: Fetch §3.2.2 "HTTP requests".
    #[must_use]
    pub const fn new(method: &'a str, origin: Option<&'a str>) -> Self {
        Self {
            method,
            origin,
            request_method: None,
            request_headers: None,
            request_private_network: None,
        }
    }

    /// A CORS-preflight request: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method` (Fetch §3.2.2).
    #[must_use]
    pub const fn preflight(origin: &'a str, request_method: &'a str) -> Self {
        Self::new("OPTIONS", Some(origin)).with_request_method(request_method)
    }

    /// Sets `Access-Control-Request-Method`.
    ///
    /// Implements: Fetch §3.2.2 "HTTP requests".
    #[must_use]
    pub const fn with_request_method(mut self, value: &'a str) -> Self {
        self.request_method = Some(value);
        self
    }

    /// Sets `Access-Control-Request-Headers`.
    ///
    /// Implements: Fetch §3.2.2 "HTTP requests".
    #[must_use]
    pub const fn with_request_headers(mut self, value: &'a str) -> Self {
        self.request_headers = Some(value);
        self
    }

    /// Sets `Access-Control-Request-Private-Network`.
    ///
    /// Implements: PNA draft, "Additional CORS Headers".
    #[must_use]
    pub const fn with_request_private_network(mut self, value: &'a str) -> Self {
        self.request_private_network = Some(value);
        self
    }

    /// A CORS request is any request with an `Origin` header (Fetch §3.2.2);
    /// this does not prove it is cross-origin.
    #[must_use]
    pub const fn is_cors(&self) -> bool {
        self.origin.is_some()
    }

    /// A CORS-preflight request is `OPTIONS` with both `Origin` and
    /// `Access-Control-Request-Method` (Fetch §3.2.2). A plain `OPTIONS`
    /// is an ordinary request for the application. Preflights never carry
    /// credentials (Fetch §3.2.5), so authentication must not be required
    /// for them.
    #[must_use]
    pub fn is_preflight(&self) -> bool {
        self.method == "OPTIONS" && self.origin.is_some() && self.request_method.is_some()
    }
}

/// Why a CORS request was denied. Meant for logs and metrics; the browser
/// only ever sees the missing headers.
///
/// Implements: Fetch §3.2.3 "HTTP responses": a request that is not shared gets no CORS headers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DenyReason {
    /// `Origin` is neither `null` nor a serialized origin (Fetch §3.1).
    #[error("the Origin header is not a serialized origin")]
    MalformedOrigin,
    /// `Origin: null` and the policy does not allow it.
    ///
    /// Implements: Fetch §3.1 (`origin-or-null`).
    #[error("the null origin is not allowed")]
    NullOriginNotAllowed,
    /// The origin is not in the list and matches no pattern or predicate.
    ///
    /// Implements: Fetch §4.9 "CORS check".
    #[error("the origin is not allowed")]
    OriginNotAllowed,
    /// `Access-Control-Request-Method` is not a method token (Fetch §3.2.4).
    #[error("Access-Control-Request-Method is not a valid method")]
    InvalidRequestMethod,
    /// The requested method is not safelisted, not listed and not covered
    /// by `*` (Fetch §4.7 "CORS-preflight fetch").
    #[error("method `{method}` is not allowed")]
    MethodNotAllowed {
        /// The requested method, as sent (Fetch §3.2.2
        /// `Access-Control-Request-Method`).
        method: String,
    },
    /// `Access-Control-Request-Headers` contains an item that is not a
    /// header name (Fetch §3.2.4 `1#field-name`).
    #[error("Access-Control-Request-Headers is not a list of header names")]
    InvalidRequestHeaders,
    /// A requested header is not allowed (Fetch §4.7).
    #[error("header `{name}` is not allowed")]
    HeaderNotAllowed {
        /// The requested header name, lower-cased (Fetch §3.2.2
        /// `Access-Control-Request-Headers`).
        name: String,
    },
    /// `Authorization` was requested and the policy only has `*`, which never
    /// covers it (Fetch §2.2.2 "CORS non-wildcard request-header name").
    #[error("Authorization must be listed explicitly; `*` does not cover it")]
    AuthorizationNotCovered,
}

/// A successful preflight answer (Fetch §4.7 "CORS-preflight fetch").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightAnswer {
    status: u16,
    headers: CorsHeaders,
}

impl PreflightAnswer {
    /// The *ok status* to answer with (204 unless configured).
    ///
    /// Implements: Fetch §2.2.3 *ok status*, §3.2.3.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers to send; see [`CorsHeaders`].
    ///
    /// Implements: Fetch §3.2.3 "HTTP responses", §4.7.
    #[must_use]
    pub fn headers(&self) -> &CorsHeaders {
        &self.headers
    }
}

/// A denied CORS request (Fetch §3.2.3: omit the CORS headers, optionally
/// with 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    reason: DenyReason,
    preflight_status: Option<u16>,
    headers: CorsHeaders,
}

impl Denial {
    /// Why it was denied.
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn reason(&self) -> &DenyReason {
        &self.reason
    }

    /// `Some(status)` for a denied preflight, which the adapter answers at
    /// once (never calling the application); `None` for a denied actual
    /// request, which still goes to the application (CORS is not access
    /// control: the browser merely withholds the response from the script).
    ///
    /// Implements: Fetch §3.2.3 (403 suggested for a denied preflight).
    #[must_use]
    pub fn preflight_status(&self) -> Option<u16> {
        self.preflight_status
    }

    /// Whether the denied request was a preflight.
    ///
    /// Implements: Fetch §3.2.2.
    #[must_use]
    pub fn is_preflight(&self) -> bool {
        self.preflight_status.is_some()
    }

    /// What must still be sent: only `Vary` members, never an
    /// `Access-Control-*` field, so caches keep responses apart.
    ///
    /// Implements: Fetch §3.2.3 and appendix "CORS protocol and HTTP caches".
    #[must_use]
    pub fn headers(&self) -> &CorsHeaders {
        &self.headers
    }
}

/// What to do with a request. Obtain it from [`decide`].
///
/// Adapter recipe:
///
/// 1. If [`preflight_status`](Self::preflight_status) is `Some(status)`,
///    answer immediately with that status, the [`headers`](Self::headers)
///    and an **empty body with `Content-Length: 0`** (Safari waits for a
///    body on a preflight without it; express `cors` 2.8.4). If your HTTP
///    stack strips `Content-Length` from 204 responses (RFC 9110 §8.6) and
///    you need that Safari fix, configure `preflight_status(200)`. Do not
///    run authentication or the application for it.
/// 2. Otherwise run the application, remove any [`name::MANAGED`] fields
///    it set, set the [`headers`](Self::headers) fields on **every** response
///    it produces (errors, timeouts and empty long-poll answers included:
///    a BOSH client that sees an error without CORS headers reads status 0
///    and retries forever), and merge the `Vary` members with
///    [`CorsHeaders::merged_vary`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// No `Origin`: not a CORS request. The headers are what every response
    /// of the resource carries anyway: the static `*` set for a static-any
    /// policy (so a cached copy serves CORS requests correctly), or just
    /// `Vary: Origin` when the allowed origin depends on the request
    /// (Fetch appendix "CORS protocol and HTTP caches").
    ///
    /// Implements: Fetch §3.2.2 (a CORS request has `Origin`).
    NotCors(CorsHeaders),
    /// A CORS-preflight request that passed: answer it directly.
    ///
    /// Implements: Fetch §4.7 "CORS-preflight fetch".
    Preflight(PreflightAnswer),
    /// An allowed CORS request that is not a preflight: run the application
    /// and put these headers on its response, whatever its status.
    ///
    /// Implements: Fetch §4.9 "CORS check".
    Actual(CorsHeaders),
    /// A CORS request (preflight or not) that is not allowed.
    ///
    /// Implements: Fetch §3.2.3 "HTTP responses".
    Denied(Denial),
}

impl Decision {
    /// The headers to apply, whatever the variant.
    ///
    /// Implements: Fetch §3.2.3 and appendix "CORS protocol and HTTP caches".
    #[must_use]
    pub fn headers(&self) -> &CorsHeaders {
        match self {
            Self::NotCors(headers) | Self::Actual(headers) => headers,
            Self::Preflight(answer) => &answer.headers,
            Self::Denied(denial) => &denial.headers,
        }
    }

    /// `Some(status)` when the adapter must answer now, without calling the
    /// application: a preflight, allowed or denied. `None` otherwise.
    ///
    /// Implements: Fetch §3.2.2, §3.2.3, §4.7.
    #[must_use]
    pub fn preflight_status(&self) -> Option<u16> {
        match self {
            Self::Preflight(answer) => Some(answer.status),
            Self::Denied(denial) => denial.preflight_status,
            Self::NotCors(_) | Self::Actual(_) => None,
        }
    }

    /// Why the request was denied, if it was.
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn deny_reason(&self) -> Option<&DenyReason> {
        match self {
            Self::Denied(denial) => Some(&denial.reason),
            _ => None,
        }
    }

    /// The single `Access-Control-Allow-Origin` value, if any.
    ///
    /// Implements: Fetch §3.2.3, §3.2.4.
    #[must_use]
    pub fn allow_origin(&self) -> Option<&str> {
        self.headers().get(name::ACCESS_CONTROL_ALLOW_ORIGIN)
    }
}

/// Decides the CORS outcome of `request` under `policy`, following Fetch
/// §3.2 "CORS protocol", §4.7 "CORS-preflight fetch", §4.9 "CORS check", the
/// appendix "CORS protocol and HTTP caches" and, when enabled, the Private
/// Network Access draft. Pure: no IO, no clock, no panics on any input.
///
/// * no `Origin` → [`Decision::NotCors`];
/// * `OPTIONS` + `Origin` + `Access-Control-Request-Method` →
///   [`Decision::Preflight`] or a denied preflight;
/// * any other request with `Origin` → [`Decision::Actual`] or a denied
///   actual request.
#[must_use]
pub fn decide(policy: &CorsPolicy, request: &CorsRequest<'_>) -> Decision {
    let Some(origin) = request.origin.map(trim_ows) else {
        return Decision::NotCors(static_headers(policy));
    };
    if request.is_preflight() {
        preflight(policy, origin, request)
    } else {
        actual(policy, origin)
    }
}

impl CorsPolicy {
    /// Same as [`decide`]`(self, request)`.
    ///
    /// Implements: Fetch §3.2, §4.7, §4.9.
    #[must_use]
    pub fn decide(&self, request: &CorsRequest<'_>) -> Decision {
        decide(self, request)
    }
}

/// Headers for a response whose request has no `Origin`.
fn static_headers(policy: &CorsPolicy) -> CorsHeaders {
    let mut headers = CorsHeaders::default();
    if policy.varies_on_origin() {
        headers.push_vary(VARY_ORIGIN);
    } else {
        // Static `*`: identical to the actual-response headers, so a cached
        // copy is correct for every requester (and never needs `Vary`).
        headers.push(name::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        if let Some(expose) = &policy.expose_value {
            headers.push(name::ACCESS_CONTROL_EXPOSE_HEADERS, expose.as_str());
        }
    }
    headers
}

/// `Vary` members every preflight answer (allowed or denied) carries.
fn preflight_vary(policy: &CorsPolicy) -> CorsHeaders {
    let mut headers = CorsHeaders::default();
    if policy.varies_on_origin() {
        headers.push_vary(VARY_ORIGIN);
    }
    if policy.headers == HeaderRule::Mirror {
        headers.push_vary(VARY_REQUEST_HEADERS);
    }
    if policy.private_network {
        headers.push_vary(VARY_REQUEST_PRIVATE_NETWORK);
    }
    headers
}

/// Pushes ACAO (and ACAC) for an allowed origin.
fn push_origin(
    headers: &mut CorsHeaders,
    policy: &CorsPolicy,
    matched: &OriginMatch,
    origin: &str,
) {
    match matched {
        OriginMatch::Wildcard => headers.push(name::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        OriginMatch::Echo => headers.push(name::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
    }
    // Build-time validation guarantees credentials never meet the wildcard;
    // checked again so no decision can ever pair them.
    if policy.credentials && matches!(matched, OriginMatch::Echo) {
        headers.push(name::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
}

fn actual(policy: &CorsPolicy, origin: &str) -> Decision {
    let mut headers = CorsHeaders::default();
    if policy.varies_on_origin() {
        headers.push_vary(VARY_ORIGIN);
    }
    let matched = match policy.match_origin(origin) {
        Ok(matched) => matched,
        Err(reason) => {
            return Decision::Denied(Denial {
                reason,
                preflight_status: None,
                headers,
            });
        }
    };
    push_origin(&mut headers, policy, &matched, origin);
    if let Some(expose) = &policy.expose_value {
        headers.push(name::ACCESS_CONTROL_EXPOSE_HEADERS, expose.as_str());
    }
    Decision::Actual(headers)
}

fn preflight(policy: &CorsPolicy, origin: &str, request: &CorsRequest<'_>) -> Decision {
    let vary = preflight_vary(policy);
    let deny = |reason| {
        Decision::Denied(Denial {
            reason,
            preflight_status: Some(policy.denied_preflight_status),
            headers: vary.clone(),
        })
    };

    let matched = match policy.match_origin(origin) {
        Ok(matched) => matched,
        Err(reason) => return deny(reason),
    };

    let method = trim_ows(request.request_method.unwrap_or_default());
    if !is_token(method) {
        return deny(DenyReason::InvalidRequestMethod);
    }
    if !method_allowed(policy, method) {
        return deny(DenyReason::MethodNotAllowed {
            method: method.to_owned(),
        });
    }

    // First-seen order, deduplicated through a set: a hostile header with
    // many thousands of names must not cost quadratic time.
    let mut requested: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for item in request
        .request_headers
        .map(list_items)
        .into_iter()
        .flatten()
    {
        if !is_token(item) {
            return deny(DenyReason::InvalidRequestHeaders);
        }
        let lower = item.to_ascii_lowercase();
        if seen.insert(lower.clone()) {
            requested.push(lower);
        }
    }
    if let Err(reason) = headers_allowed(policy, &requested) {
        return deny(reason);
    }

    let mut headers = vary;
    push_origin(&mut headers, policy, &matched, origin);
    if let Some(methods) = &policy.allow_methods_value {
        headers.push(name::ACCESS_CONTROL_ALLOW_METHODS, methods.as_str());
    }
    match &policy.headers {
        HeaderRule::Mirror if !requested.is_empty() => {
            headers.push(name::ACCESS_CONTROL_ALLOW_HEADERS, requested.join(", "));
        }
        HeaderRule::Mirror => {}
        HeaderRule::List(_) | HeaderRule::Any { .. } => {
            if let Some(allowed) = &policy.allow_headers_value {
                headers.push(name::ACCESS_CONTROL_ALLOW_HEADERS, allowed.as_str());
            }
        }
    }
    if let Some(max_age) = &policy.max_age_value {
        headers.push(name::ACCESS_CONTROL_MAX_AGE, max_age.as_str());
    }
    let pna_requested = request
        .request_private_network
        .is_some_and(|value| trim_ows(value) == "true");
    if policy.private_network && pna_requested {
        headers.push(name::ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK, "true");
    }
    Decision::Preflight(PreflightAnswer {
        status: policy.preflight_status,
        headers,
    })
}

/// Fetch §2.2.1 "CORS-safelisted method" (byte-case-sensitive), a listed
/// method (case-sensitive), or `*` without credentials (§4.7 step "If
/// request's method is not in methods...").
fn method_allowed(policy: &CorsPolicy, method: &str) -> bool {
    if matches!(method, "GET" | "HEAD" | "POST") {
        return true;
    }
    match &policy.methods {
        MethodRule::Any => !policy.credentials,
        MethodRule::List(list) => list.iter().any(|m| m == method),
    }
}

/// Fetch §4.7: every requested name must be listed (case-insensitively) or
/// covered by `*` without credentials, and `authorization` (the CORS
/// non-wildcard request-header name) must be listed explicitly.
fn headers_allowed(policy: &CorsPolicy, requested: &[String]) -> Result<(), DenyReason> {
    let listed = |list: &[String], name: &str| list.iter().any(|h| h.eq_ignore_ascii_case(name));
    for name in requested {
        match &policy.headers {
            // `*` is a token, but echoed in Access-Control-Allow-Headers it
            // is the wildcard (Fetch §3.2.4), which would widen the answer
            // and, with credentials, pair `*` with credentials. A literal
            // `*` header can only be allowed through `allow_any_header()`.
            HeaderRule::Mirror => {
                if name == "*" {
                    return Err(DenyReason::HeaderNotAllowed { name: name.clone() });
                }
            }
            HeaderRule::List(list) => {
                if !listed(list, name) {
                    return Err(DenyReason::HeaderNotAllowed { name: name.clone() });
                }
            }
            HeaderRule::Any { explicit } => {
                if name == "authorization" && !listed(explicit, name) {
                    return Err(DenyReason::AuthorizationNotCovered);
                }
                if policy.credentials && !listed(explicit, name) {
                    return Err(DenyReason::HeaderNotAllowed { name: name.clone() });
                }
            }
        }
    }
    Ok(())
}
