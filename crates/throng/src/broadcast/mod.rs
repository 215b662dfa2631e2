//! Pub-sub with a per-subscriber overflow policy, sequence numbers and a total order.
//!
//! A [`Broadcaster<T>`] hands every published message to every subscriber. Each
//! [`Subscriber`] has its own bounded queue (capacity a [`NonZeroUsize`]) and its own
//! [`Overflow`] policy for when that queue is full: [`DropNewest`](Overflow::DropNewest),
//! [`DropOldest`](Overflow::DropOldest) with a [`Lagged(n)`](RecvError::Lagged) notice,
//! [`Disconnect`](Overflow::Disconnect), or [`Block { timeout }`](Overflow::Block)
//! backpressure. Publishing goes through one sequencer per broadcaster, which assigns a
//! sequence number ([`Delivery::seq`]) so that all subscribers see the same messages in
//! the same order, even with concurrent publishers. Every message a subscriber misses is
//! counted, per subscriber ([`SubscriberStats`]) and per broadcaster ([`Metrics`]), and
//! every publish says what happened ([`PublishReport`]). [`Hub<K, T>`] keys broadcasters
//! by topic (chat rooms), creating a topic on first subscribe and removing it with its
//! last subscriber.
//!
//! Guarantees:
//! - **One order.** Messages are numbered 0, 1, 2, … in publish order; every subscriber
//!   receives an increasing subsequence, and a subscriber that misses none receives them
//!   all, consecutively, from its [`start_seq`](Subscriber::start_seq).
//! - **Nothing silent.** A message offered to a subscriber is queued, or counted as
//!   dropped in its stats, the broadcaster's metrics and the publish report; `DropOldest`
//!   subscribers also get `Lagged(n)` in place of the gap, `Disconnect` ones an explicit
//!   [`RecvError::Disconnected`].
//! - **Clean ends.** [`close`](Broadcaster::close) (or dropping the last
//!   `Broadcaster` handle) ends every subscription once, after its queued messages;
//!   later publishes hand the message back. Dropping a subscriber unsubscribes it;
//!   [`unsubscribe`](Subscriber::unsubscribe) is idempotent.
//!
//! # When to use
//!
//! Use it when several consumers must each see a stream of events, and you must decide
//! what a slow consumer costs: chat rooms, live dashboards, cache invalidation fan-out,
//! presence. Messages are cloned once per subscriber: publish `Arc<..>` or
//! `bytes::Bytes`, never a type whose `clone` is a deep copy.
//!
//! Do not use it for work distribution (each item to *one* consumer): that is an mpsc
//! channel or a worker pool. For "latest value only" state use `tokio::sync::watch`, and
//! for one-shot or re-armable signals use [`signal`](crate::signal).
//!
//! # Broadcaster vs tokio and async-broadcast
//!
//! - `tokio::sync::broadcast` shares one ring buffer: cheap memory for many receivers,
//!   but one policy for all ("lag and skip", like `DropOldest` here) and no sequence
//!   numbers. Prefer it when every receiver is fine with lagging and memory per receiver
//!   matters.
//! - `async-broadcast` makes the sender wait when the shared buffer is full (like
//!   `Block` here, but for everyone and without timeout) or overwrites (`overflow`
//!   mode). One slow receiver stalls or skips for all.
//! - Here each subscriber has its own queue, so a slow one only affects itself (unless
//!   it chose `Block`), at the cost of one queue slot per subscriber per queued
//!   message.
//! - [`Hub`] vs a `HashMap<K, Broadcaster>` behind your own lock: the hub makes topic
//!   creation and removal race-free against subscribe and unsubscribe.
//!
//! # Pitfalls avoided
//!
//! - **S12-1** (the seed dropped the newest message for a full subscriber, silently):
//!   the policy is explicit per subscriber and every drop is counted and reported.
//! - **S12-2** (concurrent publishers interleaved, so subscribers saw different
//!   orders): one sequencer per broadcaster assigns sequence numbers and queues each
//!   message to every subscriber before the next one.
//! - **S12-3** (no close; ranging subscribers never ended): `close`, or dropping the last
//!   handle, ends every subscription after its queued messages.
//! - **S12-4** (capacity hard-coded at 10, `string` payloads, a pending subscribe stalling
//!   publishes): capacity and policy per subscriber, generic `T`, and subscribe holds the
//!   sequencer lock only for a `Vec` push (a `Block` publish waiting for room does not
//!   hold it either).
//! - **S11-3** (no unsubscribe; abandoned listeners piled up): dropping a [`Subscriber`]
//!   unsubscribes it at once; explicit `unsubscribe` is idempotent.
//!
//! # Cost
//!
//! COST_PLACEHOLDER
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::num::NonZeroUsize;
//! use std::sync::Arc;
//! use throng::broadcast::{Broadcaster, Overflow, RecvError, SubscribeOptions};
//!
//! let b: Broadcaster<Arc<str>> = Broadcaster::new();
//! let two = NonZeroUsize::new(2).unwrap();
//! let mut lagger = b.subscribe(SubscribeOptions::new(two, Overflow::DropOldest)).unwrap();
//! let mut strict = b.subscribe(SubscribeOptions::new(two, Overflow::Disconnect)).unwrap();
//!
//! for text in ["a", "b", "c"] {
//!     b.publish(Arc::from(text)).await.unwrap();
//! }
//! // The lagging subscriber is told it missed one, then gets the newest two.
//! assert_eq!(lagger.recv().await, Err(RecvError::Lagged(1)));
//! assert_eq!(lagger.recv().await.unwrap().seq, 1);
//! assert_eq!(lagger.recv().await.unwrap().seq, 2);
//! // The strict one gets what it had queued, then learns it was cut off.
//! assert_eq!(strict.recv().await.unwrap().seq, 0);
//! assert_eq!(strict.recv().await.unwrap().seq, 1);
//! assert_eq!(strict.recv().await, Err(RecvError::Disconnected));
//! assert_eq!(b.metrics().dropped, 2);
//! # }
//! ```
//!
//! [`NonZeroUsize`]: std::num::NonZeroUsize

mod broadcaster;
mod core;
mod error;
mod hub;
mod policy;
mod subscriber;

pub use broadcaster::Broadcaster;
pub use error::{
    HubPublishError, PublishError, RecvError, RecvTimeoutError, SubscribeError, TryPublishError,
    TryRecvError,
};
pub use hub::{Hub, HubSubscriber};
pub use policy::{
    InvalidCapacity, Metrics, Overflow, PublishReport, Status, SubscribeOptions, SubscriberStats,
};
pub use subscriber::{Delivery, Subscriber};
