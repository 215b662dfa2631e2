//! The errors of starting and joining a dumper.

use std::fmt;

/// Why [`Dumper::spawn`](super::Dumper::spawn) started no dumper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// `spawn` was called outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRuntime => "a dumper must be spawned inside a tokio runtime",
        })
    }
}

impl std::error::Error for SpawnError {}

/// The dumper task ended without a report: its runtime shut down under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumperAborted;

impl fmt::Display for DumperAborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dumper task aborted")
    }
}

impl std::error::Error for DumperAborted {}
