//! A three-stage pipeline (parse, enrich, write) where `enrich` is slow: the queues in
//! front of it fill, backpressure reaches the producer, and the per-stage metrics point at
//! the bottleneck. Then a bad record stops every stage with one error.
//!
//! Run with `cargo run -p throng --example pipeline`. Finishes in about a second.

use std::time::Duration;

use throng::pipeline::{Pipeline, PipelineError};

#[derive(Debug)]
struct Event {
    user: String,
    amount: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A slow middle stage.
    let (input, mut output, handle) = Pipeline::builder::<String, String>(16)
        .stage("parse", 2, |line: String, _| async move {
            let (user, amount) = line.split_once(',').ok_or("missing comma")?;
            let amount = amount.trim().parse::<u64>().map_err(|e| e.to_string())?;
            Ok(Event {
                user: user.to_string(),
                amount,
            })
        })
        .stage("enrich", 1, |e: Event, _| async move {
            // A lookup that takes 2 ms: the bottleneck.
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok((e.user.to_uppercase(), e.amount * 100))
        })
        .stage("write", 2, |(user, cents): (String, u64), _| async move {
            Ok(format!("{user}: {cents} cents"))
        })
        .ordered()
        .spawn()?;

    let producer = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        for i in 0..200u64 {
            input
                .send(format!("user{},{}", i % 5, i))
                .await
                .expect("running");
        }
        start.elapsed()
    });
    let mut first = None;
    let mut count = 0;
    let mut snapshot = None;
    while let Some(line) = output.recv().await {
        first.get_or_insert(line);
        count += 1;
        if count == 100 {
            snapshot = Some(handle.metrics());
        }
    }
    let produced_in = producer.await?;
    println!("first output: {}", first.unwrap_or_default());
    println!(
        "{count} outputs; the producer needed {produced_in:?} to push 200 lines (backpressure)"
    );
    println!("halfway through:");
    for m in snapshot.unwrap_or_default() {
        println!(
            "  {:<7} workers={} taken={:>3} emitted={:>3} queued={:>2} busy={:?}",
            m.name, m.workers, m.taken, m.emitted, m.queued, m.busy
        );
    }
    println!("bottleneck: {}", handle.bottleneck().unwrap_or("none"));
    handle.join().await?;

    // 2. A bad record stops everything, with the stage and the error.
    let (input, mut output, handle) = Pipeline::builder::<String, String>(4)
        .stage("parse", 2, |line: String, _| async move {
            line.parse::<u64>().map_err(|e| format!("{line:?}: {e}"))
        })
        .stage("write", 1, |n: u64, _| async move { Ok(n) })
        .spawn()?;
    tokio::spawn(async move {
        for line in ["1", "2", "three", "4"] {
            if input.send(line.to_string()).await.is_err() {
                break; // stopped: the item came back in the error
            }
        }
    });
    while output.recv().await.is_some() {}
    match handle.join().await {
        Err(PipelineError::Stage { stage, error }) => println!("stopped by `{stage}`: {error}"),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
