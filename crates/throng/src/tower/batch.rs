//! [`BatchService`]: a [`Batcher`] as a tower `Service`, with `poll_ready` as
//! backpressure.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc::OwnedPermit;
use tower::Service;

use crate::batch::{BatchError, BatchHandle, Batcher, Msg};

/// Why a [`BatchService`] call failed.
#[non_exhaustive]
pub enum BatchServiceError<E> {
    /// The batcher is closed or shutting down. From `poll_ready` this means the service
    /// is done, as tower's contract says; from `call`, shutdown began between
    /// `poll_ready` and `call`. The item was dropped.
    Closed,
    /// `call` was made without a successful `poll_ready` first, so no intake slot was
    /// held; the item was dropped, not queued past the capacity.
    NotReady,
    /// The item was accepted and its batch failed (see [`BatchError`]).
    Batch(BatchError<E>),
}

impl<E> Clone for BatchServiceError<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Closed => Self::Closed,
            Self::NotReady => Self::NotReady,
            Self::Batch(e) => Self::Batch(e.clone()),
        }
    }
}

impl<E: PartialEq> PartialEq for BatchServiceError<E> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Closed, Self::Closed) | (Self::NotReady, Self::NotReady) => true,
            (Self::Batch(a), Self::Batch(b)) => a == b,
            _ => false,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for BatchServiceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("Closed"),
            Self::NotReady => f.write_str("NotReady"),
            Self::Batch(e) => f.debug_tuple("Batch").field(e).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for BatchServiceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("batcher is closed"),
            Self::NotReady => f.write_str("batch service called without poll_ready"),
            Self::Batch(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> Error for BatchServiceError<E> {}

type Reserving<T, R, E> =
    Pin<Box<dyn Future<Output = Option<OwnedPermit<Msg<T, R, E>>>> + Send + Sync>>;

enum Slot<T, R, E> {
    Idle,
    Waiting(Reserving<T, R, E>),
    Held(OwnedPermit<Msg<T, R, E>>),
}

/// A [`Batcher`] as a tower [`Service`]: each request is an item, the response that
/// item's result from its batch's flush.
///
/// Backpressure is `poll_ready`: it holds one slot of the batcher's bounded intake queue
/// (pending while flushes are behind and the queue is full), and `call` sends the item
/// into it, so nothing is buffered in the service. A held slot is released when the
/// service is dropped; clones start with nothing held. Once shutdown begins,
/// `poll_ready` and `call` fail with [`BatchServiceError::Closed`], as `submit` does.
/// `call` without a held slot returns [`BatchServiceError::NotReady`] instead of
/// panicking.
///
/// The response future awaits the item's [`BatchHandle`]; dropping it detaches the item
/// (it is still flushed).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::batch::Batcher;
/// use throng::tower::BatchService;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let lengths = Batcher::builder()
///     .max_items(16)
///     .max_delay(Duration::from_millis(5))
///     .spawn(|batch: Vec<String>| async move {
///         Ok::<_, std::io::Error>(batch.iter().map(String::len).collect::<Vec<_>>())
///     })?;
/// let svc = BatchService::new(lengths.clone());
///
/// let (a, b) = tokio::join!(svc.clone().oneshot("hello".into()), svc.oneshot("hi".into()));
/// assert_eq!((a?, b?), (5, 2)); // one flush for both
/// assert_eq!(lengths.shutdown(Duration::from_secs(1)).await.batches, 1);
/// # Ok(())
/// # }
/// ```
pub struct BatchService<T, R, E> {
    batcher: Batcher<T, R, E>,
    slot: Slot<T, R, E>,
}

impl<T, R, E> BatchService<T, R, E> {
    /// A service submitting into `batcher` (a clone of the handle; batches are shared).
    pub fn new(batcher: Batcher<T, R, E>) -> Self {
        Self {
            batcher,
            slot: Slot::Idle,
        }
    }

    /// The batcher this service submits to.
    pub fn batcher(&self) -> &Batcher<T, R, E> {
        &self.batcher
    }

    /// `true` while an intake slot is held for the next `call`.
    pub fn is_ready(&self) -> bool {
        matches!(self.slot, Slot::Held(_))
    }
}

impl<T, R, E> From<Batcher<T, R, E>> for BatchService<T, R, E> {
    fn from(batcher: Batcher<T, R, E>) -> Self {
        Self::new(batcher)
    }
}

impl<T, R, E> Clone for BatchService<T, R, E> {
    fn clone(&self) -> Self {
        Self::new(self.batcher.clone())
    }
}

impl<T, R, E> fmt::Debug for BatchService<T, R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = match self.slot {
            Slot::Idle => "idle",
            Slot::Waiting(_) => "waiting",
            Slot::Held(_) => "held",
        };
        f.debug_struct("BatchService")
            .field("batcher", &self.batcher)
            .field("slot", &slot)
            .finish()
    }
}

impl<T, R, E> Service<T> for BatchService<T, R, E>
where
    T: Send + 'static,
    R: Send + 'static,
    E: Send + Sync + 'static,
{
    type Response = R;
    type Error = BatchServiceError<E>;
    type Future = BatchFuture<R, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.slot {
                Slot::Held(_) if self.batcher.is_closed() => {
                    self.slot = Slot::Idle;
                    return Poll::Ready(Err(BatchServiceError::Closed));
                }
                Slot::Held(_) => return Poll::Ready(Ok(())),
                Slot::Idle => match self.batcher.try_reserve() {
                    Ok(permit) => self.slot = Slot::Held(permit),
                    Err(true) => {
                        self.slot = Slot::Waiting(Box::pin(self.batcher.reserve_owned()));
                    }
                    Err(false) => return Poll::Ready(Err(BatchServiceError::Closed)),
                },
                Slot::Waiting(wait) => match wait.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(permit)) => self.slot = Slot::Held(permit),
                    Poll::Ready(None) => {
                        self.slot = Slot::Idle;
                        return Poll::Ready(Err(BatchServiceError::Closed));
                    }
                },
            }
        }
    }

    fn call(&mut self, item: T) -> Self::Future {
        let Slot::Held(permit) = std::mem::replace(&mut self.slot, Slot::Idle) else {
            // Whatever was there (a wait in progress) is dropped with the refusal.
            self.batcher.count_rejected();
            return BatchFuture::failed(BatchServiceError::NotReady);
        };
        match self.batcher.submit_reserved(permit, item) {
            Ok(handle) => BatchFuture {
                kind: Kind::Waiting(handle),
            },
            Err(_item) => BatchFuture::failed(BatchServiceError::Closed),
        }
    }
}

/// The response future of [`BatchService`]: the item's result.
#[must_use = "futures do nothing unless awaited; dropping it detaches the item"]
pub struct BatchFuture<R, E> {
    kind: Kind<R, E>,
}

enum Kind<R, E> {
    Waiting(BatchHandle<R, E>),
    Failed(BatchServiceError<E>),
}

impl<R, E> BatchFuture<R, E> {
    fn failed(e: BatchServiceError<E>) -> Self {
        Self {
            kind: Kind::Failed(e),
        }
    }
}

impl<R, E> fmt::Debug for BatchFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchFuture").finish_non_exhaustive()
    }
}

impl<R, E> Future for BatchFuture<R, E> {
    type Output = Result<R, BatchServiceError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.kind {
            Kind::Waiting(handle) => Pin::new(handle).poll(cx).map_err(BatchServiceError::Batch),
            Kind::Failed(e) => Poll::Ready(Err(e.clone())),
        }
    }
}
