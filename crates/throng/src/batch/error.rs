//! Batcher errors: refused items come back; failed items say why.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// Why [`Batcher::try_submit`](super::Batcher::try_submit) refused an item; the item is
/// inside.
#[derive(PartialEq, Eq)]
pub enum TrySubmitError<T> {
    /// The intake queue is full: flushes are behind (backpressure).
    Full(T),
    /// The batcher is shutting down or gone.
    Closed(T),
}

impl<T> TrySubmitError<T> {
    /// Hands the refused item back.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(t) | Self::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for TrySubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "batcher intake is full",
            Self::Closed(_) => "batcher is closed",
        })
    }
}

impl<T> Error for TrySubmitError<T> {}

/// Why [`Batcher::submit`](super::Batcher::submit) refused an item: the batcher closed.
/// The item is inside.
#[derive(PartialEq, Eq)]
pub struct SubmitError<T>(pub T);

impl<T> SubmitError<T> {
    /// Hands the refused item back.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubmitError(..)")
    }
}

impl<T> fmt::Display for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("batcher is closed")
    }
}

impl<T> Error for SubmitError<T> {}

/// The old name of [`SubmitError`].
#[deprecated(note = "renamed `SubmitError`, after the operation that returns it")]
pub type Closed<T> = SubmitError<T>;

/// Why an accepted item has no result.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchError<E> {
    /// The flush of this item's batch failed; every item of the batch gets the same error.
    Flush(Arc<E>),
    /// The flush function returned a different number of results than it got items, so
    /// no result can be matched to its item.
    LengthMismatch {
        /// Items in the batch.
        items: usize,
        /// Results returned.
        results: usize,
    },
    /// The flush function panicked (message included).
    Panicked(String),
    /// Shutdown passed its deadline while this item's flush was running (or before it
    /// started); the flush was dropped.
    Cancelled,
}

impl<E> Clone for BatchError<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Flush(e) => Self::Flush(e.clone()),
            Self::LengthMismatch { items, results } => Self::LengthMismatch {
                items: *items,
                results: *results,
            },
            Self::Panicked(m) => Self::Panicked(m.clone()),
            Self::Cancelled => Self::Cancelled,
        }
    }
}

impl<E: PartialEq> PartialEq for BatchError<E> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Flush(a), Self::Flush(b)) => a == b,
            (
                Self::LengthMismatch { items, results },
                Self::LengthMismatch {
                    items: i2,
                    results: r2,
                },
            ) => items == i2 && results == r2,
            (Self::Panicked(a), Self::Panicked(b)) => a == b,
            (Self::Cancelled, Self::Cancelled) => true,
            _ => false,
        }
    }
}

impl<E: fmt::Display> fmt::Display for BatchError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flush(e) => write!(f, "batch flush failed: {e}"),
            Self::LengthMismatch { items, results } => {
                write!(f, "flush returned {results} results for {items} items")
            }
            Self::Panicked(m) => write!(f, "batch flush panicked: {m}"),
            Self::Cancelled => f.write_str("batch flush cancelled by shutdown"),
        }
    }
}

/// Any displayable flush error works with `?` into `Box<dyn Error>` (a `String` too); the
/// flush's error is part of the message rather than the `source`.
impl<E: fmt::Debug + fmt::Display> Error for BatchError<E> {}

/// A [`BatcherBuilder`](super::BatcherBuilder) setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidBatcher {
    /// `max_items(0)`: no batch could hold an item.
    ZeroMaxItems,
    /// `max_bytes(0)`: no batch could hold an item.
    ZeroMaxBytes,
    /// `max_in_flight(0)`: nothing could ever flush.
    ZeroInFlight,
    /// `queue_capacity(0)`.
    ZeroCapacity,
    /// `max_delay(Duration::ZERO)`: use `max_items(1)` for "no batching".
    ZeroDelay,
    /// `spawn` was called outside a tokio runtime. Not a setting, but reported here
    /// because `spawn` checks and starts in one call.
    NoRuntime,
}

impl fmt::Display for InvalidBatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroMaxItems => "max items must be at least 1",
            Self::ZeroMaxBytes => "max bytes must be at least 1 when set",
            Self::ZeroInFlight => "max flushes in flight must be at least 1",
            Self::ZeroCapacity => "queue capacity must be at least 1",
            Self::ZeroDelay => "max delay must be non-zero",
            Self::NoRuntime => "a batcher must be spawned inside a tokio runtime",
        })
    }
}

impl Error for InvalidBatcher {}

/// The old name of [`InvalidBatcher`].
#[deprecated(note = "renamed `InvalidBatcher`, as every config error is `Invalid<Thing>`")]
pub type BatchConfigError = InvalidBatcher;
