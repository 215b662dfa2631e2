//! The decision step both retry loops share: after a failed attempt, stop or wait how
//! long.

use std::time::Duration;

use super::backoff::{BackoffState, RandomSource};
use super::error::StopReason;
use super::predicate::{RetryAfter, RetryIf};

/// What to do after a failed attempt.
pub(super) enum Next {
    Wait(Duration),
    Stop(StopReason),
}

/// The policy state plus the caller's classification: one pure decision per failure.
pub(super) struct Decider<P, H, R> {
    pub(super) state: BackoffState,
    pub(super) retry_if: P,
    pub(super) hint: H,
    pub(super) rng: R,
}

impl<P, H, R: RandomSource> Decider<P, H, R> {
    /// `elapsed` is measured from the start of the first attempt. With the `tracing`
    /// feature, each decision is a `throng::retry` event.
    pub(super) fn after_failure<E>(&mut self, error: &E, elapsed: Duration, cancelled: bool) -> Next
    where
        P: RetryIf<E>,
        H: RetryAfter<E>,
    {
        #[cfg(feature = "tracing")]
        let attempt = self.state.retries() + 1;
        let next = self.decide(error, elapsed, cancelled);
        #[cfg(feature = "tracing")]
        match &next {
            Next::Wait(delay) => tracing::debug!(
                target: "throng::retry",
                attempt, ?delay, ?elapsed,
                "attempt failed, retrying"
            ),
            Next::Stop(reason) => tracing::debug!(
                target: "throng::retry",
                attempt, %reason, ?elapsed,
                "attempt failed, giving up"
            ),
        }
        next
    }

    pub(super) fn decide<E>(&mut self, error: &E, elapsed: Duration, cancelled: bool) -> Next
    where
        P: RetryIf<E>,
        H: RetryAfter<E>,
    {
        if !self.retry_if.should_retry(error) {
            return Next::Stop(StopReason::NotRetryable);
        }
        let Some(computed) = self.state.next_delay(&mut self.rng) else {
            return Next::Stop(StopReason::Exhausted);
        };
        if cancelled {
            return Next::Stop(StopReason::Cancelled);
        }
        let delay = match self.hint.retry_after(error) {
            Some(hint) => computed.max(hint),
            None => computed,
        };
        if let Some(budget) = self.state.policy().max_elapsed() {
            if elapsed.saturating_add(delay) > budget {
                return Next::Stop(StopReason::ElapsedExceeded);
            }
        }
        Next::Wait(delay)
    }
}
