//! An ordered map over a batch of items with a concurrency limit, on a 2-worker
//! multi-thread runtime, three ways in each group so the numbers are same-run ratios:
//!
//! - `throng`: `throng::parallel::ParMap::try_map` (long-lived worker tasks);
//! - `buffered`: `futures`' `stream::iter(..).map(f).buffered(limit)` in the calling task;
//! - `joinset+semaphore`: a `JoinSet` spawn per item gated by a `Semaphore`, reordered.
//!
//! Groups (time per batch, throughput in items):
//!
//! - `parallel/io`: 1024 items awaiting a 1 ms timer, 256 in flight;
//! - `parallel/cpu`: 200 items burning about 20 µs of CPU each, 8 in flight;
//! - `parallel/ready`: 1024 already-ready items, 8 in flight: the fixed and per-item cost
//!   of each tool when the items do nothing.
//!
//! Run: `cargo bench -p throng-benches --bench parallel`.

use std::future::Future;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng_benches::cases::parallel::{
    cpu_item, cpu_rounds, io_item, runtime, with_buffered, with_joinset, with_throng, LIMIT_CPU,
    LIMIT_IO,
};

fn group<F, Fut>(c: &mut Criterion, name: &str, n: u64, limit: usize, f: F)
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let rt = runtime();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(n));
    g.bench_function("throng", |b| {
        b.iter(|| rt.block_on(with_throng(n, limit, f.clone())))
    });
    g.bench_function("buffered", |b| {
        b.iter(|| rt.block_on(with_buffered(n, limit, f.clone())))
    });
    g.bench_function("joinset+semaphore", |b| {
        b.iter(|| rt.block_on(with_joinset(n, limit, f.clone())))
    });
    g.finish();
}

fn io(c: &mut Criterion) {
    group(c, "parallel/io", 1024, LIMIT_IO, io_item);
}

fn cpu(c: &mut Criterion) {
    let rounds = cpu_rounds();
    group(c, "parallel/cpu", 200, LIMIT_CPU, move |i| {
        cpu_item(i, rounds)
    });
}

fn ready(c: &mut Criterion) {
    group(c, "parallel/ready", 1024, 8, |i| async move { i });
}

criterion_group!(benches, io, cpu, ready);
criterion_main!(benches);
