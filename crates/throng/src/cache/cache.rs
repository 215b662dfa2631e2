//! [`Cache`]: the sharded map and its synchronous API.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;

use crate::clock::{Clock, MonotonicClock};

use super::builder::CacheBuilder;
use super::error::{InsertError, InvalidCache};
use super::expiry::Expiry;
use super::loader::FlightRow;
use super::shard::{Lookup, Shard};

/// A bounded, concurrent cache with S3-FIFO eviction, optional time-to-live and
/// time-to-idle, and single-flight loading. See the [module docs](super).
///
/// Cloning is cheap and shares the cache.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::cache::Cache;
/// use throng::clock::ManualClock;
///
/// let clock = ManualClock::new();
/// let cache: Cache<&str, u32, _> = Cache::builder(2)
///     .shards(1)
///     .time_to_idle(Duration::from_secs(10))
///     .clock(clock.clone())
///     .build()
///     .expect("valid config");
/// cache.insert("a", 1);
/// assert_eq!(cache.get("a"), Some(1));
/// clock.advance(Duration::from_secs(10));
/// assert_eq!(cache.get("a"), None, "idle for 10 s");
///
/// for (i, k) in ["b", "c", "d"].into_iter().enumerate() {
///     cache.insert(k, i as u32);
/// }
/// assert_eq!(cache.len(), 2, "bounded");
/// ```
pub struct Cache<K, V, C = MonotonicClock> {
    pub(crate) inner: Arc<Inner<K, V, C>>,
}

pub(crate) struct Inner<K, V, C> {
    lanes: Box<[CachePadded<Lane<K, V>>]>,
    /// Shift that brings the shard bits of a hash down (uses bits hashbrown ignores).
    shard_shift: u32,
    hasher: foldhash::fast::RandomState,
    pub(crate) clock: C,
    pub(crate) expiry: Expiry,
    max_capacity: u64,
}

/// A shard and its in-flight loads.
pub(crate) struct Lane<K, V> {
    pub(crate) map: std::sync::RwLock<Shard<K, V>>,
    pub(crate) flights: Mutex<HashTable<FlightRow<K, V>>>,
}

impl<K, V> Cache<K, V, MonotonicClock>
where
    K: Hash + Eq,
    V: Clone,
{
    /// A cache of at most `max_capacity` entries, with the defaults: no expiry, the real
    /// monotonic clock, 4 shards per core.
    ///
    /// # Errors
    ///
    /// [`InvalidCache::ZeroCapacity`] if `max_capacity` is 0.
    pub fn new(max_capacity: u64) -> Result<Self, InvalidCache> {
        Self::builder(max_capacity).build()
    }

    /// A builder for a cache bounded by `max_capacity`: the number of entries, or their
    /// total weight if you insert with [`insert_with_weight`](Cache::insert_with_weight)
    /// ([`insert`](Cache::insert) counts 1).
    pub fn builder(max_capacity: u64) -> CacheBuilder<K, V, MonotonicClock> {
        CacheBuilder::new(max_capacity)
    }
}

impl<K, V, C> Cache<K, V, C>
where
    K: Hash + Eq,
    V: Clone,
    C: Clock,
{
    pub(crate) fn from_parts(max_capacity: u64, shards: usize, expiry: Expiry, clock: C) -> Self {
        let base = max_capacity / shards as u64;
        let extra = max_capacity % shards as u64;
        let hasher = foldhash::fast::RandomState::default();
        let lanes = (0..shards as u64)
            .map(|i| {
                CachePadded::new(Lane {
                    map: std::sync::RwLock::new(Shard::new(
                        base + u64::from(i < extra),
                        hasher.clone(),
                    )),
                    flights: Mutex::new(HashTable::new()),
                })
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                lanes,
                shard_shift: 64 - shards.trailing_zeros(),
                hasher,
                clock,
                expiry,
                max_capacity,
            }),
        }
    }

    #[inline]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    #[inline]
    pub(crate) fn lane(&self, hash: u64) -> &Lane<K, V> {
        // hashbrown uses the low bits (bucket) and the top 7 bits (tag) of the hash;
        // the shard index takes bits just below the tag.
        let i = if self.inner.shard_shift == 64 {
            0
        } else {
            ((hash << 7) >> self.inner.shard_shift) as usize
        };
        &self.inner.lanes[i]
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        if self.inner.expiry.enabled() {
            self.inner.clock.now_nanos()
        } else {
            0
        }
    }

    /// A clone of the value for `key`, if present and not expired. A hit takes only the
    /// shard's read lock.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_hashed(self.hash(key), key)
    }

    #[inline]
    pub(crate) fn get_hashed<Q>(&self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let lane = self.lane(hash);
        let now = self.now();
        let found = lane.map.read().unwrap_or_else(PoisonError::into_inner).get(
            hash,
            key,
            now,
            &self.inner.expiry,
        );
        match found {
            Lookup::Hit(v) => Some(v),
            Lookup::Miss => None,
            Lookup::Expired => {
                lane.map
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove_expired(hash, key, now, &self.inner.expiry);
                None
            }
        }
    }

    /// Whether `key` is present and not expired (counts as an access, like `get`).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Inserts `key` with weight 1, replacing (and returning) a previous value; may evict
    /// other entries to stay within the capacity.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let hash = self.hash(&key);
        self.insert_hashed(hash, key, value, 1)
    }

    pub(crate) fn insert_hashed(&self, hash: u64, key: K, value: V, weight: u32) -> Option<V> {
        let now = self.now();
        self.lane(hash)
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(hash, key, value, weight, now, &self.inner.expiry)
    }

    /// Inserts `key` with `weight` (bytes, cost, …): the total weight of resident entries
    /// stays at most `max_capacity`. Returns the replaced value, if any.
    ///
    /// # Errors
    ///
    /// [`InsertError::ZeroWeight`] if `weight` is 0, [`InsertError::TooHeavy`] if it is
    /// above [`max_entry_weight`](Self::max_entry_weight); the key and value are handed
    /// back and the cache is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use throng::cache::{Cache, InsertError};
    ///
    /// // At most 1 MiB of values, in one shard so one entry may use all of it.
    /// let cache: Cache<u32, Vec<u8>> = Cache::builder(1 << 20).shards(1).build().unwrap();
    /// let page = vec![0u8; 4096];
    /// cache.insert_with_weight(1, page.clone(), page.len() as u32).unwrap();
    /// assert_eq!(cache.weighted_size(), 4096);
    ///
    /// let huge = vec![0u8; 2 << 20];
    /// let err = cache.insert_with_weight(2, huge, 2 << 20).unwrap_err();
    /// assert!(matches!(err, InsertError::TooHeavy { .. }));
    /// let (key, _value) = err.into_inner(); // handed back
    /// assert_eq!(key, 2);
    /// ```
    pub fn insert_with_weight(
        &self,
        key: K,
        value: V,
        weight: u32,
    ) -> Result<Option<V>, InsertError<K, V>> {
        if weight == 0 {
            return Err(InsertError::ZeroWeight { key, value });
        }
        let hash = self.hash(&key);
        let lane = self.lane(hash);
        let now = self.now();
        let mut shard = lane.map.write().unwrap_or_else(PoisonError::into_inner);
        let limit = shard.capacity();
        if u64::from(weight) > limit {
            return Err(InsertError::TooHeavy {
                key,
                value,
                weight,
                limit,
            });
        }
        Ok(shard.insert(hash, key, value, weight, now, &self.inner.expiry))
    }

    /// Removes `key`, returning its value (even if it had expired).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.lane(hash)
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(hash, key)
    }

    /// Removes every entry.
    pub fn clear(&self) {
        for lane in self.inner.lanes.iter() {
            lane.map
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// Removes every expired entry now and returns how many. Optional: expired entries
    /// are never returned and are removed by lookups and eviction anyway; call this (from
    /// your own periodic task) to free their memory early.
    pub fn purge_expired(&self) -> usize {
        if !self.inner.expiry.enabled() {
            return 0;
        }
        let now = self.inner.clock.now_nanos();
        self.inner
            .lanes
            .iter()
            .map(|lane| {
                lane.map
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .purge_expired(now, &self.inner.expiry)
            })
            .sum()
    }

    /// Number of resident entries, summed over the shards one at a time (so only exact
    /// when nobody writes). Expired entries count until they are removed.
    pub fn len(&self) -> usize {
        self.inner
            .lanes
            .iter()
            .map(|l| l.map.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total weight of resident entries (equal to [`len`](Self::len) if every entry was
    /// inserted with weight 1). Never above [`max_capacity`](Self::max_capacity).
    pub fn weighted_size(&self) -> u64 {
        self.inner
            .lanes
            .iter()
            .map(|l| {
                l.map
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .weight()
            })
            .sum()
    }

    /// The configured bound on entries (or total weight).
    pub fn max_capacity(&self) -> u64 {
        self.inner.max_capacity
    }

    /// The heaviest entry [`insert_with_weight`](Self::insert_with_weight) accepts:
    /// one shard's share of the capacity (the smallest share, if they differ).
    pub fn max_entry_weight(&self) -> u64 {
        self.inner.max_capacity / self.inner.lanes.len() as u64
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.inner.lanes.len()
    }
}

impl<K, V, C> Clone for Cache<K, V, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, C> fmt::Debug for Cache<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("max_capacity", &self.inner.max_capacity)
            .field("shards", &self.inner.lanes.len())
            .finish_non_exhaustive()
    }
}
