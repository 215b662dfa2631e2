//! Placeholder until the dump module lands.
