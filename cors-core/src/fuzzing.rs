//! Fuzz entry point, compiled in every build so that it never rots.
//!
//! [`cors_policy`] decodes a policy and a handful of requests from raw fuzzer
//! bytes with a tiny byte reader (no `arbitrary` dependency), builds the
//! policy, decides every request and **panics when an invariant breaks**:
//!
//! - `build()` never returns a policy that pairs credentials with `*`
//!   (origin, methods, headers or exposed headers);
//! - a decision never carries two `Access-Control-Allow-Origin` values, nor a
//!   list: the value is `*`, `null` or one serialized origin the policy
//!   allows, and `*` never comes with `Access-Control-Allow-Credentials`;
//! - each header name appears once; a denial carries no `Access-Control-*`
//!   field; an echoed origin always comes with `Vary: Origin`;
//! - the variant matches the request (no `Origin` → not CORS; preflight iff
//!   `OPTIONS` + `Origin` + `Access-Control-Request-Method`), the statuses
//!   are the policy's, and `decide` agrees with `CorsPolicy::allows_origin`;
//! - `decide` is deterministic and `merge_vary` keeps what was there.
//!
//! The cargo-fuzz target in `fuzz/` is a one-line wrapper; the unit test at
//! the bottom replays the committed seeds (`fuzz/seeds/cors_policy/`).
//!
//! This module is not a stable API.
#![doc(hidden)]

use crate::headers::name;
use crate::{CorsPolicy, CorsPolicyBuilder, CorsRequest, Decision, DenyReason, decide, merge_vary};

/// Reads fuzzer bytes as small decisions; zeros past the end.
#[derive(Debug, Clone)]
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A length-prefixed string of at most 63 bytes, lossy UTF-8.
    fn string(&mut self) -> String {
        let n = usize::from(self.u8() % 64).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        String::from_utf8_lossy(head).into_owned()
    }

    /// A string from `dict` most of the time, else from the input.
    fn text(&mut self, dict: &[&str]) -> String {
        if self.u8().is_multiple_of(4) {
            self.string()
        } else {
            self.pick(dict).to_owned()
        }
    }
}

const ORIGINS: &[&str] = &[
    "https://app.example.com",
    "http://localhost:3000",
    "https://a.example.org",
    "https://b.c.example.org",
    "https://example.org",
    "http://a.example.org",
    "https://a.example.org:8443",
    "null",
    "NULL",
    "*",
    "",
    " https://app.example.com\t",
    "https://app.example.com/",
    "https://APP.example.com",
    "https://app.example.com, https://evil.example",
    "http://127.0.0.1:5280",
    "http://[::1]:5280",
    "http://0x7f.1",
    "https://evil.example",
    "https://a.example.org.evil.net",
    "file://",
    "https://xn--nxasmq6b.example.org",
];

const PATTERNS: &[&str] = &[
    "https://*.example.org",
    "http://*.example.org:8080",
    "https://*.*.example.org",
    "https://a.*.example.org",
    "*",
    "https://*",
    "https://*.org",
];

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "options", "put", "*", "",
    "CONNECT", "TRACE", "P UT", "X-CUSTOM",
];

const HEADERS: &[&str] = &[
    "Content-Type",
    "content-type",
    "Authorization",
    "X-Requested-With",
    "*",
    "",
    "x-a, x-b",
    "Set-Cookie",
    "bad header",
    "X-\u{e9}",
    "Content-Type, Authorization",
    " , ",
];

fn build(r: &mut Reader<'_>) -> (CorsPolicyBuilder, bool, bool) {
    let mut b = if r.u8().is_multiple_of(4) {
        CorsPolicyBuilder::bosh()
    } else {
        CorsPolicy::builder()
    };
    let mut any_origin = false;
    let mut credentials = false;
    for _ in 0..r.below(12) {
        b = match r.u8() % 18 {
            0 => {
                any_origin = true;
                b.allow_any_origin()
            }
            1 | 2 => b.allow_origin(r.text(ORIGINS)),
            3 => {
                let list: Vec<String> = (0..r.below(4)).map(|_| r.text(ORIGINS)).collect();
                b.allow_origins(list)
            }
            4 => b.allow_origin_pattern(r.text(PATTERNS)),
            5 => b.allow_origin_predicate(|o| o.ends_with(".test")),
            6 => b.allow_null_origin(r.bool()),
            7 => {
                credentials = r.bool();
                b.allow_credentials(credentials)
            }
            8 => b.allow_method(r.text(METHODS)),
            9 => b.allow_any_method(),
            10 => b.allow_header(r.text(HEADERS)),
            11 => b.allow_any_header(),
            12 => b.mirror_request_headers(),
            13 => b.expose_header(r.text(HEADERS)),
            14 => b.expose_any_header(),
            15 => match r.u8() % 4 {
                0 => b.no_max_age(),
                1 => b.max_age(u32::from(r.u8()) * 1000),
                _ => b.max_age(r.pick(&[0, 600, 7200, 86_400, 86_401, u32::MAX])),
            },
            16 => b.allow_private_network(r.bool()),
            _ => {
                let s = r.pick(&[0, 100, 200, 204, 299, 300, 403, 404, 999, u16::MAX]);
                if r.bool() {
                    b.preflight_status(s)
                } else {
                    b.denied_preflight_status(s)
                }
            }
        };
    }
    (b, any_origin, credentials)
}

/// Builds a policy and decides requests from the bytes; see the module
/// documentation for the invariants.
pub fn cors_policy(data: &[u8]) {
    let mut r = Reader { data };
    let (builder, any_origin, credentials) = build(&mut r);
    let policy = match builder.build() {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = format!("{policy:?}");
    for w in policy.warnings() {
        let _ = w.to_string();
    }
    // A static `*` policy (one that does not vary on Origin) never has
    // credentials (Fetch §3.2.5), whatever the order of the builder calls.
    assert!(
        !policy.allows_credentials() || policy.varies_on_origin(),
        "a static `*` policy was built with credentials"
    );
    if any_origin && credentials && policy.allows_credentials() {
        assert!(policy.varies_on_origin());
    }

    for _ in 0..r.below(8) + 1 {
        let method = r.text(METHODS);
        let origin = r.bool().then(|| r.text(ORIGINS));
        let request_method = r.bool().then(|| r.text(METHODS));
        let request_headers = r.bool().then(|| r.text(HEADERS));
        let pna = r
            .bool()
            .then(|| r.pick(&["true", "false", "", "TRUE"]).to_owned());
        let req = CorsRequest {
            method: &method,
            origin: origin.as_deref(),
            request_method: request_method.as_deref(),
            request_headers: request_headers.as_deref(),
            request_private_network: pna.as_deref(),
        };
        let decision = decide(&policy, &req);
        assert_eq!(decision, policy.decide(&req), "decide is not deterministic");
        check(&policy, &req, &decision);
        let existing = r.text(&["", "Accept-Encoding", "origin", "*", "a, , b"]);
        let _ = merge_vary(Some(&existing), decision.headers().vary());
        if let Some(merged) = decision.headers().merged_vary(Some(&existing)) {
            let lower = merged.to_ascii_lowercase();
            for item in existing.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                assert!(
                    lower.contains(&item.to_ascii_lowercase()) || lower.trim() == "*",
                    "merge_vary dropped {item:?}: {merged:?}"
                );
            }
        }
    }
}

fn check(policy: &CorsPolicy, req: &CorsRequest<'_>, decision: &Decision) {
    let headers = decision.headers();
    let fields = headers.fields();
    for (i, (n, _)) in fields.iter().enumerate() {
        assert!(
            !fields[..i].iter().any(|(m, _)| m.eq_ignore_ascii_case(n)),
            "header {n} twice: {fields:?}"
        );
    }
    let acao = headers.get(name::ACCESS_CONTROL_ALLOW_ORIGIN);
    let acac = headers.get(name::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    if let Some(v) = acao {
        assert!(
            !v.is_empty() && !v.contains(',') && !v.contains(char::is_whitespace),
            "Access-Control-Allow-Origin is not a single origin: {v:?}"
        );
        if v != "*" {
            assert!(
                headers
                    .vary()
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case("Origin")),
                "echoed origin {v:?} without Vary: Origin"
            );
            if v != "null" {
                assert!(
                    policy.allows_origin(v),
                    "echoed an origin the policy does not allow: {v:?}"
                );
            }
        }
    }
    if let Some(v) = acac {
        assert_eq!(v, "true");
        assert!(
            acao.is_some_and(|o| o != "*"),
            "credentials with `*` or without an origin"
        );
        for n in [
            name::ACCESS_CONTROL_ALLOW_METHODS,
            name::ACCESS_CONTROL_ALLOW_HEADERS,
            name::ACCESS_CONTROL_EXPOSE_HEADERS,
        ] {
            if let Some(list) = headers.get(n) {
                assert!(
                    !list.split(',').any(|i| i.trim() == "*"),
                    "credentials with {n}: {list:?}"
                );
            }
        }
    }

    match (req.origin, decision) {
        (None, Decision::NotCors(_)) => {}
        (None, other) => panic!("a request without Origin got {other:?}"),
        (Some(_), Decision::NotCors(_)) => panic!("a request with Origin was not CORS"),
        (Some(origin), Decision::Preflight(answer)) => {
            assert!(req.is_preflight(), "a non-preflight was answered as one");
            assert_eq!(answer.status(), policy.preflight_status());
            assert!(acao.is_some(), "an allowed preflight without an origin");
            assert!(policy.allows_origin(origin));
        }
        (Some(origin), Decision::Actual(_)) => {
            assert!(
                !req.is_preflight(),
                "a preflight was answered as an actual request"
            );
            assert!(acao.is_some(), "an allowed request without an origin");
            assert!(policy.allows_origin(origin));
        }
        (Some(origin), Decision::Denied(denial)) => {
            assert!(acao.is_none() && acac.is_none());
            assert!(
                fields
                    .iter()
                    .all(|(n, _)| !n.starts_with("access-control-")),
                "a denial with CORS fields: {fields:?}"
            );
            if req.is_preflight() {
                assert_eq!(
                    denial.preflight_status(),
                    Some(policy.denied_preflight_status())
                );
            } else {
                assert_eq!(denial.preflight_status(), None);
            }
            if matches!(
                denial.reason(),
                DenyReason::OriginNotAllowed
                    | DenyReason::MalformedOrigin
                    | DenyReason::NullOriginNotAllowed
            ) {
                assert!(!policy.allows_origin(origin), "denied an allowed origin");
            } else {
                assert!(
                    policy.allows_origin(origin),
                    "denied for {:?}",
                    denial.reason()
                );
            }
        }
    }
}
