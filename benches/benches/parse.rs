//! Body parsing: `bosh_core::body::parse_bytes` against the floor (a bare
//! quick-xml event loop over the same bytes), the same loop iterating
//! attributes, and a roxmltree DOM parse, for
//! an empty poll, a 1 KiB message and 64 KiB of stanzas. Throughput is in
//! bytes, so the ratios are read straight off the report.

use std::hint::black_box;

use bosh_benches::{
    bare_quick_xml, bare_quick_xml_attrs, large_body, roxmltree_dom, small_body, typical_body,
};
use bosh_core::body::{ParseLimits, parse, parse_bytes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn parse_bodies(c: &mut Criterion) {
    let limits = ParseLimits::default();
    for (name, input) in [
        ("small", small_body()),
        ("typical", typical_body()),
        ("large", large_body()),
    ] {
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("bare_quick_xml", |b| {
            b.iter(|| bare_quick_xml(black_box(&input)))
        });
        g.bench_function("bare_quick_xml_attrs", |b| {
            b.iter(|| bare_quick_xml_attrs(black_box(&input)))
        });
        // What the endpoint calls: zero-copy over the request's `Bytes`.
        g.bench_function("bosh_core", |b| {
            b.iter(|| parse_bytes(black_box(input.clone()), &limits).expect("parses"))
        });
        // From a borrowed slice: one copy into a `Bytes` first.
        g.bench_function("bosh_core_copy", |b| {
            b.iter(|| parse(black_box(&input), &limits).expect("parses"))
        });
        g.bench_function("roxmltree_dom", |b| {
            b.iter(|| roxmltree_dom(black_box(&input)))
        });
        g.finish();
    }
}

criterion_group!(benches, parse_bodies);
criterion_main!(benches);
