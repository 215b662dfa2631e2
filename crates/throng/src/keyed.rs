//! TODO(owner: keyed helper) module not yet written.
