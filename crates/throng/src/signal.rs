//! TODO(owner: signal helper) module not yet written.
