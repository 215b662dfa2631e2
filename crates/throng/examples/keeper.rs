//! The seed's resource keeper, done properly: one task owns a map of per-user counters;
//! handlers increment and read it through typed calls; a slow request times out; a
//! panicking request is contained; stop runs what was accepted and hands back the map.
//!
//! Run: `cargo run -p throng --example keeper`

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::Duration;

use throng::keeper::{CallError, CallTimeoutError, Keeper};

#[tokio::main]
async fn main() {
    let keeper = Keeper::spawn(
        HashMap::<String, u64>::new(),
        NonZeroUsize::new(64).unwrap(),
    )
    .unwrap();

    // Eight "handlers" bump counters concurrently.
    let mut handlers = Vec::new();
    for h in 0..8 {
        let keeper = keeper.clone();
        handlers.push(tokio::spawn(async move {
            for i in 0..100 {
                let user = format!("user{}", (h + i) % 3);
                keeper
                    .cast(move |m| *m.entry(user).or_default() += 1)
                    .await
                    .expect("keeper running");
            }
        }));
    }
    for h in handlers {
        h.await.unwrap();
    }

    // Typed reads: one key, and a whole sum.
    let user0 = keeper.call(|m| m.get("user0").copied()).await.unwrap();
    let total: u64 = keeper.call(|m| m.values().sum()).await.unwrap();
    println!("user0 = {user0:?}, total = {total} (8 handlers x 100 casts)");

    // A slow closure: the deadline covers the whole round trip.
    let slow = keeper
        .call_timeout(
            |m| {
                std::thread::sleep(Duration::from_millis(50)); // stands in for heavy work
                m.len()
            },
            Duration::from_millis(10),
        )
        .await;
    println!("slow call with a 10 ms deadline: {slow:?}");
    assert_eq!(slow, Err(CallTimeoutError::TimedOut));

    // A panicking closure is contained: the caller gets an error, the keeper is poisoned.
    // (A one-line panic hook keeps the output short; the default one prints a backtrace.)
    std::panic::set_hook(Box::new(|info| eprintln!("[panic hook] {info}")));
    let fragile = Keeper::spawn(0u32, NonZeroUsize::new(4).unwrap()).unwrap();
    let boom = fragile.call(|_| -> u32 { panic!("bad input") }).await;
    let after = fragile.call(|n| *n).await;
    println!("panicking call: {boom:?}; later call: {after:?}");
    assert!(matches!(boom, Err(CallError::Panicked(_))));

    // Stop: everything accepted runs, then the final state comes back.
    let final_map = keeper.stop().await.expect("first stop gets the state");
    let mut users: Vec<_> = final_map.into_iter().collect();
    users.sort();
    println!("final counters: {users:?}");
    println!("call after stop: {:?}", keeper.call(|m| m.len()).await);
    println!("second stop: {:?}", keeper.stop().await.map(|_| ()));
}
