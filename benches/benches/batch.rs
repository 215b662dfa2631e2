//! Batcher throughput against one call per item, with a downstream whose every call costs
//! a fixed 50 µs and serves one call at a time (see `throng_benches::cases::batch`).
//! Group `batch/items`: time per item for 1024 callers, at batch sizes 1, 16 and 256, and
//! for one call per item.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng_benches::cases::batch::{batcher, Downstream, CALLERS};
use tokio::runtime::Builder;

fn items(c: &mut Criterion) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let mut g = c.benchmark_group("batch/items");
    g.throughput(Throughput::Elements(CALLERS as u64));
    g.sample_size(10);
    for size in [1usize, 16, 256] {
        let downstream = Downstream::default();
        let b = batcher(&downstream, size);
        g.bench_function(format!("batcher-{size}"), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut tasks = Vec::with_capacity(CALLERS);
                        for n in 0..CALLERS as u64 {
                            let b = b.clone();
                            tasks.push(tokio::spawn(async move {
                                b.submit(n).await.unwrap().await.unwrap()
                            }));
                        }
                        for t in tasks {
                            t.await.unwrap();
                        }
                    }
                    start.elapsed()
                })
            })
        });
        rt.block_on(b.shutdown(Duration::from_secs(5)));
    }
    let downstream = Downstream::default();
    g.bench_function("call-per-item", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut tasks = Vec::with_capacity(CALLERS);
                    for n in 0..CALLERS as u64 {
                        let d = downstream.clone();
                        tasks.push(tokio::spawn(async move { d.call(&[n]).await }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, items);
criterion_main!(benches);
