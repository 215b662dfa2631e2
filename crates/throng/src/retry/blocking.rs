//! The blocking retry loop: [`retry_blocking`] and [`RetryBlocking`].

#[cfg(doc)]
use super::future::{retry, Retry};
use std::fmt;
use std::future::Future;
use std::task::Context;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::backoff::{entropy_rng, Backoff, RandomSource};
use super::decide::{Decider, Next};
use super::error::{RetryError, StopReason};
use super::predicate::{AnyError, NoHint, RetryAfter, RetryIf};

/// Runs `op` on the current thread until it succeeds or the `policy` gives up.
///
/// The blocking twin of [`retry()`] for synchronous code (not for async tasks: it blocks
/// the thread). Configure it like the async form, then call
/// [`run`](RetryBlocking::run). The same guarantees hold (first attempt always runs, no
/// skipped attempt, no wait after the last one, time budget checked before each wait),
/// with time measured by [`std::time::Instant`].
///
/// Waits use [`std::thread::sleep`], or, once a token is attached with
/// [`cancel_on`](RetryBlocking::cancel_on), a park that the token's cancellation wakes at
/// once (it needs no runtime).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::retry::{retry_blocking, Backoff};
///
/// let policy = Backoff::builder()
///     .initial_delay(Duration::from_millis(1))
///     .max_attempts(5)
///     .build()?;
/// let value = retry_blocking(&policy, |attempt| {
///     if attempt < 2 { Err(std::io::Error::other("busy")) } else { Ok(attempt) }
/// })
/// .run()?;
/// assert_eq!(value, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn retry_blocking<F>(policy: &Backoff, op: F) -> RetryBlocking<'static, F> {
    RetryBlocking {
        policy: *policy,
        token: None,
        op,
        retry_if: AnyError,
        hint: NoHint,
        rng: entropy_rng(),
    }
}

/// A configured blocking retry; call [`run`](Self::run). Built by [`retry_blocking`].
#[must_use = "a blocking retry does nothing until `run` is called"]
pub struct RetryBlocking<'t, F, P = AnyError, H = NoHint, R = fastrand::Rng> {
    policy: Backoff,
    token: Option<&'t CancellationToken>,
    op: F,
    retry_if: P,
    hint: H,
    rng: R,
}

impl<F, P, H, R> fmt::Debug for RetryBlocking<'_, F, P, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBlocking")
            .field("policy", &self.policy)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<'t, F, P, H, R> RetryBlocking<'t, F, P, H, R> {
    /// As [`Retry::retry_if`].
    pub fn retry_if<P2, T, E>(self, pred: P2) -> RetryBlocking<'t, F, P2, H, R>
    where
        F: FnMut(u32) -> Result<T, E>,
        P2: FnMut(&E) -> bool,
    {
        RetryBlocking {
            policy: self.policy,
            token: self.token,
            op: self.op,
            retry_if: pred,
            hint: self.hint,
            rng: self.rng,
        }
    }

    /// As [`Retry::retry_after`].
    pub fn retry_after<H2, T, E>(self, hint: H2) -> RetryBlocking<'t, F, P, H2, R>
    where
        F: FnMut(u32) -> Result<T, E>,
        H2: FnMut(&E) -> Option<Duration>,
    {
        RetryBlocking {
            policy: self.policy,
            token: self.token,
            op: self.op,
            retry_if: self.retry_if,
            hint,
            rng: self.rng,
        }
    }

    /// As [`Retry::rng`].
    pub fn rng<R2: RandomSource>(self, rng: R2) -> RetryBlocking<'t, F, P, H, R2> {
        RetryBlocking {
            policy: self.policy,
            token: self.token,
            op: self.op,
            retry_if: self.retry_if,
            hint: self.hint,
            rng,
        }
    }

    /// Stops retrying when `token` is cancelled: it is checked before each retry, and a
    /// wait in progress wakes up at once. An attempt in flight is not interrupted.
    pub fn cancel_on<'u>(self, token: &'u CancellationToken) -> RetryBlocking<'u, F, P, H, R> {
        RetryBlocking {
            policy: self.policy,
            token: Some(token),
            op: self.op,
            retry_if: self.retry_if,
            hint: self.hint,
            rng: self.rng,
        }
    }

    /// Runs the attempts on this thread.
    ///
    /// # Errors
    ///
    /// As [`retry()`]: a [`RetryError`] with the last error, the attempt count and the
    /// [`StopReason`].
    pub fn run<T, E>(self) -> Result<T, RetryError<E>>
    where
        F: FnMut(u32) -> Result<T, E>,
        P: RetryIf<E>,
        H: RetryAfter<E>,
        R: RandomSource,
    {
        let mut op = self.op;
        let mut decider = Decider {
            state: self.policy.state(),
            retry_if: self.retry_if,
            hint: self.hint,
            rng: self.rng,
        };
        let is_cancelled = || self.token.is_some_and(CancellationToken::is_cancelled);
        let start = std::time::Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match op(attempts) {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let reason = match decider.after_failure(&error, start.elapsed(), is_cancelled()) {
                Next::Stop(reason) => reason,
                Next::Wait(delay) => match blocking_wait(self.token, delay) {
                    Waited::Elapsed => continue,
                    Waited::Cancelled => StopReason::Cancelled,
                },
            };
            return Err(RetryError::new(error, attempts, reason));
        }
    }
}

enum Waited {
    Elapsed,
    Cancelled,
}

/// Sleeps `delay` on this thread, waking early if `token` is cancelled.
fn blocking_wait(token: Option<&CancellationToken>, delay: Duration) -> Waited {
    use std::task::{Wake, Waker};

    let Some(token) = token else {
        std::thread::sleep(delay);
        return Waited::Elapsed;
    };

    /// Wakes the parked retrying thread (std `Arc`: `Waker::from` requires it).
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }

    let start = std::time::Instant::now();
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut cancelled = std::pin::pin!(token.cancelled());
    loop {
        // Polling registers the waker, so a cancel after this poll unparks us.
        if cancelled.as_mut().poll(&mut cx).is_ready() {
            return Waited::Cancelled;
        }
        let waited = start.elapsed();
        if waited >= delay {
            return Waited::Elapsed;
        }
        // Spurious unparks just loop around.
        std::thread::park_timeout(delay - waited);
    }
}
