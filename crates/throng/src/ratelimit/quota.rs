//! [`Quota`]: a rate plus a burst, validated when built.

use std::time::Duration;

use super::error::InvalidQuota;
use crate::clock::nanos;

/// How many cells pass per period, and how many may pass at once.
///
/// A quota is a *rate* (one cell every [`interval`](Self::interval)) plus a *burst*: how many
/// cells a key that has been idle long enough may spend at once. `Quota::per_second(20)
/// .burst(40)` lets a fresh key send 40 messages immediately and then 20 a second
/// (one every 50 ms); after an idle second it may again send 20 at once, after two idle
/// seconds 40.
///
/// Built with [`per_second`](Self::per_second), [`per_minute`](Self::per_minute),
/// [`per_hour`](Self::per_hour), [`per`](Self::per) or [`with_period`](Self::with_period),
/// then [`burst`](QuotaBuilder::burst) (optional; the default burst is the number of cells
/// in one period, as governor does) and [`build`](QuotaBuilder::build), which checks the
/// rules listed on [`InvalidQuota`].
///
/// The interval is the period divided by the count, in whole nanoseconds (rounded down):
/// `per_second(3)` is one cell every 333 333 333 ns, a hair faster than 3/s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::ratelimit::{InvalidQuota, Quota};
///
/// let q = Quota::per_second(20).burst(40).build()?;
/// assert_eq!(q.interval(), Duration::from_millis(50));
/// assert_eq!(q.burst_size(), 40);
///
/// assert_eq!(Quota::per_second(0).build(), Err(InvalidQuota::ZeroCount));
/// assert_eq!(Quota::per_second(5).burst(0).build(), Err(InvalidQuota::ZeroBurst));
/// # Ok::<(), InvalidQuota>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Emission interval T in nanoseconds (> 0).
    interval: u64,
    /// Burst size b (> 0).
    burst: u32,
}

/// Builds a [`Quota`]; made by [`Quota::per_second`] and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "call `build()` to get the quota"]
pub struct QuotaBuilder {
    count: u32,
    period: Duration,
    burst: Option<u32>,
}

impl Quota {
    /// `count` cells per second; burst `count` unless set.
    pub fn per_second(count: u32) -> QuotaBuilder {
        Self::per(count, Duration::from_secs(1))
    }

    /// `count` cells per minute; burst `count` unless set.
    pub fn per_minute(count: u32) -> QuotaBuilder {
        Self::per(count, Duration::from_secs(60))
    }

    /// `count` cells per hour; burst `count` unless set.
    pub fn per_hour(count: u32) -> QuotaBuilder {
        Self::per(count, Duration::from_secs(3600))
    }

    /// `count` cells per `period`; burst `count` unless set.
    pub fn per(count: u32, period: Duration) -> QuotaBuilder {
        QuotaBuilder {
            count,
            period,
            burst: None,
        }
    }

    /// One cell every `interval`; burst 1 unless set.
    pub fn with_period(interval: Duration) -> QuotaBuilder {
        Self::per(1, interval)
    }

    /// The time between two cells at the sustained rate (the emission interval).
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    /// The emission interval in nanoseconds.
    pub fn interval_nanos(&self) -> u64 {
        self.interval
    }

    /// How many cells an idle key may spend at once.
    pub fn burst_size(&self) -> u32 {
        self.burst
    }

    /// How long a key must stay idle to get its whole burst back: `interval × burst`.
    /// Also how long a key stays in a keyed limiter after its last allowed cell.
    pub fn replenish_all(&self) -> Duration {
        Duration::from_nanos(self.tolerance())
    }

    /// `interval × burst` in nanoseconds, saturating.
    pub(crate) fn tolerance(&self) -> u64 {
        self.interval.saturating_mul(u64::from(self.burst))
    }
}

impl QuotaBuilder {
    /// How many cells an idle key may spend at once (at least 1).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Checks the rules on [`InvalidQuota`] and returns the quota.
    ///
    /// # Errors
    ///
    /// The first broken rule, in the order listed on [`InvalidQuota`].
    pub fn build(self) -> Result<Quota, InvalidQuota> {
        if self.count == 0 {
            return Err(InvalidQuota::ZeroCount);
        }
        if self.period.is_zero() {
            return Err(InvalidQuota::ZeroPeriod);
        }
        let burst = self.burst.unwrap_or(self.count);
        if burst == 0 {
            return Err(InvalidQuota::ZeroBurst);
        }
        let interval = nanos(self.period) / u64::from(self.count);
        if interval == 0 {
            return Err(InvalidQuota::TooFast {
                count: self.count,
                period: self.period,
            });
        }
        Ok(Quota { interval, burst })
    }
}

impl TryFrom<QuotaBuilder> for Quota {
    type Error = InvalidQuota;

    fn try_from(b: QuotaBuilder) -> Result<Self, Self::Error> {
        b.build()
    }
}
