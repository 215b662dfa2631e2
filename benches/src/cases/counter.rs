//! Scoreboard cases for `throng::counter`.
//!
//! `counter.contended`: two threads increment one counter as fast as they can, for
//! `throng::counter::Counter` and, in the same run, a shared `AtomicU64` (`atomic-u64`)
//! and a `Mutex<u64>` (`mutex-u64`). Unit: increments per second (all threads).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use throng::counter::Counter;

use crate::report::{best_of, Case, CaseResult};

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

const BATCH: u64 = 10_000;
const THREADS: usize = 2;
const DUR: Duration = Duration::from_millis(500);

fn contended() -> CaseResult {
    let throng = best_of(3, || {
        let c = Counter::new();
        let r = parallel_rate(THREADS, DUR, |_| {
            for _ in 0..BATCH {
                c.inc();
            }
            BATCH
        });
        black_box(c.sum());
        r
    });
    let atomic = best_of(3, || {
        let c = AtomicU64::new(0);
        let r = parallel_rate(THREADS, DUR, |_| {
            for _ in 0..BATCH {
                c.fetch_add(1, Ordering::Relaxed);
            }
            BATCH
        });
        black_box(c.load(Ordering::Relaxed));
        r
    });
    let mutex = best_of(3, || {
        let c = Mutex::new(0u64);
        let r = parallel_rate(THREADS, DUR, |_| {
            for _ in 0..BATCH {
                *c.lock().unwrap() += 1;
            }
            BATCH
        });
        black_box(*c.lock().unwrap());
        r
    });
    CaseResult {
        name: "counter.contended".into(),
        unit: "ops/s",
        throng,
        peers: vec![("atomic-u64".into(), atomic), ("mutex-u64".into(), mutex)],
    }
}
