//! The seed's "parallel processor", the Rust way, with `throng::parallel`: results in input
//! order, the first error cancelling the rest, a panicking item reported instead of
//! crashing, every outcome collected, a `Group`, and the `workers = 0` configuration error.
//!
//! Run with `cargo run -p throng --example parallel`. Finishes in well under a second.

use std::time::Duration;

use throng::parallel::{Group, ParMap};
use tokio::time::{sleep, Instant};

/// The seed's item processing: 10 ms of "work", then a string.
async fn process(item: String) -> Result<String, String> {
    sleep(Duration::from_millis(10)).await;
    if item.contains("bad") {
        return Err(format!("cannot process {item:?}"));
    }
    assert!(!item.contains("boom"), "{item} exploded");
    Ok(format!("processed: {item}"))
}

fn items(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The panic hook would print each caught panic; keep the output short.
    std::panic::set_hook(Box::new(|_| {}));

    println!("-- 1. ordered results, at most 4 at a time (seed: Process with 4 workers)");
    let par = ParMap::new(4).expect("4 is a valid limit");
    let start = Instant::now();
    let names: Vec<String> = (1..=8).map(|i| format!("item-{i}")).collect();
    let out = par.try_map(names, process).await.expect("no item fails");
    println!(
        "   {} items in {} ms (8 x 10 ms, 4 at a time): {:?} .. {:?}",
        out.len(),
        start.elapsed().as_millis(),
        out[0],
        out[7]
    );

    println!("-- 2. the first error cancels the rest");
    let res = par
        .try_map(
            items(&["a", "b", "bad-c", "d", "e", "f", "g", "h"]),
            process,
        )
        .await;
    println!("   {res:?}");

    println!("-- 3. a panicking item is reported, the process goes on");
    let res = par.try_map(items(&["a", "boom-b", "c"]), process).await;
    println!("   {res:?}");

    println!("-- 4. collect every outcome instead");
    for (i, r) in par
        .map_all(items(&["a", "bad-b", "boom-c", "d"]), process)
        .await
        .iter()
        .enumerate()
    {
        println!("   [{i}] {r:?}");
    }

    println!("-- 5. a Group with a limit: the first error cancels the others' token");
    let mut group = Group::with_limit(2).expect("2 is a valid limit");
    for i in 0..4u32 {
        let spawned = group
            .spawn(move |token| async move {
                if i == 1 {
                    return Err(format!("task {i} failed"));
                }
                tokio::select! {
                    _ = token.cancelled() => Err(format!("task {i} cancelled")),
                    _ = sleep(Duration::from_secs(1)) => Ok(i),
                }
            })
            .await;
        if spawned.is_err() {
            println!("   spawn of task {i} refused: the group has stopped");
        }
    }
    println!("   wait: {:?}", group.wait().await);

    println!("-- 6. workers = 0 (seed: silently returned empty strings)");
    println!("   ParMap::new(0) = {:?}", ParMap::new(0));
}
