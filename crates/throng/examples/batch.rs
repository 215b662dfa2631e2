//! A batched writer: 200 "request handlers" each store a chat message and await its row id,
//! while the batcher turns them into a few multi-row inserts. Shows the flush reasons
//! (size, bytes, delay, shutdown), a failed batch reaching each of its items, and the
//! shutdown report.
//!
//! Run with `cargo run -p throng --example batch`. Finishes in well under a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::batch::{BatchError, Batcher};

/// A pretend database: one insert costs 2 ms whatever its size.
#[derive(Default)]
struct Db {
    next_id: AtomicU64,
    inserts: AtomicU64,
}

impl Db {
    async fn insert_many(&self, rows: &[String]) -> Result<Vec<u64>, String> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.inserts.fetch_add(1, Ordering::Relaxed);
        if rows.iter().any(|r| r.contains("DROP TABLE")) {
            return Err("constraint violation".into());
        }
        let first = self.next_id.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok((first..first + rows.len() as u64).collect())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Arc::new(Db::default());
    let d = db.clone();
    let writer = Batcher::builder()
        .max_items(64)
        .max_bytes(1_000, |row: &String| row.len())
        .max_delay(Duration::from_millis(5))
        .max_in_flight(2)
        .spawn(move |rows: Vec<String>| {
            let d = d.clone();
            async move { d.insert_many(&rows).await }
        })?;

    // 200 concurrent handlers, one message each.
    let mut handlers = Vec::new();
    for i in 0..200 {
        let writer = writer.clone();
        handlers.push(tokio::spawn(async move {
            let text = if i == 150 {
                "'); DROP TABLE messages; --".to_string()
            } else {
                format!("user{}: message number {i}", i % 7)
            };
            let handle = writer.submit(text).await.expect("open");
            handle.await
        }));
    }
    let (mut stored, mut failed) = (0, 0);
    for h in handlers {
        match h.await? {
            Ok(_row_id) => stored += 1,
            Err(BatchError::Flush(e)) => {
                failed += 1;
                if failed == 1 {
                    println!("a batch failed ({e}); every message in it got the error");
                }
            }
            Err(e) => println!("unexpected: {e}"),
        }
    }
    println!(
        "200 messages: {stored} stored, {failed} failed with their batch, in {} inserts",
        db.inserts.load(Ordering::Relaxed)
    );

    // A trickle: two messages, then shutdown flushes the partial batch at once.
    let late: Vec<_> = ["late one", "late two"]
        .into_iter()
        .map(|t| writer.try_submit(t.to_string()).expect("room"))
        .collect();
    let report = writer.shutdown(Duration::from_secs(1)).await;
    for h in late {
        match h.await {
            Ok(row) => println!("late message stored as row {row}"),
            Err(e) => println!("late message lost: {e}"),
        }
    }
    println!(
        "flushes: {} for size, {} for bytes, {} for delay, {} at shutdown; mean batch {:.1}",
        report.flushed_for_items,
        report.flushed_for_bytes,
        report.flushed_for_delay,
        report.flushed_for_close,
        report.mean_batch()
    );
    println!(
        "accepted {} = succeeded {} + failed {} + cancelled {}",
        report.accepted, report.succeeded, report.failed, report.cancelled
    );
    assert_eq!(
        report.accepted,
        report.succeeded + report.failed + report.cancelled
    );
    Ok(())
}
