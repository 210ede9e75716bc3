//! Rid-window checks (XEP-0124 §14). The window, the buffering of early
//! requests and the replay cache live inside `ServerSession` (there is no
//! standalone window type), so these go through `handle_request` with
//! pre-built bodies (no parsing) and drain the outputs:
//!
//! - `in_order`: the next rid; with hold = 1 it answers the held request;
//! - `early_then_gap_filled`: rid n+1 buffered, then rid n fills the gap;
//! - `replay`: a rid already answered, served from the replay cache;
//! - `out_of_window`: a rid beyond the window, which ends the session.

use std::hint::black_box;

use bosh_benches::ServerFixture;
use bosh_core::server::ServerConfig;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn rid_window(c: &mut Criterion) {
    let mut g = c.benchmark_group("rid");
    g.throughput(Throughput::Elements(1));

    let mut f = ServerFixture::new(ServerFixture::config(), 2);
    g.bench_function("in_order", |b| {
        b.iter(|| {
            let rid = f.next_rid;
            f.next_rid += 1;
            black_box(f.request(rid))
        })
    });

    let config = ServerConfig {
        max_hold: 2,
        ..ServerFixture::config()
    };
    let mut f = ServerFixture::new(config, 2);
    g.throughput(Throughput::Elements(2));
    g.bench_function("early_then_gap_filled", |b| {
        b.iter(|| {
            let rid = f.next_rid;
            f.next_rid += 2;
            f.request(rid + 1);
            black_box(f.request(rid))
        })
    });

    // Replays: each rid may be repeated `max_repeats` times, so a batch
    // cycles over the cached rids of a fresh session.
    let config = ServerConfig {
        max_repeats: 255,
        max_replay: 32,
        ..ServerFixture::config()
    };
    g.throughput(Throughput::Elements(1));
    g.bench_function("replay", |b| {
        b.iter_batched_ref(
            || {
                let f = ServerFixture::new(config.clone(), 40);
                let cached: Vec<u64> = (f.next_rid - 30..f.next_rid - 1).collect();
                (f, cached, 0usize)
            },
            |(f, cached, i)| {
                let rid = cached[*i % cached.len()];
                *i += 1;
                black_box(f.request(rid))
            },
            BatchSize::NumIterations(4096),
        )
    });

    g.bench_function("out_of_window", |b| {
        b.iter_batched_ref(
            || ServerFixture::new(ServerFixture::config(), 1),
            |f| {
                let rid = f.next_rid + 10;
                black_box(f.request(rid))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, rid_window);
criterion_main!(benches);
