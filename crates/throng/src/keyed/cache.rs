//! Each thread's cache of the slots it has incremented, so that repeat increments of a
//! key touch no lock and no shared line other than the key's own counter.
#![cfg(not(loom))]

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

use super::slot::Slot;
use crate::sync::Arc;

/// One thread's slots, by hash. Holds `Arc`s, so a slot evicted from the map stays
/// readable here until this thread notices it is retired and drops it.
pub(super) struct LocalCache<K> {
    table: HashTable<Arc<Slot<K>>>,
    /// The map's eviction generation when this cache was last swept of retired slots.
    generation: usize,
}

impl<K> Default for LocalCache<K> {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
            generation: 0,
        }
    }
}

impl<K> LocalCache<K> {
    /// Adds `n` to `key`'s cached slot. Returns `false` if the key is not cached or its
    /// slot was retired (then the entry is dropped and the caller goes to the map).
    #[inline]
    pub(super) fn lookup_and_add<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        n: u64,
        generation: usize,
    ) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if self.generation != generation {
            // Evictions happened since the last sweep: drop retired slots so the cache
            // does not keep evicted keys alive.
            self.table.retain(|s| !s.is_retired());
            self.generation = generation;
        }
        match self.table.find_entry(hash, |s| s.key.borrow() == key) {
            Ok(entry) => {
                if entry.get().add(n) {
                    true
                } else {
                    entry.remove();
                    false
                }
            }
            Err(_) => false,
        }
    }

    /// Caches `slot`, emptying the cache first if it holds `cap` entries (0 disables
    /// caching).
    pub(super) fn insert<S: BuildHasher>(
        &mut self,
        hash: u64,
        slot: Arc<Slot<K>>,
        cap: usize,
        hasher: &S,
    ) where
        K: Hash,
    {
        if cap == 0 {
            return;
        }
        if self.table.len() >= cap {
            self.table.clear();
        }
        self.table
            .insert_unique(hash, slot, |s| hasher.hash_one(&s.key));
    }
}
