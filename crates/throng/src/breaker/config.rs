//! [`BreakerBuilder`]: settings, validated by [`build`](BreakerBuilder::build).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, MonotonicClock};
use crate::retry::Backoff;

use super::breaker::Breaker;
use super::error::InvalidBreaker;
use super::state::StateChange;
use super::window::{Window, MAX_BUCKETS, MAX_COUNT, MIN_BUCKET};

pub(crate) type Listener = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// How long the breaker stays open after a trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CoolDown {
    Fixed(Duration),
    /// The n-th trip in a row (without closing in between) waits the backoff's n-th delay;
    /// past its last delay, its max delay.
    Growing(Backoff),
}

/// The failure-rate policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RatePolicy {
    pub(crate) threshold: f64,
    pub(crate) window: Window,
    pub(crate) minimum_calls: u64,
}

/// The validated settings a breaker runs with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settings {
    pub(crate) consecutive: Option<u64>,
    pub(crate) rate: Option<RatePolicy>,
    pub(crate) slow_call: Option<u64>,
    pub(crate) cool_down: CoolDown,
    pub(crate) probes: u32,
}

/// Settings for a [`Breaker`]; finish with [`build`](Self::build).
///
/// Defaults (all of them):
///
/// | setting | default |
/// |---|---|
/// | [`consecutive_failures`](Self::consecutive_failures) | 5 (trip on the 5th failure in a row) |
/// | [`failure_rate`](Self::failure_rate) | off |
/// | [`minimum_calls`](Self::minimum_calls) | 10, or the count window's size if smaller |
/// | [`slow_call`](Self::slow_call) | off: duration does not matter |
/// | [`cool_down`](Self::cool_down) | 30 s, fixed |
/// | [`half_open_probes`](Self::half_open_probes) | 1 |
/// | [`clock`](Self::clock) | [`MonotonicClock`] |
/// | [`on_state_change`](Self::on_state_change) | none |
/// | [`name`](Self::name) | `"breaker"` |
#[must_use = "a builder does nothing until `build` is called"]
pub struct BreakerBuilder<C = MonotonicClock> {
    consecutive: Option<u32>,
    rate: Option<(f64, Window)>,
    minimum_calls: Option<u32>,
    slow_call: Option<Duration>,
    cool_down: Result<CoolDown, Duration>,
    probes: u32,
    clock: C,
    listener: Option<Listener>,
    name: Cow<'static, str>,
}

impl<C: fmt::Debug> fmt::Debug for BreakerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("consecutive", &self.consecutive)
            .field("rate", &self.rate)
            .field("minimum_calls", &self.minimum_calls)
            .field("slow_call", &self.slow_call)
            .field("cool_down", &self.cool_down)
            .field("probes", &self.probes)
            .field("clock", &self.clock)
            .field("on_state_change", &self.listener.is_some())
            .field("name", &self.name)
            .finish()
    }
}

impl Default for BreakerBuilder<MonotonicClock> {
    fn default() -> Self {
        Self {
            consecutive: Some(5),
            rate: None,
            minimum_calls: None,
            slow_call: None,
            cool_down: Ok(CoolDown::Fixed(Duration::from_secs(30))),
            probes: 1,
            clock: MonotonicClock::new(),
            listener: None,
            name: Cow::Borrowed("breaker"),
        }
    }
}

impl<C: Clock> BreakerBuilder<C> {
    /// Trip after this many failures in a row (default 5). Must be at least 1. A success
    /// resets the run.
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive = Some(n);
        self
    }

    /// Never trip on a run of failures: only the failure rate trips the breaker (which
    /// must then be set).
    pub fn no_consecutive_failures(mut self) -> Self {
        self.consecutive = None;
        self
    }

    /// Also trip when, over `window`, at least `threshold` (a fraction in `(0.0, 1.0]`,
    /// so `0.5` is 50 %) of the calls failed, once the window holds at least
    /// [`minimum_calls`](Self::minimum_calls) calls. The rate is judged when a failure is
    /// recorded. Off by default.
    pub fn failure_rate(mut self, threshold: f64, window: Window) -> Self {
        self.rate = Some((threshold, window));
        self
    }

    /// How many calls the window must hold before the failure rate can trip the breaker
    /// (default 10, or the count window's size if that is smaller). Must be at least 1
    /// and, for a count window, at most its size.
    pub fn minimum_calls(mut self, n: u32) -> Self {
        self.minimum_calls = Some(n);
        self
    }

    /// Count a call that succeeded but took at least `threshold` (from its permit to its
    /// verdict, on the breaker's clock) as a failure. Must be non-zero. Off by default.
    /// Costs two clock reads per call.
    pub fn slow_call(mut self, threshold: Duration) -> Self {
        self.slow_call = Some(threshold);
        self
    }

    /// Stay open this long after each trip (default 30 s). Must be non-zero.
    pub fn cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = if cool_down.is_zero() {
            Err(cool_down)
        } else {
            Ok(CoolDown::Fixed(cool_down))
        };
        self
    }

    /// Grow the cool-down while the service stays down: the first trip waits the
    /// backoff's first delay, a re-open from half-open its second, and so on, up to its
    /// max delay (where it stays, past the backoff's last attempt). Closing starts over.
    /// The backoff's jitter spreads the probes of many instances; prefer
    /// [`Jitter::Equal`](crate::retry::Jitter::Equal) so no cool-down is near zero.
    pub fn cool_down_backoff(mut self, backoff: Backoff) -> Self {
        self.cool_down = Ok(CoolDown::Growing(backoff));
        self
    }

    /// How many probe calls half-open lets through (default 1). Must be at least 1. Each
    /// probe that succeeds uses up its slot; when this many have succeeded the breaker
    /// closes, and the first that fails re-opens it. A probe that is ignored or dropped
    /// frees its slot for another caller.
    pub fn half_open_probes(mut self, n: u32) -> Self {
        self.probes = n;
        self
    }

    /// Read time from `clock` (default [`MonotonicClock`]): a
    /// [`TokioClock`](crate::clock::TokioClock) to follow paused tokio time, a
    /// [`ManualClock`](crate::clock::ManualClock) in tests.
    pub fn clock<D: Clock>(self, clock: D) -> BreakerBuilder<D> {
        BreakerBuilder {
            consecutive: self.consecutive,
            rate: self.rate,
            minimum_calls: self.minimum_calls,
            slow_call: self.slow_call,
            cool_down: self.cool_down,
            probes: self.probes,
            clock,
            listener: self.listener,
            name: self.name,
        }
    }

    /// A name for `Debug` output and, with the `tracing` and `metrics` features, the
    /// `breaker` field of its events and the `breaker` label of its metrics (default
    /// `"breaker"`). Name each downstream's breaker.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Call `listener` on every state change, after the change and outside the breaker's
    /// lock (so it may call the breaker). It runs on the thread whose call caused the
    /// change: keep it short, or hand the event to a channel.
    pub fn on_state_change(
        mut self,
        listener: impl Fn(&StateChange) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    fn settings(&self) -> Result<Settings, InvalidBreaker> {
        if self.consecutive.is_none() && self.rate.is_none() {
            return Err(InvalidBreaker::NoTripCondition);
        }
        if self.consecutive == Some(0) {
            return Err(InvalidBreaker::ZeroConsecutiveFailures);
        }
        let rate = match self.rate {
            None => None,
            Some((threshold, window)) => {
                if !(threshold > 0.0 && threshold <= 1.0) {
                    return Err(InvalidBreaker::FailureRate(threshold));
                }
                let count = match window {
                    Window::Count(n) => {
                        if n == 0 || n > MAX_COUNT {
                            return Err(InvalidBreaker::CountWindow(n));
                        }
                        Some(n)
                    }
                    Window::Time { span, buckets } => {
                        if span.is_zero()
                            || buckets == 0
                            || buckets > MAX_BUCKETS
                            || span / buckets < MIN_BUCKET
                        {
                            return Err(InvalidBreaker::TimeWindow { span, buckets });
                        }
                        None
                    }
                };
                let minimum_calls = self
                    .minimum_calls
                    .unwrap_or_else(|| count.map_or(10, |n| n.min(10)));
                if minimum_calls == 0 || count.is_some_and(|n| minimum_calls > n) {
                    return Err(InvalidBreaker::MinimumCalls {
                        minimum_calls,
                        window: count,
                    });
                }
                Some(RatePolicy {
                    threshold,
                    window,
                    minimum_calls: u64::from(minimum_calls),
                })
            }
        };
        if self.slow_call == Some(Duration::ZERO) {
            return Err(InvalidBreaker::ZeroSlowCall);
        }
        let cool_down = self.cool_down.map_err(|_| InvalidBreaker::ZeroCoolDown)?;
        if self.probes == 0 {
            return Err(InvalidBreaker::ZeroProbes);
        }
        Ok(Settings {
            consecutive: self.consecutive.map(u64::from),
            rate,
            slow_call: self.slow_call.map(crate::clock::nanos),
            cool_down,
            probes: self.probes,
        })
    }

    /// Checks every rule and builds the breaker, closed.
    ///
    /// # Errors
    ///
    /// The first broken rule, as an [`InvalidBreaker`] variant (its docs list them all).
    pub fn build(self) -> Result<Breaker<C>, InvalidBreaker> {
        let settings = self.settings()?;
        Ok(Breaker::from_parts(
            settings,
            self.clock,
            self.listener,
            self.name,
        ))
    }
}
