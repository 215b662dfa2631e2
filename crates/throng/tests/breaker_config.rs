//! Configuration rules of `throng::breaker::BreakerBuilder`: each broken rule is a typed
//! error from `build`, never a panic.

use std::time::Duration;

use throng::breaker::{Breaker, InvalidBreaker, Window};

fn err(b: throng::breaker::BreakerBuilder) -> InvalidBreaker {
    b.build().unwrap_err()
}

#[test]
fn defaults_build() {
    let b = Breaker::builder().build().unwrap();
    assert_eq!(b.state(), throng::breaker::State::Closed);
}

#[test]
fn no_trip_condition_is_an_error() {
    assert_eq!(
        err(Breaker::builder().no_consecutive_failures()),
        InvalidBreaker::NoTripCondition
    );
}

#[test]
fn zero_consecutive_failures_is_an_error() {
    assert_eq!(
        err(Breaker::builder().consecutive_failures(0)),
        InvalidBreaker::ZeroConsecutiveFailures
    );
}

#[test]
fn failure_rate_out_of_range_is_an_error() {
    for r in [0.0, -0.1, 1.01, f64::NAN, f64::INFINITY] {
        let e = err(Breaker::builder().failure_rate(r, Window::count(10)));
        assert!(matches!(e, InvalidBreaker::FailureRate(_)), "{r}: {e:?}");
    }
    assert!(Breaker::builder()
        .failure_rate(1.0, Window::count(10))
        .build()
        .is_ok());
}

#[test]
fn bad_count_windows_are_errors() {
    assert_eq!(
        err(Breaker::builder().failure_rate(0.5, Window::count(0))),
        InvalidBreaker::CountWindow(0)
    );
    assert_eq!(
        err(Breaker::builder().failure_rate(0.5, Window::count((1 << 20) + 1))),
        InvalidBreaker::CountWindow((1 << 20) + 1)
    );
}

#[test]
fn bad_time_windows_are_errors() {
    for (span, buckets) in [
        (Duration::ZERO, 10),
        (Duration::from_secs(1), 0),
        (Duration::from_secs(1), 1025),
        (Duration::from_micros(5), 10),
    ] {
        assert_eq!(
            err(Breaker::builder().failure_rate(0.5, Window::Time { span, buckets })),
            InvalidBreaker::TimeWindow { span, buckets }
        );
    }
    assert!(Breaker::builder()
        .failure_rate(0.5, Window::time(Duration::from_secs(60)))
        .build()
        .is_ok());
}

#[test]
fn minimum_calls_must_fit_the_window() {
    assert_eq!(
        err(Breaker::builder()
            .failure_rate(0.5, Window::count(10))
            .minimum_calls(11)),
        InvalidBreaker::MinimumCalls {
            minimum_calls: 11,
            window: Some(10)
        }
    );
    assert_eq!(
        err(Breaker::builder()
            .failure_rate(0.5, Window::time(Duration::from_secs(1)))
            .minimum_calls(0)),
        InvalidBreaker::MinimumCalls {
            minimum_calls: 0,
            window: None
        }
    );
}

#[test]
fn zero_durations_and_zero_probes_are_errors() {
    assert_eq!(
        err(Breaker::builder().slow_call(Duration::ZERO)),
        InvalidBreaker::ZeroSlowCall
    );
    assert_eq!(
        err(Breaker::builder().cool_down(Duration::ZERO)),
        InvalidBreaker::ZeroCoolDown
    );
    assert_eq!(
        err(Breaker::builder().half_open_probes(0)),
        InvalidBreaker::ZeroProbes
    );
}

#[test]
fn errors_display_short_lowercase_messages() {
    assert_eq!(
        InvalidBreaker::ZeroProbes.to_string(),
        "half-open probes must be at least 1"
    );
    assert_eq!(
        InvalidBreaker::CountWindow(0).to_string(),
        "count window must hold 1 to 2^20 calls, got 0"
    );
}
