//! Pipelines: stages joined by bounded queues, with per-stage workers and metrics.
