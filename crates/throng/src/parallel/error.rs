//! What can go wrong: a bad limit, a failed or panicked item, a spawn into a stopped group.

use std::fmt;

/// A [`ParMap`](super::ParMap) or [`Group`](super::Group) was configured with an invalid
/// value.
///
/// The rules: the concurrency limit must be at least 1 (the seed's `workers = 0` silently
/// returned empty strings and `workers = -1` crashed, seed defect S14-1; `futures`'
/// `buffered(0)` hangs forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidLimit {
    /// The concurrency limit was 0.
    ZeroLimit,
}

impl fmt::Display for InvalidLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidLimit::ZeroLimit => f.write_str("concurrency limit must be at least 1"),
        }
    }
}

impl std::error::Error for InvalidLimit {}

/// The old name of [`InvalidLimit`].
#[deprecated(
    since = "0.1.0",
    note = "renamed `InvalidLimit`, as every config error is `Invalid<Thing>`"
)]
pub type ConfigError = InvalidLimit;

/// Why one item (of a [`ParMap`](super::ParMap) call) or one task (of a
/// [`Group`](super::Group)) produced no value.
///
/// `index` is the item's position in the input, or the task's position in spawn order
/// (both from 0), so a caller can tell *which* item failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemError<E> {
    /// The item's future returned `Err(error)`.
    Failed {
        /// Position in the input (or spawn order).
        index: usize,
        /// The item's own error.
        error: E,
    },
    /// The item panicked (while its future was created or polled, or while the input
    /// iterator produced it). The panic was caught; the process goes on.
    Panicked {
        /// Position in the input (or spawn order).
        index: usize,
        /// The panic message, or `"non-string panic payload"`.
        message: String,
    },
    /// The item's task was cancelled from outside before it finished: the runtime shut
    /// down under it. Reported so no item goes missing silently.
    Aborted {
        /// Position in the input (or spawn order).
        index: usize,
    },
    /// The call was polled outside a tokio runtime, so no item could be started (where
    /// `tokio::spawn` would panic). The input iterator was not pulled; `index` is 0.
    NoRuntime {
        /// Always 0: the first item, which could not be started.
        index: usize,
    },
}

impl<E> ItemError<E> {
    /// The failed item's position in the input (or the task's in spawn order).
    pub fn index(&self) -> usize {
        match self {
            ItemError::Failed { index, .. }
            | ItemError::Panicked { index, .. }
            | ItemError::Aborted { index }
            | ItemError::NoRuntime { index } => *index,
        }
    }

    /// `true` if the item panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, ItemError::Panicked { .. })
    }

    /// The item's own error, if it returned one (not for panics and aborts).
    pub fn into_error(self) -> Option<E> {
        match self {
            ItemError::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The panic message, if the item panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            ItemError::Panicked { message, .. } => Some(message),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for ItemError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::Failed { index, error } => write!(f, "item {index} failed: {error}"),
            ItemError::Panicked { index, message } => {
                write!(f, "item {index} panicked: {message}")
            }
            ItemError::Aborted { index } => write!(f, "item {index} aborted"),
            ItemError::NoRuntime { .. } => {
                f.write_str("a parallel map must run inside a tokio runtime")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ItemError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ItemError::Failed { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// [`Group::spawn`](super::Group::spawn) was refused because the group has stopped (a task
/// failed, or its token was cancelled). The closure is handed back, never run.
#[derive(Clone, PartialEq, Eq)]
pub struct SpawnError<F>(pub F);

impl<F> SpawnError<F> {
    /// The closure that was not spawned.
    pub fn into_inner(self) -> F {
        self.0
    }
}

impl<F> fmt::Debug for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpawnError(..)")
    }
}

impl<F> fmt::Display for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("group stopped")
    }
}

impl<F> std::error::Error for SpawnError<F> {}

/// [`Group::try_spawn`](super::Group::try_spawn) was refused. The closure is handed back,
/// never run.
#[derive(Clone, PartialEq, Eq)]
pub enum TrySpawnError<F> {
    /// The group already runs `limit` tasks.
    Full(F),
    /// The group has stopped (a task failed, or its token was cancelled).
    Stopped(F),
}

impl<F> TrySpawnError<F> {
    /// The closure that was not spawned.
    pub fn into_inner(self) -> F {
        match self {
            TrySpawnError::Full(f) | TrySpawnError::Stopped(f) => f,
        }
    }

    /// `true` for [`TrySpawnError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, TrySpawnError::Full(_))
    }
}

impl<F> fmt::Debug for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySpawnError::Full(_) => "Full(..)",
            TrySpawnError::Stopped(_) => "Stopped(..)",
        })
    }
}

impl<F> fmt::Display for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySpawnError::Full(_) => "group full",
            TrySpawnError::Stopped(_) => "group stopped",
        })
    }
}

impl<F> std::error::Error for TrySpawnError<F> {}
