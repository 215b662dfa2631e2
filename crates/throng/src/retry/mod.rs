//! Retry with exponential backoff, jitter, a time budget and cancellable waits.

mod backoff;
mod error;
mod run;

pub use backoff::{Backoff, BackoffBuilder, BackoffState, Delays, Jitter, RandomSource};
pub use error::{InvalidBackoff, RetryError, StopReason};
pub use run::{
    retry, retry_blocking, AnyError, NoHint, Retry, RetryAfter, RetryBlocking, RetryFuture, RetryIf,
};
