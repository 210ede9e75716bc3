//! One table per rule of the Fetch standard (§3.2 "CORS protocol", §4.7
//! "CORS-preflight fetch", §4.9 "CORS check", appendix "CORS protocol and
//! HTTP caches") and of the Private Network Access draft.

mod common;

use common::*;
use cors_core::{CorsPolicy, CorsRequest, Decision, DenyReason, decide, name};

const fn get(origin: &'static str) -> CorsRequest<'static> {
    CorsRequest::new("GET", Some(origin))
}

const fn post(origin: &'static str) -> CorsRequest<'static> {
    CorsRequest::new("POST", Some(origin))
}

const fn pre(origin: &'static str, method: &'static str) -> CorsRequest<'static> {
    CorsRequest::preflight(origin, method)
}

#[test]
fn fetch_preflight_requires_request_method() {
    check(&[
        Row {
            desc: "§3.2.2: OPTIONS + Origin + ACRM is a preflight",
            policy: list_plain,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP), (ACAM, "PUT")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.2: OPTIONS + Origin without ACRM is an actual request for the app",
            policy: list_plain,
            request: CorsRequest::new("OPTIONS", Some(APP)),
            kind: Kind::Actual,
            has: &[(ACAO, APP), (ACEH, "X-Request-Id")],
            lacks: &[ACAM, ACAH, ACMA],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.2: OPTIONS + ACRM without Origin is not CORS",
            policy: list_plain,
            request: CorsRequest::new("OPTIONS", None).with_request_method("PUT"),
            kind: Kind::NotCors,
            has: &[],
            lacks: &[ACAO, ACAM],
            vary: ORIGIN,
        },
        Row {
            desc: "methods are case-sensitive: `options` is not OPTIONS",
            policy: list_plain,
            request: CorsRequest::new("options", Some(APP)).with_request_method("PUT"),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[ACAM],
            vary: ORIGIN,
        },
        Row {
            desc: "GET carrying ACRM is an actual request",
            policy: list_plain,
            request: get(APP).with_request_method("PUT"),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[ACAM],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn fetch_non_cors_requests_get_static_origin_or_vary() {
    check(&[
        Row {
            desc: "appendix caches: static `*` is sent even without Origin, no Vary",
            policy: bosh,
            request: CorsRequest::new("POST", None),
            kind: Kind::NotCors,
            has: &[(ACAO, "*")],
            lacks: &[ACAC, ACAM, ACAH, ACMA],
            vary: NO_VARY,
        },
        Row {
            desc: "appendix caches: static `*` also carries the static expose list",
            policy: any_open,
            request: CorsRequest::new("GET", None),
            kind: Kind::NotCors,
            has: &[(ACAO, "*"), (ACEH, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "appendix caches: dynamic ACAO -> Vary: Origin even without Origin",
            policy: list_creds,
            request: CorsRequest::new("GET", None),
            kind: Kind::NotCors,
            has: &[],
            lacks: &[ACAO, ACAC, ACEH],
            vary: ORIGIN,
        },
        Row {
            desc: "a plain OPTIONS without Origin is not CORS",
            policy: list_creds,
            request: CorsRequest::new("OPTIONS", None),
            kind: Kind::NotCors,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn fetch_allow_origin_is_exactly_one_value() {
    check(&[
        Row {
            desc: "§3.2.4: list policy echoes only the matching origin",
            policy: list_creds,
            request: get(ADMIN),
            kind: Kind::Actual,
            has: &[(ACAO, ADMIN), (ACAC, "true")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.4: preflight echoes only the matching origin",
            policy: list_creds,
            request: pre(APP, "DELETE"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP), (ACAC, "true")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.4: a combined multi-Origin value matches nothing",
            policy: list_creds,
            request: get("https://app.example.com, https://admin.example.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO, ACAC],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn fetch_origin_compared_byte_for_byte() {
    check(&[
        Row {
            desc: "§4.9: upper-case request origin does not match the lower-case entry",
            policy: list_creds,
            request: get("https://APP.example.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.9: trailing slash does not match",
            policy: list_creds,
            request: get("https://app.example.com/"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.9: other scheme does not match",
            policy: list_creds,
            request: get("http://app.example.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.9: other port does not match",
            policy: list_creds,
            request: get("https://app.example.com:8443"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "RFC 9110 OWS around the field value is ignored",
            policy: list_creds,
            request: get(" https://app.example.com\t"),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
    ]);
    let policy = list_creds();
    let decision = decide(&policy, &get("https://APP.example.com"));
    assert_eq!(decision.deny_reason(), Some(&DenyReason::MalformedOrigin));
    let decision = decide(&policy, &get(EVIL));
    assert_eq!(decision.deny_reason(), Some(&DenyReason::OriginNotAllowed));
}

#[test]
fn fetch_safelisted_methods_pass_without_listing() {
    check(&[
        Row {
            desc: "§4.7: GET is safelisted",
            policy: list_creds,
            request: pre(APP, "GET"),
            kind: Kind::Preflight(204),
            has: &[(ACAM, "PUT, DELETE")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.7: HEAD is safelisted",
            policy: list_creds,
            request: pre(APP, "HEAD"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.7: POST is safelisted even with an empty method list",
            policy: || build(CorsPolicy::builder().allow_origin(APP)),
            request: pre(APP, "POST"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[ACAM],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.7: PATCH is not safelisted and not listed",
            policy: list_creds,
            request: pre(APP, "PATCH"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAC, ACAM],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.4: `*` covers any method without credentials",
            policy: any_open,
            request: pre(APP, "PATCH"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, "*"), (ACAM, "*")],
            lacks: &[ACAC],
            vary: NO_VARY,
        },
    ]);
}

#[test]
fn fetch_methods_compare_case_sensitively() {
    check(&[
        Row {
            desc: "§4.7: `put` is not the listed `PUT`",
            policy: list_creds,
            request: pre(APP, "put"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.7: `get` is not the safelisted `GET`",
            policy: list_creds,
            request: pre(APP, "get"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.7: exact case passes",
            policy: list_creds,
            request: pre(APP, "DELETE"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
    ]);
    let decision = decide(&list_creds(), &pre(APP, "patch"));
    assert_eq!(
        decision.deny_reason(),
        Some(&DenyReason::MethodNotAllowed {
            method: "patch".to_owned()
        })
    );
}

#[test]
fn fetch_header_names_compare_case_insensitively() {
    check(&[
        Row {
            desc: "§4.7: lower-case request names match configured Content-Type",
            policy: list_creds,
            request: pre(APP, "PUT").with_request_headers("content-type,x-requested-with"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "Content-Type, X-Requested-With")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.7: mixed-case request names match too",
            policy: list_creds,
            request: pre(APP, "PUT").with_request_headers("CONTENT-TYPE"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§4.7: an unlisted header denies the preflight",
            policy: list_creds,
            request: pre(APP, "PUT").with_request_headers("content-type,x-secret"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAH],
            vary: ORIGIN,
        },
    ]);
    let decision = decide(
        &list_creds(),
        &pre(APP, "PUT").with_request_headers("X-Secret"),
    );
    assert_eq!(
        decision.deny_reason(),
        Some(&DenyReason::HeaderNotAllowed {
            name: "x-secret".to_owned()
        })
    );
}

#[test]
fn fetch_authorization_never_covered_by_wildcard() {
    check(&[
        Row {
            desc: "§2.2.2 non-wildcard name: `*` does not cover authorization",
            policy: any_open,
            request: pre(APP, "GET").with_request_headers("authorization"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAH],
            vary: NO_VARY,
        },
        Row {
            desc: "§2.2.2: `*` covers every other header",
            policy: any_open,
            request: pre(APP, "GET").with_request_headers("x-anything,content-type"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "§2.2.2: explicit Authorization next to `*` is sent and covers it",
            policy: any_with_authorization,
            request: pre(APP, "GET").with_request_headers("authorization,x-anything"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "*, Authorization")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "explicit list including Authorization covers it",
            policy: || {
                build(
                    CorsPolicy::builder()
                        .allow_origin(APP)
                        .allow_credentials(true)
                        .allow_header("authorization"),
                )
            },
            request: pre(APP, "GET").with_request_headers("Authorization"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "authorization"), (ACAC, "true")],
            lacks: &[],
            vary: ORIGIN,
        },
    ]);
    let decision = decide(
        &any_open(),
        &pre(APP, "GET").with_request_headers("Authorization"),
    );
    assert_eq!(
        decision.deny_reason(),
        Some(&DenyReason::AuthorizationNotCovered)
    );
}

#[test]
fn fetch_request_headers_parsing() {
    check(&[
        Row {
            desc: "RFC 9110 #list: OWS trimmed, empty items ignored, lower-cased, deduplicated",
            policy: mirror,
            request: pre(APP, "PUT").with_request_headers(" X-A ,, x-b,\tx-a , "),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "x-a, x-b")],
            lacks: &[],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "an empty ACRH asks for nothing; mirror sends no ACAH",
            policy: mirror,
            request: pre(APP, "PUT").with_request_headers(""),
            kind: Kind::Preflight(204),
            has: &[],
            lacks: &[ACAH],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "§3.2.4 1#field-name: an invalid token is rejected (mirror)",
            policy: mirror,
            request: pre(APP, "PUT").with_request_headers("x-a, bad header"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAH],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "§3.2.4: header injection attempt is rejected",
            policy: mirror,
            request: pre(APP, "PUT").with_request_headers("x-a\r\nset-cookie: a=b"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAH],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "§3.2.4: an invalid token is rejected (any)",
            policy: any_open,
            request: pre(APP, "PUT").with_request_headers("x:y"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO],
            vary: NO_VARY,
        },
    ]);
    let decision = decide(&mirror(), &pre(APP, "PUT").with_request_headers("a b"));
    assert_eq!(
        decision.deny_reason(),
        Some(&DenyReason::InvalidRequestHeaders)
    );
}

#[test]
fn fetch_request_method_must_be_token() {
    for (method, desc) in [
        ("", "empty ACRM"),
        ("PU T", "space inside"),
        ("GET,POST", "a list is not a method"),
        ("P\u{fc}T", "non-ASCII"),
    ] {
        let decision = decide(&any_open(), &pre(APP, method));
        assert_eq!(
            decision.deny_reason(),
            Some(&DenyReason::InvalidRequestMethod),
            "§3.2.4 ACRM = method: {desc}"
        );
        assert_eq!(decision.preflight_status(), Some(403), "{desc}");
        assert_eq!(decision.allow_origin(), None, "{desc}");
    }
}

#[test]
fn fetch_credentials_value_is_exactly_true() {
    check(&[
        Row {
            desc: "§3.2.4: ACAC is the case-sensitive `true` on preflights",
            policy: list_creds,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACAC, "true")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.3: ACAC is needed on actual responses too",
            policy: list_creds,
            request: post(APP),
            kind: Kind::Actual,
            has: &[(ACAC, "true")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "no credentials configured: no ACAC at all (never `false`)",
            policy: list_plain,
            request: post(APP),
            kind: Kind::Actual,
            has: &[],
            lacks: &[ACAC],
            vary: ORIGIN,
        },
        Row {
            desc: "denied origin: no ACAC",
            policy: list_creds,
            request: post(EVIL),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAC, ACAO],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn fetch_max_age_on_preflights_only() {
    check(&[
        Row {
            desc: "§3.2.3: Max-Age on a preflight",
            policy: list_creds,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACMA, "600")],
            lacks: &[ACEH],
            vary: ORIGIN,
        },
        Row {
            desc: "default max-age is 7200 (Chromium cap)",
            policy: list_plain,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACMA, "7200")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.3: no Max-Age on an actual response",
            policy: list_creds,
            request: post(APP),
            kind: Kind::Actual,
            has: &[],
            lacks: &[ACMA, ACAM, ACAH],
            vary: ORIGIN,
        },
        Row {
            desc: "no_max_age(): no header, browser default 5 s",
            policy: || build(CorsPolicy::builder().allow_origin(APP).no_max_age()),
            request: pre(APP, "GET"),
            kind: Kind::Preflight(204),
            has: &[],
            lacks: &[ACMA],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn fetch_expose_headers_on_actual_responses_only() {
    check(&[
        Row {
            desc: "§3.2.3: Expose-Headers on an actual response",
            policy: list_creds,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACEH, "X-Request-Id")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.3: never on a preflight",
            policy: list_creds,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[],
            lacks: &[ACEH],
            vary: ORIGIN,
        },
        Row {
            desc: "nothing configured: no (empty) Expose-Headers",
            policy: bosh,
            request: post(APP),
            kind: Kind::Actual,
            has: &[(ACAO, "*")],
            lacks: &[ACEH],
            vary: NO_VARY,
        },
    ]);
}

#[test]
fn fetch_vary_rules() {
    check(&[
        Row {
            desc: "appendix caches: no Vary for a static `*` (preflight)",
            policy: bosh,
            request: pre(APP, "POST"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "appendix caches: Vary: Origin on allowed actual response",
            policy: list_plain,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "appendix caches: Vary: Origin on denied actual response",
            policy: list_plain,
            request: get(EVIL),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "appendix caches: Vary: Origin on denied preflight",
            policy: list_plain,
            request: pre(EVIL, "PUT"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "mirrored headers: Vary ACRH on preflights",
            policy: mirror,
            request: pre(APP, "PUT").with_request_headers("x-a"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "x-a")],
            lacks: &[],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "mirrored headers: actual responses only vary on Origin",
            policy: mirror,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "methods are never mirrored: no Vary ACRM",
            policy: any_open,
            request: pre(APP, "PATCH"),
            kind: Kind::Preflight(204),
            has: &[(ACAM, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "static `*` with mirrored headers: Vary ACRH only",
            policy: || {
                build(
                    CorsPolicy::builder()
                        .allow_any_origin()
                        .mirror_request_headers(),
                )
            },
            request: pre(APP, "GET").with_request_headers("x-a"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, "*"), (ACAH, "x-a")],
            lacks: &[],
            vary: &["Access-Control-Request-Headers"],
        },
    ]);
}

#[test]
fn fetch_null_origin_only_when_allowed() {
    check(&[
        Row {
            desc: "§3.1: `null` denied by default",
            policy: list_plain,
            request: get("null"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.1: `null` echoed when deliberately allowed",
            policy: null_allowed,
            request: get("null"),
            kind: Kind::Actual,
            has: &[(ACAO, "null")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.1: `null` preflight echoed when allowed",
            policy: null_allowed,
            request: pre("null", "GET"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, "null")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "`NULL` is not `null` (case-sensitive)",
            policy: null_allowed,
            request: get("NULL"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "static `*` answers `*` to null: the response must not depend on Origin",
            policy: bosh,
            request: get("null"),
            kind: Kind::Actual,
            has: &[(ACAO, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "a predicate is never asked about `null`",
            policy: || build(CorsPolicy::builder().allow_origin_predicate(|_| true)),
            request: get("null"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
    ]);
    let decision = decide(&list_plain(), &get("null"));
    assert_eq!(
        decision.deny_reason(),
        Some(&DenyReason::NullOriginNotAllowed)
    );
}

#[test]
fn fetch_origin_patterns_match_subdomains_only() {
    check(&[
        Row {
            desc: "pattern: a subdomain matches and is echoed",
            policy: pattern,
            request: get("https://chat.example.com"),
            kind: Kind::Actual,
            has: &[(ACAO, "https://chat.example.com")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: a nested subdomain matches",
            policy: pattern,
            request: get("https://a.b.example.com"),
            kind: Kind::Actual,
            has: &[(ACAO, "https://a.b.example.com")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: the apex is not a subdomain",
            policy: pattern,
            request: get("https://example.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: anchored at the end",
            policy: pattern,
            request: get("https://example.com.evil.net"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: a label boundary is required",
            policy: pattern,
            request: get("https://evilexample.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: scheme is exact",
            policy: pattern,
            request: get("http://chat.example.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: port is exact",
            policy: pattern,
            request: get("https://chat.example.com:8443"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: a path-smuggled origin is malformed",
            policy: pattern,
            request: get("https://evil.net/.example.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "pattern: user-info smuggling is malformed",
            policy: pattern,
            request: get("https://a.example.com@evil.net"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn fetch_origin_predicate_sees_only_valid_origins() {
    let policy = build(
        CorsPolicy::builder()
            .allow_origin(APP)
            .allow_origin_predicate(|origin| {
                assert!(!origin.contains('/') || origin.matches('/').count() == 2);
                assert_ne!(origin, "null");
                origin.ends_with(".partner.example")
            }),
    );
    let rows: &[(&str, bool, &str)] = &[
        ("https://x.partner.example", true, "predicate accepts"),
        (APP, true, "exact list still applies"),
        (
            "https://x.partner.example/",
            false,
            "malformed never reaches predicate",
        ),
        ("null", false, "null never reaches predicate"),
        ("https://other.example", false, "predicate rejects"),
    ];
    for (origin, allowed, desc) in rows {
        let decision = decide(&policy, &get(origin));
        assert_eq!(decision.allow_origin().is_some(), *allowed, "{desc}");
        assert_eq!(policy.allows_origin(origin), *allowed, "{desc}");
        if *allowed {
            assert_eq!(decision.allow_origin(), Some(*origin), "{desc}: echoed");
        }
    }
}

#[test]
fn fetch_preflight_status_is_configurable() {
    check(&[
        Row {
            desc: "§3.2.3: 204 by default",
            policy: list_plain,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.3: 200 when configured (an ok status)",
            policy: || {
                build(
                    CorsPolicy::builder()
                        .allow_origin(APP)
                        .preflight_status(200),
                )
            },
            request: pre(APP, "GET"),
            kind: Kind::Preflight(200),
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "§3.2.3: a denied preflight gets 200 when configured (rack-cors style)",
            policy: || {
                build(
                    CorsPolicy::builder()
                        .allow_origin(APP)
                        .denied_preflight_status(200),
                )
            },
            request: pre(EVIL, "GET"),
            kind: Kind::DeniedPreflight(200),
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn fetch_denied_preflight_has_no_cors_headers() {
    let requests = [
        pre(EVIL, "PUT"),
        pre(APP, "PATCH"),
        pre(APP, "PUT").with_request_headers("x-secret"),
        pre("null", "GET"),
        pre("not an origin", "GET"),
    ];
    for request in requests {
        let decision = decide(&list_creds(), &request);
        assert_eq!(decision.preflight_status(), Some(403), "{request:?}");
        assert!(
            decision.headers().fields().is_empty(),
            "§3.2.3 omit headers: {request:?}"
        );
        assert_eq!(decision.headers().vary(), ORIGIN, "{request:?}");
        let Decision::Denied(denial) = decision else {
            panic!("{request:?} must be denied");
        };
        assert!(denial.is_preflight());
    }
}

#[test]
fn fetch_denied_actual_request_still_reaches_the_app() {
    let decision = decide(&list_creds(), &post(EVIL));
    let Decision::Denied(denial) = &decision else {
        panic!("must be denied");
    };
    assert_eq!(denial.preflight_status(), None, "the app still runs");
    assert!(!denial.is_preflight());
    assert_eq!(denial.reason(), &DenyReason::OriginNotAllowed);
    assert_eq!(decision.preflight_status(), None);
    assert_eq!(
        denial.reason().to_string(),
        "the origin is not allowed",
        "reasons are printable for logs"
    );
}

#[test]
fn pna_allow_private_network_only_when_opted_in_and_requested() {
    check(&[
        Row {
            desc: "PNA: opted in and requested -> ACAPN true, Vary ACRPN",
            policy: pna_any,
            request: pre(APP, "PUT").with_request_private_network("true"),
            kind: Kind::Preflight(204),
            has: &[(ACAPN, "true"), (ACAO, "*")],
            lacks: &[],
            vary: &["Access-Control-Request-Private-Network"],
        },
        Row {
            desc: "PNA: opted in but not requested -> no ACAPN",
            policy: pna_any,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[],
            lacks: &[ACAPN],
            vary: &["Access-Control-Request-Private-Network"],
        },
        Row {
            desc: "PNA: request value must be exactly `true`",
            policy: pna_any,
            request: pre(APP, "PUT").with_request_private_network("True"),
            kind: Kind::Preflight(204),
            has: &[],
            lacks: &[ACAPN],
            vary: &["Access-Control-Request-Private-Network"],
        },
        Row {
            desc: "PNA: not opted in -> normal preflight without ACAPN",
            policy: list_plain,
            request: pre(APP, "PUT").with_request_private_network("true"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[ACAPN],
            vary: ORIGIN,
        },
        Row {
            desc: "PNA: never on actual responses",
            policy: pna_any,
            request: get(APP).with_request_private_network("true"),
            kind: Kind::Actual,
            has: &[(ACAO, "*")],
            lacks: &[ACAPN],
            vary: NO_VARY,
        },
        Row {
            desc: "PNA: a denied origin gets no ACAPN",
            policy: pna_list,
            request: pre(EVIL, "GET").with_request_private_network("true"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAPN, ACAO],
            vary: &["Origin", "Access-Control-Request-Private-Network"],
        },
    ]);
}

#[test]
fn pna_preflight_with_safelisted_method_passes_unlisted() {
    check(&[
        Row {
            desc: "PNA pitfall: ACRM GET passes with no method listed",
            policy: pna_list,
            request: pre(APP, "GET").with_request_private_network("true"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP), (ACAPN, "true")],
            lacks: &[ACAM],
            vary: &["Origin", "Access-Control-Request-Private-Network"],
        },
        Row {
            desc: "PNA pitfall: ACRM POST passes with no method listed",
            policy: pna_list,
            request: pre(APP, "POST").with_request_private_network("true"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP), (ACAPN, "true")],
            lacks: &[],
            vary: &["Origin", "Access-Control-Request-Private-Network"],
        },
    ]);
}

#[test]
fn bosh_preset_matches_historic_headers() {
    check(&[
        Row {
            desc: "BOSH: Strophe's text/xml POST preflight",
            policy: bosh,
            request: pre("https://webchat.example", "POST").with_request_headers("content-type"),
            kind: Kind::Preflight(204),
            has: &[
                (ACAO, "*"),
                (ACAM, "GET, POST, OPTIONS"),
                (ACAH, "Content-Type"),
                (ACMA, "86400"),
            ],
            lacks: &[ACAC, ACEH, ACAPN],
            vary: NO_VARY,
        },
        Row {
            desc: "BOSH: the POST itself",
            policy: bosh,
            request: post("https://webchat.example"),
            kind: Kind::Actual,
            has: &[(ACAO, "*")],
            lacks: &[ACAC, ACAM, ACAH, ACMA, ACEH],
            vary: NO_VARY,
        },
        Row {
            desc: "BOSH: a custom header is refused",
            policy: bosh,
            request: pre("https://webchat.example", "POST").with_request_headers("x-custom"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO],
            vary: NO_VARY,
        },
    ]);
    let policy = CorsPolicy::bosh();
    assert!(!policy.varies_on_origin());
    assert!(!policy.allows_credentials());
    assert_eq!(policy.max_age(), Some(86_400));
}

/// A minimal adapter: applies a decision to a fake response of any status.
fn apply(decision: &Decision, status: u16, app_headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = app_headers
        .iter()
        .filter(|(n, _)| !name::MANAGED.iter().any(|m| m.eq_ignore_ascii_case(n)))
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name::VARY))
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    for (n, v) in decision.headers().iter() {
        out.push((n.to_owned(), v.to_owned()));
    }
    let existing = app_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name::VARY))
        .map(|(_, v)| *v);
    match decision.headers().merged_vary(existing) {
        Some(vary) => out.push((name::VARY.to_owned(), vary)),
        None => {
            if let Some(vary) = existing {
                out.push((name::VARY.to_owned(), vary.to_owned()));
            }
        }
    }
    out.push((":status".to_owned(), status.to_string()));
    out
}

#[test]
fn bosh_actual_headers_apply_to_every_response() {
    let credentialed = list_creds();
    for policy in [CorsPolicy::bosh(), credentialed] {
        let request = post(APP);
        let decision = decide(&policy, &request);
        assert_eq!(decision.preflight_status(), None);
        for status in [200, 400, 403, 404, 500, 502] {
            let response = apply(
                &decision,
                status,
                &[
                    ("content-type", "text/xml"),
                    ("access-control-allow-origin", "https://stale.example"),
                    ("vary", "Accept-Encoding"),
                ],
            );
            let acao: Vec<_> = response
                .iter()
                .filter(|(n, _)| n == name::ACCESS_CONTROL_ALLOW_ORIGIN)
                .collect();
            assert_eq!(acao.len(), 1, "status {status}: exactly one ACAO");
            assert_ne!(
                acao[0].1, "https://stale.example",
                "status {status}: app value replaced"
            );
            let vary = response.iter().find(|(n, _)| n == name::VARY);
            let expected = if policy.varies_on_origin() {
                "Accept-Encoding, Origin"
            } else {
                "Accept-Encoding"
            };
            assert_eq!(
                vary.map(|(_, v)| v.as_str()),
                Some(expected),
                "status {status}"
            );
        }
    }
}

#[test]
fn cors_request_classification() {
    let rows: &[(CorsRequest<'static>, bool, bool, &str)] = &[
        (CorsRequest::new("GET", None), false, false, "no Origin"),
        (get(APP), true, false, "GET with Origin"),
        (
            CorsRequest::new("OPTIONS", Some(APP)),
            true,
            false,
            "plain OPTIONS",
        ),
        (pre(APP, "PUT"), true, true, "preflight"),
        (
            CorsRequest::new("OPTIONS", None).with_request_method("PUT"),
            false,
            false,
            "ACRM without Origin",
        ),
    ];
    for (request, cors, preflight, desc) in rows {
        assert_eq!(request.is_cors(), *cors, "{desc}");
        assert_eq!(request.is_preflight(), *preflight, "{desc}");
    }
}

#[test]
fn fetch_mirror_never_echoes_a_wildcard_name() {
    // `*` is a valid token (a script may set a header literally named `*`),
    // but echoed in `Access-Control-Allow-Headers` it becomes the wildcard
    // (§3.2.4) and, with credentials, pairs `*` with ACAC: never mirror it.
    let mirror_creds = || {
        build(
            CorsPolicy::builder()
                .allow_origin(APP)
                .allow_credentials(true)
                .mirror_request_headers(),
        )
    };
    check(&[
        Row {
            desc: "mirror + credentials: a requested `*` is not echoed",
            policy: mirror_creds,
            request: pre(APP, "GET").with_request_headers("*"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAC, ACAH],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "mirror + credentials: `*` hidden in a list is not echoed",
            policy: mirror_creds,
            request: pre(APP, "GET").with_request_headers("x-a, * ,x-b"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAC, ACAH],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "mirror without credentials: `*` would widen to the wildcard; denied",
            policy: mirror,
            request: pre(APP, "PUT").with_request_headers("*"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAH],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "mirror + credentials: ordinary names are still echoed",
            policy: mirror_creds,
            request: pre(APP, "GET").with_request_headers("x-a,authorization"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "x-a, authorization"), (ACAC, "true")],
            lacks: &[],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
    ]);
    let decision = decide(&mirror(), &pre(APP, "PUT").with_request_headers("x-a,*"));
    assert_eq!(
        decision.deny_reason(),
        Some(&DenyReason::HeaderNotAllowed {
            name: "*".to_owned()
        })
    );
}

#[test]
fn fetch_request_headers_huge_hostile_list_is_deduplicated() {
    // A hostile `Access-Control-Request-Headers` with ~100k distinct names
    // (about 690 KB), each repeated: every distinct name is echoed once.
    // (Deduplication uses a set; a quadratic scan took minutes on this input.)
    let names: Vec<String> = (0..100_000).map(|i| format!("x-h{i}")).collect();
    let acrh = format!("{},{}", names.join(","), names.join(","));
    let decision = decide(&mirror(), &pre(APP, "PUT").with_request_headers(&acrh));
    assert_eq!(decision.preflight_status(), Some(204));
    let echoed = decision.headers().get(ACAH).map(|v| v.split(", ").count());
    assert_eq!(echoed, Some(100_000), "every distinct name echoed once");
}

#[test]
fn fetch_allows_origin_agrees_with_decide_on_whitespace() {
    let policy = list_creds();
    for origin in [" https://app.example.com", "https://app.example.com\t"] {
        let decided = decide(&policy, &get(origin)).allow_origin().is_some();
        assert!(decided, "{origin:?}: decide trims OWS");
        assert_eq!(policy.allows_origin(origin), decided, "{origin:?}");
    }
    assert!(!policy.allows_origin(" https://evil.example.net "));
}
