//! Ordered parallel map and task groups with a concurrency limit.
