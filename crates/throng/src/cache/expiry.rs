//! Time-to-live and time-to-idle, in nanoseconds of the cache's [`Clock`](crate::clock::Clock).
//!
//! An entry stores its TTL deadline (fixed at insert) and its last access (moved by every
//! hit, only when a TTI is set). Expired entries are never returned; they are removed when
//! a lookup meets them, when eviction reaches them (expired entries go first, whatever
//! their frequency), or by [`Cache::purge_expired`](super::Cache::purge_expired). There
//! is no background task.

use std::sync::atomic::{AtomicU64, Ordering};

/// The expiry settings of one cache.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Expiry {
    /// Time-to-live in nanoseconds.
    pub(crate) ttl: Option<u64>,
    /// Time-to-idle in nanoseconds.
    pub(crate) tti: Option<u64>,
}

impl Expiry {
    /// Whether any check needs the clock (if not, `now` is never read).
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.ttl.is_some() || self.tti.is_some()
    }

    /// The TTL deadline of an entry inserted at `now` (`u64::MAX`: never).
    #[inline]
    pub(crate) fn deadline(&self, now: u64) -> u64 {
        self.ttl.map_or(u64::MAX, |t| now.saturating_add(t))
    }

    /// Whether an entry with TTL deadline `deadline` and last access `accessed` is
    /// expired at `now`.
    #[inline]
    pub(crate) fn is_expired(&self, deadline: u64, accessed: &AtomicU64, now: u64) -> bool {
        if now >= deadline {
            return true;
        }
        match self.tti {
            Some(tti) => now.saturating_sub(accessed.load(Ordering::Relaxed)) >= tti,
            None => false,
        }
    }

    /// Records a hit at `now` for time-to-idle.
    #[inline]
    pub(crate) fn touch(&self, accessed: &AtomicU64, now: u64) {
        if self.tti.is_some() && accessed.load(Ordering::Relaxed) < now {
            accessed.store(now, Ordering::Relaxed);
        }
    }
}
