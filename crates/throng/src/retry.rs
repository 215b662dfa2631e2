//! Placeholder until the retry module lands.
