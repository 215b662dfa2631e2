//! [`BackoffPolicy`]: a `tower::retry::Policy` from a [`Backoff`].

use std::fmt;
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::retry::Policy;

use crate::retry::{Backoff, BackoffState};

/// Decides which results are worth another attempt; see [`BackoffPolicy::retry_if`].
///
/// Implemented for every `Fn(&Result<T, E>) -> bool` and for [`RetryErrors`] (the
/// default).
pub trait RetryResult<T, E> {
    /// `true` if `result` should be retried.
    fn should_retry(&self, result: &Result<T, E>) -> bool;
}

impl<T, E, F: Fn(&Result<T, E>) -> bool> RetryResult<T, E> for F {
    fn should_retry(&self, result: &Result<T, E>) -> bool {
        self(result)
    }
}

/// The default: every `Err` is retried, no `Ok` is.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryErrors;

impl<T, E> RetryResult<T, E> for RetryErrors {
    fn should_retry(&self, result: &Result<T, E>) -> bool {
        result.is_err()
    }
}

/// Reads a "retry after" hint from a result; see [`BackoffPolicy::retry_after`].
///
/// Implemented for every `Fn(&Result<T, E>) -> Option<Duration>` and for [`NoHint`].
pub trait RetryAfterHint<T, E> {
    /// The minimum wait `result` asks for, if it carries one.
    fn retry_after(&self, result: &Result<T, E>) -> Option<Duration>;
}

impl<T, E, F: Fn(&Result<T, E>) -> Option<Duration>> RetryAfterHint<T, E> for F {
    fn retry_after(&self, result: &Result<T, E>) -> Option<Duration> {
        self(result)
    }
}

/// The default: results carry no hint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHint;

impl<T, E> RetryAfterHint<T, E> for NoHint {
    fn retry_after(&self, _: &Result<T, E>) -> Option<Duration> {
        None
    }
}

/// A `tower::retry::Policy` that waits by a [`Backoff`] between attempts.
///
/// Use it with `tower::retry::RetryLayer::new(policy)`. For each request:
///
/// - at most [`Backoff::max_attempts`] attempts (the first included) are made;
/// - a result is retried only if the [`retry_if`](Self::retry_if) predicate says so
///   (by default: every `Err`, no `Ok`);
/// - the waits are the backoff's delays, with its jitter, raised (never lowered) by a
///   [`retry_after`](Self::retry_after) hint;
/// - with [`Backoff::max_elapsed`], no retry starts later than that after the request
///   was first called (tower clones the policy when the request is called; the budget
///   starts then);
/// - the request must be `Clone` (each attempt sends a copy).
///
/// The waits run on tokio's timer (paused time works in tests). Tower clones the policy
/// for each request, and each clone starts a fresh schedule with its own jitter. With
/// the `tracing` feature each decision is a `debug` event on the `throng::retry` target.
///
/// In a busy server, pair it with a retry budget (tower's `TpsBudget`), so retries
/// cannot multiply the load on a downstream that is already failing.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use throng::retry::Backoff;
/// use throng::tower::BackoffPolicy;
/// use tower::retry::RetryLayer;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let calls = Arc::new(AtomicU32::new(0));
/// let seen = calls.clone();
/// let flaky = service_fn(move |req: u32| {
///     let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
///     async move { if n < 3 { Err("busy") } else { Ok(req + n) } }
/// });
/// let policy = BackoffPolicy::new(Backoff::builder().max_attempts(4).build().unwrap())
///     .retry_if(|r: &Result<u32, &str>| matches!(r, Err("busy")));
/// let svc = RetryLayer::new(policy).layer(flaky);
///
/// assert_eq!(svc.oneshot(10).await, Ok(13)); // the third attempt succeeded
/// assert_eq!(calls.load(Ordering::Relaxed), 3);
/// # }
/// ```
pub struct BackoffPolicy<P = RetryErrors, H = NoHint> {
    backoff: Backoff,
    state: BackoffState,
    started: Instant,
    rng: fastrand::Rng,
    retry_if: P,
    hint: H,
}

impl BackoffPolicy {
    /// A policy with `backoff`'s attempts, delays and budget, retrying every error.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            state: backoff.state(),
            started: Instant::now(),
            rng: crate::retry::entropy_rng(),
            retry_if: RetryErrors,
            hint: NoHint,
        }
    }
}

impl<P, H> BackoffPolicy<P, H> {
    /// Retries only results for which `pred` returns `true`. Classify by kind (a
    /// timeout, a connection error, a `503` response), never retry what will not get
    /// better (a `400`), and think twice about requests that are not idempotent.
    pub fn retry_if<P2>(self, pred: P2) -> BackoffPolicy<P2, H> {
        BackoffPolicy {
            backoff: self.backoff,
            state: self.state,
            started: self.started,
            rng: self.rng,
            retry_if: pred,
            hint: self.hint,
        }
    }

    /// Reads a retry-after hint from each retried result (a `Retry-After` header, a
    /// breaker's [`Rejected::retry_after`](crate::breaker::Rejected::retry_after)): the
    /// wait is then `max(computed, hint)`, still bounded by `max_elapsed`.
    pub fn retry_after<H2>(self, hint: H2) -> BackoffPolicy<P, H2> {
        BackoffPolicy {
            backoff: self.backoff,
            state: self.state,
            started: self.started,
            rng: self.rng,
            retry_if: self.retry_if,
            hint,
        }
    }

    /// The backoff this policy follows.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Retries granted so far in this request session.
    pub fn retries(&self) -> u32 {
        self.state.retries()
    }
}

/// A fresh session: a new schedule, a new jitter stream, the budget starting now.
impl<P: Clone, H: Clone> Clone for BackoffPolicy<P, H> {
    fn clone(&self) -> Self {
        Self {
            backoff: self.backoff,
            state: self.backoff.state(),
            started: Instant::now(),
            rng: crate::retry::entropy_rng(),
            retry_if: self.retry_if.clone(),
            hint: self.hint.clone(),
        }
    }
}

impl<P, H> fmt::Debug for BackoffPolicy<P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackoffPolicy")
            .field("backoff", &self.backoff)
            .field("retries", &self.state.retries())
            .finish_non_exhaustive()
    }
}

impl<Req, T, E, P, H> Policy<Req, T, E> for BackoffPolicy<P, H>
where
    Req: Clone,
    P: RetryResult<T, E>,
    H: RetryAfterHint<T, E>,
{
    type Future = Sleep;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<T, E>) -> Option<Self::Future> {
        if !self.retry_if.should_retry(result) {
            return None;
        }
        let attempt = self.state.retries() + 1;
        let Some(computed) = self.state.next_delay(&mut self.rng) else {
            #[cfg(feature = "tracing")]
            tracing::debug!(target: "throng::retry", attempt, "attempt failed, attempts exhausted");
            return None;
        };
        let delay = match self.hint.retry_after(result) {
            Some(hint) => computed.max(hint),
            None => computed,
        };
        let elapsed = self.started.elapsed();
        if let Some(budget) = self.backoff.max_elapsed() {
            if elapsed.saturating_add(delay) > budget {
                #[cfg(feature = "tracing")]
                tracing::debug!(
                    target: "throng::retry",
                    attempt, ?delay, ?elapsed,
                    "attempt failed, time budget exceeded"
                );
                return None;
            }
        }
        #[cfg(feature = "tracing")]
        tracing::debug!(target: "throng::retry", attempt, ?delay, ?elapsed, "attempt failed, retrying");
        #[cfg(not(feature = "tracing"))]
        let _ = attempt;
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}
