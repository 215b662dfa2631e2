//! A request counter bumped by 4 worker threads while a reporter thread takes
//! per-interval deltas; at the end the deltas add up to every request.
//!
//! Run: `cargo run -p throng --example counter`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::counter::Counter;

fn main() {
    let requests = Arc::new(Counter::new());
    println!("counter with {} shards", requests.shards());
    let done = Arc::new(AtomicBool::new(false));

    let reporter = {
        let (requests, done) = (Arc::clone(&requests), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut reported = 0u64;
            let mut tick = 0;
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(50));
                let delta = requests.take();
                tick += 1;
                reported += delta;
                println!("tick {tick}: {delta} requests in the last interval");
            }
            reported + requests.take() // final flush
        })
    };

    let workers: Vec<_> = (0..4)
        .map(|_| {
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                for _ in 0..2_000_000 {
                    requests.inc();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let reported = reporter.join().unwrap();
    println!("workers counted 8000000, reporter saw {reported}");
    assert_eq!(reported, 8_000_000);
}
