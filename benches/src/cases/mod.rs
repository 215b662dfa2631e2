//! Scoreboard cases, one file per pattern.

use crate::report::Case;

pub mod batch;
pub mod breaker;
pub mod broadcast;
pub mod cache;
pub mod counter;
pub mod keeper;
pub mod keyed;
pub mod parallel;
pub mod pool;
pub mod ratelimit;

/// Every case, in the order the scoreboard runs them.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(counter::cases());
    cases.extend(keyed::cases());
    cases.extend(keeper::cases());
    cases.extend(broadcast::cases());
    cases.extend(parallel::cases());
    cases.extend(pool::cases());
    cases.extend(batch::cases());
    cases.extend(ratelimit::cases());
    cases.extend(breaker::cases());
    cases.extend(cache::cases());
    cases
}
