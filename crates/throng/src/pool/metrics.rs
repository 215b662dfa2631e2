//! Counters: per-worker (single writer, so no contended atomics on the hot path), summed
//! into a [`PoolMetrics`] snapshot or a [`ShutdownReport`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::error::JobError;

/// One worker's counters. Only that worker writes them, so updates are plain
/// load-and-store, not read-modify-write.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    running: AtomicBool,
    started: AtomicU64,
    completed: AtomicU64,
    panicked: AtomicU64,
    timed_out: AtomicU64,
    wait_total_ns: AtomicU64,
    wait_max_ns: AtomicU64,
}

fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
}

impl WorkerStats {
    pub(crate) fn start(&self, waited: Duration) {
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.running.store(true, Relaxed);
        bump(&self.started, 1);
        bump(&self.wait_total_ns, ns);
        if ns > self.wait_max_ns.load(Relaxed) {
            self.wait_max_ns.store(ns, Relaxed);
        }
    }

    pub(crate) fn finish<R>(&self, outcome: &Result<R, JobError>) {
        match outcome {
            Ok(_) => bump(&self.completed, 1),
            Err(JobError::Panicked(_)) => bump(&self.panicked, 1),
            Err(JobError::TimedOut) => bump(&self.timed_out, 1),
            // The runners produce only the three outcomes above; a lost runtime shows as
            // a panic-free join error, counted with the cancelled ones at shutdown.
            Err(_) => {}
        }
    }

    pub(crate) fn idle(&self) {
        self.running.store(false, Relaxed);
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Relaxed)
    }
}

/// A snapshot of a pool's counters, readable at any time with
/// [`Pool::metrics`](super::Pool::metrics). Counts cover the pool's whole life.
///
/// The fields are read one by one while workers run, so a snapshot taken under load may
/// be off by the jobs that moved during the read; after shutdown it is exact, and
/// `accepted == completed + failed() + cancelled + not_started`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Jobs waiting in the queue now.
    pub queued: usize,
    /// Jobs running now.
    pub running: usize,
    /// Jobs the pool accepted.
    pub accepted: u64,
    /// Jobs a worker started.
    pub started: u64,
    /// Jobs that returned a value (whatever the value says; a `Result::Err` returned by
    /// the job is still a completed job).
    pub completed: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs that ran past the job timeout.
    pub timed_out: u64,
    /// Jobs cancelled by a shutdown that passed its deadline.
    pub cancelled: u64,
    /// Jobs handed back unstarted by a shutdown that passed its deadline.
    pub not_started: u64,
    /// Submissions refused (queue full, closed, or a submit timeout/retry that gave up).
    /// Each refused call counts once, however long it waited.
    pub rejected: u64,
    /// Time started jobs spent queued, summed.
    pub queue_wait_total: Duration,
    /// The longest time a started job spent queued.
    pub queue_wait_max: Duration,
}

impl PoolMetrics {
    /// Jobs that started and failed: panicked plus timed out.
    pub fn failed(&self) -> u64 {
        self.panicked + self.timed_out
    }

    /// Mean time a started job spent queued.
    pub fn queue_wait_mean(&self) -> Duration {
        match self.started {
            0 => Duration::ZERO,
            n => self.queue_wait_total / u32::try_from(n).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn add_worker(&mut self, w: &WorkerStats) {
        self.running += usize::from(w.is_running());
        self.started += w.started.load(Relaxed);
        self.completed += w.completed.load(Relaxed);
        self.panicked += w.panicked.load(Relaxed);
        self.timed_out += w.timed_out.load(Relaxed);
        self.queue_wait_total += Duration::from_nanos(w.wait_total_ns.load(Relaxed));
        self.queue_wait_max = self
            .queue_wait_max
            .max(Duration::from_nanos(w.wait_max_ns.load(Relaxed)));
    }
}

impl fmt::Debug for PoolMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolMetrics")
            .field("queued", &self.queued)
            .field("running", &self.running)
            .field("accepted", &self.accepted)
            .field("completed", &self.completed)
            .field("failed", &self.failed())
            .field("cancelled", &self.cancelled)
            .field("not_started", &self.not_started)
            .field("rejected", &self.rejected)
            .field("queue_wait_mean", &self.queue_wait_mean())
            .field("queue_wait_max", &self.queue_wait_max)
            .finish()
    }
}

/// What [`Pool::shutdown`](super::Pool::shutdown) did: every accepted job, accounted for
/// exactly once.
///
/// `accepted == completed + failed() + cancelled + not_started`, and the first report
/// carries the `not_started` jobs themselves in [`unstarted`](Self::unstarted). Later
/// calls (shutdown is idempotent) return the same counts with an empty `unstarted`.
#[non_exhaustive]
pub struct ShutdownReport<J> {
    /// Jobs the pool accepted over its life.
    pub accepted: u64,
    /// Jobs that returned a value.
    pub completed: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs that ran past the job timeout.
    pub timed_out: u64,
    /// Jobs that were running at the deadline and had not finished when the cancel grace
    /// ran out; their futures were dropped (async) or detached (blocking: the thread runs
    /// on, its output discarded).
    pub cancelled: u64,
    /// How many queued jobs never started (the length of the first report's `unstarted`).
    pub not_started: u64,
    /// The queued jobs that never started, oldest first: handed back so the caller can
    /// retry, persist or report them. Empty unless the deadline passed.
    pub unstarted: Vec<J>,
    /// `true` if the deadline passed before the queue drained.
    pub deadline_passed: bool,
    /// How long the first shutdown call took.
    pub elapsed: Duration,
}

impl<J> ShutdownReport<J> {
    /// Jobs that started and failed: panicked plus timed out.
    pub fn failed(&self) -> u64 {
        self.panicked + self.timed_out
    }

    /// `true` if every accepted job completed.
    pub fn is_clean(&self) -> bool {
        self.completed == self.accepted
    }
}

impl<J> fmt::Debug for ShutdownReport<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownReport")
            .field("accepted", &self.accepted)
            .field("completed", &self.completed)
            .field("panicked", &self.panicked)
            .field("timed_out", &self.timed_out)
            .field("cancelled", &self.cancelled)
            .field("not_started", &self.not_started)
            .field("unstarted_handed_back", &self.unstarted.len())
            .field("deadline_passed", &self.deadline_passed)
            .field("elapsed", &self.elapsed)
            .finish()
    }
}
