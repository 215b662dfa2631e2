//! [`Keeper`], the cloneable handle to a task that owns a state.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::{
    CallError, CallTimeoutError, CastError, SpawnError, StopError, TryCallError, TryCastError,
};
use super::slot::{Call, Reply};
use super::task::{self, Envelope, Exit};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Arc;

/// Largest mailbox capacity; larger requests are clamped to it (tokio's channel limit).
pub const MAX_CAPACITY: usize = usize::MAX >> 4;

/// State shared by every handle and the owner task.
pub(crate) struct Shared<S> {
    /// Set by `stop` and by the task when it closes the mailbox: refuse at once.
    pub(crate) closing: AtomicBool,
    /// Set by the task when a closure panicked.
    pub(crate) poisoned: AtomicBool,
    /// Taken by the `stop` that joins the task; later ones wait on the lock, then see `None`.
    join: tokio::sync::Mutex<Option<JoinHandle<Exit<S>>>>,
}

/// A handle to a task that owns a state `S` and runs closures on it, one at a time, in
/// the order its bounded mailbox accepted them.
///
/// Clone it freely (two reference-count increments); every clone talks to the same task.
/// When the last handle is dropped the task finishes what was accepted and drops the
/// state. See the [module docs](super) for the guarantees and costs.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use throng::keeper::Keeper;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let log = Keeper::spawn(Vec::<String>::new(), NonZeroUsize::new(64).unwrap()).unwrap();
/// let writer = log.clone(); // every clone talks to the same task
/// writer.cast(|v| v.push("started".into())).await.unwrap();
/// assert_eq!(log.call(|v| v.len()).await.unwrap(), 1);
/// assert_eq!(log.stop().await.unwrap(), ["started"]);
/// # }
/// ```
pub struct Keeper<S> {
    tx: mpsc::Sender<Envelope<S>>,
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Keeper<S> {
    fn clone(&self) -> Self {
        Keeper {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S> fmt::Debug for Keeper<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keeper")
            .field("capacity", &self.tx.max_capacity())
            .field("queued", &(self.tx.max_capacity() - self.tx.capacity()))
            .field("stopped", &self.is_stopped())
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

impl<S: Send + 'static> Keeper<S> {
    /// Spawns a task on the current tokio runtime that owns `state`, with a mailbox of
    /// `capacity` closures (clamped to [`MAX_CAPACITY`]). A zero capacity is ruled out by
    /// the type.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoRuntime`] if called outside a tokio runtime (where
    /// [`tokio::spawn`] would panic); the state is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keeper::Keeper;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let keeper = Keeper::spawn(Vec::<u32>::new(), NonZeroUsize::new(64).unwrap()).unwrap();
    /// keeper.call(|v| v.push(7)).await.unwrap();
    /// assert_eq!(keeper.stop().await.unwrap(), vec![7]);
    /// # }
    /// ```
    pub fn spawn(state: S, capacity: NonZeroUsize) -> Result<Self, SpawnError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(capacity.get().min(MAX_CAPACITY));
        let shared = Arc::new(Shared {
            closing: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            join: tokio::sync::Mutex::new(None),
        });
        let handle = runtime.spawn(task::run(state, rx, shared.clone()));
        // Nobody else can hold the lock yet: the handle is stored before `spawn` returns.
        *shared
            .join
            .try_lock()
            .expect("a fresh keeper's join lock is free") = Some(handle);
        Ok(Keeper { tx, shared })
    }
}

impl<S: 'static> Keeper<S> {
    /// Runs `f` on the state and returns its result. Waits for mailbox room first.
    ///
    /// # Errors
    ///
    /// [`CallError::Stopped`] at once if [`stop`](Self::stop) was called (or the runtime
    /// shut down); [`CallError::Poisoned`] if an earlier closure panicked;
    /// [`CallError::Panicked`] if `f` panicked (the keeper is then poisoned). In every
    /// error case but `Panicked`, `f` did not run.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the keeper starts `f` cancels the call: `f` never runs
    /// (it is dropped). Once `f` has started it runs to completion and its result is
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keeper::Keeper;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let keeper = Keeper::spawn(0u64, NonZeroUsize::new(8).unwrap()).unwrap();
    /// let n = keeper.call(|n| { *n += 1; *n }).await.unwrap();
    /// assert_eq!(n, 1);
    /// # }
    /// ```
    pub async fn call<F, R>(&self, f: F) -> Result<R, CallError>
    where
        F: FnOnce(&mut S) -> R + Send + 'static,
        R: Send + 'static,
    {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused());
        }
        let Ok(permit) = self.tx.reserve().await else {
            return Err(self.refused());
        };
        let call = Call::new(f);
        permit.send(Envelope::call(call.clone()));
        Reply::new(call).await
    }

    /// Like [`call`](Self::call), with a deadline on the whole round trip: waiting for
    /// mailbox room, waiting in the mailbox, and running `f`.
    ///
    /// # Errors
    ///
    /// [`CallTimeoutError::TimedOut`] if `timeout` passed first: `f` then never runs if
    /// the keeper had not started it, and runs to completion with its result dropped if
    /// it had. Otherwise the errors of [`call`](Self::call).
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use throng::keeper::{CallTimeoutError, Keeper};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let keeper = Keeper::spawn(0u64, NonZeroUsize::new(8).unwrap()).unwrap();
    /// let got = keeper.call_timeout(|n| *n, Duration::from_millis(100)).await;
    /// assert_eq!(got, Ok(0));
    /// # let _ = CallTimeoutError::TimedOut;
    /// # }
    /// ```
    pub async fn call_timeout<F, R>(&self, f: F, timeout: Duration) -> Result<R, CallTimeoutError>
    where
        F: FnOnce(&mut S) -> R + Send + 'static,
        R: Send + 'static,
    {
        match tokio::time::timeout(timeout, self.call(f)).await {
            Ok(result) => result.map_err(CallTimeoutError::from),
            Err(_elapsed) => Err(CallTimeoutError::TimedOut),
        }
    }

    /// Enqueues `f` if the mailbox has room right now, without waiting, and returns the
    /// [`Reply`] to await for its result.
    ///
    /// The enqueue is the only step that does not wait; the reply is awaited separately
    /// (or dropped, which cancels `f` if it has not started).
    ///
    /// # Errors
    ///
    /// Hands `f` back in [`TryCallError::Full`] when the mailbox is full,
    /// [`TryCallError::Stopped`] after [`stop`](Self::stop), and
    /// [`TryCallError::Poisoned`] after a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keeper::{Keeper, TryCallError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let keeper = Keeper::spawn(1u64, NonZeroUsize::new(1).unwrap()).unwrap();
    /// let reply = keeper.try_call(|n| *n * 10).unwrap();
    /// // The owner task has not run yet, so the one slot is taken.
    /// assert!(matches!(keeper.try_call(|n| *n), Err(TryCallError::Full(_))));
    /// assert_eq!(reply.await, Ok(10));
    /// # }
    /// ```
    pub fn try_call<F, R>(&self, f: F) -> Result<Reply<R>, TryCallError<F>>
    where
        F: FnOnce(&mut S) -> R + Send + 'static,
        R: Send + 'static,
    {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused_with(f, TryCallError::Stopped, TryCallError::Poisoned));
        }
        match self.tx.try_reserve() {
            Ok(permit) => {
                let call = Call::new(f);
                permit.send(Envelope::call(call.clone()));
                Ok(Reply::new(call))
            }
            Err(mpsc::error::TrySendError::Full(())) => Err(TryCallError::Full(f)),
            Err(mpsc::error::TrySendError::Closed(())) => {
                Err(self.refused_with(f, TryCallError::Stopped, TryCallError::Poisoned))
            }
        }
    }

    /// [`call`](Self::call) for synchronous code: blocks the current thread until the
    /// mailbox has room and the reply arrives.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Panics
    ///
    /// Panics if called from within an asynchronous execution context (a runtime worker
    /// thread), as [`tokio::sync::mpsc::Sender::blocking_send`] does. Use it from
    /// [`spawn_blocking`](tokio::task::spawn_blocking) or plain threads, and never from a
    /// thread the keeper's runtime needs in order to run (for example, joining such a
    /// thread from a current-thread runtime's only thread deadlocks).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keeper::Keeper;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let keeper = Keeper::spawn(5u64, NonZeroUsize::new(8).unwrap()).unwrap();
    /// let k = keeper.clone();
    /// // Off the runtime's threads: a blocking-pool thread (or any plain thread).
    /// let got = tokio::task::spawn_blocking(move || k.blocking_call(|n| *n))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(got, Ok(5));
    /// # }
    /// ```
    pub fn blocking_call<F, R>(&self, f: F) -> Result<R, CallError>
    where
        F: FnOnce(&mut S) -> R + Send + 'static,
        R: Send + 'static,
    {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused());
        }
        let call = Call::new(f);
        if self.tx.blocking_send(Envelope::call(call.clone())).is_err() {
            return Err(self.refused());
        }
        block_on(Reply::new(call))
    }

    /// Enqueues `f` to run on the state without waiting for it to run (fire and forget).
    /// Waits for mailbox room.
    ///
    /// Once accepted, `f` runs unless the keeper is poisoned first or its runtime shuts
    /// down with `f` still queued (then `f` is dropped unrun); a panic in `f`
    /// poisons the keeper (later calls see [`CallError::Poisoned`], and
    /// [`stop`](Self::stop) returns [`StopError::Poisoned`]).
    ///
    /// # Errors
    ///
    /// Hands `f` back in [`CastError::Stopped`] after [`stop`](Self::stop) and
    /// [`CastError::Poisoned`] after a panic.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes means `f` was not accepted (and is
    /// dropped); once it returned `Ok`, `f` is in the mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keeper::Keeper;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let keeper = Keeper::spawn(0u64, NonZeroUsize::new(8).unwrap()).unwrap();
    /// keeper.cast(|n| *n += 2).await.unwrap();
    /// assert_eq!(keeper.call(|n| *n).await, Ok(2)); // mailbox order: the cast ran first
    /// # }
    /// ```
    pub async fn cast<F>(&self, f: F) -> Result<(), CastError<F>>
    where
        F: FnOnce(&mut S) + Send + 'static,
    {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused_with(f, CastError::Stopped, CastError::Poisoned));
        }
        match self.tx.reserve().await {
            Ok(permit) => {
                permit.send(Envelope::cast(Box::new(f)));
                Ok(())
            }
            Err(_) => Err(self.refused_with(f, CastError::Stopped, CastError::Poisoned)),
        }
    }

    /// Enqueues `f` to run on the state if the mailbox has room right now (fire and
    /// forget, never waits).
    ///
    /// # Errors
    ///
    /// Hands `f` back in [`TryCastError::Full`] when the mailbox is full,
    /// [`TryCastError::Stopped`] after [`stop`](Self::stop), and
    /// [`TryCastError::Poisoned`] after a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keeper::{Keeper, TryCastError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let keeper = Keeper::spawn(0u64, NonZeroUsize::new(1).unwrap()).unwrap();
    /// keeper.try_cast(|n| *n += 1).unwrap();
    /// let refused = keeper.try_cast(|n| *n += 1).unwrap_err();
    /// assert!(matches!(refused, TryCastError::Full(_)));
    /// # }
    /// ```
    pub fn try_cast<F>(&self, f: F) -> Result<(), TryCastError<F>>
    where
        F: FnOnce(&mut S) + Send + 'static,
    {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused_with(f, TryCastError::Stopped, TryCastError::Poisoned));
        }
        match self.tx.try_reserve() {
            Ok(permit) => {
                permit.send(Envelope::cast(Box::new(f)));
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(())) => Err(TryCastError::Full(f)),
            Err(mpsc::error::TrySendError::Closed(())) => {
                Err(self.refused_with(f, TryCastError::Stopped, TryCastError::Poisoned))
            }
        }
    }

    /// Stops the keeper and returns its final state.
    ///
    /// From the moment `stop` is called, new calls and casts fail at once with
    /// `Stopped`, and callers waiting for mailbox room are woken with `Stopped`.
    /// Everything the mailbox had already accepted runs first (a call whose caller gave
    /// up is skipped), then the task ends and is joined.
    ///
    /// Idempotent: exactly one call gets the state; every other call (concurrent or
    /// later) waits until the task has ended and returns [`StopError::AlreadyStopped`].
    ///
    /// # Errors
    ///
    /// [`StopError::AlreadyStopped`] if another `stop` took the state;
    /// [`StopError::Poisoned`] (with the state and the panic message) if a closure
    /// panicked; [`StopError::Lost`] if the task was cancelled by its runtime shutting
    /// down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the stop request is made on the first poll and cannot be undone; if
    /// the future is dropped before the task ends, the state stays for the next `stop`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keeper::{CallError, Keeper, StopError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let keeper = Keeper::spawn(0u64, NonZeroUsize::new(8).unwrap()).unwrap();
    /// keeper.cast(|n| *n += 1).await.unwrap();
    /// assert_eq!(keeper.stop().await.unwrap(), 1); // the accepted cast ran
    /// assert!(matches!(keeper.stop().await, Err(StopError::AlreadyStopped)));
    /// assert_eq!(keeper.call(|n| *n).await, Err(CallError::Stopped));
    /// # }
    /// ```
    pub async fn stop(&self) -> Result<S, StopError<S>> {
        self.shared.closing.store(true, Ordering::Release);
        // Wake the owner in case it waits on an empty mailbox. If the mailbox is full the
        // owner is busy and will see `closing` after this batch; waiting for room is
        // still bounded (new callers are refused) and keeps this simple and robust.
        match self.tx.try_reserve() {
            Ok(permit) => permit.send(Envelope::wake()),
            Err(mpsc::error::TrySendError::Full(())) => {
                if let Ok(permit) = self.tx.reserve().await {
                    permit.send(Envelope::wake());
                }
            }
            Err(mpsc::error::TrySendError::Closed(())) => {} // already ended (poisoned)
        }
        let mut join = self.shared.join.lock().await;
        let Some(handle) = join.as_mut() else {
            return Err(StopError::AlreadyStopped);
        };
        let exit = handle.await;
        *join = None;
        match exit {
            Ok(Exit { state, panic: None }) => Ok(state),
            Ok(Exit {
                state,
                panic: Some(message),
            }) => Err(StopError::Poisoned { state, message }),
            Err(_join_error) => Err(StopError::Lost),
        }
    }
}

impl<S> Keeper<S> {
    /// Whether the keeper refuses new work (stopped, stopping, or poisoned).
    pub fn is_stopped(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire) || self.tx.is_closed()
    }

    /// Whether a closure panicked, leaving the state possibly inconsistent.
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    /// The mailbox capacity.
    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }

    /// How many closures wait in the mailbox (a snapshot; slots reserved by callers count).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    fn refused(&self) -> CallError {
        if self.is_poisoned() {
            CallError::Poisoned
        } else {
            CallError::Stopped
        }
    }

    fn refused_with<F, E>(&self, f: F, stopped: fn(F) -> E, poisoned: fn(F) -> E) -> E {
        if self.is_poisoned() {
            poisoned(f)
        } else {
            stopped(f)
        }
    }
}

/// Wakes a thread parked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: StdArc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` to completion on this thread, parking between polls.
fn block_on<T>(fut: impl Future<Output = T>) -> T {
    let waker = Waker::from(StdArc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park(); // spurious wake-ups just poll again
    }
}
