//! Requests per user: 2 threads count requests for 1 000 users plus a flood of one-off
//! ids, a reporter takes sorted per-interval snapshots, the key cap sends the flood to
//! the overflow bucket, and idle users are evicted. Every request is accounted for.
//!
//! Run: `cargo run -p throng --example keyed`

use std::num::NonZeroUsize;
use std::time::Duration;

use throng::keyed::KeyedCounters;

fn main() {
    let hits: KeyedCounters<String> = KeyedCounters::builder(NonZeroUsize::new(1_200).unwrap())
        .evict_idle_after(NonZeroUsize::new(2).unwrap())
        .build();
    let users: Vec<String> = (0..1_000).map(|i| format!("user-{i:04}")).collect();
    const PER_THREAD: u64 = 300_000;

    let mut accounted = 0u64;
    std::thread::scope(|s| {
        let mut writers = Vec::new();
        for t in 0..2u64 {
            let (hits, users) = (&hits, &users);
            writers.push(s.spawn(move || {
                for i in 0..PER_THREAD {
                    if i % 100 == 0 {
                        // A one-off id (a scanner, a bot): fills the cap, then overflows.
                        hits.inc(format!("oneoff-{t}-{i}").as_str());
                    } else {
                        hits.inc(users[((i * 7 + t) % 1_000) as usize].as_str());
                    }
                }
            }));
        }
        let mut tick = 0;
        while !writers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(Duration::from_millis(30));
            let snap = hits.take_snapshot().sorted();
            tick += 1;
            accounted += snap.total();
            let top: Vec<_> = snap.counts.iter().take(2).collect();
            println!(
                "tick {tick}: {} keys counted, first {top:?}, overflow {}, evicted {}, tracking {}",
                snap.counts.len(),
                snap.overflow,
                snap.evicted,
                snap.keys
            );
        }
    });
    // Takes after the writers stopped: the last counts, then every key is idle for
    // two takes and evicted.
    for _ in 0..3 {
        let snap = hits.take_snapshot();
        accounted += snap.total();
        println!(
            "idle take: evicted {}, tracking {}",
            snap.evicted, snap.keys
        );
    }
    println!("requests made {}, accounted {accounted}", 2 * PER_THREAD);
    assert_eq!(accounted, 2 * PER_THREAD);
    assert!(hits.is_empty());
}
