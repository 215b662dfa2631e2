//! [`BatcherBuilder`]: flush triggers, concurrency and queue size, validated at spawn.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::batcher::Batcher;
use super::error::InvalidBatcher;
use super::task::{run, Limits, Weigher};

/// Settings for a [`Batcher`]; finish with [`spawn`](Self::spawn).
#[must_use = "a builder does nothing until `spawn` is called"]
pub struct BatcherBuilder<T> {
    pub(crate) max_items: usize,
    pub(crate) max_bytes: Option<usize>,
    pub(crate) max_delay: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) weigher: Option<Weigher<T>>,
}

impl<T> std::fmt::Debug for BatcherBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatcherBuilder")
            .field("max_items", &self.max_items)
            .field("max_bytes", &self.max_bytes)
            .field("max_delay", &self.max_delay)
            .field("max_in_flight", &self.max_in_flight)
            .field("queue_capacity", &self.queue_capacity)
            .finish_non_exhaustive()
    }
}

impl<T> Default for BatcherBuilder<T> {
    fn default() -> Self {
        Self {
            max_items: 128,
            max_bytes: None,
            max_delay: Duration::from_millis(10),
            max_in_flight: 1,
            queue_capacity: 1024,
            weigher: None,
        }
    }
}

impl<T: Send + 'static> BatcherBuilder<T> {
    /// Flush when a batch holds this many items (default 128).
    pub fn max_items(mut self, n: usize) -> Self {
        self.max_items = n;
        self
    }

    /// Flush before a batch's total weight would pass `bytes`, with each item weighed by
    /// `weigher` (its encoded size, say). An item heavier than `bytes` on its own is
    /// flushed alone. Default: no byte limit.
    pub fn max_bytes(
        mut self,
        bytes: usize,
        weigher: impl Fn(&T) -> usize + Send + Sync + 'static,
    ) -> Self {
        self.max_bytes = Some(bytes);
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// Flush when this much time has passed since the first item of the batch arrived
    /// (default 10 ms). It bounds the latency batching adds to any item.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// At most this many flushes run at once (default 1). When they are all busy, the
    /// next batch keeps filling; once it is full, intake stops and submitters wait
    /// (backpressure).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Items that may wait in the intake queue before submitters wait (default 1024).
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n;
        self
    }

    /// Starts the batcher task. `flush` gets a batch of items in submission order and
    /// returns one result per item, in the same order, or one error for the whole batch.
    ///
    /// # Errors
    ///
    /// [`InvalidBatcher`] for a zero limit or no tokio runtime.
    pub fn spawn<R, E, F, Fut>(self, flush: F) -> Result<Batcher<T, R, E>, InvalidBatcher>
    where
        R: Send + 'static,
        E: Send + Sync + 'static,
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<R>, E>> + Send + 'static,
    {
        if self.max_items == 0 {
            return Err(InvalidBatcher::ZeroMaxItems);
        }
        if self.max_bytes == Some(0) {
            return Err(InvalidBatcher::ZeroMaxBytes);
        }
        if self.max_in_flight == 0 {
            return Err(InvalidBatcher::ZeroInFlight);
        }
        if self.queue_capacity == 0 {
            return Err(InvalidBatcher::ZeroCapacity);
        }
        if self.max_delay.is_zero() {
            return Err(InvalidBatcher::ZeroDelay);
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| InvalidBatcher::NoRuntime)?;
        let limits = Limits {
            max_items: self.max_items,
            max_bytes: self.max_bytes.unwrap_or(usize::MAX),
            max_delay: self.max_delay,
            max_in_flight: self.max_in_flight,
            weigher: self.weigher,
        };
        Ok(Batcher::start(
            &runtime,
            self.queue_capacity,
            move |rx, shared| run(rx, limits, Arc::new(flush), shared),
        ))
    }
}
