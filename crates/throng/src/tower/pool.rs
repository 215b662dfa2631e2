//! [`PoolService`]: a [`Pool`] as a tower `Service`, with `poll_ready` as backpressure.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::Service;

use crate::pool::{JobError, JobHandle, Pool};

/// Why a [`PoolService`] call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolServiceError {
    /// The pool is closed (shutting down or shut down). From `poll_ready` this means
    /// the service is done, as tower's contract says; from `call`, the pool closed
    /// between `poll_ready` and `call`. The job was dropped.
    Closed,
    /// `call` was made without a successful `poll_ready` first, so no queue slot was
    /// held; the job was dropped, not queued past the capacity.
    NotReady,
    /// The job was accepted and ended without a value (it panicked, timed out, was
    /// cancelled or never started at shutdown).
    Job(JobError),
}

impl fmt::Display for PoolServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("pool is closed"),
            Self::NotReady => f.write_str("pool service called without poll_ready"),
            Self::Job(e) => e.fmt(f),
        }
    }
}

impl Error for PoolServiceError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Job(e) => Some(e),
            _ => None,
        }
    }
}

type Waiting = Pin<Box<dyn Future<Output = bool> + Send + Sync>>;

enum Slot {
    /// Nothing held.
    Idle,
    /// Waiting for room (the future holds the wait, not a slot).
    Waiting(Waiting),
    /// One queue slot is held for the next `call`.
    Held,
}

/// A [`Pool`] as a tower [`Service`]: each request is a job, the response its result.
///
/// Backpressure is `poll_ready`: it holds one slot of the pool's bounded queue (pending
/// while the queue is full, woken when a worker takes a job), and `call` puts the job
/// into that slot, so the queue never grows past its capacity and nothing is buffered
/// in the service. Plain `submit`/`try_submit` callers and services share the same
/// capacity. A slot held by a service that is dropped (or cloned: clones start with
/// nothing held) is given back. `call` without a held slot returns
/// [`PoolServiceError::NotReady`] instead of panicking or overfilling the queue.
///
/// The response future awaits the job's [`JobHandle`]; dropping it detaches the job
/// (it still runs). Errors: [`PoolServiceError`].
///
/// # Examples
///
/// ```
/// use throng::pool::Pool;
/// use throng::tower::PoolService;
/// use tower::{Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Pool::builder()
///     .workers(2)
///     .queue_capacity(8)
///     .spawn(|n: u64, _token| async move { n * n })?;
/// let mut svc = PoolService::new(pool.clone());
///
/// assert_eq!(svc.ready().await?.call(7).await?, 49);
/// assert_eq!(svc.oneshot(8).await?, 64);
/// pool.shutdown(std::time::Duration::from_secs(1)).await;
/// # Ok(())
/// # }
/// ```
pub struct PoolService<J, R> {
    pool: Pool<J, R>,
    slot: Slot,
}

impl<J, R> PoolService<J, R> {
    /// A service submitting into `pool` (a clone of the handle; the pool stays shared).
    pub fn new(pool: Pool<J, R>) -> Self {
        Self {
            pool,
            slot: Slot::Idle,
        }
    }

    /// The pool this service submits to.
    pub fn pool(&self) -> &Pool<J, R> {
        &self.pool
    }

    /// `true` while a queue slot is held for the next `call`.
    pub fn is_ready(&self) -> bool {
        matches!(self.slot, Slot::Held)
    }
}

impl<J, R> From<Pool<J, R>> for PoolService<J, R> {
    fn from(pool: Pool<J, R>) -> Self {
        Self::new(pool)
    }
}

impl<J, R> Clone for PoolService<J, R> {
    fn clone(&self) -> Self {
        Self::new(self.pool.clone())
    }
}

impl<J, R> Drop for PoolService<J, R> {
    fn drop(&mut self) {
        if matches!(self.slot, Slot::Held) {
            self.pool.release_reserved();
        }
    }
}

impl<J, R> fmt::Debug for PoolService<J, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = match self.slot {
            Slot::Idle => "idle",
            Slot::Waiting(_) => "waiting",
            Slot::Held => "held",
        };
        f.debug_struct("PoolService")
            .field("pool", &self.pool)
            .field("slot", &slot)
            .finish()
    }
}

impl<J, R> Service<J> for PoolService<J, R>
where
    J: Send + 'static,
    R: Send + 'static,
{
    type Response = R;
    type Error = PoolServiceError;
    type Future = PoolFuture<R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.slot {
                Slot::Held => return Poll::Ready(Ok(())),
                Slot::Idle => match self.pool.try_reserve() {
                    Ok(()) => self.slot = Slot::Held,
                    Err(true) => self.slot = Slot::Waiting(Box::pin(self.pool.reserve_owned())),
                    Err(false) => return Poll::Ready(Err(PoolServiceError::Closed)),
                },
                Slot::Waiting(wait) => match wait.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(true) => self.slot = Slot::Held,
                    Poll::Ready(false) => {
                        self.slot = Slot::Idle;
                        return Poll::Ready(Err(PoolServiceError::Closed));
                    }
                },
            }
        }
    }

    fn call(&mut self, job: J) -> Self::Future {
        if !matches!(self.slot, Slot::Held) {
            // A wait in progress (if any) stays; the job is refused, not queued.
            self.pool.count_rejected();
            return PoolFuture::failed(PoolServiceError::NotReady);
        }
        self.slot = Slot::Idle;
        match self.pool.submit_reserved(job) {
            Ok(handle) => PoolFuture {
                kind: Kind::Running(handle),
            },
            Err(_job) => PoolFuture::failed(PoolServiceError::Closed),
        }
    }
}

/// The response future of [`PoolService`]: the job's result.
#[must_use = "futures do nothing unless awaited; dropping it detaches the job"]
pub struct PoolFuture<R> {
    kind: Kind<R>,
}

enum Kind<R> {
    Running(JobHandle<R>),
    Failed(PoolServiceError),
}

impl<R> PoolFuture<R> {
    fn failed(e: PoolServiceError) -> Self {
        Self {
            kind: Kind::Failed(e),
        }
    }
}

impl<R> fmt::Debug for PoolFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolFuture").finish_non_exhaustive()
    }
}

impl<R> Future for PoolFuture<R> {
    type Output = Result<R, PoolServiceError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.kind {
            Kind::Running(handle) => Pin::new(handle).poll(cx).map_err(PoolServiceError::Job),
            Kind::Failed(e) => Poll::Ready(Err(e.clone())),
        }
    }
}
