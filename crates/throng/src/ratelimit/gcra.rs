//! The GCRA maths and the lock-free update of one theoretical arrival time (TAT).
//!
//! State: one `u64`, the TAT in nanoseconds on the limiter's clock. A TAT at or before
//! `now` means "full burst available" (so 0, a fresh key, and any TAT in the past are the
//! same state). With emission interval `T` and burst `b`, the tolerance is `τ = T·b`.
//! A request for `n` cells at `now`:
//!
//! ```text
//! start   = max(tat, now)
//! new_tat = start + n·T
//! allow   ⇔ new_tat − now ≤ τ        (then store new_tat)
//! deny    → earliest retry = new_tat − τ  (> now), nothing stored
//! ```
//!
//! So an idle key spends `b` cells at once, then one per `T`; `n > b` never passes.
//! All arithmetic saturates (a u64 of nanoseconds lasts 584 years).

use super::error::{CheckNError, InsufficientCapacity, NotUntil};
use super::quota::Quota;
use crate::sync::atomic::{AtomicU64, Ordering};

/// The decision for `n` cells against a state `tat` at `now`.
///
/// `Ok(new_tat)` if they pass, `Err(earliest)` if not. `n` must be ≤ the burst (checked by
/// the caller); `n = 0` always passes with the state unchanged.
#[inline]
pub(crate) fn decide(quota: &Quota, tat: u64, now: u64, n: u32) -> Result<u64, u64> {
    if n == 0 {
        return Ok(tat);
    }
    let start = if tat > now { tat } else { now };
    let new_tat = start.saturating_add(quota.interval_nanos().saturating_mul(u64::from(n)));
    let tolerance = quota.tolerance();
    if new_tat - now <= tolerance {
        Ok(new_tat)
    } else {
        Err(new_tat - tolerance)
    }
}

/// One cell against the atomic state: a load, and a CAS only if the cell passes.
/// Denials never write, so a hot over-quota key costs a shared read.
#[inline]
pub(crate) fn check(quota: &Quota, state: &AtomicU64, now: u64) -> Result<(), NotUntil> {
    let interval = quota.interval_nanos();
    let tolerance = quota.tolerance();
    let mut tat = state.load(Ordering::Acquire);
    loop {
        let start = if tat > now { tat } else { now };
        let new_tat = start.saturating_add(interval);
        if new_tat - now > tolerance {
            return Err(NotUntil {
                earliest: new_tat - tolerance,
                now,
            });
        }
        match state.compare_exchange_weak(tat, new_tat, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(()),
            Err(seen) => tat = seen,
        }
    }
}

/// `n` cells at once against the atomic state (all or nothing).
pub(crate) fn check_n(
    quota: &Quota,
    state: &AtomicU64,
    now: u64,
    n: u32,
) -> Result<(), CheckNError> {
    if n > quota.burst_size() {
        return Err(InsufficientCapacity {
            n,
            burst: quota.burst_size(),
        }
        .into());
    }
    let mut tat = state.load(Ordering::Acquire);
    loop {
        match decide(quota, tat, now, n) {
            Err(earliest) => return Err(NotUntil { earliest, now }.into()),
            Ok(new_tat) if new_tat == tat => return Ok(()),
            Ok(new_tat) => {
                match state.compare_exchange_weak(tat, new_tat, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return Ok(()),
                    Err(seen) => tat = seen,
                }
            }
        }
    }
}

/// How many cells would pass right now without waiting (`0..=burst`).
pub(crate) fn remaining(quota: &Quota, tat: u64, now: u64) -> u32 {
    let used = tat.saturating_sub(now); // time "owed" to the future
    let free = quota.tolerance() - used.min(quota.tolerance());
    // The next cell needs `interval` of free tolerance; count whole cells.
    u32::try_from(free / quota.interval_nanos()).unwrap_or(u32::MAX)
}
