//! Per-key counters (requests per user) with a key cap, idle eviction and race-free
//! per-interval takes.
//!
//! [`KeyedCounters<K>`](KeyedCounters) maps each key to an atomic counter.
//! [`inc`](KeyedCounters::inc) / [`add`](KeyedCounters::add) take a borrowed key (`&str`
//! for `String` keys) and allocate nothing for a key that is already tracked.
//! [`take_snapshot`](KeyedCounters::take_snapshot) returns what each key gained since the
//! previous take and resets it, which is what a periodic dumper needs;
//! [`snapshot`](KeyedCounters::snapshot) and [`get`](KeyedCounters::get) read cumulative
//! totals. The number of keys is capped ([`max_keys`](KeyedCounters::builder)): increments
//! for new keys past the cap are counted in an overflow bucket, and keys idle for a number
//! of takes can be evicted ([`Builder::evict_idle_after`]).
//!
//! # When to use
//!
//! Use it to count events per caller-supplied key (user, tenant, endpoint, client IP)
//! on a hot path and report them periodically. Don't use it for one total (use
//! [`Counter`](crate::counter::Counter)), for values other than counts (use a
//! concurrent map such as `dashmap` or `papaya`), or when you need a consistent cut
//! across keys (take a `Mutex<HashMap<K, u64>>` and accept the lock).
//!
//! # KeyedCounters vs the alternatives
//!
//! - The seed's `RwLock<HashMap<String, AtomicU64>>`: every increment takes the same
//!   read lock, a read-modify-write on one shared cache line, so it serialises cores
//!   (S8-2), and every first-time key takes the map-wide write lock (S8-4). It has no cap,
//!   no eviction and no read-and-reset.
//! - `Mutex<HashMap<K, u64>>`: simplest and exact across keys, fine at low rates; every
//!   increment serialises on the mutex.
//! - `dashmap::DashMap<K, AtomicU64>`: sharded `RwLock`s, so increments contend only
//!   within a shard, but each still takes and releases its shard's lock; no cap, no
//!   eviction, no race-free drain (holding a `Ref` across another map call can deadlock).
//! - `papaya::HashMap<K, AtomicU64>`: lock-free reads, but a pinned guard per operation
//!   and memory reclamation make it slow for this write-heavy use (see Cost).
//! - `KeyedCounters`: sharded `RwLock<HashTable>` (foldhash, cache-padded shards) for the
//!   key set, plus a per-thread cache of the slots a thread has already incremented, so a
//!   repeat increment takes **no lock at all**: a thread-local lookup and one atomic add
//!   on the key's own counter. New keys take one shard's write lock.
//! - [`Counter`](crate::counter::Counter): one sharded total, no keys; far cheaper per
//!   increment.
//!
//! # Guarantees
//!
//! **Concurrent increments and takes.** Every increment is counted exactly once: in
//! the take that follows it, in a later one, or in the overflow bucket. A take resets
//! each key with one atomic swap, so an increment racing with it lands either before the
//! swap (this take) or after it (the next). Summed over all takes, counts plus overflow
//! equal everything added.
//!
//! **Eviction.** With `evict_idle_after(n)`, a key whose counter was found unchanged by
//! `n` consecutive takes is removed: its slot is marked retired (a compare-and-swap from
//! 0, so it only succeeds if nothing arrived since the last take) and removed from the
//! map under its shard's write lock. An increment that raced with this, holding the slot
//! from its thread cache or from a lookup, sees the retired mark in the value its
//! atomic add returns, and retries on the map, where it inserts the key afresh. The
//! loom model `tests/loom_keyed.rs` checks all three outcomes of that race.
//!
//! **Reads.** [`get`](KeyedCounters::get) is exact for its key at one instant, even
//! against a concurrent take (a per-key sequence number lets it retry instead of missing
//! or double-counting what the take moves). [`snapshot`](KeyedCounters::snapshot) is
//! **weakly consistent**: keys are read one after another while increments continue, so
//! it is not a point-in-time cut across keys. Neither is a take.
//!
//! **Bounds.** At most `max_keys` keys are tracked; each thread's cache holds at most
//! [`thread_cache_keys`](Builder::thread_cache_keys) entries (pointers, not key copies).
//! Caches live as long as the map; a thread that exits leaves its cache to the next
//! thread that gets its (reused) thread id, so there are at most as many caches as the
//! peak number of threads that used the map at once. After a take that evicted keys,
//! each thread sweeps its cache once, on its next increment.
//! Per-key deltas between two takes saturate at 2^62 (the top bit is the retired
//! mark). Adds of 2^32 or more stop there exactly; smaller adds are plain atomic adds
//! and may pass it by a few, and the add that sees the count past it clamps it back, so
//! no run of small adds (2^31 adds of 2^32 − 1 would once have done it) can reach the
//! retired mark and make a live key look evicted.
//!
//! **The cap and concurrent inserts.** A new key past `max_keys` is counted as overflow
//! only if it is still missing from the map when the cap is checked (under its shard's
//! lock): when two threads add the same new key and the first takes the last free
//! place, the second counts under that key, not as overflow. The loom model
//! `tests/loom_keyed.rs` checks concurrent inserts of one key and the cap racing an
//! eviction.
//!
//! Keys are hashed with foldhash, seeded per map: fast, but not a cryptographic defence
//! against chosen-key collisions. The key cap bounds what an attacker can insert.
//!
//! # For a periodic dumper
//!
//! Call [`take_snapshot`](KeyedCounters::take_snapshot) every interval,
//! [`sort`](Snapshot::sort) it if you want stable output, and write each
//! `(key, count)` of [`Snapshot::counts`] (keys with nothing new are left out) plus
//! [`Snapshot::overflow`]; [`Snapshot::evicted`] and [`Snapshot::keys`] are worth a
//! line too. Take once more on shutdown so the last interval is not lost.
//!
//! # Pitfalls avoided
//!
//! - **S8-1**: the seed's map grows without bound on caller-supplied ids. Here the key
//!   count is capped, overflow is counted and reported, and idle keys can be evicted
//!   (and are reported).
//! - **S8-2**: the seed's "increments are lock-free" is false: each takes the map-wide
//!   read lock. Here a repeat increment takes no lock, and a first increment by a thread
//!   takes one shard's read lock.
//! - **S8-3**: the seed's `GetAll` holds the read lock for an O(n) copy and pretends to
//!   be a snapshot. Here snapshots say they are weakly consistent, lock one shard at a
//!   time, and never block increments of existing keys.
//! - **S8-4**: the seed serialises every first-time user on the map-wide write lock.
//!   Here new keys only contend within their shard.
//! - **S2-2**: a read-and-reset that loses nothing ([`take_snapshot`](KeyedCounters::take_snapshot)).
//!
//! # Cost
//!
//! Measured on the shared 2-vCPU build VM while other builds ran (noisy; best of 5
//! interleaved rounds, several runs), incrementing 10 000 existing `String` keys through
//! `&str` from 2 threads:
//!
//! | `keyed.inc`, 2 threads, 10 000 keys | increments/s | throng ÷ peer, busy VM | throng ÷ peer, quieter VM |
//! |---|---|---|---|
//! | `KeyedCounters` | 2.9–4.0 × 10^7 | | |
//! | seed `RwLock<HashMap>` (std hasher) | 0.9–2.3 × 10^7 | 1.33–1.68 | 1.72–4.37 |
//! | `dashmap` (default hasher) | 1.4–2.7 × 10^7 | 1.26–1.52 | 1.69–2.86 |
//! | `dashmap` with foldhash | 1.9–4.0 × 10^7 | 0.88–0.91 | 1.35–2.16 |
//! | `papaya` (`pin().get`) | 3.7–4.3 × 10^6 | 7–9 | 7.8–10 |
//!
//! Criterion on the busy VM (`keyed/inc-1-thread`, `keyed/inc-2-threads`, Melem/s, one
//! run): `KeyedCounters` 18.5 / 17.4, seed 13.1 / 12.8, dashmap 9.9 / 10.2, dashmap
//! with foldhash 16.4 / 13.9, papaya 2.0 / 1.1.
//!
//! Read these with care. When the VM is busy its two threads often share one core, the
//! lock contention this design removes barely shows, and what remains is single-thread
//! cost: a hit is a thread-local table probe, one dependent load of the slot and one of
//! the key's bytes, and one `lock xadd` (about 9 ns on this VM). dashmap stores entries
//! inline and saves the slot load, so with the same hasher it is about 10–20% faster
//! there. When both cores are free, every lock acquisition the peers make bounces a
//! shared cache line and `KeyedCounters`, which takes none, pulls ahead of all of them.
//!
//! A thread's first increment of a key costs a shard read lock, an `Arc` clone and a
//! cache insert; a new key costs the shard's write lock and one `to_owned`.
//! `take_snapshot` over 100 000 keys that all changed takes about 11 ms (it clones each
//! changed key). Each key costs about 100 bytes plus the key, and 9 bytes in each
//! thread cache that holds it. Reproduce with
//! `cargo run --release -p throng-benches --bin scoreboard -- keyed` and
//! `cargo bench -p throng-benches --bench keyed`.
//!
//! # Examples
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::sync::Arc;
//! use throng::keyed::KeyedCounters;
//!
//! let hits: Arc<KeyedCounters<String>> = Arc::new(
//!     KeyedCounters::builder(NonZeroUsize::new(10_000).unwrap())
//!         .evict_idle_after(NonZeroUsize::new(3).unwrap())
//!         .build(),
//! );
//! let workers: Vec<_> = ["alice", "bob"]
//!     .into_iter()
//!     .map(|user| {
//!         let hits = Arc::clone(&hits);
//!         std::thread::spawn(move || {
//!             for _ in 0..100 {
//!                 hits.inc(user); // &str: no allocation once the key exists
//!             }
//!         })
//!     })
//!     .collect();
//! for w in workers {
//!     w.join().unwrap();
//! }
//!
//! let snap = hits.take_snapshot().sorted();
//! assert_eq!(snap.counts, vec![("alice".to_string(), 100), ("bob".to_string(), 100)]);
//! assert_eq!(snap.overflow, 0);
//! assert!(hits.take_snapshot().is_empty()); // the take reset the deltas
//! assert_eq!(hits.get("alice"), Some(100)); // cumulative totals remain
//! ```
#[cfg(not(loom))]
mod cache;
mod map;
mod slot;
mod snapshot;

pub use map::{Builder, KeyedCounters};
pub use snapshot::Snapshot;
