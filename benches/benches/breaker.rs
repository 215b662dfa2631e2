//! What `throng::breaker` costs per call.
//!
//! - `breaker/closed`: one call through a closed breaker next to the bare call, in one
//!   group: the async `call` wrapper vs the bare ready future (both polled once with
//!   `now_or_never`), and the permit API (`try_acquire` + `success`) vs a bare
//!   `black_box`, with the default policy (consecutive failures), with a 100-call count
//!   window, with a 10 s time window (adds a clock read per verdict) and with a slow-call
//!   threshold (two clock reads).
//! - `breaker/open`: a rejected call while open (one clock read to compute
//!   `retry_after`), and a failure verdict that does not trip.
//!
//! Run: `cargo bench -p throng-benches --bench breaker`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use futures::FutureExt;
use throng::breaker::{Breaker, Window};
use throng_benches::cases::breaker::{default_breaker, window_breaker, work};

fn permit_loop(b: &Breaker, i: u64) {
    let p = b.try_acquire().expect("closed");
    black_box(black_box(i));
    p.success();
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/closed");
    let b = default_breaker();
    let mut i = 0u64;
    g.bench_function("bare_async", |bench| {
        bench.iter(|| {
            i += 1;
            black_box(work(i).now_or_never())
        })
    });
    g.bench_function("call", |bench| {
        bench.iter(|| {
            i += 1;
            black_box(b.call(|| work(i)).now_or_never())
        })
    });
    g.bench_function("bare", |bench| {
        bench.iter(|| {
            i += 1;
            black_box(black_box(i))
        })
    });
    g.bench_function("permit", |bench| {
        bench.iter(|| {
            i += 1;
            permit_loop(&b, i)
        })
    });
    let w = window_breaker();
    g.bench_function("permit_count_window", |bench| {
        bench.iter(|| {
            i += 1;
            permit_loop(&w, i)
        })
    });
    let t = Breaker::builder()
        .failure_rate(0.5, Window::time(Duration::from_secs(10)))
        .build()
        .unwrap();
    g.bench_function("permit_time_window", |bench| {
        bench.iter(|| {
            i += 1;
            permit_loop(&t, i)
        })
    });
    let s = Breaker::builder()
        .slow_call(Duration::from_secs(1))
        .build()
        .unwrap();
    g.bench_function("permit_slow_call", |bench| {
        bench.iter(|| {
            i += 1;
            permit_loop(&s, i)
        })
    });
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/open");
    let b = default_breaker();
    b.trip();
    g.bench_function("rejected", |bench| {
        bench.iter(|| black_box(b.try_acquire().is_err()))
    });
    let f = Breaker::builder()
        .consecutive_failures(u32::MAX)
        .build()
        .unwrap();
    g.bench_function("failure_no_trip", |bench| {
        bench.iter(|| f.try_acquire().expect("closed").failure())
    });
    g.finish();
}

criterion_group!(benches, closed, open);
criterion_main!(benches);
