//! `CoarseClock`: cached reads, manual ticks, owned refresher thread.

use std::num::NonZeroUsize;
use std::time::Duration;

use throng::clock::{Clock, ManualClock};
use throng::ratelimit::{CoarseClock, InvalidResolution, KeyedRateLimiter, Quota, RateLimiter};

#[test]
fn a_manual_coarse_clock_moves_only_on_tick() {
    let source = ManualClock::new();
    let coarse = CoarseClock::manual(source.clone());
    source.advance(Duration::from_millis(5));
    assert_eq!(coarse.now_nanos(), 0, "stale until ticked");
    coarse.tick();
    assert_eq!(coarse.elapsed(), Duration::from_millis(5));
    assert!(!coarse.is_running());
}

#[test]
fn clones_share_the_cached_time() {
    let source = ManualClock::new();
    let a = CoarseClock::manual(source.clone());
    let b = a.clone();
    source.advance(Duration::from_secs(1));
    a.tick();
    assert_eq!(b.elapsed(), Duration::from_secs(1));
}

#[test]
fn a_zero_resolution_is_a_typed_error() {
    assert_eq!(
        CoarseClock::start(Duration::ZERO).unwrap_err(),
        InvalidResolution::Zero
    );
}

#[test]
fn stop_joins_the_refresher_and_is_idempotent() {
    let clock =
        CoarseClock::start_with_source(ManualClock::new(), Duration::from_millis(1)).unwrap();
    assert!(clock.is_running());
    clock.stop();
    assert!(!clock.is_running());
    clock.stop();
}

#[test]
fn the_refresher_publishes_the_source_time() {
    // No timing assertion: wait (bounded) until the refresher has run once.
    let source = ManualClock::new();
    let clock = CoarseClock::start_with_source(source.clone(), Duration::from_millis(1)).unwrap();
    source.advance(Duration::from_secs(7));
    let mut seen = 0;
    for _ in 0..10_000 {
        seen = clock.now_nanos();
        if seen > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(seen, 7_000_000_000);
    clock.stop();
    source.advance(Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(clock.now_nanos(), 7_000_000_000, "stopped: frozen");
}

#[test]
fn dropping_every_clone_ends_the_refresher() {
    let clock =
        CoarseClock::start_with_source(ManualClock::new(), Duration::from_millis(1)).unwrap();
    let other = clock.clone();
    drop(clock);
    assert!(other.is_running());
    drop(other); // joins the thread; the test would hang if it did not end
}

#[test]
fn limiters_run_on_a_coarse_clock() {
    let source = ManualClock::new();
    let clock = CoarseClock::manual(source.clone());
    let q = Quota::per_second(10).burst(1).build().unwrap();
    let l = RateLimiter::with_clock(q, clock.clone());
    let k =
        KeyedRateLimiter::<String, _>::with_clock(q, NonZeroUsize::new(8).unwrap(), clock.clone());
    l.check().unwrap();
    k.check("a").unwrap();
    source.advance(Duration::from_millis(100));
    assert!(l.check().is_err(), "the coarse clock has not ticked");
    assert!(k.check("a").is_err());
    clock.tick();
    assert!(l.check().is_ok());
    assert!(k.check("a").is_ok());
}
