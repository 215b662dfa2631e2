//! Which errors are worth another attempt ([`RetryIf`]) and how long a failure asks to
//! wait ([`RetryAfter`]).

#[cfg(doc)]
use super::future::Retry;
use std::time::Duration;

/// Decides which errors are worth another attempt; see [`Retry::retry_if`].
///
/// Implemented for every `FnMut(&E) -> bool` and for [`AnyError`].
pub trait RetryIf<E> {
    /// `true` if `error` is transient and the operation should be tried again.
    fn should_retry(&mut self, error: &E) -> bool;
}

impl<E, F: FnMut(&E) -> bool> RetryIf<E> for F {
    fn should_retry(&mut self, error: &E) -> bool {
        self(error)
    }
}

/// The default classification: every error is retryable.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyError;

impl<E> RetryIf<E> for AnyError {
    fn should_retry(&mut self, _: &E) -> bool {
        true
    }
}

/// Reads a server's "retry after" hint out of an error; see [`Retry::retry_after`].
///
/// Implemented for every `FnMut(&E) -> Option<Duration>` and for [`NoHint`].
pub trait RetryAfter<E> {
    /// The minimum wait the error asks for, if it carries one.
    fn retry_after(&mut self, error: &E) -> Option<Duration>;
}

impl<E, F: FnMut(&E) -> Option<Duration>> RetryAfter<E> for F {
    fn retry_after(&mut self, error: &E) -> Option<Duration> {
        self(error)
    }
}

/// The default: errors carry no retry-after hint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHint;

impl<E> RetryAfter<E> for NoHint {
    fn retry_after(&mut self, _: &E) -> Option<Duration> {
        None
    }
}
