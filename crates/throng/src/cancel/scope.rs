//! [`Scope`]: a cancellation token, an optional deadline and the tasks spawned under them.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::{task_tracker::TaskTrackerToken, TaskTracker};

use super::run::{run_until, run_with_until};
use super::{ScopedJoinHandle, ShutdownReport, Stopped};
use crate::abort::{Deregister, Registry};

/// A cancellation token, an optional deadline, and the tasks spawned under them: Go's
/// `context.Context` plus an owner for every goroutine started in it.
///
/// A `Scope` is a cheap handle (a few reference counts); clones share everything, so any
/// clone can cancel the scope, spawn into it or shut it down. [`child`](Scope::child) makes a
/// new scope nested in this one:
///
/// - cancelling a scope cancels all its children (and theirs); cancelling a child leaves
///   the parent alone;
/// - a child's deadline is the earlier of its own and its parent's;
/// - a child's tasks also count as the parent's, so the parent's
///   [`close_and_wait`](Scope::close_and_wait) and [`shutdown`](Scope::shutdown) wait for
///   them too.
///
/// The deadline is a [`tokio::time::Instant`], so paused-time tests control it. Passing the
/// deadline does not cancel the token by itself; it stops whatever is being run or spawned
/// under the scope ([`run`](Scope::run) returns [`Stopped::DeadlineExceeded`], spawned work
/// gets its token cancelled), and [`stop_reason`](Scope::stop_reason) reports it.
///
/// Dropping a `Scope` cancels nothing (clones are everywhere); call
/// [`shutdown`](Scope::shutdown), or hold `scope.token().clone().drop_guard()` for
/// cancel-on-drop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::cancel::{Scope, Stopped};
/// use tokio::time::sleep;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let request = Scope::with_timeout(Duration::from_secs(1));
/// let lookup = request.child_with_timeout(Duration::from_millis(100));
///
/// assert_eq!(lookup.run(async { "cached" }).await, Ok("cached"));
/// let slow = lookup.run(sleep(Duration::from_secs(5))).await;
/// assert_eq!(slow, Err(Stopped::DeadlineExceeded));
///
/// request.cancel();
/// assert!(lookup.is_cancelled());
/// # }
/// ```
#[derive(Clone)]
pub struct Scope {
    token: CancellationToken,
    deadline: Option<Instant>,
    tracker: TaskTracker,
    /// Abort handles of live tasks, for `shutdown` once the grace period is over.
    registry: crate::sync::Arc<Registry>,
    /// Trackers and registries of the enclosing scopes: each task of this scope holds a
    /// tracker token of each, and is registered in each, so ancestors wait for and abort it.
    ancestors: std::sync::Arc<[(TaskTracker, crate::sync::Arc<Registry>)]>,
}

impl Default for Scope {
    fn default() -> Self {
        Self::new()
    }
}

impl Scope {
    /// A root scope with a fresh token and no deadline.
    pub fn new() -> Self {
        Self::from_token(CancellationToken::new())
    }

    /// A root scope driven by an existing token (cancelling `token` cancels the scope, and
    /// [`Scope::cancel`] cancels `token`). No deadline.
    pub fn from_token(token: CancellationToken) -> Self {
        Self {
            token,
            deadline: None,
            tracker: TaskTracker::new(),
            registry: crate::sync::Arc::new(Registry::new()),
            ancestors: std::sync::Arc::from(Vec::new()),
        }
    }

    /// A root scope that stops at `deadline`.
    pub fn with_deadline(deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..Self::new()
        }
    }

    /// A root scope that stops `timeout` from now. A timeout too large to represent as an
    /// [`Instant`] means no deadline.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            deadline: Instant::now().checked_add(timeout),
            ..Self::new()
        }
    }

    /// A child scope with the same deadline: cancelled when this one is, but cancelling it
    /// leaves this one running.
    #[must_use]
    pub fn child(&self) -> Self {
        let mut ancestors = Vec::with_capacity(self.ancestors.len() + 1);
        ancestors.push((self.tracker.clone(), self.registry.clone()));
        ancestors.extend(self.ancestors.iter().cloned());
        Self {
            token: self.token.child_token(),
            deadline: self.deadline,
            tracker: TaskTracker::new(),
            registry: crate::sync::Arc::new(Registry::new()),
            ancestors: std::sync::Arc::from(ancestors),
        }
    }

    /// A child scope whose deadline is the earlier of `deadline` and this scope's.
    #[must_use]
    pub fn child_with_deadline(&self, deadline: Instant) -> Self {
        let mut child = self.child();
        child.deadline = Some(match self.deadline {
            Some(d) => d.min(deadline),
            None => deadline,
        });
        child
    }

    /// A child scope whose deadline is the earlier of `timeout` from now and this scope's.
    /// A timeout too large to represent keeps this scope's deadline.
    #[must_use]
    pub fn child_with_timeout(&self, timeout: Duration) -> Self {
        match Instant::now().checked_add(timeout) {
            Some(d) => self.child_with_deadline(d),
            None => self.child(),
        }
    }

    /// Cancels this scope and all its children. Idempotent, and fine before anything runs
    /// (unlike the seed's `close(stop)`, S5-2).
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// `true` once this scope (or an ancestor) has been cancelled. Says nothing about the
    /// deadline; see [`stop_reason`](Scope::stop_reason).
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The scope's token, to hand to code that takes a [`CancellationToken`]. Cancelling it
    /// cancels the scope.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The deadline, if any (already the minimum over the enclosing scopes).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left until the deadline (zero once it has passed), or `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Why the scope is stopped, if it is: Go's `ctx.Err()`. Cancellation wins when both
    /// hold.
    pub fn stop_reason(&self) -> Option<Stopped> {
        if self.token.is_cancelled() {
            Some(Stopped::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Stopped::DeadlineExceeded)
        } else {
            None
        }
    }

    /// Waits until the scope is cancelled or its deadline passes, and says which: Go's
    /// `<-ctx.Done()` followed by `ctx.Err()`. Use it as a branch of `tokio::select!` in a
    /// worker loop so that no wait ignores cancellation (S5-5, S7-1).
    ///
    /// Never returns for a scope with no deadline that nobody cancels.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing.
    pub async fn stopped(&self) -> Stopped {
        match self.deadline {
            None => {
                self.token.cancelled().await;
                Stopped::Cancelled
            }
            Some(d) => {
                tokio::select! {
                    biased;
                    () = self.token.cancelled() => Stopped::Cancelled,
                    () = sleep_until(d) => Stopped::DeadlineExceeded,
                }
            }
        }
    }

    /// Number of tasks spawned into this scope or its children that have not finished.
    pub fn tasks(&self) -> usize {
        self.tracker.len()
    }

    /// Runs `fut` until it finishes, the scope is cancelled, or the deadline passes, and
    /// says which. See [`run_until`](super::run_until) for the exact order of checks: a
    /// stopped scope does not poll `fut` at all, cancellation is seen before the work's
    /// value, and work finishing in the instant the deadline passes keeps its value.
    ///
    /// On a stop `fut` is dropped. If the work has handed a token to something that outlives
    /// the drop, use [`run_with`](Scope::run_with).
    ///
    /// # Errors
    ///
    /// [`Stopped::Cancelled`] or [`Stopped::DeadlineExceeded`], whichever ended it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops `fut`; it is exactly as cancel-safe as `fut`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use throng::cancel::{Scope, Stopped};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let scope = Scope::with_timeout(Duration::from_millis(50));
    /// let never = std::future::pending::<()>();
    /// assert_eq!(scope.run(never).await, Err(Stopped::DeadlineExceeded));
    /// # }
    /// ```
    pub async fn run<F: Future>(&self, fut: F) -> Result<F::Output, Stopped> {
        run_until(&self.token, self.deadline, fut).await
    }

    /// Runs the work built by `make` from a token, like [`run`](Scope::run), and cancels that
    /// token when this returns, whatever the outcome. A timeout therefore *tells the
    /// abandoned work to stop* instead of merely no longer waiting for it (the seed's
    /// `timeoutWork` leaves its goroutine blocked forever, S6-1): anything the work handed
    /// the token to (a spawned task, a thread, a callee) sees the cancellation.
    ///
    /// The work's token is a child of the scope's: cancelling the scope cancels it, the work
    /// cancelling it does not cancel the scope.
    ///
    /// # Errors
    ///
    /// As [`run`](Scope::run). `make` is not called if the scope is already stopped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the work and cancels its token.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use throng::cancel::{Scope, Stopped};
    /// use tokio::sync::oneshot;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let scope = Scope::with_timeout(Duration::from_secs(1));
    /// let (exited_tx, exited_rx) = oneshot::channel();
    /// let res = scope
    ///     .run_with(|token| async move {
    ///         // The work hands its token to a helper task that outlives it.
    ///         tokio::spawn(async move {
    ///             token.cancelled().await;
    ///             let _ = exited_tx.send("helper told to stop");
    ///         });
    ///         std::future::pending::<()>().await
    ///     })
    ///     .await;
    /// assert_eq!(res, Err(Stopped::DeadlineExceeded));
    /// assert_eq!(exited_rx.await, Ok("helper told to stop"));
    /// # }
    /// ```
    pub async fn run_with<F, Fut>(&self, make: F) -> Result<Fut::Output, Stopped>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future,
    {
        run_with_until(&self.token, self.deadline, make).await
    }

    /// Spawns the work built by `make` from a token onto the tokio runtime, owned by this
    /// scope.
    ///
    /// The work's token is a child of the scope's. It is cancelled when the scope is
    /// cancelled, when the scope's deadline passes (the work keeps running so it can stop
    /// cleanly; its handle then yields whatever it returns), and when the task ends (so
    /// anything the work handed it to stops too). The task counts in [`tasks`](Scope::tasks)
    /// of this scope and every enclosing one until it ends, and
    /// [`shutdown`](Scope::shutdown) aborts it if it ignores its token past the grace period.
    ///
    /// Spawning into a scope that is cancelled still runs the work, with its token already
    /// cancelled. Spawning into a scope (or a child of a scope) that has been shut down, or
    /// whose shutdown has reached the end of its grace period, never polls the work: the
    /// handle yields [`TaskError::Aborted`](super::TaskError::Aborted). So a spawn racing
    /// with a shutdown either runs under the shutdown's rules or not at all; no task is left
    /// without an owner.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use throng::cancel::Scope;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let scope = Scope::new();
    /// let ticker = scope.spawn(|token| async move {
    ///     let mut ticks = 0;
    ///     let mut every = tokio::time::interval(Duration::from_millis(10));
    ///     loop {
    ///         tokio::select! {
    ///             _ = token.cancelled() => return ticks,
    ///             _ = every.tick() => ticks += 1,
    ///         }
    ///     }
    /// });
    /// tokio::time::sleep(Duration::from_millis(35)).await;
    /// let report = scope.shutdown(Duration::from_secs(1)).await;
    /// assert_eq!((report.running, report.aborted), (1, 0));
    /// assert_eq!(ticker.await, Ok(4));
    /// # }
    /// ```
    pub fn spawn<F, Fut>(&self, make: F) -> ScopedJoinHandle<Fut::Output>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let token = self.token.child_token();
        let deadline = self.deadline;
        let regs = std::iter::once(&self.registry).chain(self.ancestors.iter().map(|(_, r)| r));
        let mut slots = Vec::with_capacity(self.ancestors.len() + 1);
        let mut killed = false;
        for reg in regs {
            match reg.reserve() {
                Some(key) => slots.push((reg.clone(), key)),
                None => killed = true,
            }
        }
        let holds: Vec<TaskTrackerToken> = self.ancestors.iter().map(|(t, _)| t.token()).collect();
        let work = make(token.clone());
        let deregister = Deregister {
            slots: slots.clone(),
        };
        let handle = self.tracker.spawn(async move {
            let _deregister = deregister;
            let _holds = holds;
            let _guard = token.clone().drop_guard();
            if killed {
                return None;
            }
            Some(supervise(work, &token, deadline).await)
        });
        let abort = handle.abort_handle();
        for (reg, key) in slots {
            reg.fill(key, abort.clone());
        }
        ScopedJoinHandle::new(handle)
    }

    /// Closes the scope's task tracker and waits until every task spawned into it (and its
    /// children) has finished. Does not cancel anything: use it after the work has been told
    /// to stop, or when the tasks end on their own. Tasks spawned after the close are waited
    /// for too.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the wait leaves the tasks running and the tracker closed.
    pub async fn close_and_wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Cancels the scope, waits up to `grace` for its tasks (and its children's) to finish,
    /// then aborts the stragglers, waits for them to be dropped, and reports the counts.
    /// Afterwards the scope and its children are shut down for good: work spawned into them
    /// is never polled. Idempotent: a second call finds nothing running.
    ///
    /// Tasks spawned while the shutdown runs are cancelled at once and aborted at the end of
    /// the grace period like the others, but are not counted in the report's `running`.
    ///
    /// This is the graceful-shutdown recipe (cancel, close, wait with a timeout, abort the
    /// rest) done once, so that every spawned task ends with its owner.
    ///
    /// An aborted task is dropped at its next `.await`; a task blocking its thread without
    /// ever yielding cannot be aborted and holds up the final wait (move such work to
    /// `spawn_blocking` and give it a token it checks).
    ///
    /// # Cancel safety
    ///
    /// If dropped, the scope stays cancelled and closed but stragglers may not have been
    /// aborted; call `shutdown` again to finish.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        self.token.cancel();
        self.tracker.close();
        let running = self.tracker.len();
        let aborted = match timeout(grace, self.tracker.wait()).await {
            Ok(()) => 0,
            // Tasks spawned during the shutdown are not in `running`; keep the report
            // consistent (`aborted <= running`).
            Err(_) => self.tracker.len().min(running),
        };
        // Abort the stragglers, and mark the scope shut down: a task spawned from now on is
        // never polled. Then wait for the aborted tasks to be dropped.
        self.registry.close();
        self.tracker.wait().await;
        ShutdownReport { running, aborted }
    }
}

/// Drives one spawned task: at the deadline, cancels the work's token and keeps driving the
/// work so it can stop cleanly. Without a deadline this is the bare work: a scope adds no
/// per-poll cost (aborts go through the task's abort handle).
async fn supervise<F: Future>(
    work: F,
    token: &CancellationToken,
    deadline: Option<Instant>,
) -> F::Output {
    let Some(deadline) = deadline else {
        return work.await;
    };
    let mut work = pin!(work);
    let mut timer = pin!(Some(sleep_until(deadline)));
    poll_fn(|cx| {
        if let Poll::Ready(v) = work.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        if let Some(t) = timer.as_mut().as_pin_mut() {
            if t.poll(cx).is_ready() {
                timer.set(None);
                // Wakes the work if it watches its token; this task is polled again.
                token.cancel();
            }
        }
        Poll::Pending
    })
    .await
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("cancelled", &self.token.is_cancelled())
            .field("deadline", &self.deadline)
            .field("tasks", &self.tracker.len())
            .field("depth", &self.ancestors.len())
            .finish()
    }
}
