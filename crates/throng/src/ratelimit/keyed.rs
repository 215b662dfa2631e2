//! [`KeyedRateLimiter`]: one quota per key (per user, per IP), bounded memory.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroUsize;
use std::sync::PoisonError;

use std::time::Duration;

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use tokio_util::sync::CancellationToken;

use super::error::{CheckNError, InsufficientCapacity, KeyedCheckError, NotUntil, UntilReadyError};
use super::gcra;
use super::quota::Quota;
use super::wait::wait_until;
use crate::clock::{Clock, QuantaClock};
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::sync::RwLock;

/// Shards per unit of available parallelism, and the bounds of the default shard count.
const SHARDS_PER_CPU: usize = 8;
const MIN_SHARDS: usize = 16;
const MAX_SHARDS: usize = 1024;
/// A shard prunes itself after this many inserts at least (and at least its size).
const MIN_INSERTS_BEFORE_PRUNE: usize = 16;
/// A full prune on a new key at the cap runs at most once per this (or the interval).
const MIN_FULL_PRUNE_GAP_NANOS: u64 = 1_000_000;

/// Random per limiter (HashDoS resistance), except under loom, whose models must replay
/// the same shard choice in every execution.
#[cfg(not(loom))]
type Hasher = foldhash::fast::RandomState;
#[cfg(loom)]
type Hasher = foldhash::fast::FixedState;

struct Entry<K> {
    key: K,
    hash: u64,
    tat: AtomicU64,
}

struct Shard<K> {
    table: HashTable<Entry<K>>,
    inserts_since_prune: usize,
    /// Keys left by the last prune: the next automatic prune waits for as many inserts.
    len_after_prune: usize,
}

/// A GCRA rate limiter with one state per key, for per-user or per-IP limits.
///
/// Each key's state is one `AtomicU64` updated lock-free (as
/// [`RateLimiter`](super::RateLimiter)); keys live in a sharded hash table (foldhash,
/// one `RwLock` per shard). Checking a known key takes its shard's read lock; only a new
/// key takes the write lock.
///
/// **Memory is bounded.** At most `max_keys` keys are tracked. A key whose theoretical
/// arrival time is at or before now has its whole burst back, which is exactly the state of
/// a key never seen, so dropping it changes no decision; such *idle* keys are pruned
/// automatically (a shard prunes itself once its inserts since the last prune reach its
/// size, amortised O(1) per insert, no background task), when a new key meets the cap,
/// and on [`prune_idle`](Self::prune_idle). If the cap is still reached after pruning, a
/// new key is refused with [`KeyedCheckError::TooManyKeys`] (fail closed: evicting an
/// active key would hand it a fresh burst). Known keys are never refused for this
/// reason. [`refused_keys`](Self::refused_keys) counts the refusals.
///
/// Not `Clone`: share it with an `Arc`. Never hands out a guard: no lock is held across
/// user code or `.await`.
///
/// # Examples
///
/// Per-user post rate for a chat server, 20 a second with bursts of 40:
///
/// ```
/// use std::num::NonZeroUsize;
/// use throng::ratelimit::{KeyedCheckError, KeyedRateLimiter, Quota};
///
/// let posts = KeyedRateLimiter::<String>::new(
///     Quota::per_second(20).burst(40).build()?,
///     NonZeroUsize::new(100_000).unwrap(),
/// );
/// for _ in 0..40 {
///     assert!(posts.check("alice").is_ok());
/// }
/// match posts.check("alice") {
///     Err(KeyedCheckError::NotUntil(n)) => assert!(n.wait_time().as_millis() <= 50),
///     other => panic!("expected a refusal, got {other:?}"),
/// }
/// assert!(posts.check("bob").is_ok(), "each user has their own quota");
/// # Ok::<(), throng::ratelimit::InvalidQuota>(())
/// ```
pub struct KeyedRateLimiter<K, C: Clock = QuantaClock> {
    shards: Box<[CachePadded<RwLock<Shard<K>>>]>,
    mask: usize,
    hasher: Hasher,
    len: CachePadded<AtomicUsize>,
    max_keys: usize,
    refused: AtomicU64,
    last_full_prune: AtomicU64,
    quota: Quota,
    clock: C,
}

fn default_shards() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    (cpus * SHARDS_PER_CPU)
        .next_power_of_two()
        .clamp(MIN_SHARDS, MAX_SHARDS)
}

impl<K: Hash + Eq> KeyedRateLimiter<K, QuantaClock> {
    /// A limiter on the real monotonic clock tracking at most `max_keys` keys.
    pub fn new(quota: Quota, max_keys: NonZeroUsize) -> Self {
        Self::with_clock(quota, max_keys, QuantaClock::new())
    }
}

impl<K: Hash + Eq, C: Clock> KeyedRateLimiter<K, C> {
    /// A limiter on `clock` tracking at most `max_keys` keys.
    pub fn with_clock(quota: Quota, max_keys: NonZeroUsize, clock: C) -> Self {
        Self::with_shards(quota, max_keys, clock, default_shards())
    }

    /// As [`with_clock`](Self::with_clock) with `shards` shards (rounded up to a power of
    /// two, at most 65 536). More shards, fewer collisions between threads on the shard
    /// locks.
    pub fn with_shards(quota: Quota, max_keys: NonZeroUsize, clock: C, shards: usize) -> Self {
        let n = shards.clamp(1, 1 << 16).next_power_of_two();
        Self {
            shards: (0..n)
                .map(|_| {
                    CachePadded::new(RwLock::new(Shard {
                        table: HashTable::new(),
                        inserts_since_prune: 0,
                        len_after_prune: 0,
                    }))
                })
                .collect(),
            mask: n - 1,
            hasher: Hasher::default(),
            len: CachePadded::new(AtomicUsize::new(0)),
            max_keys: max_keys.get(),
            refused: AtomicU64::new(0),
            last_full_prune: AtomicU64::new(0),
            quota,
            clock,
        }
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<Shard<K>> {
        // hashbrown uses the low bits for the bucket and the top 7 for tags.
        &self.shards[(hash >> 32) as usize & self.mask]
    }

    /// Lets one cell for `key` pass now, or says why not.
    ///
    /// # Errors
    ///
    /// [`KeyedCheckError::NotUntil`] if the key is over its quota;
    /// [`KeyedCheckError::TooManyKeys`] if the key is new and the limiter is full of
    /// active keys. Nothing was consumed.
    #[inline]
    pub fn check<Q>(&self, key: &Q) -> Result<(), KeyedCheckError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        let now = self.clock.now_nanos();
        {
            let s = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = s.table.find(hash, |e| e.key.borrow() == key) {
                return gcra::check(&self.quota, &e.tat, now).map_err(Into::into);
            }
        }
        self.insert(shard, hash, key, 1)
    }

    /// Lets `n` cells for `key` pass now, all or none. `n = 0` always passes (and does not
    /// add the key).
    ///
    /// # Errors
    ///
    /// [`KeyedCheckError::InsufficientCapacity`] if `n` exceeds the burst (never passes),
    /// otherwise as [`check`](Self::check).
    pub fn check_n<Q>(&self, key: &Q, n: u32) -> Result<(), KeyedCheckError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let burst = self.quota.burst_size();
        if n > burst {
            return Err(KeyedCheckError::InsufficientCapacity(
                InsufficientCapacity { n, burst },
            ));
        }
        if n == 0 {
            return Ok(());
        }
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        let now = self.clock.now_nanos();
        {
            let s = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = s.table.find(hash, |e| e.key.borrow() == key) {
                return gcra::check_n(&self.quota, &e.tat, now, n).map_err(Into::into);
            }
        }
        self.insert(shard, hash, key, n)
    }

    /// Waits until `n` cells for `key` pass, then consumes them; with `max_wait`, fails
    /// fast (without sleeping) if they would pass only later than that; with `cancel`,
    /// stops when it fires. As [`RateLimiter::until_ready_or_cancelled`](super::RateLimiter::until_ready_or_cancelled),
    /// re-checking after each sleep, with no queue among waiters.
    ///
    /// # Errors
    ///
    /// [`UntilReadyError::InsufficientCapacity`] and [`UntilReadyError::TooManyKeys`] at
    /// once; [`UntilReadyError::WouldPassDeadline`] at once or at a re-check;
    /// [`UntilReadyError::Cancelled`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future consumes nothing.
    pub async fn until_key_ready<Q>(
        &self,
        key: &Q,
        n: u32,
        max_wait: Option<Duration>,
        cancel: Option<&CancellationToken>,
    ) -> Result<(), UntilReadyError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        wait_until(&self.clock, max_wait, cancel, || self.check_n(key, n)).await
    }

    /// The slow path: `key` was not found under the read lock.
    #[cold]
    fn insert<Q>(
        &self,
        shard: &RwLock<Shard<K>>,
        hash: u64,
        key: &Q,
        n: u32,
    ) -> Result<(), KeyedCheckError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut full_prune_done = false;
        loop {
            let mut s = shard.write().unwrap_or_else(PoisonError::into_inner);
            // Read the clock under the write lock: it is then no earlier than the `now` of
            // any prune that removed this key, so a re-created key starts from a state
            // at least as late as the one pruned (which had TAT <= that now).
            let now = self.clock.now_nanos();
            if let Some(e) = s.table.find(hash, |e| e.key.borrow() == key) {
                return gcra::check_n(&self.quota, &e.tat, now, n).map_err(|e| match e {
                    CheckNError::NotUntil(e) => KeyedCheckError::NotUntil(e),
                    CheckNError::InsufficientCapacity(e) => {
                        KeyedCheckError::InsufficientCapacity(e)
                    }
                });
            }
            if !self.reserve() {
                self.prune_shard(&mut s, now);
                if !self.reserve() {
                    drop(s);
                    if !full_prune_done && self.full_prune_due(now) {
                        full_prune_done = true;
                        self.prune_idle();
                        continue;
                    }
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(KeyedCheckError::TooManyKeys {
                        max_keys: self.max_keys,
                    });
                }
            }
            let tat = match gcra::decide(&self.quota, 0, now, n) {
                Ok(tat) => tat,
                // A fresh key has its whole burst and n <= burst, so this cannot happen;
                // give the reservation back and report it rather than panic.
                Err(earliest) => {
                    self.len.fetch_sub(1, Ordering::Relaxed);
                    return Err(NotUntil { earliest, now }.into());
                }
            };
            s.table.insert_unique(
                hash,
                Entry {
                    key: key.to_owned(),
                    hash,
                    tat: AtomicU64::new(tat),
                },
                |e| e.hash,
            );
            s.inserts_since_prune += 1;
            if s.inserts_since_prune >= s.len_after_prune.max(MIN_INSERTS_BEFORE_PRUNE) {
                self.prune_shard(&mut s, now);
            }
            return Ok(());
        }
    }

    /// Takes one slot of the key budget, if any is left.
    fn reserve(&self) -> bool {
        self.len
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| {
                (l < self.max_keys).then_some(l + 1)
            })
            .is_ok()
    }

    fn full_prune_due(&self, now: u64) -> bool {
        let gap = self.quota.interval_nanos().max(MIN_FULL_PRUNE_GAP_NANOS);
        let last = self.last_full_prune.load(Ordering::Acquire);
        (last == 0 || now.saturating_sub(last) >= gap)
            && self
                .last_full_prune
                .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Removes the idle keys of one shard (TAT <= now); returns how many.
    fn prune_shard(&self, s: &mut Shard<K>, now: u64) -> usize {
        let before = s.table.len();
        s.table.retain(|e| e.tat.load(Ordering::Acquire) > now);
        let removed = before - s.table.len();
        s.inserts_since_prune = 0;
        s.len_after_prune = s.table.len();
        if removed > 0 {
            self.len.fetch_sub(removed, Ordering::AcqRel);
            // Give memory back after a burst of keys, keeping room to grow.
            let len = s.table.len();
            if s.table.capacity() > 4 * len + 16 {
                s.table.shrink_to(2 * len, |e| e.hash);
            }
        }
        removed
    }

    /// Removes every idle key (TAT at or before now: its full burst is back, so it is
    /// indistinguishable from a key never seen) and returns how many. Takes each shard's
    /// write lock in turn. Not needed for correctness or boundedness (pruning is
    /// automatic); call it to reclaim memory at a quiet time.
    pub fn prune_idle(&self) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut s = shard.write().unwrap_or_else(PoisonError::into_inner);
            let now = self.clock.now_nanos();
            removed += self.prune_shard(&mut s, now);
        }
        removed
    }

    /// Forgets `key` (its next check starts with a full burst). Returns whether it was
    /// tracked.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let mut s = self
            .shard(hash)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match s.table.find_entry(hash, |e| e.key.borrow() == key) {
            Ok(entry) => {
                entry.remove();
                self.len.fetch_sub(1, Ordering::AcqRel);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `key` is tracked (it may be idle and not yet pruned).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let s = self
            .shard(hash)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        s.table.find(hash, |e| e.key.borrow() == key).is_some()
    }

    /// How many cells `key` could spend right now (`0..=burst`; the burst for an unknown
    /// key). A snapshot.
    pub fn remaining<Q>(&self, key: &Q) -> u32
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let s = self
            .shard(hash)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let tat = s
            .table
            .find(hash, |e| e.key.borrow() == key)
            .map_or(0, |e| e.tat.load(Ordering::Acquire));
        gcra::remaining(&self.quota, tat, self.clock.now_nanos())
    }

    /// Keys tracked now, idle ones not yet pruned included. At most `max_keys`.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cap on tracked keys.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// How many checks of a new key were refused with
    /// [`TooManyKeys`](KeyedCheckError::TooManyKeys) so far.
    pub fn refused_keys(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The quota every key gets.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<K, C: Clock> fmt::Debug for KeyedRateLimiter<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("quota", &self.quota)
            .field("len", &self.len.load(Ordering::Relaxed))
            .field("max_keys", &self.max_keys)
            .field("shards", &self.shards.len())
            .finish()
    }
}
