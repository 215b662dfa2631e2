//! A bounded concurrent cache: S3-FIFO eviction, weights, time-to-live and time-to-idle on
//! an injectable clock, and single-flight loading that survives a cancelled leader.
//!
//! - [`Cache`]: `get` / `insert` / `insert_with_weight` / `remove` / `len` from any thread
//!   (`&self`, cheap to clone and share), plus async [`get_or_load`](Cache::get_or_load) /
//!   [`try_get_or_load`](Cache::try_get_or_load).
//! - [`CacheBuilder`]: `max_capacity` (entries, or total weight), `time_to_live`,
//!   `time_to_idle`, `shards`, `clock`; [`build`](CacheBuilder::build) returns a
//!   [`InvalidCache`] for a zero capacity, zero shards or a zero duration.
//!
//! # When to use
//!
//! Use a [`Cache`] when many threads or tasks read a bounded set of expensive values
//! (database rows, remote lookups, parsed templates) and a hit must be cheap: a hit takes
//! one shard's *read* lock, a relaxed atomic and a clone of the value. Use
//! [`get_or_load`](Cache::get_or_load) when a miss triggers expensive work that must not
//! run once per concurrent caller (the thundering herd on a cold key).
//!
//! When not:
//! - the key space is small and fixed and nothing must be evicted: a plain map behind a
//!   `RwLock` (or `OnceLock`s) is simpler and as fast;
//! - a single thread owns the data: `hashbrown::HashMap` or an LRU crate without locks;
//! - values are large: store `Arc<T>` (values are cloned out on every hit);
//! - you need an eviction listener, per-entry expiry policies or an entry API: use moka.
//!
//! # Cache vs `Mutex<LruCache>`, dashmap, moka and quick_cache
//!
//! | | hit path | eviction | TTL / TTI | single-flight | leader cancelled |
//! |---|---|---|---|---|---|
//! | `Mutex<LruCache>` | exclusive lock (an LRU hit moves the entry) | LRU | no | no | n/a |
//! | `RwLock<HashMap>` / dashmap | shard read lock | none: grows without bound | no | no | n/a |
//! | [moka](https://docs.rs/moka) | lock-free map + a read log drained by housekeeping | TinyLFU admission + LRU | yes, and per-entry | `get_with` | waiters wait for the stalled or gone leader's future (moka#240) |
//! | [quick_cache](https://docs.rs/quick_cache) | shard read lock | S3-FIFO | no (README points to moka) | placeholder guards | the guard passes to one waiter |
//! | [`Cache`] | shard read lock + relaxed atomic | S3-FIFO | yes, injectable clock | `get_or_load` | a waiter takes over and runs its own loader |
//!
//! - *`Mutex<LruCache>` vs `Cache`.* LRU must reorder on every hit, so every hit is a
//!   write under one lock: fine for one thread, a bottleneck for many. S3-FIFO only bumps a
//!   2-bit counter on a hit.
//! - *A concurrent map vs `Cache`.* A map never forgets; with a bound added by hand (clear
//!   when full, random eviction), the hit ratio drops well below a policy's.
//! - *moka vs `Cache`.* moka is the full-featured choice (listeners, per-entry expiry,
//!   entry API, async and sync flavours). `Cache` is several times faster on hits (see
//!   Cost), its housekeeping is a few steps per insert rather than batched (moka#498 reports
//!   latency spikes from batched maintenance), and its single-flight does not stall on a
//!   cancelled leader.
//! - *quick_cache vs `Cache`.* Same design family (sharded, read-locked hits, S3-FIFO).
//!   quick_cache has more knobs (pinning, lifecycle hooks, an unsync flavour) and hands a
//!   dropped placeholder guard to a waiter as `Cache` does; `Cache` adds TTL/TTI on an
//!   injectable clock, and a failed load reaches all its waiters at once (with
//!   quick_cache each waiter receives the guard in turn and loads again, so N waiters on
//!   a failing backend make N calls).
//!
//! # Semantics
//!
//! - **Bound.** The capacity is split exactly over the shards (shard `i` holds
//!   `max_capacity / shards`, plus one for the first `max_capacity % shards`), and each
//!   shard evicts before its insert returns, so [`len`](Cache::len) and
//!   [`weighted_size`](Cache::weighted_size) never exceed `max_capacity`, not even
//!   transiently. The price: a full cache is full *per shard*, so it may evict while the
//!   total is a little below the bound, and an entry may weigh at most one shard's share
//!   ([`max_entry_weight`](Cache::max_entry_weight); use `.shards(1)` for a few heavy
//!   entries).
//! - **Eviction.** S3-FIFO per shard (see the `policy` source): new keys enter a small
//!   FIFO (10 % of the shard); a key read while there moves to the main FIFO, one that
//!   was not is evicted at once and remembered in a ghost list of hashes, so that it goes
//!   straight to main if it comes back. Main is a CLOCK with a 2-bit count. One-hit
//!   wonders and scans flush through the small queue without displacing the hot set.
//! - **Expiry.** Time-to-live counts from the insert (a replace restarts it); time-to-idle
//!   from the last read or write. Times come from the cache's [`Clock`](crate::clock::Clock)
//!   ([`MonotonicClock`](crate::clock::MonotonicClock) by default,
//!   [`ManualClock`](crate::clock::ManualClock) or [`TokioClock`](crate::clock::TokioClock)
//!   in tests). An expired entry is never returned. It is removed by the lookup that meets
//!   it, by eviction (expired entries go first whatever their count) or by
//!   [`purge_expired`](Cache::purge_expired); until then it counts in `len`. There is no
//!   background task. Without TTL or TTI the clock is never read.
//! - **Concurrent calls on the same key** ([`get_or_load`](Cache::get_or_load)): at most
//!   one loader runs per key at a time. Callers that miss while it runs wait for its
//!   value. If the leading caller's future is dropped (cancelled, timed out) or its loader
//!   panics, one waiter becomes the leader and runs *its own* loader; the others keep
//!   waiting; so a loader runs again, but never two at once and nobody waits on a load
//!   that nobody runs. A loader error goes to the leader and to every waiter (cloned) and
//!   is not cached: the next call loads again.
//!   A leader that is neither polled nor dropped still holds its waiters (no crate can
//!   detect that); run loads in a spawned task if callers may stop polling.
//! - **`insert` vs `get_or_load`.** An `insert` during a load is overwritten when the
//!   load finishes (last write wins).
//! - **`len` and `weighted_size`** visit the shards one at a time: exact when nobody
//!   writes, approximate under concurrent writes.
//!
//! # Pitfalls avoided
//!
//! - **S16-5** (the seed calls in-memory caches "essential" and has none): this is the
//!   cache, with the single-flight the seed's motivation implies.
//! - **S8-2** (a global `RWMutex` read lock on every access contends on one cache line):
//!   reads lock one of many shards, and a hit writes nothing shared once its entry's
//!   count is saturated (hot keys).
//! - moka#240 (single-flight stalls on a dropped leader): leadership is handed to a
//!   waiter, tested in `tests/cache_load.rs`
//!   (`cancelled_leader_hands_over_to_a_waiter_and_nobody_hangs`,
//!   `a_leader_timed_out_by_its_caller_hands_over`, `a_panicking_loader_hands_over_to_a_waiter`).
//! - moka#497 (`try_get_with` returns `Arc<E>`): `try_get_or_load` returns your `E`
//!   (`E: Clone`; use `Arc<E>` yourself if it is not).
//! - Misuse is a typed error, never a panic: zero capacity, shards or durations
//!   ([`InvalidCache`]), a zero or too-large weight ([`InsertError`], which hands the key and
//!   value back).
//!
//! # Cost
//!
//! Measured on the 2-core build machine while other builds ran (treat as ±20 %),
//! criterion, `u64` keys and values, a Zipf(0.99) trace over 100 000 resident keys:
//!
//! | Operation | `Cache` | quick_cache | moka |
//! |---|---|---|---|
//! | `get` (hit), 1 thread | ≈ 28 ns (36 M/s) | ≈ 43 ns (23 M/s) | ≈ 580 ns (1.7 M/s) |
//! | `get` (hit), 2 threads, total | 29 M/s | 20 M/s | 1.7 M/s |
//! | `insert` of a new key into a full cache (evicts) | ≈ 165 ns | ≈ 90 ns | ≈ 1.9 µs |
//! | `get_or_load` on a hit (vs moka `future::Cache::get_with`) | ≈ 35 ns | | ≈ 420 ns |
//!
//! Scoreboard, same run: `cache.get` (2 threads, hits/s) 35.9 M vs quick_cache 25.1 M
//! (1.43×) and moka 2.2 M. Hit ratio (`cache.hitratio.*`, one thread replaying 2 000 000
//! requests, insert on miss): at a capacity of 1 % of the keys `Cache` 58.7 %, moka
//! 57.4 %, quick_cache 59.2 %; at 10 %: 77.7 %, 77.7 %, 78.0 %. An insert costs more
//! than quick_cache's (the ghost list is a hash set plus a FIFO); hits are where a cache
//! spends its time.
//!
//! Reproduce: `cargo run --release -p throng-benches --bin scoreboard -- cache` and
//! `cargo bench -p throng-benches --bench cache`.
//!
//! # Examples
//!
//! A cache of user names with a one-minute TTL, loaded on a miss; ten concurrent requests
//! for one user run one query:
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use throng::cache::Cache;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let cache: Cache<u64, Arc<str>> = Cache::builder(10_000)
//!     .time_to_live(Duration::from_secs(60))
//!     .build()
//!     .expect("valid config");
//! let queries = Arc::new(AtomicUsize::new(0));
//!
//! let mut tasks = Vec::new();
//! for _ in 0..10 {
//!     let (cache, queries) = (cache.clone(), queries.clone());
//!     tasks.push(tokio::spawn(async move {
//!         cache
//!             .get_or_load(42, || async move {
//!                 queries.fetch_add(1, Ordering::Relaxed);
//!                 tokio::time::sleep(Duration::from_millis(5)).await; // the "database"
//!                 Arc::<str>::from("ada")
//!             })
//!             .await
//!     }));
//! }
//! for t in tasks {
//!     assert_eq!(&*t.await.unwrap(), "ada");
//! }
//! assert_eq!(queries.load(Ordering::Relaxed), 1);
//! assert_eq!(cache.get(&42).as_deref(), Some("ada"));
//! # }
//! ```

mod builder;
#[allow(clippy::module_inception)]
mod cache;
mod error;
mod expiry;
mod loader;
mod policy;
mod shard;

pub use builder::CacheBuilder;
pub use cache::Cache;
#[allow(deprecated)]
pub use error::BuildError;
pub use error::{InsertError, InvalidCache};
