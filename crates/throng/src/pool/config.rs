//! [`PoolBuilder`]: settings, validated when the pool is spawned.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::InvalidPool;
use super::pool::Pool;
use super::worker::{work, AsyncRunner, BlockingRunner, Core};

/// Settings for a [`Pool`]; finish with [`spawn`](Self::spawn) (async jobs) or
/// [`spawn_blocking`](Self::spawn_blocking) (CPU-bound or blocking jobs).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `spawn` or `spawn_blocking` is called"]
pub struct PoolBuilder {
    pub(crate) workers: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) job_timeout: Option<Duration>,
    pub(crate) cancel_grace: Duration,
    pub(crate) name: String,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue_capacity: 1024,
            job_timeout: None,
            cancel_grace: Duration::from_millis(100),
            name: "pool".to_owned(),
        }
    }
}

impl PoolBuilder {
    /// How many jobs run at once (default: the number of CPUs). For async jobs that
    /// mostly wait on I/O this can be far above the CPU count; for blocking jobs it is
    /// the number of threads the pool may occupy.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many jobs may wait in the queue, not counting the running ones (default
    /// 1024). When it is full, `try_submit` returns `Full` and `submit` waits.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Fails any job that runs longer than `timeout` with
    /// [`JobError::TimedOut`](super::JobError::TimedOut) (default: no limit). The time
    /// counts from the job's start, not from its submission.
    pub fn job_timeout(mut self, timeout: Duration) -> Self {
        self.job_timeout = Some(timeout);
        self
    }

    /// How long running jobs get to finish after their token is cancelled at the
    /// shutdown deadline, before they are dropped (default 100 ms; zero drops them at
    /// once).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// A name for logs, `Debug` output and the `pool` label of its metrics (feature
    /// `metrics`; default `"pool"`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn validate(&self) -> Result<tokio::runtime::Handle, InvalidPool> {
        if self.workers == 0 {
            return Err(InvalidPool::ZeroWorkers);
        }
        if self.queue_capacity == 0 {
            return Err(InvalidPool::ZeroCapacity);
        }
        if self.job_timeout == Some(Duration::ZERO) {
            return Err(InvalidPool::ZeroTimeout);
        }
        tokio::runtime::Handle::try_current().map_err(|_| InvalidPool::NoRuntime)
    }

    /// Starts the workers for async jobs: each job is `handler(job, token)`, awaited on a
    /// worker task (no spawn per job). `token` is cancelled when a shutdown passes its
    /// deadline; long jobs should watch it.
    ///
    /// # Errors
    ///
    /// [`InvalidPool`] for zero workers, zero capacity, a zero timeout, or no tokio
    /// runtime.
    pub fn spawn<J, R, H, Fut>(self, handler: H) -> Result<Pool<J, R>, InvalidPool>
    where
        J: Send + 'static,
        R: Send + 'static,
        H: Fn(J, CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send,
    {
        let runtime = self.validate()?;
        let core = Arc::new(Core::new(
            self.workers,
            self.queue_capacity,
            self.job_timeout,
            &self.name,
        ));
        let runner = Arc::new(AsyncRunner(handler));
        let handles = (0..self.workers)
            .map(|i| {
                let runner = SharedRunner(runner.clone());
                runtime.spawn(work(core.clone(), i, runner))
            })
            .collect();
        Ok(Pool::from_parts(core, handles, &self))
    }

    /// Starts the workers for blocking or CPU-bound jobs: each job runs
    /// `handler(job, &token)` on tokio's blocking thread pool, at most `workers` at a
    /// time. A blocking job cannot be interrupted: a job timeout or a shutdown deadline
    /// cancels its token, and a job that ignores the token keeps its thread until it
    /// returns.
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Self::spawn).
    pub fn spawn_blocking<J, R, H>(self, handler: H) -> Result<Pool<J, R>, InvalidPool>
    where
        J: Send + 'static,
        R: Send + 'static,
        H: Fn(J, &CancellationToken) -> R + Send + Sync + 'static,
    {
        let runtime = self.validate()?;
        let core = Arc::new(Core::new(
            self.workers,
            self.queue_capacity,
            self.job_timeout,
            &self.name,
        ));
        let handler = Arc::new(handler);
        let handles = (0..self.workers)
            .map(|i| runtime.spawn(work(core.clone(), i, BlockingRunner(handler.clone()))))
            .collect();
        Ok(Pool::from_parts(core, handles, &self))
    }
}

/// A worker loop handed back instead of spawned (loom models run it on a loom thread).
#[cfg(loom)]
pub type UnspawnedWorker = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

#[cfg(loom)]
impl PoolBuilder {
    /// What [`spawn`](Self::spawn) builds, with the same `work` loops, but returned
    /// instead of spawned on a runtime, so `tests/loom_pool.rs` can run each worker on
    /// its own loom thread (a tokio runtime cannot run under loom). Nothing else differs.
    pub(crate) fn unspawned<J, R, H, Fut>(
        self,
        handler: H,
    ) -> Result<(Pool<J, R>, Vec<UnspawnedWorker>), InvalidPool>
    where
        J: Send + 'static,
        R: Send + 'static,
        H: Fn(J, CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        if self.workers == 0 {
            return Err(InvalidPool::ZeroWorkers);
        }
        if self.queue_capacity == 0 {
            return Err(InvalidPool::ZeroCapacity);
        }
        let core = Arc::new(Core::new(
            self.workers,
            self.queue_capacity,
            self.job_timeout,
            &self.name,
        ));
        let runner = Arc::new(AsyncRunner(handler));
        let workers = (0..self.workers)
            .map(|i| {
                let runner = SharedRunner(runner.clone());
                Box::pin(work(core.clone(), i, runner)) as UnspawnedWorker
            })
            .collect();
        Ok((Pool::from_parts(core, Vec::new(), &self), workers))
    }
}

/// Shares one async handler among the workers.
struct SharedRunner<X>(Arc<X>);

impl<J, R, X: super::worker::Runner<J, R>> super::worker::Runner<J, R> for SharedRunner<X> {
    fn run(
        &self,
        job: J,
        token: &CancellationToken,
        timeout: Option<Duration>,
    ) -> impl Future<Output = super::handle::JobResult<R>> + Send {
        self.0.run(job, token, timeout)
    }
}
