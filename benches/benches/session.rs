//! In-memory session round trips: a client core and a server core
//! (endpoint + session) exchanging real bodies with fake time and no IO.
//! Each `exchange` sends one stanza each way and completes two HTTP
//! request/response cycles (parse and emit on both sides included);
//! throughput is in cycles.

use std::hint::black_box;

use bosh_benches::Pair;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn round_trips(c: &mut Criterion) {
    let mut g = c.benchmark_group("session");
    let mut pair = Pair::new();
    let per_exchange = pair.exchange();
    assert_eq!(per_exchange, 2);
    g.throughput(Throughput::Elements(per_exchange));
    g.bench_function("round_trip", |b| b.iter(|| black_box(pair.exchange())));
    g.finish();
    assert_eq!(pair.stanzas_in, pair.stanzas_up);
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
