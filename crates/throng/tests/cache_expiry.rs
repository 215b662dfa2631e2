//! Time-to-live and time-to-idle on fake time: a `ManualClock` for the sync API and a
//! `TokioClock` under paused tokio time for the async one.

mod support;

use std::time::Duration;

use support::MS;
use throng::cache::Cache;
use throng::clock::{ManualClock, TokioClock};

fn ttl_cache(clock: &ManualClock, ttl: Duration) -> Cache<u32, u32, ManualClock> {
    // One shard: the tests count entries, and a shard's share of 100 is what it holds.
    Cache::builder(100)
        .shards(1)
        .time_to_live(ttl)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn ttl_expires_an_entry_exactly_at_its_deadline() {
    let clock = ManualClock::new();
    let c = ttl_cache(&clock, 100 * MS);
    c.insert(1, 10);
    clock.advance(99 * MS);
    assert_eq!(c.get(&1), Some(10), "fresh just before the TTL");
    clock.advance(MS);
    assert_eq!(c.get(&1), None, "expired at the TTL");
    assert_eq!(c.len(), 0, "the lookup that met it removed it");
}

#[test]
fn ttl_is_not_extended_by_reads_but_is_reset_by_a_replace() {
    let clock = ManualClock::new();
    let c = ttl_cache(&clock, 100 * MS);
    c.insert(1, 10);
    for _ in 0..9 {
        clock.advance(10 * MS);
        assert_eq!(c.get(&1), Some(10));
    }
    c.insert(1, 11); // at 90 ms: a new deadline at 190 ms
    clock.advance(50 * MS);
    assert_eq!(c.get(&1), Some(11));
    clock.advance(50 * MS);
    assert_eq!(c.get(&1), None);
}

#[test]
fn tti_expires_idle_entries_and_reads_keep_them_alive() {
    let clock = ManualClock::new();
    let c = Cache::<u32, u32, _>::builder(100)
        .time_to_idle(30 * MS)
        .clock(clock.clone())
        .build()
        .unwrap();
    c.insert(1, 1);
    c.insert(2, 2);
    for _ in 0..10 {
        clock.advance(20 * MS);
        assert_eq!(c.get(&1), Some(1), "read every 20 ms, idle limit 30 ms");
    }
    assert_eq!(c.get(&2), None, "never read for 200 ms");
    clock.advance(30 * MS);
    assert_eq!(c.get(&1), None);
}

#[test]
fn ttl_caps_an_entry_that_tti_would_keep() {
    let clock = ManualClock::new();
    let c = Cache::<u32, u32, _>::builder(100)
        .time_to_live(100 * MS)
        .time_to_idle(30 * MS)
        .clock(clock.clone())
        .build()
        .unwrap();
    c.insert(1, 1);
    for _ in 0..4 {
        clock.advance(20 * MS);
        assert_eq!(c.get(&1), Some(1));
    }
    clock.advance(20 * MS);
    assert_eq!(c.get(&1), None, "TTL reached at 100 ms despite reads");
}

#[test]
fn purge_expired_removes_every_expired_entry_and_only_those() {
    let clock = ManualClock::new();
    let c = ttl_cache(&clock, 100 * MS);
    for k in 0..50 {
        c.insert(k, k);
    }
    clock.advance(60 * MS);
    for k in 50..80 {
        c.insert(k, k);
    }
    clock.advance(40 * MS);
    assert_eq!(c.len(), 80, "expired entries count until removed");
    assert_eq!(c.purge_expired(), 50);
    assert_eq!(c.len(), 30);
    assert!((50..80).all(|k| c.get(&k) == Some(k)));
}

#[test]
fn eviction_takes_expired_entries_before_fresh_hot_ones() {
    let clock = ManualClock::new();
    let c = Cache::<u32, u32, _>::builder(20)
        .shards(1)
        .time_to_live(100 * MS)
        .clock(clock.clone())
        .build()
        .unwrap();
    for k in 0..20 {
        c.insert(k, k);
        c.get(&k); // all "hot"
    }
    clock.advance(100 * MS); // all expired
    for k in 100..120 {
        c.insert(k, k);
        assert!(c.len() <= 20);
    }
    assert!((100..120).all(|k| c.get(&k) == Some(k)));
}

#[test]
fn without_expiry_entries_never_expire() {
    let c = Cache::<u32, u32>::new(10).unwrap();
    c.insert(1, 1);
    assert_eq!(c.purge_expired(), 0);
    assert_eq!(c.get(&1), Some(1));
}

#[tokio::test(start_paused = true)]
async fn ttl_follows_paused_tokio_time() {
    let c = Cache::<u32, &str, _>::builder(10)
        .time_to_live(Duration::from_secs(5))
        .clock(TokioClock::new())
        .build()
        .unwrap();
    let v = c.get_or_load(1, || async { "one" }).await;
    assert_eq!(v, "one");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(c.get(&1), Some("one"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(c.get(&1), None);
    // The next get_or_load runs the loader again.
    let v = c.get_or_load(1, || async { "uno" }).await;
    assert_eq!(v, "uno");
}
