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
pub enum InvalidPipeline {
    /// A stage was given zero workers.
    ZeroWorkers {
        /// The stage's name.
        stage: &'static str,
    },
    /// A queue capacity of zero.
    ZeroCapacity,
    /// No stage was added.
    NoStages,
    /// `spawn` was called outside a tokio runtime. Not a setting, but reported here
    /// because [`spawn`](super::PipelineBuilder::spawn) checks and starts in one call.
    NoRuntime,
}

impl fmt::Display for InvalidPipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroWorkers { stage } => write!(f, "stage `{stage}` needs at least one worker"),
            Self::ZeroCapacity => f.write_str("queue capacity must be at least 1"),
            Self::NoStages => f.write_str("a pipeline needs at least one stage"),
            Self::NoRuntime => f.write_str("a pipeline must be spawned inside a tokio runtime"),
        }
    }
}

impl Error for InvalidPipeline {}

/// [`PipelineInput::send`](super::PipelineInput::send) refused an item: the pipeline
/// stopped (an error, a cancellation, or every output gone). The item is inside.
#[derive(PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// Hands the refused item back.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pipeline stopped")
    }
}

impl<T> Error for SendError<T> {}

/// [`PipelineInput::try_send`](super::PipelineInput::try_send) refused an item; the item
/// is inside ([`into_inner`](Self::into_inner)).
#[derive(PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The first queue is full; sending later (or with
    /// [`send`](super::PipelineInput::send), which waits) may succeed.
    Full(T),
    /// The pipeline stopped (an error, a cancellation, or every output gone), or this
    /// input was closed.
    Stopped(T),
}

impl<T> TrySendError<T> {
    /// Hands the refused item back.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(item) | Self::Stopped(item) => item,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Stopped(_) => "Stopped(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "pipeline queue full",
            Self::Stopped(_) => "pipeline stopped",
        })
    }
}

impl<T> Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        Self::Stopped(e.0)
    }
}

/// The old name of [`SendError`].
#[deprecated(
    since = "0.1.0",
    note = "renamed `SendError`, after the operation that returns it"
)]
pub type Stopped<T> = SendError<T>;

/// The old name of [`InvalidPipeline`].
#[deprecated(
    since = "0.1.0",
    note = "renamed `InvalidPipeline`, as every config error is `Invalid<Thing>`"
)]
pub type PipelineConfigError = InvalidPipeline;
