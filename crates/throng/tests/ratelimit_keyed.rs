//! The keyed limiter on a manual clock: per-key quotas, the key cap, idle pruning.

use std::num::NonZeroUsize;
use std::time::Duration;

use throng::clock::ManualClock;
use throng::ratelimit::{InsufficientCapacity, KeyedCheckError, KeyedRateLimiter, Quota};

fn keyed(
    per_sec: u32,
    burst: u32,
    max_keys: usize,
) -> (KeyedRateLimiter<String, ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let q = Quota::per_second(per_sec).burst(burst).build().unwrap();
    let l = KeyedRateLimiter::with_clock(q, NonZeroUsize::new(max_keys).unwrap(), clock.clone());
    (l, clock)
}

#[test]
fn each_key_has_its_own_quota() {
    let (l, _clock) = keyed(20, 40, 100);
    for _ in 0..40 {
        l.check("alice").unwrap();
    }
    match l.check("alice") {
        Err(KeyedCheckError::NotUntil(no)) => assert_eq!(no.wait_time(), Duration::from_millis(50)),
        other => panic!("expected NotUntil, got {other:?}"),
    }
    for _ in 0..40 {
        l.check("bob").unwrap();
    }
    assert_eq!(l.len(), 2);
}

#[test]
fn keys_are_looked_up_by_borrowed_form() {
    let (l, _clock) = keyed(1, 1, 10);
    let owned = String::from("carol");
    l.check(&owned).unwrap();
    assert!(l.check("carol").is_err(), "&str finds the String key");
    assert!(l.contains_key("carol"));
    assert_eq!(l.remaining("carol"), 0);
    assert_eq!(
        l.remaining("nobody"),
        1,
        "an unknown key has its full burst"
    );
}

#[test]
fn integer_and_ip_keys_work() {
    let clock = ManualClock::new();
    let q = Quota::per_second(1).build().unwrap();
    let by_ip = KeyedRateLimiter::<std::net::IpAddr, _>::with_clock(
        q,
        NonZeroUsize::new(10).unwrap(),
        clock.clone(),
    );
    let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    by_ip.check(&ip).unwrap();
    assert!(by_ip.check(&ip).is_err());
    let by_id = KeyedRateLimiter::<u64, _>::with_clock(q, NonZeroUsize::new(10).unwrap(), clock);
    by_id.check(&7).unwrap();
    assert!(by_id.check(&7).is_err());
    assert!(by_id.check(&8).is_ok());
}

#[test]
fn s8_1_a_new_key_at_the_cap_is_refused_while_every_key_is_active() {
    let (l, _clock) = keyed(1, 1, 3);
    for k in ["a", "b", "c"] {
        l.check(k).unwrap();
    }
    assert_eq!(
        l.check("d"),
        Err(KeyedCheckError::TooManyKeys { max_keys: 3 })
    );
    assert_eq!(l.refused_keys(), 1);
    assert_eq!(l.len(), 3);
    assert!(!l.contains_key("d"));
    // Known keys are unaffected by the cap.
    assert!(matches!(l.check("a"), Err(KeyedCheckError::NotUntil(_))));
}

#[test]
fn a_new_key_at_the_cap_takes_the_place_of_an_idle_one() {
    let (l, clock) = keyed(1, 1, 3);
    for k in ["a", "b", "c"] {
        l.check(k).unwrap();
    }
    clock.advance(Duration::from_secs(1)); // every key is idle now
    l.check("d").unwrap();
    assert!(l.len() <= 3);
    assert!(l.contains_key("d"));
    assert_eq!(l.refused_keys(), 0);
}

#[test]
fn the_cap_never_lets_an_active_key_be_evicted() {
    let (l, clock) = keyed(1, 2, 2);
    l.check("a").unwrap();
    l.check("a").unwrap(); // a is busy until t = 2 s
    l.check("b").unwrap(); // b until t = 1 s
    clock.advance(Duration::from_millis(1500));
    l.check("c").unwrap(); // takes b's place
    assert!(l.contains_key("a"));
    assert!(!l.contains_key("b"));
    assert_eq!(
        l.remaining("a"),
        1,
        "a kept its state (a fresh key would have 2)"
    );
}

#[test]
fn prune_idle_removes_exactly_the_keys_whose_burst_is_back() {
    let (l, clock) = keyed(10, 2, 100);
    l.check("one").unwrap(); // TAT 100 ms
    l.check_n("two", 2).unwrap(); // TAT 200 ms
    clock.advance(Duration::from_millis(100));
    assert_eq!(l.prune_idle(), 1);
    assert!(!l.contains_key("one"));
    assert!(l.contains_key("two"));
    clock.advance(Duration::from_millis(100));
    assert_eq!(l.prune_idle(), 1);
    assert!(l.is_empty());
}

#[test]
fn a_pruned_key_behaves_exactly_like_the_key_it_replaced() {
    // Two limiters fed the same checks; one is pruned after every step.
    let (a, clock_a) = keyed(10, 3, 100);
    let (b, clock_b) = keyed(10, 3, 100);
    let steps = [0u64, 0, 0, 0, 50, 120, 0, 0, 400, 0, 0, 0, 0, 30, 300, 0];
    for (i, ms) in steps.iter().enumerate() {
        clock_a.advance(Duration::from_millis(*ms));
        clock_b.advance(Duration::from_millis(*ms));
        b.prune_idle();
        assert_eq!(a.check("k"), b.check("k"), "step {i}");
    }
}

#[test]
fn s8_1_unique_keys_over_time_keep_memory_bounded_without_any_manual_prune() {
    let (l, clock) = keyed(100, 1, 1_000_000);
    // 200 000 distinct users, each posting once, 1 ms apart in groups of 100.
    for i in 0..200_000u32 {
        l.check(&format!("user-{i}")).unwrap();
        if i % 100 == 99 {
            clock.advance(Duration::from_millis(1));
        }
    }
    // Each key is idle 10 ms after its post: only the last ~1000 are active.
    assert!(
        l.len() < 20_000,
        "len {} should be near the active set",
        l.len()
    );
    assert_eq!(l.refused_keys(), 0);
}

#[test]
fn check_n_above_the_burst_is_a_typed_error_and_adds_no_key() {
    let (l, _clock) = keyed(10, 4, 10);
    assert_eq!(
        l.check_n("x", 5),
        Err(KeyedCheckError::InsufficientCapacity(
            InsufficientCapacity { n: 5, burst: 4 }
        ))
    );
    assert_eq!(l.check_n("x", 0), Ok(()));
    assert!(!l.contains_key("x"));
    l.check_n("x", 4).unwrap();
    assert!(matches!(
        l.check_n("x", 1),
        Err(KeyedCheckError::NotUntil(_))
    ));
}

#[test]
fn remove_forgets_a_key() {
    let (l, _clock) = keyed(1, 1, 10);
    l.check("a").unwrap();
    assert!(l.remove("a"));
    assert!(!l.remove("a"));
    assert!(l.is_empty());
    assert!(l.check("a").is_ok(), "a fresh burst");
}

#[test]
fn s8_1_concurrent_new_keys_never_exceed_the_cap() {
    let (l, _clock) = keyed(1, 1, 500);
    std::thread::scope(|s| {
        for t in 0..4 {
            let l = &l;
            s.spawn(move || {
                for i in 0..1000 {
                    let _ = l.check(&format!("t{t}-{i}"));
                }
            });
        }
    });
    assert_eq!(l.len(), 500);
    assert_eq!(l.refused_keys(), 4000 - 500);
}

#[test]
fn threads_on_one_key_get_exactly_its_burst() {
    let (l, _clock) = keyed(1, 300, 10);
    let allowed = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (l, allowed) = (&l, &allowed);
            s.spawn(move || {
                for _ in 0..200 {
                    if l.check("hot").is_ok() {
                        allowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(allowed.into_inner(), 300);
}

#[test]
fn too_many_keys_displays_the_cap() {
    assert_eq!(
        KeyedCheckError::TooManyKeys { max_keys: 3 }.to_string(),
        "rate limiter tracks 3 active keys, new key refused"
    );
}
