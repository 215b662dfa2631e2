//! The sliding windows of the failure-rate policy, lock-free.
//!
//! - [`CountWindow`]: the last `n` outcomes in a ring of slots; a writer claims a slot
//!   with one `fetch_add` on the ring index, swaps its outcome in, and adjusts the running
//!   call and failure totals by what it replaced.
//! - [`TimeWindow`]: a ring of buckets, each one atomic word packing the bucket's period
//!   number with its call and failure counts, so rolling a bucket over to a new period and
//!   counting into it is a single compare-and-swap (no lost counts at the roll-over).
//!
//! Both are approximate only in the way any concurrent counter is: a reader racing
//! writers may see some of their updates and not others.

use std::time::Duration;

use crate::clock::nanos;
use crate::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::stats::Padded;

/// What the sliding window counts over (see
/// [`BreakerBuilder::failure_rate`](super::BreakerBuilder::failure_rate)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last `n` calls (resilience4j's `COUNT_BASED`).
    Count(u32),
    /// The calls that finished in the last `span`, counted in `buckets` equal buckets
    /// that expire one at a time (resilience4j's `TIME_BASED` uses one-second buckets,
    /// gobreaker's `BucketPeriod` is the bucket width).
    Time {
        /// How far back the window reaches.
        span: Duration,
        /// How many buckets it is counted in: more buckets expire old calls more
        /// smoothly, and cost one more load each when the rate is judged.
        buckets: u32,
    },
}

impl Window {
    /// The last `n` calls.
    pub fn count(n: u32) -> Self {
        Self::Count(n)
    }

    /// The calls of the last `span`, in 10 buckets.
    pub fn time(span: Duration) -> Self {
        Self::Time { span, buckets: 10 }
    }
}

pub(crate) const MAX_COUNT: u32 = 1 << 20;
pub(crate) const MAX_BUCKETS: u32 = 1024;
pub(crate) const MIN_BUCKET: Duration = Duration::from_micros(1);

/// A live window of either kind.
#[derive(Debug)]
pub(crate) enum Tally {
    // Boxed: the count window pads its hot atomics to their own cache lines.
    Count(Box<CountWindow>),
    Time(TimeWindow),
}

impl Tally {
    pub(crate) fn new(window: Window) -> Self {
        match window {
            Window::Count(n) => Self::Count(Box::new(CountWindow::new(n as usize))),
            Window::Time { span, buckets } => Self::Time(TimeWindow::new(span, buckets)),
        }
    }

    /// Counts one outcome finished at `now` (nanoseconds).
    #[inline]
    pub(crate) fn record(&self, failed: bool, now: u64) {
        match self {
            Self::Count(w) => w.record(failed),
            Self::Time(w) => w.record(failed, now),
        }
    }

    /// `(calls, failures)` in the window as of `now`.
    pub(crate) fn read(&self, now: u64) -> (u64, u64) {
        match self {
            Self::Count(w) => w.read(),
            Self::Time(w) => w.read(now),
        }
    }

    /// Forgets every outcome (on entering the closed state).
    pub(crate) fn clear(&self) {
        match self {
            Self::Count(w) => w.clear(),
            Self::Time(w) => w.clear(),
        }
    }

    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, Self::Time(_))
    }
}

const EMPTY: u64 = 0;
const SUCCESS: u64 = 1;
const FAILURE: u64 = 2;

/// The last `n` outcomes.
#[derive(Debug)]
pub(crate) struct CountWindow {
    next: Padded<AtomicU64>,
    calls: Padded<AtomicU64>,
    failures: AtomicU64,
    slots: Box<[AtomicU64]>,
}

impl CountWindow {
    fn new(n: usize) -> Self {
        Self {
            next: Padded(AtomicU64::new(0)),
            calls: Padded(AtomicU64::new(0)),
            failures: AtomicU64::new(0),
            slots: (0..n).map(|_| AtomicU64::new(EMPTY)).collect(),
        }
    }

    #[inline]
    fn record(&self, failed: bool) {
        let i = self.next.0.fetch_add(1, Relaxed) % self.slots.len() as u64;
        let new = if failed { FAILURE } else { SUCCESS };
        let old = self.slots[i as usize].swap(new, Relaxed);
        if old == EMPTY {
            self.calls.0.fetch_add(1, Relaxed);
        }
        match (old == FAILURE, failed) {
            (false, true) => {
                self.failures.fetch_add(1, Relaxed);
            }
            (true, false) => {
                self.failures.fetch_sub(1, Relaxed);
            }
            _ => {}
        }
    }

    fn read(&self) -> (u64, u64) {
        let calls = self.calls.0.load(Relaxed);
        // A racing writer may have counted a failure before its call; never report more
        // failures than calls (or a wrapped-around transient).
        let failures = self.failures.load(Relaxed).min(calls);
        (calls, failures)
    }

    fn clear(&self) {
        for s in self.slots.iter() {
            s.store(EMPTY, Relaxed);
        }
        self.calls.0.store(0, Relaxed);
        self.failures.store(0, Relaxed);
        self.next.0.store(0, Relaxed);
    }
}

// Bucket word layout: period (low 24 bits of the bucket's period number) | calls (20 bits)
// | failures (20 bits). A bucket counts at most 2^20 - 1 calls per period; later calls in
// that period are not counted (the bucket keeps the rate of its first million calls).
const PERIOD_BITS: u32 = 24;
const COUNT_BITS: u32 = 20;
const PERIOD_MASK: u64 = (1 << PERIOD_BITS) - 1;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;

fn pack(period: u64, calls: u64, failures: u64) -> u64 {
    ((period & PERIOD_MASK) << (2 * COUNT_BITS)) | (calls << COUNT_BITS) | failures
}

fn unpack(word: u64) -> (u64, u64, u64) {
    (
        word >> (2 * COUNT_BITS),
        (word >> COUNT_BITS) & COUNT_MAX,
        word & COUNT_MAX,
    )
}

/// The outcomes of the last `span`, in buckets.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    width: u64,
    buckets: Box<[Padded<AtomicU64>]>,
}

impl TimeWindow {
    fn new(span: Duration, buckets: u32) -> Self {
        let width = (nanos(span) / u64::from(buckets)).max(1);
        Self {
            width,
            buckets: (0..buckets)
                .map(|_| Padded(AtomicU64::new(EMPTY_BUCKET)))
                .collect(),
        }
    }

    fn slot(&self, period: u64) -> &AtomicU64 {
        &self.buckets[(period % self.buckets.len() as u64) as usize].0
    }

    #[inline]
    fn record(&self, failed: bool, now: u64) {
        let period = now / self.width;
        let bucket = self.slot(period);
        let mut cur = bucket.load(Relaxed);
        loop {
            let (p, calls, failures) = unpack(cur);
            let new = if cur != EMPTY_BUCKET && p == period & PERIOD_MASK {
                if calls == COUNT_MAX {
                    return;
                }
                pack(period, calls + 1, failures + u64::from(failed))
            } else {
                // The bucket holds an older period (or nothing): roll it over.
                pack(period, 1, u64::from(failed))
            };
            match bucket.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    fn read(&self, now: u64) -> (u64, u64) {
        let current = now / self.width;
        let (mut calls, mut failures) = (0, 0);
        for back in 0..self.buckets.len() as u64 {
            let Some(period) = current.checked_sub(back) else {
                break;
            };
            let word = self.slot(period).load(Relaxed);
            let (p, c, f) = unpack(word);
            if word != EMPTY_BUCKET && p == period & PERIOD_MASK {
                calls += c;
                failures += f;
            }
        }
        (calls, failures)
    }

    fn clear(&self) {
        for b in self.buckets.iter() {
            b.0.store(EMPTY_BUCKET, Relaxed);
        }
    }
}

/// A bucket that holds no period: all ones in the period bits with zero counts can only
/// come from here (a real bucket has at least one call).
const EMPTY_BUCKET: u64 = PERIOD_MASK << (2 * COUNT_BITS);
