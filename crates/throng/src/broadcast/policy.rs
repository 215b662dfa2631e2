//! Subscription options, overflow policies and the counters they feed.

use std::num::NonZeroUsize;
use std::time::Duration;

/// What a subscriber's queue does when a message arrives and the queue is full.
///
/// Chosen per subscriber at subscribe time; every message that is not delivered is
/// counted (see [`SubscriberStats`] and [`Metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the new message for this subscriber and count it; the queue keeps its older
    /// messages. The subscriber can spot the gap from the sequence numbers, and
    /// [`SubscriberStats::dropped`] says how many it lost. (The seed's behaviour, made
    /// visible: S12-1.)
    DropNewest,
    /// Evict the oldest queued message to make room, count it, and report the number
    /// missed to the subscriber once, as
    /// [`RecvError::Lagged(n)`](super::RecvError::Lagged), before the next message it
    /// receives. The subscription continues (tokio broadcast's "lagging").
    DropOldest,
    /// End the subscription: the new message is dropped and counted, the subscriber is
    /// removed from the broadcaster, and after receiving what is already queued it sees
    /// [`RecvError::Disconnected`](super::RecvError::Disconnected). For slow consumers
    /// that must be cut off (a chat connection closed with code 4008).
    Disconnect,
    /// Backpressure: [`publish`](super::Broadcaster::publish) waits up to `timeout` for
    /// room in this subscriber's queue, holding back every later message of the
    /// broadcaster meanwhile (order is never broken). If the timeout expires, the
    /// subscriber is disconnected exactly as with [`Overflow::Disconnect`]: a lossless
    /// subscriber should rather end than silently skip.
    /// [`try_publish`](super::Broadcaster::try_publish) never waits: it refuses the
    /// whole message with [`TryPublishError::Full`](super::TryPublishError::Full) while a
    /// `Block` subscriber is full.
    Block {
        /// How long one publish may wait for room in this subscriber's queue.
        timeout: Duration,
    },
}

/// How to subscribe: the queue capacity and the [`Overflow`] policy.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use throng::broadcast::{Overflow, SubscribeOptions};
///
/// let opts = SubscribeOptions::new(NonZeroUsize::new(64).unwrap(), Overflow::Disconnect);
/// assert_eq!(opts.capacity().get(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOptions {
    capacity: NonZeroUsize,
    overflow: Overflow,
}

impl SubscribeOptions {
    /// A queue of `capacity` messages with the given overflow policy.
    ///
    /// `capacity` bounds the messages queued and not yet taken by the subscriber. The
    /// subscriber takes all queued messages in one batch when its previous batch is used
    /// up, so at most `2 × capacity` messages are held per subscriber. The queue
    /// allocates as it fills, not up front, so a large capacity costs nothing until used.
    #[must_use]
    pub const fn new(capacity: NonZeroUsize, overflow: Overflow) -> Self {
        Self { capacity, overflow }
    }

    /// Like [`new`](Self::new) but from a plain `usize`.
    ///
    /// # Errors
    ///
    /// [`InvalidCapacity`] if `capacity` is zero (a queue must hold at least one message).
    pub const fn with_capacity(
        capacity: usize,
        overflow: Overflow,
    ) -> Result<Self, InvalidCapacity> {
        match NonZeroUsize::new(capacity) {
            Some(capacity) => Ok(Self::new(capacity, overflow)),
            None => Err(InvalidCapacity { _p: () }),
        }
    }

    /// Returns a copy with another capacity.
    #[must_use]
    pub const fn capacity_of(mut self, capacity: NonZeroUsize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Returns a copy with another overflow policy.
    #[must_use]
    pub const fn overflow_of(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The queue capacity.
    pub const fn capacity(&self) -> NonZeroUsize {
        self.capacity
    }

    /// The overflow policy.
    pub const fn overflow(&self) -> Overflow {
        self.overflow
    }
}

/// A subscription capacity of zero was requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCapacity {
    _p: (),
}

impl std::fmt::Display for InvalidCapacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("subscriber capacity must be at least 1")
    }
}

impl std::error::Error for InvalidCapacity {}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Receiving new messages.
    Open,
    /// The broadcaster was closed (or dropped); queued messages can still be received.
    Closed,
    /// Cut off for falling behind ([`Overflow::Disconnect`] or a [`Overflow::Block`]
    /// timeout); queued messages can still be received.
    Disconnected,
    /// The subscriber unsubscribed; queued messages can still be received.
    Unsubscribed,
}

/// One subscriber's counters, read with [`Subscriber::stats`](super::Subscriber::stats).
///
/// Invariant: `enqueued == received + dropped_oldest + queued` (messages evicted by
/// [`Overflow::DropOldest`] had been enqueued first), and every message published while
/// the subscriber was open is in `enqueued` or `dropped` (except one abandoned by
/// [`close`](super::Broadcaster::close) while a `Block` publish waited for this
/// subscriber, which the [`PublishReport`] counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SubscriberStats {
    /// Messages accepted into the queue.
    pub enqueued: u64,
    /// Messages taken out of the queue by the subscriber.
    pub received: u64,
    /// Messages this subscriber did not get because its queue was full (new messages
    /// refused under `DropNewest`/`Disconnect`/`Block`, plus old ones evicted under
    /// `DropOldest`).
    pub dropped: u64,
    /// Of `dropped`, the queued messages evicted by [`Overflow::DropOldest`].
    pub dropped_oldest: u64,
    /// Messages queued now, including the batch the subscriber has taken and not yet
    /// returned from `recv`.
    pub queued: usize,
}

/// A broadcaster's counters since it was created, read with
/// [`Broadcaster::metrics`](super::Broadcaster::metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Metrics {
    /// Messages published (sequence numbers assigned).
    pub published: u64,
    /// Per-subscriber deliveries: messages accepted into a subscriber queue.
    pub delivered: u64,
    /// Per-subscriber drops of every kind (see [`SubscriberStats::dropped`]).
    pub dropped: u64,
    /// Subscribers cut off by [`Overflow::Disconnect`] or a [`Overflow::Block`] timeout.
    pub disconnected: u64,
    /// Subscriptions ever made.
    pub subscribed: u64,
    /// Subscribers now.
    pub subscribers: usize,
}

/// What one publish did, returned by the publish methods.
///
/// `delivered + dropped` is the number of subscribers the message was offered to (a
/// `Block` subscriber that unsubscribes while the publish waits for it is in neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PublishReport {
    /// The message's sequence number (0 for the first message of a broadcaster).
    pub seq: u64,
    /// Subscribers whose queue accepted the message.
    pub delivered: usize,
    /// Subscribers that did not get it (queue full under `DropNewest`, `Disconnect`, or
    /// an expired `Block` timeout; or closed while a `Block` publish waited).
    pub dropped: usize,
    /// Older queued messages evicted to make room (`DropOldest` subscribers).
    pub evicted: usize,
    /// Subscribers this publish disconnected.
    pub disconnected: usize,
}
