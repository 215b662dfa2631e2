//! A circuit breaker: closed, open and half-open, on consecutive failures or a failure rate.

#[allow(clippy::module_inception)]
mod breaker;
mod config;
mod error;
mod permit;
mod state;
mod stats;
mod window;

pub use breaker::Breaker;
pub use config::BreakerBuilder;
pub use error::{CallError, InvalidBreaker, Rejected};
pub use permit::{Outcome, Permit};
pub use state::{Reason, State, StateChange};
pub use stats::BreakerMetrics;
pub use window::Window;
