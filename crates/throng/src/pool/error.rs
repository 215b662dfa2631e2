//! The pool's errors. Every rejection hands the job back, so nothing is lost.

use std::error::Error;
use std::fmt;

use crate::retry::StopReason;

/// Why [`Pool::try_submit`](super::Pool::try_submit) refused a job; the job is inside.
#[derive(PartialEq, Eq)]
pub enum TrySubmitError<J> {
    /// The queue is at capacity. Try again later, wait with
    /// [`submit`](super::Pool::submit), or shed the load.
    Full(J),
    /// The pool is shutting down or shut down; it accepts nothing more.
    Closed(J),
}

impl<J> TrySubmitError<J> {
    /// Hands the refused job back.
    pub fn into_inner(self) -> J {
        match self {
            Self::Full(job) | Self::Closed(job) => job,
        }
    }

    /// `true` for [`Full`](Self::Full).
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// `true` for [`Closed`](Self::Closed).
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

/// Why [`Pool::submit`](super::Pool::submit) refused a job: the pool closed. The job is
/// inside.
#[derive(PartialEq, Eq)]
pub struct SubmitError<J>(pub J);

impl<J> SubmitError<J> {
    /// Hands the refused job back.
    pub fn into_inner(self) -> J {
        self.0
    }
}

/// Why [`Pool::submit_timeout`](super::Pool::submit_timeout) refused a job; the job is
/// inside.
#[derive(PartialEq, Eq)]
pub enum SubmitTimeoutError<J> {
    /// The queue stayed full for the whole timeout.
    Timeout(J),
    /// The pool closed before there was room.
    Closed(J),
}

impl<J> SubmitTimeoutError<J> {
    /// Hands the refused job back.
    pub fn into_inner(self) -> J {
        match self {
            Self::Timeout(job) | Self::Closed(job) => job,
        }
    }
}

/// Why [`Pool::submit_with_retry`](super::Pool::submit_with_retry) gave up; the job is
/// inside.
#[derive(PartialEq, Eq)]
pub enum SubmitRetryError<J> {
    /// The queue was full on every attempt the backoff policy allowed (attempts
    /// exhausted, or the next wait would have passed its time budget).
    Full {
        /// The job, handed back.
        job: J,
        /// How many times submission was tried (at least 1).
        attempts: u32,
        /// Why retrying stopped: [`StopReason::Exhausted`] or
        /// [`StopReason::ElapsedExceeded`].
        reason: StopReason,
    },
    /// The pool closed, before an attempt or during a wait between attempts.
    Closed(J),
}

impl<J> SubmitRetryError<J> {
    /// Hands the refused job back.
    pub fn into_inner(self) -> J {
        match self {
            Self::Full { job, .. } | Self::Closed(job) => job,
        }
    }
}

macro_rules! job_error_impls {
    ($ty:ident, $($variant:pat => $msg:expr),+ $(,)?) => {
        impl<J> fmt::Debug for $ty<J> {
            // The job may not be Debug; say which variant it is.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($variant => write!(f, "{}({})", stringify!($ty), $msg),)+
                }
            }
        }

        impl<J> fmt::Display for $ty<J> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($variant => f.write_str($msg),)+
                }
            }
        }

        impl<J> Error for $ty<J> {}
    };
}

job_error_impls!(TrySubmitError,
    TrySubmitError::Full(_) => "pool queue is full",
    TrySubmitError::Closed(_) => "pool is closed",
);
job_error_impls!(SubmitError, SubmitError(_) => "pool is closed");
job_error_impls!(SubmitTimeoutError,
    SubmitTimeoutError::Timeout(_) => "pool queue stayed full until the timeout",
    SubmitTimeoutError::Closed(_) => "pool is closed",
);
job_error_impls!(SubmitRetryError,
    SubmitRetryError::Full { .. } => "pool queue stayed full; retries gave up",
    SubmitRetryError::Closed(_) => "pool is closed",
);

/// How an accepted job ended without a value. A [`JobHandle`](super::JobHandle) resolves
/// to `Result<R, JobError>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobError {
    /// The job panicked; the message is the panic payload when it was a string. The
    /// worker survived and went on with the next job.
    Panicked(String),
    /// The job ran past the pool's [`job_timeout`](super::PoolBuilder::job_timeout). An
    /// async job was dropped at its current `.await`; a blocking job had its token
    /// cancelled and its eventual output was discarded.
    TimedOut,
    /// Shutdown passed its deadline while the job was running, and the job did not
    /// finish within the cancel grace after its token was cancelled.
    Cancelled,
    /// Shutdown passed its deadline before the job started. The job itself is in
    /// [`ShutdownReport::unstarted`](super::ShutdownReport::unstarted).
    NotStarted,
}

impl JobError {
    /// `true` if the job started and failed (it panicked or timed out), as opposed to
    /// being cancelled or never started.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Panicked(_) | Self::TimedOut)
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked(msg) => write!(f, "job panicked: {msg}"),
            Self::TimedOut => f.write_str("job timed out"),
            Self::Cancelled => f.write_str("job cancelled by shutdown"),
            Self::NotStarted => f.write_str("job never started: shutdown handed it back"),
        }
    }
}

impl Error for JobError {}

/// A [`PoolBuilder`](super::PoolBuilder) setting that cannot work; returned by `spawn`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidPool {
    /// `workers(0)`: nothing would ever run the queued jobs (the seed accepted this and
    /// silently lost every job, S15-10).
    ZeroWorkers,
    /// `queue_capacity(0)`: an unbuffered queue would reject every job unless a worker
    /// happened to be waiting at that instant (S15-10). Use 1 for "almost no queue".
    ZeroCapacity,
    /// `job_timeout(Duration::ZERO)`: every job would time out.
    ZeroTimeout,
    /// `spawn` was called outside a tokio runtime. Not a setting, but reported here
    /// because `spawn` checks and starts in one call.
    NoRuntime,
}

impl fmt::Display for InvalidPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroWorkers => "a pool needs at least one worker",
            Self::ZeroCapacity => "queue capacity must be at least 1",
            Self::ZeroTimeout => "job timeout must be non-zero when set",
            Self::NoRuntime => "a pool must be spawned inside a tokio runtime",
        })
    }
}

impl Error for InvalidPool {}

/// The old name of [`InvalidPool`].
#[deprecated(note = "renamed `InvalidPool`, as every config error is `Invalid<Thing>`")]
pub type PoolConfigError = InvalidPool;
