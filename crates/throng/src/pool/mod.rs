//! A worker pool with a bounded queue, backpressure, per-job handles and graceful shutdown.
