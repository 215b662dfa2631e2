//! State-change events and metrics of `throng::breaker::Breaker`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use throng::breaker::{Breaker, BreakerMetrics, Permit, Reason, State, StateChange};
use throng::clock::ManualClock;

fn collecting(clock: &ManualClock) -> (Breaker<ManualClock>, Arc<Mutex<Vec<StateChange>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let b = Breaker::builder()
        .consecutive_failures(2)
        .cool_down(Duration::from_secs(3))
        .clock(clock.clone())
        .on_state_change(move |e| sink.lock().unwrap().push(*e))
        .build()
        .unwrap();
    (b, events)
}

#[test]
fn every_transition_emits_one_event_in_order() {
    let clock = ManualClock::new();
    let (b, events) = collecting(&clock);
    for _ in 0..2 {
        b.try_acquire().unwrap().failure();
    }
    clock.advance(Duration::from_secs(3));
    b.try_acquire().unwrap().failure(); // probe fails
    clock.advance(Duration::from_secs(3));
    assert_eq!(b.state(), State::HalfOpen);
    b.try_acquire().unwrap().success(); // probe succeeds
    b.trip();
    b.reset();

    let got: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.seq, e.from, e.to, e.reason, e.at.as_secs(), e.open_for))
        .collect();
    let s3 = Some(Duration::from_secs(3));
    let s30 = None::<Duration>;
    assert_eq!(
        got,
        vec![
            (
                1,
                State::Closed,
                State::Open,
                Reason::ConsecutiveFailures { count: 2 },
                0,
                s3
            ),
            (
                2,
                State::Open,
                State::HalfOpen,
                Reason::CoolDownElapsed,
                3,
                s30
            ),
            (3, State::HalfOpen, State::Open, Reason::ProbeFailed, 3, s3),
            (
                4,
                State::Open,
                State::HalfOpen,
                Reason::CoolDownElapsed,
                6,
                s30
            ),
            (
                5,
                State::HalfOpen,
                State::Closed,
                Reason::ProbesSucceeded { probes: 1 },
                6,
                s30
            ),
            (6, State::Closed, State::Open, Reason::Tripped, 6, s3),
            (7, State::Open, State::Closed, Reason::Reset, 6, s30),
        ]
    );
}

#[test]
fn events_display_for_logs() {
    let clock = ManualClock::new();
    let (b, events) = collecting(&clock);
    b.trip();
    let line = events.lock().unwrap()[0].to_string();
    assert_eq!(line, "#1 closed -> open (Tripped) for 3s");
}

#[test]
fn a_listener_may_call_back_into_the_breaker() {
    let clock = ManualClock::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let slot: Arc<Mutex<Option<Breaker<ManualClock>>>> = Arc::new(Mutex::new(None));
    let (seen2, slot2) = (seen.clone(), slot.clone());
    let b = Breaker::builder()
        .consecutive_failures(1)
        .clock(clock.clone())
        .on_state_change(move |_| {
            let b = slot2.lock().unwrap().clone().unwrap();
            seen2.lock().unwrap().push(b.metrics().state);
        })
        .build()
        .unwrap();
    *slot.lock().unwrap() = Some(b.clone());
    b.try_acquire().unwrap().failure();
    assert_eq!(*seen.lock().unwrap(), vec![State::Open], "no deadlock");
    slot.lock().unwrap().take();
}

#[test]
fn metrics_account_for_every_call() {
    let clock = ManualClock::new();
    let (b, _events) = collecting(&clock);
    let m0 = b.metrics();
    assert_eq!(m0.finished(), 0);
    b.try_acquire().unwrap().success();
    b.try_acquire().unwrap().ignore();
    let held: Permit<'_, _> = b.try_acquire().unwrap();
    b.try_acquire().unwrap().failure();
    b.try_acquire().unwrap().failure(); // trips
    held.success(); // late: the breaker opened meanwhile
    assert!(b.try_acquire().is_err());
    assert!(b.try_acquire().is_err());
    let m: BreakerMetrics = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!(
        (
            m.successes,
            m.failures,
            m.ignored,
            m.late,
            m.rejected,
            m.trips
        ),
        (1, 2, 1, 1, 2, 1)
    );
    assert_eq!(m.finished(), 5);
    assert_eq!(m.open_for, Some(Duration::from_secs(3)));
    assert_eq!(
        m.consecutive_failures, 0,
        "a run is counted only while closed"
    );
}

#[test]
fn breaker_and_permit_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Breaker>();
    send_sync::<Breaker<ManualClock>>();
    send_sync::<Permit<'static, ManualClock>>();
    send_sync::<StateChange>();
    send_sync::<throng::breaker::Rejected>();
    send_sync::<throng::breaker::CallError<std::io::Error>>();
}
