//! [`Latch`]: a one-shot signal that remembers it fired.

use std::fmt;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::Elapsed;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::Arc;

/// A one-shot signal that remembers it fired.
///
/// [`fire`](Latch::fire) sets it once and wakes every waiter; [`wait`](Latch::wait) returns
/// at once if it has fired, before or after the wait began. Clones share the same latch. A
/// latch never resets; use [`Event`](super::Event) for a signal that fires repeatedly.
///
/// A latch that nobody fires keeps its waiters waiting: bound the waits with
/// [`wait_timeout`](Latch::wait_timeout) or select them against a cancellation token
/// if the firing side may go away.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use throng::signal::Latch;
///
/// let ready = Latch::new();
/// let waiters: Vec<_> = (0..3)
///     .map(|_| {
///         let ready = ready.clone();
///         tokio::spawn(async move { ready.wait().await })
///     })
///     .collect();
/// ready.fire();
/// for w in waiters {
///     w.await.unwrap(); // every waiter wakes
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Latch {
    inner: Arc<LatchInner>,
}

struct LatchInner {
    /// Never given permits: `close` is the fire, and every acquire fails once closed.
    sem: Semaphore,
    /// Elects the one `fire` call that returns `true`.
    fired_by_call: AtomicBool,
    /// Waits that are currently registered (for [`Latch::waiter_count`]).
    waiters: AtomicUsize,
}

/// Counts a registered wait for as long as it lives.
struct WaiterGuard<'a>(&'a AtomicUsize);

impl<'a> WaiterGuard<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        WaiterGuard(count)
    }
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Latch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Latch")
            .field("fired", &self.is_fired())
            .field("waiters", &self.waiter_count())
            .finish()
    }
}

impl Default for Latch {
    fn default() -> Self {
        Self::new()
    }
}

impl Latch {
    /// A latch that has not fired.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(LatchInner {
                sem: Semaphore::new(0),
                fired_by_call: AtomicBool::new(false),
                waiters: AtomicUsize::new(0),
            }),
        }
    }

    /// Fires the latch and wakes every waiter.
    ///
    /// Returns `true` if this call fired it, `false` if it had already fired (then the
    /// call is a no-op). Exactly one call ever returns `true`, even when several race;
    /// when any `fire` returns, [`is_fired`](Latch::is_fired) is `true` and every wait
    /// has been woken.
    pub fn fire(&self) -> bool {
        let won = !self.inner.fired_by_call.swap(true, Ordering::AcqRel);
        // Closing twice is harmless, and a losing caller closing too means that once any
        // `fire` returns, the latch is observably fired.
        self.inner.sem.close();
        won
    }

    /// Whether the latch has fired. When it returns `true`, [`wait`](Latch::wait)
    /// returns at once.
    pub fn is_fired(&self) -> bool {
        self.inner.sem.is_closed()
    }

    /// Waits until the latch has fired; returns at once if it already has.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future unsubscribes it and loses nothing (the latch
    /// stays fired for the next wait).
    pub async fn wait(&self) {
        if self.is_fired() {
            return;
        }
        let _registered = WaiterGuard::new(&self.inner.waiters);
        // The semaphore has no permits and never gets any, so this returns only with
        // the error that `close` (the fire) gives every current and later acquirer.
        // Should a permit ever appear, it is handed back when dropped here.
        let _ = self.inner.sem.acquire().await;
    }

    /// Like [`wait`](Latch::wait), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if the latch has not fired within `timeout`. A latch that has fired
    /// returns `Ok` even with a zero timeout.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`wait`](Latch::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use throng::signal::Latch;
    ///
    /// let latch = Latch::new();
    /// assert!(latch.wait_timeout(Duration::from_secs(1)).await.is_err());
    /// latch.fire();
    /// assert!(latch.wait_timeout(Duration::ZERO).await.is_ok());
    /// # }
    /// ```
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        tokio::time::timeout(timeout, self.wait())
            .await
            .map_err(|_| Elapsed(()))
    }

    /// How many [`wait`](Latch::wait) futures are currently registered (polled at least
    /// once and not yet finished or dropped). A wait that found the latch fired never
    /// registers. Meant for tests and metrics.
    pub fn waiter_count(&self) -> usize {
        self.inner.waiters.load(Ordering::Relaxed)
    }
}
