//! [`ParMap`]: an ordered parallel map with at most `limit` items in flight.

use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::PoisonError;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::catch::{catch, message};
use super::error::{ConfigError, ItemError};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, Mutex};

/// Runs an async function over the items of an iterator, at most `limit` at a time, on the
/// runtime's worker threads, and returns the results in input order.
///
/// A `ParMap` is only the validated configuration (it is `Copy`); each call
/// ([`try_map`](Self::try_map), [`try_map_with_token`](Self::try_map_with_token),
/// [`map_all`](Self::map_all)) spawns its own workers and joins or aborts every one of them
/// before it returns. See the [module docs](super) for how it works and what it costs.
///
/// # Examples
///
/// ```
/// use throng::parallel::{ItemError, ParMap};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// let par = ParMap::new(4).expect("limit is not zero");
/// let lengths = par
///     .try_map(["a", "bb", "ccc"], |s| async move { Ok::<_, String>(s.len()) })
///     .await;
/// assert_eq!(lengths, Ok(vec![1, 2, 3]));
///
/// // The first error cancels the rest and says which item failed.
/// let failed = par
///     .try_map(0..100u32, |n| async move {
///         if n == 7 { Err("seven") } else { Ok(n * 2) }
///     })
///     .await;
/// assert_eq!(failed, Err(ItemError::Failed { index: 7, error: "seven" }));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParMap {
    limit: NonZeroUsize,
}

impl ParMap {
    /// A parallel map that runs at most `limit` items at once.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroLimit`] if `limit` is 0 (seed defect S14-1: the seed silently
    /// returned nothing; `futures`' `buffered(0)` hangs).
    pub fn new(limit: usize) -> Result<Self, ConfigError> {
        NonZeroUsize::new(limit)
            .map(Self::with_limit)
            .ok_or(ConfigError::ZeroLimit)
    }

    /// A parallel map that runs at most `limit` items at once; the type rules out 0.
    #[must_use]
    pub fn with_limit(limit: NonZeroUsize) -> Self {
        Self { limit }
    }

    /// The most items in flight at once.
    pub fn limit(&self) -> NonZeroUsize {
        self.limit
    }

    /// Runs `f` over `items` and returns every value in input order, or the first error
    /// (errgroup semantics).
    ///
    /// At most `limit` items run at once, each inside one of up to `limit` worker tasks
    /// spawned on the current runtime. When an item fails or panics, no further item is
    /// started, the items still running are aborted (dropped at their next `.await`) and
    /// joined, and the error is returned with the item's index. "First" means first in
    /// time; if several items fail at once, one of them.
    ///
    /// The iterator is pulled lazily, one item per free worker, under a lock: keep its
    /// `next` cheap and put the work into `f`.
    ///
    /// # Errors
    ///
    /// [`ItemError::Failed`] (the item's error), [`ItemError::Panicked`] (the item or the
    /// iterator panicked; the panic is caught, the process goes on), or
    /// [`ItemError::Aborted`] (the runtime shut down under a worker).
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (as [`tokio::spawn`]).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future aborts every worker (each item is dropped at its next
    /// `.await`); the results so far are lost. The aborts are requested, not awaited: an
    /// item in the middle of a synchronous step finishes that step first.
    pub async fn try_map<I, F, Fut, R, E>(&self, items: I, f: F) -> Result<Vec<R>, ItemError<E>>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        let all = self.run(items.into_iter(), Plain(f), true).await?;
        all.into_iter().collect()
    }

    /// As [`try_map`](Self::try_map), and each item also gets a [`CancellationToken`] that
    /// is cancelled on the first error (or when the call's future is dropped), so items
    /// that hand work to other tasks or threads can tell them to stop.
    ///
    /// # Errors
    ///
    /// As [`try_map`](Self::try_map).
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (as [`tokio::spawn`]).
    ///
    /// # Cancel safety
    ///
    /// As [`try_map`](Self::try_map); the token is cancelled too.
    pub async fn try_map_with_token<I, F, Fut, R, E>(
        &self,
        items: I,
        f: F,
    ) -> Result<Vec<R>, ItemError<E>>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item, CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        let all = self.run(items.into_iter(), WithToken(f), true).await?;
        all.into_iter().collect()
    }

    /// Runs `f` over every item and returns every outcome in input order: a failing or
    /// panicking item does not stop the others.
    ///
    /// Each item's slot holds its value or its [`ItemError`]; the vector has exactly one
    /// entry per item the iterator produced (if the iterator itself panics, that position
    /// is [`ItemError::Panicked`] and it is the last one).
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (as [`tokio::spawn`]).
    ///
    /// # Cancel safety
    ///
    /// As [`try_map`](Self::try_map).
    pub async fn map_all<I, F, Fut, R, E>(&self, items: I, f: F) -> Vec<Result<R, ItemError<E>>>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        match self.run(items.into_iter(), Plain(f), false).await {
            Ok(all) => all,
            // Only the fail-fast mode stops early.
            Err(e) => vec![Err(e)],
        }
    }

    /// Spawns the workers, joins them, and puts the results back in input order. In
    /// fail-fast mode returns the first error as soon as its worker ends.
    async fn run<I, F, R, E>(
        &self,
        iter: I,
        f: F,
        fail_fast: bool,
    ) -> Result<Vec<Result<R, ItemError<E>>>, ItemError<E>>
    where
        I: Iterator + Send + 'static,
        I::Item: Send + 'static,
        F: ItemFn<I::Item, R, E>,
        R: Send + 'static,
        E: Send + 'static,
    {
        // No more workers than items (when the iterator knows), and at least one.
        let workers = iter
            .size_hint()
            .1
            .unwrap_or(usize::MAX)
            .clamp(1, self.limit.get());
        let shared = Arc::new(Shared {
            source: Mutex::new(Source {
                iter,
                next: 0,
                done: false,
            }),
            f,
            token: CancellationToken::new(),
            fail_fast,
            stop: AtomicBool::new(false),
            first_error: Mutex::new(None),
        });
        // Dropping this call cancels the items' token; dropping `set` aborts the workers.
        let _cancel_on_drop = shared.token.clone().drop_guard();
        let mut set = JoinSet::new();
        for _ in 0..workers {
            set.spawn(work(shared.clone()));
        }
        let mut parts = Vec::with_capacity(workers);
        while let Some(joined) = set.join_next().await {
            // A worker only ends without its output if the runtime shut down under it;
            // its items are then reported as `Aborted` below.
            if let Ok(part) = joined {
                parts.push(part);
            }
            if fail_fast {
                let first = lock(&shared.first_error).take();
                if let Some(error) = first {
                    set.shutdown().await;
                    return Err(error);
                }
            }
        }
        let total = lock(&shared.source).next;
        let mut slots: Vec<Option<Result<R, ItemError<E>>>> = Vec::with_capacity(total);
        slots.resize_with(total, || None);
        for (index, result) in parts.into_iter().flatten() {
            slots[index] = Some(result);
        }
        Ok(slots
            .into_iter()
            .enumerate()
            .map(|(index, slot)| slot.unwrap_or(Err(ItemError::Aborted { index })))
            .collect())
    }
}

/// What the workers of one call share.
struct Shared<I, F, E> {
    source: Mutex<Source<I>>,
    f: F,
    /// Cancelled on the first error (fail-fast mode) or when the call is dropped.
    token: CancellationToken,
    fail_fast: bool,
    /// Set with the first error: workers start no new item (a plain load, unlike the
    /// token's `is_cancelled`, which takes a lock).
    stop: AtomicBool,
    first_error: Mutex<Option<ItemError<E>>>,
}

/// The input iterator and the index of the next item it yields.
struct Source<I> {
    iter: I,
    next: usize,
    done: bool,
}

impl<I: Iterator, F, E> Shared<I, F, E> {
    /// The next item and its index; `Err(message)` if the iterator panicked (it is then
    /// treated as exhausted).
    fn pull(&self) -> Option<(usize, Result<I::Item, String>)> {
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
                Some((index, Err(message(&*payload))))
            }
        }
    }

    /// Records the first error and stops every worker.
    fn fail(&self, error: ItemError<E>) {
        {
            let mut first = lock(&self.first_error);
            if first.is_none() {
                *first = Some(error);
            }
        }
        self.stop.store(true, Ordering::Release);
        self.token.cancel();
    }
}

/// One worker: pulls items until the input ends (or, in fail-fast mode, until any item
/// failed) and returns its results with their indices.
async fn work<I, F, R, E>(shared: Arc<Shared<I, F, E>>) -> Vec<(usize, Result<R, ItemError<E>>)>
where
    I: Iterator,
    F: ItemFn<I::Item, R, E>,
{
    let mut out = Vec::new();
    while !shared.stop.load(Ordering::Acquire) {
        let Some((index, item)) = shared.pull() else {
            break;
        };
        let result = match item {
            Ok(item) => match catch(|| shared.f.call(item, &shared.token)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(error)) => Err(ItemError::Failed { index, error }),
                Err(message) => Err(ItemError::Panicked { index, message }),
            },
            Err(message) => Err(ItemError::Panicked { index, message }),
        };
        match result {
            Err(error) if shared.fail_fast => {
                shared.fail(error);
                break;
            }
            result => out.push((index, result)),
        }
    }
    out
}

/// The per-item function, with or without the token, so the plain flavour does not pay
/// for a token clone per item.
trait ItemFn<T, R, E>: Send + Sync + 'static {
    type Fut: Future<Output = Result<R, E>> + Send + 'static;
    fn call(&self, item: T, token: &CancellationToken) -> Self::Fut;
}

struct Plain<F>(F);

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

struct WithToken<F>(F);

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

/// Locks, ignoring poisoning: every critical section here leaves the data consistent
/// (the iterator's own panics are caught inside).
fn lock<T>(m: &Mutex<T>) -> crate::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
