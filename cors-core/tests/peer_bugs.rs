//! Known bugs and pitfalls of tower-http, actix-cors, rocket_cors, rack-cors
//! and express `cors` (spec checklist §3.6-§3.7). Each row names the peer
//! that got it wrong and asserts that we do not.

mod common;

use common::*;
use cors_core::{ConfigError, CorsPolicy, CorsPolicyBuilder, CorsRequest, OriginError, merge_vary};

const fn get(origin: &'static str) -> CorsRequest<'static> {
    CorsRequest::new("GET", Some(origin))
}

const fn pre(origin: &'static str, method: &'static str) -> CorsRequest<'static> {
    CorsRequest::preflight(origin, method)
}

#[test]
fn tower_http_255_never_joins_origin_list() {
    check(&[
        Row {
            desc: "tower-http #255 (<0.3.1) sent `a, b` in ACAO; we echo the one match",
            policy: list_creds,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "tower-http #255: same on a preflight",
            policy: list_creds,
            request: pre(ADMIN, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, ADMIN)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "tower-http #255: a non-member gets no list either",
            policy: list_creds,
            request: get(EVIL),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn tower_http_known_bugs_do_not_reproduce() {
    check(&[
        Row {
            desc: "tower-http #497 intercepts every OPTIONS; a plain OPTIONS reaches our app",
            policy: list_plain,
            request: CorsRequest::new("OPTIONS", Some(APP)),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[ACAM, ACMA],
            vary: ORIGIN,
        },
        Row {
            desc: "tower-http #526: `*` answered Authorization; we deny unless listed",
            policy: any_open,
            request: pre(APP, "GET").with_request_headers("authorization"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAH],
            vary: NO_VARY,
        },
        Row {
            desc: "tower-http #526: with an explicit opt-in Authorization passes",
            policy: any_with_authorization,
            request: pre(APP, "GET").with_request_headers("authorization"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "*, Authorization")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "tower-http #392: curl without Origin on a list policy gets only Vary: Origin",
            policy: list_plain,
            request: CorsRequest::new("GET", None),
            kind: Kind::NotCors,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "tower-http <0.7 always sent Vary Origin/ACRM/ACRH; static `*` gets none",
            policy: bosh,
            request: pre(APP, "POST").with_request_headers("content-type"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
    ]);
    assert_eq!(
        merge_vary(Some("accept-encoding"), &["Origin"]),
        "accept-encoding, Origin",
        "tower-http #398/#473 (0.5.1) overwrote the inner Vary; we append"
    );
}

#[test]
fn actix_cors_known_bugs_do_not_reproduce() {
    check(&[
        Row {
            desc: "actix-cors #225 (<0.6.1): OPTIONS without ACRM got 400; ours is an actual request",
            policy: list_plain,
            request: CorsRequest::new("OPTIONS", Some(APP)),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "actix-web #716: multiple ACAO values on preflight; we send one",
            policy: list_creds,
            request: pre(APP, "DELETE"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "actix-cors #224 (0.6.0-beta.10): preflight lacked Vary; ours has Vary: Origin",
            policy: list_creds,
            request: pre(ADMIN, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, ADMIN)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "actix-cors does not exempt safelisted methods; our GET preflight passes unlisted",
            policy: pna_list,
            request: pre(APP, "GET").with_request_private_network("true"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP), (ACAPN, "true")],
            lacks: &[],
            vary: &["Origin", "Access-Control-Request-Private-Network"],
        },
        Row {
            desc: "actix-cors PNA only checks presence; we require the value `true`",
            policy: pna_list,
            request: pre(APP, "GET").with_request_private_network("false"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[ACAPN],
            vary: &["Origin", "Access-Control-Request-Private-Network"],
        },
        Row {
            desc: "actix-cors appends Vary Origin/ACRM/ACRH to every response; not for static `*`",
            policy: bosh,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACAO, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "actix-cors answers a failed preflight with 400 + text body; we 403, no headers",
            policy: list_creds,
            request: pre(APP, "PATCH"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAC, ACAM, ACAH],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn rocket_cors_known_bugs_do_not_reproduce() {
    check(&[
        Row {
            desc: "rocket_cors unanchored regex: `https://*.example.com` must not match a prefix",
            policy: pattern,
            request: get("https://a.example.com.evil.net"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "rocket_cors unanchored regex: nor a longer host sharing the suffix bytes",
            policy: pattern,
            request: get("https://notexample.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "rocket_cors sent no Vary for list origins; we do on allowed responses",
            policy: list_plain,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "rocket_cors sent no Vary for regex origins; we do on pattern responses",
            policy: pattern,
            request: get("https://a.example.com"),
            kind: Kind::Actual,
            has: &[(ACAO, "https://a.example.com")],
            lacks: &[],
            vary: ORIGIN,
        },
        Row {
            desc: "rocket_cors sent nothing on non-CORS responses; we send Vary: Origin",
            policy: pattern,
            request: CorsRequest::new("GET", None),
            kind: Kind::NotCors,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "rocket_cors #110: BOSH text/xml needs Content-Type listed; the preset lists it",
            policy: bosh,
            request: pre(APP, "POST").with_request_headers("content-type"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "Content-Type")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "rocket_cors blocks disallowed actual requests with 403; ours still reach the app",
            policy: list_plain,
            request: CorsRequest::new("POST", Some(EVIL)),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn rack_cors_known_bugs_do_not_reproduce() {
    check(&[
        Row {
            desc: "rack-cors sends Max-Age on actual responses; we do not",
            policy: list_plain,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[ACMA],
            vary: ORIGIN,
        },
        Row {
            desc: "rack-cors sends an empty Expose-Headers when unset; we omit it",
            policy: mirror,
            request: get(APP),
            kind: Kind::Actual,
            has: &[(ACAO, APP)],
            lacks: &[ACEH],
            vary: ORIGIN,
        },
        Row {
            desc: "rack-cors bare host matches any scheme; http:// does not match an https entry",
            policy: list_plain,
            request: get("http://app.example.com"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "rack-cors #134: no implicit `null`",
            policy: list_plain,
            request: get("null"),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "rack-cors adds Vary: Origin even for `*`; we do not",
            policy: bosh,
            request: CorsRequest::new("GET", None),
            kind: Kind::NotCors,
            has: &[(ACAO, "*")],
            lacks: &[],
            vary: NO_VARY,
        },
        Row {
            desc: "rack-cors answers failed preflights 200 without headers; we 403 by default",
            policy: list_plain,
            request: pre(EVIL, "PUT"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "rack-cors #85 (<1.0): failed preflights reached the app; ours are answered now",
            policy: list_plain,
            request: pre(APP, "DELETE"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO, ACAM],
            vary: ORIGIN,
        },
        Row {
            desc: "rack-cors 1.0.0: an empty Origin matched; ours is malformed and denied",
            policy: list_plain,
            request: get(""),
            kind: Kind::DeniedActual,
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
        Row {
            desc: "rack-cors #228: errors skipped CORS; the actual decision is status-independent",
            policy: list_creds,
            request: CorsRequest::new("POST", Some(APP)),
            kind: Kind::Actual,
            has: &[(ACAO, APP), (ACAC, "true")],
            lacks: &[],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn express_cors_known_bugs_do_not_reproduce() {
    check(&[
        Row {
            desc: "express cors treats OPTIONS without Origin as preflight; for us it is not CORS",
            policy: list_plain,
            request: CorsRequest::new("OPTIONS", None),
            kind: Kind::NotCors,
            has: &[],
            lacks: &[ACAO, ACAM],
            vary: ORIGIN,
        },
        Row {
            desc: "express cors sends Expose-Headers on preflights; we only on actual responses",
            policy: list_plain,
            request: pre(APP, "PUT"),
            kind: Kind::Preflight(204),
            has: &[(ACAO, APP)],
            lacks: &[ACEH],
            vary: ORIGIN,
        },
        Row {
            desc: "express cors #290/#308: no PNA; we answer ACAPN when opted in",
            policy: pna_any,
            request: pre(APP, "GET").with_request_private_network("true"),
            kind: Kind::Preflight(204),
            has: &[(ACAPN, "true")],
            lacks: &[],
            vary: &["Access-Control-Request-Private-Network"],
        },
        Row {
            desc: "express cors 2.8.2: mirroring headers needs Vary ACRH; we send it",
            policy: mirror,
            request: pre(APP, "GET").with_request_headers("x-a"),
            kind: Kind::Preflight(204),
            has: &[(ACAH, "x-a")],
            lacks: &[],
            vary: &["Origin", "Access-Control-Request-Headers"],
        },
        Row {
            desc: "express cors answers a denied origin's preflight with 204; we deny it",
            policy: list_plain,
            request: pre(EVIL, "GET"),
            kind: Kind::DeniedPreflight(403),
            has: &[],
            lacks: &[ACAO],
            vary: ORIGIN,
        },
    ]);
}

#[test]
fn peer_misconfigurations_are_build_errors() {
    type Case = (&'static str, fn() -> CorsPolicyBuilder, ConfigError);
    let rows: &[Case] = &[
        (
            "express cors #119: credentials with the default `*` emitted an invalid pair",
            || {
                CorsPolicy::builder()
                    .allow_any_origin()
                    .allow_credentials(true)
            },
            ConfigError::CredentialsWithAnyOrigin,
        ),
        (
            "tower-http #194 panics at layer() on `*` headers + credentials; we return Err",
            || {
                CorsPolicy::builder()
                    .allow_origin(APP)
                    .allow_any_header()
                    .allow_credentials(true)
            },
            ConfigError::CredentialsWithAnyHeader,
        ),
        (
            "tower-http panics on `*` in AllowOrigin::list; we return Err",
            || CorsPolicy::builder().allow_origins([APP, "*"]),
            ConfigError::WildcardInOriginList {
                origin: "*".to_owned(),
            },
        ),
        (
            "rack-cors bare-host origin strings match any scheme; we require a scheme",
            || CorsPolicy::builder().allow_origin("app.example.com"),
            ConfigError::InvalidOrigin {
                origin: "app.example.com".to_owned(),
                reason: OriginError::MissingScheme,
            },
        ),
        (
            "rack-cors/express accept a trailing slash that never matches; we refuse it",
            || CorsPolicy::builder().allow_origin("https://app.example.com/"),
            ConfigError::InvalidOrigin {
                origin: "https://app.example.com/".to_owned(),
                reason: OriginError::TrailingSlash,
            },
        ),
        (
            "rack-cors raises only for `*`+credentials; expose `*`+credentials is refused too",
            || {
                CorsPolicy::builder()
                    .allow_origin(APP)
                    .expose_any_header()
                    .allow_credentials(true)
            },
            ConfigError::CredentialsWithAnyExposedHeader,
        ),
        (
            "tower-http/actix permissive presets reflect any origin with credentials; no such path",
            || {
                CorsPolicy::builder()
                    .allow_any_origin()
                    .allow_any_method()
                    .allow_credentials(true)
            },
            ConfigError::CredentialsWithAnyOrigin,
        ),
    ];
    for (desc, builder, expected) in rows {
        match builder().build() {
            Err(error) => assert_eq!(&error, expected, "{desc}"),
            Ok(policy) => panic!("{desc}: must not build, got {policy:?}"),
        }
    }
}
