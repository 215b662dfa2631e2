//! The runner: [`Periodic::spawn`], [`Periodic::run`] and the loop they share.

use std::any::Any;
use std::future::Future;
use std::pin::pin;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    FinalRun, FirstRun, Periodic, PeriodicHandle, PeriodicReport, RunPanicked, SpawnError, Stopped,
};
use crate::panic::{catch_unwind, payload_str};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;

impl Periodic {
    /// Spawns the runner on the current tokio runtime and returns its handle at once.
    ///
    /// The runner watches a [child](CancellationToken::child_token) of `token`: cancelling
    /// `token` stops it, and so does [`PeriodicHandle::cancel`], which leaves `token`
    /// alone. Dropping the handle cancels the runner too (see [`PeriodicHandle`]).
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoRuntime`] if called outside a tokio runtime (where `tokio::spawn`
    /// would panic); use [`spawn_on`](Periodic::spawn_on) to pick the runtime explicitly.
    ///
    /// # Panics
    ///
    /// Never; panics of `f` and of the futures it returns are caught and reported, never
    /// propagated.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use throng::periodic::Periodic;
    /// use tokio_util::sync::CancellationToken;
    ///
    /// let mut handle = Periodic::new(Duration::from_secs(1))
    ///     .unwrap()
    ///     .spawn(CancellationToken::new(), |_ctx| async {})
    ///     .unwrap();
    /// tokio::time::sleep(Duration::from_millis(1_500)).await;
    /// let report = handle.stop().await;
    /// assert_eq!(report.runs, 2);
    /// # }
    /// ```
    pub fn spawn<F, Fut>(
        &self,
        token: CancellationToken,
        f: F,
    ) -> Result<PeriodicHandle, SpawnError>
    where
        F: FnMut(RunContext) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        Ok(self.spawn_on(&runtime, token, f))
    }

    /// Like [`spawn`](Periodic::spawn), on the given runtime; never panics.
    pub fn spawn_on<F, Fut>(
        &self,
        runtime: &tokio::runtime::Handle,
        token: CancellationToken,
        f: F,
    ) -> PeriodicHandle
    where
        F: FnMut(RunContext) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let token = token.child_token();
        let runs = Arc::new(AtomicU64::new(0));
        let task = runtime.spawn(run_loop(self.clone(), token.clone(), f, Arc::clone(&runs)));
        PeriodicHandle {
            token,
            task: Some(task),
            report: None,
            runs,
            final_run_configured: self.final_run,
            detached: false,
        }
    }

    /// Runs the schedule in the calling task until `token` is cancelled, then does the
    /// final run (if configured) and returns the report.
    ///
    /// This blocks the caller (asynchronously) for the runner's whole life; use
    /// [`spawn`](Periodic::spawn) to get a handle back at once. `f` and its futures need
    /// not be `Send` or `'static`.
    ///
    /// # Panics
    ///
    /// Never panics; a panic of `f` or of its future is caught and reported in
    /// [`PeriodicReport::stopped`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the runner where it is: a run in progress is dropped
    /// midway and no final run happens. Cancel the token and await the future to stop
    /// cleanly.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use throng::periodic::Periodic;
    /// use tokio_util::sync::CancellationToken;
    ///
    /// let token = CancellationToken::new();
    /// let stopper = token.clone();
    /// let mut seen = Vec::new();
    /// let report = Periodic::new(Duration::from_secs(1))
    ///     .unwrap()
    ///     .run(token, |ctx| {
    ///         seen.push(ctx.index());
    ///         if ctx.index() == 2 {
    ///             stopper.cancel();
    ///         }
    ///         async {}
    ///     })
    ///     .await;
    /// assert_eq!(report.runs, 3);
    /// assert_eq!(seen, [0, 1, 2]);
    /// # }
    /// ```
    pub async fn run<F, Fut>(&self, token: CancellationToken, f: F) -> PeriodicReport
    where
        F: FnMut(RunContext) -> Fut,
        Fut: Future<Output = ()>,
    {
        run_loop(self.clone(), token, f, Arc::new(AtomicU64::new(0))).await
    }
}

/// What the closure learns about the run it is asked to do.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub(super) index: u64,
    pub(super) is_final: bool,
    pub(super) token: CancellationToken,
}

impl RunContext {
    /// The run's index: 0 for the first regular run, counting up. The final run gets the
    /// index after the last regular run (so it equals the number of regular runs).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Whether this is the final run after cancellation.
    pub fn is_final(&self) -> bool {
        self.is_final
    }

    /// The runner's token. It is already cancelled during the final run. A long regular
    /// run can watch it (`token.cancelled()`) to cut itself short; cancelling it stops the
    /// runner after this run. Under [`Periodic::spawn`] it is the runner's own child
    /// token; under [`Periodic::run`] it is the token you passed.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// The message of a caught panic as [`RunPanicked::message`] documents it: the payload's
/// text, or `"<non-string panic payload>"` (periodic's own placeholder, kept as
/// documented; the rest of the crate says it without the angle brackets).
pub(super) fn run_panic_message(payload: &(dyn Any + Send)) -> String {
    payload_str(payload)
        .unwrap_or("<non-string panic payload>")
        .to_owned()
}

/// Calls `f` and drives its future, turning a panic in either into `Err(message)`.
async fn call_caught<F, Fut>(f: &mut F, ctx: RunContext) -> Result<(), String>
where
    F: FnMut(RunContext) -> Fut,
    Fut: Future<Output = ()>,
{
    catch_unwind(|| f(ctx))
        .await
        .map_err(|p| run_panic_message(&*p))
}

async fn run_loop<F, Fut>(
    cfg: Periodic,
    token: CancellationToken,
    mut f: F,
    runs: Arc<AtomicU64>,
) -> PeriodicReport
where
    F: FnMut(RunContext) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = match cfg.first_run {
        FirstRun::Immediately => Instant::now(),
        FirstRun::AfterPeriod => Instant::now() + cfg.period,
    };
    let mut ticks = tokio::time::interval_at(start, cfg.period);
    ticks.set_missed_tick_behavior(cfg.missed_ticks.into());
    let mut cancelled = pin!(token.cancelled());
    let mut index = 0u64;

    loop {
        // `biased`: when the tick and the cancellation are both ready, cancellation wins,
        // so a cancelled runner never starts another regular run.
        tokio::select! {
            biased;
            () = &mut cancelled => break,
            _ = ticks.tick() => {}
        }
        let ctx = RunContext {
            index,
            is_final: false,
            token: token.clone(),
        };
        index += 1;
        runs.store(index, Ordering::Relaxed);
        if let Err(message) = call_caught(&mut f, ctx).await {
            return PeriodicReport {
                runs: index,
                final_run: if cfg.final_run {
                    FinalRun::Skipped
                } else {
                    FinalRun::Disabled
                },
                stopped: Stopped::Panicked(RunPanicked {
                    index: index - 1,
                    is_final: false,
                    message,
                }),
            };
        }
    }

    if !cfg.final_run {
        return PeriodicReport {
            runs: index,
            final_run: FinalRun::Disabled,
            stopped: Stopped::Cancelled,
        };
    }
    let ctx = RunContext {
        index,
        is_final: true,
        token: token.clone(),
    };
    let outcome = match cfg.final_run_deadline {
        Some(deadline) => tokio::time::timeout(deadline, call_caught(&mut f, ctx))
            .await
            .ok(),
        None => Some(call_caught(&mut f, ctx).await),
    };
    let (final_run, stopped) = match outcome {
        Some(Ok(())) => (FinalRun::Completed, Stopped::Cancelled),
        None => (FinalRun::TimedOut, Stopped::Cancelled),
        Some(Err(message)) => (
            FinalRun::Panicked,
            Stopped::Panicked(RunPanicked {
                index,
                is_final: true,
                message,
            }),
        ),
    };
    PeriodicReport {
        runs: index,
        final_run,
        stopped,
    }
}
