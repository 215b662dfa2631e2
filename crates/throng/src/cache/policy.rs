//! S3-FIFO (Yang et al., SOSP 2023): the eviction policy.
//!
//! Three FIFO queues per shard: a *small* queue that new entries enter (about 10 % of the
//! shard's weight), a *main* queue, and a *ghost* queue of the hashes of entries recently
//! evicted from the small queue. Each entry has a 2-bit access count that hits raise with
//! a relaxed atomic under the shard's read lock (no exclusive lock on a hit).
//!
//! - Eviction from small: an entry that was hit since it arrived moves to main; one that
//!   was not is evicted and its hash goes to the ghost queue (one-hit wonders leave fast,
//!   which makes the policy scan resistant).
//! - Eviction from main: an entry that was hit goes back to the tail with its count
//!   lowered by one (CLOCK-like); one that was not is evicted.
//! - A new key whose hash is in the ghost queue skips small and enters main. The ghost
//!   remembers up to half as many hashes as the shard holds entries.
//!
//! The queues hold [`Ticket`]s naming entries; the shard owns the entries. This file holds
//! only the queue bookkeeping, the shard drives it.

use std::collections::VecDeque;

use hashbrown::HashTable;

/// A queue's reference to an entry: its hash (to find it) and id (to tell it apart).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    pub(crate) hash: u64,
    pub(crate) id: u32,
}

/// The small and main queues and the ghost set of one shard.
#[derive(Debug, Default)]
pub(crate) struct S3Fifo {
    small: VecDeque<Ticket>,
    main: VecDeque<Ticket>,
    /// Total weight of live entries in `small`.
    pub(crate) small_weight: u64,
    ghost_order: VecDeque<u64>,
    ghost_set: HashTable<u64>,
}

/// Which queue an index was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    Small,
    Main,
}

impl S3Fifo {
    /// Whether the next victim should come from the small queue: it holds more than its
    /// share (`small_target`), or main is empty.
    pub(crate) fn evict_from_small(&self, small_target: u64) -> bool {
        (self.small_weight > small_target && !self.small.is_empty()) || self.main.is_empty()
    }

    /// Appends `t` to the tail of `q`.
    pub(crate) fn push(&mut self, q: Queue, t: Ticket) {
        match q {
            Queue::Small => self.small.push_back(t),
            Queue::Main => self.main.push_back(t),
        }
    }

    /// Takes the head of `q`.
    pub(crate) fn pop(&mut self, q: Queue) -> Option<Ticket> {
        match q {
            Queue::Small => self.small.pop_front(),
            Queue::Main => self.main.pop_front(),
        }
    }

    /// Number of tickets queued (live and dead).
    pub(crate) fn queued(&self) -> usize {
        self.small.len() + self.main.len()
    }

    /// Keeps only the tickets for which `live` holds.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(&Ticket) -> bool) {
        self.small.retain(|t| live(t));
        self.main.retain(|t| live(t));
    }

    /// Remembers `hash` as recently evicted; the ghost holds at most `cap` hashes.
    pub(crate) fn ghost_insert(&mut self, hash: u64, cap: usize) {
        if self.ghost_set.find(hash, |&h| h == hash).is_some() {
            return;
        }
        while self.ghost_order.len() >= cap.max(1) {
            let Some(old) = self.ghost_order.pop_front() else {
                break;
            };
            if let Ok(e) = self.ghost_set.find_entry(old, |&h| h == old) {
                e.remove();
            }
        }
        self.ghost_order.push_back(hash);
        self.ghost_set.insert_unique(hash, hash, |&h| h);
    }

    /// Whether `hash` was recently evicted from small; forgets it if so.
    pub(crate) fn ghost_take(&mut self, hash: u64) -> bool {
        match self.ghost_set.find_entry(hash, |&h| h == hash) {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}
