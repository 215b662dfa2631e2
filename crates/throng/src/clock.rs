//! Injectable clocks for the time-driven patterns (rate limiter, circuit breaker, cache
//! expiry, batch delays), so their tests run on fake time without sleeping.
//!
//! A [`Clock`] reads monotonic nanoseconds since its own origin. Pick:
//!
//! - [`MonotonicClock`] (the default everywhere): `std::time::Instant`, the cheapest real
//!   clock (one vDSO call, about 20 ns).
//! - [`TokioClock`]: `tokio::time::Instant`, so `tokio::time::pause()` and `advance()` in
//!   tests move it together with tokio's timers. Slightly slower (it checks for a paused
//!   runtime clock).
//! - [`ManualClock`]: a shared counter that only moves when a test says so; for pure
//!   synchronous tests and property tests.
//!
//! Clocks are cheap to clone; clones share their origin (and, for `ManualClock`, the
//! time).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A monotonic time source in nanoseconds since the clock's origin.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Nanoseconds since this clock's origin. Never decreases.
    fn now_nanos(&self) -> u64;

    /// [`now_nanos`](Self::now_nanos) as a `Duration`.
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }
}

/// Saturating conversion of a duration to nanoseconds (u64 holds 584 years).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The real monotonic clock, `std::time::Instant`.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        nanos(self.origin.elapsed())
    }
}

/// tokio's clock, `tokio::time::Instant`: follows `tokio::time::pause()` / `advance()`.
#[cfg(feature = "tokio-clock")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-clock")))]
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

#[cfg(feature = "tokio-clock")]
impl TokioClock {
    /// A clock whose origin is now (on tokio's clock).
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

#[cfg(feature = "tokio-clock")]
impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "tokio-clock")]
impl Clock for TokioClock {
    fn now_nanos(&self) -> u64 {
        nanos(self.origin.elapsed())
    }
}

/// The CPU's time-stamp counter through the `quanta` crate (what governor uses): about
/// half the cost of `std::time::Instant` on x86-64 VMs, still exact to the nanosecond.
/// quanta calibrates the counter against the OS clock on first use and falls back to the
/// OS clock where the counter is unreliable.
#[cfg(feature = "quanta-clock")]
#[cfg_attr(docsrs, doc(cfg(feature = "quanta-clock")))]
#[derive(Debug, Clone)]
pub struct QuantaClock {
    clock: quanta::Clock,
    origin: u64,
}

#[cfg(feature = "quanta-clock")]
impl QuantaClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        Self { clock, origin }
    }
}

#[cfg(feature = "quanta-clock")]
impl Default for QuantaClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "quanta-clock")]
impl Clock for QuantaClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(nanos(by), Ordering::SeqCst);
    }

    /// Sets the clock to `at` since its origin. Ignored if that would move it backwards.
    pub fn set(&self, at: Duration) {
        self.now.fetch_max(nanos(at), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.elapsed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward_and_clones_share_it() {
        let c = ManualClock::new();
        let d = c.clone();
        c.advance(Duration::from_millis(5));
        assert_eq!(d.elapsed(), Duration::from_millis(5));
        d.set(Duration::from_millis(2));
        assert_eq!(c.elapsed(), Duration::from_millis(5), "never backwards");
        d.set(Duration::from_secs(1));
        assert_eq!(c.now_nanos(), 1_000_000_000);
    }

    #[test]
    fn monotonic_clock_never_decreases() {
        let c = MonotonicClock::new();
        let mut last = 0;
        for _ in 0..1000 {
            let now = c.now_nanos();
            assert!(now >= last);
            last = now;
        }
    }
}
