//! Rate limiting with GCRA: direct and keyed, with bounded key memory.

mod coarse;
mod direct;
mod error;
mod gcra;
mod keyed;
mod quota;
mod wait;

pub use coarse::CoarseClock;
pub use direct::RateLimiter;
pub use error::{
    CheckNError, InsufficientCapacity, InvalidQuota, InvalidResolution, KeyedCheckError, NotUntil,
    UntilReadyError,
};
pub use keyed::KeyedRateLimiter;
pub use quota::{Quota, QuotaBuilder};
