//! The errors of building and starting a runner.

use std::fmt;

/// The period given to [`Periodic::new`](super::Periodic::new) was rejected.
///
/// The rules: the period must be non-zero, and at most
/// [`Periodic::MAX_PERIOD`](super::Periodic::MAX_PERIOD) (so deadlines computed from it
/// cannot overflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidPeriod {
    /// The period was zero.
    Zero,
    /// The period was longer than [`Periodic::MAX_PERIOD`](super::Periodic::MAX_PERIOD).
    TooLong,
}

impl fmt::Display for InvalidPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidPeriod::Zero => f.write_str("period must be non-zero"),
            InvalidPeriod::TooLong => f.write_str("period too long"),
        }
    }
}

impl std::error::Error for InvalidPeriod {}

/// Why [`Periodic::spawn`](super::Periodic::spawn) started no runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// `spawn` was called outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRuntime => "a periodic runner must be spawned inside a tokio runtime",
        })
    }
}

impl std::error::Error for SpawnError {}
