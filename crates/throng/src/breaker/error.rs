//! Errors: bad configuration, a rejected call, and the error of [`Breaker::call`].
//!
//! [`Breaker::call`]: super::Breaker::call

use std::error::Error;
use std::fmt;
use std::time::Duration;

use super::state::State;

/// A [`BreakerBuilder`](super::BreakerBuilder) setting broke one of these rules:
///
/// 1. at least one trip condition is on: consecutive failures, or a failure rate
///    ([`NoTripCondition`](Self::NoTripCondition));
/// 2. the consecutive-failure threshold is at least 1
///    ([`ZeroConsecutiveFailures`](Self::ZeroConsecutiveFailures));
/// 3. the failure-rate threshold is in `(0.0, 1.0]` ([`FailureRate`](Self::FailureRate));
/// 4. a count window holds 1 to 2^20 calls ([`CountWindow`](Self::CountWindow));
/// 5. a time window spans a non-zero time, in 1 to 1024 buckets, each at least 1 µs
///    wide ([`TimeWindow`](Self::TimeWindow));
/// 6. the minimum number of calls is at least 1 and, for a count window, at most the
///    window's size ([`MinimumCalls`](Self::MinimumCalls));
/// 7. the slow-call threshold, when set, is non-zero
///    ([`ZeroSlowCall`](Self::ZeroSlowCall));
/// 8. the cool-down is non-zero ([`ZeroCoolDown`](Self::ZeroCoolDown));
/// 9. at least one probe is let through when half-open ([`ZeroProbes`](Self::ZeroProbes)).
///
/// [`build`](super::BreakerBuilder::build) reports the first broken rule in this order.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum InvalidBreaker {
    /// Consecutive failures were disabled and no failure rate was set: it could never trip.
    NoTripCondition,
    /// The consecutive-failure threshold was 0.
    ZeroConsecutiveFailures,
    /// The failure-rate threshold (carried) was not in `(0.0, 1.0]`.
    FailureRate(f64),
    /// The count window's size (carried) was 0 or above 2^20.
    CountWindow(u32),
    /// The time window's span was zero, or its bucket count (carried) was 0 or above
    /// 1024, or a bucket would be narrower than 1 µs.
    TimeWindow {
        /// The span given.
        span: Duration,
        /// The bucket count given.
        buckets: u32,
    },
    /// The minimum number of calls was 0, or above the count window's size (so the
    /// rate could never be judged).
    MinimumCalls {
        /// The minimum given.
        minimum_calls: u32,
        /// The count window's size, if the window counts calls.
        window: Option<u32>,
    },
    /// The slow-call threshold was zero: every call would be slow.
    ZeroSlowCall,
    /// The fixed cool-down was zero.
    ZeroCoolDown,
    /// The number of half-open probes was 0: it could never close again.
    ZeroProbes,
}

impl fmt::Display for InvalidBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTripCondition => f.write_str("no trip condition: set consecutive failures or a failure rate"),
            Self::ZeroConsecutiveFailures => f.write_str("consecutive failures must be at least 1"),
            Self::FailureRate(r) => write!(f, "failure rate must be in (0.0, 1.0], got {r}"),
            Self::CountWindow(n) => write!(f, "count window must hold 1 to 2^20 calls, got {n}"),
            Self::TimeWindow { span, buckets } => write!(
                f,
                "time window {span:?} in {buckets} buckets: need a non-zero span, 1 to 1024 buckets, each at least 1 µs"
            ),
            Self::MinimumCalls { minimum_calls, window: Some(w) } => write!(
                f,
                "minimum calls must be 1 to the window size {w}, got {minimum_calls}"
            ),
            Self::MinimumCalls { minimum_calls, window: None } => {
                write!(f, "minimum calls must be at least 1, got {minimum_calls}")
            }
            Self::ZeroSlowCall => f.write_str("slow-call threshold must be non-zero"),
            Self::ZeroCoolDown => f.write_str("cool-down must be non-zero"),
            Self::ZeroProbes => f.write_str("half-open probes must be at least 1"),
        }
    }
}

impl Error for InvalidBreaker {}

/// The breaker refused a call: it is open, or half-open with every probe slot taken.
///
/// Carries the state that refused and, when open, how long until the cool-down ends
/// (governor's `NotUntil`, for a breaker).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub(crate) state: State,
    /// Nanoseconds, `u64::MAX` for none: keeps the error (and `call`'s result) small.
    pub(crate) retry_after_ns: u64,
}

impl Rejected {
    /// The state that refused: [`State::Open`] or [`State::HalfOpen`].
    pub fn state(&self) -> State {
        self.state
    }

    /// When open: the time left in the cool-down, after which the next call becomes a
    /// probe. `None` when half-open with every probe slot taken (a slot frees when a
    /// probe finishes, so no time can be promised).
    pub fn retry_after(&self) -> Option<Duration> {
        (self.retry_after_ns != u64::MAX).then(|| Duration::from_nanos(self.retry_after_ns))
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("state", &self.state)
            .field("retry_after", &self.retry_after())
            .finish()
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.state, self.retry_after()) {
            (State::HalfOpen, _) => f.write_str("circuit half-open, probes busy"),
            (_, Some(d)) => write!(f, "circuit open, retry after {d:?}"),
            (_, None) => f.write_str("circuit open"),
        }
    }
}

impl Error for Rejected {}

/// The error of [`Breaker::call`](super::Breaker::call): rejected without running, or
/// the call's own error.
pub enum CallError<E> {
    /// The breaker refused; the closure was not called.
    Rejected(Rejected),
    /// The call ran and returned this error (whether it counted as a failure is the
    /// classifier's business).
    Inner(E),
}

impl<E> CallError<E> {
    /// The call's own error, if it ran.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            Self::Rejected(_) => None,
        }
    }

    /// Whether the breaker refused the call.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }
}

impl<E: fmt::Debug> fmt::Debug for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(r) => f.debug_tuple("Rejected").field(r).finish(),
            Self::Inner(e) => f.debug_tuple("Inner").field(e).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(r) => r.fmt(f),
            Self::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: Error + 'static> Error for CallError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Rejected(r) => Some(r),
            Self::Inner(e) => Some(e),
        }
    }
}

impl<E: PartialEq> PartialEq for CallError<E> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Rejected(a), Self::Rejected(b)) => a == b,
            (Self::Inner(a), Self::Inner(b)) => a == b,
            _ => false,
        }
    }
}
