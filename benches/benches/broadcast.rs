//! Lossless fan-out throughput: one publisher task to 1, 10, 100 and 1000 subscriber
//! tasks (each receiving every message), throng `Broadcaster` vs
//! `tokio::sync::broadcast` (capacity ≥ messages, a `Lagged` panics) vs `async-broadcast`
//! (default await-when-full mode), on a 2-worker multi-thread runtime. Throughput is in
//! deliveries (messages × subscribers); the round functions are shared with the
//! scoreboard (`throng_benches::cases::broadcast`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use throng_benches::cases::broadcast::{async_broadcast_round, runtime, throng_round, tokio_round};

fn fanout(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("broadcast_fanout");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    for subs in [1usize, 10, 100, 1000] {
        // Keep each round near 100k deliveries.
        let msgs = (100_000 / subs).clamp(100, 10_000);
        g.throughput(Throughput::Elements((subs * msgs) as u64));
        g.bench_with_input(BenchmarkId::new("throng", subs), &subs, |b, &subs| {
            b.iter_custom(|iters| (0..iters).map(|_| throng_round(&rt, subs, msgs)).sum())
        });
        g.bench_with_input(
            BenchmarkId::new("tokio-broadcast", subs),
            &subs,
            |b, &subs| {
                b.iter_custom(|iters| (0..iters).map(|_| tokio_round(&rt, subs, msgs)).sum())
            },
        );
        g.bench_with_input(
            BenchmarkId::new("async-broadcast", subs),
            &subs,
            |b, &subs| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| async_broadcast_round(&rt, subs, msgs, msgs))
                        .sum()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
