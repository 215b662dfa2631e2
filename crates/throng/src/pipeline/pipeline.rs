//! The three ends of a running pipeline: input, output and handle.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::builder::PipelineBuilder;
use super::error::{PipelineError, SendError, TrySendError};
use super::metrics::{StageCounters, StageMetrics};
use super::queue::Output;
use super::stage::Control;

/// Entry point: [`Pipeline::builder`].
///
/// # Examples
///
/// ```
/// use throng::pipeline::Pipeline;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (input, mut output, handle) = Pipeline::builder::<u64, std::convert::Infallible>(8)
///     .stage("double", 2, |n: u64, _token| async move { Ok(n * 2) })
///     .spawn()?;
/// input.send(21).await?;
/// drop(input); // no more input: the stage finishes and the output ends
/// assert_eq!(output.recv().await, Some(42));
/// assert_eq!(output.recv().await, None);
/// assert_eq!(handle.join().await?[0].emitted, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Pipeline;

impl Pipeline {
    /// A pipeline whose queues (the input, and one after each stage) hold `capacity` items.
    /// Add stages with [`PipelineBuilder::stage`], then [`spawn`](PipelineBuilder::spawn).
    pub fn builder<In: Send + 'static, E: Send + 'static>(
        capacity: usize,
    ) -> PipelineBuilder<In, In, E> {
        PipelineBuilder::new(capacity)
    }
}

#[derive(Debug)]
pub(crate) struct StageInfo {
    pub(crate) name: &'static str,
    pub(crate) workers: usize,
    pub(crate) counters: Arc<StageCounters>,
}

/// Where items enter. Cloneable; when every clone is dropped (or
/// [`close`](Self::close)d) the stages finish what they have and the output ends.
pub struct PipelineInput<T> {
    tx: Option<mpsc::Sender<T>>,
    sent: Arc<AtomicU64>,
}

impl<T> Clone for PipelineInput<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            sent: self.sent.clone(),
        }
    }
}

impl<T> PipelineInput<T> {
    pub(crate) fn new(tx: mpsc::Sender<T>, sent: Arc<AtomicU64>) -> Self {
        Self { tx: Some(tx), sent }
    }

    /// Sends `item` into the first stage, waiting while its queue is full (backpressure).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the item if the pipeline stopped (error, cancellation, output
    /// dropped) or this input was closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped while it waits for room, the item was not
    /// sent (it is dropped with the future) and nothing else changes, as with
    /// `tokio::sync::mpsc::Sender::send`. Use [`try_send`](Self::try_send) to keep the item
    /// when the queue is full.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        let Some(tx) = &self.tx else {
            return Err(SendError(item));
        };
        match tx.send(item).await {
            Ok(()) => {
                self.sent.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e) => Err(SendError(e.0)),
        }
    }

    /// Sends `item` if the first queue has room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] with the item if the queue is full,
    /// [`TrySendError::Stopped`] with the item if the pipeline stopped or this input was
    /// closed.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let Some(tx) = &self.tx else {
            return Err(TrySendError::Stopped(item));
        };
        match tx.try_send(item) {
            Ok(()) => {
                self.sent.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(item)) => Err(TrySendError::Full(item)),
            Err(mpsc::error::TrySendError::Closed(item)) => Err(TrySendError::Stopped(item)),
        }
    }

    /// Closes this clone: the same as dropping it.
    pub fn close(&mut self) {
        self.tx = None;
    }
}

impl<T> fmt::Debug for PipelineInput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineInput")
            .field("open", &self.tx.is_some())
            .finish()
    }
}

/// Where results come out, in completion order, or input order if the pipeline was built
/// [`ordered`](PipelineBuilder::ordered).
pub struct PipelineOutput<T> {
    out: Output<T>,
}

impl<T> PipelineOutput<T> {
    pub(crate) fn new(out: Output<T>) -> Self {
        Self { out }
    }

    /// The next result, or `None` once the input is exhausted and every stage is done (or
    /// the pipeline stopped).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a future dropped at its await has taken no result, so the next `recv`
    /// returns it (use it in `tokio::select!` freely).
    pub async fn recv(&mut self) -> Option<T> {
        self.out.recv().await
    }
}

impl<T> fmt::Debug for PipelineOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineOutput").finish_non_exhaustive()
    }
}

/// Controls a running pipeline: per-stage metrics, cancellation, and the final result.
#[must_use = "dropping a PipelineHandle stops the pipeline"]
pub struct PipelineHandle<E> {
    control: Arc<Control<E>>,
    tracker: TaskTracker,
    stages: Vec<StageInfo>,
    sent: Arc<AtomicU64>,
    started: Instant,
}

impl<E> PipelineHandle<E> {
    pub(crate) fn new(
        control: Arc<Control<E>>,
        tracker: TaskTracker,
        stages: Vec<StageInfo>,
        sent: Arc<AtomicU64>,
    ) -> Self {
        Self {
            control,
            tracker,
            stages,
            sent,
            started: Instant::now(),
        }
    }

    /// Every stage's counters now, first stage first. The bottleneck is the stage whose
    /// input queue is full and whose [`utilization`](StageMetrics::utilization) is near 1;
    /// see [`bottleneck`](Self::bottleneck).
    pub fn metrics(&self) -> Vec<StageMetrics> {
        let mut offered = self.sent.load(Relaxed);
        self.stages
            .iter()
            .map(|s| {
                let m = StageMetrics::read(s.name, s.workers, &s.counters, offered);
                offered = m.emitted;
                m
            })
            .collect()
    }

    /// The name of the busiest stage per worker since the start, if any work was done.
    pub fn bottleneck(&self) -> Option<&'static str> {
        let elapsed = self.started.elapsed();
        self.metrics()
            .into_iter()
            .filter(|m| !m.busy.is_zero())
            .max_by(|a, b| a.utilization(elapsed).total_cmp(&b.utilization(elapsed)))
            .map(|m| m.name)
    }

    /// Time since the pipeline started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The token every stage function receives; cancelling it stops the pipeline.
    pub fn token(&self) -> &CancellationToken {
        &self.control.token
    }

    /// Stops every stage: items in flight are dropped, the output ends, and
    /// [`join`](Self::join) returns [`PipelineError::Cancelled`] (unless a stage error
    /// came first).
    pub fn cancel(&self) {
        self.control.token.cancel();
    }

    /// Waits for every stage to finish and returns the per-stage counters, or the first
    /// error. Finishing needs the input closed (every [`PipelineInput`] dropped) and the
    /// output read or dropped, or a cancellation.
    ///
    /// # Errors
    ///
    /// The first stage error or panic, or [`PipelineError::Cancelled`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: `join` takes the handle, so dropping the future drops the handle,
    /// which stops every stage that is still running (as [`cancel`](Self::cancel)) and
    /// loses the result. To bound the wait, cancel and then join.
    pub async fn join(self) -> Result<Vec<StageMetrics>, PipelineError<E>> {
        self.tracker.wait().await;
        let first = self
            .control
            .first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match first {
            Some(e) => Err(e),
            None if self.control.token.is_cancelled() => Err(PipelineError::Cancelled),
            None => Ok(self.metrics()),
        }
    }
}

impl<E> Drop for PipelineHandle<E> {
    fn drop(&mut self) {
        // Nobody can join or cancel any more: stop the stages rather than leak them.
        if !self.tracker.is_empty() {
            self.control.token.cancel();
        }
    }
}

impl<E> fmt::Debug for PipelineHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineHandle")
            .field("stages", &self.metrics())
            .finish()
    }
}
