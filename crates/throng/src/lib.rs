//! Concurrency patterns for high-throughput services, built on tokio.
//!
//! # At a glance
//!
//! - Use [`Counter`](counter::Counter) if many threads bump one number (request totals,
//!   bytes sent) and reads are rare: it shards the count over cache-padded slots.
//! - Use [`KeyedCounters`](keyed::KeyedCounters) if you count per key (requests per user),
//!   need per-interval deltas with nothing lost, and must bound the key space.
//! - Use [`periodic`] if something must run every interval until shutdown, with one
//!   last run on the way out.
//! - Use [`dump`] if you want the seed's "dump counters every N seconds" worker:
//!   keyed counters, a period, a sink, and a final flush.
//! - Use [`Keeper`](keeper::Keeper) if one task should own some state and others talk to
//!   it through a bounded mailbox (the actor / resource-keeper pattern).
//! - Use [`Latch`](signal::Latch) for a one-shot "it happened" signal (ready, shutdown) and
//!   [`Event`](signal::Event) for a re-armable one whose waiters can tell generations apart.
//! - Use [`Scope`](cancel::Scope) if work must stop on cancellation *or* a deadline and
//!   you need to know which, with timeouts that cancel what they abandon.
//! - Use [`retry`](retry::retry) for exponential backoff with jitter, a retry predicate,
//!   cancellable sleeps and a total time budget.
//! - Use [`Pool`](pool::Pool) for a bounded worker pool: jobs from anywhere, at most N at
//!   a time, a queue that says "full" (and hands the job back), a handle per job, and a
//!   shutdown that accounts for every job.
//! - Use [`Batcher`](batch::Batcher) when many callers each need an answer from a
//!   downstream whose every call has a fixed cost: it groups their items into batches
//!   (by count, bytes or delay) and hands each caller its own result.
//! - Use a [`Pipeline`](pipeline::Pipeline) when work flows through steps of different
//!   cost: each stage gets its own workers, bounded queues carry backpressure to the
//!   producer, one error stops every stage, and per-stage metrics show the bottleneck.
//! - Use [`KeyedRateLimiter`](ratelimit::KeyedRateLimiter) to cap how often each user or IP
//!   may do something (GCRA, one atomic per key, a key cap with idle keys pruned), and
//!   [`RateLimiter`](ratelimit::RateLimiter) for one shared rate; both say when to retry.
//! - Use [`Broadcaster`](broadcast::Broadcaster) for pub-sub where each subscriber chooses
//!   what happens when it falls behind, and [`Hub`](broadcast::Hub) for many topics
//!   (chat rooms).
//! - Use [`ParMap`](parallel::ParMap) if you want to run an async function over many inputs
//!   with at most N in flight, on every core, results in input order, the first error
//!   cancelling the rest; and [`Group`](parallel::Group) for errgroup-style tasks that
//!   succeed or fail together.
//! - Use [`Breaker`](breaker::Breaker) for a circuit breaker in front of a downstream:
//!   trips on consecutive failures or a failure rate over a sliding window, rejects fast
//!   while open, probes when half-open; cancelled calls are not failures.
//! - Use the `throng::tower` adapters (feature `tower`) to put the rate limiter,
//!   the breaker or the backoff in front of a tower/axum service, or a pool or batcher
//!   behind one.
//! - Use [`Cache`](cache::Cache) for a bounded concurrent cache (S3-FIFO, weights,
//!   TTL/TTI on an injectable clock) whose `get_or_load` runs one loader per key even
//!   when the leading caller is cancelled.
//!
//! Each module's docs say when to use it, when a std or tokio primitive is the better
//! choice, what it costs (measured), and which pitfall of the Go original it avoids.
//!
//! # Features
//!
//! One Cargo feature per pattern (`counter`, `keyed`, `periodic`, `dump`, `keeper`,
//! `signal`, `broadcast`, `cancel`, `retry`, `parallel`, `pool`, `ratelimit`, `breaker`,
//! `cache`, `batch`, `pipeline`; `clock`, `tokio-clock` and `quanta-clock` are pulled in
//! by the time-driven ones), and `full` (the default) for all of them. Integrations, off
//! by default:
//!
//! | feature | adds | dependencies |
//! |---|---|---|
//! | `tower` | `throng::tower`: rate-limit and breaker layers, a retry policy from `Backoff`, `Pool` and `Batcher` as services | `tower` (retry), `pin-project-lite` |
//! | `http` | `tower::http`: 429/503 answers with `Retry-After`, a `5xx` breaker classifier (implies `tower`) | `http` |
//! | `tracing` | pool and pipeline work in the caller's span; breaker transitions and retries as events | `tracing` |
//! | `metrics` | pool queue depth and jobs, breaker state, rate-limit refusals through the `metrics` facade | `metrics` |
//!
//! The docs on docs.rs are built with every feature; each item says which it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[cfg(any(feature = "cancel", feature = "parallel"))]
pub(crate) mod abort;
pub(crate) mod panic;
pub(crate) mod sync;

#[cfg(feature = "clock")]
#[cfg_attr(docsrs, doc(cfg(feature = "clock")))]
pub mod clock;

#[cfg(feature = "counter")]
#[cfg_attr(docsrs, doc(cfg(feature = "counter")))]
pub mod counter;

#[cfg(feature = "keyed")]
#[cfg_attr(docsrs, doc(cfg(feature = "keyed")))]
pub mod keyed;

#[cfg(feature = "periodic")]
#[cfg_attr(docsrs, doc(cfg(feature = "periodic")))]
pub mod periodic;

// tokio has no `fs` under `--cfg loom`; the dumper has no loom model of its own.
#[cfg(all(feature = "dump", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "dump")))]
pub mod dump;

#[cfg(feature = "keeper")]
#[cfg_attr(docsrs, doc(cfg(feature = "keeper")))]
pub mod keeper;

#[cfg(feature = "signal")]
#[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
pub mod signal;

#[cfg(feature = "broadcast")]
#[cfg_attr(docsrs, doc(cfg(feature = "broadcast")))]
pub mod broadcast;

#[cfg(feature = "cancel")]
#[cfg_attr(docsrs, doc(cfg(feature = "cancel")))]
pub mod cancel;

#[cfg(feature = "retry")]
#[cfg_attr(docsrs, doc(cfg(feature = "retry")))]
pub mod retry;

#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub mod parallel;

#[cfg(feature = "pool")]
#[cfg_attr(docsrs, doc(cfg(feature = "pool")))]
pub mod pool;

#[cfg(feature = "ratelimit")]
#[cfg_attr(docsrs, doc(cfg(feature = "ratelimit")))]
pub mod ratelimit;

#[cfg(feature = "breaker")]
#[cfg_attr(docsrs, doc(cfg(feature = "breaker")))]
pub mod breaker;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;

#[cfg(feature = "batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "batch")))]
pub mod batch;

#[cfg(feature = "pipeline")]
#[cfg_attr(docsrs, doc(cfg(feature = "pipeline")))]
pub mod pipeline;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

/// The crate README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
