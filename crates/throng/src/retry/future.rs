//! The async retry loop: [`retry`], [`Retry`] and the [`RetryFuture`] it runs as.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::backoff::{entropy_rng, Backoff, RandomSource};
use super::decide::{Decider, Next};
use super::error::{RetryError, StopReason};
use super::predicate::{AnyError, NoHint, RetryAfter, RetryIf};

/// Runs `op` until it succeeds or the `policy` gives up, sleeping between attempts.
///
/// `op` receives the attempt number (1 for the first attempt) and returns a future of
/// `Result<T, E>`. The returned [`Retry`] is a builder you can `.await` directly or
/// refine first with [`retry_if`](Retry::retry_if), [`retry_after`](Retry::retry_after)
/// and [`rng`](Retry::rng).
///
/// Guarantees:
/// - the first attempt always runs, and attempt `n + 1` starts only after attempt `n`
///   failed with a retryable error; no attempt is skipped (S15-7d);
/// - there is no wait after the last attempt (S15-7c);
/// - every wait ends at once when `token` is cancelled (S15-7b); the token is also
///   checked before each retry. It does not interrupt an attempt in flight: give the
///   token to `op` if the work itself should stop;
/// - a retry that would start later than [`Backoff::max_elapsed`] after the first attempt
///   is not slept for: retrying stops at once with [`StopReason::ElapsedExceeded`]. The
///   budget does not cut an attempt short (wrap `op` in a timeout for that);
/// - time is tokio time, so tests can run it on paused time.
///
/// # Errors
///
/// A [`RetryError`] with the last attempt's error, the number of attempts and the
/// [`StopReason`]: `Exhausted`, `NotRetryable`, `ElapsedExceeded` or `Cancelled`.
///
/// # Panics
///
/// The future must be run inside a tokio runtime with the time driver enabled (it
/// sleeps with [`tokio::time::sleep_until`]). Polling it again after it completed panics,
/// as for most futures.
///
/// # Cancel safety
///
/// Dropping the future drops the attempt in flight (if any) and its wait; no attempt is
/// started after the drop. Whether the dropped attempt had side effects is up to `op`.
///
/// # Examples
///
/// ```
/// use std::io::{Error, ErrorKind};
/// use std::time::Duration;
/// use throng::retry::{retry, Backoff, StopReason};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = Backoff::builder()
///     .initial_delay(Duration::from_millis(100))
///     .max_attempts(4)
///     .build()?;
/// let token = CancellationToken::new();
///
/// // Succeeds on the third attempt.
/// let value = retry(&policy, &token, |attempt| async move {
///     if attempt < 3 { Err(Error::from(ErrorKind::WouldBlock)) } else { Ok(attempt * 10) }
/// })
/// .await?;
/// assert_eq!(value, 30);
///
/// // A permanent error stops at once.
/// let err = retry(&policy, &token, |_| async {
///     Err::<(), _>(Error::from(ErrorKind::PermissionDenied))
/// })
/// .retry_if(|e| e.kind() != ErrorKind::PermissionDenied)
///     .await
///     .unwrap_err();
/// assert_eq!((err.attempts(), err.reason()), (1, StopReason::NotRetryable));
/// # Ok(())
/// # }
/// ```
pub fn retry<F>(policy: &Backoff, token: &CancellationToken, op: F) -> Retry<F> {
    Retry {
        policy: *policy,
        token: token.clone(),
        op,
        retry_if: AnyError,
        hint: NoHint,
        rng: entropy_rng(),
    }
}

impl Backoff {
    /// Runs `op` under this policy with no cancellation token: the simple case, as
    /// backon's `.retry(backoff)`. Same as [`retry()`] with a token nobody cancels;
    /// attach one later with [`Retry::cancel_on`] if shutdown should end the waits.
    ///
    /// # Errors
    ///
    /// As [`retry()`]: a [`RetryError`] with the last error, the attempt count and the
    /// [`StopReason`] (never `Cancelled` unless a token was attached).
    ///
    /// # Cancel safety
    ///
    /// As [`retry()`]: dropping the future drops the attempt in flight and its wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Error, ErrorKind};
    /// use throng::retry::Backoff;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // 3 attempts, 100 ms then 200 ms (full jitter), capped at 10 s.
    /// let value = Backoff::default()
    ///     .retry(|attempt| async move {
    ///         if attempt < 3 { Err(Error::from(ErrorKind::TimedOut)) } else { Ok(attempt) }
    ///     })
    ///     .await?;
    /// assert_eq!(value, 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn retry<F>(&self, op: F) -> Retry<F> {
        Retry {
            policy: *self,
            token: CancellationToken::new(),
            op,
            retry_if: AnyError,
            hint: NoHint,
            rng: entropy_rng(),
        }
    }
}

/// A configured async retry; `.await` it. Built by [`retry()`] or [`Backoff::retry`].
#[must_use = "a retry does nothing until awaited"]
pub struct Retry<F, P = AnyError, H = NoHint, R = fastrand::Rng> {
    policy: Backoff,
    token: CancellationToken,
    op: F,
    retry_if: P,
    hint: H,
    rng: R,
}

impl<F, P, H, R> fmt::Debug for Retry<F, P, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", &self.policy)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<F, P, H, R> Retry<F, P, H, R> {
    /// Retries only errors for which `pred` returns `true`; others stop at once with
    /// [`StopReason::NotRetryable`]. The default retries every error.
    ///
    /// Classify by kind or type (`matches!`, `io::Error::kind`, `downcast_ref`), not by
    /// comparing error values with `==` (S15-7f).
    pub fn retry_if<P2, Fut, T, E>(self, pred: P2) -> Retry<F, P2, H, R>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        P2: FnMut(&E) -> bool,
    {
        Retry {
            policy: self.policy,
            token: self.token,
            op: self.op,
            retry_if: pred,
            hint: self.hint,
            rng: self.rng,
        }
    }

    /// Reads a retry-after hint from each error (an HTTP `Retry-After`, a broker's
    /// back-pressure advice). When it returns `Some(d)`, the wait is `max(computed, d)`:
    /// a hint can lengthen the wait, never shorten it, and may exceed
    /// [`max_delay`](Backoff::max_delay) (the server knows best). It is still bounded by
    /// [`max_elapsed`](Backoff::max_elapsed): a hint that would overrun the budget stops
    /// retrying with [`StopReason::ElapsedExceeded`].
    pub fn retry_after<H2, Fut, T, E>(self, hint: H2) -> Retry<F, P, H2, R>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        H2: FnMut(&E) -> Option<Duration>,
    {
        Retry {
            policy: self.policy,
            token: self.token,
            op: self.op,
            retry_if: self.retry_if,
            hint,
            rng: self.rng,
        }
    }

    /// Stops retrying when `token` is cancelled (replacing the token given to
    /// [`retry()`], if any): checked before each retry, and a wait in progress ends at
    /// once with [`StopReason::Cancelled`]. An attempt in flight is not interrupted.
    pub fn cancel_on(mut self, token: &CancellationToken) -> Self {
        self.token = token.clone();
        self
    }

    /// Draws jitter from `rng` instead of a generator seeded from OS entropy. Pass
    /// `fastrand::Rng::with_seed(..)` for reproducible delays.
    pub fn rng<R2: RandomSource>(self, rng: R2) -> Retry<F, P, H, R2> {
        Retry {
            policy: self.policy,
            token: self.token,
            op: self.op,
            retry_if: self.retry_if,
            hint: self.hint,
            rng,
        }
    }
}

impl<F, Fut, T, E, P, H, R> IntoFuture for Retry<F, P, H, R>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    P: RetryIf<E>,
    H: RetryAfter<E>,
    R: RandomSource,
{
    type Output = Result<T, RetryError<E>>;
    type IntoFuture = RetryFuture<F, Fut, E, P, H, R>;

    fn into_future(self) -> Self::IntoFuture {
        RetryFuture {
            decider: Decider {
                state: self.policy.state(),
                retry_if: self.retry_if,
                hint: self.hint,
                rng: self.rng,
            },
            token: self.token,
            op: self.op,
            phase: Phase::Start,
            sleep: None,
            cancelled: None,
            last: None,
            attempts: 0,
            start: None,
        }
    }
}

enum Phase<Fut> {
    Start,
    Running(Pin<Box<Fut>>),
    Sleeping,
    Done,
}

/// The future of an async [`retry()`]: resolves to the first success or a
/// [`RetryError`].
#[must_use = "futures do nothing unless awaited"]
pub struct RetryFuture<F, Fut, E, P, H, R> {
    decider: Decider<P, H, R>,
    token: CancellationToken,
    op: F,
    phase: Phase<Fut>,
    sleep: Option<Pin<Box<Sleep>>>,
    cancelled: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    /// The error of the attempt we are waiting to retry (returned if cancelled).
    last: Option<E>,
    attempts: u32,
    start: Option<Instant>,
}

// Every self-referential part (the attempt, the sleep, the cancellation wait) is boxed,
// and no field is ever pinned in place, so moving the future is fine.
impl<F, Fut, E, P, H, R> Unpin for RetryFuture<F, Fut, E, P, H, R> {}

impl<F, Fut, E, P, H, R> fmt::Debug for RetryFuture<F, Fut, E, P, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Start => "start",
            Phase::Running(_) => "running",
            Phase::Sleeping => "sleeping",
            Phase::Done => "done",
        };
        f.debug_struct("RetryFuture")
            .field("phase", &phase)
            .field("attempts", &self.attempts)
            .field("state", &self.decider.state)
            .finish_non_exhaustive()
    }
}

/// `now + d`, saturating to about 30 years for absurd delays instead of overflowing.
fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

impl<F, Fut, T, E, P, H, R> Future for RetryFuture<F, Fut, E, P, H, R>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    P: RetryIf<E>,
    H: RetryAfter<E>,
    R: RandomSource,
{
    type Output = Result<T, RetryError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Start => {
                    let now = Instant::now();
                    this.start.get_or_insert(now);
                    this.attempts += 1;
                    this.phase = Phase::Running(Box::pin((this.op)(this.attempts)));
                }
                Phase::Running(attempt) => {
                    let error = match ready!(attempt.as_mut().poll(cx)) {
                        Ok(value) => {
                            this.phase = Phase::Done;
                            return Poll::Ready(Ok(value));
                        }
                        Err(error) => error,
                    };
                    this.phase = Phase::Done;
                    let now = Instant::now();
                    let elapsed = now.saturating_duration_since(this.start.unwrap_or(now));
                    let next =
                        this.decider
                            .after_failure(&error, elapsed, this.token.is_cancelled());
                    match next {
                        Next::Stop(reason) => {
                            return Poll::Ready(Err(RetryError::new(error, this.attempts, reason)));
                        }
                        Next::Wait(delay) => {
                            let deadline = deadline_after(now, delay);
                            match &mut this.sleep {
                                Some(sleep) => sleep.as_mut().reset(deadline),
                                None => {
                                    this.sleep = Some(Box::pin(tokio::time::sleep_until(deadline)))
                                }
                            }
                            this.last = Some(error);
                            this.phase = Phase::Sleeping;
                        }
                    }
                }
                Phase::Sleeping => {
                    let token = &this.token;
                    let cancelled = this
                        .cancelled
                        .get_or_insert_with(|| Box::pin(token.clone().cancelled_owned()));
                    // Biased: a cancellation that raced the timer wins.
                    if cancelled.as_mut().poll(cx).is_ready() {
                        this.phase = Phase::Done;
                        let error = this.last.take().expect("sleeping holds the last error");
                        return Poll::Ready(Err(RetryError::new(
                            error,
                            this.attempts,
                            StopReason::Cancelled,
                        )));
                    }
                    let sleep = this.sleep.as_mut().expect("sleeping holds a timer");
                    ready!(sleep.as_mut().poll(cx));
                    this.last = None;
                    this.phase = Phase::Start;
                }
                Phase::Done => panic!("`RetryFuture` polled after completion"),
            }
        }
    }
}
