//! Why a scope stopped a piece of work, and what a shutdown did.

use std::fmt;

/// Why [`Scope::run`](super::Scope::run) (or [`run_until`](super::run_until)) returned
/// without the work's value: the token was cancelled, or the deadline passed.
///
/// This is Go's `context.Canceled` / `context.DeadlineExceeded` pair as a type, so a caller
/// can tell "someone asked us to stop" from "we ran out of time", and neither is mistaken
/// for completion (seed defect S7-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stopped {
    /// The scope's [`CancellationToken`](super::CancellationToken) was cancelled (by
    /// [`Scope::cancel`](super::Scope::cancel), a parent scope, or a shutdown).
    Cancelled,
    /// The scope's deadline passed before the work finished.
    DeadlineExceeded,
}

impl Stopped {
    /// `true` for [`Stopped::Cancelled`].
    pub fn is_cancelled(self) -> bool {
        matches!(self, Stopped::Cancelled)
    }

    /// `true` for [`Stopped::DeadlineExceeded`].
    pub fn is_deadline_exceeded(self) -> bool {
        matches!(self, Stopped::DeadlineExceeded)
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stopped::Cancelled => "cancelled",
            Stopped::DeadlineExceeded => "deadline exceeded",
        })
    }
}

impl std::error::Error for Stopped {}

/// Why a task spawned with [`Scope::spawn`](super::Scope::spawn) produced no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task was dropped before it finished: by [`Scope::shutdown`](super::Scope::shutdown)
    /// after the grace period, by [`ScopedJoinHandle::abort`](super::ScopedJoinHandle::abort),
    /// or because the runtime shut down.
    Aborted,
    /// The task panicked; the panic message (or `"non-string panic payload"`).
    Panicked(String),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Aborted => f.write_str("task aborted"),
            TaskError::Panicked(msg) => write!(f, "task panicked: {msg}"),
        }
    }
}

impl std::error::Error for TaskError {}

/// What [`Scope::shutdown`](super::Scope::shutdown) did.
///
/// Every task that was running when the shutdown began is counted once: it either
/// stopped within the grace period (`running - aborted`) or was still running when the grace
/// period ran out and was then aborted. Both counts come from the scope's
/// [`TaskTracker`](super::TaskTracker); on a multi-thread runtime a task that finishes in the
/// very instant the grace period ends may be counted as aborted although its handle yields
/// its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Tasks (of this scope and its child scopes) still running when the shutdown began.
    pub running: usize,
    /// Tasks still running when the grace period ran out (they ignored the cancellation);
    /// each was then aborted (dropped at its next `.await`).
    pub aborted: usize,
}

impl ShutdownReport {
    /// Tasks that stopped on their own within the grace period.
    pub fn stopped_in_time(&self) -> usize {
        self.running.saturating_sub(self.aborted)
    }

    /// `true` if no task had to be aborted.
    pub fn is_clean(&self) -> bool {
        self.aborted == 0
    }
}
