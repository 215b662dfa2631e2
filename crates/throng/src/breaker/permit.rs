//! [`Permit`]: one admitted call, and the [`Outcome`] its caller reports.

use std::fmt;

use crate::clock::Clock;
use crate::sync::Arc;

use super::breaker::Inner;
use super::state::{state_of, State};

/// How a finished call counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The downstream worked (breaks a run of failures; a probe success).
    Success,
    /// The downstream failed (counts toward tripping; re-opens from half-open).
    Failure,
    /// Not counted either way: a cancellation, a deadline the caller chose, an error that
    /// is the caller's fault. Frees a half-open probe slot.
    Ignore,
}

impl Outcome {
    /// The default classification: `Ok` is a success, `Err` a failure.
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Self::Success
        } else {
            Self::Failure
        }
    }
}

/// Leave to make one call, from [`Breaker::try_acquire`](super::Breaker::try_acquire).
///
/// Report the outcome with [`success`](Self::success), [`failure`](Self::failure),
/// [`ignore`](Self::ignore) or [`record`](Self::record). Dropping it without a verdict
/// counts as ignored, so a cancelled call (a dropped future) never trips the breaker and
/// never keeps a half-open probe slot; a permit dropped while its thread panics counts
/// as a failure.
///
/// A verdict counts only toward the state the permit was issued in: if the breaker
/// changed state meanwhile, it is counted as [`late`](super::BreakerMetrics::late).
#[must_use = "report the call's outcome; a dropped permit counts as ignored"]
pub struct Permit<'a, C: Clock> {
    inner: &'a Inner<C>,
    word: u64,
    start: u64,
    done: bool,
}

impl<'a, C: Clock> Permit<'a, C> {
    pub(crate) fn new(inner: &'a Inner<C>, word: u64, start: u64) -> Self {
        Self {
            inner,
            word,
            start,
            done: false,
        }
    }

    /// The state the call was admitted in: [`State::HalfOpen`] for a probe, otherwise
    /// [`State::Closed`].
    pub fn state(&self) -> State {
        state_of(self.word)
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.state() == State::HalfOpen
    }

    /// The call succeeded (or, with a slow-call threshold, was slow: then a failure).
    #[inline]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Do not count the call (same as dropping the permit).
    #[inline]
    pub fn ignore(self) {
        self.record(Outcome::Ignore);
    }

    /// Reports `outcome`.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.inner.finish(self.word, self.start, outcome);
    }

    /// The same admission, holding the breaker instead of borrowing it.
    pub(crate) fn into_owned(mut self, inner: Arc<Inner<C>>) -> OwnedPermit<C> {
        self.done = true;
        OwnedPermit {
            inner,
            word: self.word,
            start: self.start,
            done: false,
        }
    }
}

impl<C: Clock> Drop for Permit<'_, C> {
    fn drop(&mut self) {
        if !self.done {
            let outcome = if std::thread::panicking() {
                Outcome::Failure
            } else {
                Outcome::Ignore
            };
            self.inner.finish(self.word, self.start, outcome);
        }
    }
}

impl<C: Clock> fmt::Debug for Permit<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// A [`Permit`] that owns a handle to its breaker (`'static`), from
/// [`Breaker::try_acquire_owned`](super::Breaker::try_acquire_owned): for a call whose
/// future must outlive the borrow (a spawned task, a tower response future).
///
/// Same rules as [`Permit`]: report with [`record`](Self::record) (or `success` /
/// `failure` / `ignore`); dropped without a verdict it counts as ignored and frees its
/// probe slot; dropped while its thread panics it counts as a failure.
#[must_use = "report the call's outcome; a dropped permit counts as ignored"]
pub struct OwnedPermit<C: Clock> {
    inner: Arc<Inner<C>>,
    word: u64,
    start: u64,
    done: bool,
}

impl<C: Clock> OwnedPermit<C> {
    /// As [`Permit::state`].
    pub fn state(&self) -> State {
        state_of(self.word)
    }

    /// As [`Permit::is_probe`].
    pub fn is_probe(&self) -> bool {
        self.state() == State::HalfOpen
    }

    /// The call succeeded.
    #[inline]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Do not count the call (same as dropping the permit).
    #[inline]
    pub fn ignore(self) {
        self.record(Outcome::Ignore);
    }

    /// Reports `outcome`.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.inner.finish(self.word, self.start, outcome);
    }
}

impl<C: Clock> Drop for OwnedPermit<C> {
    fn drop(&mut self) {
        if !self.done {
            let outcome = if std::thread::panicking() {
                Outcome::Failure
            } else {
                Outcome::Ignore
            };
            self.inner.finish(self.word, self.start, outcome);
        }
    }
}

impl<C: Clock> fmt::Debug for OwnedPermit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
