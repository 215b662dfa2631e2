//! What a take or a read of [`KeyedCounters`](super::KeyedCounters) returns.

/// Per-key counts returned by [`KeyedCounters::take_snapshot`](super::KeyedCounters::take_snapshot)
/// (deltas since the previous take) and [`KeyedCounters::snapshot`](super::KeyedCounters::snapshot)
/// (cumulative totals).
///
/// `counts` comes in no particular order; call [`sort`](Self::sort) (or
/// [`sorted`](Self::sorted)) for a deterministic, key-ordered listing.
///
/// # Examples
///
/// A dumper's loop body:
///
/// ```
/// use std::num::NonZeroUsize;
/// use throng::keyed::KeyedCounters;
///
/// let hits = KeyedCounters::<String>::new(NonZeroUsize::new(1000).unwrap());
/// hits.inc("bob");
/// hits.add("alice", 2);
///
/// let snap = hits.take_snapshot().sorted();
/// let mut out = String::new();
/// for (user, n) in &snap.counts {
///     out += &format!("{user} {n}\n");
/// }
/// out += &format!("(overflow) {}\n", snap.overflow);
/// assert_eq!(out, "alice 2\nbob 1\n(overflow) 0\n");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot<K> {
    /// `(key, count)` pairs. For a take: only keys that were incremented since the
    /// previous take, with that delta. For a cumulative snapshot: every tracked key
    /// with its total since it was (last) inserted.
    pub counts: Vec<(K, u64)>,
    /// Increments that arrived for new keys while the map was full (at `max_keys`).
    /// They are counted here instead of under their key, never dropped. For a take:
    /// since the previous take; for a cumulative snapshot: since creation.
    pub overflow: u64,
    /// Keys evicted as idle. For a take: by this take; for a cumulative snapshot: since
    /// creation.
    pub evicted: usize,
    /// Keys tracked when the snapshot finished (after this take's evictions).
    pub keys: usize,
}

impl<K> Snapshot<K> {
    /// Sum of all counts plus the overflow: everything this snapshot accounts for.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(self.overflow, |acc, (_, n)| acc.wrapping_add(*n))
    }

    /// Whether the snapshot has no counts and no overflow.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.overflow == 0
    }
}

impl<K: Ord> Snapshot<K> {
    /// Sorts `counts` by key (keys are unique, so the order is total).
    pub fn sort(&mut self) {
        self.counts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }

    /// [`sort`](Self::sort), by value.
    #[must_use]
    pub fn sorted(mut self) -> Self {
        self.sort();
        self
    }
}

impl<K: std::fmt::Debug> std::fmt::Debug for Snapshot<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("counts", &self.counts)
            .field("overflow", &self.overflow)
            .field("evicted", &self.evicted)
            .field("keys", &self.keys)
            .finish()
    }
}
