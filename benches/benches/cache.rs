//! What `throng::cache` costs, against `quick_cache::sync::Cache` and `moka::sync::Cache`
//! (and `moka::future::Cache` for loading) in the same groups:
//!
//! - `cache/get-1-thread` and `cache/get-2-threads`: hits along a Zipf(0.99) trace over
//!   100 000 resident keys (capacity twice the key count, so nothing is evicted);
//! - `cache/insert-evicting`: inserts of ever-new keys into a full cache of 10 000
//!   (every insert evicts);
//! - `cache/get_or_load-hit`: the async single-flight entry point on a hit, current-thread
//!   runtime (throng `get_or_load` vs moka `future::Cache::get_with`).
//!
//! Run: `cargo bench -p throng-benches --bench cache`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng::cache::Cache;
use throng_benches::cases::cache::{Zipf, EXPONENT, KEYS};

const TRACE: usize = 1 << 16;

/// A named `get`.
type Get<'a> = (&'static str, &'a (dyn Fn(u64) -> Option<u64> + Sync));

fn scattered(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn bench(c: &mut Criterion) {
    let traces: Vec<Vec<u64>> = (0..2)
        .map(|t| Zipf::new(KEYS, EXPONENT, 42 + t).trace(TRACE))
        .collect();
    let cap = 2 * KEYS;
    let throng_c: Cache<u64, u64> = Cache::new(cap as u64).unwrap();
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(cap);
    let moka_c: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(cap as u64);
    for k in (0..KEYS as u64).map(scattered) {
        throng_c.insert(k, k);
        quick.insert(k, k);
        moka_c.insert(k, k);
    }
    moka_c.run_pending_tasks();
    let gets: [Get<'_>; 3] = [
        ("throng", &|k| throng_c.get(&k)),
        ("quick_cache", &|k| quick.get(&k)),
        ("moka", &|k| moka_c.get(&k)),
    ];

    let mut g = c.benchmark_group("cache/get-1-thread");
    g.throughput(Throughput::Elements(TRACE as u64));
    for (name, get) in gets {
        g.bench_function(name, |b| {
            b.iter(|| {
                for &k in &traces[0] {
                    black_box(get(k));
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("cache/get-2-threads");
    g.throughput(Throughput::Elements(2 * TRACE as u64));
    for (name, get) in gets {
        g.bench_function(name, |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for tr in &traces {
                        s.spawn(move || {
                            for &k in tr {
                                black_box(get(k));
                            }
                        });
                    }
                })
            })
        });
    }
    g.finish();

    let small = 10_000usize;
    let throng_s: Cache<u64, u64> = Cache::new(small as u64).unwrap();
    let quick_s: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(small);
    let moka_s: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(small as u64);
    let mut g = c.benchmark_group("cache/insert-evicting");
    g.throughput(Throughput::Elements(1));
    let mut next = 0u64;
    g.bench_function("throng", |b| {
        b.iter(|| {
            next += 1;
            throng_s.insert(scattered(next), next)
        })
    });
    g.bench_function("quick_cache", |b| {
        b.iter(|| {
            next += 1;
            quick_s.insert(scattered(next), next)
        })
    });
    g.bench_function("moka", |b| {
        b.iter(|| {
            next += 1;
            moka_s.insert(scattered(next), next)
        })
    });
    g.finish();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let moka_f: moka::future::Cache<u64, u64> = moka::future::Cache::new(cap as u64);
    rt.block_on(async {
        for k in 0..1000u64 {
            throng_c.insert(k, k);
            moka_f.insert(k, k).await;
        }
    });
    let mut g = c.benchmark_group("cache/get_or_load-hit");
    g.throughput(Throughput::Elements(1));
    g.bench_function("throng", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..n {
                    black_box(throng_c.get_or_load(i % 1000, || async { 0 }).await);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("moka-get_with", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..n {
                    black_box(moka_f.get_with(i % 1000, async { 0 }).await);
                }
                start.elapsed()
            })
        })
    });
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
