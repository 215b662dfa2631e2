//! [`KeyedCounters`] and its [`Builder`].

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::PoisonError;

#[cfg(not(loom))]
use std::cell::RefCell;

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
#[cfg(not(loom))]
use thread_local::ThreadLocal;

#[cfg(not(loom))]
use super::cache::LocalCache;
use super::slot::Slot;
use super::Snapshot;
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, RwLock};

type Table<K> = HashTable<Arc<Slot<K>>>;
type Shard<K> = CachePadded<RwLock<Table<K>>>;

enum Inserted<K> {
    New(Arc<Slot<K>>),
    Existing(Arc<Slot<K>>),
    Overflow,
}

/// Shards per unit of available parallelism in the default shard count.
const SHARDS_PER_CPU: usize = 8;
/// Lower and upper bounds of the default shard count.
const MIN_DEFAULT_SHARDS: usize = 16;
const MAX_DEFAULT_SHARDS: usize = 1024;
/// Upper bound on any shard count.
const MAX_SHARDS: usize = 1 << 16;

/// Counters per key (requests per user), bounded, with race-free per-interval takes.
///
/// Not `Clone`: share it with an `Arc`. Keys must be `Send + Sync` because each
/// thread's cache holds references to the map's slots (which contain the keys).
///
/// See the [module docs](super) for the guarantees, costs and a threaded example.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use throng::keyed::KeyedCounters;
///
/// let hits = KeyedCounters::<String>::new(NonZeroUsize::new(2).unwrap());
/// hits.inc("alice");
/// hits.add("bob", 2);
/// hits.inc("carol"); // a third key past the cap of two: counted as overflow
///
/// let snap = hits.take_snapshot().sorted();
/// assert_eq!(snap.counts, vec![("alice".to_string(), 1), ("bob".to_string(), 2)]);
/// assert_eq!(snap.overflow, 1);
/// assert_eq!(hits.get("bob"), Some(2)); // totals survive the take
/// ```
pub struct KeyedCounters<K: Send + Sync> {
    shards: Box<[Shard<K>]>,
    mask: usize,
    hasher: foldhash::fast::RandomState,
    len: CachePadded<AtomicUsize>,
    overflow: CachePadded<AtomicU64>,
    max_keys: usize,
    evict_idle_after: Option<usize>,
    /// Serialises takes and cumulative snapshots; holds what takes have moved out of
    /// the live counters.
    takes: Mutex<Totals>,
    /// Bumped by every take that evicts, so thread caches know to drop retired slots.
    evictions: CachePadded<AtomicUsize>,
    /// Per-thread slot caches, at most `cache_keys` entries each. Padded: the
    /// `ThreadLocal` stores threads' values side by side, and each increment writes its
    /// `RefCell` flag, so unpadded neighbours would falsely share a cache line.
    #[cfg(not(loom))]
    caches: ThreadLocal<CachePadded<RefCell<LocalCache<K>>>>,
    #[cfg_attr(loom, allow(dead_code))]
    cache_keys: usize,
}

#[derive(Default)]
struct Totals {
    overflow: u64,
    evicted: usize,
}

/// Configures a [`KeyedCounters`]; made by [`KeyedCounters::builder`].
///
/// Every setting is valid by construction (the types rule out zero), so
/// [`build`](Self::build) cannot fail.
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<K> {
    _keys: PhantomData<fn() -> K>,
    max_keys: NonZeroUsize,
    evict_idle_after: Option<NonZeroUsize>,
    shards: Option<NonZeroUsize>,
    thread_cache_keys: usize,
}

/// Default [`Builder::thread_cache_keys`].
const DEFAULT_THREAD_CACHE_KEYS: usize = 1 << 14;

impl<K> fmt::Debug for Builder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_keys", &self.max_keys)
            .field("evict_idle_after", &self.evict_idle_after)
            .field("shards", &self.shards)
            .field("thread_cache_keys", &self.thread_cache_keys)
            .finish()
    }
}

impl<K: Hash + Eq + Send + Sync> Builder<K> {
    /// How many keys each thread remembers so that it can increment them without
    /// touching the map's locks (default 16 384, about 9 bytes each plus the table's
    /// slack). A thread whose cache is full empties it and starts again. 0 turns the
    /// caches off: every increment then takes a shared lock on the key's shard.
    ///
    /// The caches hold references, not copies, of keys and counters; one of an evicted
    /// key is dropped the next time its thread increments anything.
    pub fn thread_cache_keys(mut self, keys: usize) -> Self {
        self.thread_cache_keys = keys;
        self
    }

    /// Evicts a key once `takes` consecutive [`take_snapshot`](KeyedCounters::take_snapshot)
    /// calls found no increments for it. Off by default (keys stay until the map is
    /// dropped, and new keys past `max_keys` go to the overflow count).
    ///
    /// An evicted key that is incremented again comes back as a new key, counted from
    /// zero (its [`get`](KeyedCounters::get) total restarts).
    pub fn evict_idle_after(mut self, takes: NonZeroUsize) -> Self {
        self.evict_idle_after = Some(takes);
        self
    }

    /// Number of lock shards, rounded up to a power of two and capped at 65 536. The
    /// default is available parallelism × 8 (at least 16, at most 1024). More shards mean fewer collisions
    /// between threads inserting new keys, and 128 bytes each.
    pub fn shards(mut self, shards: NonZeroUsize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Creates the counters.
    pub fn build(self) -> KeyedCounters<K> {
        let n = match self.shards {
            Some(n) => n.get(),
            None => {
                let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
                cpus.saturating_mul(SHARDS_PER_CPU)
                    .clamp(MIN_DEFAULT_SHARDS, MAX_DEFAULT_SHARDS)
            }
        };
        let n = n.min(MAX_SHARDS).next_power_of_two();
        KeyedCounters {
            shards: (0..n)
                .map(|_| CachePadded::new(RwLock::new(HashTable::new())))
                .collect(),
            mask: n - 1,
            hasher: foldhash::fast::RandomState::default(),
            len: CachePadded::new(AtomicUsize::new(0)),
            overflow: CachePadded::new(AtomicU64::new(0)),
            max_keys: self.max_keys.get(),
            evict_idle_after: self.evict_idle_after.map(NonZeroUsize::get),
            takes: Mutex::new(Totals::default()),
            evictions: CachePadded::new(AtomicUsize::new(0)),
            #[cfg(not(loom))]
            caches: ThreadLocal::new(),
            cache_keys: self.thread_cache_keys,
        }
    }
}

impl<K: Hash + Eq + Send + Sync> KeyedCounters<K> {
    /// Counters for at most `max_keys` keys, with no idle eviction and the default shard
    /// count. Same as `KeyedCounters::builder(max_keys).build()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keyed::KeyedCounters;
    ///
    /// let hits = KeyedCounters::<String>::new(NonZeroUsize::new(10_000).unwrap());
    /// hits.inc("alice");
    /// assert_eq!(hits.get("alice"), Some(1));
    /// ```
    pub fn new(max_keys: NonZeroUsize) -> Self {
        Self::builder(max_keys).build()
    }

    /// A [`Builder`] for counters that track at most `max_keys` keys. Increments for
    /// further new keys are counted in the overflow bucket (see [`Snapshot::overflow`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use throng::keyed::KeyedCounters;
    ///
    /// let hits: KeyedCounters<String> = KeyedCounters::builder(NonZeroUsize::new(2).unwrap())
    ///     .evict_idle_after(NonZeroUsize::new(3).unwrap())
    ///     .build();
    /// hits.inc("a");
    /// hits.inc("b");
    /// hits.inc("c"); // over the cap: counted as overflow
    /// let snap = hits.take_snapshot();
    /// assert_eq!((snap.counts.len(), snap.overflow), (2, 1));
    /// ```
    pub fn builder(max_keys: NonZeroUsize) -> Builder<K> {
        Builder {
            _keys: PhantomData,
            max_keys,
            evict_idle_after: None,
            shards: None,
            thread_cache_keys: DEFAULT_THREAD_CACHE_KEYS,
        }
    }

    /// Adds one to `key`'s counter.
    ///
    /// See [`add`](Self::add).
    #[inline]
    pub fn inc<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.add(key, 1);
    }

    /// Adds `n` to `key`'s counter, inserting the key if it is new and there is room.
    ///
    /// Takes a borrowed key (`&str` for `String` keys): an existing key costs a hash,
    /// a shared (read) lock on one of the shards and one atomic add, and allocates
    /// nothing. A new key takes its shard's write lock and one `to_owned`. If the map
    /// already holds `max_keys` keys, the increment goes to the overflow count instead
    /// (reported by the next [`take_snapshot`](Self::take_snapshot)). Adding 0 does
    /// nothing.
    ///
    /// A key's count between two takes saturates at 2^62 (see the module docs, under
    /// Bounds).
    pub fn add<Q>(&self, key: &Q, n: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if n == 0 {
            return;
        }
        let hash = self.hasher.hash_one(key);
        #[cfg(not(loom))]
        let mut cache = if self.cache_keys == 0 {
            None
        } else {
            // Fails only if this thread re-entered `add` from inside the key's own
            // `Hash`/`Eq`/`ToOwned`: then it just goes without the cache.
            self.caches.get_or_default().try_borrow_mut().ok()
        };
        #[cfg(not(loom))]
        if let Some(cache) = cache.as_mut() {
            if cache.lookup_and_add(hash, key, n, self.evictions.load(Ordering::Relaxed)) {
                return;
            }
        }
        let shard = self.shard(hash);
        loop {
            let found = {
                let table = shard.read().unwrap_or_else(PoisonError::into_inner);
                match table.find(hash, |s| s.key.borrow() == key) {
                    // With no cache to fill, add under the read lock: no `Arc` clone
                    // (two atomics on a shared count), and no eviction can retire the
                    // slot meanwhile, since that takes the write lock.
                    #[cfg(not(loom))]
                    Some(slot) if cache.is_none() => {
                        if slot.add(n) {
                            return;
                        }
                        continue;
                    }
                    found => found.map(Arc::clone),
                }
            };
            #[cfg(all(test, not(loom)))]
            if found.is_none() && hooks::RACE_INSERT.take() {
                // Test hook: another caller inserts the key right after our lookup missed.
                self.add(key, 1);
            }
            let slot = match found {
                Some(slot) => slot,
                None => match self.insert(shard, hash, key, n) {
                    Inserted::New(slot) => {
                        #[cfg(not(loom))]
                        if let Some(cache) = cache.as_mut() {
                            cache.insert(hash, slot, self.cache_keys, &self.hasher);
                        }
                        #[cfg(loom)]
                        drop(slot);
                        return;
                    }
                    Inserted::Existing(slot) => slot,
                    Inserted::Overflow => return,
                },
            };
            // The add happens outside the lock, as it does on a thread-cache hit: an
            // eviction may retire the slot in between, and then `add` says so and we
            // go back to the map (which no longer holds the retired slot). Under loom
            // (no caches) every increment takes this path, so the model covers the race.
            if slot.add(n) {
                #[cfg(not(loom))]
                if let Some(cache) = cache.as_mut() {
                    cache.insert(hash, slot, self.cache_keys, &self.hasher);
                }
                return;
            }
        }
    }

    /// Slow path of `add` for a key missing from its shard: inserts it with `n` already
    /// counted, unless another thread inserted it first or the map is full (then `n`
    /// goes to the overflow count).
    #[cold]
    fn insert<Q>(&self, shard: &RwLock<Table<K>>, hash: u64, key: &Q, n: u64) -> Inserted<K>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.len.load(Ordering::Relaxed) >= self.max_keys {
            // Full, unless an eviction is under way; but the key may have been inserted
            // since our lookup missed it (by a thread that took the last free place), and
            // then this increment belongs to it, not to the overflow. Under the read lock
            // no insert into this shard can happen, so "missing and full" holds at once.
            let table = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = table.find(hash, |s| s.key.borrow() == key) {
                return Inserted::Existing(Arc::clone(slot));
            }
            if self.len.load(Ordering::Relaxed) >= self.max_keys {
                drop(table);
                self.overflow.fetch_add(n, Ordering::Relaxed);
                return Inserted::Overflow;
            }
        }
        let mut table = shard.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = table.find(hash, |s| s.key.borrow() == key) {
            return Inserted::Existing(Arc::clone(slot));
        }
        let reserved = self
            .len
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                (l < self.max_keys).then_some(l + 1)
            })
            .is_ok();
        if !reserved {
            drop(table);
            self.overflow.fetch_add(n, Ordering::Relaxed);
            return Inserted::Overflow;
        }
        let slot = Arc::new(Slot::new(key.to_owned(), n));
        table.insert_unique(hash, Arc::clone(&slot), |s| self.hasher.hash_one(&s.key));
        Inserted::New(slot)
    }

    /// The cumulative count of `key` (all takes plus what is pending), or `None` if the
    /// key is not tracked (never seen, evicted, or only ever counted as overflow).
    ///
    /// Exact with respect to a concurrent take: it never misses or double-counts what
    /// the take moves.
    pub fn get<Q>(&self, key: &Q) -> Option<u64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let table = self
            .shard(hash)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        table
            .find(hash, |s| s.key.borrow() == key)
            .map(|s| s.total())
    }

    /// Number of keys tracked (at most `max_keys`).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key cap this map was built with.
    pub fn max_keys(&self) -> NonZeroUsize {
        NonZeroUsize::new(self.max_keys).unwrap_or(NonZeroUsize::MIN)
    }

    /// Every tracked key with its cumulative count, plus the cumulative overflow and
    /// eviction counts. Resets nothing.
    ///
    /// **Weakly consistent**: each key is read at a different instant while increments
    /// continue, so the result is not a point-in-time cut across keys. Each key's count
    /// is exact at the instant it is read. Waits for a running
    /// [`take_snapshot`](Self::take_snapshot) to finish; holds each shard's read lock
    /// while copying it, which delays new-key inserts into that shard but not
    /// increments.
    pub fn snapshot(&self) -> Snapshot<K>
    where
        K: Clone,
    {
        let totals = self.takes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut counts = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            let table = shard.read().unwrap_or_else(PoisonError::into_inner);
            counts.extend(table.iter().map(|s| (s.key.clone(), s.total())));
        }
        Snapshot {
            counts,
            overflow: totals
                .overflow
                .wrapping_add(self.overflow.load(Ordering::Relaxed)),
            evicted: totals.evicted,
            keys: self.len(),
        }
    }

    /// Returns, per key, what was added since the previous take (keys with nothing new
    /// are left out), resets those counts, and evicts idle keys.
    ///
    /// This is the call for a periodic dumper: call it every interval and write each
    /// `(key, count)` of [`Snapshot::counts`] plus [`Snapshot::overflow`]. Summed over all
    /// takes, the counts plus overflow equal everything ever added: each key is reset
    /// with one atomic swap, so an increment racing with the take lands in exactly one
    /// take, this one or the next. Like [`snapshot`](Self::snapshot) it is not a
    /// point-in-time cut across keys.
    ///
    /// With [`Builder::evict_idle_after`]`(n)`, a key that has had no increments for `n`
    /// consecutive takes is removed (its count is 0 then, so nothing is lost) and
    /// counted in [`Snapshot::evicted`]. An increment racing with the eviction either
    /// lands first (and the key stays) or sees the key retired and inserts it afresh.
    ///
    /// Takes are serialised with each other and with `snapshot`. Each shard's read lock
    /// is held while it is swept (write lock only to remove idle keys), which delays
    /// new-key inserts into that shard but not increments of existing keys.
    pub fn take_snapshot(&self) -> Snapshot<K>
    where
        K: Clone,
    {
        let mut totals = self.takes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut counts = Vec::new();
        let mut evicted = 0;
        let mut idle = Vec::new();
        for shard in self.shards.iter() {
            {
                let table = shard.read().unwrap_or_else(PoisonError::into_inner);
                for slot in table.iter() {
                    let v = slot.take();
                    if v > 0 {
                        counts.push((slot.key.clone(), v));
                    } else if self
                        .evict_idle_after
                        .is_some_and(|limit| slot.idle_takes() >= limit)
                    {
                        idle.push(Arc::clone(slot));
                    }
                }
            }
            if !idle.is_empty() {
                let mut table = shard.write().unwrap_or_else(PoisonError::into_inner);
                for slot in idle.drain(..) {
                    // Retire and remove in one critical section: no reader can find a
                    // retired slot in the table.
                    if slot.try_retire() {
                        let hash = self.hasher.hash_one(&slot.key);
                        if let Ok(entry) = table.find_entry(hash, |s| Arc::ptr_eq(s, &slot)) {
                            entry.remove();
                        }
                        self.len.fetch_sub(1, Ordering::Relaxed);
                        evicted += 1;
                    }
                }
            }
        }
        let overflow = self.overflow.swap(0, Ordering::AcqRel);
        totals.overflow = totals.overflow.wrapping_add(overflow);
        totals.evicted += evicted;
        if evicted > 0 {
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        Snapshot {
            counts,
            overflow,
            evicted,
            keys: self.len(),
        }
    }

    fn shard(&self, hash: u64) -> &RwLock<Table<K>> {
        // Bits 40.. pick the shard; hashbrown uses the low bits for the bucket and the
        // top 7 for its tag, so the three stay independent.
        &self.shards[(hash >> 40) as usize & self.mask]
    }
}

impl<K: Send + Sync> fmt::Debug for KeyedCounters<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCounters")
            .field("keys", &self.len.load(Ordering::Relaxed))
            .field("max_keys", &self.max_keys)
            .field("evict_idle_after", &self.evict_idle_after)
            .field("shards", &self.shards.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod hooks {
    use std::cell::Cell;

    thread_local! {
        /// When set, the next `add` on this thread whose lookup misses first adds 1 to the
        /// same key (as a racing thread would), then goes on to insert.
        pub(super) static RACE_INSERT: Cell<bool> = const { Cell::new(false) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn nz(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    #[test]
    fn an_increment_of_a_key_inserted_after_our_lookup_missed_is_not_overflow_at_the_cap() {
        for cache_keys in [0, 16] {
            let m: KeyedCounters<String> = KeyedCounters::builder(nz(2))
                .thread_cache_keys(cache_keys)
                .build();
            m.inc("old");
            // Room for exactly one more key; "new" is inserted by the "other caller"
            // between our lookup's miss and our insert, taking the last place.
            hooks::RACE_INSERT.set(true);
            m.add("new", 2);
            assert!(!hooks::RACE_INSERT.get(), "the hook ran");
            let snap = m.take_snapshot().sorted();
            assert_eq!(snap.overflow, 0, "cache_keys {cache_keys}: {snap:?}");
            assert_eq!(snap.counts, vec![("new".into(), 3), ("old".into(), 1)]);
            assert_eq!(m.len(), 2);
            // A truly new key past the cap is still overflow.
            m.inc("third");
            assert_eq!(m.take_snapshot().overflow, 1);
        }
    }
}
