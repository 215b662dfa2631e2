//! [`RateLimiter`]: one quota shared by every caller.

use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use tokio_util::sync::CancellationToken;

use super::error::{CheckNError, InsufficientCapacity, NotUntil, UntilReadyError};
use super::gcra;
use super::quota::Quota;
use super::wait::wait_until;
use crate::clock::{Clock, QuantaClock};
use crate::sync::atomic::{AtomicU64, Ordering};

/// A GCRA rate limiter for one stream of cells (a whole service, one upstream API).
///
/// The whole state is one `AtomicU64` (the theoretical arrival time) updated by a CAS
/// loop; a refusal reads it and writes nothing. No background task, no lock.
///
/// Not `Clone`: share it with an `Arc`. Generic over its [`Clock`]; the default is
/// [`QuantaClock`] (the CPU's time-stamp counter, as governor uses); tests pass a [`ManualClock`](crate::clock::ManualClock) or a
/// [`TokioClock`](crate::clock::TokioClock) through [`with_clock`](Self::with_clock).
///
/// See the [module docs](super) for semantics, costs and comparisons.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::clock::ManualClock;
/// use throng::ratelimit::{Quota, RateLimiter};
///
/// let clock = ManualClock::new();
/// let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(2).build()?, clock.clone());
/// assert!(limiter.check().is_ok());
/// assert!(limiter.check().is_ok());
/// let no = limiter.check().unwrap_err();
/// assert_eq!(no.wait_time(), Duration::from_millis(100));
/// clock.advance(no.wait_time());
/// assert!(limiter.check().is_ok());
/// # Ok::<(), throng::ratelimit::InvalidQuota>(())
/// ```
pub struct RateLimiter<C: Clock = QuantaClock> {
    tat: CachePadded<AtomicU64>,
    quota: Quota,
    clock: C,
}

impl RateLimiter<QuantaClock> {
    /// A limiter on the real monotonic clock, with its full burst available.
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, QuantaClock::new())
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter on `clock`, with its full burst available.
    pub fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            tat: CachePadded::new(AtomicU64::new(0)),
            quota,
            clock,
        }
    }

    /// Lets one cell pass now, or says when it would.
    ///
    /// # Errors
    ///
    /// [`NotUntil`] with the earliest retry time; nothing was consumed.
    #[inline]
    pub fn check(&self) -> Result<(), NotUntil> {
        gcra::check(&self.quota, &self.tat, self.clock.now_nanos())
    }

    /// Lets `n` cells pass now, all or none. `n = 0` always passes.
    ///
    /// # Errors
    ///
    /// [`CheckNError::InsufficientCapacity`] if `n` exceeds the burst (it never will pass);
    /// [`CheckNError::NotUntil`] if it would pass later. Nothing was consumed.
    pub fn check_n(&self, n: u32) -> Result<(), CheckNError> {
        gcra::check_n(&self.quota, &self.tat, self.clock.now_nanos(), n)
    }

    /// Waits until one cell passes, then consumes it.
    ///
    /// Sleeps on tokio's timer for the wait each refusal names, then re-checks (other
    /// callers may have taken the slot; waiters are not queued, so there is no
    /// fairness between them). The clock must move with tokio's time
    /// ([`QuantaClock`], or [`TokioClock`](crate::clock::TokioClock) under paused
    /// time); with a [`ManualClock`](crate::clock::ManualClock) it would spin on zero-length sleeps until the clock is moved.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future consumes nothing.
    pub async fn until_ready(&self) {
        // One cell never exceeds the burst (>= 1) and there is no deadline or token.
        let _ = self.until_n_ready_inner(1, None, None).await;
    }

    /// Waits until `n` cells pass at once, then consumes them.
    ///
    /// # Errors
    ///
    /// [`InsufficientCapacity`] at once if `n` exceeds the burst.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future consumes nothing.
    pub async fn until_n_ready(&self, n: u32) -> Result<(), InsufficientCapacity> {
        match self.until_n_ready_inner(n, None, None).await {
            Ok(()) => Ok(()),
            Err(UntilReadyError::InsufficientCapacity(e)) => Err(e),
            Err(_) => unreachable!("no deadline and no token"),
        }
    }

    /// Waits at most `max_wait` for `n` cells; fails fast, without sleeping, if they would
    /// pass only later than that.
    ///
    /// # Errors
    ///
    /// [`UntilReadyError::WouldPassDeadline`] (at once, or after a re-check finds the slot
    /// taken and the new earliest time past the deadline);
    /// [`UntilReadyError::InsufficientCapacity`] if `n` exceeds the burst.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future consumes nothing.
    pub async fn until_n_ready_within(
        &self,
        n: u32,
        max_wait: Duration,
    ) -> Result<(), UntilReadyError> {
        self.until_n_ready_inner(n, Some(max_wait), None).await
    }

    /// [`until_n_ready_within`](Self::until_n_ready_within) (or unbounded if `max_wait` is
    /// `None`) that also stops when `cancel` fires.
    ///
    /// # Errors
    ///
    /// As [`until_n_ready_within`](Self::until_n_ready_within), plus
    /// [`UntilReadyError::Cancelled`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future consumes nothing.
    pub async fn until_ready_or_cancelled(
        &self,
        n: u32,
        max_wait: Option<Duration>,
        cancel: &CancellationToken,
    ) -> Result<(), UntilReadyError> {
        self.until_n_ready_inner(n, max_wait, Some(cancel)).await
    }

    async fn until_n_ready_inner(
        &self,
        n: u32,
        max_wait: Option<Duration>,
        cancel: Option<&CancellationToken>,
    ) -> Result<(), UntilReadyError> {
        wait_until(&self.clock, max_wait, cancel, || {
            self.check_n(n).map_err(Into::into)
        })
        .await
    }

    /// How many cells would pass right now (`0..=burst`). A snapshot: others may spend them.
    pub fn remaining(&self) -> u32 {
        let now = self.clock.now_nanos();
        gcra::remaining(&self.quota, self.tat.load(Ordering::Acquire), now)
    }

    /// The quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<C: Clock + fmt::Debug> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("quota", &self.quota)
            .field("tat", &self.tat.load(Ordering::Relaxed))
            .field("clock", &self.clock)
            .finish()
    }
}
