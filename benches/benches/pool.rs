//! Worker pool overhead with trivial jobs, three ways in one group so the numbers are
//! same-run ratios (the sides are described in `throng_benches::cases::pool`):
//!
//! - `pool`: `throng::pool::Pool::submit` + await the `JobHandle`;
//! - `spawn+semaphore`: `tokio::spawn` per job under a `Semaphore`, await the `JoinHandle`;
//! - `mpsc-workers`: a bounded `mpsc` of `(job, oneshot)` drained by worker tasks.
//!
//! Groups: `pool/throughput` (a batch of 1000 submissions, then await all handles; time
//! per job) and `pool/latency` (submit one job and await it; time per round trip). Both on
//! a 2-worker multi-thread runtime.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng_benches::cases::pool::{
    mpsc_submit, mpsc_workers, spawn_semaphore, throng_pool, CAPACITY, WORKERS,
};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;

fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn group(c: &mut Criterion, name: &str, batch: u64) {
    let rt = runtime();
    let _enter = rt.enter();
    let pool = throng_pool();
    let sem = Arc::new(Semaphore::new(WORKERS + CAPACITY));
    let tx = mpsc_workers();

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(batch));
    g.bench_function("pool", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut handles = Vec::with_capacity(batch as usize);
                    for n in 0..batch {
                        handles.push(pool.submit(n).await.unwrap());
                    }
                    for h in handles {
                        black_box(h.await.unwrap());
                    }
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("spawn+semaphore", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut handles = Vec::with_capacity(batch as usize);
                    for n in 0..batch {
                        handles.push(spawn_semaphore(&sem, n).await);
                    }
                    for h in handles {
                        black_box(h.await.unwrap());
                    }
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("mpsc-workers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut handles = Vec::with_capacity(batch as usize);
                    for n in 0..batch {
                        handles.push(mpsc_submit(&tx, n).await);
                    }
                    for h in handles {
                        black_box(h.await.unwrap());
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    rt.block_on(pool.shutdown(Duration::from_secs(5)));
}

fn throughput(c: &mut Criterion) {
    group(c, "pool/throughput", 1000);
}

fn latency(c: &mut Criterion) {
    group(c, "pool/latency", 1);
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
