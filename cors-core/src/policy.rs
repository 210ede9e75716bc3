//! The validated CORS policy and its builder.

use std::fmt;
use std::sync::Arc;

use crate::error::{ConfigError, OriginError};
use crate::syntax::{ParsedOrigin, is_ip_literal, is_token, parse_origin};

/// Default `Access-Control-Max-Age`: 7200 s, the cap Chromium (v76+) applies
/// (Fetch §3.2.3 leaves the value to the server; browsers clamp it).
pub const DEFAULT_MAX_AGE: u32 = 7200;
/// Largest accepted `Access-Control-Max-Age` (Firefox's cap).
///
/// Implements: Fetch §3.2.3 `Access-Control-Max-Age`.
pub const MAX_MAX_AGE: u32 = 86_400;
/// Default status of a successful preflight answer (an *ok status*, Fetch §2.2.3).
pub const DEFAULT_PREFLIGHT_STATUS: u16 = 204;
/// Default status of a denied preflight answer: Fetch §3.2.3 "HTTP responses"
/// suggests 403 with the CORS headers omitted.
pub const DEFAULT_DENIED_PREFLIGHT_STATUS: u16 = 403;

pub(crate) type Predicate = Arc<dyn Fn(&str) -> bool + Send + Sync + 'static>;

/// A risky-but-legal configuration noticed by
/// [`CorsPolicyBuilder::build`]; see [`CorsPolicy::warnings`].
///
/// The crate does no IO, so it reports these instead of logging them; an
/// adapter typically logs them once at startup.
///
/// Implements: Fetch §3.2.5 "CORS protocol and credentials" (confused deputy).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// `Access-Control-Max-Age` above 7200 s: Chromium caps it at 7200
    /// (Firefox at 86400), Fetch §3.2.3.
    MaxAgeAboveChromiumCap {
        /// The configured value (Fetch §3.2.3 `delta-seconds`).
        seconds: u32,
    },
    /// `null` is allowed: every sandboxed iframe, `file:` or `data:` page and
    /// some redirected requests send `Origin: null` (Fetch §3.1, §3.2.3), so
    /// this admits any site able to create an opaque origin.
    NullOriginAllowed,
    /// A predicate decides origins for a credentialed policy: a predicate
    /// that accepts too much reflects arbitrary origins with credentials.
    ///
    /// Implements: Fetch §3.2.5.
    CredentialsWithPredicate,
    /// Request headers are mirrored for a credentialed policy, so any header
    /// (including `Authorization`) is allowed with credentials.
    ///
    /// Implements: Fetch §3.2.5.
    CredentialsWithMirroredHeaders,
    /// A listed method differs only in case from one the browser normalizes
    /// to upper case (`DELETE GET HEAD OPTIONS POST PUT`, Fetch §2.2.1
    /// "normalize"), so it can never match: methods compare case-sensitively.
    MethodNeverMatches {
        /// The configured method (Fetch §2.2.1 "normalize").
        method: String,
    },
    /// `Set-Cookie` / `Set-Cookie2` is listed for exposure, but Fetch
    /// (§2.2.6 "CORS-filtered response") never exposes it.
    SetCookieNeverExposed,
    /// No origin can ever be allowed (empty list, no pattern, no predicate,
    /// `null` not allowed): every CORS request is denied.
    ///
    /// Implements: Fetch §4.9 "CORS check".
    NoOriginAllowed,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MaxAgeAboveChromiumCap { seconds } => write!(
                f,
                "max-age {seconds}s exceeds Chromium's 7200s cap; Chromium will use 7200s"
            ),
            Self::NullOriginAllowed => f.write_str(
                "the `null` origin is allowed: any sandboxed or file: document is admitted",
            ),
            Self::CredentialsWithPredicate => {
                f.write_str("an origin predicate is combined with credentials")
            }
            Self::CredentialsWithMirroredHeaders => {
                f.write_str("request headers are mirrored with credentials")
            }
            Self::MethodNeverMatches { method } => write!(
                f,
                "method `{method}` never matches: browsers send it upper-cased and methods are case-sensitive"
            ),
            Self::SetCookieNeverExposed => {
                f.write_str("Set-Cookie is never exposed to scripts; listing it has no effect")
            }
            Self::NoOriginAllowed => {
                f.write_str("no origin is allowed; every CORS request is denied")
            }
        }
    }
}

/// An anchored `scheme://*.suffix[:port]` origin pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OriginPattern {
    scheme: String,
    /// Host suffix without the leading dot, e.g. `example.com`.
    suffix: String,
    port: Option<String>,
}

impl OriginPattern {
    fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.matches('*').count() != 1 {
            return Err("exactly one `*` is allowed, as the first host label".to_owned());
        }
        let Some((scheme, rest)) = pattern.split_once("://") else {
            return Err(OriginError::MissingScheme.to_string());
        };
        let Some(tail) = rest.strip_prefix("*.") else {
            return Err("`*` must be the whole first host label, as in `*.example.com`".to_owned());
        };
        // Validate the rest by substituting a concrete label for `*`.
        let candidate = format!("{scheme}://x.{tail}");
        let parsed = parse_origin(&candidate).map_err(|e| e.to_string())?;
        let suffix = parsed.host.strip_prefix("x.").unwrap_or(parsed.host);
        if is_ip_literal(suffix) || parsed.host.starts_with('[') {
            return Err("an IP address has no subdomains".to_owned());
        }
        let bare = suffix.strip_suffix('.').unwrap_or(suffix);
        if !bare.contains('.') && bare != "localhost" {
            return Err(
                "the suffix needs at least two labels (`*.com` would match whole top-level domains)"
                    .to_owned(),
            );
        }
        Ok(Self {
            scheme: parsed.scheme.to_owned(),
            suffix: suffix.to_owned(),
            port: parsed.port.map(str::to_owned),
        })
    }

    /// Anchored match: same scheme, same port (absent = default), and a host
    /// that is one or more labels followed by `.suffix`. The apex itself
    /// does not match ("subdomains only").
    fn matches(&self, origin: &ParsedOrigin<'_>) -> bool {
        if origin.scheme != self.scheme || origin.port != self.port.as_deref() {
            return false;
        }
        if is_ip_literal(origin.host) {
            return false;
        }
        match origin.host.strip_suffix(self.suffix.as_str()) {
            Some(prefix) => prefix.len() > 1 && prefix.ends_with('.'),
            None => false,
        }
    }
}

/// How `Access-Control-Allow-Origin` is chosen.
#[derive(Clone)]
pub(crate) enum OriginRule {
    /// Static `*`.
    Any,
    /// Echo the request origin when it is allowed.
    Dynamic {
        exact: Vec<String>,
        patterns: Vec<OriginPattern>,
        predicates: Vec<Predicate>,
        allow_null: bool,
    },
}

/// How a requested method is allowed (Fetch §4.7 "CORS-preflight fetch").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MethodRule {
    Any,
    List(Vec<String>),
}

/// How requested headers are allowed (Fetch §4.7 "CORS-preflight fetch").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderRule {
    /// Only these (compared case-insensitively).
    List(Vec<String>),
    /// `*`, plus explicitly listed names; only explicit names cover
    /// `Authorization` (the CORS non-wildcard request-header name).
    Any { explicit: Vec<String> },
    /// Echo the validated request headers.
    Mirror,
}

/// Outcome of matching a request origin against the policy.
pub(crate) enum OriginMatch {
    Wildcard,
    Echo,
}

/// A validated CORS policy. Build one with [`CorsPolicy::builder`] or take
/// the [`CorsPolicy::bosh`] preset, then call [`decide`](crate::decide).
///
/// A built policy is immutable, cheap to share (`Clone`, `Send + Sync`) and
/// never contradicts the Fetch standard: the combinations Fetch §3.2.5
/// "CORS protocol and credentials" makes unsatisfiable are refused by
/// [`CorsPolicyBuilder::build`].
#[derive(Clone)]
pub struct CorsPolicy {
    pub(crate) origin: OriginRule,
    pub(crate) credentials: bool,
    pub(crate) methods: MethodRule,
    pub(crate) headers: HeaderRule,
    pub(crate) max_age: Option<u32>,
    pub(crate) private_network: bool,
    pub(crate) preflight_status: u16,
    pub(crate) denied_preflight_status: u16,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) allow_methods_value: Option<String>,
    pub(crate) allow_headers_value: Option<String>,
    pub(crate) expose_value: Option<String>,
    pub(crate) max_age_value: Option<String>,
}

impl fmt::Debug for CorsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match &self.origin {
            OriginRule::Any => "*".to_owned(),
            OriginRule::Dynamic {
                exact,
                patterns,
                predicates,
                allow_null,
            } => format!(
                "exact={exact:?} patterns={} predicates={} null={allow_null}",
                patterns.len(),
                predicates.len()
            ),
        };
        f.debug_struct("CorsPolicy")
            .field("origin", &origin)
            .field("credentials", &self.credentials)
            .field("methods", &self.methods)
            .field("headers", &self.headers)
            .field("expose", &self.expose_value)
            .field("max_age", &self.max_age)
            .field("private_network", &self.private_network)
            .field("preflight_status", &self.preflight_status)
            .field("denied_preflight_status", &self.denied_preflight_status)
            .finish_non_exhaustive()
    }
}

impl CorsPolicy {
    /// Starts a builder with nothing allowed, credentials off, max-age 7200,
    /// preflight status 204, denied-preflight status 403, PNA off.
    #[must_use]
    pub fn builder() -> CorsPolicyBuilder {
        CorsPolicyBuilder::new()
    }

    /// The preset BOSH connection managers have sent for years: any origin
    /// (`Access-Control-Allow-Origin: *`), methods `GET, POST, OPTIONS`,
    /// header `Content-Type`, max-age 86400, no credentials, nothing exposed.
    ///
    /// `Content-Type` must be allowed because Strophe.js posts `text/xml`,
    /// which is not a CORS-safelisted content type (Fetch §2.2.2), so every
    /// BOSH request is preflighted. Because the origin is a static `*`, no
    /// `Vary` is ever sent. The 86400 max-age is kept for compatibility; it
    /// yields [`Warning::MaxAgeAboveChromiumCap`]. Start from
    /// [`CorsPolicyBuilder::bosh`] to change any of it.
    #[must_use]
    pub fn bosh() -> Self {
        let methods = vec!["GET".to_owned(), "POST".to_owned(), "OPTIONS".to_owned()];
        Self::assemble(Parts {
            origin: OriginRule::Any,
            credentials: false,
            methods: MethodRule::List(methods),
            headers: HeaderRule::List(vec!["Content-Type".to_owned()]),
            expose_any: false,
            expose: Vec::new(),
            max_age: Some(MAX_MAX_AGE),
            private_network: false,
            preflight_status: DEFAULT_PREFLIGHT_STATUS,
            denied_preflight_status: DEFAULT_DENIED_PREFLIGHT_STATUS,
        })
    }

    /// Risky-but-legal settings found at build time, for the embedder to log.
    ///
    /// Implements: Fetch §3.2.5.
    #[must_use]
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// `true` when `Access-Control-Allow-Origin` depends on the request's
    /// `Origin`, i.e. every response of the resource carries `Vary: Origin`
    /// (Fetch appendix "CORS protocol and HTTP caches"). `false` for a static
    /// `*`.
    ///
    /// Implements: Fetch appendix "CORS protocol and HTTP caches".
    #[must_use]
    pub fn varies_on_origin(&self) -> bool {
        matches!(self.origin, OriginRule::Dynamic { .. })
    }

    /// Whether responses carry `Access-Control-Allow-Credentials: true`.
    ///
    /// Implements: Fetch §3.2.5.
    #[must_use]
    pub fn allows_credentials(&self) -> bool {
        self.credentials
    }

    /// Whether the `Origin` value `origin` would receive
    /// `Access-Control-Allow-Origin` (always `true` for a static `*`).
    /// Surrounding whitespace is ignored, as in [`decide`](crate::decide).
    ///
    /// Implements: Fetch §4.9 "CORS check".
    #[must_use]
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.match_origin(crate::syntax::trim_ows(origin)).is_ok()
    }

    /// The `Access-Control-Max-Age` sent on successful preflights, if any.
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn max_age(&self) -> Option<u32> {
        self.max_age
    }

    /// Whether the Private Network Access opt-in is enabled.
    ///
    /// Implements: PNA draft, "Additional CORS Headers".
    #[must_use]
    pub fn allows_private_network(&self) -> bool {
        self.private_network
    }

    /// Status of a successful preflight answer.
    ///
    /// Implements: Fetch §2.2.3 *ok status*.
    #[must_use]
    pub fn preflight_status(&self) -> u16 {
        self.preflight_status
    }

    /// Status of a denied preflight answer.
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn denied_preflight_status(&self) -> u16 {
        self.denied_preflight_status
    }

    /// Byte-exact origin decision (Fetch §4.9 "CORS check" compares
    /// byte for byte), `null` only when explicitly allowed.
    pub(crate) fn match_origin(&self, origin: &str) -> Result<OriginMatch, crate::DenyReason> {
        use crate::DenyReason;
        let OriginRule::Dynamic {
            exact,
            patterns,
            predicates,
            allow_null,
        } = &self.origin
        else {
            return Ok(OriginMatch::Wildcard);
        };
        if origin == "null" {
            return if *allow_null {
                Ok(OriginMatch::Echo)
            } else {
                Err(DenyReason::NullOriginNotAllowed)
            };
        }
        if exact.iter().any(|o| o == origin) {
            return Ok(OriginMatch::Echo);
        }
        let Ok(parsed) = parse_origin(origin) else {
            return Err(DenyReason::MalformedOrigin);
        };
        if patterns.iter().any(|p| p.matches(&parsed)) || predicates.iter().any(|p| p(origin)) {
            Ok(OriginMatch::Echo)
        } else {
            Err(DenyReason::OriginNotAllowed)
        }
    }

    fn assemble(parts: Parts) -> Self {
        let Parts {
            origin,
            credentials,
            methods,
            headers,
            expose_any,
            expose,
            max_age,
            private_network,
            preflight_status,
            denied_preflight_status,
        } = parts;

        let mut warnings = Vec::new();
        if let Some(seconds) = max_age.filter(|s| *s > DEFAULT_MAX_AGE) {
            warnings.push(Warning::MaxAgeAboveChromiumCap { seconds });
        }
        if let OriginRule::Dynamic {
            exact,
            patterns,
            predicates,
            allow_null,
        } = &origin
        {
            if *allow_null {
                warnings.push(Warning::NullOriginAllowed);
            }
            if credentials && !predicates.is_empty() {
                warnings.push(Warning::CredentialsWithPredicate);
            }
            if exact.is_empty() && patterns.is_empty() && predicates.is_empty() && !allow_null {
                warnings.push(Warning::NoOriginAllowed);
            }
        }
        if credentials && headers == HeaderRule::Mirror {
            warnings.push(Warning::CredentialsWithMirroredHeaders);
        }
        if let MethodRule::List(list) = &methods {
            for method in list {
                let normalized = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(method) && *n != method);
                if normalized {
                    warnings.push(Warning::MethodNeverMatches {
                        method: method.clone(),
                    });
                }
            }
        }
        if expose
            .iter()
            .any(|h| h.eq_ignore_ascii_case("set-cookie") || h.eq_ignore_ascii_case("set-cookie2"))
        {
            warnings.push(Warning::SetCookieNeverExposed);
        }

        let allow_methods_value = match &methods {
            MethodRule::Any => Some("*".to_owned()),
            MethodRule::List(list) => non_empty_join(list),
        };
        let allow_headers_value = match &headers {
            HeaderRule::List(list) => non_empty_join(list),
            HeaderRule::Any { explicit } => Some(
                std::iter::once("*")
                    .chain(explicit.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            HeaderRule::Mirror => None,
        };
        let expose_value = if expose_any {
            Some("*".to_owned())
        } else {
            non_empty_join(&expose)
        };

        Self {
            origin,
            credentials,
            methods,
            headers,
            max_age,
            private_network,
            preflight_status,
            denied_preflight_status,
            warnings,
            allow_methods_value,
            allow_headers_value,
            expose_value,
            max_age_value: max_age.map(|s| s.to_string()),
        }
    }
}

fn non_empty_join(list: &[String]) -> Option<String> {
    if list.is_empty() {
        None
    } else {
        Some(list.join(", "))
    }
}

/// Validated pieces handed to [`CorsPolicy::assemble`].
struct Parts {
    origin: OriginRule,
    credentials: bool,
    methods: MethodRule,
    headers: HeaderRule,
    expose_any: bool,
    expose: Vec<String>,
    max_age: Option<u32>,
    private_network: bool,
    preflight_status: u16,
    denied_preflight_status: u16,
}

/// Builder for [`CorsPolicy`]. Every setter takes and returns the builder;
/// nothing is validated until [`build`](Self::build), which returns a
/// [`ConfigError`] for contradictions instead of panicking.
///
/// Defaults: no origin, no method beyond the safelisted ones, no header,
/// nothing exposed, no credentials, max-age [`DEFAULT_MAX_AGE`], PNA off,
/// preflight status [`DEFAULT_PREFLIGHT_STATUS`], denied-preflight status
/// [`DEFAULT_DENIED_PREFLIGHT_STATUS`].
#[derive(Clone)]
pub struct CorsPolicyBuilder {
    any_origin: bool,
    origins: Vec<String>,
    patterns: Vec<String>,
    predicates: Vec<Predicate>,
    allow_null: bool,
    credentials: bool,
    any_method: bool,
    methods: Vec<String>,
    any_header: bool,
    mirror_headers: bool,
    headers: Vec<String>,
    any_expose: bool,
    expose: Vec<String>,
    max_age: Option<u32>,
    private_network: bool,
    preflight_status: u16,
    denied_preflight_status: u16,
}

impl fmt::Debug for CorsPolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorsPolicyBuilder")
            .field("any_origin", &self.any_origin)
            .field("origins", &self.origins)
            .field("patterns", &self.patterns)
            .field("predicates", &self.predicates.len())
            .field("allow_null", &self.allow_null)
            .field("credentials", &self.credentials)
            .field("any_method", &self.any_method)
            .field("methods", &self.methods)
            .field("any_header", &self.any_header)
            .field("mirror_headers", &self.mirror_headers)
            .field("headers", &self.headers)
            .field("any_expose", &self.any_expose)
            .field("expose", &self.expose)
            .field("max_age", &self.max_age)
            .field("private_network", &self.private_network)
            .field("preflight_status", &self.preflight_status)
            .field("denied_preflight_status", &self.denied_preflight_status)
            .finish()
    }
}

impl Default for CorsPolicyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CorsPolicyBuilder {
    /// A builder with the defaults listed on [`CorsPolicyBuilder`].
    ///
    /// Implements: Fetch §3.2 "CORS protocol".
    #[must_use]
    pub fn new() -> Self {
        Self {
            any_origin: false,
            origins: Vec::new(),
            patterns: Vec::new(),
            predicates: Vec::new(),
            allow_null: false,
            credentials: false,
            any_method: false,
            methods: Vec::new(),
            any_header: false,
            mirror_headers: false,
            headers: Vec::new(),
            any_expose: false,
            expose: Vec::new(),
            max_age: Some(DEFAULT_MAX_AGE),
            private_network: false,
            preflight_status: DEFAULT_PREFLIGHT_STATUS,
            denied_preflight_status: DEFAULT_DENIED_PREFLIGHT_STATUS,
        }
    }

    /// A builder preloaded with the [`CorsPolicy::bosh`] preset.
    ///
    /// Implements: Fetch §3.2; see the spec checklist §3.5.
    #[must_use]
    pub fn bosh() -> Self {
        Self::new()
            .allow_any_origin()
            .allow_methods(["GET", "POST", "OPTIONS"])
            .allow_header("Content-Type")
            .max_age(MAX_MAX_AGE)
    }

    /// Send `Access-Control-Allow-Origin: *` to everyone (static, no `Vary`).
    /// Incompatible with credentials and with origin lists, patterns and
    /// predicates (Fetch §3.2.5).
    #[must_use]
    pub fn allow_any_origin(mut self) -> Self {
        self.any_origin = true;
        self
    }

    /// Allow one exact origin, a `serialized-origin` such as
    /// `https://app.example.com` or `http://localhost:5280` (Fetch §3.1).
    /// The request origin is compared byte for byte and echoed.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.push(origin.into());
        self
    }

    /// Allow several exact origins; see [`allow_origin`](Self::allow_origin).
    ///
    /// Implements: Fetch §3.1.
    #[must_use]
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origins.extend(origins.into_iter().map(Into::into));
        self
    }

    /// Allow the subdomains matched by `scheme://*.suffix[:port]`, e.g.
    /// `https://*.example.com`. The match is anchored: same scheme, same
    /// port, and one or more labels before `.suffix`; the apex
    /// `https://example.com` is *not* matched (list it separately).
    ///
    /// Implements: Fetch §3.1, §4.9.
    #[must_use]
    pub fn allow_origin_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.patterns.push(pattern.into());
        self
    }

    /// Allow origins accepted by `predicate`. It is called only with
    /// syntactically valid serialized origins that no list or pattern
    /// matched, never with `null`. Several predicates are OR-ed.
    ///
    /// Implements: Fetch §4.9 "CORS check".
    #[must_use]
    pub fn allow_origin_predicate<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        self.predicates.push(Arc::new(predicate));
        self
    }

    /// Echo `Origin: null` (opaque origins: sandboxed iframes, `file:`,
    /// `data:`, some redirects; Fetch §3.1). Off by default; turning it on
    /// yields [`Warning::NullOriginAllowed`]. Under `allow_any_origin()`
    /// `null` already receives `*`.
    #[must_use]
    pub fn allow_null_origin(mut self, allow: bool) -> Self {
        self.allow_null = allow;
        self
    }

    /// Send `Access-Control-Allow-Credentials: true` on preflights and actual
    /// responses (Fetch §3.2.3, §3.2.5).
    #[must_use]
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// Allow one method (case-sensitive token, Fetch §3.2.4). The safelisted
    /// `GET`, `HEAD` and `POST` always pass preflights without being listed.
    #[must_use]
    pub fn allow_method(mut self, method: impl Into<String>) -> Self {
        self.methods.push(method.into());
        self
    }

    /// Allow several methods; see [`allow_method`](Self::allow_method).
    ///
    /// Implements: Fetch §3.2.4.
    #[must_use]
    pub fn allow_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods.extend(methods.into_iter().map(Into::into));
        self
    }

    /// `Access-Control-Allow-Methods: *` (without credentials only).
    ///
    /// Implements: Fetch §3.2.4.
    #[must_use]
    pub fn allow_any_method(mut self) -> Self {
        self.any_method = true;
        self
    }

    /// Allow one request header (compared case-insensitively).
    /// With [`allow_any_header`](Self::allow_any_header), listing
    /// `Authorization` is the only way to allow it (Fetch §2.2.2
    /// "CORS non-wildcard request-header name").
    #[must_use]
    pub fn allow_header(mut self, name: impl Into<String>) -> Self {
        self.headers.push(name.into());
        self
    }

    /// Allow several request headers; see [`allow_header`](Self::allow_header).
    ///
    /// Implements: Fetch §3.2.4.
    #[must_use]
    pub fn allow_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.headers.extend(names.into_iter().map(Into::into));
        self
    }

    /// `Access-Control-Allow-Headers: *` (without credentials only). `*`
    /// never covers `Authorization`; list it with
    /// [`allow_header`](Self::allow_header) to send `*, Authorization`.
    ///
    /// Implements: Fetch §3.2.4.
    #[must_use]
    pub fn allow_any_header(mut self) -> Self {
        self.any_header = true;
        self
    }

    /// Echo the request's `Access-Control-Request-Headers` after checking
    /// that every item is a valid header name; adds
    /// `Vary: Access-Control-Request-Headers` to preflight answers. A
    /// requested name `*` is refused rather than echoed, since an echoed `*`
    /// would be the wildcard (and, with credentials, a `*` beside
    /// `Access-Control-Allow-Credentials`).
    ///
    /// Implements: Fetch §4.7; an explicit echo covers `Authorization` too.
    #[must_use]
    pub fn mirror_request_headers(mut self) -> Self {
        self.mirror_headers = true;
        self
    }

    /// Expose one response header to scripts (actual responses only,
    /// Fetch §3.2.3).
    #[must_use]
    pub fn expose_header(mut self, name: impl Into<String>) -> Self {
        self.expose.push(name.into());
        self
    }

    /// Expose several response headers; see [`expose_header`](Self::expose_header).
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn expose_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expose.extend(names.into_iter().map(Into::into));
        self
    }

    /// `Access-Control-Expose-Headers: *` (without credentials only).
    ///
    /// Implements: Fetch §3.2.4.
    #[must_use]
    pub fn expose_any_header(mut self) -> Self {
        self.any_expose = true;
        self
    }

    /// `Access-Control-Max-Age` in seconds, at most [`MAX_MAX_AGE`]
    /// (values above 7200 yield [`Warning::MaxAgeAboveChromiumCap`]).
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn max_age(mut self, seconds: u32) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Send no `Access-Control-Max-Age` (browsers then cache for 5 s).
    ///
    /// Implements: Fetch §3.2.3.
    #[must_use]
    pub fn no_max_age(mut self) -> Self {
        self.max_age = None;
        self
    }

    /// Opt in to Private Network Access: answer a preflight carrying
    /// `Access-Control-Request-Private-Network: true` with
    /// `Access-Control-Allow-Private-Network: true` (PNA draft, "Additional
    /// CORS Headers").
    #[must_use]
    pub fn allow_private_network(mut self, allow: bool) -> Self {
        self.private_network = allow;
        self
    }

    /// Status of a successful preflight answer: 200-299 (default 204).
    ///
    /// Implements: Fetch §2.2.3, §3.2.3.
    #[must_use]
    pub fn preflight_status(mut self, status: u16) -> Self {
        self.preflight_status = status;
        self
    }

    /// Status of a denied preflight answer: 200-599 (default 403, as Fetch
    /// §3.2.3 suggests). A 2xx without CORS headers (the rack-cors
    /// behaviour) fails in the browser just the same.
    #[must_use]
    pub fn denied_preflight_status(mut self, status: u16) -> Self {
        self.denied_preflight_status = status;
        self
    }

    /// Validates the configuration and returns the policy, or the first
    /// contradiction found. Never panics.
    ///
    /// # Errors
    ///
    /// See [`ConfigError`]: credentials with any `*`; `*` or `null` inside an
    /// origin list; an origin that is not a serialized origin; an invalid
    /// pattern, method or header name; conflicting origin or header rules;
    /// max-age above 86400; a preflight status outside 200-299 or a denied
    /// status outside 200-599.
    ///
    /// Implements: Fetch §3.2.4, §3.2.5.
    pub fn build(self) -> Result<CorsPolicy, ConfigError> {
        let origin = self.origin_rule()?;
        if self.credentials {
            if matches!(origin, OriginRule::Any) {
                return Err(ConfigError::CredentialsWithAnyOrigin);
            }
            if self.any_method {
                return Err(ConfigError::CredentialsWithAnyMethod);
            }
            if self.any_header {
                return Err(ConfigError::CredentialsWithAnyHeader);
            }
            if self.any_expose {
                return Err(ConfigError::CredentialsWithAnyExposedHeader);
            }
        }

        let mut methods: Vec<String> = Vec::new();
        for method in &self.methods {
            if method == "*" {
                return Err(ConfigError::WildcardInList { list: "method" });
            }
            if !is_token(method) {
                return Err(ConfigError::InvalidMethod(method.clone()));
            }
            if !methods.contains(method) {
                methods.push(method.clone());
            }
        }
        let methods = if self.any_method {
            MethodRule::Any
        } else {
            MethodRule::List(methods)
        };

        let headers = dedup_names(&self.headers, "header")?;
        let headers = match (self.mirror_headers, self.any_header) {
            (true, true) => return Err(ConfigError::ConflictingHeaderRules),
            (true, false) if !headers.is_empty() => {
                return Err(ConfigError::ConflictingHeaderRules);
            }
            (true, false) => HeaderRule::Mirror,
            (false, true) => HeaderRule::Any { explicit: headers },
            (false, false) => HeaderRule::List(headers),
        };

        let expose = dedup_names(&self.expose, "exposed header")?;

        if let Some(seconds) = self.max_age.filter(|s| *s > MAX_MAX_AGE) {
            return Err(ConfigError::MaxAgeTooLarge(seconds));
        }
        if !(200..=299).contains(&self.preflight_status) {
            return Err(ConfigError::InvalidPreflightStatus(self.preflight_status));
        }
        if !(200..=599).contains(&self.denied_preflight_status) {
            return Err(ConfigError::InvalidDeniedPreflightStatus(
                self.denied_preflight_status,
            ));
        }

        Ok(CorsPolicy::assemble(Parts {
            origin,
            credentials: self.credentials,
            methods,
            headers,
            expose_any: self.any_expose,
            expose,
            max_age: self.max_age,
            private_network: self.private_network,
            preflight_status: self.preflight_status,
            denied_preflight_status: self.denied_preflight_status,
        }))
    }

    fn origin_rule(&self) -> Result<OriginRule, ConfigError> {
        let mut exact: Vec<String> = Vec::new();
        for origin in &self.origins {
            if origin.contains('*') {
                return Err(ConfigError::WildcardInOriginList {
                    origin: origin.clone(),
                });
            }
            if origin == "null" {
                return Err(ConfigError::NullInOriginList);
            }
            parse_origin(origin).map_err(|reason| ConfigError::InvalidOrigin {
                origin: origin.clone(),
                reason,
            })?;
            if !exact.contains(origin) {
                exact.push(origin.clone());
            }
        }
        let mut patterns = Vec::new();
        for pattern in &self.patterns {
            let parsed = OriginPattern::parse(pattern).map_err(|reason| {
                ConfigError::InvalidOriginPattern {
                    pattern: pattern.clone(),
                    reason,
                }
            })?;
            if !patterns.contains(&parsed) {
                patterns.push(parsed);
            }
        }
        if self.any_origin {
            if !exact.is_empty() || !patterns.is_empty() || !self.predicates.is_empty() {
                return Err(ConfigError::ConflictingOriginRules);
            }
            return Ok(OriginRule::Any);
        }
        Ok(OriginRule::Dynamic {
            exact,
            patterns,
            predicates: self.predicates.clone(),
            allow_null: self.allow_null,
        })
    }
}

/// Validates header names as tokens, refuses a literal `*`, and removes
/// case-insensitive duplicates (keeping the first spelling).
fn dedup_names(names: &[String], list: &'static str) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if name == "*" {
            return Err(ConfigError::WildcardInList { list });
        }
        if !is_token(name) {
            return Err(ConfigError::InvalidHeaderName(name.clone()));
        }
        if !out.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bosh_preset_equals_bosh_builder() {
        let preset = CorsPolicy::bosh();
        let built = CorsPolicyBuilder::bosh().build();
        let Ok(built) = built else {
            panic!("bosh builder must build: {built:?}");
        };
        assert_eq!(format!("{preset:?}"), format!("{built:?}"));
        assert_eq!(preset.warnings(), built.warnings());
        assert_eq!(preset.allow_methods_value, built.allow_methods_value);
        assert_eq!(preset.allow_headers_value, built.allow_headers_value);
        assert_eq!(preset.max_age_value, built.max_age_value);
    }

    #[test]
    fn origin_patterns_parse_and_match_anchored() {
        let rows: &[(&str, &str, bool, &str)] = &[
            (
                "https://*.example.com",
                "https://a.example.com",
                true,
                "one label",
            ),
            (
                "https://*.example.com",
                "https://a.b.example.com",
                true,
                "two labels",
            ),
            (
                "https://*.example.com",
                "https://example.com",
                false,
                "apex is not a subdomain",
            ),
            (
                "https://*.example.com",
                "http://a.example.com",
                false,
                "scheme differs",
            ),
            (
                "https://*.example.com",
                "https://a.example.com:8443",
                false,
                "port differs",
            ),
            (
                "https://*.example.com",
                "https://aexample.com",
                false,
                "no dot before suffix",
            ),
            (
                "https://*.example.com",
                "https://a.example.com.evil.net",
                false,
                "anchored at end",
            ),
            (
                "https://*.example.com:8443",
                "https://a.example.com:8443",
                true,
                "same port",
            ),
            (
                "http://*.localhost",
                "http://app.localhost",
                true,
                "localhost suffix",
            ),
        ];
        for (pattern, origin, expected, description) in rows {
            let parsed = OriginPattern::parse(pattern);
            let Ok(parsed) = parsed else {
                panic!("{description}: pattern {pattern} failed: {parsed:?}");
            };
            let Ok(origin_parts) = parse_origin(origin) else {
                panic!("{description}: origin {origin} must parse");
            };
            assert_eq!(parsed.matches(&origin_parts), *expected, "{description}");
        }
    }

    #[test]
    fn origin_patterns_reject_bad_syntax() {
        let rows: &[(&str, &str)] = &[
            ("https://*.com", "single-label suffix"),
            ("https://a.*.example.com", "star not first label"),
            ("https://*example.com", "star not a whole label"),
            ("https://*.*.example.com", "two stars"),
            ("*.example.com", "no scheme"),
            ("https://*.example.com/", "trailing slash"),
            ("https://*.Example.com", "upper case"),
            ("https://*.example.com:443", "default port"),
            ("https://*.[::1]", "IPv6"),
            ("https://*.0.1", "IPv4 tail: the host would end in a number"),
            ("https://*.0.0.1", "IPv4 tail"),
        ];
        for (pattern, description) in rows {
            assert!(
                OriginPattern::parse(pattern).is_err(),
                "{description}: {pattern} must be rejected"
            );
        }
    }
}
