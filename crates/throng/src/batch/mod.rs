//! A batcher: callers submit items one by one and each awaits its own result, while the
//! batcher groups them into batches and flushes each batch with one call.
//!
//! A flush starts when the batch reaches `max_items`, or would pass `max_bytes`, or
//! `max_delay` has passed since the batch's first item, whichever comes first. At most
//! `max_in_flight` flushes run at once; while they are all busy the next batch keeps
//! filling, and once it is full intake stops and submitters wait (backpressure). The
//! flush returns one result per item, in order, or one error that every item of that
//! batch receives. Shutdown flushes what is pending and reports every item.
//!
//! ```
//! use std::time::Duration;
//! use throng::batch::Batcher;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One INSERT per batch instead of one per row.
//! let rows = Batcher::builder()
//!     .max_items(256)
//!     .max_bytes(64 * 1024, |row: &String| row.len())
//!     .max_delay(Duration::from_millis(5))
//!     .max_in_flight(2)
//!     .spawn(|batch: Vec<String>| async move {
//!         // db.insert_many(&batch).await? would go here; return one id per row.
//!         Ok::<_, std::io::Error>((0..batch.len() as u64).collect::<Vec<u64>>())
//!     })?;
//!
//! let handle = rows.submit("alice: hi".to_string()).await?;
//! let id = handle.await?; // flushed within 5 ms, alone or with others
//! assert_eq!(id, 0);
//! let report = rows.shutdown(Duration::from_secs(1)).await;
//! assert_eq!(report.succeeded, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # When to use
//!
//! Use a `Batcher` when each call to something downstream has a fixed cost (a round trip,
//! a transaction, a syscall) that a bigger call amortizes, *and* the items come from many
//! independent callers that each need their own answer: a database writer behind request
//! handlers, a metrics exporter, a chat server persisting messages.
//!
//! When not:
//! - **One producer with a stream of items and no per-item answer**: tokio-stream's
//!   `chunks_timeout`, or `mpsc::Receiver::recv_many` in your own loop, is enough.
//! - **No fixed per-call cost**: batching only adds up to `max_delay` of latency.
//! - **Items that must not wait at all**: set `max_items(1)` and you have a bounded queue
//!   with `max_in_flight` concurrency; or call directly.
//!
//! # Batcher vs chunks_timeout, a recv_many loop and tower-batch
//!
//! | | per-item result | count limit | byte limit | delay since first item | in-flight cap + backpressure | final flush + report |
//! |---|---|---|---|---|---|---|
//! | `StreamExt::chunks_timeout` (tokio-stream) | no | yes | no | yes | n/a (pull) | flushes at stream end |
//! | `recv_many` loop | build it | yes | no | no | build it | build it |
//! | tower-batch (zebra) | yes | yes | no | yes | one flush at a time | no report |
//! | **`Batcher`** | [`BatchHandle`] | yes | yes | yes | `max_in_flight` | [`Batcher::shutdown`] |
//!
//! # Semantics
//!
//! - **Order.** A batch holds items in submission order, and the flush's `i`-th result
//!   goes to the `i`-th item. Batches start in order; with `max_in_flight > 1` they may
//!   finish out of order.
//! - **Byte limit.** An item that would push a batch past `max_bytes` starts the next
//!   batch; an item heavier than `max_bytes` alone is flushed alone (never dropped).
//! - **Errors.** A flush error reaches every item of its batch as
//!   [`BatchError::Flush`] (shared through an `Arc`); a panic as [`BatchError::Panicked`];
//!   a wrong number of results as [`BatchError::LengthMismatch`]. Nothing is retried
//!   behind your back; wrap the flush in [`crate::retry`] if it should be.
//! - **Time.** `max_delay` runs on tokio's timer, so `tokio::time::pause()` is the fake
//!   clock in tests (this module's tests use it).
//! - **Shutdown** ([`Batcher::shutdown`]) stops intake at once (from the moment it
//!   begins, every `submit` and `try_submit`, including one waiting for room, gets its
//!   item back ([`SubmitError`], [`TrySubmitError::Closed`]), even while the queue is
//!   still draining), flushes the batch being filled and everything queued, and waits
//!   until the deadline; flushes still running then are dropped and their items resolve to
//!   [`BatchError::Cancelled`]. After it, `accepted == succeeded + failed + cancelled`.
//!   Dropping every `Batcher` clone also flushes what is pending, without the report.
//! - **Cancel safety.** Dropping a `submit` future never queues the item; dropping a
//!   [`BatchHandle`] detaches it (the item is still flushed).
//!
//! # Cost
//!
//! A downstream that costs a fixed 50 µs per call and serves one call at a time; 1024
//! callers; same run, 2-vCPU VM (`cargo run --release -p throng-benches --bin scoreboard -- batch`):
//!
//! | case | `Batcher` | one call per item | ratio |
//! |---|---|---|---|
//! | `batch.1` | 17.7 k items/s | 18.9 k | 0.94x |
//! | `batch.16` | 271 k items/s | 19.1 k | 14.2x |
//! | `batch.256` | 2.02 M items/s | 18.8 k | 107x |
//!
//! (Scoreboard run of 2026-11-29 on a quiet machine; an earlier run under another build's
//! load measured 77x at 256, the batcher's own CPU cost then being the limit.)
//!
//! At 256 the downstream is no longer the limit (it is busy about 8% of the time); the
//! cost per item of a submit, its reply and the caller's wake-up is (about 1 µs of CPU).

mod batcher;
mod config;
mod error;
mod metrics;
mod task;

#[cfg(feature = "tower")]
pub(crate) use batcher::Msg;
pub use batcher::{BatchHandle, Batcher};
pub use config::BatcherBuilder;
#[allow(deprecated)]
pub use error::{BatchConfigError, Closed};
pub use error::{BatchError, InvalidBatcher, SubmitError, TrySubmitError};
pub use metrics::BatchMetrics;
