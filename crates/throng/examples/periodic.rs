//! A periodic flusher: counts events, flushes the per-interval delta every 200 ms, and on
//! shutdown does one final bounded flush so the last interval is not lost.
//!
//! Run with `cargo run -p throng --example periodic`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::periodic::{MissedTicks, Periodic};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let events = Arc::new(AtomicU64::new(0));
    let shutdown = CancellationToken::new();

    let flusher = Periodic::new(Duration::from_millis(200))
        .expect("non-zero period")
        .missed_ticks(MissedTicks::Skip)
        .final_run(true)
        .final_run_deadline(Duration::from_millis(500));

    let flushed = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&events);
    let total = Arc::clone(&flushed);
    let mut handle = flusher
        .spawn(shutdown.clone(), move |ctx| {
            // Take the delta synchronously, then "send" it asynchronously.
            let delta = counter.swap(0, Ordering::Relaxed);
            total.fetch_add(delta, Ordering::Relaxed);
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await; // pretend I/O
                let kind = if ctx.is_final() { "final" } else { "tick " };
                println!("{kind} flush #{}: {delta} events", ctx.index());
            }
        })
        .unwrap();

    // Produce events for about a second, in bursts.
    for burst in 1..=10u64 {
        events.fetch_add(burst * 10, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(110)).await;
    }
    events.fetch_add(7, Ordering::Relaxed); // arrives after the last tick

    println!("shutting down (cancel is idempotent; calling it twice is fine)");
    shutdown.cancel();
    handle.cancel();
    let report = handle.join().await;
    println!(
        "runner stopped: {} regular runs, final run {:?}, stopped: {:?}",
        report.runs, report.final_run, report.stopped
    );
    let produced = (1..=10u64).map(|b| b * 10).sum::<u64>() + 7;
    println!(
        "produced {produced} events, flushed {}",
        flushed.load(Ordering::Relaxed)
    );
    assert_eq!(
        flushed.load(Ordering::Relaxed),
        produced,
        "nothing left unflushed"
    );
}
