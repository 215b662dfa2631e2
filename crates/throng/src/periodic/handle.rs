//! [`PeriodicHandle`]: the owner of a spawned runner.

use std::fmt;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::runner::run_panic_message;
use super::{FinalRun, PeriodicReport, RunPanicked, Stopped};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;

/// The owner of a runner started by [`Periodic::spawn`](super::Periodic::spawn).
///
/// [`cancel`](PeriodicHandle::cancel) asks it to stop; [`join`](PeriodicHandle::join)
/// waits until it has stopped (final run included) and returns its report;
/// [`stop`](PeriodicHandle::stop) does both. All three can be called any number of times,
/// in any order, before or after the first run.
///
/// Dropping the handle cancels the runner (it still does its final run, unjoined);
/// call [`detach`](PeriodicHandle::detach) to let it run until the token fires instead.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use throng::periodic::{FinalRun, Periodic, Stopped};
/// use tokio_util::sync::CancellationToken;
///
/// let mut handle = Periodic::new(Duration::from_secs(1))
///     .unwrap()
///     .final_run(true)
///     .spawn(CancellationToken::new(), |_ctx| async {})
///     .unwrap();
/// tokio::time::sleep(Duration::from_millis(1_500)).await;
/// assert_eq!(handle.runs(), 2); // at 0 s and 1 s
/// handle.cancel();
/// handle.cancel(); // idempotent
/// let report = handle.join().await;
/// assert_eq!(report.final_run, FinalRun::Completed);
/// assert_eq!(report.stopped, Stopped::Cancelled);
/// assert_eq!(handle.join().await, report); // joining again gives the same report
/// # }
/// ```
#[must_use = "dropping a PeriodicHandle cancels the runner; call detach() to keep it running"]
pub struct PeriodicHandle {
    pub(super) token: CancellationToken,
    pub(super) task: Option<JoinHandle<PeriodicReport>>,
    pub(super) report: Option<PeriodicReport>,
    pub(super) runs: Arc<AtomicU64>,
    pub(super) final_run_configured: bool,
    pub(super) detached: bool,
}

impl fmt::Debug for PeriodicHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicHandle")
            .field("cancelled", &self.token.is_cancelled())
            .field("runs", &self.runs())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl PeriodicHandle {
    /// Asks the runner to stop: it waits for a run in progress, does the final run if
    /// configured, and exits. Idempotent; fine before the first run and after the runner
    /// has finished. Returns at once; [`join`](PeriodicHandle::join) waits for the exit.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether [`cancel`](PeriodicHandle::cancel) was called or the parent token fired.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The runner's own token (a child of the one given to
    /// [`spawn`](super::Periodic::spawn)).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Regular runs started so far.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Whether the runner has exited.
    pub fn is_finished(&self) -> bool {
        self.report.is_some() || self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the runner without waiting for a run in progress or doing the final run.
    /// [`join`](PeriodicHandle::join) then reports [`Stopped::Aborted`] (unless the
    /// runner had already finished). Idempotent.
    pub fn abort(&self) {
        self.token.cancel();
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// Waits until the runner has exited and returns its report. Does not cancel it: call
    /// [`cancel`](PeriodicHandle::cancel) first, or use [`stop`](PeriodicHandle::stop).
    /// Calling it again returns the same report.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves the runner as it was, and a later `join`
    /// picks up where this one left off (so `tokio::time::timeout(d, handle.join())` is
    /// a bounded join).
    pub async fn join(&mut self) -> PeriodicReport {
        if let Some(report) = &self.report {
            return report.clone();
        }
        let unfinished_final = if self.final_run_configured {
            FinalRun::Skipped
        } else {
            FinalRun::Disabled
        };
        let report = match self.task.as_mut() {
            Some(task) => match task.await {
                Ok(report) => report,
                Err(e) if e.is_panic() => PeriodicReport {
                    runs: self.runs(),
                    final_run: unfinished_final,
                    stopped: Stopped::Panicked(RunPanicked {
                        index: self.runs(),
                        is_final: false,
                        message: run_panic_message(e.into_panic().as_ref()),
                    }),
                },
                Err(_) => PeriodicReport {
                    runs: self.runs(),
                    final_run: unfinished_final,
                    stopped: Stopped::Aborted,
                },
            },
            // Unreachable in practice: `task` is only taken below, after `report` is set.
            None => PeriodicReport {
                runs: self.runs(),
                final_run: unfinished_final,
                stopped: Stopped::Aborted,
            },
        };
        self.task = None;
        self.report = Some(report.clone());
        report
    }

    /// [`cancel`](PeriodicHandle::cancel), then [`join`](PeriodicHandle::join).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`join`](PeriodicHandle::join); the runner stays cancelled.
    pub async fn stop(&mut self) -> PeriodicReport {
        self.cancel();
        self.join().await
    }

    /// Lets the runner go on until its token fires, without an owner. Use it only for
    /// runners that live as long as the process or whose parent token you cancel.
    pub fn detach(mut self) {
        self.detached = true;
    }
}

impl Drop for PeriodicHandle {
    fn drop(&mut self) {
        if !self.detached {
            self.token.cancel();
        }
    }
}
