//! Emitting bodies into a reused buffer: an empty response, the 1 KiB
//! message, and re-emitting the parsed 64 KiB body.

use std::hint::black_box;

use bosh_benches::{large_body, typical_body};
use bosh_core::Rid;
use bosh_core::body::{BodyAttrs, CreationAttrs, ParseLimits, Version, parse_bytes, write_body};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn emit_bodies(c: &mut Criterion) {
    let mut g = c.benchmark_group("emit");
    let mut out = Vec::with_capacity(128 * 1024);

    let empty = BodyAttrs {
        ack: Rid::new(1_573_741_822),
        ..BodyAttrs::default()
    };
    g.throughput(Throughput::Elements(1));
    g.bench_function("empty_response", |b| {
        b.iter(|| {
            out.clear();
            write_body(black_box(&empty), std::iter::empty::<&[u8]>(), &mut out);
            out.len()
        })
    });

    let creation = BodyAttrs {
        sid: Some("SomeSID".into()),
        ack: Rid::new(1_573_741_820),
        creation: Some(Box::new(CreationAttrs {
            wait: Some(60),
            requests: Some(2),
            hold: Some(1),
            inactivity: Some(60),
            polling: Some(2),
            maxpause: Some(120),
            ver: Some(Version::new(1, 11)),
            from: Some("example.com".into()),
            xmpp_version: Some(Version::new(1, 0)),
            xmpp_restartlogic: Some(true),
            authid: Some("stream-id-1".into()),
            ..CreationAttrs::default()
        })),
        ..BodyAttrs::default()
    };
    let features: &[u8] = b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
    g.bench_function("creation_response", |b| {
        b.iter(|| {
            out.clear();
            write_body(black_box(&creation), [features], &mut out);
            out.len()
        })
    });

    let typical = parse_bytes(typical_body(), &ParseLimits::default()).expect("parses");
    g.throughput(Throughput::Bytes(typical_body().len() as u64));
    g.bench_function("typical_1k", |b| {
        b.iter(|| {
            out.clear();
            black_box(&typical).write(&mut out);
            out.len()
        })
    });

    let large = parse_bytes(large_body(), &ParseLimits::default()).expect("parses");
    g.throughput(Throughput::Bytes(large_body().len() as u64));
    g.bench_function("large_64k", |b| {
        b.iter(|| {
            out.clear();
            black_box(&large).write(&mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, emit_bodies);
criterion_main!(benches);
