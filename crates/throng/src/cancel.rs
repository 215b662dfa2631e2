//! Placeholder until the cancel module lands.
