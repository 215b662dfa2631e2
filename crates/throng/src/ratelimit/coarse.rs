//! [`CoarseClock`]: a clock read from one cached atomic, refreshed by an owned thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::error::InvalidResolution;
use crate::clock::{Clock, MonotonicClock};

/// A coarse clock: reads are one relaxed atomic load (about 1 ns), and the value moves in
/// steps of `resolution`, refreshed from a source clock by a background thread.
///
/// Reading [`MonotonicClock`] costs one `clock_gettime` (20 ns on bare metal, about 65 ns
/// on the 2-core VM the benchmarks run on, where it is most of a rate-limit check). Use a
/// coarse clock when checks are hot and the quota's interval is much longer than the
/// resolution: a chat server's 20 posts/s (interval 50 ms) loses nothing measurable to a
/// 1 ms clock. The cost is precision: within one step every check sees the same instant,
/// so a refusal's wait can be up to one resolution too long, and a limiter whose interval
/// is shorter than the resolution lets its cells through in clumps at each step (the
/// average rate stays right). governor offers the same trade with `QuantaUpkeepClock`.
///
/// The refresher thread is owned: [`stop`](Self::stop) stops and joins it (idempotent;
/// the clock then stays at its last value), and it also stops by itself within one
/// resolution after the last clone is dropped. [`manual`](Self::manual) makes a clock with
/// no thread, refreshed by [`tick`](Self::tick), for tests.
///
/// Clones share the cached time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::ratelimit::{CoarseClock, Quota, RateLimiter};
///
/// let clock = CoarseClock::start(Duration::from_millis(1))?;
/// let limiter = RateLimiter::with_clock(Quota::per_second(20).burst(40).build()?, clock.clone());
/// assert!(limiter.check().is_ok());
/// clock.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CoarseClock<S: Clock = MonotonicClock> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    now: CachePadded<AtomicU64>,
    source: S,
    refresher: Mutex<Option<Refresher>>,
}

struct Refresher {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl CoarseClock<MonotonicClock> {
    /// A coarse clock over a new [`MonotonicClock`], refreshed every `resolution` by a
    /// thread named `throng-coarse-clock`.
    ///
    /// # Errors
    ///
    /// [`InvalidResolution`] if `resolution` is zero or the thread cannot be spawned.
    pub fn start(resolution: Duration) -> Result<Self, InvalidResolution> {
        Self::start_with_source(MonotonicClock::new(), resolution)
    }
}

impl<S: Clock> CoarseClock<S> {
    /// A coarse clock over `source`, refreshed every `resolution` by a thread.
    ///
    /// # Errors
    ///
    /// [`InvalidResolution`] if `resolution` is zero or the thread cannot be spawned.
    pub fn start_with_source(source: S, resolution: Duration) -> Result<Self, InvalidResolution> {
        if resolution.is_zero() {
            return Err(InvalidResolution::Zero);
        }
        let clock = Self::manual(source);
        let weak: Weak<Inner<S>> = Arc::downgrade(&clock.inner);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("throng-coarse-clock".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(resolution);
                    match weak.upgrade() {
                        Some(inner) => inner.refresh(),
                        None => return,
                    }
                }
            })
            .map_err(|_| InvalidResolution::Spawn)?;
        *clock
            .inner
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Refresher { stop, handle });
        Ok(clock)
    }

    /// A coarse clock over `source` with no thread: it moves only on [`tick`](Self::tick).
    pub fn manual(source: S) -> Self {
        let now = source.now_nanos();
        Self {
            inner: Arc::new(Inner {
                now: CachePadded::new(AtomicU64::new(now)),
                source,
                refresher: Mutex::new(None),
            }),
        }
    }

    /// Reads the source clock now and publishes it (never moving backwards).
    pub fn tick(&self) {
        self.inner.refresh();
    }

    /// Stops and joins the refresher thread; the clock stays at its last value (call
    /// [`tick`](Self::tick) to move it). Idempotent; a no-op for a manual clock.
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// Whether a refresher thread is running.
    pub fn is_running(&self) -> bool {
        self.inner
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

impl<S: Clock> Inner<S> {
    fn refresh(&self) {
        self.now
            .fetch_max(self.source.now_nanos(), Ordering::Relaxed);
    }

    fn stop(&self) {
        let taken = self
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(r) = taken {
            r.stop.store(true, Ordering::Release);
            r.handle.thread().unpark();
            // The last clone may be dropped on the refresher itself (it holds a
            // temporary strong reference while refreshing): it is exiting, do not join.
            if r.handle.thread().id() != current_id() {
                let _ = r.handle.join();
            }
        }
    }
}

fn current_id() -> ThreadId {
    std::thread::current().id()
}

impl<S> Drop for Inner<S> {
    fn drop(&mut self) {
        let taken = self
            .refresher
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(r) = taken {
            r.stop.store(true, Ordering::Release);
            r.handle.thread().unpark();
            if r.handle.thread().id() != current_id() {
                let _ = r.handle.join();
            }
        }
    }
}

impl<S: Clock> Clone for CoarseClock<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Clock> Clock for CoarseClock<S> {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.inner.now.load(Ordering::Relaxed)
    }
}

impl<S: Clock> fmt::Debug for CoarseClock<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoarseClock")
            .field("now", &self.elapsed())
            .field("running", &self.is_running())
            .finish()
    }
}
