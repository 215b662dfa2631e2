//! Turning a caught panic into the message an error can carry.

use std::any::Any;

/// The message of a panic payload (`&str` or `String`), or a placeholder.
#[allow(dead_code)] // used by the pool, batch and parallel features
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
