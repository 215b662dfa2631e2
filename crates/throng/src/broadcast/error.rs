//! Error types, named after the operation that returns them.

use std::fmt;

/// [`publish`](super::Broadcaster::publish) failed: the broadcaster is closed. Carries
/// the unsent message (or, for `publish_with`, the unused closure).
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct PublishError<T>(pub T);

impl<T> PublishError<T> {
    /// The message that was not published.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for PublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublishError(..)")
    }
}

impl<T> fmt::Display for PublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcaster closed")
    }
}

impl<T> std::error::Error for PublishError<T> {}

/// [`try_publish`](super::Broadcaster::try_publish) refused the message; nothing was
/// delivered and no sequence number was used. Carries the message back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TryPublishError<T> {
    /// A [`Block`](super::Overflow::Block) subscriber's queue is full, or another
    /// publish is waiting for one.
    Full(T),
    /// The broadcaster is closed.
    Closed(T),
}

impl<T> TryPublishError<T> {
    /// The message that was not published.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(t) | Self::Closed(t) => t,
        }
    }

    /// Whether the broadcaster was full (rather than closed).
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }
}

impl<T> fmt::Debug for TryPublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("blocking subscriber full"),
            Self::Closed(_) => f.write_str("broadcaster closed"),
        }
    }
}

impl<T> std::error::Error for TryPublishError<T> {}

/// [`subscribe`](super::Broadcaster::subscribe) failed: the broadcaster is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeError {
    pub(crate) _p: (),
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcaster closed")
    }
}

impl std::error::Error for SubscribeError {}

/// Why [`recv`](super::Subscriber::recv) returned no message.
///
/// `Lagged` is a one-time notice; `Disconnected` and `Closed` end the subscription and
/// are returned again by every later call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// ([`DropOldest`](super::Overflow::DropOldest)) This many messages were evicted
    /// before the subscriber could receive them. Reported once, in place of the gap; the
    /// next call returns the next message.
    Lagged(u64),
    /// The subscriber fell behind under [`Disconnect`](super::Overflow::Disconnect) or a
    /// [`Block`](super::Overflow::Block) timeout and was cut off; every message queued
    /// before that has been received.
    Disconnected,
    /// The broadcaster was closed or dropped (or this subscriber unsubscribed), and every
    /// queued message has been received.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lagged(n) => write!(f, "subscriber lagged, {n} messages missed"),
            Self::Disconnected => f.write_str("subscriber disconnected for falling behind"),
            Self::Closed => f.write_str("broadcaster closed"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`try_recv`](super::Subscriber::try_recv) returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No message is queued now.
    Empty,
    /// See [`RecvError::Lagged`].
    Lagged(u64),
    /// See [`RecvError::Disconnected`].
    Disconnected,
    /// See [`RecvError::Closed`].
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no message queued"),
            Self::Lagged(n) => RecvError::Lagged(*n).fmt(f),
            Self::Disconnected => RecvError::Disconnected.fmt(f),
            Self::Closed => RecvError::Closed.fmt(f),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Lagged(n) => Self::Lagged(n),
            RecvError::Disconnected => Self::Disconnected,
            RecvError::Closed => Self::Closed,
        }
    }
}

/// Why [`recv_timeout`](super::Subscriber::recv_timeout) returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// No message arrived in time.
    Timeout,
    /// See [`RecvError::Lagged`].
    Lagged(u64),
    /// See [`RecvError::Disconnected`].
    Disconnected,
    /// See [`RecvError::Closed`].
    Closed,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out waiting for a message"),
            Self::Lagged(n) => RecvError::Lagged(*n).fmt(f),
            Self::Disconnected => RecvError::Disconnected.fmt(f),
            Self::Closed => RecvError::Closed.fmt(f),
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Lagged(n) => Self::Lagged(n),
            RecvError::Disconnected => Self::Disconnected,
            RecvError::Closed => Self::Closed,
        }
    }
}

/// [`Hub::publish`](super::Hub::publish) and friends failed. Carries the message back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum HubPublishError<T> {
    /// The topic has no subscribers (it does not exist, or its last subscriber left).
    NoTopic(T),
    /// A [`Block`](super::Overflow::Block) subscriber of the topic is full (only from
    /// the `try_` methods).
    Full(T),
    /// The hub is closed.
    Closed(T),
}

impl<T> HubPublishError<T> {
    /// The message that was not published.
    pub fn into_inner(self) -> T {
        match self {
            Self::NoTopic(t) | Self::Full(t) | Self::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for HubPublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTopic(_) => f.write_str("NoTopic(..)"),
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for HubPublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTopic(_) => f.write_str("no such topic"),
            Self::Full(_) => f.write_str("blocking subscriber full"),
            Self::Closed(_) => f.write_str("hub closed"),
        }
    }
}

impl<T> std::error::Error for HubPublishError<T> {}
