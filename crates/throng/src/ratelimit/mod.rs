//! Rate limiting with GCRA: direct and keyed, with bounded key memory.
