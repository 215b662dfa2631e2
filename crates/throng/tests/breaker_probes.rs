//! Half-open probe admission and cancellation in `throng::breaker`: the probe limit,
//! excess probes rejected, and cancelled calls (a dropped `call` future, a permit dropped
//! without a verdict) excluded from the counts and never keeping a probe slot.

use std::future::pending;
use std::time::Duration;

use throng::breaker::{Breaker, CallError, Outcome, State};
use throng::clock::{ManualClock, TokioClock};

const COOL: Duration = Duration::from_secs(1);

fn half_open(clock: &ManualClock, probes: u32) -> Breaker<ManualClock> {
    let b = Breaker::builder()
        .consecutive_failures(1)
        .cool_down(COOL)
        .half_open_probes(probes)
        .clock(clock.clone())
        .build()
        .unwrap();
    b.try_acquire().unwrap().failure();
    clock.advance(COOL);
    assert_eq!(b.state(), State::HalfOpen);
    b
}

#[test]
fn half_open_admits_exactly_the_probe_limit_and_rejects_the_rest() {
    let clock = ManualClock::new();
    let b = half_open(&clock, 3);
    let probes: Vec<_> = (0..3).map(|_| b.try_acquire().expect("probe")).collect();
    assert!(probes.iter().all(|p| p.is_probe()));
    for _ in 0..5 {
        let r = b.try_acquire().unwrap_err();
        assert_eq!(r.state(), State::HalfOpen);
        assert_eq!(r.retry_after(), None);
    }
    assert_eq!(b.metrics().probes_in_flight, 3);
    assert_eq!(b.metrics().rejected, 5);
    for p in probes {
        p.success();
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_successful_probe_keeps_its_slot_used() {
    let clock = ManualClock::new();
    let b = half_open(&clock, 2);
    b.try_acquire().unwrap().success();
    let second = b.try_acquire().expect("one slot left");
    assert!(b.try_acquire().is_err(), "success + in flight = the limit");
    second.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_dropped_probe_permit_frees_its_slot_and_counts_as_ignored() {
    let clock = ManualClock::new();
    let b = half_open(&clock, 1);
    let probe = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(probe);
    assert_eq!(b.state(), State::HalfOpen, "no verdict, no transition");
    assert_eq!(b.metrics().probes_in_flight, 0);
    assert_eq!(b.metrics().ignored, 1);
    let again = b.try_acquire().expect("the slot is free again");
    again.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn an_ignored_probe_frees_its_slot() {
    let clock = ManualClock::new();
    let b = half_open(&clock, 1);
    b.try_acquire().unwrap().ignore();
    b.try_acquire().unwrap().record(Outcome::Ignore);
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.metrics().probes_in_flight, 0);
    assert!(b.try_acquire().is_ok());
}

#[test]
fn dropped_permits_in_the_closed_state_never_trip() {
    let clock = ManualClock::new();
    let b = Breaker::builder()
        .consecutive_failures(1)
        .clock(clock)
        .build()
        .unwrap();
    for _ in 0..100 {
        drop(b.try_acquire().unwrap());
    }
    let m = b.metrics();
    assert_eq!(m.state, State::Closed);
    assert_eq!((m.ignored, m.failures), (100, 0));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_excluded_and_frees_the_probe_slot() {
    let b = Breaker::builder()
        .consecutive_failures(1)
        .cool_down(COOL)
        .clock(TokioClock::new())
        .build()
        .unwrap();
    let r: Result<(), _> = b.call(|| async { Err::<(), _>("boom") }).await;
    assert_eq!(r, Err(CallError::Inner("boom")));
    assert_eq!(b.state(), State::Open);
    tokio::time::sleep(COOL).await;

    // The probe hangs; its caller gives up (a timeout drops the call future).
    let hung =
        tokio::time::timeout(Duration::from_millis(50), b.call(pending::<Result<(), ()>>)).await;
    assert!(hung.is_err(), "timed out");
    let m = b.metrics();
    assert_eq!(m.state, State::HalfOpen, "a cancellation is not a failure");
    assert_eq!((m.ignored, m.probes_in_flight), (1, 0));

    let ok = b.call(|| async { Ok::<_, ()>(7) }).await;
    assert_eq!(ok, Ok(7));
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn cancelled_calls_in_the_closed_state_never_trip() {
    let b = Breaker::builder()
        .consecutive_failures(1)
        .clock(TokioClock::new())
        .build()
        .unwrap();
    for _ in 0..10 {
        let r =
            tokio::time::timeout(Duration::from_millis(1), b.call(pending::<Result<(), ()>>)).await;
        assert!(r.is_err());
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().ignored, 10);
}

#[tokio::test(start_paused = true)]
async fn the_classifier_decides_which_errors_count() {
    #[derive(Debug, PartialEq)]
    enum E {
        NotFound,
        Cancelled,
        Unavailable,
    }
    let b = Breaker::builder()
        .consecutive_failures(2)
        .clock(TokioClock::new())
        .build()
        .unwrap();
    let classify = |r: &Result<(), E>| match r {
        Ok(()) | Err(E::NotFound) => Outcome::Success,
        Err(E::Cancelled) => Outcome::Ignore,
        Err(E::Unavailable) => Outcome::Failure,
    };
    for e in [E::Unavailable, E::NotFound, E::Unavailable, E::Cancelled] {
        let r = b.call_classified(|| async { Err(e) }, classify).await;
        assert!(matches!(r, Err(CallError::Inner(_))));
    }
    assert_eq!(b.state(), State::Closed, "the not-found broke the run");
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.ignored), (1, 2, 1));
    b.call_classified(|| async { Err(E::Unavailable) }, classify)
        .await
        .unwrap_err();
    assert_eq!(b.state(), State::Open);
    let rejected = b
        .call_classified(|| async { Ok(()) }, classify)
        .await
        .unwrap_err();
    assert!(rejected.is_rejected());
    assert_eq!(rejected.into_inner(), None);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_call_never_runs_the_closure() {
    let b = Breaker::builder().clock(TokioClock::new()).build().unwrap();
    b.trip();
    let mut ran = false;
    let r = b
        .call(|| {
            ran = true;
            async { Ok::<_, ()>(()) }
        })
        .await;
    assert!(!ran);
    match r {
        Err(CallError::Rejected(rej)) => {
            assert_eq!(rej.retry_after(), Some(Duration::from_secs(30)))
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_panicking_call_counts_as_a_failure() {
    let clock = ManualClock::new();
    let b = Breaker::builder()
        .consecutive_failures(1)
        .clock(clock)
        .build()
        .unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _permit = b.try_acquire().unwrap();
        panic!("downstream client bug");
    }));
    assert!(r.is_err());
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().failures, 1);
}

#[test]
fn racing_probes_never_exceed_the_limit_and_never_leak_a_slot() {
    let clock = ManualClock::new();
    let b = half_open(&clock, 2);
    let admitted = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1000 {
                    if let Ok(p) = b.try_acquire() {
                        let n = admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert!(n < 2, "more than the probe limit in flight");
                        admitted.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        drop(p);
                    }
                }
            });
        }
    });
    let m = b.metrics();
    assert_eq!(m.state, State::HalfOpen);
    assert_eq!(m.probes_in_flight, 0);
    assert_eq!(m.ignored + m.rejected, 4000);
}
