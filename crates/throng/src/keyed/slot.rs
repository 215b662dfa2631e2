//! One key's counter cell and the protocol that makes take and eviction race-free.

use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Bit 63 of `pending`: the slot was evicted; increments that see it must go back to
/// the map.
pub(super) const RETIRED: u64 = 1 << 63;

/// Adds at least this large take the saturating path, so no single call can carry a
/// count into the `RETIRED` bit.
const BIG_ADD: u64 = 1 << 32;

/// Where counts saturate: 2^62, far below `RETIRED`.
///
/// Big adds stop there exactly (compare-and-swap). Small adds are unchecked
/// `fetch_add`s, so one may go past it; the add that sees a previous value at or past it
/// clamps the count back to it. Each small add is below 2^32, so it would take 2^30
/// adds in flight at once, none of them yet clamped, to carry a count from 2^62 into
/// the `RETIRED` bit: with fewer threads than that, a live slot never looks retired.
pub(super) const SATURATED: u64 = 1 << 62;

/// A key's counters.
///
/// - `pending`: increments since the last take, plus the `RETIRED` flag. Increments are
///   `fetch_add`s; a take is a `swap(0)`; eviction is a `compare_exchange(0, RETIRED)`.
///   All three are read-modify-writes on one atomic, so they are totally ordered: an
///   increment either precedes the take's swap (and is in that take) or follows it
///   (and is in the next), and an increment whose `fetch_add` returns a value with
///   `RETIRED` set knows it was not counted and retries on the map.
/// - `taken`: the sum of all previous takes (cumulative total = `taken + pending`).
/// - `seq`: odd while a take moves `pending` into `taken`, so readers of the
///   cumulative total can retry instead of missing or double-counting the moved amount.
/// - `idle`: consecutive takes that found no increments (only touched by takes, which
///   are serialised).
///
/// `repr(C, align(32))` keeps `pending` and (for `String`-sized keys) the key's header in
/// one 32-byte block, hence one cache line: a hit touches a single line of the slot.
#[repr(C, align(32))]
pub(super) struct Slot<K> {
    pending: AtomicU64,
    pub(super) key: K,
    taken: AtomicU64,
    seq: AtomicUsize,
    idle: AtomicUsize,
}

impl<K> Slot<K> {
    /// A live slot whose first `n` increments are already counted.
    pub(super) fn new(key: K, n: u64) -> Self {
        Self {
            key,
            pending: AtomicU64::new(n.min(SATURATED)),
            taken: AtomicU64::new(0),
            seq: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
        }
    }

    /// Adds `n`; returns `false` (and counts nothing) if the slot has been retired.
    #[inline]
    pub(super) fn add(&self, n: u64) -> bool {
        if n < BIG_ADD {
            // The value read by the RMW is the one right before ours in the atomic's
            // modification order, so Relaxed is enough to know whether we landed
            // before or after the retiring compare_exchange. One comparison covers
            // both rare cases (retired, saturated): `RETIRED > SATURATED`.
            let prev = self.pending.fetch_add(n, Ordering::Relaxed);
            prev < SATURATED || self.after_saturated(prev)
        } else {
            self.add_saturating(n)
        }
    }

    /// A small add found `prev >= SATURATED`: either the slot is retired (the add did not
    /// count), or the count is at its ceiling and is clamped back to it before further
    /// adds can carry it towards the `RETIRED` bit.
    #[cold]
    fn after_saturated(&self, prev: u64) -> bool {
        if prev & RETIRED != 0 {
            return false;
        }
        let mut cur = self.pending.load(Ordering::Relaxed);
        // Stops if a take reset the count meanwhile (then it is below the ceiling), or
        // if an eviction retired it after that take.
        while cur & RETIRED == 0 && cur > SATURATED {
            match self.pending.compare_exchange_weak(
                cur,
                SATURATED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        true
    }

    #[cold]
    fn add_saturating(&self, n: u64) -> bool {
        let mut cur = self.pending.load(Ordering::Relaxed);
        loop {
            if cur & RETIRED != 0 {
                return false;
            }
            let new = cur.saturating_add(n).min(SATURATED.max(cur));
            match self
                .pending
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Moves the pending increments into the cumulative total and returns them.
    ///
    /// Callers serialise takes (the map's take lock) and never take a retired slot.
    pub(super) fn take(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst);
        let v = self.pending.swap(0, Ordering::SeqCst);
        debug_assert_eq!(v & RETIRED, 0, "took a retired slot");
        let t = self.taken.load(Ordering::SeqCst);
        self.taken.store(t.wrapping_add(v), Ordering::SeqCst);
        self.seq.fetch_add(1, Ordering::SeqCst);
        if v == 0 {
            let idle = self.idle.load(Ordering::Relaxed) + 1;
            self.idle.store(idle, Ordering::Relaxed);
        } else {
            self.idle.store(0, Ordering::Relaxed);
        }
        v
    }

    /// Whether the slot has been evicted from the map.
    #[cfg_attr(loom, allow(dead_code))]
    pub(super) fn is_retired(&self) -> bool {
        self.pending.load(Ordering::Relaxed) & RETIRED != 0
    }

    /// Consecutive takes that found nothing (serialised with `take`).
    pub(super) fn idle_takes(&self) -> usize {
        self.idle.load(Ordering::Relaxed)
    }

    /// Retires the slot if nothing was added since the last take. On success every later
    /// `add` returns `false`; on failure the slot stays live and its idle count restarts.
    pub(super) fn try_retire(&self) -> bool {
        let ok = self
            .pending
            .compare_exchange(0, RETIRED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if !ok {
            self.idle.store(0, Ordering::Relaxed);
        }
        ok
    }

    /// Cumulative count: all takes plus what is pending, read consistently with respect
    /// to a concurrent take (never missing or double-counting what it moves).
    pub(super) fn total(&self) -> u64 {
        loop {
            let s1 = self.seq.load(Ordering::SeqCst);
            if s1 % 2 == 1 {
                spin_wait();
                continue;
            }
            let t = self.taken.load(Ordering::SeqCst);
            let p = self.pending.load(Ordering::SeqCst) & !RETIRED;
            if self.seq.load(Ordering::SeqCst) == s1 {
                return t.wrapping_add(p);
            }
        }
    }
}

/// Waits a moment for a take that is moving this slot's counts (a few instructions long).
fn spin_wait() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The largest add that takes the unchecked fast path.
    const SMALL: u64 = BIG_ADD - 1;

    #[test]
    fn small_adds_past_the_saturation_point_clamp_instead_of_growing() {
        let slot = Slot::new((), 0);
        // Where 2^30 adds of 2^32 - 1 would have brought it, without doing them.
        slot.pending.store(SATURATED - 1, Ordering::Relaxed);
        for _ in 0..3 {
            assert!(slot.add(SMALL));
        }
        assert_eq!(slot.take(), SATURATED);
        assert!(slot.add(SMALL), "counting restarts after the take");
        assert_eq!(slot.take(), SMALL);
    }

    #[test]
    fn small_adds_never_carry_a_live_count_towards_the_retired_bit() {
        // Before the clamp, 2^31 adds of 2^32 - 1 without a take set the retired bit on
        // a live slot, and the map's `add` then retried forever. Now a count past the
        // ceiling (here as far past it as 1000 racing adders could push it) is clamped
        // by the next add, so it stays within reach of 2^62 and far from 2^63.
        let slot = Slot::new((), 0);
        slot.pending
            .store(SATURATED + 1000 * SMALL, Ordering::Relaxed);
        for _ in 0..100_000 {
            assert!(slot.add(SMALL), "a live slot refused an add");
            assert!(slot.pending.load(Ordering::Relaxed) <= SATURATED + SMALL);
        }
        assert!(!slot.is_retired());
        assert_eq!(slot.take(), SATURATED);
    }

    #[test]
    fn a_retired_slot_still_refuses_adds() {
        let slot = Slot::new((), 0);
        assert!(slot.try_retire());
        assert!(!slot.add(1));
        assert!(!slot.add(BIG_ADD));
        assert!(slot.is_retired());
    }
}
