//! `KeyedCounters` idle eviction: a key with no increments for N consecutive takes is
//! removed and reported; increments racing with eviction are never lost.
#![cfg(feature = "keyed")]

mod support;

use support::nz;
use throng::keyed::KeyedCounters;

fn evicting(after: usize) -> KeyedCounters<String> {
    KeyedCounters::builder(nz(100))
        .evict_idle_after(nz(after))
        .build()
}

#[test]
fn idle_key_is_evicted_after_n_empty_takes() {
    let m = evicting(2);
    m.inc("a");
    m.inc("b");
    assert_eq!(m.take_snapshot().counts.len(), 2); // takes the counts; not idle yet
    m.inc("b");
    let s1 = m.take_snapshot(); // a: 1 empty take
    assert_eq!((s1.evicted, s1.keys), (0, 2));
    let s2 = m.take_snapshot(); // a: 2 empty takes -> evicted; b: 1
    assert_eq!((s2.evicted, s2.keys), (1, 1));
    assert_eq!(m.get("a"), None);
    assert_eq!(m.get("b"), Some(2));
    let s3 = m.take_snapshot();
    assert_eq!((s3.evicted, s3.keys), (1, 0));
    assert_eq!(m.snapshot().evicted, 2);
}

#[test]
fn an_increment_resets_the_idle_count() {
    let m = evicting(2);
    m.inc("a");
    m.take_snapshot();
    m.take_snapshot(); // 1 empty take
    m.inc("a");
    assert_eq!(m.take_snapshot().counts, vec![("a".into(), 1)]);
    assert_eq!(m.take_snapshot().evicted, 0); // 1 empty take again
    assert_eq!(m.take_snapshot().evicted, 1);
}

#[test]
fn without_eviction_keys_stay() {
    let m = KeyedCounters::<String>::new(nz(10));
    m.inc("a");
    for _ in 0..10 {
        assert_eq!(m.take_snapshot().evicted, 0);
    }
    assert_eq!(m.get("a"), Some(1));
}

#[test]
fn an_evicted_key_comes_back_from_zero_even_through_a_thread_cache() {
    let m = evicting(1);
    m.add("a", 5); // this thread now caches "a"'s slot
    m.inc("a");
    assert_eq!(m.take_snapshot().counts, vec![("a".into(), 6)]);
    assert_eq!(m.take_snapshot().evicted, 1);
    // The cached slot is retired: the increment must notice, go to the map and
    // insert "a" afresh.
    m.inc("a");
    assert_eq!(m.get("a"), Some(1));
    assert_eq!(m.len(), 1);
    assert_eq!(m.take_snapshot().counts, vec![("a".into(), 1)]);
}

#[test]
fn evicted_keys_leave_the_map_even_if_a_thread_cached_them() {
    let m = evicting(1);
    for k in 0..50 {
        m.inc(format!("k{k}").as_str());
    }
    m.take_snapshot();
    assert_eq!(m.take_snapshot().evicted, 50);
    // Another key's increment sweeps this thread's cache; all 50 are gone everywhere.
    m.inc("other");
    assert_eq!(m.len(), 1);
    assert_eq!(m.snapshot().counts, vec![("other".into(), 1)]);
}

/// Eviction racing with increments: with `evict_idle_after(1)` and takes running in a
/// loop, keys are evicted and re-inserted constantly; the takes must still add up to
/// every increment.
#[test]
fn stress_eviction_racing_with_increments_loses_nothing() {
    stress_eviction(evicting(1));
}

/// The same without thread caches: increments then add under the shard's read lock.
#[test]
fn stress_eviction_racing_with_uncached_increments_loses_nothing() {
    stress_eviction(
        KeyedCounters::builder(nz(100))
            .evict_idle_after(nz(1))
            .thread_cache_keys(0)
            .build(),
    );
}

fn stress_eviction(m: KeyedCounters<String>) {
    const PER_THREAD: u64 = 100_000;
    let mut taken = 0u64;
    let mut evicted = 0;
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..2)
            .map(|t| {
                let m = &m;
                s.spawn(move || {
                    let keys: Vec<String> = (0..8).map(|k| format!("t{t}-k{k}")).collect();
                    for i in 0..PER_THREAD {
                        // Bursts per key leave the others idle long enough to be evicted.
                        m.inc(keys[(i / 1000 % 8) as usize].as_str());
                    }
                })
            })
            .collect();
        while !writers.iter().all(|w| w.is_finished()) {
            let snap = m.take_snapshot();
            taken += snap.total();
            evicted += snap.evicted;
        }
    });
    taken += m.take_snapshot().total();
    assert_eq!(taken, 2 * PER_THREAD);
    assert!(evicted > 0, "no eviction happened during the run");
}
