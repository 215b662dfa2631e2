//! `KeyedCounters` key cap: new keys past `max_keys` go to the overflow count, which
//! takes report and reset; nothing is dropped (seed defect S8-1).
#![cfg(feature = "keyed")]

mod support;

use support::nz;
use throng::keyed::KeyedCounters;

#[test]
fn capacity_new_keys_past_the_cap_count_as_overflow() {
    let m = KeyedCounters::<String>::new(nz(2));
    m.inc("a");
    m.inc("b");
    m.add("c", 5);
    m.inc("d");
    m.inc("a"); // existing keys still count under their key
    assert_eq!(m.len(), 2);
    assert_eq!(m.get("c"), None);
    let snap = m.take_snapshot().sorted();
    assert_eq!(snap.counts, vec![("a".into(), 2), ("b".into(), 1)]);
    assert_eq!(snap.overflow, 6);
    assert_eq!(snap.keys, 2);
    assert_eq!(snap.total(), 9);
    // The overflow was reset by the take; the cumulative snapshot keeps it.
    assert_eq!(m.take_snapshot().overflow, 0);
    m.inc("e");
    assert_eq!(m.snapshot().overflow, 7);
}

#[test]
fn capacity_is_exact_under_concurrent_inserts() {
    let m = KeyedCounters::<u64>::new(nz(100));
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let m = &m;
            s.spawn(move || {
                for k in 0..1000u64 {
                    m.inc(&(k * 2 + t));
                }
            });
        }
    });
    assert_eq!(m.len(), 100);
    let snap = m.take_snapshot();
    assert_eq!(snap.counts.len(), 100);
    assert_eq!(snap.overflow, 1900);
    assert_eq!(snap.total(), 2000);
}

/// S8-1: the seed's map grows without bound, keyed by caller-supplied user ids (a
/// memory DoS). Here a flood of unique ids keeps the map at `max_keys`, every increment
/// is accounted for (keys plus overflow), and idle eviction makes room again.
#[test]
fn s8_1_a_flood_of_unique_keys_is_bounded_and_fully_accounted() {
    let m: KeyedCounters<String> = KeyedCounters::builder(nz(10))
        .evict_idle_after(nz(1))
        .build();
    for i in 0..10_000 {
        m.inc(format!("attacker-{i}").as_str());
    }
    assert_eq!(m.len(), 10);
    let snap = m.take_snapshot();
    assert_eq!(snap.counts.len(), 10);
    assert_eq!(snap.overflow, 9_990);
    assert_eq!(snap.total(), 10_000);
    // No increments since: the next take evicts them all and reports it.
    let snap = m.take_snapshot();
    assert_eq!((snap.evicted, snap.keys), (10, 0));
    m.inc("real-user");
    assert_eq!(m.get("real-user"), Some(1));
}
