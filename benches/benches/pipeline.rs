//! Per-item cost of a three-stage pipeline of trivial stages (2, 2 and 1 workers, queues
//! of 64), against the same shape hand-wired with tokio `mpsc` channels and spawned tasks
//! sharing each receiver behind a `tokio::sync::Mutex`. Group `pipeline/3-stages`: time
//! per item for a run of 10 000 items, unordered and ordered.

use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng::pipeline::Pipeline;
use tokio::runtime::Builder;
use tokio::sync::{mpsc, Mutex};

const ITEMS: u64 = 10_000;
const CAP: usize = 64;

async fn throng_run(ordered: bool) -> u64 {
    let b = Pipeline::builder::<u64, ()>(CAP)
        .stage("a", 2, |n: u64, _| async move { Ok(n + 1) })
        .stage("b", 2, |n: u64, _| async move { Ok(n * 2) })
        .stage("c", 1, |n: u64, _| async move { Ok(n ^ 1) });
    let b = if ordered { b.ordered() } else { b };
    let (input, mut output, handle) = b.spawn().unwrap();
    tokio::spawn(async move {
        for n in 0..ITEMS {
            input.send(n).await.unwrap();
        }
    });
    let mut sum = 0u64;
    while let Some(v) = output.recv().await {
        sum = sum.wrapping_add(v);
    }
    handle.join().await.unwrap();
    sum
}

fn stage(workers: usize, rx: mpsc::Receiver<u64>, f: fn(u64) -> u64) -> mpsc::Receiver<u64> {
    let (tx, next) = mpsc::channel(CAP);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..workers {
        let rx = rx.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let item = rx.lock().await.recv().await;
                let Some(n) = item else { break };
                if tx.send(f(n)).await.is_err() {
                    break;
                }
            }
        });
    }
    next
}

async fn hand_wired() -> u64 {
    let (tx, rx) = mpsc::channel(CAP);
    let rx = stage(2, rx, |n| n + 1);
    let rx = stage(2, rx, |n| n * 2);
    let mut rx = stage(1, rx, |n| n ^ 1);
    tokio::spawn(async move {
        for n in 0..ITEMS {
            tx.send(n).await.unwrap();
        }
    });
    let mut sum = 0u64;
    while let Some(v) = rx.recv().await {
        sum = sum.wrapping_add(v);
    }
    sum
}

fn three_stages(c: &mut Criterion) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("pipeline/3-stages");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.bench_function("pipeline", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(throng_run(false));
            }
            start.elapsed()
        })
    });
    g.bench_function("pipeline-ordered", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(throng_run(true));
            }
            start.elapsed()
        })
    });
    g.bench_function("mpsc-hand-wired", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(hand_wired());
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, three_stages);
criterion_main!(benches);
