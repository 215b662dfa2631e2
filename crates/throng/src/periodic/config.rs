//! [`Periodic`], the schedule, and its options [`MissedTicks`] and [`FirstRun`].

use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::InvalidPeriod;

/// What the runner does after it missed ticks because a run (or the process) was slow.
///
/// The [module docs](super) have a worked timeline of all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTicks {
    /// Collapse the missed ticks into one run that starts right away, then resume on the
    /// original grid (the next multiple of the period from the start). At most one run
    /// follows a stall immediately. The default.
    #[default]
    Skip,
    /// Run once for every missed tick, back to back, until the runner has caught up with
    /// the original grid. Use it when each tick must be accounted for.
    Burst,
    /// Run once right away, then shift the whole grid so that the next run is one full
    /// period later. The schedule drifts by the length of every stall.
    Delay,
}

impl From<MissedTicks> for MissedTickBehavior {
    fn from(m: MissedTicks) -> Self {
        match m {
            MissedTicks::Skip => MissedTickBehavior::Skip,
            MissedTicks::Burst => MissedTickBehavior::Burst,
            MissedTicks::Delay => MissedTickBehavior::Delay,
        }
    }
}

/// When the first regular run happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FirstRun {
    /// As soon as the runner starts (like `tokio::time::interval`). The default.
    #[default]
    Immediately,
    /// One period after the runner starts (like Go's `time.NewTicker`).
    AfterPeriod,
}

/// The schedule of a periodic runner: period, missed-tick policy, first run, final run.
///
/// Build it with [`Periodic::new`] and the setters, then start it with
/// [`spawn`](Periodic::spawn) or await [`run`](Periodic::run). A `Periodic` is a plain
/// value: it can start any number of independent runners.
///
/// Defaults: [`MissedTicks::Skip`], [`FirstRun::Immediately`], no final run, and no
/// deadline for the final run when it is turned on.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::periodic::{FirstRun, MissedTicks, Periodic};
///
/// // Every 10 s, first after one period, each tick accounted for, with a bounded
/// // flush on the way out.
/// let schedule = Periodic::new(Duration::from_secs(10))
///     .unwrap()
///     .first_run(FirstRun::AfterPeriod)
///     .missed_ticks(MissedTicks::Burst)
///     .final_run(true)
///     .final_run_deadline(Duration::from_secs(2));
/// assert_eq!(schedule.period(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a schedule does nothing until `spawn` or `run` is called"]
pub struct Periodic {
    pub(super) period: Duration,
    pub(super) missed_ticks: MissedTicks,
    pub(super) first_run: FirstRun,
    pub(super) final_run: bool,
    pub(super) final_run_deadline: Option<Duration>,
}

impl Periodic {
    /// The longest accepted period: 100 years.
    pub const MAX_PERIOD: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

    /// A schedule that runs every `period`.
    ///
    /// # Errors
    ///
    /// [`InvalidPeriod::Zero`] if `period` is zero, [`InvalidPeriod::TooLong`] if it is
    /// longer than [`Periodic::MAX_PERIOD`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use throng::periodic::{InvalidPeriod, Periodic};
    ///
    /// assert!(Periodic::new(Duration::from_millis(100)).is_ok());
    /// assert_eq!(Periodic::new(Duration::ZERO).unwrap_err(), InvalidPeriod::Zero);
    /// ```
    pub fn new(period: Duration) -> Result<Self, InvalidPeriod> {
        if period.is_zero() {
            return Err(InvalidPeriod::Zero);
        }
        if period > Self::MAX_PERIOD {
            return Err(InvalidPeriod::TooLong);
        }
        Ok(Self {
            period,
            missed_ticks: MissedTicks::default(),
            first_run: FirstRun::default(),
            final_run: false,
            final_run_deadline: None,
        })
    }

    /// What to do after missed ticks; [`MissedTicks::Skip`] by default.
    pub fn missed_ticks(mut self, missed_ticks: MissedTicks) -> Self {
        self.missed_ticks = missed_ticks;
        self
    }

    /// When the first regular run happens; [`FirstRun::Immediately`] by default.
    pub fn first_run(mut self, first_run: FirstRun) -> Self {
        self.first_run = first_run;
        self
    }

    /// Whether to run the closure one last time after cancellation (off by default).
    ///
    /// The final run gets [`RunContext::is_final`](super::RunContext::is_final) `== true`.
    /// It happens even if the token was cancelled before any regular run (it flushes the
    /// only interval there was), but not after a regular run panicked.
    pub fn final_run(mut self, final_run: bool) -> Self {
        self.final_run = final_run;
        self
    }

    /// Bound the final run: if it has not finished after `deadline`, it is dropped and the
    /// report says [`FinalRun::TimedOut`](super::FinalRun::TimedOut). Without a deadline
    /// the final run may take as long as it likes. A zero deadline polls the final run
    /// once.
    ///
    /// Setting a deadline does not turn the final run on; see [`Periodic::final_run`].
    pub fn final_run_deadline(mut self, deadline: Duration) -> Self {
        self.final_run_deadline = Some(deadline);
        self
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}
