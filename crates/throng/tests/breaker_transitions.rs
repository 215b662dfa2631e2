//! Every transition of `throng::breaker::Breaker`, step by step on a `ManualClock`:
//! closed → open on a run of failures, open rejecting with the time left, open →
//! half-open when the cool-down ends, half-open → closed on enough probe successes,
//! half-open → open on a probe failure, manual trip and reset, a growing cool-down.

use std::time::Duration;

use throng::breaker::{Breaker, BreakerBuilder, Outcome, State};
use throng::clock::ManualClock;
use throng::retry::{Backoff, Jitter};

const COOL: Duration = Duration::from_secs(10);

fn builder(clock: &ManualClock) -> BreakerBuilder<ManualClock> {
    Breaker::builder()
        .consecutive_failures(3)
        .cool_down(COOL)
        .clock(clock.clone())
}

fn fail(b: &Breaker<ManualClock>, n: usize) {
    for _ in 0..n {
        b.try_acquire().expect("admitted").failure();
    }
}

#[test]
fn closed_admits_every_call_and_successes_keep_it_closed() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    for _ in 0..100 {
        let p = b.try_acquire().expect("closed admits");
        assert_eq!(p.state(), State::Closed);
        assert!(!p.is_probe());
        p.success();
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().successes, 100);
}

#[test]
fn closed_trips_open_on_the_nth_consecutive_failure() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    fail(&b, 2);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().consecutive_failures, 2);
    fail(&b, 1);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().trips, 1);
}

#[test]
fn a_success_breaks_the_run_of_failures() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    fail(&b, 2);
    b.try_acquire().unwrap().success();
    assert_eq!(b.metrics().consecutive_failures, 0);
    fail(&b, 2);
    assert_eq!(
        b.state(),
        State::Closed,
        "2 + 2 failures with a success between"
    );
    fail(&b, 1);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn open_rejects_fast_with_the_time_left_in_the_cool_down() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    fail(&b, 3);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.state(), State::Open);
    assert_eq!(r.retry_after(), Some(COOL));
    clock.advance(Duration::from_secs(4));
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.retry_after(), Some(Duration::from_secs(6)));
    assert_eq!(b.metrics().rejected, 2);
    assert_eq!(b.metrics().open_for, Some(Duration::from_secs(6)));
    assert_eq!(r.to_string(), "circuit open, retry after 6s");
}

#[test]
fn open_turns_half_open_exactly_when_the_cool_down_ends() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    fail(&b, 3);
    clock.advance(COOL - Duration::from_nanos(1));
    assert_eq!(b.state(), State::Open);
    assert!(b.try_acquire().is_err());
    clock.advance(Duration::from_nanos(1));
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "state() notices the end of the cool-down"
    );
}

#[test]
fn the_first_call_after_the_cool_down_is_a_probe() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    fail(&b, 3);
    clock.advance(COOL);
    let p = b.try_acquire().expect("probe admitted");
    assert!(p.is_probe());
    assert_eq!(b.state(), State::HalfOpen);
    p.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn half_open_closes_after_the_configured_number_of_probe_successes() {
    let clock = ManualClock::new();
    let b = builder(&clock).half_open_probes(3).build().unwrap();
    fail(&b, 3);
    clock.advance(COOL);
    for i in 0..2 {
        b.try_acquire().expect("probe").success();
        assert_eq!(b.state(), State::HalfOpen, "after {} successes", i + 1);
    }
    b.try_acquire().expect("probe").success();
    assert_eq!(b.state(), State::Closed);
    // Closed again starts from a clean run.
    assert_eq!(b.metrics().consecutive_failures, 0);
    fail(&b, 2);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_single_probe_failure_reopens_for_a_full_cool_down() {
    let clock = ManualClock::new();
    let b = builder(&clock).half_open_probes(3).build().unwrap();
    fail(&b, 3);
    clock.advance(COOL);
    b.try_acquire().unwrap().success();
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.try_acquire().unwrap_err().retry_after(), Some(COOL));
    assert_eq!(b.metrics().trips, 2);
}

#[test]
fn trip_opens_from_closed_and_reset_closes_from_open() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    b.trip();
    assert_eq!(b.state(), State::Open);
    assert!(b.try_acquire().is_err());
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert!(b.try_acquire().is_ok());
    b.reset();
    assert_eq!(b.state(), State::Closed, "reset when closed does nothing");
}

#[test]
fn reset_from_half_open_makes_a_probe_in_flight_late() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    fail(&b, 3);
    clock.advance(COOL);
    let probe = b.try_acquire().unwrap();
    b.reset();
    probe.failure();
    assert_eq!(
        b.state(),
        State::Closed,
        "a late probe failure does not re-open"
    );
    assert_eq!(b.metrics().late, 1);
}

#[test]
fn a_verdict_from_before_a_trip_does_not_count_in_the_next_closed_period() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    let slow = b.try_acquire().unwrap();
    fail(&b, 3);
    clock.advance(COOL);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    slow.failure();
    assert_eq!(b.metrics().consecutive_failures, 0);
    assert_eq!(b.metrics().late, 1);
}

#[test]
fn a_growing_cool_down_follows_the_backoff_and_starts_over_after_closing() {
    let clock = ManualClock::new();
    let backoff = Backoff::builder()
        .initial_delay(Duration::from_secs(1))
        .multiplier(2.0)
        .max_delay(Duration::from_secs(4))
        .max_attempts(3)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let b = builder(&clock).cool_down_backoff(backoff).build().unwrap();
    let open_for = |b: &Breaker<ManualClock>| b.try_acquire().unwrap_err().retry_after();
    fail(&b, 3);
    assert_eq!(open_for(&b), Some(Duration::from_secs(1)));
    for expected in [2, 4, 4, 4] {
        clock.advance(open_for(&b).unwrap());
        b.try_acquire().expect("probe").failure();
        assert_eq!(open_for(&b), Some(Duration::from_secs(expected)));
    }
    clock.advance(Duration::from_secs(4));
    b.try_acquire().expect("probe").success();
    assert_eq!(b.state(), State::Closed);
    fail(&b, 3);
    assert_eq!(open_for(&b), Some(Duration::from_secs(1)), "starts over");
}

#[test]
fn record_takes_an_outcome() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    for o in [
        Outcome::Failure,
        Outcome::Ignore,
        Outcome::Failure,
        Outcome::Failure,
    ] {
        b.try_acquire().unwrap().record(o);
    }
    assert_eq!(
        b.state(),
        State::Open,
        "an ignored call does not break the run"
    );
    let m = b.metrics();
    assert_eq!((m.failures, m.ignored), (3, 1));
}

#[test]
fn clones_share_one_breaker() {
    let clock = ManualClock::new();
    let b = builder(&clock).build().unwrap();
    let c = b.clone();
    fail(&c, 3);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().trips, 1);
}
