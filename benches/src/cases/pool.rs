//! Scoreboard cases for `throng::pool`: trivial jobs with a per-job result handle, against
//! the two ways people hand-roll it.
//!
//! - `spawn+semaphore`: `tokio::spawn` per job, admission bounded by a `Semaphore` with as
//!   many permits as the pool admits (workers + queue capacity), `JoinHandle` as the
//!   per-job handle.
//! - `mpsc-workers`: a bounded tokio `mpsc` of `(job, oneshot::Sender)` drained by the same
//!   number of worker tasks sharing the receiver behind a `tokio::sync::Mutex`.
//!
//! `pool.trivial` submits a batch of jobs (each doubles a number) and then awaits every
//! handle: throughput. `pool.latency` submits one job and awaits it before the next:
//! submit-to-result round trips per second. Both on a 2-worker multi-thread runtime.

use std::sync::Arc;
use std::time::Duration;

use throng::pool::Pool;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, oneshot, Mutex, Semaphore};

use crate::report::{best_of, rate, Case, CaseResult};

/// Worker tasks on every side.
pub const WORKERS: usize = 2;
/// Queue capacity on every side.
pub const CAPACITY: usize = 1024;
const BATCH: u64 = 10_000;
const DUR: Duration = Duration::from_millis(500);
const ROUNDS: usize = 3;

/// The job: trivial on purpose, so the cost measured is the pool's.
fn job(n: u64) -> u64 {
    std::hint::black_box(n.wrapping_mul(2))
}

/// Throng's pool for the benches.
pub fn throng_pool() -> Pool<u64, u64> {
    Pool::builder()
        .workers(WORKERS)
        .queue_capacity(CAPACITY)
        .spawn(|n: u64, _| async move { job(n) })
        .expect("valid pool")
}

/// `tokio::spawn` per job, bounded by a semaphore.
pub async fn spawn_semaphore(sem: &Arc<Semaphore>, n: u64) -> tokio::task::JoinHandle<u64> {
    let permit = sem.clone().acquire_owned().await.expect("open");
    tokio::spawn(async move {
        let _permit = permit;
        job(n)
    })
}

/// A job and its reply channel, for the hand-rolled worker loop.
pub type Msg = (u64, oneshot::Sender<u64>);

/// The hand-rolled worker loop: `WORKERS` tasks share one bounded receiver.
pub fn mpsc_workers() -> mpsc::Sender<Msg> {
    let (tx, rx) = mpsc::channel::<Msg>(CAPACITY);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..WORKERS {
        let rx = rx.clone();
        tokio::spawn(async move {
            loop {
                let msg = rx.lock().await.recv().await;
                match msg {
                    Some((n, reply)) => {
                        let _ = reply.send(job(n));
                    }
                    None => break,
                }
            }
        });
    }
    tx
}

/// One hand-rolled submission.
pub async fn mpsc_submit(tx: &mpsc::Sender<Msg>, n: u64) -> oneshot::Receiver<u64> {
    let (reply, rx) = oneshot::channel();
    tx.send((n, reply)).await.expect("workers alive");
    rx
}

fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Clone, Copy)]
enum Side {
    Pool,
    Spawn,
    Mpsc,
}

fn measure(rt: &Runtime, side: Side, batch: u64) -> f64 {
    let _guard = rt.enter();
    let pool = throng_pool();
    let sem = Arc::new(Semaphore::new(WORKERS + CAPACITY));
    let tx = mpsc_workers();
    let value = best_of(ROUNDS, || {
        rate(DUR, || {
            rt.block_on(async {
                let mut sum = 0u64;
                match side {
                    Side::Pool => {
                        let mut handles = Vec::with_capacity(batch as usize);
                        for n in 0..batch {
                            handles.push(pool.submit(n).await.expect("open"));
                        }
                        for h in handles {
                            sum += h.await.expect("ran");
                        }
                    }
                    Side::Spawn => {
                        let mut handles = Vec::with_capacity(batch as usize);
                        for n in 0..batch {
                            handles.push(spawn_semaphore(&sem, n).await);
                        }
                        for h in handles {
                            sum += h.await.expect("ran");
                        }
                    }
                    Side::Mpsc => {
                        let mut handles = Vec::with_capacity(batch as usize);
                        for n in 0..batch {
                            handles.push(mpsc_submit(&tx, n).await);
                        }
                        for h in handles {
                            sum += h.await.expect("ran");
                        }
                    }
                }
                std::hint::black_box(sum);
            });
            batch
        })
    });
    rt.block_on(pool.shutdown(Duration::from_secs(5)));
    value
}

fn case(name: &'static str, batch: u64) -> CaseResult {
    let rt = runtime();
    let (mut throng, mut spawn, mut mpsc) = (0f64, 0f64, 0f64);
    // Interleave so every side sees the same machine noise.
    for _ in 0..2 {
        throng = throng.max(measure(&rt, Side::Pool, batch));
        spawn = spawn.max(measure(&rt, Side::Spawn, batch));
        mpsc = mpsc.max(measure(&rt, Side::Mpsc, batch));
    }
    CaseResult {
        name: name.to_owned(),
        unit: "jobs/s",
        throng,
        peers: vec![
            ("spawn+semaphore".to_owned(), spawn),
            ("mpsc-workers".to_owned(), mpsc),
        ],
    }
}

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "pool.trivial",
            run: || case("pool.trivial", BATCH),
        },
        Case {
            name: "pool.latency",
            run: || case("pool.latency", 1),
        },
    ]
}
