//! Pipelines: typed stages joined by bounded queues, each stage with its own worker count,
//! ordered or unordered output, one error or a cancellation stopping every stage, and
//! per-stage metrics that show the bottleneck.
//!
//! ```
//! use throng::pipeline::Pipeline;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (input, mut output, handle) = Pipeline::builder::<String, String>(64)
//!     .stage("parse", 2, |line: String, _token| async move {
//!         line.trim().parse::<u64>().map_err(|e| e.to_string())
//!     })
//!     .stage("square", 4, |n: u64, _token| async move { Ok(n * n) })
//!     .ordered()
//!     .spawn()?;
//! tokio::spawn(async move {
//!     for line in ["1", "2", "3"] {
//!         input.send(line.to_string()).await.ok();
//!     }
//!     // `input` dropped here: the stages finish and the output ends.
//! });
//! let mut squares = Vec::new();
//! while let Some(n) = output.recv().await {
//!     squares.push(n);
//! }
//! assert_eq!(squares, [1, 4, 9]);
//! let stages = handle.join().await?;
//! assert_eq!(stages[1].emitted, 3);
//! # Ok(())
//! # }
//! ```
//!
//! # When to use
//!
//! Use a pipeline when work flows through steps with different costs (parse, call a
//! service, write) and you want each step to run with its own concurrency, bounded memory
//! between steps, and backpressure from the slowest step to the producer. The seed names
//! pipelining as essential and never builds it.
//!
//! When not:
//! - **One step**: a [`Pool`](crate::pool::Pool) (jobs from many places) or
//!   [`parallel`](crate::parallel) (a known batch of inputs).
//! - **Steps that are all cheap and CPU-bound**: do them in one function; a queue per
//!   step costs more than the step (about a microsecond per item per stage here).
//! - **A single task streaming through adapters** (`StreamExt::map` / `buffered`): fine
//!   when one task's concurrency is enough; it gives no parallelism across cores.
//!
//! # Pipeline vs hand-wired mpsc stages, StreamExt and pumps
//!
//! | | per-stage workers | bounded queues | ordered output | first error stops all | per-stage metrics |
//! |---|---|---|---|---|---|
//! | hand-wired `mpsc` + `spawn` | by hand | yes | by hand | by hand | by hand |
//! | `StreamExt` chain + `buffered(n)` | one task | implicit | `buffered` | `try_` adapters | no |
//! | `pumps` (0.0.x) | yes | yes | yes | partly | no |
//! | **`Pipeline`** | `stage(name, workers, f)` | `capacity` each | [`ordered`](PipelineBuilder::ordered), bounded window | [`PipelineError`] | [`StageMetrics`] |
//!
//! # Semantics
//!
//! - **Queues.** The input and each stage's output are bounded tokio channels of
//!   `capacity` items. A stage's workers share its input queue. When a stage is slow its
//!   input queue fills, the stage before it blocks on sending, and so on back to
//!   [`PipelineInput::send`]: backpressure. Its input queue being full and its
//!   [`utilization`](StageMetrics::utilization) near 1 is the bottleneck's signature
//!   ([`PipelineHandle::bottleneck`]).
//! - **Order.** Unordered (the default) output is completion order. Ordered output is
//!   input order: the first stage numbers items as it takes them, the output re-sequences
//!   them, and the first stage never takes an item more than `capacity` ahead of the
//!   output, so the reorder buffer is bounded and cannot deadlock the queues.
//! - **Errors.** A stage function returns `Result<Next, E>`; the first `Err` or panic is
//!   recorded with its stage name, the shared token is cancelled, every worker stops at
//!   its next await, items in flight are dropped, the input refuses new items (handing
//!   them back in [`SendError`]), the output ends, and [`PipelineHandle::join`] returns the
//!   error.
//! - **Cancellation.** [`PipelineHandle::cancel`] (or the token) stops everything the
//!   same way, and `join` returns [`PipelineError::Cancelled`]. Dropping the handle
//!   cancels too: every task has an owner.
//! - **Completion.** Drop every [`PipelineInput`]: each stage drains its queue, its
//!   workers exit, the next stage sees its queue close, and finally the output ends and
//!   `join` returns the per-stage counters.
//!
//! # Cost
//!
//! Criterion, 2-core VM, quiet machine (`cargo bench -p throng-benches --bench pipeline`):
//! 10 000 items through three trivial stages (2, 2 and 1 workers, queues of 64) against
//! the same shape hand-wired from tokio `mpsc` channels and tasks sharing each receiver
//! behind a `tokio::sync::Mutex`:
//!
//! | | `Pipeline` unordered | `Pipeline` ordered | hand-wired `mpsc` |
//! |---|---|---|---|
//! | time per 10 000 items | 29.6 ms | 21.2 ms | 16.0 ms |
//! | items/s | 338 k | 472 k | 625 k |
//!
//! So about 0.5 to 1.4 µs more per item than bare channels, for three stages: per item
//! and stage the pipeline reads the clock twice (busy time), counts into its worker's own
//! counters (one cache line per worker, summed when [`metrics`](PipelineHandle::metrics)
//! reads them) and checks its worker's cancellation. That matters only for stages doing
//! well under a few microseconds of work; for anything that does I/O it is noise. Two
//! changes measured on the way: each worker waits on a child token of its own (with every
//! worker registering on the one shared token the bench took 87 ms unordered and 50 ms
//! ordered on a busier machine), and per-worker counters instead of shared atomics
//! (31.4 and 24.0 ms before, same session).

mod builder;
mod error;
mod metrics;
#[allow(clippy::module_inception)]
mod pipeline;
mod queue;
mod stage;

pub use builder::PipelineBuilder;
pub use error::{InvalidPipeline, PipelineError, SendError, TrySendError};
#[allow(deprecated)]
pub use error::{PipelineConfigError, Stopped};
pub use metrics::StageMetrics;
pub use pipeline::{Pipeline, PipelineHandle, PipelineInput, PipelineOutput};
