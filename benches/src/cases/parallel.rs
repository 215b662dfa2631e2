//! Scoreboard cases for `throng::parallel`: an ordered map of a batch of items with a
//! concurrency limit, on a 2-worker multi-thread runtime, three ways:
//!
//! - `throng`: [`ParMap::try_map`] (two worker tasks per runtime thread sharing `limit` item
//!   slots, pulling items from the input);
//! - `buffered`: `futures::stream::iter(items).map(f).buffered(limit).collect()`, all items
//!   polled inside the calling task;
//! - `joinset+semaphore`: one `JoinSet::spawn` per item gated by a `Semaphore` of `limit`
//!   permits, results put back in order by index.
//!
//! Items: `parallel.io` awaits a 1 ms timer (`LIMIT_IO` in flight; the timer's 1 ms tick
//! makes each wave take about 2 ms); `parallel.cpu` burns about 20 µs of CPU and never awaits
//! (`LIMIT_CPU` in flight). The batch runs in `block_on` on the main thread, as a
//! `#[tokio::main]` body would.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use throng::parallel::ParMap;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::report::{best_of, rate, Case, CaseResult};

/// Items in flight for the I/O-like case.
pub const LIMIT_IO: usize = 256;
/// Items per I/O-like batch.
pub const BATCH_IO: u64 = 16384;
/// Items in flight for the CPU case.
pub const LIMIT_CPU: usize = 8;
/// Items per CPU batch.
pub const BATCH_CPU: u64 = 400;
/// CPU time each CPU item burns.
pub const CPU_ITEM: Duration = Duration::from_micros(20);

const DUR: Duration = Duration::from_millis(300);
const ROUNDS: usize = 3;

/// The I/O-like item: waits for a 1 ms timer (the runtime's timer resolution).
pub async fn io_item(i: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    i
}

/// Spins `rounds` rounds of xorshift; the result depends on every round.
pub fn spin(seed: u64, rounds: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = black_box(x);
    }
    x
}

/// Rounds of [`spin`] that take about [`CPU_ITEM`] on this machine (measured once).
pub fn cpu_rounds() -> u64 {
    static ROUNDS: OnceLock<u64> = OnceLock::new();
    *ROUNDS.get_or_init(|| {
        let probe = 200_000;
        let best = (0..5)
            .map(|_| {
                let t = Instant::now();
                black_box(spin(7, probe));
                t.elapsed()
            })
            .min()
            .unwrap();
        (probe as f64 * CPU_ITEM.as_secs_f64() / best.as_secs_f64()).max(1.0) as u64
    })
}

/// The CPU item: burns about [`CPU_ITEM`] and never awaits.
pub async fn cpu_item(i: u64, rounds: u64) -> u64 {
    spin(i, rounds)
}

/// `throng`: [`ParMap::try_map`].
pub async fn with_throng<F, Fut>(n: u64, limit: usize, f: F) -> Vec<u64>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let f = Arc::new(f);
    ParMap::new(limit)
        .unwrap()
        .try_map(0..n, move |i| {
            let fut = f(i);
            async move { Ok::<_, Infallible>(fut.await) }
        })
        .await
        .unwrap()
}

/// `buffered`: `futures`' ordered `buffered(limit)` in the calling task.
pub async fn with_buffered<F, Fut>(n: u64, limit: usize, f: F) -> Vec<u64>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = u64>,
{
    futures::stream::iter(0..n)
        .map(f)
        .buffered(limit)
        .collect()
        .await
}

/// `joinset+semaphore`: one spawned task per item, `limit` permits, reordered by index.
pub async fn with_joinset<F, Fut>(n: u64, limit: usize, f: F) -> Vec<u64>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit));
    let mut set = JoinSet::new();
    let mut out = vec![0u64; n as usize];
    for i in 0..n {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let fut = f(i);
        set.spawn(async move {
            let v = fut.await;
            drop(permit);
            (i, v)
        });
        // Reap what has finished so the set stays at about `limit` entries.
        while let Some(done) = set.try_join_next() {
            let (i, v) = done.unwrap();
            out[i as usize] = v;
        }
    }
    while let Some(done) = set.join_next().await {
        let (i, v) = done.unwrap();
        out[i as usize] = v;
    }
    out
}

/// The runtime every case uses: 2 worker threads, as many as the build machine's cores.
pub fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Clone, Copy)]
enum Side {
    Throng,
    Buffered,
    JoinSet,
}

fn measure(rt: &Runtime, side: Side, cpu: bool) -> f64 {
    let rounds = cpu_rounds();
    let (n, limit) = if cpu {
        (BATCH_CPU, LIMIT_CPU)
    } else {
        (BATCH_IO, LIMIT_IO)
    };
    best_of(ROUNDS, || {
        rate(DUR, || {
            let out = rt.block_on(async {
                match (side, cpu) {
                    (Side::Throng, false) => with_throng(n, limit, io_item).await,
                    (Side::Throng, true) => {
                        with_throng(n, limit, move |i| cpu_item(i, rounds)).await
                    }
                    (Side::Buffered, false) => with_buffered(n, limit, io_item).await,
                    (Side::Buffered, true) => {
                        with_buffered(n, limit, |i| cpu_item(i, rounds)).await
                    }
                    (Side::JoinSet, false) => with_joinset(n, limit, io_item).await,
                    (Side::JoinSet, true) => with_joinset(n, limit, |i| cpu_item(i, rounds)).await,
                }
            });
            assert_eq!(out.len() as u64, n);
            black_box(out);
            n
        })
    })
}

fn case(name: &'static str, cpu: bool) -> CaseResult {
    let rt = runtime();
    // Interleave so every side sees the same machine noise.
    let (mut throng, mut buffered, mut joinset) = (0f64, 0f64, 0f64);
    for _ in 0..2 {
        throng = throng.max(measure(&rt, Side::Throng, cpu));
        buffered = buffered.max(measure(&rt, Side::Buffered, cpu));
        joinset = joinset.max(measure(&rt, Side::JoinSet, cpu));
    }
    CaseResult {
        name: name.to_owned(),
        unit: "items/s",
        throng,
        peers: vec![
            ("buffered".to_owned(), buffered),
            ("joinset+semaphore".to_owned(), joinset),
        ],
    }
}

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "parallel.io",
            run: || case("parallel.io", false),
        },
        Case {
            name: "parallel.cpu",
            run: || case("parallel.cpu", true),
        },
    ]
}
