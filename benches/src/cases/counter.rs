//! Scoreboard cases for `throng::counter`.
//!
//! `counter.contended`: two threads increment one counter as fast as they can, for
//! `throng::counter::Counter` and, in the same run, a shared `AtomicU64` (`atomic-u64`),
//! a `Mutex<u64>` (`mutex-u64`), and the ceiling: each thread adding to its own
//! cache-padded atomic that it already holds (`padded-per-thread`, what a sharded
//! counter costs at best: no shard lookup at all). Unit: increments per second (all
//! threads).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};

use crossbeam_utils::CachePadded;
use std::time::{Duration, Instant};

use throng::counter::Counter;

use crate::report::{Case, CaseResult};

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![Case {
        name: "counter.contended",
        run: contended,
    }]
}

/// Runs `op` on `threads` threads for about `dur` and returns total operations per
/// second. `op(thread_index)` performs a batch and returns how many operations it did.
pub fn parallel_rate(threads: usize, dur: Duration, op: impl Fn(usize) -> u64 + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let start_line = Barrier::new(threads + 1);
    let total = AtomicU64::new(0);
    let mut elapsed = Duration::ZERO;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (stop, start_line, total, op) = (&stop, &start_line, &total, &op);
            s.spawn(move || {
                // Warm up (thread-local shard index, caches) before the clock starts.
                op(t);
                start_line.wait();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += op(t);
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
        start_line.wait();
        let start = Instant::now();
        std::thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
        elapsed = start.elapsed();
    });
    total.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

/// Measures each contestant once per round, `rounds` times, interleaved so that load
/// from other processes hits all of them alike, and keeps each one's best rate.
pub fn interleaved_best(rounds: usize, contestants: &mut [&mut dyn FnMut() -> f64]) -> Vec<f64> {
    let mut best = vec![0.0f64; contestants.len()];
    for _ in 0..rounds {
        for (b, measure) in best.iter_mut().zip(contestants.iter_mut()) {
            *b = b.max(measure());
        }
    }
    best
}

const BATCH: u64 = 10_000;
const THREADS: usize = 2;
const DUR: Duration = Duration::from_millis(300);
const ROUNDS: usize = 5;

fn contended() -> CaseResult {
    let c = Counter::new();
    let atomic = AtomicU64::new(0);
    let mutex = Mutex::new(0u64);
    let padded: [CachePadded<AtomicU64>; THREADS] = Default::default();
    let best = interleaved_best(
        ROUNDS,
        &mut [
            &mut || {
                parallel_rate(THREADS, DUR, |_| {
                    for _ in 0..BATCH {
                        c.inc();
                    }
                    BATCH
                })
            },
            &mut || {
                parallel_rate(THREADS, DUR, |_| {
                    for _ in 0..BATCH {
                        atomic.fetch_add(1, Ordering::Relaxed);
                    }
                    BATCH
                })
            },
            &mut || {
                parallel_rate(THREADS, DUR, |_| {
                    for _ in 0..BATCH {
                        *mutex.lock().unwrap() += 1;
                    }
                    BATCH
                })
            },
            &mut || {
                parallel_rate(THREADS, DUR, |t| {
                    let mine = &padded[t];
                    for _ in 0..BATCH {
                        mine.fetch_add(1, Ordering::Relaxed);
                    }
                    BATCH
                })
            },
        ],
    );
    black_box((c.sum(), atomic.load(Ordering::Relaxed)));
    CaseResult {
        name: "counter.contended".into(),
        unit: "ops/s",
        throng: best[0],
        peers: vec![
            ("atomic-u64".into(), best[1]),
            ("mutex-u64".into(), best[2]),
            ("padded-per-thread".into(), best[3]),
        ],
    }
}
