//! Build-time validation: contradictions are errors (never panics),
//! risky-but-legal settings are warnings.

mod common;

use common::*;
use cors_core::{
    ConfigError, CorsPolicy, CorsPolicyBuilder, DEFAULT_DENIED_PREFLIGHT_STATUS, DEFAULT_MAX_AGE,
    DEFAULT_PREFLIGHT_STATUS, OriginError, Warning,
};

fn base() -> CorsPolicyBuilder {
    CorsPolicy::builder().allow_origin(APP)
}

#[test]
fn config_rejects_contradictions() {
    type Case = (&'static str, fn() -> CorsPolicyBuilder, ConfigError);
    let rows: &[Case] = &[
        (
            "§3.2.5: credentials with any origin",
            || {
                CorsPolicy::builder()
                    .allow_any_origin()
                    .allow_credentials(true)
            },
            ConfigError::CredentialsWithAnyOrigin,
        ),
        (
            "§3.2.4: credentials with any method",
            || base().allow_credentials(true).allow_any_method(),
            ConfigError::CredentialsWithAnyMethod,
        ),
        (
            "§3.2.4: credentials with any header",
            || base().allow_credentials(true).allow_any_header(),
            ConfigError::CredentialsWithAnyHeader,
        ),
        (
            "§3.2.4: credentials with any exposed header",
            || base().allow_credentials(true).expose_any_header(),
            ConfigError::CredentialsWithAnyExposedHeader,
        ),
        (
            "§3.2.4: `*` inside an origin list",
            || CorsPolicy::builder().allow_origins([APP, "*"]),
            ConfigError::WildcardInOriginList {
                origin: "*".to_owned(),
            },
        ),
        (
            "a glob inside the exact list belongs in a pattern",
            || CorsPolicy::builder().allow_origin("https://*.example.com"),
            ConfigError::WildcardInOriginList {
                origin: "https://*.example.com".to_owned(),
            },
        ),
        (
            "§3.2.4: `*` inside the method list",
            || base().allow_methods(["PUT", "*"]),
            ConfigError::WildcardInList { list: "method" },
        ),
        (
            "§3.2.4: `*` inside the header list",
            || base().allow_header("*"),
            ConfigError::WildcardInList { list: "header" },
        ),
        (
            "§3.2.4: `*` inside the exposed list",
            || base().expose_header("*"),
            ConfigError::WildcardInList {
                list: "exposed header",
            },
        ),
        (
            "any origin together with a list",
            || base().allow_any_origin(),
            ConfigError::ConflictingOriginRules,
        ),
        (
            "`null` must use allow_null_origin",
            || CorsPolicy::builder().allow_origin("null"),
            ConfigError::NullInOriginList,
        ),
        (
            "§3.1 serialized-origin: path",
            || CorsPolicy::builder().allow_origin("https://app.example.com/bosh"),
            ConfigError::InvalidOrigin {
                origin: "https://app.example.com/bosh".to_owned(),
                reason: OriginError::Path,
            },
        ),
        (
            "§3.1 serialized-origin: trailing slash",
            || CorsPolicy::builder().allow_origin("https://app.example.com/"),
            ConfigError::InvalidOrigin {
                origin: "https://app.example.com/".to_owned(),
                reason: OriginError::TrailingSlash,
            },
        ),
        (
            "§3.1 serialized-origin: upper case",
            || CorsPolicy::builder().allow_origin("https://App.example.com"),
            ConfigError::InvalidOrigin {
                origin: "https://App.example.com".to_owned(),
                reason: OriginError::UpperCase,
            },
        ),
        (
            "§3.1 serialized-origin: missing scheme",
            || CorsPolicy::builder().allow_origin("app.example.com"),
            ConfigError::InvalidOrigin {
                origin: "app.example.com".to_owned(),
                reason: OriginError::MissingScheme,
            },
        ),
        (
            "§3.1 serialized-origin: default port is never sent",
            || CorsPolicy::builder().allow_origin("https://app.example.com:443"),
            ConfigError::InvalidOrigin {
                origin: "https://app.example.com:443".to_owned(),
                reason: OriginError::DefaultPort,
            },
        ),
        (
            "§3.1 serialized-origin: browsers send 127.0.0.1, never 127.1",
            || CorsPolicy::builder().allow_origin("http://127.1:5280"),
            ConfigError::InvalidOrigin {
                origin: "http://127.1:5280".to_owned(),
                reason: OriginError::NonCanonicalHost,
            },
        ),
        (
            "§3.1 serialized-origin: browsers send [::1], never the long form",
            || CorsPolicy::builder().allow_origin("http://[0:0:0:0:0:0:0:1]:5280"),
            ConfigError::InvalidOrigin {
                origin: "http://[0:0:0:0:0:0:0:1]:5280".to_owned(),
                reason: OriginError::NonCanonicalHost,
            },
        ),
        (
            "§3.1 serialized-origin: a host ending in a number must be IPv4",
            || CorsPolicy::builder().allow_origin("https://app.123"),
            ConfigError::InvalidOrigin {
                origin: "https://app.123".to_owned(),
                reason: OriginError::InvalidHost,
            },
        ),
        (
            "max-age above 86400",
            || base().max_age(86_401),
            ConfigError::MaxAgeTooLarge(86_401),
        ),
        (
            "§3.2.4: method must be a token",
            || base().allow_method("GET POST"),
            ConfigError::InvalidMethod("GET POST".to_owned()),
        ),
        (
            "§3.2.4: header name must be a token",
            || base().allow_header("Content Type"),
            ConfigError::InvalidHeaderName("Content Type".to_owned()),
        ),
        (
            "§3.2.4: exposed name must be a token",
            || base().expose_header("x:y"),
            ConfigError::InvalidHeaderName("x:y".to_owned()),
        ),
        (
            "mirror and any header conflict",
            || base().mirror_request_headers().allow_any_header(),
            ConfigError::ConflictingHeaderRules,
        ),
        (
            "mirror and a header list conflict",
            || base().mirror_request_headers().allow_header("X-A"),
            ConfigError::ConflictingHeaderRules,
        ),
        (
            "§2.2.3: preflight status must be an ok status",
            || base().preflight_status(302),
            ConfigError::InvalidPreflightStatus(302),
        ),
        (
            "denied preflight status must be a final status",
            || base().denied_preflight_status(100),
            ConfigError::InvalidDeniedPreflightStatus(100),
        ),
    ];
    for (desc, builder, expected) in rows {
        let result = builder().build();
        match result {
            Err(error) => {
                assert_eq!(&error, expected, "{desc}");
                assert!(!error.to_string().is_empty(), "{desc}: printable");
            }
            Ok(policy) => panic!("{desc}: must not build, got {policy:?}"),
        }
    }
}

#[test]
fn config_rejects_invalid_patterns() {
    for (pattern, desc) in [
        ("https://*.com", "suffix too broad"),
        ("https://app.*.example.com", "star not in first label"),
        ("https://*example.com", "star not a whole label"),
        ("*.example.com", "no scheme"),
        ("https://*.example.com/", "trailing slash"),
        ("https://*.127.0.0.1", "IP address"),
        ("https://example.com", "no star"),
    ] {
        let result = CorsPolicy::builder().allow_origin_pattern(pattern).build();
        assert!(
            matches!(result, Err(ConfigError::InvalidOriginPattern { .. })),
            "{desc}: {pattern} -> {result:?}"
        );
    }
}

#[test]
fn config_accepts_valid_configurations() {
    type Case = (&'static str, fn() -> CorsPolicyBuilder);
    let rows: &[Case] = &[
        ("the BOSH builder preset", CorsPolicyBuilder::bosh),
        ("credentialed allow-list", || {
            base()
                .allow_credentials(true)
                .allow_headers(["Authorization", "Content-Type"])
        }),
        ("localhost with port and IPv6", || {
            CorsPolicy::builder().allow_origins(["http://localhost:5280", "http://[::1]:5280"])
        }),
        ("pattern with port", || {
            CorsPolicy::builder().allow_origin_pattern("https://*.example.com:8443")
        }),
        ("any everything without credentials", || {
            CorsPolicy::builder()
                .allow_any_origin()
                .allow_any_method()
                .allow_any_header()
                .expose_any_header()
        }),
        ("duplicates are tolerated", || {
            base().allow_origin(APP).allow_headers(["X-A", "x-a"])
        }),
        ("max-age 0 and 86400 bounds", || base().max_age(0)),
        ("max-age upper bound", || base().max_age(86_400)),
        ("null allowed with credentials", || {
            base().allow_null_origin(true).allow_credentials(true)
        }),
        ("null with any origin is redundant, not wrong", || {
            CorsPolicy::builder()
                .allow_any_origin()
                .allow_null_origin(true)
        }),
    ];
    for (desc, builder) in rows {
        let result = builder().build();
        assert!(result.is_ok(), "{desc}: {result:?}");
    }
}

#[test]
fn config_defaults() {
    let policy = build(base());
    assert_eq!(policy.max_age(), Some(DEFAULT_MAX_AGE));
    assert_eq!(DEFAULT_MAX_AGE, 7200);
    assert_eq!(policy.preflight_status(), DEFAULT_PREFLIGHT_STATUS);
    assert_eq!(DEFAULT_PREFLIGHT_STATUS, 204);
    assert_eq!(
        policy.denied_preflight_status(),
        DEFAULT_DENIED_PREFLIGHT_STATUS
    );
    assert_eq!(DEFAULT_DENIED_PREFLIGHT_STATUS, 403);
    assert!(!policy.allows_credentials());
    assert!(!policy.allows_private_network());
    assert!(policy.varies_on_origin());
    assert!(policy.warnings().is_empty());
    assert!(!format!("{policy:?}").is_empty());
    assert!(!format!("{:?}", CorsPolicy::builder()).is_empty());
}

#[test]
fn config_reports_warnings() {
    type Case = (&'static str, fn() -> CorsPolicyBuilder, Warning);
    let rows: &[Case] = &[
        (
            "Chromium caps max-age at 7200",
            || base().max_age(7201),
            Warning::MaxAgeAboveChromiumCap { seconds: 7201 },
        ),
        (
            "null admits every opaque origin",
            || base().allow_null_origin(true),
            Warning::NullOriginAllowed,
        ),
        (
            "predicate with credentials can reflect anything",
            || {
                CorsPolicy::builder()
                    .allow_origin_predicate(|_| true)
                    .allow_credentials(true)
            },
            Warning::CredentialsWithPredicate,
        ),
        (
            "mirrored headers with credentials",
            || base().mirror_request_headers().allow_credentials(true),
            Warning::CredentialsWithMirroredHeaders,
        ),
        (
            "browsers upper-case `delete`, so it never matches",
            || base().allow_method("delete"),
            Warning::MethodNeverMatches {
                method: "delete".to_owned(),
            },
        ),
        (
            "Set-Cookie is never exposed",
            || base().expose_header("Set-Cookie"),
            Warning::SetCookieNeverExposed,
        ),
        (
            "nothing allowed at all",
            CorsPolicy::builder,
            Warning::NoOriginAllowed,
        ),
    ];
    for (desc, builder, expected) in rows {
        let policy = build(builder());
        assert!(
            policy.warnings().contains(expected),
            "{desc}: {:?}",
            policy.warnings()
        );
        assert!(!expected.to_string().is_empty(), "{desc}: printable");
    }
    assert_eq!(
        CorsPolicy::bosh().warnings(),
        [Warning::MaxAgeAboveChromiumCap { seconds: 86_400 }],
        "the BOSH preset keeps its historic 86400"
    );
    assert!(
        build(base().allow_method("PATCH").allow_method("patch"))
            .warnings()
            .is_empty(),
        "`patch` is not normalized by browsers, so it is a distinct method"
    );
}
