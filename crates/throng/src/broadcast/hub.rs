//! [`Hub`]: broadcasters keyed by topic (chat rooms), created on first subscribe and
//! removed with their last subscriber.

use std::fmt;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};

use hashbrown::{Equivalent, HashMap};

use super::broadcaster::Broadcaster;
use super::policy::{Metrics, PublishReport, SubscribeOptions};
use super::subscriber::Subscriber;
use super::{HubPublishError, PublishError, SubscribeError, TryPublishError};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};

type Map<K, T> = HashMap<K, Topic<T>, foldhash::fast::RandomState>;

struct Topic<T> {
    bcast: Broadcaster<T>,
    /// Live `HubSubscriber`s of this topic; the topic is removed when it reaches 0.
    members: usize,
}

struct Topics<K, T> {
    map: Map<K, T>,
    closed: bool,
}

struct HubInner<K, T> {
    topics: Mutex<Topics<K, T>>,
    handles: AtomicUsize,
}

impl<K, T> HubInner<K, T> {
    fn lock(&self) -> MutexGuard<'_, Topics<K, T>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Broadcasters keyed by topic: one [`Broadcaster`] (one sequencer, one total order) per
/// topic, created by the first [`subscribe`](Self::subscribe) and removed, closed, when
/// its last [`HubSubscriber`] leaves.
///
/// Membership changes are serialized by one map lock, and a subscriber is counted in its
/// topic from inside that lock, so a subscribe racing with the last unsubscribe either
/// joins the live topic (which then stays) or creates a fresh one: it never ends up on a
/// removed broadcaster. Publishing only looks the topic up under the map lock, then
/// publishes on the topic's own sequencer, so topics do not slow each other down.
///
/// Cloning gives another handle; when the last handle is dropped the hub closes.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::num::NonZeroUsize;
/// use throng::broadcast::{Hub, HubPublishError, Overflow, SubscribeOptions};
///
/// let hub: Hub<String, &'static str> = Hub::new();
/// let opts = SubscribeOptions::new(NonZeroUsize::new(32).unwrap(), Overflow::Disconnect);
/// let mut alice = hub.subscribe("rust".to_string(), opts).unwrap();
/// hub.publish("rust", "hello").await.unwrap();
/// assert_eq!(alice.recv().await.unwrap().msg, "hello");
///
/// drop(alice); // last member: the topic goes away
/// assert!(hub.topics().is_empty());
/// assert!(matches!(hub.publish("rust", "anyone?").await, Err(HubPublishError::NoTopic(_))));
/// # }
/// ```
pub struct Hub<K, T> {
    inner: Arc<HubInner<K, T>>,
}

impl<K, T> fmt::Debug for Hub<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.inner.lock();
        f.debug_struct("Hub")
            .field("topics", &g.map.len())
            .field("closed", &g.closed)
            .finish_non_exhaustive()
    }
}

impl<K, T> Clone for Hub<K, T> {
    fn clone(&self) -> Self {
        self.inner.handles.fetch_add(1, Ordering::Relaxed);
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, T> Drop for Hub<K, T> {
    fn drop(&mut self) {
        if self.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            close_inner(&self.inner);
        }
    }
}

fn close_inner<K, T>(inner: &HubInner<K, T>) -> bool {
    let mut g = inner.lock();
    if g.closed {
        return false;
    }
    g.closed = true;
    let map = std::mem::take(&mut g.map);
    drop(g);
    for t in map.values() {
        t.bcast.close();
    }
    true
}

impl<K, T> Default for Hub<K, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, T> Hub<K, T> {
    /// An empty hub.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(HubInner {
                topics: Mutex::new(Topics {
                    map: HashMap::with_hasher(foldhash::fast::RandomState::default()),
                    closed: false,
                }),
                handles: AtomicUsize::new(1),
            }),
        }
    }

    /// Closes every topic (their subscribers drain and then see
    /// [`RecvError::Closed`](super::RecvError::Closed)) and refuses new subscriptions and
    /// publishes. Returns whether this call closed it.
    pub fn close(&self) -> bool {
        close_inner(&self.inner)
    }

    /// Whether [`close`](Self::close) has run.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    /// The number of topics now.
    pub fn topic_count(&self) -> usize {
        self.inner.lock().map.len()
    }
}

impl<K: Hash + Eq + Clone, T> Hub<K, T> {
    /// Subscribes to `topic`, creating it if it does not exist. As
    /// [`Broadcaster::subscribe`]: the returned subscriber's
    /// [`start_seq`](Subscriber::start_seq) is the first sequence number it is offered.
    ///
    /// # Errors
    ///
    /// [`SubscribeError`] if the hub is closed.
    pub fn subscribe(
        &self,
        topic: K,
        opts: SubscribeOptions,
    ) -> Result<HubSubscriber<K, T>, SubscribeError> {
        let mut g = self.inner.lock();
        if g.closed {
            return Err(SubscribeError { _p: () });
        }
        let t = g.map.entry(topic.clone()).or_insert_with(|| Topic {
            bcast: Broadcaster::new(),
            members: 0,
        });
        // Topics in the map are never closed: removal and closing happen together
        // under this lock.
        let sub = t.bcast.subscribe(opts)?;
        t.members += 1;
        drop(g);
        Ok(HubSubscriber {
            sub,
            topic,
            hub: Arc::clone(&self.inner),
            left: false,
        })
    }

    fn get<Q>(&self, topic: &Q) -> Result<Broadcaster<T>, bool>
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        let g = self.inner.lock();
        if g.closed {
            return Err(true);
        }
        g.map.get(topic).map(|t| t.bcast.clone()).ok_or(false)
    }

    /// Publishes `msg` on `topic`, as [`Broadcaster::publish`] (waits only for full
    /// [`Block`](super::Overflow::Block) subscribers).
    ///
    /// # Errors
    ///
    /// [`HubPublishError::NoTopic`] if the topic has no subscribers,
    /// [`HubPublishError::Closed`] if the hub is closed; both hand the message back.
    ///
    /// # Cancel safety
    ///
    /// As [`Broadcaster::publish`].
    pub async fn publish<Q>(&self, topic: &Q, msg: T) -> Result<PublishReport, HubPublishError<T>>
    where
        Q: ?Sized + Hash + Equivalent<K>,
        T: Clone,
    {
        self.publish_with(topic, move |_| msg)
            .await
            .map_err(|e| map_err(e, |f| f(0)))
    }

    /// Publishes the message `make(seq)` builds from its sequence number, under the
    /// topic's sequencer lock, as [`Broadcaster::publish_with`]. Use it for events that
    /// must carry their place in the room's order (joins, leaves).
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish), handing `make` back uncalled.
    ///
    /// # Cancel safety
    ///
    /// As [`Broadcaster::publish`].
    pub async fn publish_with<Q, F>(
        &self,
        topic: &Q,
        make: F,
    ) -> Result<PublishReport, HubPublishError<F>>
    where
        Q: ?Sized + Hash + Equivalent<K>,
        F: FnOnce(u64) -> T,
        T: Clone,
    {
        match self.get(topic) {
            Err(true) => Err(HubPublishError::Closed(make)),
            Err(false) => Err(HubPublishError::NoTopic(make)),
            // A topic removed after the lookup is closed: nobody was subscribed.
            Ok(b) => b
                .publish_with(make)
                .await
                .map_err(|PublishError(f)| HubPublishError::NoTopic(f)),
        }
    }

    /// Publishes `msg` on `topic` without waiting, as [`Broadcaster::try_publish`].
    ///
    /// # Errors
    ///
    /// [`HubPublishError::Full`] if a `Block` subscriber of the topic is full; otherwise
    /// as [`publish`](Self::publish).
    pub fn try_publish<Q>(&self, topic: &Q, msg: T) -> Result<PublishReport, HubPublishError<T>>
    where
        Q: ?Sized + Hash + Equivalent<K>,
        T: Clone,
    {
        self.try_publish_with(topic, move |_| msg)
            .map_err(|e| map_err(e, |f| f(0)))
    }

    /// [`try_publish`](Self::try_publish) of a message built from its sequence number.
    ///
    /// # Errors
    ///
    /// As [`try_publish`](Self::try_publish), handing `make` back uncalled.
    pub fn try_publish_with<Q, F>(
        &self,
        topic: &Q,
        make: F,
    ) -> Result<PublishReport, HubPublishError<F>>
    where
        Q: ?Sized + Hash + Equivalent<K>,
        F: FnOnce(u64) -> T,
        T: Clone,
    {
        match self.get(topic) {
            Err(true) => Err(HubPublishError::Closed(make)),
            Err(false) => Err(HubPublishError::NoTopic(make)),
            Ok(b) => b.try_publish_with(make).map_err(|e| match e {
                TryPublishError::Full(f) => HubPublishError::Full(f),
                TryPublishError::Closed(f) => HubPublishError::NoTopic(f),
            }),
        }
    }

    /// The topics that exist now (each has at least one [`HubSubscriber`]).
    pub fn topics(&self) -> Vec<K> {
        self.inner.lock().map.keys().cloned().collect()
    }

    /// Live subscribers of `topic` (0 if it does not exist). Subscribers already
    /// disconnected for falling behind are not counted.
    pub fn subscriber_count<Q>(&self, topic: &Q) -> usize
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        self.get(topic).map(|b| b.subscriber_count()).unwrap_or(0)
    }

    /// The counters of `topic`'s broadcaster, if the topic exists.
    pub fn metrics<Q>(&self, topic: &Q) -> Option<Metrics>
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        self.get(topic).ok().map(|b| b.metrics())
    }
}

fn map_err<F, T>(e: HubPublishError<F>, f: impl FnOnce(F) -> T) -> HubPublishError<T> {
    match e {
        HubPublishError::NoTopic(x) => HubPublishError::NoTopic(f(x)),
        HubPublishError::Full(x) => HubPublishError::Full(f(x)),
        HubPublishError::Closed(x) => HubPublishError::Closed(f(x)),
    }
}

/// A subscription to one [`Hub`] topic. Dereferences to [`Subscriber`] for receiving;
/// dropping it (or [`unsubscribe`](Self::unsubscribe)) leaves the topic and removes the
/// topic if it was the last member.
pub struct HubSubscriber<K: Hash + Eq, T> {
    sub: Subscriber<T>,
    topic: K,
    hub: Arc<HubInner<K, T>>,
    left: bool,
}

impl<K: Hash + Eq + fmt::Debug, T> fmt::Debug for HubSubscriber<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSubscriber")
            .field("topic", &self.topic)
            .field("sub", &self.sub)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq, T> HubSubscriber<K, T> {
    /// The topic subscribed to.
    pub fn topic(&self) -> &K {
        &self.topic
    }

    /// Leaves the topic now (idempotent): stops new deliveries (queued messages can
    /// still be received, then [`RecvError::Closed`](super::RecvError::Closed)) and
    /// removes the topic if this was its last member. Dropping does the same.
    pub fn unsubscribe(&mut self) {
        if std::mem::replace(&mut self.left, true) {
            return;
        }
        let mut g = self.hub.lock();
        self.sub.unsubscribe();
        let mut removed = None;
        if let Some(t) = g.map.get_mut(&self.topic) {
            // The topic cannot have been replaced while we were a member (it is removed
            // only when members reach 0); check anyway.
            if t.bcast.same(&self.sub) {
                t.members -= 1;
                if t.members == 0 {
                    removed = g.map.remove(&self.topic);
                }
            }
        }
        drop(g);
        if let Some(t) = removed {
            t.bcast.close();
        }
    }
}

impl<K: Hash + Eq, T> Deref for HubSubscriber<K, T> {
    type Target = Subscriber<T>;

    fn deref(&self) -> &Subscriber<T> {
        &self.sub
    }
}

impl<K: Hash + Eq, T> DerefMut for HubSubscriber<K, T> {
    /// Receiving needs `&mut`. Calling [`Subscriber::unsubscribe`] through this leaves
    /// the broadcaster but keeps the topic until the `HubSubscriber` is dropped.
    fn deref_mut(&mut self) -> &mut Subscriber<T> {
        &mut self.sub
    }
}

impl<K: Hash + Eq, T> Drop for HubSubscriber<K, T> {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}
