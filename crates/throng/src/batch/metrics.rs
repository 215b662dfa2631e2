//! Batcher counters and the shutdown report.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam_utils::CachePadded;

/// Why a batch was flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Items,
    Bytes,
    Delay,
    Close,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Counted by the batcher task as it takes items (one writer, exact at shutdown).
    pub(crate) accepted: AtomicU64,
    /// Written by refused submitters; padded away from the task's counters.
    pub(crate) rejected: CachePadded<AtomicU64>,
    pub(crate) succeeded: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
    pub(crate) by_items: AtomicU64,
    pub(crate) by_bytes: AtomicU64,
    pub(crate) by_delay: AtomicU64,
    pub(crate) by_close: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) pending: AtomicU64,
    pub(crate) largest: AtomicU64,
}

impl Counters {
    pub(crate) fn flushed(&self, reason: Reason, items: usize) {
        self.batches.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        self.largest.fetch_max(items as u64, Relaxed);
        match reason {
            Reason::Items => &self.by_items,
            Reason::Bytes => &self.by_bytes,
            Reason::Delay => &self.by_delay,
            Reason::Close => &self.by_close,
        }
        .fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BatchMetrics {
        BatchMetrics {
            accepted: self.accepted.load(Relaxed),
            queued: 0,
            rejected: self.rejected.load(Relaxed),
            succeeded: self.succeeded.load(Relaxed),
            failed: self.failed.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            batches: self.batches.load(Relaxed),
            failed_batches: self.failed_batches.load(Relaxed),
            flushed_for_items: self.by_items.load(Relaxed),
            flushed_for_bytes: self.by_bytes.load(Relaxed),
            flushed_for_delay: self.by_delay.load(Relaxed),
            flushed_for_close: self.by_close.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            pending: self.pending.load(Relaxed),
            largest_batch: self.largest.load(Relaxed),
        }
    }
}

/// A snapshot of a batcher's counters ([`Batcher::metrics`](super::Batcher::metrics)).
///
/// After shutdown, `accepted == succeeded + failed + cancelled` and `queued == 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BatchMetrics {
    /// Items taken from the intake queue into a batch (or dropped from it by a shutdown
    /// past its deadline).
    pub accepted: u64,
    /// Items waiting in the intake queue now.
    pub queued: u64,
    /// Submissions refused (full or closed).
    pub rejected: u64,
    /// Items whose flush returned their result.
    pub succeeded: u64,
    /// Items whose flush failed, panicked or returned the wrong number of results.
    pub failed: u64,
    /// Items dropped by a shutdown that passed its deadline.
    pub cancelled: u64,
    /// Flushes started.
    pub batches: u64,
    /// Flushes that failed as a whole.
    pub failed_batches: u64,
    /// Flushes started because the batch reached `max_items`.
    pub flushed_for_items: u64,
    /// Flushes started because the batch reached `max_bytes`.
    pub flushed_for_bytes: u64,
    /// Flushes started because `max_delay` passed since the batch's first item.
    pub flushed_for_delay: u64,
    /// Flushes started by shutdown (or by every handle being dropped).
    pub flushed_for_close: u64,
    /// Flushes running now.
    pub in_flight: u64,
    /// Items in the batch being filled now.
    pub pending: u64,
    /// The largest batch flushed so far.
    pub largest_batch: u64,
}

impl BatchMetrics {
    /// Mean items per flush.
    pub fn mean_batch(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            (self.succeeded + self.failed) as f64 / self.batches as f64
        }
    }
}
