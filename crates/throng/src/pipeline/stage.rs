//! A stage's worker loop: take an item, run the stage function on it (panics contained,
//! cancellation observed), pass the result on.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::error::PipelineError;
use super::metrics::StageCounters;
use super::queue::Shared as SharedSource;
use crate::panic::{catch_unwind, panic_message};

/// What every stage shares: the stop token and the first error.
#[derive(Debug)]
pub(crate) struct Control<E> {
    pub(crate) token: CancellationToken,
    pub(crate) first_error: StdMutex<Option<PipelineError<E>>>,
}

impl<E> Control<E> {
    /// Records `err` if it is the first, and stops every stage.
    pub(crate) fn fail(&self, err: PipelineError<E>) {
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(err);
        }
        drop(first);
        self.token.cancel();
    }
}

pub(crate) async fn worker<I, O, E, F, Fut>(
    name: &'static str,
    source: SharedSource<I>,
    sink: mpsc::Sender<(u64, O)>,
    f: Arc<F>,
    (counters, index): (Arc<StageCounters>, usize),
    control: Arc<Control<E>>,
) where
    F: Fn(I, CancellationToken) -> Fut,
    Fut: Future<Output = Result<O, E>>,
{
    // The stage function gets the pipeline's token. The worker waits on a child of it of
    // its own, through one waiter registered once: the shared token's lock (taken by
    // `is_cancelled` and by every new waiter) would otherwise be contended by every
    // worker of every stage on every item. Every select polls the work first.
    let shared = control.token.clone();
    let token = control.token.child_token();
    let counters = counters.worker(index);
    let mut stop = pin!(token.cancelled());
    loop {
        if token.is_cancelled() {
            return;
        }
        let next = tokio::select! {
            biased;
            next = async { source.lock().await.recv().await } => next,
            () = &mut stop => return,
        };
        let Some((seq, item)) = next else {
            return; // input exhausted; dropping `sink` closes the next queue when all workers end
        };
        counters.took();
        let start = Instant::now();
        let outcome = run(&*f, item, &shared, stop.as_mut()).await;
        counters.add_busy(start.elapsed());
        let value = match outcome {
            Some(Ok(Ok(value))) => value,
            Some(Ok(Err(error))) => {
                control.fail(PipelineError::Stage { stage: name, error });
                return;
            }
            Some(Err(message)) => {
                control.fail(PipelineError::Panicked {
                    stage: name,
                    message,
                });
                return;
            }
            None => return, // cancelled mid-item
        };
        if token.is_cancelled() {
            return;
        }
        tokio::select! {
            biased;
            sent = sink.send((seq, value)) => {
                if sent.is_err() {
                    return; // the output is gone: nobody wants more
                }
            }
            () = &mut stop => return,
        }
        counters.emitted();
    }
}

/// Runs one item: `None` if cancelled, `Some(Err(msg))` if it panicked.
async fn run<I, O, E, F, Fut>(
    f: &F,
    item: I,
    token: &CancellationToken,
    stop: Pin<&mut WaitForCancellationFuture<'_>>,
) -> Option<Result<Result<O, E>, String>>
where
    F: Fn(I, CancellationToken) -> Fut,
    Fut: Future<Output = Result<O, E>>,
{
    let guarded = catch_unwind(|| f(item, token.clone()));
    tokio::select! {
        biased;
        out = guarded => Some(out.map_err(|p| panic_message(&*p))),
        () = stop => None,
    }
}
