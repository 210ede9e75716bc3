//! Sans-IO CORS decisions per the [WHATWG Fetch standard][fetch] §3.2
//! "CORS protocol", with optional [Private Network Access][pna].
//!
//! The crate does no IO, reads no clock and exposes no third-party types:
//! a server (or a BOSH connection manager) describes the request with a
//! borrowed [`CorsRequest`] of `&str`s, calls [`decide`], and applies the
//! returned [`Decision`]: a list of `(lower-case name, value)` fields to set
//! and header names to merge into `Vary`.
//!
//! * [`CorsPolicy`] is built by [`CorsPolicyBuilder::build`], which returns a
//!   [`ConfigError`] (never panics) for configurations the Fetch standard
//!   makes unsatisfiable, such as credentials with `*` (§3.2.5), and lists
//!   risky-but-legal ones in [`CorsPolicy::warnings`].
//! * [`decide`] classifies the request (Fetch §3.2.2: no `Origin` → not
//!   CORS; `OPTIONS` + `Origin` + `Access-Control-Request-Method` →
//!   preflight; anything else with `Origin` → actual), checks it (§4.7
//!   "CORS-preflight fetch") and returns exactly one
//!   `Access-Control-Allow-Origin` value or none (§3.2.4, §4.9).
//! * `Vary` follows the appendix "CORS protocol and HTTP caches": `Origin`
//!   on every response when the allowed origin depends on the request,
//!   nothing for a static `*`; [`merge_vary`] appends to the application's
//!   own `Vary` instead of replacing it.
//!
//! # Choices where the standard is open
//!
//! * **Denied preflight**: answered at once with status 403 (configurable,
//!   [`CorsPolicyBuilder::denied_preflight_status`]) and no CORS headers,
//!   as Fetch §3.2.3 suggests; the application never runs.
//! * **Denied actual request**: the application still runs and the CORS
//!   headers are omitted (CORS is not access control); the [`DenyReason`]
//!   is returned for logging.
//! * **`null` origin**: denied unless [`CorsPolicyBuilder::allow_null_origin`]
//!   is set; `null` inside an origin list is a build error. A static `*`
//!   policy answers `*` to everyone, `null` included, since the response
//!   must not depend on the origin.
//! * **Preflight header checks**: requested headers that are not allowed
//!   deny the preflight (rather than answering and letting the browser
//!   fail), so the reason can be logged. `*` never covers `Authorization`.
//! * **Vary on preflights**: `Access-Control-Request-Headers` only when
//!   headers are mirrored, `Access-Control-Request-Private-Network` only
//!   when PNA is enabled (the answer then depends on them). Preflight
//!   (`OPTIONS`) responses are not stored by HTTP caches anyway.
//! * **Private Network Access**: a preflight asking for it under a policy
//!   that did not opt in is answered as a normal preflight without
//!   `Access-Control-Allow-Private-Network` (browsers in warning-only mode
//!   then still proceed).
//! * **Max-age** defaults to 7200 s (the Chromium cap); values above 86400
//!   are refused, above 7200 warned about.
//!
//! # Example
//!
//! ```
//! use cors_core::{CorsPolicy, CorsRequest, Decision, decide};
//!
//! // The preset BOSH connection managers have always sent.
//! let bosh = CorsPolicy::bosh();
//! let preflight = CorsRequest::preflight("https://chat.example.net", "POST")
//!     .with_request_headers("content-type");
//! let decision = decide(&bosh, &preflight);
//! assert_eq!(decision.preflight_status(), Some(204));
//! let headers = decision.headers();
//! assert_eq!(headers.get("access-control-allow-origin"), Some("*"));
//! assert_eq!(headers.get("access-control-allow-methods"), Some("GET, POST, OPTIONS"));
//! assert_eq!(headers.get("access-control-allow-headers"), Some("Content-Type"));
//! assert_eq!(headers.get("access-control-max-age"), Some("86400"));
//! assert!(headers.vary().is_empty()); // a static `*` needs no Vary
//!
//! // A credentialed allow-list: the origin is echoed, never `*`.
//! let policy = CorsPolicy::builder()
//!     .allow_origins(["https://app.example.com", "http://localhost:3000"])
//!     .allow_origin_pattern("https://*.example.org")
//!     .allow_credentials(true)
//!     .allow_methods(["POST", "DELETE"])
//!     .allow_headers(["Content-Type", "Authorization"])
//!     .max_age(600)
//!     .build()?;
//!
//! let post = CorsRequest::new("POST", Some("https://app.example.com"));
//! let Decision::Actual(headers) = decide(&policy, &post) else { unreachable!() };
//! assert_eq!(headers.get("access-control-allow-origin"), Some("https://app.example.com"));
//! assert_eq!(headers.get("access-control-allow-credentials"), Some("true"));
//! // Merge into the application's own Vary instead of replacing it.
//! assert_eq!(
//!     headers.merged_vary(Some("Accept-Encoding")).as_deref(),
//!     Some("Accept-Encoding, Origin")
//! );
//!
//! // Another origin gets no CORS headers, only the Vary.
//! let evil = CorsRequest::new("POST", Some("https://evil.example"));
//! let decision = decide(&policy, &evil);
//! assert!(decision.deny_reason().is_some());
//! assert_eq!(decision.allow_origin(), None);
//! assert_eq!(decision.headers().vary(), ["Origin"]);
//!
//! // Contradictions are build errors, not panics.
//! assert!(CorsPolicy::builder().allow_any_origin().allow_credentials(true).build().is_err());
//! # Ok::<(), cors_core::ConfigError>(())
//! ```
//!
//! [fetch]: https://fetch.spec.whatwg.org/#http-cors-protocol
//! [pna]: https://wicg.github.io/private-network-access/#headers

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod decision;
mod error;
pub mod fuzzing;
mod headers;
mod policy;
mod syntax;

pub use decision::{CorsRequest, Decision, Denial, DenyReason, PreflightAnswer, decide};
pub use error::{ConfigError, OriginError};
pub use headers::{CorsHeaders, merge_vary, name};
pub use policy::{
    CorsPolicy, CorsPolicyBuilder, DEFAULT_DENIED_PREFLIGHT_STATUS, DEFAULT_MAX_AGE,
    DEFAULT_PREFLIGHT_STATUS, MAX_MAX_AGE, Warning,
};
