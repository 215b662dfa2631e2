//! TODO(owner: keeper helper) module not yet written.
