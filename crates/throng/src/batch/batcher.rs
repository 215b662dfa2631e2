//! [`Batcher`]: submit items, await each item's own result, shut down with a report.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::BatcherBuilder;
use super::error::{BatchError, SubmitError, TrySubmitError};
use super::metrics::{BatchMetrics, Counters};

/// One queued item and where its result goes.
pub(crate) type Msg<T, R, E> = (T, oneshot::Sender<Result<R, BatchError<E>>>);

/// What the handles and the batcher task share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    /// Stop intake, flush what is pending.
    pub(crate) stop: CancellationToken,
    /// Shutdown deadline passed: drop running flushes.
    pub(crate) abort: CancellationToken,
}

/// Groups submitted items into batches and flushes them with one call each.
///
/// `T` is an item, `R` its result, `E` the flush error. Cheap to clone; every clone
/// submits into the same batches. Build with [`Batcher::builder`]; see the
/// [module docs](super).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::batch::Batcher;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Each caller gets the length of its own word; the flush sees them together.
/// let lengths = Batcher::builder()
///     .max_items(2)
///     .max_delay(Duration::from_millis(10))
///     .spawn(|words: Vec<&'static str>| async move {
///         Ok::<_, std::convert::Infallible>(words.iter().map(|w| w.len()).collect::<Vec<_>>())
///     })?;
/// let a = lengths.submit("batch").await?;
/// let b = lengths.submit("me").await?; // the second item fills the batch: it flushes
/// assert_eq!((a.await?, b.await?), (5, 2));
/// let report = lengths.shutdown(Duration::from_secs(1)).await;
/// assert_eq!(report.succeeded, 2);
/// # Ok(())
/// # }
/// ```
pub struct Batcher<T, R, E> {
    tx: mpsc::Sender<Msg<T, R, E>>,
    shared: Arc<Shared>,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl<T, R, E> Clone for Batcher<T, R, E> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
            task: self.task.clone(),
        }
    }
}

impl<T: Send + 'static> Batcher<T, (), ()> {
    /// A builder with the defaults: 128 items, no byte limit, 10 ms delay, 1 flush in
    /// flight, an intake queue of 1024.
    pub fn builder() -> BatcherBuilder<T> {
        BatcherBuilder::default()
    }
}

impl<T, R, E> Batcher<T, R, E> {
    pub(crate) fn start<Fut>(
        runtime: &tokio::runtime::Handle,
        capacity: usize,
        run: impl FnOnce(mpsc::Receiver<Msg<T, R, E>>, Arc<Shared>) -> Fut,
    ) -> Self
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(capacity);
        let shared = Arc::new(Shared::default());
        let task = runtime.spawn(run(rx, shared.clone()));
        Self {
            tx,
            shared,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        }
    }

    /// Queues `item` if there is room now. The handle resolves to the item's result once
    /// its batch is flushed.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] when flushes are behind and the intake queue is full,
    /// [`TrySubmitError::Closed`] once shutdown has begun; both hand the item back.
    pub fn try_submit(&self, item: T) -> Result<BatchHandle<R, E>, TrySubmitError<T>> {
        // Shutdown is checked here, not only by the task: a task busy receiving would
        // otherwise go on accepting items from submitters that keep the queue non-empty.
        if self.shared.stop.is_cancelled() {
            return Err(self.reject(TrySubmitError::Closed(item)));
        }
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send((item, reply)) {
            Ok(()) => Ok(BatchHandle { rx }),
            Err(mpsc::error::TrySendError::Full((item, _))) => {
                Err(self.reject(TrySubmitError::Full(item)))
            }
            Err(mpsc::error::TrySendError::Closed((item, _))) => {
                Err(self.reject(TrySubmitError::Closed(item)))
            }
        }
    }

    /// Queues `item`, waiting while the intake queue is full (backpressure). The handle
    /// resolves to the item's result once its batch is flushed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes never queues the item.
    ///
    /// # Errors
    ///
    /// [`SubmitError`] with the item once shutdown has begun, including for a submitter that
    /// was waiting for room when it began.
    pub async fn submit(&self, item: T) -> Result<BatchHandle<R, E>, SubmitError<T>> {
        let permit = if self.shared.stop.is_cancelled() {
            None
        } else {
            tokio::select! {
                biased;
                permit = self.tx.reserve() => permit.ok(),
                () = self.shared.stop.cancelled() => None,
            }
        };
        // Checked again with the permit in hand: a permit sent before the task closes the
        // queue is still received and flushed; one sent after shutdown began is not.
        match permit {
            Some(permit) if !self.shared.stop.is_cancelled() => {
                let (reply, rx) = oneshot::channel();
                permit.send((item, reply));
                Ok(BatchHandle { rx })
            }
            _ => Err(self.reject(SubmitError(item))),
        }
    }

    /// Holds one intake slot now, if there is room: the fast path of a tower
    /// `poll_ready`. `Err(true)` full, `Err(false)` closed or shutting down.
    #[cfg(feature = "tower")]
    pub(crate) fn try_reserve(&self) -> Result<mpsc::OwnedPermit<Msg<T, R, E>>, bool> {
        if self.shared.stop.is_cancelled() {
            return Err(false);
        }
        match self.tx.clone().try_reserve_owned() {
            Ok(permit) => Ok(permit),
            Err(mpsc::error::TrySendError::Full(_)) => Err(true),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(false),
        }
    }

    /// Waits for an intake slot; `None` if the batcher closes or shutdown begins first.
    /// Owns what it needs, so a tower service can box it.
    #[cfg(feature = "tower")]
    pub(crate) fn reserve_owned(
        &self,
    ) -> impl Future<Output = Option<mpsc::OwnedPermit<Msg<T, R, E>>>> + Send + Sync + 'static
    where
        T: Send + 'static,
        R: Send + 'static,
        E: Send + Sync + 'static,
    {
        let tx = self.tx.clone();
        let stop = self.shared.stop.clone();
        async move {
            tokio::select! {
                biased;
                () = stop.cancelled() => None,
                permit = tx.reserve_owned() => permit.ok(),
            }
        }
    }

    /// Queues `item` into a slot held by `try_reserve` / `reserve_owned`, as `submit`
    /// does with its permit: refused (item back) if shutdown began meanwhile.
    #[cfg(feature = "tower")]
    pub(crate) fn submit_reserved(
        &self,
        permit: mpsc::OwnedPermit<Msg<T, R, E>>,
        item: T,
    ) -> Result<BatchHandle<R, E>, T> {
        if self.shared.stop.is_cancelled() {
            drop(permit);
            return Err(self.reject(item));
        }
        let (reply, rx) = oneshot::channel();
        permit.send((item, reply));
        Ok(BatchHandle { rx })
    }

    /// Counts a refusal made outside the submit grid (a tower call without a slot).
    #[cfg(feature = "tower")]
    pub(crate) fn count_rejected(&self) {
        self.shared.counters.rejected.fetch_add(1, Relaxed);
    }

    fn reject<X>(&self, err: X) -> X {
        self.shared.counters.rejected.fetch_add(1, Relaxed);
        err
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> BatchMetrics {
        let mut m = self.shared.counters.snapshot();
        m.queued = (self.tx.max_capacity() - self.tx.capacity()) as u64;
        m
    }

    /// `true` once shutdown has begun.
    pub fn is_closed(&self) -> bool {
        self.shared.stop.is_cancelled() || self.tx.is_closed()
    }

    /// Stops intake, flushes everything pending (the batch being filled and the intake
    /// queue, still in batches of at most `max_items` and at most `max_in_flight` at a
    /// time), and waits for the flushes until `timeout` has passed. Flushes still running
    /// then are dropped, and their items (and any not yet flushed) resolve to
    /// [`BatchError::Cancelled`].
    ///
    /// Intake stops when this is first polled: from then on every `submit` and
    /// `try_submit` hands the item back ([`SubmitError`],
    /// [`TrySubmitError::Closed`]), even while the task is still draining
    /// the queue; every item accepted before is flushed or, past the deadline, reported
    /// as [`BatchError::Cancelled`].
    ///
    /// Idempotent: later and concurrent calls wait for the first and return the same
    /// counts. Submitters racing it get their item back the same way.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after its first poll leaves intake stopped and the batcher
    /// draining in the background: every accepted item still gets its answer, but the
    /// deadline is no longer enforced by this call. Call `shutdown` again to wait for the
    /// end and get the counts.
    pub async fn shutdown(&self, timeout: Duration) -> BatchMetrics {
        let deadline = tokio::time::Instant::now() + timeout;
        self.shared.stop.cancel();
        let mut task = self.task.lock().await;
        if let Some(handle) = task.as_mut() {
            if tokio::time::timeout_at(deadline, &mut *handle)
                .await
                .is_err()
            {
                self.shared.abort.cancel();
                let _ = handle.await;
            }
            *task = None;
        }
        self.metrics()
    }
}

impl<T, R, E> fmt::Debug for Batcher<T, R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("closed", &self.is_closed())
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// Resolves to one item's result. Dropping it detaches: the item is still flushed.
#[must_use = "dropping a handle detaches the item; its result is discarded"]
pub struct BatchHandle<R, E> {
    rx: oneshot::Receiver<Result<R, BatchError<E>>>,
}

impl<R, E> Future for BatchHandle<R, E> {
    type Output = Result<R, BatchError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(BatchError::Cancelled)))
    }
}

impl<R, E> fmt::Debug for BatchHandle<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchHandle").finish_non_exhaustive()
    }
}
