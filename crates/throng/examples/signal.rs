//! Signals: a `Latch` for "ready" (late waiters return at once) and an `Event` for
//! "config changed" (waiters count generations and never miss a change).
//!
//! Run with `cargo run -p throng --example signal`.

use std::time::Duration;

use throng::signal::{Event, Latch};

#[tokio::main]
async fn main() {
    // --- Latch: one-shot -------------------------------------------------------------
    let ready = Latch::new();
    let early: Vec<_> = (0..3)
        .map(|i| {
            let ready = ready.clone();
            tokio::spawn(async move {
                ready.wait().await;
                println!("early waiter {i}: saw ready");
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    println!("fire() -> {} (this call fired it)", ready.fire());
    println!("fire() -> {} (second fire is a no-op)", ready.fire());
    for t in early {
        t.await.unwrap();
    }
    // The seed's broadcaster lost this one (S11-2): it subscribes after the fire.
    ready.wait().await;
    println!(
        "late waiter: returned at once, is_fired = {}",
        ready.is_fired()
    );

    // --- Event: re-armable, with generations -----------------------------------------
    let config_changed = Event::new();
    let listener = config_changed.listener();
    let watcher = tokio::spawn(async move {
        let mut seen = listener.generation();
        // Slow consumer: it sleeps between waits, yet misses nothing, because
        // wait_after returns at once when the generation moved on meanwhile.
        while let Ok(g) = listener.wait_after(seen).await {
            println!(
                "watcher: reload for generation {g} ({} change(s) since last look)",
                g.get() - seen.get()
            );
            seen = g;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        println!("watcher: event closed at generation {seen}, exiting");
        seen
    });
    for _ in 0..5 {
        let g = config_changed.notify().unwrap();
        println!("notify() -> generation {g}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    config_changed.close();
    let last = watcher.await.unwrap();
    assert_eq!(last.get(), 5);
    println!("notify after close -> {:?}", config_changed.notify());
}
