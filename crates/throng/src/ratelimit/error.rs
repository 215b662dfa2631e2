//! Errors of the rate limiter: a bad quota, "not until", and the waits' failures.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A [`QuotaBuilder`](super::QuotaBuilder) setting broke one of these rules:
///
/// 1. the count of cells per period is at least 1 ([`ZeroCount`](Self::ZeroCount));
/// 2. the period is non-zero ([`ZeroPeriod`](Self::ZeroPeriod));
/// 3. the burst is at least 1 ([`ZeroBurst`](Self::ZeroBurst));
/// 4. the interval (period / count) is at least 1 ns ([`TooFast`](Self::TooFast)).
///
/// [`build`](super::QuotaBuilder::build) reports the first broken rule in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidQuota {
    /// Zero cells per period: nothing could ever pass.
    ZeroCount,
    /// A zero period.
    ZeroPeriod,
    /// A zero burst: not even one cell could pass.
    ZeroBurst,
    /// More than one cell per nanosecond.
    TooFast {
        /// The count given.
        count: u32,
        /// The period given.
        period: Duration,
    },
}

impl fmt::Display for InvalidQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroCount => f.write_str("quota count must be at least 1"),
            Self::ZeroPeriod => f.write_str("quota period must be non-zero"),
            Self::ZeroBurst => f.write_str("quota burst must be at least 1"),
            Self::TooFast { count, period } => {
                write!(f, "quota of {count} per {period:?} is faster than 1 per ns")
            }
        }
    }
}

impl Error for InvalidQuota {}

/// A negative decision: the cell did not pass; it would at [`earliest`](Self::earliest).
///
/// Returned by `check`. Nothing was consumed. Retrying at or after the earliest time
/// succeeds unless someone else spent the capacity in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotUntil {
    pub(crate) earliest: u64,
    pub(crate) now: u64,
}

impl NotUntil {
    /// How long to wait from the moment of the decision: `earliest - now` (never zero).
    pub fn wait_time(&self) -> Duration {
        Duration::from_nanos(self.earliest - self.now)
    }

    /// The earliest time the cell would pass, on the limiter's clock (since its origin).
    pub fn earliest(&self) -> Duration {
        Duration::from_nanos(self.earliest)
    }

    /// When the decision was made, on the limiter's clock (since its origin).
    pub fn decided_at(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    /// How long to wait from `now` (read from the limiter's clock), zero if already past.
    pub fn wait_time_from(&self, now: Duration) -> Duration {
        self.earliest().saturating_sub(now)
    }
}

impl fmt::Display for NotUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limited, retry in {:?}", self.wait_time())
    }
}

impl Error for NotUntil {}

/// `n` cells were asked for at once but the burst is smaller: this can never pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InsufficientCapacity {
    /// Cells asked for.
    pub n: u32,
    /// The quota's burst.
    pub burst: u32,
}

impl fmt::Display for InsufficientCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cells exceed the burst of {}", self.n, self.burst)
    }
}

impl Error for InsufficientCapacity {}

/// Why `check_n` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckNError {
    /// Not now; retry later.
    NotUntil(NotUntil),
    /// Never: `n` exceeds the burst.
    InsufficientCapacity(InsufficientCapacity),
}

impl fmt::Display for CheckNError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUntil(e) => e.fmt(f),
            Self::InsufficientCapacity(e) => e.fmt(f),
        }
    }
}

impl Error for CheckNError {}

impl From<NotUntil> for CheckNError {
    fn from(e: NotUntil) -> Self {
        Self::NotUntil(e)
    }
}

impl From<InsufficientCapacity> for CheckNError {
    fn from(e: InsufficientCapacity) -> Self {
        Self::InsufficientCapacity(e)
    }
}

/// Why a bounded or cancellable wait (`until_n_ready_within`, `until_ready_or_cancelled`)
/// gave up. Nothing was consumed in any of these cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UntilReadyError {
    /// `n` exceeds the burst: waiting would never end. Returned at once.
    InsufficientCapacity(InsufficientCapacity),
    /// The cells would pass only after the deadline. Returned at once, without sleeping
    /// until the deadline; `wait` is how long it would have taken from that moment.
    WouldPassDeadline {
        /// The wait needed, from the moment of the decision.
        wait: Duration,
        /// What was left of the allowed wait at that moment.
        left: Duration,
    },
    /// The cancellation token fired first.
    Cancelled,
    /// Keyed waits only: the key is new and the limiter is full of active keys
    /// ([`KeyedCheckError::TooManyKeys`]). Returned at once: when a slot frees up is not
    /// known, so there is nothing to sleep for.
    TooManyKeys {
        /// The configured cap.
        max_keys: usize,
    },
}

impl fmt::Display for UntilReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InsufficientCapacity(e) => e.fmt(f),
            Self::WouldPassDeadline { wait, left } => write!(
                f,
                "rate limited for {wait:?}, longer than the {left:?} left before the deadline"
            ),
            Self::Cancelled => f.write_str("wait cancelled"),
            Self::TooManyKeys { max_keys } => {
                write!(
                    f,
                    "rate limiter tracks {max_keys} active keys, new key refused"
                )
            }
        }
    }
}

impl Error for UntilReadyError {}

impl From<InsufficientCapacity> for UntilReadyError {
    fn from(e: InsufficientCapacity) -> Self {
        Self::InsufficientCapacity(e)
    }
}

/// Why a keyed `check` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyedCheckError {
    /// This key is over its quota; retry later.
    NotUntil(NotUntil),
    /// The key is new and the limiter already tracks `max_keys` active keys (after pruning
    /// idle ones). The new key is refused, fail-closed, so unique keys cannot grow memory
    /// or reset anybody's limit. Retry later: keys leave once idle.
    TooManyKeys {
        /// The configured cap.
        max_keys: usize,
    },
    /// Never: `n` exceeds the burst (only from `check_n`).
    InsufficientCapacity(InsufficientCapacity),
}

impl fmt::Display for KeyedCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUntil(e) => e.fmt(f),
            Self::TooManyKeys { max_keys } => {
                write!(
                    f,
                    "rate limiter tracks {max_keys} active keys, new key refused"
                )
            }
            Self::InsufficientCapacity(e) => e.fmt(f),
        }
    }
}

impl Error for KeyedCheckError {}

impl From<NotUntil> for KeyedCheckError {
    fn from(e: NotUntil) -> Self {
        Self::NotUntil(e)
    }
}

impl From<CheckNError> for KeyedCheckError {
    fn from(e: CheckNError) -> Self {
        match e {
            CheckNError::NotUntil(e) => Self::NotUntil(e),
            CheckNError::InsufficientCapacity(e) => Self::InsufficientCapacity(e),
        }
    }
}

/// Why a [`CoarseClock`](super::CoarseClock) could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidResolution {
    /// A zero resolution (the refresher would spin).
    Zero,
    /// The operating system refused to spawn the refresher thread.
    Spawn,
}

impl fmt::Display for InvalidResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero => f.write_str("coarse clock resolution must be non-zero"),
            Self::Spawn => f.write_str("cannot spawn the coarse clock thread"),
        }
    }
}

impl Error for InvalidResolution {}
