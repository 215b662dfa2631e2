//! One shard: a hash table holding the entries inline, and the S3-FIFO queues of
//! tickets, behind one `RwLock` owned by the cache. Hits take the read lock; inserts,
//! removals and evictions take the write lock.
//!
//! Entries live in the table itself, so a hit costs one probe and no second lookup. The
//! queues hold [`Ticket`]s (hash + id); an entry's id is unique among live tickets
//! because it is recycled only when the entry's ticket leaves the queues.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use hashbrown::HashTable;

use super::expiry::Expiry;
use super::policy::{Queue, S3Fifo, Ticket};

/// The largest access count an entry keeps (2 bits, as in the S3-FIFO paper).
const MAX_FREQ: u8 = 3;

/// One resident entry (32 bytes for `u64` keys and values).
struct Entry<K, V> {
    key: K,
    value: V,
    /// Names the entry's ticket in the queues, and its expiry times.
    id: u32,
    weight: u32,
    queue: Queue,
    /// Hits since it entered its queue (saturates at [`MAX_FREQ`]).
    freq: AtomicU8,
}

/// An entry's expiry times, indexed by id (used only if the cache has a TTL or TTI).
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
    table: HashTable<Entry<K, V>>,
    /// Indexed by id when the cache has expiry, empty otherwise.
    times: Vec<Times>,
    /// Ids ready for reuse (their tickets have left the queues).
    free_ids: Vec<u32>,
    /// Ids handed out so far.
    next_id: u32,
    /// Tickets in the queues whose entry was removed.
    dead: usize,
    hasher: foldhash::fast::RandomState,
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
            times: Vec::new(),
            free_ids: Vec::new(),
            next_id: 0,
            dead: 0,
            hasher,
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

    /// Looks `key` up under the read lock; a hit raises the entry's access count and, with
    /// a TTI, its last access.
    #[inline]
    pub(crate) fn get<Q>(&self, hash: u64, key: &Q, now: u64, exp: &Expiry) -> Lookup<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(e) = self.table.find(hash, |e| e.key.borrow() == key) else {
            return Lookup::Miss;
        };
        if exp.enabled() {
            let t = &self.times[e.id as usize];
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

    fn set_times(&mut self, id: u32, now: u64, exp: &Expiry) {
        if !exp.enabled() {
            return;
        }
        let t = Times {
            deadline: exp.deadline(now),
            accessed: AtomicU64::new(now),
        };
        match self.times.get_mut(id as usize) {
            Some(slot) => *slot = t,
            None => self.times.push(t),
        }
    }

    fn alloc_id(&mut self) -> u32 {
        self.free_ids.pop().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        })
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
        let old = if let Some(e) = self.table.find_mut(hash, |e| e.key == key) {
            self.weight = self.weight - u64::from(e.weight) + u64::from(weight);
            if e.queue == Queue::Small {
                self.policy.small_weight =
                    self.policy.small_weight - u64::from(e.weight) + u64::from(weight);
            }
            e.weight = weight;
            let id = e.id;
            let old = std::mem::replace(&mut e.value, value);
            self.set_times(id, now, exp);
            Some(old)
        } else {
            let queue = if self.policy.ghost_take(hash) {
                Queue::Main
            } else {
                Queue::Small
            };
            let id = self.alloc_id();
            self.set_times(id, now, exp);
            let hasher = &self.hasher;
            self.table.insert_unique(
                hash,
                Entry {
                    key,
                    value,
                    id,
                    weight,
                    queue,
                    freq: AtomicU8::new(0),
                },
                |e| hasher.hash_one(&e.key),
            );
            self.policy.push(queue, Ticket { hash, id });
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

    fn is_expired(&self, id: u32, now: u64, exp: &Expiry) -> bool {
        exp.enabled() && {
            let t = &self.times[id as usize];
            exp.is_expired(t.deadline, &t.accessed, now)
        }
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
            let Some(t) = self.policy.pop(from) else {
                return false;
            };
            let expired = self.is_expired(t.id, now, exp);
            let Ok(slot) = self.table.find_entry(t.hash, |e| e.id == t.id) else {
                // The ticket of a removed entry: its id is free now.
                self.dead -= 1;
                self.free_ids.push(t.id);
                continue;
            };
            let freq = slot.get().freq.load(Ordering::Relaxed);
            match from {
                Queue::Small if !expired && freq > 0 => {
                    let mut slot = slot;
                    let e = slot.get_mut();
                    e.queue = Queue::Main;
                    *e.freq.get_mut() = 0;
                    self.policy.small_weight -= u64::from(e.weight);
                    self.policy.push(Queue::Main, t);
                }
                Queue::Main if !expired && freq > 0 => {
                    let mut slot = slot;
                    *slot.get_mut().freq.get_mut() = freq - 1;
                    self.policy.push(Queue::Main, t);
                }
                _ => {
                    let (e, _) = slot.remove();
                    self.forget(&e);
                    self.free_ids.push(t.id);
                    if from == Queue::Small && !expired {
                        // Ghost size: half the resident count. The full count (the paper's
                        // choice) lost 0.4-0.6 points of hit ratio on the Zipf trace of
                        // the scoreboard; a tenth was no better than a half.
                        let cap = (self.table.len() / 2).max(16);
                        self.policy.ghost_insert(t.hash, cap);
                    }
                    return true;
                }
            }
        }
    }

    /// Takes a removed entry's weight out of the totals.
    fn forget(&mut self, e: &Entry<K, V>) {
        self.weight -= u64::from(e.weight);
        if e.queue == Queue::Small {
            self.policy.small_weight -= u64::from(e.weight);
        }
    }

    /// Removes `key`; its ticket stays queued (dead) until eviction or compaction frees
    /// its id.
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (e, _) = self
            .table
            .find_entry(hash, |e| e.key.borrow() == key)
            .ok()?
            .remove();
        self.forget(&e);
        self.dead += 1;
        self.maybe_compact();
        Some(e.value)
    }

    /// Removes `key` if it is expired at `now`.
    pub(crate) fn remove_expired<Q>(&mut self, hash: u64, key: &Q, now: u64, exp: &Expiry)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(id) = self
            .table
            .find(hash, |e| e.key.borrow() == key)
            .map(|e| e.id)
        else {
            return;
        };
        if !self.is_expired(id, now, exp) {
            return;
        }
        if let Ok(slot) = self.table.find_entry(hash, |e| e.id == id) {
            let (e, _) = slot.remove();
            self.forget(&e);
            self.dead += 1;
            self.maybe_compact();
        }
    }

    /// Removes every entry expired at `now`. Returns how many.
    pub(crate) fn purge_expired(&mut self, now: u64, exp: &Expiry) -> usize {
        let times = &self.times;
        let mut removed_weight = 0u64;
        let mut removed_small = 0u64;
        let mut n = 0;
        self.table.retain(|e| {
            let t = &times[e.id as usize];
            let expired = exp.is_expired(t.deadline, &t.accessed, now);
            if expired {
                n += 1;
                removed_weight += u64::from(e.weight);
                if e.queue == Queue::Small {
                    removed_small += u64::from(e.weight);
                }
            }
            !expired
        });
        self.weight -= removed_weight;
        self.policy.small_weight -= removed_small;
        self.dead += n;
        self.maybe_compact();
        n
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self) {
        self.table.clear();
        self.times.clear();
        self.free_ids.clear();
        self.next_id = 0;
        self.dead = 0;
        self.policy.clear();
        self.weight = 0;
    }

    /// Frees the ids of dead tickets once they outnumber live entries, so remove-heavy
    /// use without evictions does not grow the queues.
    fn maybe_compact(&mut self) {
        if self.dead <= self.table.len().max(64) {
            return;
        }
        let table = &self.table;
        let free = &mut self.free_ids;
        self.policy.retain(|t| {
            let live = table.find(t.hash, |e| e.id == t.id).is_some();
            if !live {
                free.push(t.id);
            }
            live
        });
        self.dead = 0;
        debug_assert_eq!(self.policy.queued(), self.table.len());
    }
}
