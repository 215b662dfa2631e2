//! The owner task: drains the mailbox in batches and runs each closure on the state.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc as StdArc;

use tokio::sync::mpsc;

use super::error::CallError;
use super::handle::Shared;
use super::slot::Job;
use crate::panic::panic_message;
use crate::sync::atomic::Ordering;
use crate::sync::Arc;

/// Most messages taken from the mailbox per wake-up of the owner task.
pub(crate) const BATCH: usize = 64;

/// A fire-and-forget closure.
pub(crate) type CastFn<S> = Box<dyn FnOnce(&mut S) + Send>;

/// One mailbox message. Dropped unrun (the task was cancelled with messages queued), a
/// call still answers its caller: `Stopped`.
pub(crate) struct Envelope<S>(Option<Work<S>>);

enum Work<S> {
    Call(StdArc<dyn Job<S>>),
    Cast(CastFn<S>),
}

impl<S> Envelope<S> {
    pub(crate) fn call(job: StdArc<dyn Job<S>>) -> Self {
        Envelope(Some(Work::Call(job)))
    }

    pub(crate) fn cast(f: CastFn<S>) -> Self {
        Envelope(Some(Work::Cast(f)))
    }

    /// A no-op that wakes the owner task so it notices `closing`.
    pub(crate) fn wake() -> Self {
        Envelope(None)
    }

    /// Runs the work; returns the panic message if it panicked.
    fn run(mut self, state: &mut S) -> Result<(), String> {
        match self.0.take() {
            Some(Work::Call(job)) => job.run(state),
            Some(Work::Cast(f)) => catch_unwind(AssertUnwindSafe(|| f(state)))
                .map_err(|payload| panic_message(payload.as_ref())),
            None => Ok(()),
        }
    }

    /// Answers a call with `err` without running it; drops a cast.
    fn abandon(mut self, err: CallError) {
        if let Some(Work::Call(job)) = self.0.take() {
            job.abandon(err);
        }
    }
}

impl<S> Drop for Envelope<S> {
    fn drop(&mut self) {
        if let Some(Work::Call(job)) = self.0.take() {
            job.abandon(CallError::Stopped);
        }
    }
}

/// What the owner task hands back when it ends.
pub(crate) struct Exit<S> {
    pub(crate) state: S,
    /// The first panic's message, if a closure panicked.
    pub(crate) panic: Option<String>,
}

/// Runs `batch` in order. After a panic the rest is answered `Poisoned`, unrun.
fn run_batch<S>(state: &mut S, batch: &mut Vec<Envelope<S>>) -> Result<(), String> {
    let mut work = batch.drain(..);
    while let Some(envelope) = work.next() {
        if let Err(message) = envelope.run(state) {
            for rest in work {
                rest.abandon(CallError::Poisoned);
            }
            return Err(message);
        }
    }
    Ok(())
}

/// The owner loop. Ends when `closing` is set by `stop` (then runs everything already accepted), when
/// every handle is gone, or after a panic (then refuses everything still queued).
pub(crate) async fn run<S>(
    mut state: S,
    mut rx: mpsc::Receiver<Envelope<S>>,
    shared: Arc<Shared<S>>,
) -> Exit<S> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut panic = None;
    loop {
        // One relaxed-cost load per batch instead of a `select!` on a stop channel:
        // `stop` sets the flag, then puts a no-op wake-up in the mailbox.
        if shared.closing.load(Ordering::Acquire) {
            break;
        }
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            break; // every handle dropped
        }
        if let Err(message) = run_batch(&mut state, &mut batch) {
            panic = Some(message);
            break;
        }
    }

    // Refuse new work: senders waiting for room wake with an error at once.
    if panic.is_some() {
        shared.poisoned.store(true, Ordering::Release);
    }
    shared.closing.store(true, Ordering::Release);
    rx.close();

    // Run everything already accepted (unless poisoned), then refuse the rest.
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if panic.is_some() {
            for envelope in batch.drain(..) {
                envelope.abandon(CallError::Poisoned);
            }
        } else if let Err(message) = run_batch(&mut state, &mut batch) {
            shared.poisoned.store(true, Ordering::Release);
            panic = Some(message);
        }
    }
    Exit { state, panic }
}
