//! Per-job completion: the worker's [`Reply`] end and the submitter's [`JobHandle`], plus
//! the optional [`Results`] stream that handles can be forwarded into.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::sync::mpsc;

use super::error::JobError;
use crate::sync::{Arc, Mutex};

/// A job's outcome as the handle sees it.
pub type JobResult<R> = Result<R, JobError>;

enum SlotState<R> {
    Pending(Option<Waker>),
    Forward(ResultsSender<R>),
    Ready(JobResult<R>),
    Taken,
}

struct Slot<R> {
    id: u64,
    state: Mutex<SlotState<R>>,
}

impl<R> Slot<R> {
    fn lock(&self) -> crate::sync::MutexGuard<'_, SlotState<R>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Creates the two ends of one job's completion.
pub(crate) fn pair<R>(id: u64) -> (Reply<R>, JobHandle<R>) {
    let slot = Arc::new(Slot {
        id,
        state: Mutex::new(SlotState::Pending(None)),
    });
    (
        Reply {
            slot: Some(slot.clone()),
        },
        JobHandle { slot },
    )
}

/// The worker's end: delivers exactly one outcome. Dropped without sending (the worker
/// was aborted at shutdown), it delivers [`JobError::Cancelled`].
pub(crate) struct Reply<R> {
    slot: Option<Arc<Slot<R>>>,
}

impl<R> Reply<R> {
    pub(crate) fn send(mut self, outcome: JobResult<R>) {
        if let Some(slot) = self.slot.take() {
            deliver(&slot, outcome);
        }
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            deliver(&slot, Err(JobError::Cancelled));
        }
    }
}

impl<R> fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply").finish_non_exhaustive()
    }
}

fn deliver<R>(slot: &Slot<R>, outcome: JobResult<R>) {
    let mut state = slot.lock();
    match mem::replace(&mut *state, SlotState::Taken) {
        SlotState::Pending(waker) => {
            *state = SlotState::Ready(outcome);
            drop(state);
            if let Some(w) = waker {
                w.wake();
            }
        }
        SlotState::Forward(tx) => {
            drop(state);
            // The receiver may be gone; then nobody wants the outcome.
            let _ = tx.0.send(Finished {
                id: slot.id,
                result: outcome,
            });
        }
        // Delivered twice cannot happen (`send` consumes the reply); keep the first.
        other @ (SlotState::Ready(_) | SlotState::Taken) => *state = other,
    }
}

/// Resolves to the job's outcome: its return value, or a [`JobError`].
///
/// Dropping the handle detaches it: the job still runs and is still counted; its value
/// is dropped. A handle never hangs: every accepted job is run, handed back at shutdown
/// ([`JobError::NotStarted`]), or cancelled ([`JobError::Cancelled`]).
#[must_use = "dropping a handle detaches the job; its value is discarded"]
pub struct JobHandle<R> {
    slot: Arc<Slot<R>>,
}

impl<R> JobHandle<R> {
    /// The job's id: unique within its pool and increasing in submission order (a
    /// refused submission may leave a gap).
    pub fn id(&self) -> u64 {
        self.slot.id
    }

    /// `true` once the outcome is available (awaiting will not wait).
    pub fn is_finished(&self) -> bool {
        matches!(&*self.slot.lock(), SlotState::Ready(_))
    }

    /// Lets the job run with nobody waiting for it (fire and forget). It is still counted
    /// in the metrics and the shutdown report; its value is dropped.
    pub fn detach(self) {}

    /// Sends this job's outcome to a [`Results`] stream instead of this handle, for those
    /// who prefer the seed's single results channel. If the job already finished, the
    /// outcome is sent now.
    pub fn forward(self, to: &ResultsSender<R>) {
        let mut state = self.slot.lock();
        match mem::replace(&mut *state, SlotState::Taken) {
            SlotState::Ready(outcome) => {
                drop(state);
                let _ = to.0.send(Finished {
                    id: self.slot.id,
                    result: outcome,
                });
            }
            SlotState::Pending(_) | SlotState::Forward(_) => {
                *state = SlotState::Forward(to.clone());
            }
            SlotState::Taken => {}
        }
    }
}

impl<R> Future for JobHandle<R> {
    type Output = JobResult<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.lock();
        match &mut *state {
            SlotState::Ready(_) => match mem::replace(&mut *state, SlotState::Taken) {
                SlotState::Ready(outcome) => Poll::Ready(outcome),
                _ => unreachable!("matched Ready above"),
            },
            SlotState::Pending(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            // Polled after completion, or after `forward` (which consumes the handle, so
            // only a misuse through `poll` after `Ready` reaches here).
            SlotState::Taken | SlotState::Forward(_) => Poll::Pending,
        }
    }
}

impl<R> fmt::Debug for JobHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// One job's outcome on a [`Results`] stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished<R> {
    /// The job's id ([`JobHandle::id`]).
    pub id: u64,
    /// Its value or error.
    pub result: JobResult<R>,
}

/// Where [`JobHandle::forward`] sends outcomes. Cloneable; the stream ends when every
/// sender is gone, including the ones held by forwarded jobs that have not finished.
pub struct ResultsSender<R>(mpsc::UnboundedSender<Finished<R>>);

impl<R> Clone for ResultsSender<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<R> fmt::Debug for ResultsSender<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultsSender").finish_non_exhaustive()
    }
}

/// A stream of job outcomes in completion order: the seed's `results` channel, without
/// its two bugs. It ends exactly when the last producer is gone (S15-3: the seed never
/// closed it on the timeout path), and it never blocks a worker (S15-9: the seed's
/// workers stalled when nobody drained it). Memory grows with outcomes nobody has read,
/// exactly as it would with unread handles.
pub struct Results<R>(mpsc::UnboundedReceiver<Finished<R>>);

impl<R> Results<R> {
    /// The next outcome, or `None` once every [`ResultsSender`] is gone and everything
    /// sent has been read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe (an unbounded `mpsc` receive): a future dropped at its await has taken
    /// no outcome, so the next `recv` returns it.
    pub async fn recv(&mut self) -> Option<Finished<R>> {
        self.0.recv().await
    }

    /// The next outcome if one is ready.
    pub fn try_recv(&mut self) -> Option<Finished<R>> {
        self.0.try_recv().ok()
    }
}

impl<R> fmt::Debug for Results<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Results").finish_non_exhaustive()
    }
}

/// Creates a results stream; forward handles into it with [`JobHandle::forward`].
pub fn results<R>() -> (ResultsSender<R>, Results<R>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ResultsSender(tx), Results(rx))
}
