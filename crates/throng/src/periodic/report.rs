//! How a runner ended: [`PeriodicReport`] and its parts.

use std::fmt;

/// A run of the closure panicked; the panic was caught.
#[derive(Clone, PartialEq, Eq)]
pub struct RunPanicked {
    pub(super) index: u64,
    pub(super) is_final: bool,
    pub(super) message: String,
}

impl RunPanicked {
    /// Index of the run that panicked (see [`RunContext::index`](super::RunContext::index)).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Whether the run that panicked was the final run.
    pub fn is_final(&self) -> bool {
        self.is_final
    }

    /// The panic message, if the payload was a string; `"<non-string panic payload>"`
    /// otherwise.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for RunPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunPanicked")
            .field("index", &self.index)
            .field("is_final", &self.is_final)
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for RunPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "periodic run {} panicked: {}", self.index, self.message)
    }
}

impl std::error::Error for RunPanicked {}

/// Why the runner stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// Its token was cancelled (the normal way).
    Cancelled,
    /// A run panicked. No regular run follows a panic, nor the final run.
    Panicked(RunPanicked),
    /// The task was aborted ([`PeriodicHandle::abort`](super::PeriodicHandle::abort)) or
    /// its runtime shut down before it finished; a run in progress was dropped midway.
    Aborted,
}

/// What happened to the final run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinalRun {
    /// No final run was configured ([`Periodic::final_run`](super::Periodic::final_run) is off).
    Disabled,
    /// The final run finished.
    Completed,
    /// The final run did not finish within
    /// [`Periodic::final_run_deadline`](super::Periodic::final_run_deadline) and was
    /// dropped.
    TimedOut,
    /// The final run panicked ([`Stopped::Panicked`] has the message).
    Panicked,
    /// The final run was configured but did not happen, because a regular run panicked
    /// or the runner was aborted.
    Skipped,
}

/// How a runner ended: [`Periodic::run`](super::Periodic::run) and
/// [`PeriodicHandle::join`](super::PeriodicHandle::join) return it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeriodicReport {
    /// Regular runs started (the final run is not counted; a run that panicked is).
    pub runs: u64,
    /// What happened to the final run.
    pub final_run: FinalRun,
    /// Why the runner stopped.
    pub stopped: Stopped,
}

impl PeriodicReport {
    /// The caught panic, if a run panicked.
    pub fn panic(&self) -> Option<&RunPanicked> {
        match &self.stopped {
            Stopped::Panicked(p) => Some(p),
            _ => None,
        }
    }
}
