//! TODO(owner: dump helper) module not yet written.
