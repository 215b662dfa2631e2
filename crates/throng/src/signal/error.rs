//! The errors of the signal waits.

use std::fmt;

/// The deadline of a `_timeout` wait passed before the signal came.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(pub(super) ());

impl fmt::Debug for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Elapsed")
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// The [`Event`](super::Event) was closed (or every `Event` handle was dropped).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Closed(pub(super) ());

impl fmt::Debug for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed")
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event closed")
    }
}

impl std::error::Error for Closed {}

/// Why a `wait_timeout` on an [`Event`](super::Event) or [`Listener`](super::Listener)
/// returned without a new generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitTimeoutError {
    /// The deadline passed first.
    Elapsed,
    /// The event was closed (or dropped) first.
    Closed,
}

impl fmt::Display for WaitTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitTimeoutError::Elapsed => f.write_str("deadline elapsed"),
            WaitTimeoutError::Closed => f.write_str("event closed"),
        }
    }
}

impl std::error::Error for WaitTimeoutError {}

impl From<Closed> for WaitTimeoutError {
    fn from(_: Closed) -> Self {
        WaitTimeoutError::Closed
    }
}
