//! Outcome counters, one set per thread so the closed path never contends on them, and
//! the [`BreakerMetrics`] snapshot.

use std::time::Duration;

use crate::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::state::State;

/// Aligns its content to its own cache line pair (no false sharing).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// What one permit's verdict became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    Success,
    Failure,
    /// A success that took too long, counted as a failure.
    Slow,
    Ignored,
    /// The breaker changed state after the permit was issued: not counted.
    Late,
    Rejected,
}

/// One thread's counters.
#[derive(Debug, Default)]
struct Shard {
    successes: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
    ignored: AtomicU64,
    late: AtomicU64,
    rejected: AtomicU64,
}

impl Shard {
    fn counter(&self, what: Counted) -> &AtomicU64 {
        match what {
            Counted::Success => &self.successes,
            Counted::Failure => &self.failures,
            Counted::Slow => &self.slow,
            Counted::Ignored => &self.ignored,
            Counted::Late => &self.late,
            Counted::Rejected => &self.rejected,
        }
    }
}

/// Only the owning thread writes a shard, so a bump is a load and a store: no locked
/// read-modify-write on the hot path (that alone was a third of a closed call's cost).
#[cfg(not(loom))]
#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Counters per thread (`thread_local::ThreadLocal`: a thread's shard is reused by the
/// next thread that gets its id, so counts survive the threads that made them).
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Stats {
    local: thread_local::ThreadLocal<Shard>,
}

#[cfg(not(loom))]
impl Stats {
    pub(crate) fn new() -> Self {
        Self {
            local: thread_local::ThreadLocal::new(),
        }
    }

    #[inline]
    pub(crate) fn count(&self, what: Counted) {
        let s = self.local.get_or_default();
        if what == Counted::Slow {
            bump(&s.failures);
        }
        bump(s.counter(what));
    }

    fn sum(&self, what: Counted) -> u64 {
        self.local
            .iter()
            .map(|s| s.counter(what).load(Relaxed))
            .sum()
    }
}

/// Under loom every model thread runs on one OS thread, so per-thread shards would be
/// shared: use a few shards with atomic adds instead.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct Stats {
    shards: Box<[Padded<Shard>]>,
}

#[cfg(loom)]
impl Stats {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..2).map(|_| Padded(Shard::default())).collect(),
        }
    }

    pub(crate) fn count(&self, what: Counted) {
        let s = &self.shards[crate::sync::thread_shard(2)].0;
        if what == Counted::Slow {
            s.failures.fetch_add(1, Relaxed);
        }
        s.counter(what).fetch_add(1, Relaxed);
    }

    fn sum(&self, what: Counted) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.counter(what).load(Relaxed))
            .sum()
    }
}

impl Stats {
    pub(crate) fn fill(&self, m: &mut BreakerMetrics) {
        m.successes = self.sum(Counted::Success);
        m.failures = self.sum(Counted::Failure);
        m.slow = self.sum(Counted::Slow);
        m.ignored = self.sum(Counted::Ignored);
        m.late = self.sum(Counted::Late);
        m.rejected = self.sum(Counted::Rejected);
    }
}

/// A snapshot of a breaker's counters, from [`Breaker::metrics`](super::Breaker::metrics).
///
/// Counts cover the breaker's whole life. Every admitted call ends up in exactly one of
/// `successes`, `failures`, `ignored` or `late` once its permit is used or dropped
/// ([`finished`](Self::finished) sums them). Read while calls run, the fields may be off
/// by the calls that moved during the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerMetrics {
    /// The state now.
    pub state: State,
    /// Calls counted as successes.
    pub successes: u64,
    /// Calls counted as failures, slow calls included.
    pub failures: u64,
    /// Of `failures`, the calls that succeeded but took at least the slow-call threshold.
    pub slow: u64,
    /// Calls excluded from the counts: classified as ignored, or dropped (cancelled)
    /// before a verdict.
    pub ignored: u64,
    /// Calls whose verdict came after the breaker had changed state since admitting them;
    /// they are not counted toward the new state.
    pub late: u64,
    /// Calls refused (open, or half-open with every probe slot taken).
    pub rejected: u64,
    /// Transitions into the open state.
    pub trips: u64,
    /// Failures in a row now (closed state).
    pub consecutive_failures: u64,
    /// Calls in the sliding window now (0 without a failure-rate policy).
    pub window_calls: u64,
    /// Failures in the sliding window now.
    pub window_failures: u64,
    /// Probes admitted and not yet finished (half-open state).
    pub probes_in_flight: u32,
    /// When open: the time left in the cool-down.
    pub open_for: Option<Duration>,
}

impl BreakerMetrics {
    pub(crate) fn new(state: State) -> Self {
        Self {
            state,
            successes: 0,
            failures: 0,
            slow: 0,
            ignored: 0,
            late: 0,
            rejected: 0,
            trips: 0,
            consecutive_failures: 0,
            window_calls: 0,
            window_failures: 0,
            probes_in_flight: 0,
            open_for: None,
        }
    }

    /// Calls whose verdict is in (`successes + failures + ignored + late`).
    pub fn finished(&self) -> u64 {
        self.successes + self.failures + self.ignored + self.late
    }
}
