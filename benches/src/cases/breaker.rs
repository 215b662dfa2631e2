//! Scoreboard cases for `throng::breaker`: the per-call cost of going through a closed
//! [`Breaker`] against the bare call it wraps.
//!
//! - `breaker.closed`: `breaker.call(|| work(i))` (the async wrapper, default settings:
//!   trip on 5 consecutive failures) vs `work(i)`, both polled once with
//!   `now_or_never` on one thread; `work` is an already-ready `async` block returning
//!   `Ok(black_box(i))`.
//! - `breaker.closed.permit`: `try_acquire()` + `success()` around a synchronous
//!   `black_box(i)` vs the bare `black_box(i)`.
//! - `breaker.closed.window`: as `.permit`, with a 100-call count window (failure-rate
//!   policy) as well, so each verdict also claims a ring slot.
//! - `breaker.closed.contended`: as `.permit`, from 2 threads sharing one breaker.
//!
//! The overhead per call is `1/throng - 1/peer` (printed by the criterion bench as a
//! difference of times).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use throng::breaker::{Breaker, Window};

use crate::report::{best_of, rate, Case, CaseResult};

/// Calls per measured batch.
pub const BATCH: u64 = 10_000;
const DUR: Duration = Duration::from_millis(300);
const ROUNDS: usize = 3;

/// The wrapped work: an already-ready future.
#[inline(never)]
pub async fn work(i: u64) -> Result<u64, ()> {
    Ok(black_box(i))
}

/// One batch of bare async calls; returns the batch size.
pub fn bare_async_batch() -> u64 {
    for i in 0..BATCH {
        black_box(work(i).now_or_never());
    }
    BATCH
}

/// One batch of async calls through `b`.
pub fn breaker_async_batch(b: &Breaker) -> u64 {
    for i in 0..BATCH {
        black_box(b.call(|| work(i)).now_or_never());
    }
    BATCH
}

/// One batch of bare synchronous calls.
pub fn bare_batch() -> u64 {
    for i in 0..BATCH {
        black_box(black_box(i));
    }
    BATCH
}

/// One batch of synchronous calls through `b`'s permit API.
pub fn permit_batch(b: &Breaker) -> u64 {
    for i in 0..BATCH {
        let p = b.try_acquire().expect("closed");
        black_box(black_box(i));
        p.success();
    }
    BATCH
}

/// The default breaker (5 consecutive failures).
pub fn default_breaker() -> Breaker {
    Breaker::builder().build().expect("valid")
}

/// A breaker that also judges the failure rate over the last 100 calls.
pub fn window_breaker() -> Breaker {
    Breaker::builder()
        .failure_rate(0.5, Window::count(100))
        .build()
        .expect("valid")
}

/// Calls per second from `threads` threads running `batch` for about `DUR`.
fn threads_rate(threads: usize, batch: &(dyn Fn() -> u64 + Sync)) -> f64 {
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += batch();
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(DUR);
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

fn pair(name: &str, mut throng: impl FnMut() -> f64, mut peer: impl FnMut() -> f64) -> CaseResult {
    // Interleave so both sides see the same machine noise.
    let (mut t, mut p) = (0f64, 0f64);
    for _ in 0..2 {
        t = t.max(best_of(ROUNDS, &mut throng));
        p = p.max(best_of(ROUNDS, &mut peer));
    }
    CaseResult {
        name: name.to_owned(),
        unit: "calls/s",
        throng: t,
        peers: vec![("bare".to_owned(), p)],
    }
}

fn closed() -> CaseResult {
    let b = default_breaker();
    pair(
        "breaker.closed",
        || rate(DUR, || breaker_async_batch(&b)),
        || rate(DUR, bare_async_batch),
    )
}

fn closed_permit() -> CaseResult {
    let b = default_breaker();
    pair(
        "breaker.closed.permit",
        || rate(DUR, || permit_batch(&b)),
        || rate(DUR, bare_batch),
    )
}

fn closed_window() -> CaseResult {
    let b = window_breaker();
    pair(
        "breaker.closed.window",
        || rate(DUR, || permit_batch(&b)),
        || rate(DUR, bare_batch),
    )
}

fn closed_contended() -> CaseResult {
    let b = default_breaker();
    pair(
        "breaker.closed.contended",
        || threads_rate(2, &|| permit_batch(&b)),
        || threads_rate(2, &bare_batch),
    )
}

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "breaker.closed",
            run: closed,
        },
        Case {
            name: "breaker.closed.permit",
            run: closed_permit,
        },
        Case {
            name: "breaker.closed.window",
            run: closed_window,
        },
        Case {
            name: "breaker.closed.contended",
            run: closed_contended,
        },
    ]
}
