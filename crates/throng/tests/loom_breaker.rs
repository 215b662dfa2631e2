//! Loom models of the breaker's admission core: half-open admits at most the probe limit
//! at once and a dropped probe always gives its slot back; a probe success racing a new
//! caller never lets in a second probe; racing failures trip the breaker exactly once.
#![cfg(loom)]

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use throng::breaker::{Breaker, State};
use throng::clock::ManualClock;

fn half_open(probes: u32) -> Breaker<ManualClock> {
    let clock = ManualClock::new();
    let b = Breaker::builder()
        .consecutive_failures(1)
        .cool_down(Duration::from_secs(1))
        .half_open_probes(probes)
        .clock(clock.clone())
        .build()
        .unwrap();
    b.try_acquire().unwrap().failure();
    clock.advance(Duration::from_secs(1));
    assert_eq!(b.state(), State::HalfOpen);
    b
}

#[test]
fn dropped_probes_never_exceed_the_limit_and_always_free_their_slot() {
    loom::model(|| {
        let b = half_open(1);
        let inside = Arc::new(AtomicUsize::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (b, inside, admitted) = (b.clone(), inside.clone(), admitted.clone());
                thread::spawn(move || {
                    if let Ok(p) = b.try_acquire() {
                        assert!(p.is_probe());
                        assert_eq!(inside.fetch_add(1, SeqCst), 0, "two probes at once");
                        admitted.fetch_add(1, SeqCst);
                        inside.fetch_sub(1, SeqCst);
                        drop(p); // cancelled: no verdict
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(
            admitted.load(SeqCst) >= 1,
            "the first caller always gets the slot"
        );
        let m = b.metrics();
        assert_eq!(m.state, State::HalfOpen);
        assert_eq!(m.probes_in_flight, 0, "no slot leaked");
        assert_eq!(m.ignored as usize, admitted.load(SeqCst));
        assert!(b.try_acquire().is_ok(), "the slot is free again");
    });
}

#[test]
fn a_probe_success_racing_a_caller_never_admits_a_second_probe() {
    loom::model(|| {
        let b = half_open(1);
        let probe = b.try_acquire().unwrap();
        let other = {
            let b = b.clone();
            thread::spawn(move || b.try_acquire().map(|p| p.state()).map_err(|r| r.state()))
        };
        probe.success();
        let seen = other.join().unwrap();
        assert!(
            seen == Ok(State::Closed) || seen == Err(State::HalfOpen),
            "got {seen:?}"
        );
        assert_eq!(b.state(), State::Closed);
    });
}

#[test]
fn racing_failures_trip_exactly_once() {
    loom::model(|| {
        let b = Breaker::builder()
            .consecutive_failures(2)
            .clock(ManualClock::new())
            .build()
            .unwrap();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || {
                    if let Ok(p) = b.try_acquire() {
                        p.failure();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let m = b.metrics();
        assert_eq!(m.state, State::Open);
        assert_eq!(m.trips, 1);
        assert_eq!(m.failures, 2);
    });
}
