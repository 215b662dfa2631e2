//! [`Event`], its [`Listener`] and [`Generation`]: a re-armable, generation-counted
//! signal.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use super::{Closed, WaitTimeoutError};

/// How many times an [`Event`] has been notified: 0 for a new event, then +1 for every
/// [`notify`](Event::notify).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Generation(u64);

impl Generation {
    /// The generation of an event that was never notified.
    pub const ZERO: Generation = Generation(0);

    /// A generation from its number (for example one stored earlier with
    /// [`get`](Generation::get)).
    pub const fn new(n: u64) -> Self {
        Generation(n)
    }

    /// The number of notifications it stands for.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    generation: u64,
    closed: bool,
}

/// A re-armable broadcast signal with a generation counter.
///
/// [`notify`](Event::notify) wakes every current waiter and bumps the [`Generation`].
/// [`wait`](Event::wait) waits for the next notification after the call;
/// [`wait_after(g)`](Event::wait_after) returns as soon as the generation is past `g`,
/// at once if it already is, so a loop that feeds each result into the next call
/// never misses a notification. Several notifications between two waits wake the waiter
/// once, with the latest generation (the difference says how many it coalesced).
///
/// Clones share the same event. [`close`](Event::close), or dropping every `Event`
/// handle, wakes all waiters with [`Closed`]. Waiters that should not keep the event
/// open hold a [`Listener`] instead.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use throng::signal::Event;
///
/// let event = Event::new();
/// let listener = event.listener();
/// let task = tokio::spawn(async move {
///     let mut seen = listener.generation();
///     let mut wakeups = 0;
///     // Loop until the event closes; nothing between two waits is lost.
///     while let Ok(g) = listener.wait_after(seen).await {
///         seen = g;
///         wakeups += 1;
///     }
///     (seen.get(), wakeups)
/// });
/// for _ in 0..3 {
///     event.notify().unwrap();
///     tokio::task::yield_now().await;
/// }
/// event.close();
/// let (last, wakeups) = task.await.unwrap();
/// assert_eq!(last, 3);
/// assert!(wakeups >= 1 && wakeups <= 3);
/// # }
/// ```
#[derive(Clone)]
pub struct Event {
    tx: watch::Sender<State>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = *self.tx.borrow();
        f.debug_struct("Event")
            .field("generation", &s.generation)
            .field("closed", &s.closed)
            .finish()
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl Event {
    /// An open event at [`Generation::ZERO`].
    pub fn new() -> Self {
        Self {
            tx: watch::Sender::new(State::default()),
        }
    }

    /// Bumps the generation and wakes every current waiter; returns the new generation.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the event was closed; the generation does not change.
    pub fn notify(&self) -> Result<Generation, Closed> {
        let mut result = Err(Closed(()));
        self.tx.send_if_modified(|s| {
            if s.closed {
                return false;
            }
            s.generation += 1;
            result = Ok(Generation(s.generation));
            true
        });
        result
    }

    /// The current generation (how many times the event was notified).
    pub fn generation(&self) -> Generation {
        Generation(self.tx.borrow().generation)
    }

    /// Closes the event: every current and future wait returns [`Closed`] (unless the
    /// generation is already past what it waits for) and [`notify`](Event::notify)
    /// fails. Returns `true` if this call closed it; a second close is a no-op returning
    /// `false`.
    pub fn close(&self) -> bool {
        self.tx
            .send_if_modified(|s| !std::mem::replace(&mut s.closed, true))
    }

    /// Whether the event was closed.
    pub fn is_closed(&self) -> bool {
        self.tx.borrow().closed
    }

    /// A waiter-side handle that does not keep the event open: when every `Event` is
    /// dropped, its waits return [`Closed`].
    pub fn listener(&self) -> Listener {
        Listener {
            rx: self.tx.subscribe(),
        }
    }

    /// Waits for the next notification after this call and returns its generation.
    ///
    /// The current generation is read when `wait` is *called*, not when the future is
    /// first polled, so a notification in between is not missed (as with
    /// `Notify::notified`). The future does not borrow the event.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the event is closed (or every `Event` handle dropped) before a new
    /// generation.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future unsubscribes it. To not miss notifications across
    /// a cancelled wait, keep the generation and use [`wait_after`](Event::wait_after).
    pub fn wait(&self) -> impl Future<Output = Result<Generation, Closed>> + Send + 'static {
        wait_on(self.tx.subscribe(), None)
    }

    /// Waits until the generation is past `seen` and returns the new generation;
    /// returns at once if it already is.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the event is closed (or every `Event` handle dropped) while the
    /// generation is still `seen` or less.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future unsubscribes it and loses nothing; call again with
    /// the same `seen`.
    pub fn wait_after(
        &self,
        seen: Generation,
    ) -> impl Future<Output = Result<Generation, Closed>> + Send + 'static {
        wait_on(self.tx.subscribe(), Some(seen))
    }

    /// [`wait`](Event::wait), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Elapsed`] if no notification came within `timeout`,
    /// [`WaitTimeoutError::Closed`] if the event closed first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`wait`](Event::wait).
    pub fn wait_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Generation, WaitTimeoutError>> + Send + 'static {
        with_timeout(timeout, self.wait())
    }

    /// [`wait_after`](Event::wait_after), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`wait_timeout`](Event::wait_timeout).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`wait_after`](Event::wait_after).
    pub fn wait_after_timeout(
        &self,
        seen: Generation,
        timeout: Duration,
    ) -> impl Future<Output = Result<Generation, WaitTimeoutError>> + Send + 'static {
        with_timeout(timeout, self.wait_after(seen))
    }

    /// How many waits and [`Listener`]s are currently subscribed. A wait subscribes when
    /// it is created and unsubscribes when it finishes or is dropped. Meant for tests and
    /// metrics.
    pub fn waiter_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// The waiting side of an [`Event`], which does not keep it open.
///
/// Created by [`Event::listener`]. Its waits behave as the event's, except that when
/// every [`Event`] handle has been dropped they return [`Closed`] (a closed event with
/// no notifier left cannot move). Clones are independent listeners.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use throng::signal::Event;
///
/// let event = Event::new();
/// let listener = event.listener();
/// event.notify().unwrap();
/// assert_eq!(listener.generation().get(), 1);
/// drop(event); // the last notifier is gone: the listener's waits end
/// assert!(listener.is_closed());
/// assert!(listener.wait().await.is_err()); // `Closed`
/// # }
/// ```
#[derive(Clone)]
pub struct Listener {
    rx: watch::Receiver<State>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("generation", &self.generation())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Listener {
    /// The event's current generation.
    pub fn generation(&self) -> Generation {
        Generation(self.rx.borrow().generation)
    }

    /// Whether the event was closed or every `Event` handle dropped.
    pub fn is_closed(&self) -> bool {
        self.rx.borrow().closed || self.rx.has_changed().is_err()
    }

    /// As [`Event::wait`].
    ///
    /// # Errors
    ///
    /// [`Closed`] if the event is closed or dropped before a new generation.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Event::wait`].
    pub fn wait(&self) -> impl Future<Output = Result<Generation, Closed>> + Send + 'static {
        wait_on(self.rx.clone(), None)
    }

    /// As [`Event::wait_after`].
    ///
    /// # Errors
    ///
    /// [`Closed`] if the event is closed or dropped while the generation is still
    /// `seen` or less.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Event::wait_after`].
    pub fn wait_after(
        &self,
        seen: Generation,
    ) -> impl Future<Output = Result<Generation, Closed>> + Send + 'static {
        wait_on(self.rx.clone(), Some(seen))
    }

    /// As [`Event::wait_timeout`].
    ///
    /// # Errors
    ///
    /// As [`Event::wait_timeout`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Event::wait`].
    pub fn wait_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Generation, WaitTimeoutError>> + Send + 'static {
        with_timeout(timeout, self.wait())
    }

    /// As [`Event::wait_after_timeout`].
    ///
    /// # Errors
    ///
    /// As [`Event::wait_timeout`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Event::wait_after`].
    pub fn wait_after_timeout(
        &self,
        seen: Generation,
        timeout: Duration,
    ) -> impl Future<Output = Result<Generation, WaitTimeoutError>> + Send + 'static {
        with_timeout(timeout, self.wait_after(seen))
    }
}

/// Waits on `rx` until the generation passes `seen` (or the one current now, if `None`).
fn wait_on(
    mut rx: watch::Receiver<State>,
    seen: Option<Generation>,
) -> impl Future<Output = Result<Generation, Closed>> + Send + 'static {
    // Read the generation now, synchronously, so the future starts from the call.
    let seen = seen.map_or_else(|| rx.borrow().generation, Generation::get);
    async move {
        let result = rx.wait_for(|s| s.generation > seen || s.closed).await;
        // `wait_for` checks the current value before it reports a dropped sender, so
        // `Err` means the generation never moved past `seen`.
        let now = match result {
            Ok(s) => s.generation,
            Err(_) => return Err(Closed(())),
        };
        if now > seen {
            Ok(Generation(now))
        } else {
            Err(Closed(()))
        }
    }
}

async fn with_timeout(
    timeout: Duration,
    wait: impl Future<Output = Result<Generation, Closed>>,
) -> Result<Generation, WaitTimeoutError> {
    match tokio::time::timeout(timeout, wait).await {
        Ok(r) => r.map_err(WaitTimeoutError::from),
        Err(_) => Err(WaitTimeoutError::Elapsed),
    }
}
