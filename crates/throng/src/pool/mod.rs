//! A worker pool with a bounded queue, backpressure, per-job handles and graceful shutdown.

mod config;
mod error;
mod handle;
mod intake;
mod metrics;
#[allow(clippy::module_inception)]
mod pool;
mod worker;

pub use config::PoolBuilder;
pub use error::{
    JobError, PoolConfigError, SubmitError, SubmitRetryError, SubmitTimeoutError, TrySubmitError,
};
pub use handle::{results, Finished, JobHandle, JobResult, Results, ResultsSender};
pub use metrics::{PoolMetrics, ShutdownReport};
pub use pool::Pool;
pub use tokio_util::sync::CancellationToken;

#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    //! The intake/close core, exposed for `tests/loom_pool.rs` only.
    pub use super::intake::{Intake, Pop, Push};
}
