//! What a dumper produces: each interval's [`Dump`], and the [`DumpReport`] at the end.

use crate::periodic::PeriodicReport;

/// One interval's counts, as handed to a [`Sink`](super::Sink).
///
/// Its fields are public so a sink's own tests can build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump<K> {
    /// 1 for the first dump written by this dumper, counting up.
    pub seq: u64,
    /// When the counts were taken, in milliseconds since the unix epoch (from the
    /// dumper's clock).
    pub ts_ms: u64,
    /// Whether this is the flush at shutdown.
    pub is_final: bool,
    /// `(key, delta)` for every key incremented in the interval, sorted by key.
    pub counts: Vec<(K, u64)>,
    /// Increments for new keys that arrived while the counters were at their key cap.
    pub overflow: u64,
    /// Keys evicted as idle by this take.
    pub evicted: usize,
    /// Keys tracked after this take.
    pub keys: usize,
}

impl<K> Dump<K> {
    /// Everything this dump accounts for: the sum of the counts plus the overflow.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(self.overflow, |acc, (_, n)| acc.wrapping_add(*n))
    }
}

/// How a dumper ended, with its sink handed back.
#[derive(Debug)]
#[non_exhaustive]
pub struct DumpReport<S> {
    /// Dumps handed to the sink (successful or not), final flush included.
    pub dumps: u64,
    /// Dumps whose write failed, returned an error, panicked or was dropped at the
    /// final-flush deadline.
    pub failed: u64,
    /// Increments written successfully (counts plus overflow).
    pub counted: u64,
    /// Increments taken for a dump whose write failed (an error, a panic of the sink, or
    /// a final write dropped at [`final_flush_deadline`](super::Dumper::final_flush_deadline)):
    /// reported here, never silently gone. After the dumper ends, every increment taken
    /// is in exactly one of `counted` and `lost`.
    pub lost: u64,
    /// The schedule's report: regular runs, the final flush's fate, and a caught panic.
    pub periodic: PeriodicReport,
    /// The sink, returned for inspection or reuse.
    pub sink: S,
}
