//! Outcome counters, sharded per thread so the closed path never contends on them, and
//! the [`BreakerMetrics`] snapshot.

use std::time::Duration;

use crate::sync::atomic::{AtomicU64, Ordering::Relaxed};
use crate::sync::thread_shard;

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

#[derive(Debug, Default)]
struct Shard {
    successes: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
    ignored: AtomicU64,
    late: AtomicU64,
    rejected: AtomicU64,
}

const SHARDS: usize = 8;

#[derive(Debug)]
pub(crate) struct Stats {
    shards: Box<[Padded<Shard>]>,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Padded(Shard::default())).collect(),
        }
    }

    #[inline]
    pub(crate) fn count(&self, what: Counted) {
        let s = &self.shards[thread_shard(SHARDS)].0;
        let c = match what {
            Counted::Success => &s.successes,
            Counted::Failure => &s.failures,
            Counted::Slow => {
                s.slow.fetch_add(1, Relaxed);
                &s.failures
            }
            Counted::Ignored => &s.ignored,
            Counted::Late => &s.late,
            Counted::Rejected => &s.rejected,
        };
        c.fetch_add(1, Relaxed);
    }

    fn sum(&self, f: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards.iter().map(|s| f(&s.0).load(Relaxed)).sum()
    }

    pub(crate) fn fill(&self, m: &mut BreakerMetrics) {
        m.successes = self.sum(|s| &s.successes);
        m.failures = self.sum(|s| &s.failures);
        m.slow = self.sum(|s| &s.slow);
        m.ignored = self.sum(|s| &s.ignored);
        m.late = self.sum(|s| &s.late);
        m.rejected = self.sum(|s| &s.rejected);
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
