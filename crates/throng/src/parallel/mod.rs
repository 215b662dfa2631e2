//! Ordered parallel map and task groups with a concurrency limit.
//!
//! - [`ParMap`]: run an async function over an iterator with at most `limit` items in
//!   flight, spread over the runtime's worker threads, results in input order.
//!   [`try_map`](ParMap::try_map) stops at the first error (errgroup semantics),
//!   [`map_all`](ParMap::map_all) collects every outcome.
//! - [`Group`]: spawn tasks into a scope with an optional limit and wait for all of them;
//!   the first error cancels the scope (Go's `errgroup`, conc's `ErrorPool`).
//!
//! A panicking item or task becomes an [`ItemError::Panicked`] carrying its message (with
//! its index) and does not take the process down. A limit of 0 is an [`InvalidLimit`].
//!
//! # How it works
//!
//! A [`ParMap`] call spawns a few long-lived worker tasks (two per runtime thread, fewer
//! if `limit` is smaller) and deals the `limit` item slots out among them. A worker fills
//! each free slot with the next item and its index, pulled from the shared iterator under
//! a mutex, and polls an item only when that item's own waker fires (a small
//! `FuturesUnordered` with bounded, reused slots, created on demand). It keeps `(index, value)` in a local
//! vector, which it hands over when the input runs out; the call sleeps until the last
//! worker has ended (one wake-up), then scatters the values back into input order. So at
//! most `limit` items are in flight, they run on every thread of the runtime, and the
//! per-item cost is a lock, a poll and a push: no spawn, and no allocation of its own. The iterator is
//! pulled lazily: a million-item input never exists as a million futures.
//!
//! In fail-fast mode ([`try_map`](ParMap::try_map)) the first failing item records its
//! error, raises a stop flag (no worker starts another item), cancels the call's
//! [`CancellationToken`] (which [`try_map_with_token`](ParMap::try_map_with_token) hands to
//! each item) and wakes the call. The call aborts the other workers and waits until each
//! has been dropped, so no item outlives the call. Dropping the call aborts the workers
//! too (the aborts are requested; the runtime drops each item at its next `.await`).
//!
//! A [`Group`] spawns one task per [`spawn`](Group::spawn) into its own `JoinSet`. A task
//! that fails stores its error and cancels the group's token *itself*, so siblings hear
//! about it at once, not when the owner next polls. [`wait`](Group::wait) joins, and on
//! the first error aborts and joins the rest.
//!
//! Decisions:
//!
//! - *A few worker tasks with slots: not a spawn per item, not a task per slot, and not
//!   one task polling N futures.* One task (`buffered`) runs on one thread; a spawn per
//!   item (`JoinSet` + `Semaphore`) costs an allocation and a scheduler round trip per
//!   item. A first version ran `limit` single-item worker tasks: spawning 256 of them cost
//!   about 0.3 ms per call, which made I/O batches of 1 024 items 5 % slower than
//!   `buffered`. Two workers per thread keep every core busy (work is pulled, so a slow
//!   worker just takes fewer items) and the spawn cost constant.
//! - *Every worker is spawned, none runs inline in the caller.* Running worker 0 on the
//!   calling thread when called from `block_on` (which otherwise only waits) was tried:
//!   no measurable gain in the I/O case (ratio 1.01–1.02 vs 1.03–1.04 in alternating
//!   runs), and the call's future then holds the item future's type, which makes rustc
//!   lose `Send` for item closures taking references unless the worker is boxed.
//! - *No `JoinSet` for the workers.* The call keeps their abort handles in a small
//!   registry and each worker releases its own when it ends, so the task is freed on the
//!   worker's thread and the call waits for one wake-up instead of joining each worker.
//!   The registry's spawn / end / abort races are model-checked with loom
//!   (`tests/loom_parallel.rs`). A worker is counted out only after its items are
//!   dropped, which the fail-fast stress test checks.
//! - *Results are returned as a `Vec`, not streamed.* The workers buffer their results
//!   locally, so no reorder buffer or channel sits on the hot path. A streaming variant
//!   with a bounded reorder window is not provided (yet).
//! - *"First error" means first in time.* The error is recorded before the token is
//!   cancelled, so a sibling that fails *because* it was cancelled never masks the cause.
//! - *Panics are caught per item* (`catch_unwind` around creating and polling the future,
//!   and around the iterator's `next`) and returned as [`ItemError::Panicked`] with the
//!   message. The process's panic hook still runs, so the message is also printed to
//!   stderr as for any panic; install a hook if that is noise.
//! - *Cancellation is abort plus token.* Aborting drops an item at its next `.await`,
//!   which is enough for ordinary async items; the token reaches work an item handed to
//!   other tasks or threads. A [`Group`] cancelled from outside (not by an error) is
//!   cooperative: `wait` waits for its tasks, as in Go.
//! - *A limit of 0 is an [`InvalidLimit`]*, checked when the `ParMap` or `Group` is built;
//!   [`ParMap::with_limit`] takes a `NonZeroUsize` to rule it out by type.
//! - *A worker yields its thread after 128 item polls* (plus two per slot, so a round of
//!   completions and restarts over all its slots fits in one poll; with 128 flat, I/O
//!   waves of 64 items per worker hit the budget every time: three alternating runs gave
//!   1.04, 1.02, 0.99 against 1.05, 1.03, 1.03 with a larger budget, within noise), as tokio's coop budget does for its own resources, so items that never `.await` (CPU-bound items) cannot hold the thread
//!   until the input runs out. CPU-bound items still occupy the runtime's threads: prefer
//!   rayon (or `spawn_blocking`) if the runtime must stay responsive meanwhile.
//!
//! # When to use
//!
//! Use [`ParMap`] when you have a batch of inputs (URLs, files, keys), an async function
//! per input, a concurrency budget, and you want the outputs in input order, using every
//! core. Use [`try_map`](ParMap::try_map) when one failure makes the batch useless, and
//! [`map_all`](ParMap::map_all) when you want to report per item. Use [`Group`] when the
//! tasks are heterogeneous or discovered as you go (spawn as you walk a tree), and they
//! succeed or fail together.
//!
//! When not: for a handful of futures on one task with no need for parallelism,
//! `futures::future::try_join_all` or `buffered` are simpler and cheaper (no spawn, no
//! `'static` bound: they can borrow). For pure CPU work with no `.await`, rayon's
//! `par_iter().map().collect()` keeps order and does not occupy the async runtime's
//! threads. For a long-running service with a queue, use [`pool`](crate::pool).
//!
//! # ParMap and Group vs buffered, JoinSet + Semaphore, errgroup and conc
//!
//! | Tool | Parallel on all cores | Bounded | Order | First error cancels | Panics | `limit = 0` |
//! |---|---|---|---|---|---|---|
//! | `futures` `buffered(n)` | no: one task | yes | yes | `try_buffered`: stops polling the rest | unwind through the caller | hangs (futures#2348) |
//! | `JoinSet` + `Semaphore` | yes | yes (hand-rolled) | no: re-sort by index | hand-rolled | `JoinError::is_panic` | hangs forever |
//! | Go `errgroup` + `SetLimit` | yes | yes | no (index into a slice) | cancels the context, waits for all | crash | `SetLimit(0)` blocks forever |
//! | conc `iter.Map` / `pool.ErrorPool` | yes | yes | `Map`: yes | `WithCancelOnError` | re-panicked at `Wait` | `WithMaxGoroutines(0)` panics |
//! | [`ParMap`] | yes | yes | yes | aborts, joins, returns the cause | [`ItemError::Panicked`] | [`InvalidLimit`] |
//! | [`Group`] | yes | optional | values in spawn order | token + abort, joins | [`ItemError::Panicked`] | [`InvalidLimit`] |
//!
//! - *`buffered` vs `ParMap`.* `buffered` polls every future inside the task that polls
//!   the stream, so CPU-heavy items use one core, and a consumer that awaits between items
//!   starves them (futures#2387). Its futures may borrow; `ParMap`'s must be `'static`.
//! - *`JoinSet` vs `Group`.* A `JoinSet` hands results back in completion order and leaves
//!   limits, first-error handling and panics to you; a `Group` is a `JoinSet` with those
//!   decided (errgroup semantics).
//! - *[`Scope`](crate::cancel::Scope) vs `Group`.* A scope owns background tasks with a
//!   deadline and a graceful shutdown; a group runs a batch that succeeds or fails together.
//!
//! # Pitfalls avoided
//!
//! - **S14-1** (`workers = 0` returned empty results, `workers = -1` crashed): a limit of 0
//!   is [`InvalidLimit::ZeroLimit`], for [`ParMap::new`] and [`Group::with_limit`].
//! - **S14-2** (no error path, no cancellation, a panicking item crashes the process):
//!   per-item [`ItemError`] with the index; fail-fast and collect-all modes; panics
//!   caught and returned.
//! - **S14-3** (`ProcessWithChannels` spawned one goroutine per item): at most `limit`
//!   items are in flight and at most `min(limit, 2 × threads)` worker tasks exist,
//!   whatever the input size (a test counts in-flight items and the runtime's live tasks).
//! - **S14-4** (pass loop variables to goroutines) is n/a: Go 1.22 fixed it, and in Rust
//!   `move` closures own what they capture.
//!
//! # Cost
//!
//! Scoreboard on the 2-core build machine (shared with other builds), 2-worker runtime,
//! the batch run from `block_on`, best of 3 interleaved rounds, items/s (higher is
//! better), one undisturbed run:
//!
//! | Case | `ParMap` | `buffered` | `JoinSet` + `Semaphore` |
//! |---|---|---|---|
//! | `parallel.io`: 16 384 items awaiting a 1 ms timer, 256 in flight | 117 k | 114 k (1.02×) | 103 k (1.14×) |
//! | `parallel.cpu`: 400 items burning 20 µs of CPU, 8 in flight | 93 k | 51 k (1.82×) | 64 k (1.46×) |
//!
//! Over a dozen runs the ratio to `buffered` was 1.00–1.06 for `parallel.io` (mostly
//! 1.01–1.03) and 1.77–1.98 for `parallel.cpu` whenever no other build was running; runs
//! disturbed by another process on one core gave `parallel.cpu` as low as 0.88. The I/O
//! case uses 16 384-item batches; at 4 096 items the first engine (a task per slot, see
//! Decisions) measured 0.99–1.01, its per-call spawn cost showing.
//!
//! I/O-like items are bound by the timer (a 1 ms sleep waits for the next 1 ms tick, so a
//! wave of 256 items takes a bit over 2 ms): every tool is close to that ceiling, and
//! `ParMap` gains a little by handling each wave's wake-ups on two threads. CPU items show
//! the point: `buffered` runs them on one core, `ParMap` on both; a spawn per item gets
//! both cores too but pays for a task per item. A call has a fixed cost (spawning the
//! workers, waking a runtime thread when called from outside the runtime, and putting the
//! results in order): about 0.1 ms more than `buffered` before the first items start.
//! Already-ready items (criterion's `parallel/ready`, 1 024 items, 8 in flight) cost about
//! the same as `buffered`, ≈ 0.12 µs per item, against ≈ 1.7 µs with a spawn per item.
//!
//! CPU-bound comparisons need both cores: while another process keeps one core busy,
//! `ParMap` and a spawn per item can fall below `buffered` (seen in criterion and
//! scoreboard runs on the shared build machine), since one of their two threads waits for a core.
//!
//! Reproduce: `cargo run --release -p throng-benches --bin scoreboard -- parallel`, and
//! `cargo bench -p throng-benches --bench parallel` for criterion's view (including
//! already-ready items, which show the fixed cost of a call).
//!
//! # Examples
//!
//! The seed's "parallel processor", ten items on four workers, results in input order:
//!
//! ```
//! use throng::parallel::ParMap;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! let items: Vec<String> = (0..10).map(|i| format!("item-{i}")).collect();
//! let par = ParMap::new(4).expect("limit is not zero");
//! let out = par
//!     .try_map(items, |item| async move {
//!         tokio::task::yield_now().await; // the work
//!         Ok::<_, std::convert::Infallible>(format!("processed: {item}"))
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(out[0], "processed: item-0");
//! assert_eq!(out[9], "processed: item-9");
//! # }
//! ```

mod error;
mod group;
mod map;
mod worker;
mod workers;

#[allow(deprecated)]
pub use error::ConfigError;
pub use error::{InvalidLimit, ItemError, SpawnError, TrySpawnError};
pub use group::Group;
pub use map::ParMap;
pub use tokio_util::sync::CancellationToken;
