//! `KeyedCounters` under load: 2 threads × 1 000 000 increments over shared keys, with
//! takes running concurrently; the takes plus the final take equal exactly what was
//! added (about a second in a debug build).
#![cfg(feature = "keyed")]

use std::num::NonZeroUsize;

use throng::keyed::KeyedCounters;

#[test]
fn stress_takes_plus_remainder_equal_the_total() {
    const PER_THREAD: u64 = 1_000_000;
    const KEYS: u64 = 64;
    // Cap below the key count, so some increments go to the overflow bucket.
    let m = KeyedCounters::<u64>::new(NonZeroUsize::new(48).unwrap());
    let mut per_key = vec![0u64; KEYS as usize];
    let mut overflow = 0u64;
    let mut takes = 0;
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..2u64)
            .map(|t| {
                let m = &m;
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        m.inc(&((i * 7 + t) % KEYS));
                    }
                })
            })
            .collect();
        while !writers.iter().all(|w| w.is_finished()) {
            let snap = m.take_snapshot();
            for (k, n) in snap.counts {
                per_key[k as usize] += n;
            }
            overflow += snap.overflow;
            takes += 1;
        }
    });
    let last = m.take_snapshot();
    for (k, n) in last.counts {
        per_key[k as usize] += n;
    }
    overflow += last.overflow;
    assert!(takes > 1, "takes did not overlap the writers");
    let counted: u64 = per_key.iter().sum();
    assert_eq!(counted + overflow, 2 * PER_THREAD);
    // Each tracked key's takes add up to its cumulative total.
    for (k, total) in m.snapshot().counts {
        assert_eq!(per_key[k as usize], total, "key {k}");
    }
}
