//! TODO(owner: counter helper) module not yet written.
