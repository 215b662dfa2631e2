//! The three states, the packed state word, and state-change events.

use std::fmt;
use std::time::Duration;

/// Where a breaker is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and their outcomes are counted; enough failures trip it open.
    Closed,
    /// Calls are rejected at once until the cool-down ends.
    Open,
    /// A limited number of probe calls pass; one failure re-opens, enough successes close.
    HalfOpen,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        })
    }
}

/// The state word: the state in the low two bits, the epoch (transitions so far) above.
///
/// Every permit carries the word it was admitted under; its verdict counts only if the
/// word is unchanged, so an outcome never leaks into a later state.
pub(crate) const CLOSED: u64 = 0;
pub(crate) const OPEN: u64 = 1;
pub(crate) const HALF_OPEN: u64 = 2;
const STATE_MASK: u64 = 0b11;

pub(crate) fn state_of(word: u64) -> State {
    match word & STATE_MASK {
        CLOSED => State::Closed,
        OPEN => State::Open,
        _ => State::HalfOpen,
    }
}

pub(crate) fn epoch_of(word: u64) -> u64 {
    word >> 2
}

/// The word after one more transition, into `to`.
pub(crate) fn next_word(word: u64, to: State) -> u64 {
    let bits = match to {
        State::Closed => CLOSED,
        State::Open => OPEN,
        State::HalfOpen => HALF_OPEN,
    };
    ((epoch_of(word) + 1) << 2) | bits
}

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// Closed → open: this many failures in a row.
    ConsecutiveFailures {
        /// The failures in a row, counting the one that tripped it.
        count: u64,
    },
    /// Closed → open: the failure rate over the sliding window reached the threshold.
    FailureRate {
        /// Failures in the window, counting the one that tripped it.
        failures: u64,
        /// Calls in the window.
        calls: u64,
    },
    /// Open → half-open: the cool-down ended (noticed by the next call or state read).
    CoolDownElapsed,
    /// Half-open → open: a probe failed.
    ProbeFailed,
    /// Half-open → closed: this many probes succeeded.
    ProbesSucceeded {
        /// The number of successful probes (the configured probe count).
        probes: u32,
    },
    /// Any → open: [`Breaker::trip`](super::Breaker::trip) was called.
    Tripped,
    /// Any → closed: [`Breaker::reset`](super::Breaker::reset) was called.
    Reset,
}

/// A state-change event, passed to the
/// [`on_state_change`](super::BreakerBuilder::on_state_change) callback.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct StateChange {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When, on the breaker's clock (time since the clock's origin).
    pub at: Duration,
    /// The transition's sequence number, from 1. Callbacks run outside the breaker's lock,
    /// so two threads may deliver consecutive events out of order; sort by this.
    pub seq: u64,
    /// For a transition into [`State::Open`]: how long it stays open.
    pub open_for: Option<Duration>,
}

impl fmt::Display for StateChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} -> {} ({:?})",
            self.seq, self.from, self.to, self.reason
        )?;
        if let Some(d) = self.open_for {
            write!(f, " for {d:?}")?;
        }
        Ok(())
    }
}
