//! Optional observability: `tracing` events for state changes and `metrics` for state,
//! transitions and rejections. Both compile to nothing without their feature.

#[cfg(feature = "metrics")]
use super::state::State;
use super::state::StateChange;

/// What a breaker reports to the observability facades, registered once at build.
pub(crate) struct Hooks {
    #[cfg(feature = "metrics")]
    metrics: Handles,
}

#[cfg(feature = "metrics")]
struct Handles {
    state: metrics::Gauge,
    opened: metrics::Counter,
    half_opened: metrics::Counter,
    closed: metrics::Counter,
    rejected: metrics::Counter,
}

/// The value of the `throng_breaker_state` gauge for a state.
#[cfg(feature = "metrics")]
fn gauge_value(state: State) -> f64 {
    match state {
        State::Closed => 0.0,
        State::HalfOpen => 1.0,
        State::Open => 2.0,
    }
}

impl Hooks {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(feature = "metrics")]
        let metrics = {
            let label = name.to_string();
            let transitions = |to: &'static str| {
                metrics::counter!(
                    "throng_breaker_transitions_total",
                    "breaker" => label.clone(), "to" => to
                )
            };
            let handles = Handles {
                state: metrics::gauge!("throng_breaker_state", "breaker" => label.clone()),
                opened: transitions("open"),
                half_opened: transitions("half_open"),
                closed: transitions("closed"),
                rejected: metrics::counter!("throng_breaker_rejected_total", "breaker" => label.clone()),
            };
            handles.state.set(gauge_value(State::Closed));
            handles
        };
        Self {
            #[cfg(feature = "metrics")]
            metrics,
        }
    }

    /// A state change of the breaker `name` happened (called outside its lock).
    // `name` is for tracing only; `event` for either.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    #[inline]
    pub(crate) fn state_change(&self, name: &str, event: &StateChange) {
        #[cfg(feature = "tracing")]
        {
            let breaker = name;
            let (from, to, reason) = (event.from, event.to, event.reason);
            match event.open_for {
                Some(open_for) => tracing::warn!(
                    target: "throng::breaker",
                    breaker, %from, %to, ?reason, seq = event.seq, ?open_for,
                    "circuit breaker opened"
                ),
                None => tracing::info!(
                    target: "throng::breaker",
                    breaker, %from, %to, ?reason, seq = event.seq,
                    "circuit breaker state change"
                ),
            }
        }
        #[cfg(feature = "metrics")]
        {
            let m = &self.metrics;
            m.state.set(gauge_value(event.to));
            match event.to {
                State::Open => m.opened.increment(1),
                State::HalfOpen => m.half_opened.increment(1),
                State::Closed => m.closed.increment(1),
            }
        }
    }

    /// A call was rejected.
    #[inline]
    pub(crate) fn rejected(&self) {
        #[cfg(feature = "metrics")]
        self.metrics.rejected.increment(1);
    }
}
