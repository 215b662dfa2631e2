//! The receiving side: [`Subscriber`] and the [`Delivery`] it yields.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use super::broadcaster::Shared;
use super::core::Queue;
use super::policy::{Overflow, Status, SubscriberStats};
use super::{RecvError, RecvTimeoutError, TryRecvError};
use crate::sync::Arc;

/// One received message and its sequence number in its broadcaster's total order.
///
/// Every subscriber of a broadcaster sees the messages it receives in increasing `seq`
/// order, and the same `seq` always names the same message, so two subscribers can
/// compare histories and a subscriber can spot gaps (`seq` jumps) itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<T> {
    /// Position in the broadcaster's order, starting at 0 and increasing by one per
    /// published message.
    pub seq: u64,
    /// The message (a cheap clone of what was published).
    pub msg: T,
}

impl<T> Delivery<T> {
    /// The message, without its sequence number.
    pub fn into_inner(self) -> T {
        self.msg
    }
}

/// A subscription to a [`Broadcaster`](super::Broadcaster): a bounded queue with its own
/// [`Overflow`] policy. Dropping it unsubscribes.
///
/// Messages arrive in sequence order. After the subscription ends (broadcaster closed,
/// subscriber disconnected, or [`unsubscribe`](Self::unsubscribe)) the messages already
/// queued are still received, then the terminal error is returned, and returned again on
/// every later call.
pub struct Subscriber<T> {
    pub(crate) queue: Arc<Queue<T>>,
    pub(crate) shared: Arc<Shared<T>>,
    pub(crate) start_seq: u64,
    /// Messages taken from the queue in one batch and not yet returned.
    pub(crate) local: VecDeque<Delivery<T>>,
}

impl<T> fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.queue.id)
            .field("start_seq", &self.start_seq)
            .field("capacity", &self.queue.capacity)
            .field("overflow", &self.queue.overflow)
            .finish_non_exhaustive()
    }
}

impl<T> Subscriber<T> {
    /// Waits for the next message.
    ///
    /// # Errors
    ///
    /// - [`RecvError::Lagged(n)`](RecvError::Lagged) once after `n` messages were evicted
    ///   (`DropOldest`); the subscription continues.
    /// - [`RecvError::Disconnected`] once the queue is drained after the subscriber was
    ///   cut off for falling behind.
    /// - [`RecvError::Closed`] once the queue is drained after the broadcaster closed or
    ///   this subscriber unsubscribed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is taken out of the queue only in the poll that returns
    /// it, so dropping the future (e.g. in `select!`) loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::num::NonZeroUsize;
    /// use throng::broadcast::{Broadcaster, Overflow, RecvError, SubscribeOptions};
    ///
    /// let b = Broadcaster::new();
    /// let opts = SubscribeOptions::new(NonZeroUsize::new(8).unwrap(), Overflow::DropOldest);
    /// let mut sub = b.subscribe(opts).unwrap();
    /// b.publish("hi").await.unwrap();
    /// b.close();
    /// assert_eq!(sub.recv().await.unwrap().msg, "hi");
    /// assert_eq!(sub.recv().await, Err(RecvError::Closed));
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<Delivery<T>, RecvError> {
        if let Some(d) = self.local.pop_front() {
            return Ok(d);
        }
        poll_fn(|cx| self.queue.poll_refill(Some(cx), &mut self.local)).await?;
        Ok(self.local.pop_front().expect("refilled batch is not empty"))
    }

    /// Takes the next message if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued and the subscription is open;
    /// otherwise as [`recv`](Self::recv).
    pub fn try_recv(&mut self) -> Result<Delivery<T>, TryRecvError> {
        if let Some(d) = self.local.pop_front() {
            return Ok(d);
        }
        match self.queue.poll_refill(None, &mut self.local) {
            Poll::Ready(Ok(())) => Ok(self.local.pop_front().expect("refilled batch is not empty")),
            Poll::Ready(Err(e)) => Err(e.into()),
            Poll::Pending => Err(TryRecvError::Empty),
        }
    }

    /// Waits up to `timeout` for the next message.
    ///
    /// Needs a tokio runtime with the time driver enabled.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if nothing arrived in time; otherwise as
    /// [`recv`](Self::recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Self::recv).
    pub async fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Delivery<T>, RecvTimeoutError> {
        match tokio::time::timeout(timeout, self.recv()).await {
            Ok(r) => r.map_err(RecvTimeoutError::from),
            Err(_) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Waits until at least one message is queued, then moves up to `limit` of them into
    /// `out` (appending) under one lock and returns how many. For writers that batch
    /// (a connection flushing several messages per syscall).
    ///
    /// Returns `Ok(0)` at once if `limit` is 0.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv); nothing is appended when an error is returned.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: messages are moved into `out` only in the poll that returns them.
    pub async fn recv_many(
        &mut self,
        out: &mut Vec<Delivery<T>>,
        limit: usize,
    ) -> Result<usize, RecvError> {
        if limit == 0 {
            return Ok(0);
        }
        if self.local.is_empty() {
            poll_fn(|cx| self.queue.poll_refill(Some(cx), &mut self.local)).await?;
        }
        let n = self.local.len().min(limit);
        out.extend(self.local.drain(..n));
        Ok(n)
    }

    /// Leaves the broadcaster now: no new message is queued for this subscriber, the
    /// queued ones can still be received, then [`RecvError::Closed`]. Calling it again,
    /// or after the subscription ended otherwise, does nothing. Dropping the subscriber
    /// does the same.
    pub fn unsubscribe(&mut self) {
        self.shared.remove(&self.queue);
    }

    /// The sequence number of the first message this subscriber can receive: the
    /// subscription was registered atomically with the sequencer, so every message with
    /// `seq >= start_seq()` published while it is open is offered to it, and none before.
    pub fn start_seq(&self) -> u64 {
        self.start_seq
    }

    /// This subscription's id, unique within its broadcaster.
    pub fn id(&self) -> u64 {
        self.queue.id
    }

    /// The counters of this subscription.
    pub fn stats(&self) -> SubscriberStats {
        self.queue.stats(self.local.len())
    }

    /// Where the subscription stands (open, or why it ended).
    pub fn status(&self) -> Status {
        self.queue.status()
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.queue.len() + self.local.len()
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue capacity chosen at subscribe time.
    pub fn capacity(&self) -> usize {
        self.queue.capacity
    }

    /// The overflow policy chosen at subscribe time.
    pub fn overflow(&self) -> Overflow {
        self.queue.overflow
    }
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        self.shared.remove(&self.queue);
    }
}
