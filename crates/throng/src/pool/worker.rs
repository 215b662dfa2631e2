//! The shared core and the worker loop: pop a job, run it (async or on a blocking
//! thread) with panic containment and the job timeout, deliver its outcome.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::JobError;
use super::handle::{JobResult, Reply};
use super::hooks::Hooks;
use super::intake::{Intake, Pop};
use super::metrics::{PoolMetrics, WorkerStats};
use crate::panic::{catch_unwind, panic_message};
use crate::sync::Notify;

/// A queued job with its reply end and the time it was queued.
#[derive(Debug)]
pub(crate) struct Entry<J, R> {
    pub(crate) job: J,
    pub(crate) reply: Reply<R>,
    pub(crate) queued_at: Instant,
    /// The submitter's span, entered while the job runs.
    #[cfg(feature = "tracing")]
    pub(crate) span: tracing::Span,
}

/// What the workers and every `Pool` clone share.
#[derive(Debug)]
pub(crate) struct Core<J, R> {
    pub(crate) intake: Intake<Entry<J, R>>,
    /// Idle workers wait here; a push that claimed one wakes it.
    pub(crate) work: Notify,
    /// Submitters waiting for room wait here; a pop that claimed one wakes it.
    pub(crate) room: Notify,
    /// Cancelled when intake closes: ends retry sleeps and submit waits.
    pub(crate) closed: CancellationToken,
    /// Given to every job; cancelled when shutdown passes its deadline.
    pub(crate) jobs: CancellationToken,
    pub(crate) stats: Box<[CachePadded<WorkerStats>]>,
    pub(crate) job_timeout: Option<Duration>,
    pub(crate) next_id: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) not_started: AtomicU64,
    pub(crate) hooks: Hooks,
}

impl<J, R> Core<J, R> {
    pub(crate) fn new(
        workers: usize,
        capacity: usize,
        job_timeout: Option<Duration>,
        name: &str,
    ) -> Self {
        Self {
            intake: Intake::new(capacity),
            work: Notify::new(),
            room: Notify::new(),
            closed: CancellationToken::new(),
            jobs: CancellationToken::new(),
            stats: (0..workers).map(|_| CachePadded::default()).collect(),
            job_timeout,
            next_id: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            not_started: AtomicU64::new(0),
            hooks: Hooks::new(name),
        }
    }

    /// Stops intake and wakes everyone who waits on it: idle workers (to drain and exit)
    /// and waiting submitters (to get their job back). Idempotent.
    pub(crate) fn close(&self) {
        self.intake.close();
        self.closed.cancel();
        self.work.notify_waiters();
        self.room.notify_waiters();
    }

    pub(crate) fn metrics(&self) -> PoolMetrics {
        let mut m = PoolMetrics::default();
        for w in self.stats.iter() {
            m.add_worker(w);
        }
        let (queued, accepted) = self.intake.counts();
        m.queued = queued;
        m.accepted = accepted;
        m.rejected = self.rejected.load(Relaxed);
        m.cancelled = self.cancelled.load(Relaxed);
        m.not_started = self.not_started.load(Relaxed);
        m
    }

    /// The next job for a worker, waiting while the queue is empty; `None` when the
    /// worker should exit.
    async fn next(&self) -> Option<Entry<J, R>> {
        loop {
            // Fast path: no `Notify` registration (it takes the notifier's lock).
            let popped = match self.intake.pop(false) {
                Pop::Empty => {
                    let notified = pin!(self.work.notified());
                    let mut notified = notified;
                    // Registered before the state check, so neither `notify_one` (push)
                    // nor `notify_waiters` (close) can be missed.
                    notified.as_mut().enable();
                    match self.intake.pop(true) {
                        Pop::Empty => {
                            notified.await;
                            continue;
                        }
                        other => other,
                    }
                }
                other => other,
            };
            return match popped {
                Pop::Item {
                    item,
                    wake_submitter,
                } => {
                    if wake_submitter {
                        self.room.notify_one();
                    }
                    self.hooks.dequeued(1);
                    Some(item)
                }
                Pop::Finished | Pop::Empty => None,
            };
        }
    }
}

/// How a worker runs one job: on the worker task, or on a blocking thread.
pub(crate) trait Runner<J, R>: Send + Sync + 'static {
    fn run(
        &self,
        job: J,
        token: &CancellationToken,
        timeout: Option<Duration>,
    ) -> impl Future<Output = JobResult<R>> + Send;
}

/// Runs `Fn(J, CancellationToken) -> Future` on the worker task itself: no spawn and no
/// allocation per job.
pub(crate) struct AsyncRunner<H>(pub(crate) H);

impl<J, R, H, Fut> Runner<J, R> for AsyncRunner<H>
where
    J: Send + 'static,
    R: Send + 'static,
    H: Fn(J, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send,
{
    async fn run(
        &self,
        job: J,
        token: &CancellationToken,
        timeout: Option<Duration>,
    ) -> JobResult<R> {
        let guarded = async {
            catch_unwind(|| (self.0)(job, token.clone()))
                .await
                .map_err(|payload| JobError::Panicked(panic_message(&*payload)))
        };
        match timeout {
            None => guarded.await,
            Some(limit) => tokio::time::timeout(limit, guarded)
                .await
                .unwrap_or(Err(JobError::TimedOut)),
        }
    }
}

/// Runs `Fn(J, &CancellationToken) -> R` on tokio's blocking threads, one job per worker
/// at a time, so `workers` bounds the threads in use.
pub(crate) struct BlockingRunner<H>(pub(crate) Arc<H>);

impl<J, R, H> Runner<J, R> for BlockingRunner<H>
where
    J: Send + 'static,
    R: Send + 'static,
    H: Fn(J, &CancellationToken) -> R + Send + Sync + 'static,
{
    async fn run(
        &self,
        job: J,
        token: &CancellationToken,
        timeout: Option<Duration>,
    ) -> JobResult<R> {
        // A per-job child token only when a timeout must reach this one job.
        let job_token = match timeout {
            Some(_) => token.child_token(),
            None => token.clone(),
        };
        let handler = self.0.clone();
        let thread_token = job_token.clone();
        // The worker runs this inside the job's span; carry it onto the blocking thread.
        #[cfg(feature = "tracing")]
        let span = tracing::Span::current();
        let mut join = tokio::task::spawn_blocking(move || {
            #[cfg(feature = "tracing")]
            let _entered = span.enter();
            handler(job, &thread_token)
        });
        let joined = match timeout {
            None => (&mut join).await,
            Some(limit) => match tokio::time::timeout(limit, &mut join).await {
                Ok(joined) => joined,
                Err(_) => {
                    // Tell the job to stop, and keep its worker busy until the thread
                    // returns, so `workers` still bounds the threads in use.
                    job_token.cancel();
                    let _ = join.await;
                    return Err(JobError::TimedOut);
                }
            },
        };
        match joined {
            Ok(value) => Ok(value),
            Err(e) if e.is_panic() => Err(JobError::Panicked(panic_message(&*e.into_panic()))),
            // The runtime is shutting down and cancelled the blocking task.
            Err(_) => Err(JobError::Cancelled),
        }
    }
}

/// One worker: take jobs until the pool is closed and drained, or halted.
pub(crate) async fn work<J, R, X: Runner<J, R>>(core: Arc<Core<J, R>>, index: usize, runner: X) {
    let stats = &core.stats[index];
    while let Some(entry) = core.next().await {
        stats.start(entry.queued_at.elapsed());
        let run = runner.run(entry.job, &core.jobs, core.job_timeout);
        #[cfg(feature = "tracing")]
        let run = tracing::Instrument::instrument(run, entry.span);
        let outcome = run.await;
        // Counted, delivered and marked idle with no `.await` in between, so an abort at
        // shutdown either finds this job running (cancelled) or finished, never both.
        stats.finish(&outcome);
        core.hooks.finished(&outcome);
        entry.reply.send(outcome);
        stats.idle();
    }
}
