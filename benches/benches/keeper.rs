//! Round trip of a trivial closure (increment a `u64`, return it) to a state owned by one
//! task, measured four ways in one group so the numbers are same-run ratios:
//!
//! - `keeper`: `throng::keeper::Keeper::call`;
//! - `mpsc-oneshot`: the hand-rolled loop it replaces (bounded tokio `mpsc` of an enum
//!   command carrying a tokio `oneshot` reply);
//! - `tokio-mutex`: `Arc<tokio::sync::Mutex<u64>>`, lock, increment, unlock;
//! - `std-mutex`: `Arc<std::sync::Mutex<u64>>`, the same without an await.
//!
//! Groups: `keeper/uncontended` (one caller, current-thread runtime) and
//! `keeper/contended` (8 caller tasks on a 2-worker runtime; time per batch of 8 x 64
//! calls).

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng::keeper::Keeper;
use throng_benches::cases::keeper::{keeper_inc, peer_inc, spawn_peer, CAPACITY};
use tokio::runtime::{Builder, Runtime};

const CALLERS: usize = 8;
const PER_CALLER: u64 = 64;

fn uncontended(c: &mut Criterion) {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let _enter = rt.enter();
    let keeper = Keeper::spawn(0u64, NonZeroUsize::new(CAPACITY).unwrap()).unwrap();
    let peer = spawn_peer();
    let tokio_mutex = Arc::new(tokio::sync::Mutex::new(0u64));
    let std_mutex = Arc::new(std::sync::Mutex::new(0u64));

    let mut g = c.benchmark_group("keeper/uncontended");
    g.throughput(Throughput::Elements(1));
    // `iter_custom`: all `iters` round trips inside one `block_on`, timed from inside.
    g.bench_function("keeper", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(keeper_inc(&keeper).await);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("mpsc-oneshot", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(peer_inc(&peer).await);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("tokio-mutex", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut n = tokio_mutex.lock().await;
                    *n += 1;
                    black_box(*n);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("std-mutex", |b| {
        b.iter(|| {
            let mut n = std_mutex.lock().unwrap();
            *n += 1;
            *n
        })
    });
    g.finish();
    rt.block_on(keeper.stop()).unwrap();
}

fn run_contended<F, Fut>(rt: &Runtime, call: F)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = u64> + Send,
{
    rt.block_on(async {
        let tasks: Vec<_> = (0..CALLERS)
            .map(|_| {
                let call = call.clone();
                tokio::spawn(async move {
                    for _ in 0..PER_CALLER {
                        black_box(call().await);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

fn contended(c: &mut Criterion) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let keeper = Keeper::spawn(0u64, NonZeroUsize::new(CAPACITY).unwrap()).unwrap();
    let peer = spawn_peer();
    let tokio_mutex = Arc::new(tokio::sync::Mutex::new(0u64));
    let std_mutex = Arc::new(std::sync::Mutex::new(0u64));

    let mut g = c.benchmark_group("keeper/contended");
    g.throughput(Throughput::Elements(CALLERS as u64 * PER_CALLER));
    g.bench_function("keeper", |b| {
        b.iter(|| {
            let keeper = keeper.clone();
            run_contended(&rt, move || {
                let keeper = keeper.clone();
                async move { keeper_inc(&keeper).await }
            })
        })
    });
    g.bench_function("mpsc-oneshot", |b| {
        b.iter(|| {
            let peer = peer.clone();
            run_contended(&rt, move || {
                let peer = peer.clone();
                async move { peer_inc(&peer).await }
            })
        })
    });
    g.bench_function("tokio-mutex", |b| {
        b.iter(|| {
            let m = tokio_mutex.clone();
            run_contended(&rt, move || {
                let m = m.clone();
                async move {
                    let mut n = m.lock().await;
                    *n += 1;
                    *n
                }
            })
        })
    });
    g.bench_function("std-mutex", |b| {
        b.iter(|| {
            let m = std_mutex.clone();
            run_contended(&rt, move || {
                let m = m.clone();
                async move {
                    let mut n = m.lock().unwrap();
                    *n += 1;
                    *n
                }
            })
        })
    });
    g.finish();
    rt.block_on(keeper.stop()).unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = uncontended, contended
}
criterion_main!(benches);
