//! TODO(owner: periodic helper) module not yet written.
