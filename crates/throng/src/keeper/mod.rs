//! A task that owns a state; others run closures on it through a bounded mailbox.
//!
//! DOCS TBD
#![allow(clippy::module_inception)]

mod error;
mod handle;
mod slot;
mod task;

pub use error::{CallError, CallTimeoutError, CastError, StopError, TryCallError, TryCastError};
pub use handle::{Keeper, MAX_CAPACITY};
pub use slot::Reply;

#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    //! The call slot's protocol, exposed for `tests/loom_keeper.rs` only.
    pub use super::slot::{Call, Job, ReplySlot};
}
