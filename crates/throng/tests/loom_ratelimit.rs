//! Loom models of the rate limiter's CAS core and the keyed limiter's key cap.
//!
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng --target-dir target/loom --test loom_ratelimit`
#![cfg(loom)]

use std::num::NonZeroUsize;
use std::time::Duration;

use loom::sync::Arc;
use throng::clock::ManualClock;
use throng::ratelimit::{KeyedCheckError, KeyedRateLimiter, Quota, RateLimiter};

fn quota(burst: u32) -> Quota {
    Quota::per_second(10).burst(burst).build().unwrap()
}

#[test]
fn racing_checks_pass_exactly_the_burst() {
    loom::model(|| {
        let l = Arc::new(RateLimiter::with_clock(quota(2), ManualClock::new()));
        let l2 = Arc::clone(&l);
        let t = loom::thread::spawn(move || {
            u32::from(l2.check().is_ok()) + u32::from(l2.check().is_ok())
        });
        let mine = u32::from(l.check().is_ok()) + u32::from(l.check().is_ok());
        let theirs = t.join().unwrap();
        assert_eq!(mine + theirs, 2);
        assert_eq!(l.remaining(), 0);
    });
}

#[test]
fn racing_check_n_never_overspends() {
    loom::model(|| {
        let clock = ManualClock::new();
        let l = Arc::new(RateLimiter::with_clock(quota(3), clock.clone()));
        let l2 = Arc::clone(&l);
        let t = loom::thread::spawn(move || l2.check_n(2).is_ok());
        let mine = l.check_n(2).is_ok();
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "exactly one batch of 2 fits a burst of 3");
        assert_eq!(l.remaining(), 1);
        clock.advance(Duration::from_millis(100));
        assert_eq!(l.remaining(), 2);
    });
}

#[test]
fn racing_new_keys_respect_the_cap_and_one_key_its_burst() {
    loom::model(|| {
        let l = Arc::new(KeyedRateLimiter::<u32, _>::with_shards(
            quota(1),
            NonZeroUsize::new(1).unwrap(),
            ManualClock::new(),
            2,
        ));
        let l2 = Arc::clone(&l);
        let t = loom::thread::spawn(move || l2.check(&1));
        let mine = l.check(&2);
        let theirs = t.join().unwrap();
        let passed = u32::from(mine.is_ok()) + u32::from(theirs.is_ok());
        assert_eq!(passed, 1, "{mine:?} {theirs:?}");
        assert!(matches!(
            mine,
            Ok(()) | Err(KeyedCheckError::TooManyKeys { max_keys: 1 })
        ));
        assert_eq!(l.len(), 1);
        assert_eq!(l.refused_keys(), 1);
    });
}

#[test]
fn racing_first_checks_of_one_key_insert_it_once() {
    loom::model(|| {
        let l = Arc::new(KeyedRateLimiter::<u32, _>::with_shards(
            quota(1),
            NonZeroUsize::new(4).unwrap(),
            ManualClock::new(),
            1,
        ));
        let l2 = Arc::clone(&l);
        let t = loom::thread::spawn(move || l2.check(&7).is_ok());
        let mine = l.check(&7).is_ok();
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs);
        assert_eq!(l.len(), 1);
    });
}
