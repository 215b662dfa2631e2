//! Per-stage counters: what went in, what came out, how long the workers were busy.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crossbeam_utils::CachePadded;

/// A stage's counters: one cache line per worker, written only by that worker (a load
/// and a store, no read-modify-write shared between cores), summed when read.
#[derive(Debug)]
pub(crate) struct StageCounters {
    workers: Box<[CachePadded<WorkerCounters>]>,
}

/// One worker's counters.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    taken: AtomicU64,
    emitted: AtomicU64,
    busy_ns: AtomicU64,
}

impl StageCounters {
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            workers: (0..workers.max(1))
                .map(|_| CachePadded::default())
                .collect(),
        }
    }

    /// Worker `i`'s counters (`i` below the worker count the stage was built with).
    pub(crate) fn worker(&self, i: usize) -> &WorkerCounters {
        &self.workers[i % self.workers.len()]
    }

    fn sum(&self, field: impl Fn(&WorkerCounters) -> &AtomicU64) -> u64 {
        self.workers
            .iter()
            .map(|w| field(w).load(Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

impl WorkerCounters {
    /// Only the owning worker writes, so a plain load and store cannot lose a count.
    fn bump(counter: &AtomicU64, by: u64) {
        counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
    }

    pub(crate) fn took(&self) {
        Self::bump(&self.taken, 1);
    }

    pub(crate) fn emitted(&self) {
        Self::bump(&self.emitted, 1);
    }

    pub(crate) fn add_busy(&self, d: Duration) {
        Self::bump(
            &self.busy_ns,
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        );
    }
}

/// One stage's counters, from [`PipelineHandle::metrics`](super::PipelineHandle::metrics).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageMetrics {
    /// The stage's name.
    pub name: &'static str,
    /// Its worker count.
    pub workers: usize,
    /// Items its workers took from its input queue.
    pub taken: u64,
    /// Items it passed on (to the next queue, or the output).
    pub emitted: u64,
    /// Items waiting in its input queue now.
    pub queued: u64,
    /// Time its workers spent inside the stage function, summed over workers.
    pub busy: Duration,
}

impl StageMetrics {
    /// Busy time per worker over `elapsed`: 1.0 means every worker was busy all the time.
    /// The stage with the highest utilization (and a full input queue) is the bottleneck.
    pub fn utilization(&self, elapsed: Duration) -> f64 {
        if elapsed.is_zero() || self.workers == 0 {
            return 0.0;
        }
        self.busy.as_secs_f64() / (elapsed.as_secs_f64() * self.workers as f64)
    }

    pub(crate) fn read(
        name: &'static str,
        workers: usize,
        c: &StageCounters,
        offered: u64,
    ) -> Self {
        let taken = c.sum(|w| &w.taken);
        Self {
            name,
            workers,
            taken,
            emitted: c.sum(|w| &w.emitted),
            queued: offered.saturating_sub(taken),
            busy: Duration::from_nanos(c.sum(|w| &w.busy_ns)),
        }
    }
}

impl fmt::Debug for StageMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageMetrics")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("taken", &self.taken)
            .field("emitted", &self.emitted)
            .field("queued", &self.queued)
            .field("busy", &self.busy)
            .finish()
    }
}
