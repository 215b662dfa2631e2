//! Per-stage counters: what went in, what came out, how long the workers were busy.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct StageCounters {
    pub(crate) taken: AtomicU64,
    pub(crate) emitted: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
}

impl StageCounters {
    pub(crate) fn add_busy(&self, d: Duration) {
        self.busy_ns
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
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
        let taken = c.taken.load(Relaxed);
        Self {
            name,
            workers,
            taken,
            emitted: c.emitted.load(Relaxed),
            queued: offered.saturating_sub(taken),
            busy: Duration::from_nanos(c.busy_ns.load(Relaxed)),
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
