//! Property tests over random policies and random (often hostile) requests.

mod common;

use common::*;
use cors_core::{ConfigError, CorsPolicy, CorsRequest, Decision, OriginError, decide, merge_vary};
use proptest::prelude::*;

/// What a random policy was built from, kept as an oracle.
#[derive(Debug, Clone)]
struct Spec {
    any_origin: bool,
    origins: Vec<String>,
    allow_null: bool,
    credentials: bool,
    methods: u8,
    headers: u8,
    expose: u8,
    pna: bool,
    pattern: bool,
}

impl Spec {
    fn build(&self) -> Option<CorsPolicy> {
        let mut b = CorsPolicy::builder()
            .allow_credentials(self.credentials)
            .allow_private_network(self.pna)
            .allow_null_origin(self.allow_null);
        b = if self.any_origin {
            b.allow_any_origin()
        } else {
            b.allow_origins(self.origins.iter().cloned())
        };
        if self.pattern {
            b = b.allow_origin_pattern("https://*.example.com");
        }
        b = match self.methods {
            0 => b,
            1 => b.allow_methods(["PUT", "DELETE"]),
            _ => b.allow_any_method(),
        };
        b = match self.headers {
            0 => b.allow_headers(["Content-Type", "Authorization"]),
            1 => b.mirror_request_headers(),
            _ => b.allow_any_header(),
        };
        b = match self.expose {
            0 => b,
            1 => b.expose_header("X-Request-Id"),
            _ => b.expose_any_header(),
        };
        b.build().ok()
    }

    /// Independent oracle for "does this origin get ACAO".
    fn allows(&self, origin: &str) -> bool {
        let origin = origin.trim_matches([' ', '\t']);
        self.any_origin
            || (origin == "null" && self.allow_null)
            || self.origins.iter().any(|o| o == origin)
            || (self.pattern && in_pattern(origin))
    }
}

/// Oracle for `https://*.example.com`: `https://`, then one or more
/// non-empty labels of `[a-z0-9_-]`, then `.example.com`, nothing else.
fn in_pattern(origin: &str) -> bool {
    origin
        .strip_prefix("https://")
        .and_then(|rest| rest.strip_suffix(".example.com"))
        .is_some_and(|labels| {
            labels.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
            })
        })
}

fn valid_origin() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("https"), Just("http")],
        "[a-z][a-z0-9-]{0,6}",
        prop_oneof![Just("example.com"), Just("example.net"), Just("localhost")],
        proptest::option::of(1024u16..),
    )
        .prop_map(|(scheme, label, domain, port)| match port {
            Some(port) => format!("{scheme}://{label}.{domain}:{port}"),
            None => format!("{scheme}://{label}.{domain}"),
        })
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![valid_origin(), Just(APP.to_owned()), Just(ADMIN.to_owned())],
            0..4,
        ),
        any::<bool>(),
        any::<bool>(),
        0u8..3,
        0u8..3,
        0u8..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                any_origin,
                origins,
                allow_null,
                credentials,
                methods,
                headers,
                expose,
                pna,
                pattern,
            )| Spec {
                any_origin,
                origins,
                allow_null,
                credentials,
                methods,
                headers,
                expose,
                pna,
                pattern,
            },
        )
}

fn arb_origin() -> impl Strategy<Value = String> {
    prop_oneof![
        valid_origin(),
        Just(APP.to_owned()),
        Just(ADMIN.to_owned()),
        Just(format!("\t{APP} ")),
        Just("null".to_owned()),
        Just("NULL".to_owned()),
        Just("*".to_owned()),
        Just(String::new()),
        Just("https://example.com".to_owned()),
        Just("https://a.example.com.evil.net".to_owned()),
        Just("https://evilexample.com".to_owned()),
        "[a-z]{1,5}".prop_map(|l| format!("https://{l}.example.com")),
        "[a-z]{1,5}".prop_map(|l| format!("http://{l}.example.com")),
        valid_origin().prop_map(|o| format!("{o}/")),
        valid_origin().prop_map(|o| o.to_uppercase()),
        valid_origin().prop_map(|o| format!("{o}, {APP}")),
        valid_origin().prop_map(|o| format!(" {o} ")),
        ".*",
    ]
}

fn arb_method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("OPTIONS".to_owned()),
        Just("GET".to_owned()),
        Just("POST".to_owned()),
        Just("PUT".to_owned()),
        "[A-Za-z]{1,8}",
        ".{0,8}",
    ]
}

fn arb_header_list() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("content-type".to_owned()),
        Just("authorization".to_owned()),
        Just("content-type, x-a , ,AUTHORIZATION".to_owned()),
        Just("*".to_owned()),
        Just("x-a, *".to_owned()),
        "[a-zA-Z-]{1,10}(, ?[a-zA-Z-]{1,10}){0,3}",
        ".{0,20}",
    ]
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    origin: Option<String>,
    acrm: Option<String>,
    acrh: Option<String>,
    acrpn: Option<String>,
}

impl Req {
    fn view(&self) -> CorsRequest<'_> {
        CorsRequest {
            method: &self.method,
            origin: self.origin.as_deref(),
            request_method: self.acrm.as_deref(),
            request_headers: self.acrh.as_deref(),
            request_private_network: self.acrpn.as_deref(),
        }
    }
}

fn arb_request() -> impl Strategy<Value = Req> {
    (
        arb_method(),
        proptest::option::weighted(0.9, arb_origin()),
        proptest::option::weighted(0.7, arb_method()),
        proptest::option::of(arb_header_list()),
        proptest::option::of(prop_oneof![Just("true".to_owned()), ".{0,6}"]),
    )
        .prop_map(|(method, origin, acrm, acrh, acrpn)| Req {
            method,
            origin,
            acrm,
            acrh,
            acrpn,
        })
}

fn has_star(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.split(',').any(|item| item.trim() == "*"))
}

proptest! {
    #[test]
    fn prop_no_decision_pairs_credentials_with_wildcard(spec in arb_spec(), req in arb_request()) {
        let Some(policy) = spec.build() else { return Ok(()) };
        let decision = decide(&policy, &req.view());
        let headers = decision.headers();
        if let Some(acac) = headers.get(ACAC) {
            prop_assert_eq!(acac, "true");
            prop_assert!(!has_star(headers.get(ACAO)), "{:?}", decision);
            prop_assert!(!has_star(headers.get(ACAM)), "{:?}", decision);
            prop_assert!(!has_star(headers.get(ACAH)), "{:?}", decision);
            prop_assert!(!has_star(headers.get(ACEH)), "{:?}", decision);
        }
    }

    #[test]
    fn prop_no_decision_emits_two_origin_values(spec in arb_spec(), req in arb_request()) {
        let Some(policy) = spec.build() else { return Ok(()) };
        let decision = decide(&policy, &req.view());
        let values: Vec<&str> = decision
            .headers()
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(ACAO))
            .map(|(_, v)| v)
            .collect();
        prop_assert!(values.len() <= 1, "{:?}", decision);
        if let Some(value) = values.first() {
            let origin = req.origin.as_deref().map(|o| o.trim_matches([' ', '\t']));
            prop_assert!(*value == "*" || Some(*value) == origin, "{:?}", decision);
            prop_assert!(*value == "*" || !value.contains(','), "{:?}", decision);
        }
    }

    #[test]
    fn prop_origin_outside_policy_never_receives_allow_origin(
        spec in arb_spec(),
        req in arb_request(),
    ) {
        let Some(policy) = spec.build() else { return Ok(()) };
        let decision = decide(&policy, &req.view());
        if let Some(origin) = req.origin.as_deref() {
            if !spec.allows(origin) {
                prop_assert_eq!(decision.allow_origin(), None, "{:?}", decision);
                prop_assert!(!policy.allows_origin(origin.trim_matches([' ', '\t'])));
            } else if !req.view().is_preflight() {
                // Allowed origins always get it on actual requests.
                prop_assert!(decision.allow_origin().is_some(), "{:?}", decision);
            }
        }
    }

    #[test]
    fn prop_pattern_never_allows_foreign_hosts(
        label in "[a-z][a-z0-9-]{0,6}",
        suffix in prop_oneof![
            Just("example.com.evil.net"),
            Just("notexample.com"),
            Just("example.co"),
            Just("evil.net"),
            Just("example.com:8443"),
        ],
        scheme in prop_oneof![Just("https"), Just("http")],
    ) {
        let policy = build(CorsPolicy::builder().allow_origin_pattern("https://*.example.com"));
        let origin = format!("{scheme}://{label}.{suffix}");
        let decision = decide(&policy, &CorsRequest::new("GET", Some(&origin)));
        prop_assert_eq!(decision.allow_origin(), None);
        let inside = format!("https://{label}.example.com");
        let decision = decide(&policy, &CorsRequest::new("GET", Some(&inside)));
        prop_assert_eq!(decision.allow_origin(), Some(inside.as_str()));
    }

    #[test]
    fn prop_vary_origin_on_every_response_iff_dynamic(spec in arb_spec(), req in arb_request()) {
        let Some(policy) = spec.build() else { return Ok(()) };
        let decision = decide(&policy, &req.view());
        let has_origin = decision.headers().vary().contains(&"Origin");
        prop_assert_eq!(has_origin, !spec.any_origin, "{:?}", decision);
    }

    #[test]
    fn prop_headers_stay_in_their_place(spec in arb_spec(), req in arb_request()) {
        let Some(policy) = spec.build() else { return Ok(()) };
        let decision = decide(&policy, &req.view());
        let headers = decision.headers();
        match &decision {
            Decision::Preflight(_) => prop_assert_eq!(headers.get(ACEH), None),
            Decision::Denied(_) => prop_assert!(headers.fields().is_empty()),
            _ => {
                for name in [ACAM, ACAH, ACMA, ACAPN] {
                    prop_assert_eq!(headers.get(name), None, "{}", name);
                }
            }
        }
        if headers.get(ACAPN).is_some() {
            prop_assert!(spec.pna);
            prop_assert_eq!(req.acrpn.as_deref().map(|v| v.trim_matches([' ', '\t'])), Some("true"));
        }
        let mut names: Vec<&str> = headers.iter().map(|(n, _)| n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        prop_assert_eq!(before, names.len(), "no field twice");
    }

    #[test]
    fn prop_listed_origin_is_echoed(origin in valid_origin(), credentials in any::<bool>()) {
        let policy = build(
            CorsPolicy::builder()
                .allow_origin(origin.clone())
                .allow_credentials(credentials),
        );
        let decision = decide(&policy, &CorsRequest::new("POST", Some(&origin)));
        prop_assert_eq!(decision.allow_origin(), Some(origin.as_str()));
        let decision = decide(&policy, &CorsRequest::preflight(&origin, "POST"));
        prop_assert_eq!(decision.allow_origin(), Some(origin.as_str()));
    }

    #[test]
    fn prop_builder_never_panics(
        origins in proptest::collection::vec(".{0,24}", 0..3),
        patterns in proptest::collection::vec(".{0,24}", 0..2),
        methods in proptest::collection::vec(".{0,8}", 0..3),
        headers in proptest::collection::vec(".{0,12}", 0..3),
        max_age in any::<u32>(),
        status in any::<u16>(),
        denied_status in any::<u16>(),
        credentials in any::<bool>(),
        flags in any::<[bool; 7]>(),
    ) {
        let mut result = CorsPolicy::builder()
            .allow_origins(origins)
            .allow_methods(methods)
            .allow_headers(headers.clone())
            .expose_headers(headers)
            .max_age(max_age)
            .preflight_status(status)
            .denied_preflight_status(denied_status)
            .allow_credentials(credentials)
            .allow_null_origin(flags[0])
            .allow_private_network(flags[1]);
        if flags[2] { result = result.allow_any_origin(); }
        if flags[3] { result = result.allow_any_method(); }
        if flags[4] { result = result.allow_any_header(); }
        if flags[5] { result = result.mirror_request_headers(); }
        if flags[6] { result = result.expose_any_header().allow_origin_predicate(|o| o.len() % 2 == 0); }
        let result = patterns
            .into_iter()
            .fold(result, |b, p| b.allow_origin_pattern(p))
            .build();
        if let Err(error) = result {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn prop_merge_vary_never_duplicates(
        existing in proptest::option::of("[A-Za-z, -]{0,40}"),
        add in proptest::collection::vec("[A-Za-z-]{1,12}", 0..4),
    ) {
        let add_refs: Vec<&str> = add.iter().map(String::as_str).collect();
        let merged = merge_vary(existing.as_deref(), &add_refs);
        let members: Vec<String> = merged
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .collect();
        let mut unique = members.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), members.len(), "{}", merged);
        for token in &add {
            prop_assert!(members.contains(&token.to_ascii_lowercase()), "{} in {}", token, merged);
        }
        prop_assert_eq!(merge_vary(Some(&merged), &add_refs), merged.clone(), "idempotent");
    }
}

/// Pieces with frequent zero runs, so compression cases are common.
fn arb_ipv6() -> impl Strategy<Value = [u16; 8]> {
    proptest::array::uniform8(prop_oneof![3 => Just(0u16), 1 => Just(1u16), 4 => any::<u16>()])
}

proptest! {
    #[test]
    fn prop_ip_origins_accepted_only_in_browser_form(
        v4 in any::<u32>(),
        pieces in arb_ipv6(),
    ) {
        // IPv4: the dotted quad is what browsers send; the single-number
        // spelling parses to the same address but is never sent.
        let ip = std::net::Ipv4Addr::from(v4);
        let dotted = format!("http://{ip}:5280");
        prop_assert!(CorsPolicy::builder().allow_origin(dotted.clone()).build().is_ok(), "{}", dotted);
        let number = format!("http://{v4}:5280");
        let refused = matches!(
            CorsPolicy::builder().allow_origin(number.clone()).build(),
            Err(ConfigError::InvalidOrigin { reason: OriginError::NonCanonicalHost, .. })
        );
        prop_assert!(refused, "{}", number);

        // IPv6: std's Display follows RFC 5952 like the URL serializer,
        // except that it embeds IPv4 for mapped addresses.
        let ip = std::net::Ipv6Addr::from(pieces);
        prop_assume!(ip.to_ipv4_mapped().is_none());
        let canonical = format!("https://[{ip}]");
        let built = CorsPolicy::builder().allow_origin(canonical.clone()).build();
        prop_assert!(built.is_ok(), "{} -> {:?}", canonical, built);
        let expanded = format!(
            "https://[{}]",
            pieces.iter().map(|p| format!("{p:x}")).collect::<Vec<_>>().join(":")
        );
        let built = CorsPolicy::builder().allow_origin(expanded.clone()).build();
        prop_assert_eq!(built.is_ok(), expanded == canonical, "{}", expanded);
    }

    #[test]
    fn prop_decide_never_panics_on_arbitrary_strings(
        method in ".{0,12}",
        origin in proptest::option::of(".{0,40}"),
        acrm in proptest::option::of(".{0,12}"),
        acrh in proptest::option::of(".{0,40}"),
        acrpn in proptest::option::of(".{0,8}"),
        spec in arb_spec(),
    ) {
        let Some(policy) = spec.build() else { return Ok(()) };
        let request = CorsRequest {
            method: &method,
            origin: origin.as_deref(),
            request_method: acrm.as_deref(),
            request_headers: acrh.as_deref(),
            request_private_network: acrpn.as_deref(),
        };
        let decision = decide(&policy, &request);
        // Whatever came in, what goes out is a single, well-formed ACAO.
        if let Some(value) = decision.allow_origin() {
            prop_assert!(value == "*" || policy.allows_origin(value), "{:?}", decision);
            prop_assert!(!value.contains([',', '\r', '\n']), "{:?}", decision);
        }
        prop_assert_eq!(decision.headers().vary().contains(&"Origin"), policy.varies_on_origin());
    }
}

proptest! {
    /// Aimed at the credentialed preflights the random requests above rarely
    /// reach: an allowed origin, a valid method and arbitrary header lists.
    #[test]
    fn prop_credentialed_preflight_never_answers_wildcard(
        spec in arb_spec(),
        acrm in prop_oneof![Just("PUT"), Just("GET"), Just("DELETE"), Just("*")],
        acrh in arb_header_list(),
    ) {
        let mut spec = spec;
        spec.credentials = true;
        spec.any_origin = false;
        spec.origins.push(APP.to_owned());
        let Some(policy) = spec.build() else { return Ok(()) };
        let request = CorsRequest::preflight(APP, acrm).with_request_headers(&acrh);
        let decision = decide(&policy, &request);
        let headers = decision.headers();
        if let Decision::Preflight(_) = decision {
            prop_assert_eq!(headers.get(ACAC), Some("true"));
            prop_assert_eq!(headers.get(ACAO), Some(APP));
            prop_assert!(!has_star(headers.get(ACAM)), "{:?}", headers);
            prop_assert!(!has_star(headers.get(ACAH)), "{:?}", headers);
        }
    }
}
