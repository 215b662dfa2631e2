//! tower adapters (feature `tower`): throng's rate limiter, breaker, backoff, pool and
//! batcher as tower layers, policies and services.
//!
//! Each adapter is there when its pattern's feature is on too (all of them with the
//! default `full`):
//!
//! - [`RateLimitLayer`] (`ratelimit`): a shared [`KeyedRateLimiter`](crate::ratelimit::KeyedRateLimiter)
//!   keyed by a function of the request; over-quota requests fail at once with
//!   [`RateLimitError::Limited`] carrying the retry-after. With the `http` feature,
//!   [`RateLimitLayer::http`] answers `429 Too Many Requests` with `Retry-After` instead.
//! - [`BreakerLayer`] (`breaker`): a shared [`Breaker`](crate::breaker::Breaker);
//!   `poll_ready` asks it (reserving a half-open probe slot), an open breaker fails the
//!   call at once with [`CallError::Rejected`](crate::breaker::CallError::Rejected), and
//!   a [classifier](Classify) turns each result into the verdict.
//! - [`BackoffPolicy`] (`retry`): a `tower::retry::Policy` from a
//!   [`Backoff`](crate::retry::Backoff): attempt limit, jittered delays, time budget, a
//!   predicate on the result, an optional retry-after hint.
//! - [`PoolService`] (`pool`) and [`BatchService`] (`batch`): a
//!   [`Pool`](crate::pool::Pool) or a [`Batcher`](crate::batch::Batcher) as a `Service`,
//!   `poll_ready` holding one slot of their bounded queue (backpressure, nothing buffered
//!   in the service), and `call` without it an error, never a panic.
//! - [`http`] (feature `http`): the `429`/`503` answers, and [`http::ServerErrors`], a
//!   breaker classifier that counts `5xx` responses as failures.
//!
//! All of them are `Clone` and share their state through an `Arc` (one limiter, one
//! breaker), so they need no `tower::buffer::Buffer` and keep working under axum, which
//! clones the service for every request.
//!
//! # Putting them together
//!
//! A typical client stack, outermost first: rate limit (refuse before doing any work),
//! retry, breaker, the upstream. With retry outside the breaker, every attempt is one
//! breaker call: while the breaker is open each attempt is refused in nanoseconds, so
//! make the retry predicate stop on [`CallError::Rejected`](crate::breaker::CallError::Rejected)
//! (or wait its `retry_after`). With the breaker outside, it would see only the final
//! outcome of each retried request and trip later.
//!
//! ```
//! use std::time::Duration;
//! use throng::breaker::{Breaker, CallError};
//! use throng::clock::TokioClock;
//! use throng::retry::Backoff;
//! use throng::tower::{BackoffPolicy, BreakerLayer};
//! use tower::retry::RetryLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let breaker = Breaker::builder()
//!     .consecutive_failures(3)
//!     .cool_down(Duration::from_secs(30))
//!     .clock(TokioClock::new())
//!     .build()?;
//! let upstream = service_fn(|id: u32| async move {
//!     if id == 0 { Err("upstream down") } else { Ok(format!("item {id}")) }
//! });
//! // Retry only the upstream's own errors, never the breaker's refusals.
//! let policy = BackoffPolicy::new(Backoff::default())
//!     .retry_if(|r: &Result<String, CallError<&str>>| matches!(r, Err(CallError::Inner(_))));
//! let client = RetryLayer::new(policy).layer(BreakerLayer::new(breaker.clone()).layer(upstream));
//!
//! assert_eq!(client.clone().oneshot(7).await.unwrap(), "item 7");
//! // Three attempts fail: the breaker trips on the third.
//! assert!(matches!(client.clone().oneshot(0).await, Err(CallError::Inner("upstream down"))));
//! // Now refused at once, not retried.
//! assert!(matches!(client.oneshot(7).await, Err(CallError::Rejected(_))));
//! # Ok(())
//! # }
//! ```
//!
//! `examples/axum_service.rs` serves an axum app with the rate limit keyed by client IP
//! or API key, and the breaker and the retry policy in front of a flaky upstream.
//!
//! # throng::tower vs tower-governor and tower-resilience
//!
//! | | `throng::tower` | [tower-governor](https://docs.rs/tower_governor) 0.8 | [tower-resilience](https://docs.rs/tower-resilience) 0.13 |
//! |---|---|---|---|
//! | What it is | adapters over throng's own patterns | governor (GCRA) as an HTTP rate-limit layer | Resilience4j's patterns as tower layers |
//! | Rate limit | per key, any request type, key from a closure | per key for `http::Request`, key extractors (peer IP, forwarded headers, global, custom) | a rate-limiter layer |
//! | Memory of a keyed limit | bounded: a key cap, idle keys pruned as it goes | grows until you call governor's `retain_recent` (its docs spawn a task for it) | n/a |
//! | Refusal | typed error with the retry-after, or `429` + `Retry-After` | `429` with `x-ratelimit-after` / `retry-after` headers (or custom) | typed error |
//! | Circuit breaker | consecutive failures and/or failure rate over a count or time window, slow calls, growing cool-down, exactly k probes | none | failure rate over a count window, minimum calls, k half-open calls, force open/close |
//! | Cancelled call | not counted, probe slot freed | n/a | depends on its classifier |
//! | Retry | `tower::retry::Policy` from a jittered, validated [`Backoff`](crate::retry::Backoff) | none | its own retry layer |
//! | Worker pool / batcher as a `Service` | yes, `poll_ready` = a reserved queue slot | no | a bulkhead (concurrency limit) |
//! | Also | | headers for remaining quota | time limiter, hedge, cache, fallback, bulkhead, chaos |
//!
//! **Choose tower-governor** if all you need is an HTTP rate limit with ready-made IP
//! extractors and `x-ratelimit-*` headers, and you already run governor. **Choose
//! tower-resilience** if you want the Resilience4j vocabulary and its wider set of
//! layers (bulkhead, hedging, fallback) in one crate. **Choose `throng::tower`** if you
//! use throng's patterns anyway, need a keyed limit whose memory is bounded without a
//! cleanup task, a breaker that trips on consecutive failures as well as rates with
//! cancellation not counted, or a pool or batcher behind a `Service` with real
//! backpressure. Plain tower has `limit::RateLimit` (a fixed window per service clone,
//! which does not limit under axum), `retry`, and no breaker.
//!
//! # Cost
//!
//! Each layer adds, per request, the pattern's own cost (a keyed limiter check: one
//! clock read, a shard read lock and a CAS on a known key; a breaker permit: a couple of
//! atomics when closed) plus the tower plumbing: cloning the service (an `Arc`
//! increment per layer, which is what axum does for every request) and, for the
//! breaker, an owned permit (one more `Arc` increment, so the response future is
//! `'static`). No response future is boxed; `PoolService` and `BatchService` box one
//! future only while waiting for room in a full queue.
//!
//! Measured with `cargo run --release -p throng --example tower_cost --features tower`:
//! `oneshot` on a clone of the service over a ready `service_fn`, one thread, best of
//! several runs on the shared 2-core build machine while other builds ran (load average
//! about 7; treat every number as ±50 %, and compare within the table):
//!
//! | per request | time |
//! |---|---|
//! | bare `service_fn` (the compiler sees through it) | 2 ns |
//! | [`RateLimitLayer`], one hot key | 87 ns |
//! | [`BreakerLayer`], closed | 93 ns |
//! | for reference: [`Breaker::call`](crate::breaker::Breaker::call), no tower | 27 ns |
//! | for reference: `try_acquire_owned` + `success`, no tower | 18 ns |
//! | [`PoolService`], 1 worker, the job awaited (a cross-task round trip) | 1.2 µs |
//!
//! So a layer costs about 0.1 µs a request, most of it the per-request clone and the
//! owned permit; next to an HTTP request (tens of microseconds at least) it is noise.

#[cfg(feature = "batch")]
mod batch;
#[cfg(feature = "breaker")]
mod breaker;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "pool")]
mod pool;
#[cfg(feature = "ratelimit")]
mod ratelimit;
#[cfg(feature = "retry")]
mod retry;

#[cfg(feature = "batch")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tower", feature = "batch"))))]
pub use batch::{BatchFuture, BatchService, BatchServiceError};
#[cfg(feature = "breaker")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tower", feature = "breaker"))))]
pub use breaker::{AnyErr, BreakerFuture, BreakerLayer, BreakerService, Classify};
#[cfg(feature = "pool")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tower", feature = "pool"))))]
pub use pool::{PoolFuture, PoolService, PoolServiceError};
#[cfg(feature = "ratelimit")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tower", feature = "ratelimit"))))]
pub use ratelimit::{RateLimit, RateLimitError, RateLimitFuture, RateLimitLayer, RateLimited};
#[cfg(feature = "retry")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tower", feature = "retry"))))]
pub use retry::{BackoffPolicy, NoHint, RetryAfterHint, RetryErrors, RetryResult};
