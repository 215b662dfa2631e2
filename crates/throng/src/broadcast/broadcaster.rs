//! The sending side: [`Broadcaster`], its sequencer, and the publish paths.

use std::fmt;
use std::future::poll_fn;
use std::time::Duration;

use super::core::{Pushed, Queue};
use super::policy::{Metrics, Overflow, PublishReport, Status, SubscribeOptions};
use super::subscriber::Subscriber;
use super::{PublishError, SubscribeError, TryPublishError};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard, Notify};

/// State shared by every handle of one broadcaster.
pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes publishers waiting for a stalled (blocking) publish to finish.
    unstalled: Notify,
    /// Live `Broadcaster` handles; the last one to drop closes.
    handles: AtomicUsize,
}

/// The sequencer: everything here changes only under `Shared::state`.
struct State<T> {
    next_seq: u64,
    next_id: u64,
    closed: bool,
    /// A publish is waiting for room in `Block` subscribers; no other message may be
    /// queued anywhere until it finishes, so order holds.
    stalled: bool,
    block_subs: usize,
    subs: Vec<Arc<Queue<T>>>,
    metrics: Metrics,
}

impl<T> State<T> {
    fn remove_at(&mut self, i: usize) -> Arc<Queue<T>> {
        let q = self.subs.swap_remove(i);
        if matches!(q.overflow, Overflow::Block { .. }) {
            self.block_subs -= 1;
        }
        q
    }

    fn remove_id(&mut self, id: u64) -> Option<Arc<Queue<T>>> {
        let i = self.subs.iter().position(|q| q.id == id)?;
        Some(self.remove_at(i))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Try,
    Wait,
}

enum Begin<T, F> {
    Done(PublishReport),
    Pending(PublishReport, T, Vec<Arc<Queue<T>>>),
    Stalled(F),
    Full(F),
    Closed(F),
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is updated so that it is consistent at every point a panic (in a
        // user closure or a clone) could unwind from; keep going after poison.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unsubscribes `q` (idempotent).
    pub(crate) fn remove(&self, q: &Arc<Queue<T>>) {
        let mut st = self.lock();
        st.remove_id(q.id);
        q.end(Status::Unsubscribed);
    }

    pub(crate) fn subscriber_count(&self) -> usize {
        self.lock().subs.len()
    }

    fn unstall(&self, delivered: usize, dropped: usize, disconnected: &[u64]) {
        let mut st = self.lock();
        st.stalled = false;
        st.metrics.delivered += delivered as u64;
        st.metrics.dropped += dropped as u64;
        st.metrics.disconnected += disconnected.len() as u64;
        for id in disconnected {
            st.remove_id(*id);
        }
        drop(st);
        self.unstalled.notify_waiters();
    }

    /// The synchronous part of a publish, under the sequencer lock: assign the sequence
    /// number, build the message, offer it to every queue.
    fn begin<F: FnOnce(u64) -> T>(&self, st: &mut State<T>, f: F, mode: Mode) -> Begin<T, F>
    where
        T: Clone,
    {
        if st.closed {
            return Begin::Closed(f);
        }
        if st.stalled {
            return match mode {
                Mode::Try => Begin::Full(f),
                Mode::Wait => Begin::Stalled(f),
            };
        }
        if mode == Mode::Try
            && st.block_subs > 0
            && st
                .subs
                .iter()
                .any(|q| matches!(q.overflow, Overflow::Block { .. }) && q.is_full())
        {
            // Queues only get emptier while we hold the sequencer lock (pushes need it),
            // so this check stays true for the loop below.
            return Begin::Full(f);
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let msg = f(seq);
        let mut report = PublishReport {
            seq,
            ..PublishReport::default()
        };
        let mut pending = Vec::new();
        let mut cleanup = false;
        for q in &st.subs {
            match q.push(seq, &msg) {
                Pushed::Delivered => report.delivered += 1,
                Pushed::Evicted => {
                    report.delivered += 1;
                    report.evicted += 1;
                }
                Pushed::Dropped => report.dropped += 1,
                Pushed::Disconnected => {
                    report.dropped += 1;
                    report.disconnected += 1;
                    cleanup = true;
                }
                Pushed::Full => pending.push(Arc::clone(q)),
                Pushed::Gone => cleanup = true,
            }
        }
        if cleanup {
            let mut i = 0;
            while i < st.subs.len() {
                if st.subs[i].status() == Status::Open {
                    i += 1;
                } else {
                    st.remove_at(i);
                }
            }
        }
        st.metrics.published += 1;
        st.metrics.delivered += report.delivered as u64;
        st.metrics.dropped += (report.dropped + report.evicted) as u64;
        st.metrics.disconnected += report.disconnected as u64;
        if pending.is_empty() {
            Begin::Done(report)
        } else {
            st.stalled = true;
            Begin::Pending(report, msg, pending)
        }
    }
}

/// Releases the stall on every exit of a blocking publish, including cancellation.
struct Stall<'a, T> {
    shared: &'a Shared<T>,
    pending: Vec<Arc<Queue<T>>>,
    next: usize,
    delivered: usize,
    dropped: usize,
    disconnected: Vec<u64>,
}

impl<T> Drop for Stall<'_, T> {
    fn drop(&mut self) {
        // Cancelled mid-wait: the remaining blocking subscribers are treated as if their
        // timeout expired, so the order stays intact and nothing is skipped silently.
        for q in &self.pending[self.next..] {
            if q.disconnect() {
                self.disconnected.push(q.id);
            }
            self.dropped += 1;
        }
        self.next = self.pending.len();
        self.shared
            .unstall(self.delivered, self.dropped, &self.disconnected);
    }
}

/// A pub-sub broadcaster: every message goes to every subscriber's bounded queue, in one
/// total order with sequence numbers; each subscriber picks its own [`Overflow`] policy.
///
/// Cloning gives another handle to the same broadcaster (for several publishers). When
/// the last handle is dropped the broadcaster closes, exactly like [`close`](Self::close).
///
/// `T: Clone` is cloned once per subscriber per message: use a cheap-to-clone type
/// (`Arc<..>`, `bytes::Bytes`, small `Copy` values), never one whose clone is a deep copy.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::num::NonZeroUsize;
/// use std::sync::Arc;
/// use throng::broadcast::{Broadcaster, Overflow, SubscribeOptions};
///
/// let room: Broadcaster<Arc<str>> = Broadcaster::new();
/// let cap = NonZeroUsize::new(16).unwrap();
/// let mut alice = room.subscribe(SubscribeOptions::new(cap, Overflow::Disconnect)).unwrap();
/// let mut bob = room.subscribe(SubscribeOptions::new(cap, Overflow::DropOldest)).unwrap();
///
/// let report = room.publish(Arc::from("hello")).await.unwrap();
/// assert_eq!((report.seq, report.delivered), (0, 2));
/// assert_eq!(&*alice.recv().await.unwrap().msg, "hello");
/// assert_eq!(bob.recv().await.unwrap().seq, 0);
/// # }
/// ```
pub struct Broadcaster<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Broadcaster<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Broadcaster")
            .field("next_seq", &st.next_seq)
            .field("subscribers", &st.subs.len())
            .field("closed", &st.closed)
            .finish_non_exhaustive()
    }
}

impl<T> Default for Broadcaster<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Broadcaster<T> {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Broadcaster<T> {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close();
        }
    }
}

impl<T> Broadcaster<T> {
    /// A broadcaster with no subscribers; the first message gets sequence number 0.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    next_seq: 0,
                    next_id: 0,
                    closed: false,
                    stalled: false,
                    block_subs: 0,
                    subs: Vec::new(),
                    metrics: Metrics::default(),
                }),
                unstalled: Notify::new(),
                handles: AtomicUsize::new(1),
            }),
        }
    }

    /// Adds a subscriber with its own queue capacity and overflow policy.
    ///
    /// Registration is atomic with the sequencer: the subscriber is offered exactly the
    /// messages with `seq >= `[`start_seq()`](Subscriber::start_seq) (a chat joiner knows
    /// where its stream starts and can fetch history before it).
    ///
    /// # Errors
    ///
    /// [`SubscribeError`] if the broadcaster is closed.
    pub fn subscribe(&self, opts: SubscribeOptions) -> Result<Subscriber<T>, SubscribeError> {
        let mut st = self.shared.lock();
        if st.closed {
            return Err(SubscribeError { _p: () });
        }
        let id = st.next_id;
        st.next_id += 1;
        let q = Arc::new(Queue::new(id, opts.capacity().get(), opts.overflow()));
        if matches!(opts.overflow(), Overflow::Block { .. }) {
            st.block_subs += 1;
        }
        st.subs.push(Arc::clone(&q));
        st.metrics.subscribed += 1;
        let start_seq = st.next_seq;
        drop(st);
        Ok(Subscriber {
            queue: q,
            shared: Arc::clone(&self.shared),
            start_seq,
            local: std::collections::VecDeque::new(),
        })
    }

    /// Publishes `msg` to every subscriber, waiting only for [`Overflow::Block`]
    /// subscribers whose queue is full (each up to its timeout; one that stays full is
    /// disconnected). While this publish waits, later publishes wait behind it, so every
    /// subscriber sees the same order.
    ///
    /// Returns what happened: the sequence number and how many subscribers got it or
    /// dropped it. Publishing with no subscribers succeeds and uses a sequence number.
    ///
    /// Needs a tokio runtime with the time driver when a `Block` subscriber is full.
    ///
    /// # Errors
    ///
    /// [`PublishError`] with the message if the broadcaster is closed.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in the sense that cancelling loses the "report": the message is
    /// delivered to every non-blocking subscriber in the first poll. Cancelling while it
    /// waits for `Block` subscribers disconnects those still full, exactly as if their
    /// timeout had expired (counted), and lets later publishes proceed.
    pub async fn publish(&self, msg: T) -> Result<PublishReport, PublishError<T>>
    where
        T: Clone,
    {
        self.publish_with(move |_| msg)
            .await
            .map_err(|e| PublishError((e.0)(0)))
    }

    /// Publishes the message `make(seq)` builds from its own sequence number, called
    /// under the sequencer lock (for messages that embed their `seq`, such as chat join
    /// and leave events). Otherwise as [`publish`](Self::publish).
    ///
    /// `make` must be quick and must not use this broadcaster (it would deadlock). If it
    /// panics, the panic propagates, its sequence number is skipped (a gap every
    /// subscriber sees), and the broadcaster stays usable.
    ///
    /// # Errors
    ///
    /// [`PublishError`] with `make`, uncalled, if the broadcaster is closed.
    ///
    /// # Cancel safety
    ///
    /// As [`publish`](Self::publish).
    pub async fn publish_with<F>(&self, make: F) -> Result<PublishReport, PublishError<F>>
    where
        F: FnOnce(u64) -> T,
        T: Clone,
    {
        let mut make = make;
        loop {
            let begun = {
                let mut st = self.shared.lock();
                self.shared.begin(&mut st, make, Mode::Wait)
            };
            match begun {
                Begin::Done(r) => return Ok(r),
                Begin::Pending(r, msg, pending) => return Ok(self.finish(r, msg, pending).await),
                Begin::Closed(f) => return Err(PublishError(f)),
                Begin::Stalled(f) | Begin::Full(f) => {
                    make = f;
                    let notified = self.shared.unstalled.notified();
                    let mut notified = std::pin::pin!(notified);
                    notified.as_mut().enable();
                    let still = {
                        let st = self.shared.lock();
                        st.stalled && !st.closed
                    };
                    if still {
                        notified.await;
                    }
                }
            }
        }
    }

    async fn finish(
        &self,
        mut report: PublishReport,
        msg: T,
        pending: Vec<Arc<Queue<T>>>,
    ) -> PublishReport
    where
        T: Clone,
    {
        let start = tokio::time::Instant::now();
        let mut stall = Stall {
            shared: &self.shared,
            pending,
            next: 0,
            delivered: 0,
            dropped: 0,
            disconnected: Vec::new(),
        };
        while stall.next < stall.pending.len() {
            let q = Arc::clone(&stall.pending[stall.next]);
            let timeout = match q.overflow {
                Overflow::Block { timeout } => timeout,
                _ => Duration::ZERO,
            };
            let room = poll_fn(|cx| q.poll_space(cx));
            let room = match start.checked_add(timeout) {
                Some(deadline) => tokio::time::timeout_at(deadline, room).await.ok(),
                None => Some(room.await),
            };
            match room {
                Some(true) => match q.push(report.seq, &msg) {
                    Pushed::Delivered => stall.delivered += 1,
                    _ => stall.dropped += 1,
                },
                Some(false) => {
                    if q.status() != Status::Unsubscribed {
                        stall.dropped += 1;
                    }
                }
                None => {
                    if q.disconnect() {
                        stall.disconnected.push(q.id);
                    }
                    stall.dropped += 1;
                }
            }
            stall.next += 1;
        }
        report.delivered += stall.delivered;
        report.dropped += stall.dropped;
        report.disconnected += stall.disconnected.len();
        drop(stall);
        report
    }

    /// Publishes `msg` without waiting.
    ///
    /// A full [`Overflow::Block`] subscriber refuses the whole message (so a `Block`
    /// subscriber never misses one it was promised): nothing is delivered to anyone, no
    /// sequence number is used, and the message comes back in
    /// [`TryPublishError::Full`]. Subscribers with other policies never make it fail.
    ///
    /// # Errors
    ///
    /// - [`TryPublishError::Full`] if a `Block` subscriber is full or a blocking
    ///   [`publish`](Self::publish) is in progress.
    /// - [`TryPublishError::Closed`] if the broadcaster is closed.
    pub fn try_publish(&self, msg: T) -> Result<PublishReport, TryPublishError<T>>
    where
        T: Clone,
    {
        self.try_publish_with(move |_| msg).map_err(|e| match e {
            TryPublishError::Full(f) => TryPublishError::Full(f(0)),
            TryPublishError::Closed(f) => TryPublishError::Closed(f(0)),
        })
    }

    /// [`try_publish`](Self::try_publish) of the message `make(seq)` builds under the
    /// sequencer lock (see [`publish_with`](Self::publish_with)).
    ///
    /// # Errors
    ///
    /// As [`try_publish`](Self::try_publish), handing back `make` uncalled.
    pub fn try_publish_with<F>(&self, make: F) -> Result<PublishReport, TryPublishError<F>>
    where
        F: FnOnce(u64) -> T,
        T: Clone,
    {
        let mut st = self.shared.lock();
        match self.shared.begin(&mut st, make, Mode::Try) {
            Begin::Done(r) => Ok(r),
            Begin::Closed(f) => Err(TryPublishError::Closed(f)),
            Begin::Full(f) | Begin::Stalled(f) => Err(TryPublishError::Full(f)),
            // Try mode checks every Block queue first, so none can be pending.
            Begin::Pending(r, ..) => {
                st.stalled = false;
                Ok(r)
            }
        }
    }

    /// Closes the broadcaster: every subscription ends after its queued messages
    /// ([`RecvError::Closed`](super::RecvError::Closed)), later publishes and subscribes
    /// fail, and waiting publishes return. Returns whether this call closed it (`false`
    /// if it was already closed). Dropping the last handle closes too.
    pub fn close(&self) -> bool {
        let mut st = self.shared.lock();
        if st.closed {
            return false;
        }
        st.closed = true;
        st.block_subs = 0;
        let subs = std::mem::take(&mut st.subs);
        for q in &subs {
            q.end(Status::Closed);
        }
        drop(st);
        self.shared.unstalled.notify_waiters();
        drop(subs);
        true
    }

    /// Whether [`close`](Self::close) has run.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Subscribers now (disconnected and unsubscribed ones are not counted).
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscriber_count()
    }

    /// The sequence number the next published message will get.
    pub fn next_seq(&self) -> u64 {
        self.shared.lock().next_seq
    }

    /// The broadcaster-wide counters.
    pub fn metrics(&self) -> Metrics {
        let st = self.shared.lock();
        let mut m = st.metrics;
        m.subscribers = st.subs.len();
        m
    }
}

impl<T> Broadcaster<T> {
    /// Whether `sub` belongs to this broadcaster.
    pub(crate) fn same(&self, sub: &Subscriber<T>) -> bool {
        Arc::ptr_eq(&self.shared, &sub.shared)
    }
}
