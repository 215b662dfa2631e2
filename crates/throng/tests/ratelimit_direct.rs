//! The direct limiter on a manual clock: burst, refusal times, `check_n`, concurrency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::clock::ManualClock;
use throng::ratelimit::{CheckNError, InsufficientCapacity, Quota, RateLimiter};

fn limiter(per_sec: u32, burst: u32) -> (RateLimiter<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let q = Quota::per_second(per_sec).burst(burst).build().unwrap();
    (RateLimiter::with_clock(q, clock.clone()), clock)
}

#[test]
fn a_fresh_limiter_allows_exactly_the_burst_then_refuses() {
    let (l, _clock) = limiter(10, 5);
    for i in 0..5 {
        assert!(l.check().is_ok(), "cell {i} of the burst");
    }
    let no = l.check().unwrap_err();
    assert_eq!(no.wait_time(), Duration::from_millis(100));
    assert_eq!(no.earliest(), Duration::from_millis(100));
    assert_eq!(no.decided_at(), Duration::ZERO);
}

#[test]
fn a_refusal_consumes_nothing() {
    let (l, clock) = limiter(10, 1);
    l.check().unwrap();
    for _ in 0..100 {
        assert!(l.check().is_err());
    }
    clock.advance(Duration::from_millis(100));
    assert!(l.check().is_ok(), "the refusals did not push the time back");
}

#[test]
fn retrying_at_the_earliest_time_passes_and_a_nanosecond_before_does_not() {
    let (l, clock) = limiter(10, 2);
    l.check().unwrap();
    l.check().unwrap();
    let no = l.check().unwrap_err();
    clock.set(no.earliest() - Duration::from_nanos(1));
    assert!(l.check().is_err());
    clock.set(no.earliest());
    assert!(l.check().is_ok());
}

#[test]
fn sustained_rate_is_one_cell_per_interval() {
    let (l, clock) = limiter(20, 1);
    let mut allowed = 0;
    // 1 s in 1 ms steps, trying 3 times each step.
    for _ in 0..1000 {
        for _ in 0..3 {
            if l.check().is_ok() {
                allowed += 1;
            }
        }
        clock.advance(Duration::from_millis(1));
    }
    assert_eq!(allowed, 20);
}

#[test]
fn idle_time_refills_the_burst_but_never_beyond_it() {
    let (l, clock) = limiter(10, 3);
    for _ in 0..3 {
        l.check().unwrap();
    }
    assert_eq!(l.remaining(), 0);
    clock.advance(Duration::from_millis(200));
    assert_eq!(l.remaining(), 2);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(l.remaining(), 3);
    for _ in 0..3 {
        l.check().unwrap();
    }
    assert!(l.check().is_err());
}

#[test]
fn check_n_above_the_burst_can_never_pass() {
    let (l, clock) = limiter(10, 4);
    assert_eq!(
        l.check_n(5),
        Err(CheckNError::InsufficientCapacity(InsufficientCapacity {
            n: 5,
            burst: 4
        }))
    );
    clock.advance(Duration::from_secs(100));
    assert!(matches!(
        l.check_n(5),
        Err(CheckNError::InsufficientCapacity(_))
    ));
    assert_eq!(l.remaining(), 4, "nothing consumed");
}

#[test]
fn check_n_is_all_or_nothing_and_says_when() {
    let (l, clock) = limiter(10, 4);
    l.check_n(3).unwrap();
    match l.check_n(2) {
        Err(CheckNError::NotUntil(no)) => assert_eq!(no.wait_time(), Duration::from_millis(100)),
        other => panic!("expected NotUntil, got {other:?}"),
    }
    assert_eq!(l.remaining(), 1, "the refused batch took nothing");
    clock.advance(Duration::from_millis(100));
    l.check_n(2).unwrap();
    assert_eq!(l.remaining(), 0);
}

#[test]
fn check_n_of_zero_always_passes() {
    let (l, _clock) = limiter(1, 1);
    l.check().unwrap();
    assert_eq!(l.check_n(0), Ok(()));
}

#[test]
fn not_until_displays_the_wait() {
    let (l, _clock) = limiter(10, 1);
    l.check().unwrap();
    assert_eq!(
        l.check().unwrap_err().to_string(),
        "rate limited, retry in 100ms"
    );
}

#[test]
fn threads_racing_at_one_instant_get_exactly_the_burst() {
    let (l, clock) = limiter(1000, 500);
    let l = Arc::new(l);
    let allowed = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (l, allowed) = (&l, &allowed);
            s.spawn(move || {
                for _ in 0..1000 {
                    if l.check().is_ok() {
                        allowed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(allowed.load(Ordering::Relaxed), 500);
    clock.advance(Duration::from_millis(10));
    assert_eq!(l.remaining(), 10);
}

#[test]
fn limiter_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RateLimiter>();
    assert_send_sync::<RateLimiter<ManualClock>>();
    assert_send_sync::<throng::ratelimit::KeyedRateLimiter<String>>();
}
