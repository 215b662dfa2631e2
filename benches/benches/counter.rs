//! `throng::counter::Counter` against a shared `AtomicU64` and a `Mutex<u64>`.
//!
//! - `counter/1-thread`: one increment on an uncontended counter (ns per increment).
//! - `counter/2-threads`: 2 threads each doing 10 000 increments on one shared counter
//!   (time per batch of 20 000 increments, threads spawned per iteration via scoped
//!   threads, so the spawn cost is included equally for every contestant).
//! - `counter/sum`, `counter/take`: reading and read-and-reset with the default shards.
//!
//! Run: `cargo bench -p throng-benches --bench counter`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng::counter::Counter;

const PER_THREAD: u64 = 10_000;

fn two_threads(f: impl Fn() + Sync) {
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..PER_THREAD {
                    f();
                }
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    let counter = Counter::new();
    let atomic = AtomicU64::new(0);
    let mutex = Mutex::new(0u64);

    let mut g = c.benchmark_group("counter/1-thread");
    g.throughput(Throughput::Elements(1));
    g.bench_function("throng-counter", |b| b.iter(|| counter.inc()));
    g.bench_function("atomic-u64", |b| {
        b.iter(|| atomic.fetch_add(1, Ordering::Relaxed))
    });
    g.bench_function("mutex-u64", |b| b.iter(|| *mutex.lock().unwrap() += 1));
    g.finish();

    let mut g = c.benchmark_group("counter/2-threads");
    g.throughput(Throughput::Elements(2 * PER_THREAD));
    g.bench_function("throng-counter", |b| {
        b.iter(|| two_threads(|| counter.inc()))
    });
    g.bench_function("atomic-u64", |b| {
        b.iter(|| {
            two_threads(|| {
                atomic.fetch_add(1, Ordering::Relaxed);
            })
        })
    });
    g.bench_function("mutex-u64", |b| {
        b.iter(|| two_threads(|| *mutex.lock().unwrap() += 1))
    });
    g.finish();

    let mut g = c.benchmark_group("counter/read");
    g.bench_function("sum", |b| b.iter(|| black_box(counter.sum())));
    g.bench_function("take", |b| b.iter(|| black_box(counter.take())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
