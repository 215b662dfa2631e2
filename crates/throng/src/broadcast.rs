//! TODO(owner: broadcast helper) module not yet written.
