//! A sharded, cache-padded counter for numbers that many threads bump and few read.
//!
//! [`Counter`] spreads one logical `u64` over several [`CachePadded`] atomic slots. Each
//! thread adds to "its" slot (a stable per-thread index), so two threads counting at the
//! same time touch different cache lines instead of fighting over one. Reading
//! ([`Counter::sum`]) adds the slots up; [`Counter::take`] reads and resets them so a
//! periodic reporter can emit per-interval deltas.
//!
//! # When to use
//!
//! Use it for write-heavy totals: requests served, bytes sent, errors seen, where
//! increments happen on every request and the value is read once a second or so.
//!
//! Don't use it when the value is read as often as it is written, when you need an
//! exact point-in-time value across threads (a rate limiter's budget, a sequence number,
//! "is this the 1000th request?"), or when memory matters more than write throughput
//! (each slot takes a full cache line, 128 bytes on x86-64). Use an
//! [`AtomicU64`] for those.
//!
//! # Mutex vs atomic vs sharded
//!
//! - `Mutex<u64>`: every increment takes and releases a lock, and under contention a
//!   thread may be parked by the OS. It is the slowest, and only worth it when the counter
//!   is updated together with other state under the same lock.
//! - One [`AtomicU64`] with `fetch_add(1, Relaxed)`: no lock,
//!   but every core performs its read-modify-write on the *same* cache line, which has to
//!   travel between cores on every increment. It is fast on one thread and stops scaling
//!   as soon as two cores hammer it (the seed's "single CPU instruction, no locks! much
//!   faster than mutex" ignores this).
//! - [`Counter`]: each thread's increment stays in its own core's cache. Writes scale with
//!   cores; reads cost one load per shard.
//!
//! Against its neighbours in throng: [`KeyedCounters`](crate::keyed::KeyedCounters) counts
//! per key (requests per user) and builds on the same ideas; `Counter` is for one total.
//!
//! # Guarantees
//!
//! - Every [`add`](Counter::add) is counted exactly once: by the first
//!   [`take`](Counter::take) that runs after it, or by the final value.
//!   `take` resets each shard with one atomic swap, so an increment racing with a take
//!   lands either before the swap (and is in this take) or after it (and is in the next).
//! - [`sum`](Counter::sum) and [`take`](Counter::take) visit the shards one after another,
//!   so they are **not** a point-in-time cut across shards: increments made while the read
//!   is in progress may or may not be included. Once writers have stopped (joined),
//!   `sum` is exact.
//! - Arithmetic wraps modulo 2^64, like `AtomicU64::fetch_add`.
//!
//! # Pitfalls avoided
//!
//! - **S1-1**: the seed's `SafeCounter` holds its mutex by value, so a copy silently
//!   splits the count in two. `Counter` is not `Clone` (and not `Copy`); share it through
//!   an `Arc` (or a `&Counter` with scoped threads):
//!
//!   ```compile_fail
//!   let c = throng::counter::Counter::new();
//!   let copy = c.clone(); // error: Counter is not Clone
//!   ```
//! - **S1-2**: the seed says unsynchronised access "loses updates". It is worse than that:
//!   it is a data race, undefined behaviour. In Rust it does not compile, and `Counter`
//!   only exposes `&self` methods that are safe to call from any thread:
//!
//!   ```compile_fail
//!   let mut n = 0u64;
//!   std::thread::scope(|s| {
//!       s.spawn(|| n += 1);
//!       s.spawn(|| n += 1); // error: cannot borrow `n` as mutable more than once
//!   });
//!   ```
//! - **S2-1**: a single atomic stops scaling under contention; `Counter` is the sharded,
//!   cache-padded alternative, with 64-bit typed atomics.
//! - **S2-2**: the seed has no read-and-reset; [`take`](Counter::take) is one, with no
//!   increment lost or counted twice.
//!
//! # Cost
//!
//! Measured on the shared 2-vCPU build VM while other builds ran (noisy; best of 5
//! interleaved rounds per run, several runs):
//!
//! | `counter.contended`, 2 threads | increments/s |
//! |---|---|
//! | `Counter::inc` | ≈ 1.9–2.4 × 10^8 (when both cores are free) |
//! | one shared `AtomicU64::fetch_add` | ≈ 5–7 × 10^7 when the threads run on two cores |
//! | `Mutex<u64>` | ≈ 2–5 × 10^7 |
//!
//! That is 2.9–3.6× a shared atomic when both cores were free (one uncontended
//! `lock xadd` costs about 9 ns on this VM, a contended one about 40 ns). When the VM
//! ran both threads on one core the atomic did not bounce and was as fast as or faster
//! than `Counter` (up to 1.2 × 10^8/s): sharding only pays when writers really run in
//! parallel. With one thread, `Counter::inc` costs about 10 ns (a call, a thread-local
//! read and the `lock xadd`), the same as an `AtomicU64` within noise. `sum` costs about
//! 6 ns and `take` about 90 ns with the default 8 shards. Reproduce with
//! `cargo run --release -p throng-benches --bin scoreboard -- counter` and
//! `cargo bench -p throng-benches --bench counter`.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use throng::counter::Counter;
//!
//! let requests = Arc::new(Counter::new());
//! let handles: Vec<_> = (0..4)
//!     .map(|_| {
//!         let requests = Arc::clone(&requests);
//!         std::thread::spawn(move || {
//!             for _ in 0..1000 {
//!                 requests.inc();
//!             }
//!         })
//!     })
//!     .collect();
//! for h in handles {
//!     h.join().unwrap();
//! }
//! assert_eq!(requests.sum(), 4000);
//! assert_eq!(requests.take(), 4000); // read and reset
//! assert_eq!(requests.sum(), 0);
//! ```

use std::fmt;
use std::num::NonZeroUsize;

use crossbeam_utils::CachePadded;

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::thread_shard;

/// Shards per unit of available parallelism in [`Counter::new`].
const SHARDS_PER_CPU: usize = 4;

/// Upper bound on any shard count (8 MiB of slots).
const MAX_SHARDS: usize = 1 << 16;

/// Upper bound on the shard count chosen by [`Counter::new`].
const MAX_DEFAULT_SHARDS: usize = 1024;

/// A sharded, cache-padded `u64` counter for write-heavy counting.
///
/// Not `Clone`: share it with an `Arc` (see the [module docs](self) for why).
/// All methods take `&self` and are safe to call from any number of threads.
///
/// # Examples
///
/// ```
/// use throng::counter::Counter;
///
/// let sent_bytes = Counter::new();
/// sent_bytes.add(1_500);
/// sent_bytes.inc();
/// assert_eq!(sent_bytes.sum(), 1_501);
/// assert_eq!(sent_bytes.take(), 1_501); // read and reset, for per-interval numbers
/// assert_eq!(sent_bytes.sum(), 0);
/// ```
pub struct Counter {
    shards: Box<[CachePadded<AtomicU64>]>,
}

impl Counter {
    /// Creates a counter at zero with a shard count sized for this machine.
    ///
    /// The shard count is [`std::thread::available_parallelism`] × 4 rounded up to a
    /// power of two (at most 1024; 4 if the parallelism is unknown), so that threads
    /// rarely share a shard.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = throng::counter::Counter::new();
    /// assert_eq!(c.sum(), 0);
    /// ```
    pub fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let n = (cpus.saturating_mul(SHARDS_PER_CPU)).min(MAX_DEFAULT_SHARDS);
        Self::with_shards(NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN))
    }

    /// Creates a counter at zero with `shards` slots, rounded up to a power of two and
    /// capped at 65 536.
    ///
    /// One shard behaves like a single `AtomicU64`. More shards cost 128 bytes each and
    /// make [`sum`](Self::sum) and [`take`](Self::take) slower, but let more threads
    /// increment without sharing a cache line.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// let c = throng::counter::Counter::with_shards(NonZeroUsize::new(3).unwrap());
    /// assert_eq!(c.shards(), 4);
    /// ```
    pub fn with_shards(shards: NonZeroUsize) -> Self {
        let n = shards.get().min(MAX_SHARDS).next_power_of_two();
        Self {
            shards: (0..n)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Number of shards (a power of two).
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Adds `n` to the counter (wrapping on overflow).
    ///
    /// Wait-free: one atomic add on the calling thread's shard.
    #[inline]
    pub fn add(&self, n: u64) {
        let i = thread_shard(self.shards.len());
        self.shards[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to the counter.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// The sum of all shards (wrapping on overflow).
    ///
    /// **Not a point-in-time cut**: the shards are read one after another, so increments
    /// that happen during the call may or may not be included. Exact once all writers
    /// have finished.
    pub fn sum(&self) -> u64 {
        self.shards
            .iter()
            .fold(0u64, |acc, s| acc.wrapping_add(s.load(Ordering::Relaxed)))
    }

    /// Reads and resets the counter: returns everything added since the previous `take`
    /// (or since creation) and leaves the counter at zero.
    ///
    /// Each shard is reset with one atomic swap, so an increment racing with `take` is
    /// counted by exactly one take: this one or the next. Like [`sum`](Self::sum), the
    /// result is not a point-in-time cut across shards.
    pub fn take(&self) -> u64 {
        self.shards
            .iter()
            .fold(0u64, |acc, s| acc.wrapping_add(s.swap(0, Ordering::AcqRel)))
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("sum", &self.sum())
            .field("shards", &self.shards.len())
            .finish()
    }
}
