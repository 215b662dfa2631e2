//! [`Pool`]: the submit grid, metrics and shutdown.

use std::fmt;
use std::future::ready;
use std::pin::pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::PoolBuilder;
use super::error::{JobError, SubmitError, SubmitRetryError, SubmitTimeoutError, TrySubmitError};
use super::handle::{pair, JobHandle};
use super::intake::Push;
use super::metrics::{PoolMetrics, ShutdownReport};
use super::worker::{Core, Entry};
use crate::retry::{retry, Backoff, StopReason};

/// A bounded worker pool: a fixed set of workers takes jobs from one bounded queue.
///
/// `J` is the job (the input handed to the pool's handler), `R` what the handler returns.
/// Build one with [`Pool::builder`]. `Pool` is a cheap handle: clone it into every
/// submitter. See the [module docs](super) for when to use it and what it costs.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::pool::Pool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Pool::builder()
///     .workers(2)
///     .queue_capacity(8)
///     .spawn(|n: u64, _token| async move { n * n })?;
/// let handles = vec![pool.submit(3).await?, pool.submit(4).await?];
/// let mut squares = Vec::new();
/// for h in handles {
///     squares.push(h.await?);
/// }
/// assert_eq!(squares, [9, 16]);
/// let report = pool.shutdown(Duration::from_secs(1)).await;
/// assert_eq!(report.completed, 2);
/// # Ok(())
/// # }
/// ```
pub struct Pool<J, R> {
    inner: Arc<Inner<J, R>>,
}

impl<J, R> Clone for Pool<J, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<J, R> {
    core: Arc<Core<J, R>>,
    name: String,
    workers: usize,
    capacity: usize,
    cancel_grace: Duration,
    /// Held for the whole of a shutdown, so concurrent calls wait for the first one and
    /// a dropped shutdown future leaves its progress here for the next call.
    shutdown: tokio::sync::Mutex<ShutdownState<J>>,
    /// Worker handles until a shutdown takes them over.
    handles: StdMutex<Vec<JoinHandle<()>>>,
}

struct ShutdownState<J> {
    started: Option<Instant>,
    workers: Vec<Option<JoinHandle<()>>>,
    unstarted: Vec<J>,
    deadline_passed: bool,
    done: Option<Summary>,
}

#[derive(Clone, Copy)]
struct Summary {
    elapsed: Duration,
}

impl<J, R> Drop for Inner<J, R> {
    fn drop(&mut self) {
        // The last handle is gone: nobody can submit any more. Workers drain the queue
        // and exit; their outcomes still reach any live job handles.
        self.core.close();
    }
}

impl Pool<(), ()> {
    /// A builder with the defaults: one worker per CPU, a queue of 1024, no job timeout,
    /// a 100 ms cancel grace.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }
}

impl<J, R> Pool<J, R> {
    pub(crate) fn from_parts(
        core: Arc<Core<J, R>>,
        handles: Vec<JoinHandle<()>>,
        builder: &PoolBuilder,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                core,
                name: builder.name.clone(),
                workers: handles.len(),
                capacity: builder.queue_capacity,
                cancel_grace: builder.cancel_grace,
                shutdown: tokio::sync::Mutex::new(ShutdownState {
                    started: None,
                    workers: Vec::new(),
                    unstarted: Vec::new(),
                    deadline_passed: false,
                    done: None,
                }),
                handles: StdMutex::new(handles),
            }),
        }
    }

    /// The name given to the builder.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// The queue capacity (jobs waiting, not counting the ones running).
    pub fn queue_capacity(&self) -> usize {
        self.inner.capacity
    }

    /// `true` once shutdown has begun (or every other handle was dropped).
    pub fn is_closed(&self) -> bool {
        self.inner.core.intake.is_closed()
    }

    /// A snapshot of the counters; cheap enough to scrape every second.
    pub fn metrics(&self) -> PoolMetrics {
        self.inner.core.metrics()
    }

    fn entry(&self, job: J) -> (Entry<J, R>, JobHandle<R>) {
        let id = self.inner.core.next_id.fetch_add(1, Relaxed);
        let (reply, handle) = pair(id);
        let entry = Entry {
            job,
            reply,
            queued_at: Instant::now(),
            #[cfg(feature = "tracing")]
            span: tracing::Span::current(),
        };
        (entry, handle)
    }

    fn reject(&self) {
        self.inner.core.rejected.fetch_add(1, Relaxed);
        self.inner.core.hooks.rejected();
    }

    /// One attempt. `Err` hands the entry back with whether it was `Full` (`true`) or
    /// `Closed`.
    fn push(&self, entry: Entry<J, R>, register: bool) -> Result<(), (Entry<J, R>, bool)> {
        match self.inner.core.intake.push(entry, register) {
            Push::Accepted { wake_worker } => {
                self.inner.core.hooks.queued(1);
                if wake_worker {
                    self.inner.core.work.notify_one();
                }
                Ok(())
            }
            Push::Full(entry) => Err((entry, true)),
            Push::Closed(entry) => Err((entry, false)),
        }
    }

    /// Queues `job` if there is room now, without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] if the queue is at capacity, [`TrySubmitError::Closed`] if
    /// the pool is shutting down; both hand the job back.
    pub fn try_submit(&self, job: J) -> Result<JobHandle<R>, TrySubmitError<J>> {
        let (entry, handle) = self.entry(job);
        match self.push(entry, false) {
            Ok(()) => Ok(handle),
            Err((entry, full)) => {
                self.reject();
                Err(if full {
                    TrySubmitError::Full(entry.job)
                } else {
                    TrySubmitError::Closed(entry.job)
                })
            }
        }
    }

    /// Queues `job`, waiting for room while the queue is full (backpressure).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes never queues the job; the job is dropped
    /// with the future. To get a job back after a bounded wait, use
    /// [`submit_timeout`](Self::submit_timeout).
    ///
    /// # Errors
    ///
    /// [`SubmitError`] with the job if the pool closes first.
    pub async fn submit(&self, job: J) -> Result<JobHandle<R>, SubmitError<J>> {
        self.submit_until(job, None).await.map_err(|e| match e {
            SubmitTimeoutError::Closed(job) | SubmitTimeoutError::Timeout(job) => SubmitError(job),
        })
    }

    /// Like [`submit`](Self::submit), but gives up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`SubmitTimeoutError::Timeout`] if the queue stayed full, or
    /// [`SubmitTimeoutError::Closed`]; both hand the job back.
    ///
    /// # Cancel safety
    ///
    /// As [`submit`](Self::submit): dropping the future while it waits for room leaves
    /// the job unsubmitted (it is dropped with the future).
    pub async fn submit_timeout(
        &self,
        job: J,
        timeout: Duration,
    ) -> Result<JobHandle<R>, SubmitTimeoutError<J>> {
        self.submit_until(job, Some(Instant::now() + timeout)).await
    }

    async fn submit_until(
        &self,
        job: J,
        deadline: Option<Instant>,
    ) -> Result<JobHandle<R>, SubmitTimeoutError<J>> {
        let core = &self.inner.core;
        let (mut entry, handle) = self.entry(job);
        loop {
            entry = match self.push(entry, false) {
                Ok(()) => return Ok(handle),
                Err((entry, true)) => entry,
                Err((entry, false)) => {
                    self.reject();
                    return Err(SubmitTimeoutError::Closed(entry.job));
                }
            };
            let mut notified = pin!(core.room.notified());
            // Registered before the second check, so a pop's `notify_one` or the close's
            // `notify_waiters` cannot slip between the check and the wait.
            notified.as_mut().enable();
            entry = match self.push(entry, true) {
                Ok(()) => return Ok(handle),
                Err((entry, true)) => entry,
                Err((entry, false)) => {
                    self.reject();
                    return Err(SubmitTimeoutError::Closed(entry.job));
                }
            };
            match deadline {
                None => notified.await,
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        // One last look, then hand the job back.
                        return match self.push(entry, false) {
                            Ok(()) => Ok(handle),
                            Err((entry, full)) => {
                                self.reject();
                                Err(if full {
                                    SubmitTimeoutError::Timeout(entry.job)
                                } else {
                                    SubmitTimeoutError::Closed(entry.job)
                                })
                            }
                        };
                    }
                }
            }
        }
    }

    /// Tries to queue `job` without waiting, and while the queue is full, waits by
    /// `policy` (exponential backoff with jitter) and tries again. Only `Full` is retried;
    /// a closed pool stops at once, and closing the pool ends a wait in the same instant.
    ///
    /// Use this when a burst should be smoothed rather than pushed back on the caller at
    /// once, and many submitters should not retry in lockstep (the seed's
    /// `SubmitWithRetry` slept a fixed, growing time with no jitter, even after its last
    /// attempt, S15-7).
    ///
    /// # Cancel safety
    ///
    /// As for [`submit`](Self::submit): dropping the future drops the job unqueued.
    ///
    /// # Errors
    ///
    /// [`SubmitRetryError::Full`] with the attempt count and the stop reason when the
    /// policy gives up, [`SubmitRetryError::Closed`] if the pool closes; both hand the
    /// job back.
    pub async fn submit_with_retry(
        &self,
        job: J,
        policy: &Backoff,
    ) -> Result<JobHandle<R>, SubmitRetryError<J>> {
        let (entry, handle) = self.entry(job);
        let mut held = Some(entry);
        let outcome = retry(policy, &self.inner.core.closed, |_| {
            let result = match held.take() {
                Some(entry) => match self.push(entry, false) {
                    Ok(()) => Ok(()),
                    Err((entry, full)) => {
                        held = Some(entry);
                        Err(full)
                    }
                },
                // Unreachable: the entry is put back after every refused attempt.
                None => Err(false),
            };
            ready(result)
        })
        .retry_if(|full: &bool| *full)
        .await;
        match (outcome, held) {
            (Ok(()), _) => Ok(handle),
            (Err(err), Some(entry)) => {
                self.reject();
                let closed = !*err.inner() || err.reason() == StopReason::Cancelled;
                Err(if closed {
                    SubmitRetryError::Closed(entry.job)
                } else {
                    SubmitRetryError::Full {
                        job: entry.job,
                        attempts: err.attempts(),
                        reason: err.reason(),
                    }
                })
            }
            (Err(_), None) => unreachable!("a refused attempt always puts the job back"),
        }
    }

    /// Holds one queue slot now, if there is room: the fast path of a tower
    /// `poll_ready`. `Err(true)` full, `Err(false)` closed.
    #[cfg(feature = "tower")]
    pub(crate) fn try_reserve(&self) -> Result<(), bool> {
        use super::intake::Reserve;
        match self.inner.core.intake.reserve(false) {
            Reserve::Reserved => Ok(()),
            Reserve::Full => Err(true),
            Reserve::Closed => Err(false),
        }
    }

    /// Waits for room and holds one queue slot; `false` if the pool closed first. The
    /// future owns what it needs (no borrow of `self`) so a tower service can box it.
    /// Dropped while waiting, it holds nothing.
    #[cfg(feature = "tower")]
    pub(crate) fn reserve_owned(&self) -> impl std::future::Future<Output = bool> + Send + 'static
    where
        J: Send + 'static,
        R: Send + 'static,
    {
        use super::intake::Reserve;
        let core = self.inner.core.clone();
        async move {
            loop {
                match core.intake.reserve(false) {
                    Reserve::Reserved => return true,
                    Reserve::Closed => return false,
                    Reserve::Full => {}
                }
                let mut notified = pin!(core.room.notified());
                // Registered before the second check, as in `submit`.
                notified.as_mut().enable();
                match core.intake.reserve(true) {
                    Reserve::Reserved => return true,
                    Reserve::Closed => return false,
                    Reserve::Full => notified.await,
                }
            }
        }
    }

    /// Queues `job` into a slot held by `try_reserve` / `reserve_owned`; gives the job
    /// back if the pool closed since (the slot is given up either way).
    #[cfg(feature = "tower")]
    pub(crate) fn submit_reserved(&self, job: J) -> Result<JobHandle<R>, J> {
        let (entry, handle) = self.entry(job);
        match self.inner.core.intake.push_reserved(entry) {
            Push::Accepted { wake_worker } => {
                self.inner.core.hooks.queued(1);
                if wake_worker {
                    self.inner.core.work.notify_one();
                }
                Ok(handle)
            }
            Push::Full(entry) | Push::Closed(entry) => {
                self.reject();
                Err(entry.job)
            }
        }
    }

    /// Counts a refusal made outside the submit grid (a tower call without a slot).
    #[cfg(feature = "tower")]
    pub(crate) fn count_rejected(&self) {
        self.reject();
    }

    /// Gives up a slot held by `try_reserve` / `reserve_owned` without using it.
    #[cfg(feature = "tower")]
    pub(crate) fn release_reserved(&self) {
        if self.inner.core.intake.release() {
            self.inner.core.room.notify_one();
        }
    }

    /// Stops intake, lets queued and running jobs finish until `timeout` has passed, then
    /// cancels what is still running and hands back what never started.
    ///
    /// In order:
    /// 1. Intake closes: every submit from now on (and every submitter waiting for room)
    ///    gets its job back as `Closed`. Nothing races: a submit either got in before the
    ///    close, or gets its job back.
    /// 2. Workers keep taking queued jobs until the queue is empty, then exit. If they
    ///    all exit before the deadline, the report is clean.
    /// 3. At the deadline, the queue is taken: those jobs never start, their handles
    ///    resolve to [`JobError::NotStarted`], and the jobs go back to the caller in
    ///    [`ShutdownReport::unstarted`]. The token every job received is cancelled, and
    ///    workers start nothing new.
    /// 4. Jobs that do not finish within the cancel grace are dropped at their current
    ///    `.await` (blocking jobs are detached; their output is discarded); their handles
    ///    resolve to [`JobError::Cancelled`].
    ///
    /// Idempotent and safe to call from several tasks at once: concurrent and later calls
    /// wait for the first and return the same counts (the unstarted jobs go to the first
    /// caller only). If a shutdown future is dropped midway, the next call continues
    /// where it stopped, and the jobs already taken from the queue are kept for it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future midway leaves the pool closed to new jobs and
    /// loses nothing; the next `shutdown` call continues where it stopped (its timeout
    /// counts from the first call's start) and reports everything, the jobs already
    /// taken from the queue included.
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport<J> {
        let inner = &*self.inner;
        let core = &inner.core;
        let mut state = inner.shutdown.lock().await;
        let started = *state.started.get_or_insert_with(Instant::now);
        let deadline = started + timeout;
        if state.done.is_none() {
            core.close();
            let taken =
                std::mem::take(&mut *inner.handles.lock().unwrap_or_else(|p| p.into_inner()));
            state.workers.extend(taken.into_iter().map(Some));

            // Phase 1: drain until the deadline.
            if !join_all(&mut state.workers, Some(deadline)).await {
                state.deadline_passed = true;
                // Phase 2: hand back the queue, ask running jobs to stop.
                for entry in core.intake.halt() {
                    entry.reply.send(Err(JobError::NotStarted));
                    state.unstarted.push(entry.job);
                }
                core.not_started
                    .fetch_add(state.unstarted.len() as u64, Relaxed);
                core.hooks.dequeued(state.unstarted.len());
                core.jobs.cancel();
                let grace_end = Instant::now() + inner.cancel_grace;
                if !join_all(&mut state.workers, Some(grace_end)).await {
                    // Phase 3: drop what ignored the token.
                    for handle in state.workers.iter().flatten() {
                        handle.abort();
                    }
                    join_all(&mut state.workers, None).await;
                }
                let cancelled = core.stats.iter().filter(|w| w.is_running()).count();
                core.cancelled.store(cancelled as u64, Relaxed);
                core.hooks
                    .shutdown(cancelled as u64, state.unstarted.len() as u64);
            }
            state.done = Some(Summary {
                elapsed: started.elapsed(),
            });
        }
        let summary = state.done.unwrap_or(Summary {
            elapsed: Duration::ZERO,
        });
        let m = core.metrics();
        ShutdownReport {
            accepted: m.accepted,
            completed: m.completed,
            panicked: m.panicked,
            timed_out: m.timed_out,
            cancelled: m.cancelled,
            not_started: m.not_started,
            unstarted: std::mem::take(&mut state.unstarted),
            deadline_passed: state.deadline_passed,
            elapsed: summary.elapsed,
        }
    }
}

/// Awaits every handle still present, until `deadline`; `true` if all ended. Ended
/// handles are set to `None`, so a handle is never polled after it completed.
async fn join_all(handles: &mut [Option<JoinHandle<()>>], deadline: Option<Instant>) -> bool {
    for slot in handles.iter_mut() {
        if let Some(handle) = slot {
            match deadline {
                None => {
                    let _ = handle.await;
                }
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, &mut *handle)
                        .await
                        .is_err()
                    {
                        return false;
                    }
                }
            }
            *slot = None;
        }
    }
    true
}

impl<J, R> fmt::Debug for Pool<J, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.inner.name)
            .field("workers", &self.inner.workers)
            .field("queue_capacity", &self.inner.capacity)
            .field("closed", &self.is_closed())
            .finish()
    }
}
