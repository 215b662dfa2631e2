//! A guided tour: a tiny request-counting service built from throng's patterns.
//!
//! Run: `cargo run --release -p throng --example tour`
//!
//! Eight simulated clients make requests for two seconds. Each request bumps a sharded
//! [`Counter`] (the global total) and a [`KeyedCounters`] entry (per user); a [`Dumper`]
//! prints the per-user deltas every 500 ms and once more at shutdown; a [`Keeper`] owns
//! the "last request per user" table; a [`Broadcaster`] announces milestones to two
//! subscribers with different overflow policies; a [`Latch`] is the shutdown signal.
//! At the end the tour checks that every request was accounted for exactly once.
//!
//! A second act shows the work patterns: a [`Pool`] with backpressure and a shutdown
//! report, a [`Batcher`] turning single writes into batched ones, and a [`Pipeline`]
//! whose metrics name its bottleneck.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use throng::batch::Batcher;
use throng::broadcast::{Broadcaster, Overflow, SubscribeOptions};
use throng::counter::Counter;
use throng::dump::{Dumper, TextSink};
use throng::keeper::Keeper;
use throng::keyed::KeyedCounters;
use throng::pipeline::Pipeline;
use throng::pool::Pool;
use throng::signal::Latch;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let total = Arc::new(Counter::new());
    let per_user = Arc::new(KeyedCounters::<String>::new(
        NonZeroUsize::new(1_000).unwrap(),
    ));
    let last_seen = Keeper::spawn(
        HashMap::<String, u64>::new(),
        NonZeroUsize::new(256).unwrap(),
    )
    .unwrap();
    let news: Broadcaster<Arc<str>> = Broadcaster::new();
    let shutdown = Latch::new();

    println!("== dumper: per-user deltas every 500 ms, and a final flush");
    let token = CancellationToken::new();
    let dumper = Dumper::new(Arc::clone(&per_user), Duration::from_millis(500))
        .unwrap()
        .spawn(token.clone(), TextSink::new(std::io::stdout()))
        .unwrap();

    let mut fast = news
        .subscribe(SubscribeOptions::new(
            NonZeroUsize::new(64).unwrap(),
            Overflow::DropOldest,
        ))
        .unwrap();
    let slow = news
        .subscribe(SubscribeOptions::new(
            NonZeroUsize::new(1).unwrap(),
            Overflow::DropNewest,
        ))
        .unwrap();

    let mut clients = Vec::new();
    for c in 0..8u64 {
        let (total, per_user, last_seen, news, shutdown) = (
            Arc::clone(&total),
            Arc::clone(&per_user),
            last_seen.clone(),
            news.clone(),
            shutdown.clone(),
        );
        clients.push(tokio::spawn(async move {
            let user = format!("user{}", c % 5);
            let mut sent = 0u64;
            loop {
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                }
                total.inc();
                per_user.inc(user.as_str());
                sent += 1;
                let u = user.clone();
                // The keeper is stopped only after every client has finished, so a
                // failed cast would be a bug: say so instead of swallowing it.
                last_seen
                    .cast(move |m| {
                        m.insert(u, sent);
                    })
                    .await
                    .expect("keeper runs until the clients are done");
                if sent % 500 == 0 {
                    // try_publish only fails once the broadcaster is closed, which
                    // happens after the clients end; Block subscribers are absent here.
                    news.try_publish(Arc::from(format!("client {c} reached {sent} requests")))
                        .expect("news is open while clients run");
                }
            }
            sent
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("== latch: fire() wakes every client, late or early");
    shutdown.fire();
    let mut sent = 0;
    for c in clients {
        sent += c.await.unwrap();
    }

    token.cancel();
    let report = dumper.join().await.unwrap();
    println!(
        "== dumper report: {} dumps, {} requests written, {} lost",
        report.dumps, report.counted, report.lost
    );

    let users = last_seen.stop().await.expect("keeper state");
    println!("== keeper: last request number per user: {:?}", {
        let mut v: Vec<_> = users.into_iter().collect();
        v.sort();
        v
    });

    news.close();
    let mut heard = 0;
    while let Ok(d) = fast.recv().await {
        heard += 1;
        if heard <= 3 {
            println!("== broadcast seq {}: {}", d.seq, d.msg);
        }
    }
    println!(
        "== broadcast: fast subscriber heard {heard}; slow (capacity 1, drop-newest) dropped {}",
        slow.stats().dropped
    );

    println!(
        "== counter: {} requests sent, sharded total {}",
        sent,
        total.sum()
    );
    assert_eq!(total.sum(), sent, "every request counted once");
    assert_eq!(report.counted, sent, "every request dumped once");
    println!("every request accounted for exactly once");

    work_patterns().await;
}

/// The second act: pool, batcher, pipeline.
async fn work_patterns() {
    println!("== pool: 3 workers, a queue of 8, 40 jobs through submit (it waits when full)");
    let pool = Pool::builder()
        .workers(3)
        .queue_capacity(8)
        .spawn(|n: u64, _token| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            n * n
        })
        .expect("valid pool");
    let mut handles = Vec::new();
    for n in 0..40 {
        handles.push(pool.submit(n).await.expect("open until shutdown"));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("trivial jobs succeed");
    }
    let report = pool.shutdown(Duration::from_secs(1)).await;
    let m = pool.metrics();
    println!(
        "== pool: sum of squares {sum}; report: {} accepted, {} completed; mean queue wait {:?}",
        report.accepted,
        report.completed,
        m.queue_wait_mean()
    );

    println!("== batch: 100 writers, one insert per batch of up to 32 (or every 5 ms)");
    let writer = Batcher::builder()
        .max_items(32)
        .max_delay(Duration::from_millis(5))
        .spawn(|rows: Vec<u64>| async move {
            tokio::time::sleep(Duration::from_millis(1)).await; // one round trip per batch
            Ok::<_, String>(rows.iter().map(|r| r + 1_000).collect::<Vec<_>>())
        })
        .expect("valid batcher");
    let mut writers = Vec::new();
    for n in 0..100u64 {
        let w = writer.clone();
        writers.push(tokio::spawn(async move {
            w.submit(n).await.expect("open").await.expect("stored")
        }));
    }
    for (n, w) in writers.into_iter().enumerate() {
        assert_eq!(
            w.await.unwrap(),
            n as u64 + 1_000,
            "each writer got its own row id"
        );
    }
    let b = writer.shutdown(Duration::from_secs(1)).await;
    println!(
        "== batch: 100 rows in {} inserts (mean batch {:.1})",
        b.batches,
        b.mean_batch()
    );

    println!("== pipeline: parse -> enrich (slow) -> format, ordered output");
    let (input, mut output, handle) = Pipeline::builder::<u64, String>(8)
        .stage("parse", 2, |n: u64, _| async move { Ok(n * 3) })
        .stage("enrich", 1, |n: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(n + 1)
        })
        .stage(
            "format",
            2,
            |n: u64, _| async move { Ok(format!("item {n}")) },
        )
        .ordered()
        .spawn()
        .expect("valid pipeline");
    tokio::spawn(async move {
        for n in 0..50 {
            input.send(n).await.expect("running");
        }
    });
    let mut outputs = Vec::new();
    while let Some(line) = output.recv().await {
        outputs.push(line);
    }
    println!(
        "== pipeline: {} outputs, first {:?}, last {:?}; bottleneck: {}",
        outputs.len(),
        outputs.first(),
        outputs.last(),
        handle.bottleneck().unwrap_or("none")
    );
    handle.join().await.expect("no stage failed");
}
