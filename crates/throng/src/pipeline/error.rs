//! Pipeline errors.

use std::error::Error;
use std::fmt;

/// Why a pipeline stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipelineError<E> {
    /// A stage's function returned an error: the first one wins, and every stage stopped.
    Stage {
        /// The stage's name.
        stage: &'static str,
        /// The error it returned.
        error: E,
    },
    /// A stage's function panicked; every stage stopped.
    Panicked {
        /// The stage's name.
        stage: &'static str,
        /// The panic message.
        message: String,
    },
    /// [`PipelineHandle::cancel`](super::PipelineHandle::cancel) was called (or its token
    /// cancelled) before the input was exhausted.
    Cancelled,
}

impl<E: fmt::Display> fmt::Display for PipelineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stage { stage, error } => write!(f, "stage `{stage}` failed: {error}"),
            Self::Panicked { stage, message } => write!(f, "stage `{stage}` panicked: {message}"),
            Self::Cancelled => f.write_str("pipeline cancelled"),
        }
    }
}

/// Any displayable stage error works with `?` into `Box<dyn Error>` (a `String` too); the
/// stage's error is part of the message rather than the `source`.
impl<E: fmt::Debug + fmt::Display> Error for PipelineError<E> {}

/// A [`PipelineBuilder`](super::PipelineBuilder) setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipelineConfigError {
    /// A stage was given zero workers.
    ZeroWorkers {
        /// The stage's name.
        stage: &'static str,
    },
    /// A queue capacity of zero.
    ZeroCapacity,
    /// No stage was added.
    NoStages,
    /// `spawn` was called outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for PipelineConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroWorkers { stage } => write!(f, "stage `{stage}` needs at least one worker"),
            Self::ZeroCapacity => f.write_str("queue capacity must be at least 1"),
            Self::NoStages => f.write_str("a pipeline needs at least one stage"),
            Self::NoRuntime => f.write_str("a pipeline must be spawned inside a tokio runtime"),
        }
    }
}

impl Error for PipelineConfigError {}

/// [`PipelineInput::send`](super::PipelineInput::send) refused an item: the pipeline
/// stopped (an error, a cancellation, or every output gone). The item is inside.
#[derive(PartialEq, Eq)]
pub struct Stopped<T>(pub T);

impl<T> Stopped<T> {
    /// Hands the refused item back.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Stopped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stopped(..)")
    }
}

impl<T> fmt::Display for Stopped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pipeline stopped")
    }
}

impl<T> Error for Stopped<T> {}
