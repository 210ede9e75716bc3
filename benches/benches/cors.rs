//! CORS decisions: the BOSH preset (`*`) and a credentialed allow-list with
//! a pattern, for a preflight, an actual request and a denied origin.

use std::hint::black_box;

use cors_core::{CorsPolicy, CorsRequest, decide};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn cors_decisions(c: &mut Criterion) {
    let bosh = CorsPolicy::bosh();
    let list = CorsPolicy::builder()
        .allow_origins([
            "https://app.example.com",
            "http://localhost:3000",
            "https://chat.example.net",
        ])
        .allow_origin_pattern("https://*.example.org")
        .allow_credentials(true)
        .allow_methods(["POST", "GET"])
        .allow_headers(["Content-Type", "Authorization"])
        .max_age(600)
        .build()
        .expect("valid policy");

    let preflight = CorsRequest::preflight("https://chat.example.net", "POST")
        .with_request_headers("content-type");
    let actual = CorsRequest::new("POST", Some("https://chat.example.net"));
    let pattern = CorsRequest::new("POST", Some("https://eu.chat.example.org"));
    let denied = CorsRequest::new("POST", Some("https://evil.example"));
    let not_cors = CorsRequest::new("POST", None);

    let mut g = c.benchmark_group("cors");
    g.throughput(Throughput::Elements(1));
    for (name, policy, req) in [
        ("bosh_preset/preflight", &bosh, &preflight),
        ("bosh_preset/actual", &bosh, &actual),
        ("allow_list/preflight", &list, &preflight),
        ("allow_list/actual", &list, &actual),
        ("allow_list/pattern", &list, &pattern),
        ("allow_list/denied", &list, &denied),
        ("allow_list/not_cors", &list, &not_cors),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| decide(black_box(policy), black_box(req)))
        });
    }
    g.finish();
}

criterion_group!(benches, cors_decisions);
criterion_main!(benches);
