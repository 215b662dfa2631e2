//! [`CacheBuilder`]: capacity, expiry, shards and clock, validated by `build`.

use std::hash::Hash;
use std::marker::PhantomData;
use std::time::Duration;

use crate::clock::{nanos, Clock, MonotonicClock};

use super::cache::Cache;
use super::error::InvalidCache;
use super::expiry::Expiry;

/// Configures a [`Cache`]. Made by [`Cache::builder`]; checked by [`build`](Self::build).
#[must_use = "a builder does nothing until `build` is called"]
#[derive(Debug, Clone)]
pub struct CacheBuilder<K, V, C = MonotonicClock> {
    max_capacity: u64,
    ttl: Option<Duration>,
    tti: Option<Duration>,
    shards: Option<usize>,
    clock: C,
    _kv: PhantomData<fn(K, V)>,
}

impl<K, V> CacheBuilder<K, V, MonotonicClock> {
    pub(crate) fn new(max_capacity: u64) -> Self {
        Self {
            max_capacity,
            ttl: None,
            tti: None,
            shards: None,
            clock: MonotonicClock::new(),
            _kv: PhantomData,
        }
    }
}

impl<K, V, C> CacheBuilder<K, V, C> {
    /// Entries expire this long after they were inserted (or last replaced).
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Entries expire this long after they were last read or written.
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Number of shards (rounded up to a power of two, and down to at most
    /// `max_capacity`). Default: 4 × the available parallelism, at least 16.
    ///
    /// Each shard holds `max_capacity / shards` of the weight and evicts on its own, so
    /// one entry may weigh at most that much; use 1 shard for a few heavy entries.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// The clock expiry reads ([`ManualClock`](crate::clock::ManualClock) in tests,
    /// [`TokioClock`](crate::clock::TokioClock) under paused tokio time).
    pub fn clock<C2: Clock>(self, clock: C2) -> CacheBuilder<K, V, C2> {
        CacheBuilder {
            max_capacity: self.max_capacity,
            ttl: self.ttl,
            tti: self.tti,
            shards: self.shards,
            clock,
            _kv: PhantomData,
        }
    }
}

impl<K, V, C> CacheBuilder<K, V, C>
where
    K: Hash + Eq,
    V: Clone,
    C: Clock,
{
    /// Builds the cache.
    ///
    /// # Errors
    ///
    /// [`InvalidCache`] if the capacity or the shard count is 0, or a time-to-live or
    /// time-to-idle is zero.
    pub fn build(self) -> Result<Cache<K, V, C>, InvalidCache> {
        if self.max_capacity == 0 {
            return Err(InvalidCache::ZeroCapacity);
        }
        if self.shards == Some(0) {
            return Err(InvalidCache::ZeroShards);
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(InvalidCache::ZeroTimeToLive);
        }
        if self.tti == Some(Duration::ZERO) {
            return Err(InvalidCache::ZeroTimeToIdle);
        }
        let wanted = self.shards.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
            (cores * 4).max(16)
        });
        let mut shards = wanted.next_power_of_two();
        while shards > 1 && shards as u64 > self.max_capacity {
            shards /= 2;
        }
        let expiry = Expiry {
            ttl: self.ttl.map(nanos),
            tti: self.tti.map(nanos),
        };
        Ok(Cache::from_parts(
            self.max_capacity,
            shards,
            expiry,
            self.clock,
        ))
    }
}
