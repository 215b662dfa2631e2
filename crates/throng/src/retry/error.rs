//! Errors of the retry module: bad configuration, and giving up.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A [`BackoffBuilder`](super::BackoffBuilder) setting broke one of these rules:
///
/// 1. the initial delay is non-zero ([`ZeroInitialDelay`](Self::ZeroInitialDelay));
/// 2. the multiplier is finite and at least 1.0 ([`Multiplier`](Self::Multiplier));
/// 3. the max delay (the cap) is at least the initial delay
///    ([`MaxDelayBelowInitial`](Self::MaxDelayBelowInitial));
/// 4. max attempts is at least 1 ([`ZeroAttempts`](Self::ZeroAttempts));
/// 5. max elapsed, when set, is non-zero ([`ZeroMaxElapsed`](Self::ZeroMaxElapsed)).
///
/// [`build`](super::BackoffBuilder::build) reports the first broken rule in this order.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum InvalidBackoff {
    /// The initial delay was zero: every exponential delay would be zero, a retry storm.
    ZeroInitialDelay,
    /// The multiplier (carried) was below 1.0, NaN or infinite.
    Multiplier(f64),
    /// The max delay was below the initial delay.
    MaxDelayBelowInitial {
        /// The initial delay given.
        initial_delay: Duration,
        /// The max delay given.
        max_delay: Duration,
    },
    /// Max attempts was 0: the operation would never be tried.
    ZeroAttempts,
    /// Max elapsed was set to zero.
    ZeroMaxElapsed,
}

impl fmt::Display for InvalidBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroInitialDelay => f.write_str("initial delay must be non-zero"),
            Self::Multiplier(m) => write!(f, "multiplier must be finite and >= 1.0, got {m}"),
            Self::MaxDelayBelowInitial {
                initial_delay,
                max_delay,
            } => write!(
                f,
                "max delay {max_delay:?} is below initial delay {initial_delay:?}"
            ),
            Self::ZeroAttempts => f.write_str("max attempts must be at least 1"),
            Self::ZeroMaxElapsed => f.write_str("max elapsed must be non-zero when set"),
        }
    }
}

impl Error for InvalidBackoff {}

/// Why retrying stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// Every allowed attempt was made and the last one failed.
    Exhausted,
    /// The retry predicate classified the error as permanent.
    NotRetryable,
    /// The next attempt would have started after the time budget
    /// ([`Backoff::max_elapsed`](super::Backoff::max_elapsed)), so retrying stopped at
    /// once instead of sleeping.
    ElapsedExceeded,
    /// The cancellation token fired before or during a wait between attempts.
    Cancelled,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exhausted => "attempts exhausted",
            Self::NotRetryable => "error not retryable",
            Self::ElapsedExceeded => "time budget exceeded",
            Self::Cancelled => "cancelled",
        })
    }
}

/// Retrying gave up: the last error, how many attempts were made, and why it stopped.
///
/// Match the cause by type or predicate, not by `==` (the seed compared `err ==
/// ErrQueueFull`, S15-7f): [`inner`](Self::inner) and [`into_inner`](Self::into_inner)
/// hand it back, and [`source`](Error::source) exposes it for `downcast_ref`.
///
/// `Display` does not repeat the cause (it is the `source`), so error reporters that
/// walk the chain print it once.
pub struct RetryError<E> {
    error: E,
    attempts: u32,
    reason: StopReason,
}

impl<E> RetryError<E> {
    pub(crate) fn new(error: E, attempts: u32, reason: StopReason) -> Self {
        Self {
            error,
            attempts,
            reason,
        }
    }

    /// The error of the last attempt.
    pub fn inner(&self) -> &E {
        &self.error
    }

    /// Consumes the error, returning the last attempt's error.
    pub fn into_inner(self) -> E {
        self.error
    }

    /// How many attempts were made (at least 1).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why retrying stopped.
    pub fn reason(&self) -> StopReason {
        self.reason
    }

    /// Whether retrying stopped because the token was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.reason == StopReason::Cancelled
    }
}

impl<E: fmt::Debug> fmt::Debug for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryError")
            .field("error", &self.error)
            .field("attempts", &self.attempts)
            .field("reason", &self.reason)
            .finish()
    }
}

impl<E> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "gave up after {} attempt{s}: {}",
            self.attempts, self.reason
        )
    }
}

impl<E: Error + 'static> Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}
