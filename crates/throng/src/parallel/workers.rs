//! The engine behind [`ParMap`](super::ParMap): a few long-lived worker tasks sharing
//! `limit` item slots, pulling items from a shared iterator, and the bookkeeping that lets
//! the call abort them and wait for them.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::PoisonError;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::ItemError;
use super::worker::Worker;
use crate::abort::Registry;
use crate::panic::panic_message;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};

/// Runs `f` over `iter` with at most `limit` items in flight, spread over a few worker
/// tasks, and returns one slot per item in input order, or (fail-fast mode) the first
/// error. On return, every worker has ended and dropped its items; if the returned future
/// is dropped, every worker is aborted.
pub(super) async fn run<I, F, M, R, E>(
    limit: usize,
    iter: I,
    f: F,
    _mode: M,
) -> Result<Vec<M::Slot>, ItemError<E>>
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
    F: ItemFn<I::Item, R, E>,
    M: Mode<R, E>,
    R: Send + 'static,
    E: Send + 'static,
{
    // No more item slots than items (when the iterator knows), and at least one; spread
    // over two worker tasks per runtime thread (or fewer, if the limit is smaller).
    let in_flight = iter.size_hint().1.unwrap_or(usize::MAX).clamp(1, limit);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Err(ItemError::NoRuntime { index: 0 });
    };
    let threads = runtime.metrics().num_workers();
    let workers = in_flight.min(2 * threads.max(1));
    let shared = Arc::new(Shared {
        source: Mutex::new(Source {
            iter,
            next: 0,
            done: false,
        }),
        f,
        mode: PhantomData::<M>,
        token: CancellationToken::new(),
        stop: AtomicBool::new(false),
        first_error: Mutex::new(None),
        parts: Mutex::new(Vec::with_capacity(workers)),
        registry: Registry::with_capacity(workers),
        running: AtomicUsize::new(0),
        changed: Notify::new(),
    });
    // On every way out (return or drop): no new worker, every worker aborted, the items'
    // token cancelled. After a normal end this finds nothing left to abort.
    let _abort_on_exit = AbortOnDrop(shared.clone());
    for w in 0..workers {
        // `in_flight` slots dealt out as evenly as possible.
        let slots = in_flight / workers + usize::from(w < in_flight % workers);
        spawn_worker(&shared, slots);
    }
    loop {
        if M::FAIL_FAST {
            let first = lock(&shared.first_error).take();
            if let Some(error) = first {
                // Abort the others and join them: wait until every worker has dropped
                // its items.
                shared.abort_all();
                while shared.running.load(Ordering::Acquire) != 0 {
                    shared.changed.notified().await;
                }
                return Err(error);
            }
        }
        if shared.running.load(Ordering::Acquire) == 0 {
            break;
        }
        // `notify_one` leaves a permit if nobody waits yet: no lost wake-up.
        shared.changed.notified().await;
    }
    let parts = std::mem::take(&mut *lock(&shared.parts));
    let total = lock(&shared.source).next;
    let mut slots: Vec<Option<M::Slot>> = Vec::with_capacity(total);
    slots.resize_with(total, || None);
    for (index, slot) in parts.into_iter().flatten() {
        slots[index] = Some(slot);
    }
    let mut out = Vec::with_capacity(total);
    for (index, slot) in slots.into_iter().enumerate() {
        // A slot is empty only if its worker was aborted by a runtime shutdown.
        out.push(match slot {
            Some(slot) => slot,
            None => M::aborted(index)?,
        });
    }
    Ok(out)
}

/// Fail-fast or collect-all: what a worker keeps per item, and whether an error stops
/// the call.
pub(super) trait Mode<R, E>: Send + Sync + 'static {
    /// What one item's outcome becomes in the output.
    type Slot: Send + 'static;
    /// `true` if the first error stops the call.
    const FAIL_FAST: bool;
    /// The slot for an outcome, or the error that stops the call.
    fn slot(result: Result<R, ItemError<E>>) -> Result<Self::Slot, ItemError<E>>;
    /// The slot for an item whose worker was aborted, or the error that stops the call.
    fn aborted(index: usize) -> Result<Self::Slot, ItemError<E>>;
}

/// [`try_map`](super::ParMap::try_map): values only; the first error stops the call.
pub(super) struct FailFast;

impl<R: Send + 'static, E: Send + 'static> Mode<R, E> for FailFast {
    type Slot = R;
    const FAIL_FAST: bool = true;
    fn slot(result: Result<R, ItemError<E>>) -> Result<R, ItemError<E>> {
        result
    }
    fn aborted(index: usize) -> Result<R, ItemError<E>> {
        Err(ItemError::Aborted { index })
    }
}

/// [`map_all`](super::ParMap::map_all): every outcome is kept.
pub(super) struct CollectAll;

impl<R: Send + 'static, E: Send + 'static> Mode<R, E> for CollectAll {
    type Slot = Result<R, ItemError<E>>;
    const FAIL_FAST: bool = false;
    fn slot(result: Result<R, ItemError<E>>) -> Result<Self::Slot, ItemError<E>> {
        Ok(result)
    }
    fn aborted(index: usize) -> Result<Self::Slot, ItemError<E>> {
        Ok(Err(ItemError::Aborted { index }))
    }
}

/// The per-item function, with or without the token, so the plain flavour does not pay
/// for a token clone per item.
pub(super) trait ItemFn<T, R, E>: Send + Sync + 'static {
    type Fut: Future<Output = Result<R, E>> + Send + 'static;
    fn call(&self, item: T, token: &CancellationToken) -> Self::Fut;
}

/// `f(item)`.
pub(super) struct Plain<F>(pub(super) F);

impl<T, F, Fut, R, E> ItemFn<T, R, E> for Plain<F>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
{
    type Fut = Fut;
    fn call(&self, item: T, _token: &CancellationToken) -> Fut {
        (self.0)(item)
    }
}

/// `f(item, token)`.
pub(super) struct WithToken<F>(pub(super) F);

impl<T, F, Fut, R, E> ItemFn<T, R, E> for WithToken<F>
where
    F: Fn(T, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
{
    type Fut = Fut;
    fn call(&self, item: T, token: &CancellationToken) -> Fut {
        (self.0)(item, token.clone())
    }
}

/// What the workers of one call share.
pub(super) struct Shared<I, F, M: Mode<R, E>, R, E> {
    source: Mutex<Source<I>>,
    pub(super) f: F,
    mode: PhantomData<M>,
    /// Cancelled on the first error (fail-fast mode) or when the call ends or is dropped.
    pub(super) token: CancellationToken,
    /// Set with the first error: workers start no new item (a plain load, unlike the
    /// token's `is_cancelled`, which takes a lock).
    pub(super) stop: AtomicBool,
    first_error: Mutex<Option<ItemError<E>>>,
    /// Each worker's slots with their indices, pushed when it ends. A worker that never
    /// pushes (aborted by a runtime shutdown) leaves its items to [`Mode::aborted`].
    parts: Mutex<Vec<Part<M::Slot>>>,
    registry: Registry,
    /// Workers spawned and not yet ended (or dropped, if aborted).
    running: AtomicUsize,
    /// Notified when the last worker ends or an item fails (fail-fast mode).
    changed: Notify,
}

/// One worker's slots with their input indices (ascending).
pub(super) type Part<S> = Vec<(usize, S)>;

/// The input iterator and the index of the next item it yields.
struct Source<I> {
    iter: I,
    next: usize,
    done: bool,
}

impl<I, F, M, R, E> Shared<I, F, M, R, E>
where
    I: Iterator,
    M: Mode<R, E>,
{
    /// The next item and its index; `Err(message)` if the iterator panicked (it is then
    /// treated as exhausted).
    pub(super) fn pull(&self) -> Option<(usize, Result<I::Item, String>)> {
        let mut src = lock(&self.source);
        if src.done {
            return None;
        }
        let index = src.next;
        match catch_unwind(AssertUnwindSafe(|| src.iter.next())) {
            Ok(Some(item)) => {
                src.next += 1;
                Some((index, Ok(item)))
            }
            Ok(None) => {
                src.done = true;
                None
            }
            Err(payload) => {
                src.done = true;
                src.next += 1;
                Some((index, Err(panic_message(&*payload))))
            }
        }
    }

    /// Records the first error and stops every worker from starting another item.
    pub(super) fn fail(&self, error: ItemError<E>) {
        {
            let mut first = lock(&self.first_error);
            if first.is_none() {
                *first = Some(error);
            }
        }
        self.stop.store(true, Ordering::Release);
        self.token.cancel();
        self.changed.notify_one();
    }

    /// Hands over a worker's slots when it ends.
    pub(super) fn finish(&self, part: Part<M::Slot>) {
        lock(&self.parts).push(part);
    }
}

impl<I, F, M: Mode<R, E>, R, E> Shared<I, F, M, R, E> {
    /// Stops spawning and aborts every worker still registered (each is dropped at its
    /// next `.await`, or at once if it is not running).
    fn abort_all(&self) {
        self.stop.store(true, Ordering::Release);
        self.registry.close();
    }
}

/// Spawns one more worker, unless the call is being torn down.
fn spawn_worker<I, F, M, R, E>(shared: &Arc<Shared<I, F, M, R, E>>, slots: usize)
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
    F: ItemFn<I::Item, R, E>,
    M: Mode<R, E>,
    R: Send + 'static,
    E: Send + 'static,
{
    let Some(k) = shared.registry.reserve() else {
        return;
    };
    shared.running.fetch_add(1, Ordering::AcqRel);
    let exit = Exit {
        shared: shared.clone(),
        k,
    };
    // A runtime that is shutting down drops the future inside `spawn`; its `Exit` then
    // ends the slot, and `fill` drops the handle.
    let handle = tokio::spawn(Worker::new(exit, slots)).abort_handle();
    shared.registry.fill(k, handle);
}

/// A worker's share of the state; when dropped (the worker ended, or was aborted), it
/// removes the worker's abort handle and counts the worker out.
pub(super) struct Exit<I, F, M: Mode<R, E>, R, E> {
    pub(super) shared: Arc<Shared<I, F, M, R, E>>,
    k: u64,
}

impl<I, F, M: Mode<R, E>, R, E> Drop for Exit<I, F, M, R, E> {
    fn drop(&mut self) {
        self.shared.registry.release(self.k);
        if self.shared.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.changed.notify_one();
        }
    }
}

/// Held by the call: aborts every worker and cancels the token when the call returns or
/// is dropped.
struct AbortOnDrop<I, F, M: Mode<R, E>, R, E>(Arc<Shared<I, F, M, R, E>>);

impl<I, F, M: Mode<R, E>, R, E> Drop for AbortOnDrop<I, F, M, R, E> {
    fn drop(&mut self) {
        self.0.abort_all();
        self.0.token.cancel();
    }
}

/// Locks, ignoring poisoning: every critical section here leaves the data consistent
/// (the iterator's own panics are caught inside).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
