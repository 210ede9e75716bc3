//! `Vary` merging (RFC 9110 §12.5.5; Fetch appendix "CORS protocol and HTTP
//! caches": append to the application's `Vary`, never replace it).

mod common;

use common::*;
use cors_core::{CorsRequest, decide, merge_vary};

#[test]
fn merge_vary_appends_without_duplicates() {
    let rows: &[(Option<&str>, &[&str], &str, &str)] = &[
        (None, &["Origin"], "Origin", "nothing existing"),
        (Some(""), &["Origin"], "Origin", "empty existing"),
        (
            Some("Accept-Encoding"),
            &["Origin"],
            "Accept-Encoding, Origin",
            "appends after the app's members",
        ),
        (
            Some("origin"),
            &["Origin"],
            "origin",
            "case-insensitive duplicate kept once",
        ),
        (
            Some("Accept-Encoding, ORIGIN"),
            &["Origin", "Access-Control-Request-Headers"],
            "Accept-Encoding, ORIGIN, Access-Control-Request-Headers",
            "only the missing member is added",
        ),
        (
            Some(" a ,, b ,"),
            &["c"],
            "a, b, c",
            "OWS trimmed and empty elements dropped",
        ),
        (Some("a, A"), &[], "a", "existing duplicates collapse"),
        (
            None,
            &["Origin", "origin"],
            "Origin",
            "duplicates within add",
        ),
        (
            None,
            &["Origin, Accept"],
            "Origin, Accept",
            "add items may be lists",
        ),
        (None, &[], "", "nothing at all -> empty"),
    ];
    for (existing, add, expected, desc) in rows {
        assert_eq!(merge_vary(*existing, add), *expected, "{desc}");
    }
}

#[test]
fn merge_vary_treats_star_as_everything() {
    let rows: &[(Option<&str>, &[&str], &str)] = &[
        (
            Some("*"),
            &["Origin"],
            "existing `*` already varies on everything",
        ),
        (Some("Accept, *"), &["Origin"], "`*` anywhere in existing"),
        (Some("Accept"), &["*"], "adding `*`"),
    ];
    for (existing, add, desc) in rows {
        assert_eq!(merge_vary(*existing, add), "*", "{desc}");
    }
}

#[test]
fn merge_vary_is_idempotent() {
    let once = merge_vary(Some("Accept-Encoding"), &["Origin"]);
    let twice = merge_vary(Some(&once), &["Origin"]);
    assert_eq!(once, twice);
}

#[test]
fn cors_headers_merged_vary_leaves_static_responses_alone() {
    let decision = decide(&bosh(), &CorsRequest::new("POST", Some(APP)));
    assert_eq!(
        decision.headers().merged_vary(Some("Accept-Encoding")),
        None
    );
    let decision = decide(&list_plain(), &CorsRequest::new("POST", None));
    assert_eq!(
        decision
            .headers()
            .merged_vary(Some("Accept-Encoding"))
            .as_deref(),
        Some("Accept-Encoding, Origin")
    );
    assert_eq!(
        decision.headers().merged_vary(None).as_deref(),
        Some("Origin")
    );
}
