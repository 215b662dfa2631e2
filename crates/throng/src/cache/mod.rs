//! A bounded concurrent cache with expiry and single-flight loading.
//!
//! TODO docs
mod builder;
#[allow(clippy::module_inception)]
mod cache;
mod error;
mod expiry;
mod loader;
mod policy;
mod shard;

pub use builder::CacheBuilder;
pub use cache::Cache;
pub use error::{BuildError, InsertError};
