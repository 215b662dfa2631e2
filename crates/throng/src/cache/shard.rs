//! One shard: a hash table of slot indices, the slots, and the S3-FIFO queues, behind
//! one `RwLock` owned by the cache. Hits take the read lock; inserts, removals and
//! evictions take the write lock.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use hashbrown::HashTable;

use super::expiry::Expiry;
use super::policy::{Queue, S3Fifo};

/// The largest access count an entry keeps (2 bits, as in the S3-FIFO paper).
const MAX_FREQ: u8 = 3;

/// One resident entry, kept small (24 bytes for `u64` keys and values) because hits
/// read it: the hash is recomputed when needed and the expiry times live apart.
pub(crate) struct Entry<K, V> {
    key: K,
    value: V,
    weight: u32,
    queue: Queue,
    /// Hits since it entered its queue (saturates at [`MAX_FREQ`]).
    freq: AtomicU8,
}

/// An entry's expiry times, in a vector parallel to the slots (used only if the cache
/// has a TTL or TTI).
#[derive(Default)]
struct Times {
    /// TTL deadline in clock nanoseconds (`u64::MAX`: none).
    deadline: u64,
    /// Last access in clock nanoseconds (TTI).
    accessed: AtomicU64,
}

/// The outcome of a lookup under the read lock.
pub(crate) enum Lookup<V> {
    /// Present and fresh: a clone of the value.
    Hit(V),
    /// Present but expired: the caller may remove it under the write lock.
    Expired,
    /// Absent.
    Miss,
}

/// A shard of the cache.
pub(crate) struct Shard<K, V> {
    table: HashTable<u32>,
    /// `None`: free (in `free`) or dead (removed but its index still queued).
    slots: Vec<Option<Entry<K, V>>>,
    /// Parallel to `slots` when the cache has expiry, empty otherwise.
    times: Vec<Times>,
    hasher: foldhash::fast::RandomState,
    free: Vec<u32>,
    /// Dead slots: their index is still in a queue.
    dead: usize,
    policy: S3Fifo,
    /// Total weight of resident entries.
    weight: u64,
    /// The shard's share of the capacity.
    capacity: u64,
    /// The small queue's share (about 10 %).
    small_target: u64,
}

impl<K: Hash + Eq, V: Clone> Shard<K, V> {
    pub(crate) fn new(capacity: u64, hasher: foldhash::fast::RandomState) -> Self {
        Self {
            table: HashTable::new(),
            slots: Vec::new(),
            times: Vec::new(),
            hasher,
            free: Vec::new(),
            dead: 0,
            policy: S3Fifo::default(),
            weight: 0,
            capacity,
            small_target: (capacity / 10).max(1),
        }
    }

    /// The shard's capacity (the largest weight one entry may have).
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Number of resident entries (expired ones included until removed).
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Total weight of resident entries.
    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find_entry(hash, key).map(|(i, _)| i)
    }

    /// The index and entry of `key`, found in one probe.
    #[inline]
    fn find_entry<Q>(&self, hash: u64, key: &Q) -> Option<(u32, &Entry<K, V>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slots = &self.slots;
        let mut found = None;
        let i = *self.table.find(hash, |&i| match slots.get(i as usize) {
            Some(Some(e)) if e.key.borrow() == key => {
                found = Some(e);
                true
            }
            _ => false,
        })?;
        found.map(|e| (i, e))
    }

    /// Looks `key` up under the read lock; a hit raises the entry's access count and, with
    /// a TTI, its last access.
    #[inline]
    pub(crate) fn get<Q>(&self, hash: u64, key: &Q, now: u64, exp: &Expiry) -> Lookup<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some((i, e)) = self.find_entry(hash, key) else {
            return Lookup::Miss;
        };
        if exp.enabled() {
            let t = &self.times[i as usize];
            if exp.is_expired(t.deadline, &t.accessed, now) {
                return Lookup::Expired;
            }
            exp.touch(&t.accessed, now);
        }
        // A plain load + store: a lost increment only makes the count approximate, and a
        // saturated (hot) entry costs no write at all.
        let f = e.freq.load(Ordering::Relaxed);
        if f < MAX_FREQ {
            e.freq.store(f + 1, Ordering::Relaxed);
        }
        Lookup::Hit(e.value.clone())
    }

    /// Inserts or replaces `key`, then evicts until the shard is within its capacity.
    /// The caller checked `weight <= capacity`. Returns the replaced value, if any.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        now: u64,
        exp: &Expiry,
    ) -> Option<V> {
        let old = if let Some(i) = self.find(hash, &key) {
            let e = self.slots[i as usize].as_mut()?;
            self.weight = self.weight - u64::from(e.weight) + u64::from(weight);
            if e.queue == Queue::Small {
                self.policy.small_weight =
                    self.policy.small_weight - u64::from(e.weight) + u64::from(weight);
            }
            e.weight = weight;
            let old = std::mem::replace(&mut e.value, value);
            if exp.enabled() {
                self.times[i as usize] = Times {
                    deadline: exp.deadline(now),
                    accessed: AtomicU64::new(now),
                };
            }
            Some(old)
        } else {
            let queue = if self.policy.ghost_take(hash) {
                Queue::Main
            } else {
                Queue::Small
            };
            let entry = Entry {
                key,
                value,
                weight,
                queue,
                freq: AtomicU8::new(0),
            };
            let times = Times {
                deadline: exp.deadline(now),
                accessed: AtomicU64::new(now),
            };
            let i = match self.free.pop() {
                Some(i) => {
                    self.slots[i as usize] = Some(entry);
                    if exp.enabled() {
                        self.times[i as usize] = times;
                    }
                    i
                }
                None => {
                    self.slots.push(Some(entry));
                    if exp.enabled() {
                        self.times.push(times);
                    }
                    (self.slots.len() - 1) as u32
                }
            };
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.table.insert_unique(hash, i, |&j| {
                slots[j as usize]
                    .as_ref()
                    .map_or(0, |e| hasher.hash_one(&e.key))
            });
            self.policy.push(queue, i);
            self.weight += u64::from(weight);
            if queue == Queue::Small {
                self.policy.small_weight += u64::from(weight);
            }
            None
        };
        while self.weight > self.capacity {
            if !self.evict_one(now, exp) {
                break;
            }
        }
        old
    }

    /// Evicts one entry by S3-FIFO (expired entries first in line). Returns false if
    /// both queues are empty.
    fn evict_one(&mut self, now: u64, exp: &Expiry) -> bool {
        loop {
            let from = if self.policy.evict_from_small(self.small_target) {
                Queue::Small
            } else {
                Queue::Main
            };
            let Some(i) = self.policy.pop(from) else {
                return false;
            };
            let Some(e) = self.slots[i as usize].as_mut() else {
                // A removed entry's leftover index: the slot is free now.
                self.dead -= 1;
                self.free.push(i);
                continue;
            };
            let expired = exp.enabled() && {
                let t = &self.times[i as usize];
                exp.is_expired(t.deadline, &t.accessed, now)
            };
            let freq = e.freq.load(Ordering::Relaxed);
            match from {
                Queue::Small if !expired && freq > 0 => {
                    e.queue = Queue::Main;
                    e.freq.store(0, Ordering::Relaxed);
                    self.policy.small_weight -= u64::from(e.weight);
                    self.policy.push(Queue::Main, i);
                }
                Queue::Main if !expired && freq > 0 => {
                    e.freq.store(freq - 1, Ordering::Relaxed);
                    self.policy.push(Queue::Main, i);
                }
                _ => {
                    let hash = self.hasher.hash_one(&e.key);
                    self.unlink(i);
                    self.free.push(i);
                    if from == Queue::Small && !expired {
                        let cap = self.table.len().max(16);
                        self.policy.ghost_insert(hash, cap);
                    }
                    return true;
                }
            }
        }
    }

    /// Removes slot `i` from the table and the weights and empties it; the caller decides
    /// whether the index is free (popped) or dead (still queued).
    fn unlink(&mut self, i: u32) -> Option<V> {
        let e = self.slots[i as usize].take()?;
        let hash = self.hasher.hash_one(&e.key);
        if let Ok(t) = self.table.find_entry(hash, |&j| j == i) {
            t.remove();
        }
        self.weight -= u64::from(e.weight);
        if e.queue == Queue::Small {
            self.policy.small_weight -= u64::from(e.weight);
        }
        Some(e.value)
    }

    /// Removes `key`; its index stays queued (dead) until eviction or compaction frees it.
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        let v = self.unlink(i);
        self.dead += 1;
        self.maybe_compact();
        v
    }

    /// Removes `key` if it is expired at `now`.
    pub(crate) fn remove_expired<Q>(&mut self, hash: u64, key: &Q, now: u64, exp: &Expiry)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(i) = self.find(hash, key) else {
            return;
        };
        if let Some(t) = self.times.get(i as usize) {
            if exp.is_expired(t.deadline, &t.accessed, now) {
                self.unlink(i);
                self.dead += 1;
                self.maybe_compact();
            }
        }
    }

    /// Removes every entry expired at `now`. Returns how many.
    pub(crate) fn purge_expired(&mut self, now: u64, exp: &Expiry) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() as u32 {
            let expired = self.slots[i as usize].is_some() && {
                let t = &self.times[i as usize];
                exp.is_expired(t.deadline, &t.accessed, now)
            };
            if expired {
                self.unlink(i);
                self.dead += 1;
                n += 1;
            }
        }
        self.maybe_compact();
        n
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self) {
        self.table.clear();
        self.slots.clear();
        self.times.clear();
        self.free.clear();
        self.dead = 0;
        self.policy.clear();
        self.weight = 0;
    }

    /// Frees dead indices once they outnumber live entries, so remove-heavy use without
    /// evictions does not grow the queues.
    fn maybe_compact(&mut self) {
        if self.dead <= self.table.len().max(64) {
            return;
        }
        let slots = &self.slots;
        let free = &mut self.free;
        self.policy.retain(|i| {
            let live = slots[i as usize].is_some();
            if !live {
                free.push(i);
            }
            live
        });
        self.dead = 0;
        debug_assert_eq!(self.policy.queued(), self.table.len());
    }
}
