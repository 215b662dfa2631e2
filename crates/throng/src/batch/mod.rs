//! A batcher: callers submit items and await their own results; flushes on size, bytes or delay.
