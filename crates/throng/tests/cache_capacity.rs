//! Capacity: the builder's rules, the entry bound, the weight bound, replace/remove, and
//! S3-FIFO's scan resistance.

use proptest::prelude::*;
use throng::cache::{Cache, InsertError, InvalidCache};

#[test]
fn zero_capacity_is_a_build_error() {
    assert_eq!(
        Cache::<u32, u32>::new(0).unwrap_err(),
        InvalidCache::ZeroCapacity
    );
}

#[test]
fn zero_shards_and_zero_durations_are_build_errors() {
    use std::time::Duration;
    let e = Cache::<u32, u32>::builder(10)
        .shards(0)
        .build()
        .unwrap_err();
    assert_eq!(e, InvalidCache::ZeroShards);
    let e = Cache::<u32, u32>::builder(10)
        .time_to_live(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e, InvalidCache::ZeroTimeToLive);
    let e = Cache::<u32, u32>::builder(10)
        .time_to_idle(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e, InvalidCache::ZeroTimeToIdle);
    assert_eq!(e.to_string(), "cache time-to-idle is zero");
}

#[test]
fn smoke_insert_get_replace_remove_clear() {
    let c = Cache::<String, u32>::new(100).unwrap();
    assert_eq!(c.insert("a".into(), 1), None);
    assert_eq!(c.get("a"), Some(1));
    assert_eq!(
        c.insert("a".into(), 2),
        Some(1),
        "replace returns the old value"
    );
    assert_eq!(c.get("a"), Some(2));
    assert_eq!(c.len(), 1);
    assert!(c.contains_key("a"));
    assert_eq!(c.remove("a"), Some(2));
    assert_eq!(c.get("a"), None);
    assert_eq!(c.remove("a"), None);
    c.insert("b".into(), 3);
    c.clear();
    assert!(c.is_empty());
    assert_eq!(c.weighted_size(), 0);
}

#[test]
fn capacity_is_never_exceeded_and_the_cache_fills_up() {
    let c = Cache::<u64, u64>::builder(1000).shards(8).build().unwrap();
    for k in 0..50_000u64 {
        c.insert(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), k);
        assert!(c.len() <= 1000, "len {} after {k}", c.len());
    }
    // Every shard is full: the bound is reached, not just respected.
    assert_eq!(c.len(), 1000);
}

#[test]
fn capacity_smaller_than_the_shard_count_shrinks_the_shards() {
    let c = Cache::<u32, u32>::builder(3).shards(64).build().unwrap();
    assert!(c.shards() <= 3);
    for k in 0..100 {
        c.insert(k, k);
        assert!(c.len() <= 3);
    }
}

#[test]
fn weight_bound_is_never_exceeded() {
    let c = Cache::<u32, Vec<u8>>::builder(1000)
        .shards(1)
        .build()
        .unwrap();
    for k in 0..500u32 {
        let w = 1 + (k * 37) % 100;
        c.insert_with_weight(k, vec![0; w as usize], w).unwrap();
        assert!(c.weighted_size() <= 1000, "weight {}", c.weighted_size());
    }
    assert!(c.weighted_size() > 900, "the cache fills to near its bound");
    // Replacing with a heavier value also stays within the bound.
    for k in 400..500u32 {
        let _ = c.insert_with_weight(k, vec![], 300).unwrap();
        assert!(c.weighted_size() <= 1000);
    }
}

#[test]
fn too_heavy_and_zero_weight_are_refused_and_handed_back() {
    let c = Cache::<u32, &str>::builder(100).shards(4).build().unwrap();
    assert_eq!(c.max_entry_weight(), 25);
    match c.insert_with_weight(1, "big", 26) {
        Err(e @ InsertError::TooHeavy { .. }) => {
            assert_eq!(e.to_string(), "entry weight 26 exceeds the limit 25");
            assert_eq!(e.into_inner(), (1, "big"));
        }
        other => panic!("expected TooHeavy, got {other:?}"),
    }
    match c.insert_with_weight(2, "none", 0) {
        Err(e @ InsertError::ZeroWeight { .. }) => assert_eq!(e.into_inner(), (2, "none")),
        other => panic!("expected ZeroWeight, got {other:?}"),
    }
    assert!(c.is_empty(), "refused inserts change nothing");
    assert_eq!(c.insert_with_weight(3, "ok", 25).unwrap(), None);
}

#[test]
fn frequently_read_keys_survive_a_scan() {
    let c = Cache::<u32, u32>::builder(100).shards(1).build().unwrap();
    for k in 0..50 {
        c.insert(k, k);
    }
    // Make keys 0..50 hot, then scan 10 000 one-hit keys through the cache.
    for _ in 0..3 {
        for k in 0..50 {
            assert_eq!(c.get(&k), Some(k));
        }
    }
    for k in 1000..11_000 {
        c.insert(k, k);
    }
    let survivors = (0..50).filter(|k| c.get(k).is_some()).count();
    assert!(survivors >= 45, "only {survivors} of 50 hot keys survived");
}

#[test]
fn a_key_evicted_recently_comes_back_into_the_main_queue() {
    // Ghost hit: a key evicted from the small queue and inserted again is kept longer
    // than a stream of new keys.
    let c = Cache::<u32, u32>::builder(10).shards(1).build().unwrap();
    c.insert(7, 7);
    for k in 100..110 {
        c.insert(k, k);
    }
    assert_eq!(c.get(&7), None, "7 was evicted unread");
    c.insert(7, 7); // ghost hit: goes to main
    for k in 200..209 {
        c.insert(k, k);
    }
    assert_eq!(c.get(&7), Some(7));
}

#[test]
fn concurrent_inserts_and_reads_respect_the_bound() {
    let c = Cache::<u64, u64>::builder(512).build().unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let c = &c;
            s.spawn(move || {
                for i in 0..20_000u64 {
                    let k = (i * 7 + t) % 3000;
                    if c.get(&k).is_none() {
                        c.insert(k, k);
                    }
                    if i % 97 == 0 {
                        c.remove(&(k + 1));
                    }
                    assert!(c.len() <= 512);
                }
            });
        }
    });
    assert!(c.len() <= 512);
    for k in 0..3000 {
        if let Some(v) = c.get(&k) {
            assert_eq!(v, k, "values stay with their keys");
        }
    }
}

#[test]
fn remove_heavy_use_does_not_leak_slots() {
    let c = Cache::<u32, u32>::builder(1_000_000)
        .shards(1)
        .build()
        .unwrap();
    for round in 0..100 {
        for k in 0..1000 {
            c.insert(k, round);
        }
        for k in 0..1000 {
            assert_eq!(c.remove(&k), Some(round));
        }
    }
    assert!(c.is_empty());
    c.insert(1, 1);
    assert_eq!(c.get(&1), Some(1));
}

#[test]
fn cache_is_send_sync_and_clone_shares() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache<String, std::sync::Arc<Vec<u8>>>>();
    let a = Cache::<u32, u32>::new(10).unwrap();
    let b = a.clone();
    a.insert(1, 1);
    assert_eq!(b.get(&1), Some(1));
}

proptest! {
    #[test]
    fn weight_and_len_stay_within_bounds(
        cap in 1u64..200,
        shards in 1usize..9,
        ops in prop::collection::vec((0u8..4, 0u32..300, 1u32..40), 1..400),
    ) {
        let c = Cache::<u32, u32>::builder(cap).shards(shards).build().unwrap();
        let mut shadow = std::collections::HashMap::new();
        for (op, k, w) in ops {
            match op {
                0 => { c.insert(k, w); shadow.insert(k, w); }
                1 => {
                    if c.insert_with_weight(k, w, w).is_ok() { shadow.insert(k, w); }
                }
                2 => { c.remove(&k); shadow.remove(&k); }
                _ => {
                    // A hit always returns the last value written for the key.
                    if let Some(v) = c.get(&k) { prop_assert_eq!(Some(&v), shadow.get(&k)); }
                }
            }
            prop_assert!(c.weighted_size() <= cap);
            prop_assert!(c.len() as u64 <= cap);
        }
    }
}
