//! [`DumpHandle`]: the owner of a spawned dumper.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{DumpReport, DumperAborted};

/// The owner of a dumper started by [`Dumper::spawn`](super::Dumper::spawn).
///
/// Dropping it leaves the dumper running until the token given to `spawn` is
/// cancelled; [`stop`](DumpHandle::stop) cancels and waits.
#[derive(Debug)]
#[must_use = "a dump handle is how you stop the dumper and wait for its final flush"]
pub struct DumpHandle<S> {
    pub(super) token: CancellationToken,
    pub(super) task: JoinHandle<DumpReport<S>>,
}

impl<S> DumpHandle<S> {
    /// Asks the dumper to flush once more and stop. Idempotent; returns at once.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether the dumper task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the dumper to end (after its token is cancelled) and returns its report.
    ///
    /// # Errors
    ///
    /// [`DumperAborted`] if the runtime shut down under the task. Panics of the sink
    /// are not errors here: they are caught and reported in [`DumpReport::periodic`].
    ///
    /// # Cancel safety
    ///
    /// Dropping this future leaves the dumper running; nothing is lost.
    pub async fn join(self) -> Result<DumpReport<S>, DumperAborted> {
        self.task.await.map_err(|_| DumperAborted)
    }

    /// [`cancel`](DumpHandle::cancel), then [`join`](DumpHandle::join).
    ///
    /// # Errors
    ///
    /// As [`join`](DumpHandle::join).
    ///
    /// # Cancel safety
    ///
    /// The dumper is cancelled at the first poll; dropping the future after that leaves it
    /// to do its final flush unwatched and loses the report (the handle went with the
    /// future). Nothing counted is lost.
    pub async fn stop(self) -> Result<DumpReport<S>, DumperAborted> {
        self.cancel();
        self.join().await
    }
}
