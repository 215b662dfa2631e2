//! The failure-rate policy of `throng::breaker::Breaker`: count and time windows on a
//! `ManualClock`, the minimum number of calls, consecutive vs rate trips, slow calls.

use std::time::Duration;

use throng::breaker::{Breaker, BreakerBuilder, Reason, State, StateChange, Window};
use throng::clock::ManualClock;

fn record(b: &Breaker<ManualClock>, pattern: &str) {
    for c in pattern.chars() {
        let p = b.try_acquire().expect("admitted");
        match c {
            'S' => p.success(),
            'F' => p.failure(),
            _ => p.ignore(),
        }
    }
}

fn rate_only(clock: &ManualClock, window: Window) -> BreakerBuilder<ManualClock> {
    Breaker::builder()
        .no_consecutive_failures()
        .failure_rate(0.5, window)
        .cool_down(Duration::from_secs(5))
        .clock(clock.clone())
}

fn last_reason(events: &std::sync::Mutex<Vec<StateChange>>) -> Option<Reason> {
    events.lock().unwrap().last().map(|e| e.reason)
}

fn recorder() -> (
    std::sync::Arc<std::sync::Mutex<Vec<StateChange>>>,
    impl Fn(&StateChange) + Send + Sync + 'static,
) {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |e: &StateChange| sink.lock().unwrap().push(*e))
}

#[test]
fn count_window_trips_when_the_rate_reaches_the_threshold() {
    let clock = ManualClock::new();
    let (events, listen) = recorder();
    let b = rate_only(&clock, Window::count(10))
        .minimum_calls(10)
        .on_state_change(listen)
        .build()
        .unwrap();
    record(&b, "SFSFSFSFS"); // 9 calls: below the minimum
    assert_eq!(b.state(), State::Closed);
    record(&b, "S"); // 10 calls, 4 failures: 40 %
    assert_eq!(b.state(), State::Closed);
    record(&b, "F"); // window drops the first S: 5 of 10
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        last_reason(&events),
        Some(Reason::FailureRate {
            failures: 5,
            calls: 10
        })
    );
}

#[test]
fn count_window_forgets_calls_that_slid_out() {
    let clock = ManualClock::new();
    let b = rate_only(&clock, Window::count(4)).build().unwrap();
    assert_eq!(b.metrics().window_calls, 0);
    record(&b, "FSSS"); // 1 of 4
    record(&b, "SSS"); // the F slid out
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (4, 0));
    record(&b, "SF"); // 1 of 4: below 50 %
    assert_eq!(b.state(), State::Closed);
    record(&b, "F"); // 2 of 4
    assert_eq!(b.state(), State::Open);
}

#[test]
fn the_minimum_number_of_calls_holds_back_an_early_trip() {
    let clock = ManualClock::new();
    let b = rate_only(&clock, Window::count(100))
        .minimum_calls(20)
        .build()
        .unwrap();
    record(&b, &"F".repeat(19));
    assert_eq!(
        b.state(),
        State::Closed,
        "19 failures of 19 calls, below the minimum"
    );
    record(&b, "F");
    assert_eq!(b.state(), State::Open);
}

#[test]
fn the_default_minimum_is_capped_by_a_small_count_window() {
    let clock = ManualClock::new();
    let b = rate_only(&clock, Window::count(4)).build().unwrap();
    record(&b, "SSFF");
    assert_eq!(b.state(), State::Open, "minimum 4 = window size, 50 %");
}

#[test]
fn ignored_calls_are_not_in_the_window() {
    let clock = ManualClock::new();
    let b = rate_only(&clock, Window::count(4)).build().unwrap();
    record(&b, "FIIIIIS");
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures, m.ignored), (2, 1, 5));
}

#[test]
fn time_window_counts_only_the_last_span() {
    let clock = ManualClock::new();
    let b = rate_only(
        &clock,
        Window::Time {
            span: Duration::from_secs(10),
            buckets: 10,
        },
    )
    .minimum_calls(4)
    .build()
    .unwrap();
    record(&b, "FFF"); // t = 0
    clock.advance(Duration::from_secs(5));
    record(&b, "S"); // t = 5: 3 of 4 failed, but judged only on a failure
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().window_calls, 4);
    clock.advance(Duration::from_secs(5)); // t = 10: the t=0 bucket expired
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (1, 0));
    record(&b, "SSF"); // 1 failure of 4
    assert_eq!(b.state(), State::Closed);
    record(&b, "F"); // 2 of 5
    assert_eq!(b.state(), State::Closed);
    record(&b, "F"); // 3 of 6 = 50 %
    assert_eq!(b.state(), State::Open);
}

#[test]
fn time_window_buckets_expire_one_at_a_time() {
    let clock = ManualClock::new();
    let b = rate_only(
        &clock,
        Window::Time {
            span: Duration::from_secs(4),
            buckets: 4,
        },
    )
    .minimum_calls(100)
    .build()
    .unwrap();
    for _ in 0..4 {
        record(&b, "S");
        clock.advance(Duration::from_secs(1));
    }
    // t = 4: buckets for t = 1, 2, 3 remain (t = 0 expired); bucket 4 is empty.
    assert_eq!(b.metrics().window_calls, 3);
    clock.advance(Duration::from_secs(2));
    assert_eq!(b.metrics().window_calls, 1);
    clock.advance(Duration::from_secs(100));
    assert_eq!(
        b.metrics().window_calls,
        0,
        "a long silence leaves nothing stale"
    );
    record(&b, "S");
    assert_eq!(b.metrics().window_calls, 1);
}

#[test]
fn window_is_cleared_when_the_breaker_closes_again() {
    let clock = ManualClock::new();
    let b = rate_only(&clock, Window::count(4)).build().unwrap();
    record(&b, "SSFF");
    assert_eq!(b.state(), State::Open);
    clock.advance(Duration::from_secs(5));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().window_calls, 0);
    record(&b, "SSF");
    assert_eq!(b.state(), State::Closed, "the old failures are gone");
}

#[test]
fn consecutive_failures_trip_before_the_rate_minimum_is_reached() {
    let clock = ManualClock::new();
    let (events, listen) = recorder();
    let b = Breaker::builder()
        .consecutive_failures(3)
        .failure_rate(0.5, Window::count(100))
        .minimum_calls(50)
        .clock(clock.clone())
        .on_state_change(listen)
        .build()
        .unwrap();
    record(&b, "FFF");
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        last_reason(&events),
        Some(Reason::ConsecutiveFailures { count: 3 })
    );
}

#[test]
fn the_rate_trips_on_interleaved_failures_that_never_make_a_run() {
    let clock = ManualClock::new();
    let (events, listen) = recorder();
    let b = Breaker::builder()
        .consecutive_failures(3)
        .failure_rate(0.5, Window::count(10))
        .clock(clock.clone())
        .on_state_change(listen)
        .build()
        .unwrap();
    record(&b, "FSFSFSFSF");
    assert_eq!(
        b.state(),
        State::Closed,
        "9 calls, below the default minimum of 10"
    );
    record(&b, "SF");
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        last_reason(&events),
        Some(Reason::FailureRate {
            failures: 5,
            calls: 10
        })
    );
}

#[test]
fn slow_successes_count_as_failures() {
    let clock = ManualClock::new();
    let b = Breaker::builder()
        .consecutive_failures(2)
        .slow_call(Duration::from_millis(100))
        .clock(clock.clone())
        .build()
        .unwrap();
    let p = b.try_acquire().unwrap();
    clock.advance(Duration::from_millis(99));
    p.success();
    assert_eq!(b.metrics().successes, 1, "99 ms is not slow");
    for _ in 0..2 {
        let p = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(100));
        p.success();
    }
    let m = b.metrics();
    assert_eq!((m.failures, m.slow), (2, 2));
    assert_eq!(m.state, State::Open);
}

#[test]
fn a_slow_probe_reopens() {
    let clock = ManualClock::new();
    let b = Breaker::builder()
        .consecutive_failures(1)
        .slow_call(Duration::from_millis(100))
        .cool_down(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    b.try_acquire().unwrap().failure();
    clock.advance(Duration::from_secs(1));
    let probe = b.try_acquire().unwrap();
    clock.advance(Duration::from_millis(150));
    probe.success();
    assert_eq!(b.state(), State::Open);
}

#[test]
fn slow_calls_feed_the_rate_window() {
    let clock = ManualClock::new();
    let b = rate_only(&clock, Window::count(4))
        .slow_call(Duration::from_millis(10))
        .build()
        .unwrap();
    record(&b, "SS");
    for _ in 0..2 {
        let p = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(10));
        p.success();
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn stress_concurrent_verdicts_lose_no_count_in_either_window() {
    const THREADS: u64 = 4;
    const EACH: u64 = 5_000;
    let clock = ManualClock::new();
    let windows = [
        Window::count((THREADS * EACH) as u32),
        Window::Time {
            span: Duration::from_secs(10),
            buckets: 10,
        },
    ];
    for window in windows {
        let b = Breaker::builder()
            .no_consecutive_failures()
            .failure_rate(1.0, window)
            .minimum_calls(1)
            .clock(clock.clone())
            .build()
            .unwrap();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for i in 0..EACH {
                        let p = b.try_acquire().expect("never trips below 100 %");
                        if i % 4 == 3 {
                            p.failure();
                        } else {
                            p.success();
                        }
                    }
                });
            }
        });
        let m = b.metrics();
        assert_eq!(m.state, State::Closed, "{window:?}");
        assert_eq!(m.window_calls, THREADS * EACH, "{window:?}");
        assert_eq!(m.window_failures, THREADS * EACH / 4, "{window:?}");
        assert_eq!(m.successes + m.failures, THREADS * EACH);
    }
}
