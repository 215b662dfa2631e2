//! [`ParMap`]: an ordered parallel map with at most `limit` items in flight.

use std::future::Future;
use std::num::NonZeroUsize;

use tokio_util::sync::CancellationToken;

use super::error::{InvalidLimit, ItemError};
use super::workers::{run, CollectAll, FailFast, Plain, WithToken};

/// Runs an async function over the items of an iterator, at most `limit` at a time, on the
/// runtime's worker threads, and returns the results in input order.
///
/// A `ParMap` is only the validated configuration (it is `Copy`, and the methods take it
/// by value, so the returned futures borrow nothing); each call
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
    /// [`InvalidLimit::ZeroLimit`] if `limit` is 0 (seed defect S14-1: the seed silently
    /// returned nothing; `futures`' `buffered(0)` hangs).
    pub fn new(limit: usize) -> Result<Self, InvalidLimit> {
        NonZeroUsize::new(limit)
            .map(Self::with_limit)
            .ok_or(InvalidLimit::ZeroLimit)
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
    /// At most `limit` items run at once, spread over a few worker tasks (two per runtime
    /// thread) spawned on the current runtime. When an item fails or panics, no further item is
    /// started, the items still running are aborted (dropped at their next `.await`) and
    /// joined, and the error is returned with the item's index. "First" means first in
    /// time; if several items fail at once, one of them.
    ///
    /// The iterator is pulled lazily, one item per free slot, under a lock: keep its
    /// `next` cheap and put the work into `f`.
    ///
    /// # Errors
    ///
    /// [`ItemError::Failed`] (the item's error), [`ItemError::Panicked`] (the item or the
    /// iterator panicked; the panic is caught, the process goes on),
    /// [`ItemError::Aborted`] (the runtime shut down under a worker), or
    /// [`ItemError::NoRuntime`] (polled outside a tokio runtime; nothing ran).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future aborts every worker (each item is dropped at its next
    /// `.await`); the results so far are lost. The aborts are requested, not awaited: an
    /// item in the middle of a synchronous step finishes that step first.
    pub async fn try_map<I, F, Fut, R, E>(self, items: I, f: F) -> Result<Vec<R>, ItemError<E>>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        run(self.limit.get(), items.into_iter(), Plain(f), FailFast).await
    }

    /// As [`try_map`](Self::try_map), and each item also gets a [`CancellationToken`] that
    /// is cancelled on the first error (or when the call's future is dropped), so items
    /// that hand work to other tasks or threads can tell them to stop.
    ///
    /// # Errors
    ///
    /// As [`try_map`](Self::try_map).
    ///
    /// # Cancel safety
    ///
    /// As [`try_map`](Self::try_map); the token is cancelled too.
    pub async fn try_map_with_token<I, F, Fut, R, E>(
        self,
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
        run(self.limit.get(), items.into_iter(), WithToken(f), FailFast).await
    }

    /// Runs `f` over every item and returns every outcome in input order: a failing or
    /// panicking item does not stop the others.
    ///
    /// Each item's slot holds its value or its [`ItemError`]; the vector has exactly one
    /// entry per item the iterator produced (if the iterator itself panics, that position
    /// is [`ItemError::Panicked`] and it is the last one). Polled outside a tokio runtime,
    /// it pulls no item and returns one entry, [`ItemError::NoRuntime`].
    ///
    /// # Cancel safety
    ///
    /// As [`try_map`](Self::try_map).
    pub async fn map_all<I, F, Fut, R, E>(self, items: I, f: F) -> Vec<Result<R, ItemError<E>>>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        match run(self.limit.get(), items.into_iter(), Plain(f), CollectAll).await {
            Ok(all) => all,
            // Collect-all mode never stops early.
            Err(e) => vec![Err(e)],
        }
    }
}
