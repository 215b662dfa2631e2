//! The cache's errors: a rejected configuration and a rejected insert.

use std::fmt;

/// Why [`CacheBuilder::build`](super::CacheBuilder::build) refused a configuration.
///
/// The rules: the capacity is at least 1, the shard count is at least 1, and a
/// time-to-live or time-to-idle, when set, is longer than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidCache {
    /// `max_capacity` was 0: the cache could never hold anything.
    ZeroCapacity,
    /// `shards` was 0.
    ZeroShards,
    /// `time_to_live` was zero: every entry would be expired on arrival.
    ZeroTimeToLive,
    /// `time_to_idle` was zero: every entry would be expired on arrival.
    ZeroTimeToIdle,
}

impl fmt::Display for InvalidCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroCapacity => "cache capacity is zero",
            Self::ZeroShards => "cache shard count is zero",
            Self::ZeroTimeToLive => "cache time-to-live is zero",
            Self::ZeroTimeToIdle => "cache time-to-idle is zero",
        })
    }
}

impl std::error::Error for InvalidCache {}

/// The old name of [`InvalidCache`].
#[deprecated(
    since = "0.1.0",
    note = "renamed `InvalidCache`, as every config error is `Invalid<Thing>`"
)]
pub type BuildError = InvalidCache;

/// Why [`Cache::insert_with_weight`](super::Cache::insert_with_weight) refused an entry.
/// The key and value are handed back ([`into_inner`](Self::into_inner)).
#[non_exhaustive]
pub enum InsertError<K, V> {
    /// The weight is larger than what one shard may hold (`max_capacity / shards`), so
    /// the entry could never be resident. Nothing was changed.
    TooHeavy {
        /// The refused key.
        key: K,
        /// The refused value.
        value: V,
        /// Its weight.
        weight: u32,
        /// The largest weight this cache accepts.
        limit: u64,
    },
    /// The weight was 0. Weightless entries would escape the bound.
    ZeroWeight {
        /// The refused key.
        key: K,
        /// The refused value.
        value: V,
    },
}

impl<K, V> InsertError<K, V> {
    /// The refused key and value.
    pub fn into_inner(self) -> (K, V) {
        match self {
            Self::TooHeavy { key, value, .. } | Self::ZeroWeight { key, value } => (key, value),
        }
    }
}

impl<K, V> fmt::Debug for InsertError<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooHeavy { weight, limit, .. } => f
                .debug_struct("TooHeavy")
                .field("weight", weight)
                .field("limit", limit)
                .finish_non_exhaustive(),
            Self::ZeroWeight { .. } => f.debug_struct("ZeroWeight").finish_non_exhaustive(),
        }
    }
}

impl<K, V> fmt::Display for InsertError<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooHeavy { weight, limit, .. } => {
                write!(f, "entry weight {weight} exceeds the limit {limit}")
            }
            Self::ZeroWeight { .. } => f.write_str("entry weight is zero"),
        }
    }
}

impl<K, V> std::error::Error for InsertError<K, V> {}
