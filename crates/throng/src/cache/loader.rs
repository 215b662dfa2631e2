//! Single-flight loading: [`Cache::get_or_load`] and [`Cache::try_get_or_load`].
//!
//! Each shard keeps a table of in-flight loads ([`Flight`]s). The first caller to miss a
//! key registers a flight and runs its loader (the *leader*); later callers for that key
//! find the flight and wait on it (*waiters*), each holding its own loader unused.
//!
//! - Success: the leader inserts the value, removes the flight, then publishes the value
//!   to the waiters. A caller arriving after the removal finds the value in the cache.
//! - Error: the leader removes the flight and publishes the error; every waiter gets a
//!   clone. Nothing is cached, so the next call runs a loader again.
//! - Leader dropped (cancelled, timed out, panicked): its seat's `Drop` marks the flight
//!   *vacant* and wakes the waiters; the first to see it takes the seat and runs *its
//!   own* loader. With no waiters left, the vacant flight is removed.
//!
//! Every clone of a flight's `Arc` outside the table is made and dropped under the
//! table's lock, so `strong_count == 2` (table + me) exactly means "nobody else waits".

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::hash::Hash;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use crate::clock::Clock;

use super::cache::{Cache, Lane};

/// A flight table row: the key's hash, the key, the flight.
pub(crate) type FlightRow<K, V> = (u64, K, Arc<Flight<V>>);

/// A loader's error, type-erased so one flight table serves every error type.
type AnyError = Arc<dyn Any + Send + Sync>;

/// One in-flight load.
pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    notify: Notify,
}

enum State<V> {
    /// A leader is running its loader.
    Running,
    /// The leader left without a result; the next waiter to look takes over.
    Vacant,
    /// The load finished; the flight is no longer in the table.
    Done(Result<V, AnyError>),
}

/// What a waiter saw.
enum Woken<V> {
    Value(V),
    Error(AnyError),
    Lead,
}

/// A caller's place in a flight. Dropping it unfinished hands leadership on.
struct Seat<'a, K, V> {
    lane: &'a Lane<K, V>,
    hash: u64,
    flight: Option<Arc<Flight<V>>>,
    leader: bool,
}

impl<V> Flight<V> {
    fn new() -> Self {
        Self {
            state: Mutex::new(State::Running),
            notify: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K, V: Clone> Seat<'_, K, V> {
    /// Waits until the flight is done (value or error) or vacant (then this seat leads).
    async fn wait(&mut self) -> Woken<V> {
        let Some(flight) = self.flight.clone() else {
            return Woken::Lead;
        };
        loop {
            let mut notified = pin!(flight.notify.notified());
            // Registered before the state is read: a change made after the read wakes us.
            notified.as_mut().enable();
            {
                let mut st = flight.state();
                match &*st {
                    State::Done(Ok(v)) => return Woken::Value(v.clone()),
                    State::Done(Err(e)) => return Woken::Error(Arc::clone(e)),
                    State::Vacant => {
                        *st = State::Running;
                        self.leader = true;
                        return Woken::Lead;
                    }
                    State::Running => {}
                }
            }
            notified.await;
        }
    }

    /// Publishes the leader's outcome: removes the flight from the table, then wakes
    /// every waiter.
    fn finish(&mut self, outcome: Result<V, AnyError>) {
        let Some(flight) = self.flight.take() else {
            return;
        };
        {
            let mut table = self
                .lane
                .flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Ok(e) = table.find_entry(self.hash, |(_, _, f)| Arc::ptr_eq(f, &flight)) {
                e.remove();
            }
            *flight.state() = State::Done(outcome);
            drop(table);
        }
        flight.notify.notify_waiters();
    }
}

impl<K, V> Drop for Seat<'_, K, V> {
    fn drop(&mut self) {
        let Some(flight) = self.flight.take() else {
            return;
        };
        let mut table = self
            .lane
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let vacant = {
            let mut st = flight.state.lock().unwrap_or_else(PoisonError::into_inner);
            if self.leader && matches!(*st, State::Running) {
                *st = State::Vacant;
            }
            matches!(*st, State::Vacant)
        };
        if vacant && Arc::strong_count(&flight) == 2 {
            if let Ok(e) = table.find_entry(self.hash, |(_, _, f)| Arc::ptr_eq(f, &flight)) {
                e.remove();
            }
        }
        if self.leader {
            flight.notify.notify_waiters();
        }
        // The last clone outside the table is dropped under the table's lock.
        drop(flight);
        drop(table);
    }
}

impl<K, V, C> Cache<K, V, C>
where
    K: Hash + Eq + Clone,
    V: Clone,
    C: Clock,
{
    /// The value for `key`, loading it with `loader` on a miss. Concurrent misses on one
    /// key run one loader (single-flight); the others wait for its value.
    ///
    /// If the caller running the loader is cancelled (its future dropped) or its loader
    /// panics, a waiting caller takes over and runs its own loader; nobody waits on a
    /// load that nobody runs anymore.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves the cache unchanged (unless the value was
    /// already inserted) and hands the load to a waiter, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cache = throng::cache::Cache::<u32, String>::new(1000).unwrap();
    /// let v = cache.get_or_load(7, || async { "seven".to_string() }).await;
    /// assert_eq!(v, "seven");
    /// assert_eq!(cache.get(&7).as_deref(), Some("seven"));
    /// # }
    /// ```
    pub async fn get_or_load<F, Fut>(&self, key: K, loader: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let loaded = self
            .try_get_or_load(key, || async move { Ok::<V, Infallible>(loader().await) })
            .await;
        match loaded {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_load`](Self::get_or_load) with a fallible loader. A loader error
    /// reaches the leader and every caller waiting on it (each gets a clone), and is not
    /// cached: the next call runs a loader again.
    ///
    /// Use `Arc<E>` as the error type if your error is not `Clone`.
    ///
    /// # Errors
    ///
    /// The error of the loader that ran for this key, whoever's it was.
    ///
    /// # Cancel safety
    ///
    /// As [`get_or_load`](Self::get_or_load).
    pub async fn try_get_or_load<F, Fut, E>(&self, key: K, loader: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        E: Clone + Send + Sync + 'static,
    {
        let hash = self.hash(&key);
        let mut loader = Some(loader);
        loop {
            if let Some(v) = self.get_hashed(hash, &key) {
                return Ok(v);
            }
            let mut seat = match self.join(hash, &key) {
                Ok(seat) => seat,
                Err(v) => return Ok(v),
            };
            if !seat.leader {
                match seat.wait().await {
                    Woken::Value(v) => return Ok(v),
                    Woken::Error(e) => match e.downcast_ref::<E>() {
                        Some(e) => return Err(e.clone()),
                        // A loader with another error type failed: try again.
                        None => continue,
                    },
                    Woken::Lead => {}
                }
            }
            // A caller leads at most once: after leading it returns or is dropped.
            let Some(load) = loader.take() else {
                unreachable!("a caller leads at most once")
            };
            return match load().await {
                Ok(v) => {
                    self.insert_hashed(hash, key, v.clone(), 1);
                    seat.finish(Ok(v.clone()));
                    Ok(v)
                }
                Err(e) => {
                    seat.finish(Err(Arc::new(e.clone())));
                    Err(e)
                }
            };
        }
    }

    /// Takes a seat in `key`'s flight, as leader if there was none. `Err(v)`: the value
    /// arrived in the cache meanwhile.
    fn join(&self, hash: u64, key: &K) -> Result<Seat<'_, K, V>, V> {
        let lane = self.lane(hash);
        let mut table = lane.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, f)) = table.find(hash, |(h, k, _)| *h == hash && k == key) {
            return Ok(Seat {
                lane,
                hash,
                flight: Some(Arc::clone(f)),
                leader: false,
            });
        }
        // A leader inserts before it removes its flight: with no flight in the table, a
        // finished load's value is already in the cache.
        if let Some(v) = self.get_hashed(hash, key) {
            return Err(v);
        }
        let flight = Arc::new(Flight::new());
        table.insert_unique(
            hash,
            (hash, key.clone(), Arc::clone(&flight)),
            |(h, _, _)| *h,
        );
        Ok(Seat {
            lane,
            hash,
            flight: Some(flight),
            leader: true,
        })
    }
}
