//! [`Group`]: spawn tasks into a scope with an optional limit; the first error cancels it.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::PoisonError;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::error::{InvalidLimit, ItemError, SpawnError, TrySpawnError};
use crate::panic::{catch_unwind, panic_message};
use crate::sync::{Arc, Mutex};

/// A set of tasks that succeed or fail together: Go's `errgroup.Group` (with
/// `WithContext` and `SetLimit`) and conc's `ErrorPool`, owned.
///
/// Each task is a closure that receives the group's [`CancellationToken`] and returns a
/// future of `Result<T, E>`. It is spawned on the current runtime at once (or, with a
/// limit, as soon as a slot is free). The first task to fail or panic cancels the token at
/// once (from inside that task), and [`wait`](Self::wait) then aborts the tasks still
/// running, joins them, and returns that error with the task's index. If every task
/// succeeds, `wait` returns their values in spawn order.
///
/// Nothing outlives the group: `wait` joins every task, and dropping a group without
/// waiting cancels the token and aborts the tasks.
///
/// # Examples
///
/// ```
/// use throng::parallel::{Group, ItemError};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// let mut group = Group::with_limit(2).expect("limit is not zero");
/// for n in 0..5u32 {
///     group.spawn(move |_token| async move { Ok::<_, String>(n * 10) }).await.unwrap();
/// }
/// assert_eq!(group.wait().await, Ok(vec![0, 10, 20, 30, 40]));
///
/// // The first error cancels the others' token.
/// let mut group = Group::new();
/// group.spawn(|token| async move {
///     token.cancelled().await;
///     Err::<(), _>("cancelled")
/// }).await.unwrap();
/// group.spawn(|_| async { Err::<(), _>("boom") }).await.unwrap();
/// assert_eq!(group.wait().await, Err(ItemError::Failed { index: 1, error: "boom" }));
/// # }
/// ```
pub struct Group<T = (), E = std::convert::Infallible> {
    set: JoinSet<()>,
    token: CancellationToken,
    limit: Option<NonZeroUsize>,
    /// Values and errors, written by the tasks themselves.
    shared: Arc<Mutex<Outcomes<T, E>>>,
    spawned: usize,
}

/// What the tasks report: one slot per spawned task, and the first error.
struct Outcomes<T, E> {
    values: Vec<Option<T>>,
    first_error: Option<ItemError<E>>,
}

impl<T, E> Group<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// An empty group with no limit on running tasks.
    #[must_use]
    pub fn new() -> Self {
        Self {
            set: JoinSet::new(),
            token: CancellationToken::new(),
            limit: None,
            shared: Arc::new(Mutex::new(Outcomes {
                values: Vec::new(),
                first_error: None,
            })),
            spawned: 0,
        }
    }

    /// An empty group that runs at most `limit` tasks at once: [`spawn`](Self::spawn)
    /// waits for a free slot, [`try_spawn`](Self::try_spawn) refuses.
    ///
    /// # Errors
    ///
    /// [`InvalidLimit::ZeroLimit`] if `limit` is 0 (Go's `SetLimit(0)` blocks every `Go`
    /// call forever).
    pub fn with_limit(limit: usize) -> Result<Self, InvalidLimit> {
        let limit = NonZeroUsize::new(limit).ok_or(InvalidLimit::ZeroLimit)?;
        let mut group = Self::new();
        group.limit = Some(limit);
        Ok(group)
    }

    /// The group's token: cancelled by the first failing task, or by anyone holding a
    /// clone (which stops the group: later spawns are refused).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The most tasks running at once, if limited.
    pub fn limit(&self) -> Option<NonZeroUsize> {
        self.limit
    }

    /// Tasks spawned so far.
    pub fn spawned(&self) -> usize {
        self.spawned
    }

    /// Tasks spawned and not yet reaped (running, or finished and not yet joined).
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// `true` if no task is running.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// `true` once the token is cancelled: a task failed, or someone cancelled it.
    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Spawns `f(token)` as a new task, first waiting for a free slot if the group has a
    /// limit (Go's `errgroup.Go` blocks the same way). Its index is [`spawned`](Self::spawned)
    /// before the call.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with `f` (not run) if the group has stopped.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (as [`tokio::spawn`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped while it waits for a slot, `f` is dropped
    /// unrun and nothing else is lost (tasks reaped meanwhile have their outcome recorded).
    pub async fn spawn<F, Fut>(&mut self, f: F) -> Result<(), SpawnError<F>>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if let Some(limit) = self.limit {
            while self.set.len() >= limit.get() && !self.is_stopped() {
                // Tasks report their own outcome; joining only frees the slot.
                let _ = self.set.join_next().await;
            }
        }
        if self.is_stopped() {
            return Err(SpawnError(f));
        }
        self.start(f);
        Ok(())
    }

    /// Spawns `f(token)` as a new task if the group has a free slot, without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySpawnError::Full`] if `limit` tasks are running, [`TrySpawnError::Stopped`] if
    /// the group has stopped; either way `f` is handed back unrun.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (as [`tokio::spawn`]).
    pub fn try_spawn<F, Fut>(&mut self, f: F) -> Result<(), TrySpawnError<F>>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if self.is_stopped() {
            return Err(TrySpawnError::Stopped(f));
        }
        if let Some(limit) = self.limit {
            while self.set.len() >= limit.get() {
                if self.set.try_join_next().is_none() {
                    return Err(TrySpawnError::Full(f));
                }
            }
        }
        self.start(f);
        Ok(())
    }

    /// Waits for every task; returns their values in spawn order, or the first error.
    ///
    /// On the first error (which already cancelled the token), the tasks still running are
    /// aborted and joined before `wait` returns, so none outlives it. "First" is first in
    /// time: a sibling that fails *because* it saw the cancellation does not mask the cause.
    ///
    /// # Errors
    ///
    /// The first [`ItemError`]: a task's own error, its panic message, or
    /// [`ItemError::Aborted`] if the runtime shut down under a task.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the group: the token is cancelled and the remaining tasks
    /// are aborted.
    pub async fn wait(mut self) -> Result<Vec<T>, ItemError<E>> {
        // A task that fails stores its error, cancels the token and ends, so its join
        // is the moment to check. A token cancelled from outside is cooperative: the
        // tasks are waited for, as in Go.
        while self.set.join_next().await.is_some() {
            let failed = self.lock().first_error.take();
            if let Some(error) = failed {
                // Abort the rest and join them before reporting.
                self.set.shutdown().await;
                return Err(error);
            }
        }
        let mut shared = self.lock();
        if let Some(error) = shared.first_error.take() {
            return Err(error);
        }
        let mut values = Vec::with_capacity(shared.values.len());
        for (index, slot) in shared.values.drain(..).enumerate() {
            // Empty only if the runtime shut down under the task before it could report.
            values.push(slot.ok_or(ItemError::Aborted { index })?);
        }
        Ok(values)
    }

    fn start<F, Fut>(&mut self, f: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let index = self.spawned;
        self.spawned += 1;
        self.lock().values.push(None);
        let token = self.token.clone();
        let shared = self.shared.clone();
        // `f` runs here, on the caller's thread; its panic is caught like the future's.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(token.clone())));
        self.set.spawn(async move {
            let result = match outcome {
                Ok(fut) => match catch_unwind(|| fut).await {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(error)) => Err(ItemError::Failed { index, error }),
                    Err(payload) => Err(ItemError::Panicked {
                        index,
                        message: panic_message(&*payload),
                    }),
                },
                Err(payload) => Err(ItemError::Panicked {
                    index,
                    message: panic_message(&*payload),
                }),
            };
            let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
            match result {
                Ok(value) => shared.values[index] = Some(value),
                Err(error) => {
                    if shared.first_error.is_none() {
                        shared.first_error = Some(error);
                    }
                    drop(shared);
                    token.cancel();
                }
            }
        });
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Outcomes<T, E>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T, E> Default for Group<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Drop for Group<T, E> {
    fn drop(&mut self) {
        // The JoinSet aborts its tasks when dropped; cancelling the token reaches the work
        // they handed to other tasks or threads.
        self.token.cancel();
    }
}

impl<T, E> fmt::Debug for Group<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("limit", &self.limit)
            .field("spawned", &self.spawned)
            .field("running", &self.set.len())
            .field("stopped", &self.token.is_cancelled())
            .finish()
    }
}
