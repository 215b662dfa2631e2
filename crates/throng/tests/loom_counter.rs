//! Loom model of `Counter::take` racing with `add`: every add is counted by exactly one
//! of the take and the remainder.
//!
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng --target-dir target/loom --test loom_counter`
#![cfg(loom)]

use std::num::NonZeroUsize;

use loom::sync::Arc;
use throng::counter::Counter;

fn shards(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn take_racing_with_adds_counts_each_add_once() {
    loom::model(|| {
        let c = Arc::new(Counter::with_shards(shards(2)));
        let c2 = Arc::clone(&c);
        let writer = loom::thread::spawn(move || {
            c2.add(1);
            c2.add(2);
        });
        let first = c.take();
        assert!(matches!(first, 0 | 1 | 3), "a take saw {first}");
        writer.join().unwrap();
        let rest = c.take();
        assert_eq!(first + rest, 3);
        assert_eq!(c.sum(), 0);
    });
}

#[test]
fn two_writers_one_shard_and_a_take() {
    loom::model(|| {
        let c = Arc::new(Counter::with_shards(shards(1)));
        let c2 = Arc::clone(&c);
        let writer = loom::thread::spawn(move || c2.add(5));
        c.inc();
        let first = c.take();
        writer.join().unwrap();
        assert_eq!(first + c.take(), 6);
    });
}
