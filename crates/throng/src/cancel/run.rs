//! Running one future against a token and a deadline.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::Stopped;

/// Runs `fut` until it finishes, `token` is cancelled, or `deadline` passes, and says which.
///
/// The free-function form of [`Scope::run`](super::Scope::run), for code that already holds
/// a bare [`CancellationToken`] (a pool's per-job token, say). `None` means no deadline.
///
/// Order of checks:
///
/// 1. A token that is already cancelled, or a deadline already past, returns at once
///    **without polling `fut`**: a stopped scope starts no work.
/// 2. On each wake-up, cancellation is checked before the work. Work that watches a child
///    of `token` (as [`Scope::run_with`](super::Scope::run_with) arranges) may finish
///    *because* of the cancellation; its reaction does not mask the reason, you get
///    [`Stopped::Cancelled`].
/// 3. The work is polled before the deadline, so work that finishes in the instant the
///    deadline passes keeps its value, as with [`tokio::time::timeout`].
///
/// When both stop conditions hold, [`Stopped::Cancelled`] wins.
///
/// On a stop the future is dropped before this returns, which cancels it at its current
/// `.await`. Work it spawned elsewhere is *not* reached by the drop: hand it a token with
/// [`Scope::run_with`](super::Scope::run_with) instead.
///
/// # Errors
///
/// [`Stopped::Cancelled`] if `token` was cancelled first, [`Stopped::DeadlineExceeded`] if
/// `deadline` passed first.
///
/// # Cancel safety
///
/// Dropping the returned future drops `fut`; it is exactly as cancel-safe as `fut`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::cancel::{run_until, CancellationToken, Stopped};
/// use tokio::time::{sleep, Instant};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let token = CancellationToken::new();
/// let deadline = Instant::now() + Duration::from_millis(50);
///
/// assert_eq!(run_until(&token, Some(deadline), async { 7 }).await, Ok(7));
///
/// let slow = sleep(Duration::from_millis(100));
/// assert_eq!(run_until(&token, Some(deadline), slow).await, Err(Stopped::DeadlineExceeded));
///
/// token.cancel();
/// assert_eq!(run_until(&token, None, async { 7 }).await, Err(Stopped::Cancelled));
/// # }
/// ```
pub async fn run_until<F: Future>(
    token: &CancellationToken,
    deadline: Option<Instant>,
    fut: F,
) -> Result<F::Output, Stopped> {
    if token.is_cancelled() {
        return Err(Stopped::Cancelled);
    }
    if let Some(d) = deadline {
        if Instant::now() >= d {
            return Err(Stopped::DeadlineExceeded);
        }
    }
    let mut fut = pin!(fut);
    // The waiter and the timer are created lazily: work that is ready on its first poll
    // touches neither.
    let mut cancelled = pin!(None);
    let mut sleep = pin!(None);
    // `is_cancelled` takes the token's lock; the check above covers the first poll.
    let mut first = true;
    poll_fn(|cx| {
        // Cancellation first: work that watches a child of `token` may be finishing *because*
        // of this cancellation, and its reaction must not mask the reason.
        if !std::mem::take(&mut first) && token.is_cancelled() {
            return Poll::Ready(Err(Stopped::Cancelled));
        }
        // Then the work, before the deadline: work that finishes as the deadline passes
        // keeps its value (as with `tokio::time::timeout`).
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // Registers for the wake-up; only reached when the work is pending.
        if cancelled.is_none() {
            cancelled.set(Some(token.cancelled()));
        }
        if let Some(c) = cancelled.as_mut().as_pin_mut() {
            if c.poll(cx).is_ready() {
                return Poll::Ready(Err(Stopped::Cancelled));
            }
        }
        if let Some(d) = deadline {
            if sleep.is_none() {
                sleep.set(Some(sleep_until(d)));
            }
            if let Some(s) = sleep.as_mut().as_pin_mut() {
                if s.poll(cx).is_ready() {
                    return Poll::Ready(Err(Stopped::DeadlineExceeded));
                }
            }
        }
        Poll::Pending
    })
    .await
}

/// Like [`run_until`], but the work is built from a token it can watch, and that token is
/// cancelled as soon as this returns, whatever the outcome.
///
/// The form of [`Scope::run_with`](super::Scope::run_with) for a bare token. The work's token
/// is a child of `token`: cancelling `token` cancels it, cancelling it does not cancel
/// `token`.
///
/// # Errors
///
/// As [`run_until`]. `make` is not called at all if the token is already cancelled or the
/// deadline already past.
///
/// # Cancel safety
///
/// Dropping the returned future drops the work and cancels its token.
pub async fn run_with_until<F, Fut>(
    token: &CancellationToken,
    deadline: Option<Instant>,
    make: F,
) -> Result<Fut::Output, Stopped>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future,
{
    if token.is_cancelled() {
        return Err(Stopped::Cancelled);
    }
    if let Some(d) = deadline {
        if Instant::now() >= d {
            return Err(Stopped::DeadlineExceeded);
        }
    }
    let work_token = token.child_token();
    // Cancels the work's token on every exit path: value, stop, or this future being dropped.
    let _guard = work_token.clone().drop_guard();
    run_until(token, deadline, make(work_token)).await
}
