//! Shared table machinery for the integration tests.
#![allow(dead_code, unreachable_pub)]

use cors_core::{CorsPolicy, CorsPolicyBuilder, CorsRequest, Decision, decide};

/// The shape of a decision, for table rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NotCors,
    Preflight(u16),
    Actual,
    DeniedPreflight(u16),
    DeniedActual,
}

pub fn kind(decision: &Decision) -> Kind {
    match decision {
        Decision::NotCors(_) => Kind::NotCors,
        Decision::Preflight(answer) => Kind::Preflight(answer.status()),
        Decision::Actual(_) => Kind::Actual,
        Decision::Denied(denial) => match denial.preflight_status() {
            Some(status) => Kind::DeniedPreflight(status),
            None => Kind::DeniedActual,
        },
        _ => unreachable!("unknown decision variant"),
    }
}

/// One row of a decision table. `desc` names the rule (or the peer bug).
pub struct Row {
    pub desc: &'static str,
    pub policy: fn() -> CorsPolicy,
    pub request: CorsRequest<'static>,
    pub kind: Kind,
    /// Fields that must be present with exactly this value.
    pub has: &'static [(&'static str, &'static str)],
    /// Fields that must be absent.
    pub lacks: &'static [&'static str],
    /// The exact `Vary` members (order included).
    pub vary: &'static [&'static str],
}

pub fn check(rows: &[Row]) {
    for row in rows {
        let policy = (row.policy)();
        let decision = decide(&policy, &row.request);
        let desc = row.desc;
        assert_eq!(kind(&decision), row.kind, "{desc}: kind of {decision:?}");
        let headers = decision.headers();
        for (name, value) in row.has {
            assert_eq!(
                headers.get(name),
                Some(*value),
                "{desc}: field {name} in {decision:?}"
            );
        }
        for name in row.lacks {
            assert_eq!(
                headers.get(name),
                None,
                "{desc}: field {name} must be absent"
            );
        }
        assert_eq!(headers.vary(), row.vary, "{desc}: Vary");
        // Invariants every row must satisfy.
        let acao = headers.iter().filter(|(n, _)| *n == ACAO).count();
        assert!(acao <= 1, "{desc}: at most one ACAO field");
        if let Some(value) = headers.get(ACAO) {
            assert!(!value.contains(','), "{desc}: ACAO is never a list");
            if headers.get(ACAC).is_some() {
                assert_ne!(value, "*", "{desc}: credentials never with *");
            }
        }
    }
}

pub fn build(builder: CorsPolicyBuilder) -> CorsPolicy {
    match builder.build() {
        Ok(policy) => policy,
        Err(error) => panic!("test policy must build: {error}"),
    }
}

pub const ACAO: &str = "access-control-allow-origin";
pub const ACAC: &str = "access-control-allow-credentials";
pub const ACAM: &str = "access-control-allow-methods";
pub const ACAH: &str = "access-control-allow-headers";
pub const ACMA: &str = "access-control-max-age";
pub const ACEH: &str = "access-control-expose-headers";
pub const ACAPN: &str = "access-control-allow-private-network";

pub const APP: &str = "https://app.example.com";
pub const ADMIN: &str = "https://admin.example.com";
pub const EVIL: &str = "https://evil.example.net";

pub const ORIGIN: &[&str] = &["Origin"];
pub const NO_VARY: &[&str] = &[];

/// The BOSH preset.
pub fn bosh() -> CorsPolicy {
    CorsPolicy::bosh()
}

/// Credentialed allow-list of APP and ADMIN.
pub fn list_creds() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_origins([APP, ADMIN])
            .allow_credentials(true)
            .allow_methods(["PUT", "DELETE"])
            .allow_headers(["Content-Type", "X-Requested-With"])
            .expose_header("X-Request-Id")
            .max_age(600),
    )
}

/// Allow-list of APP without credentials.
pub fn list_plain() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_origin(APP)
            .allow_method("PUT")
            .allow_header("Content-Type")
            .expose_header("X-Request-Id"),
    )
}

/// Everything open, no credentials.
pub fn any_open() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_any_origin()
            .allow_any_method()
            .allow_any_header()
            .expose_any_header(),
    )
}

/// `*` headers plus an explicit Authorization.
pub fn any_with_authorization() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_any_origin()
            .allow_any_header()
            .allow_header("Authorization"),
    )
}

/// Mirror request headers for APP; PUT listed.
pub fn mirror() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_origin(APP)
            .allow_method("PUT")
            .mirror_request_headers(),
    )
}

/// Subdomains of example.com over https.
pub fn pattern() -> CorsPolicy {
    build(CorsPolicy::builder().allow_origin_pattern("https://*.example.com"))
}

/// APP plus `null`.
pub fn null_allowed() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_origin(APP)
            .allow_null_origin(true),
    )
}

/// Static `*` with PNA opted in, PUT listed.
pub fn pna_any() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_any_origin()
            .allow_method("PUT")
            .allow_private_network(true),
    )
}

/// Allow-list with PNA opted in and no method listed at all.
pub fn pna_list() -> CorsPolicy {
    build(
        CorsPolicy::builder()
            .allow_origin(APP)
            .allow_private_network(true),
    )
}
