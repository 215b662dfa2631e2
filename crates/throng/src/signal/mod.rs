//! Signals for many waiters: a one-shot [`Latch`] and a re-armable, generation-counted
//! [`Event`].
//!
//! A [`Latch`] remembers that it fired: every waiter, including one that arrives after
//! the fire, returns. An [`Event`] can be notified any number of times; each notification
//! bumps a [`Generation`], and a waiter says which generation it has seen
//! ([`Event::wait_after`]), so nothing that happened between two waits is missed. An
//! [`Event`] can be [closed](Event::close) (or dropped), and its waiters then get
//! [`Closed`] instead of waiting forever.
//!
//! Both are built on tokio primitives that already do the hard part:
//!
//! - [`Latch`] is a [`tokio::sync::Semaphore`] that never has permits: firing *closes*
//!   it. `close` wakes every pending acquire and makes every later acquire fail at once,
//!   which is exactly a latch (no lost wake-up for late waiters), and a dropped acquire
//!   unlinks itself from the waiter list. One extra atomic elects the `fire` call that
//!   returns `true`. It fires about 2.5 times faster than a `watch<bool>` latch with 100
//!   waiters (see Cost); a `Notify` + flag latch is a little faster still, but its
//!   correctness rests on the `Notified::enable` ordering subtleties listed under
//!   Pitfalls, which this design does not need.
//! - [`Event`] is a [`tokio::sync::watch`] of `(generation, closed)`. `watch` has a value
//!   that late receivers read, a version per receiver, a wake-all `send` whose waiter
//!   list is sharded (tokio#5403), receivers that unsubscribe when dropped, and closing
//!   when the last sender goes.
//!
//! The only custom atomic code is the `fire` election and the waiter counter; it uses
//! `crate::sync`, and `tests/loom_signal.rs` model-checks it.
//!
//! # When to use
//!
//! - [`Latch`] for "it happened" facts that never un-happen: ready, started, shutdown
//!   requested, first result arrived.
//! - [`Event`] for "something changed, go look": config reloaded, new data in a shared
//!   buffer, a state machine moved. Waiters learn *that* something happened and *how many
//!   times* (the generation delta), not *what*: several notifications between two waits
//!   collapse into one wake-up. If waiters need each message, use a channel or
//!   [`broadcast`](crate::broadcast).
//!
//! # Latch and Event vs CancellationToken, Notify, watch and broadcast
//!
//! - **[`Latch`] vs `tokio_util::sync::CancellationToken`**: the token is also a one-shot
//!   broadcast, with cheap clones and child tokens that form a cancellation tree. Use the
//!   token for cancellation (it is what the rest of the ecosystem accepts, and what
//!   [`periodic`](crate::periodic) takes); use a [`Latch`] for facts that are not
//!   cancellation (ready, first value seen), when you want `fire` to tell you whether
//!   *this* call fired it, or when you do not want a tokio-util dependency.
//! - **[`Event`] vs `tokio::sync::Notify`**: `notify_waiters` wakes only the waiters
//!   that exist at that moment and stores nothing, so a waiter that checks its condition
//!   and then waits can miss a notification in between unless it uses
//!   `Notified::enable` carefully; `notify_one` stores a single permit and wakes one
//!   waiter. Use `Notify` for single-consumer wake-ups (a worker waiting for work) or as
//!   a building block; use [`Event`] when many waiters must each learn about every
//!   change, with a generation to prove it.
//! - **[`Event`] vs `tokio::sync::watch`**: an [`Event`] *is* a `watch` of a counter.
//!   Use `watch<T>` directly when waiters need the new value itself (configuration,
//!   state); use [`Event`] when the payload lives elsewhere and you want explicit
//!   generations, `wait_after`, and close semantics with named errors.
//! - **vs `tokio::sync::broadcast` / throng's [`broadcast`](crate::broadcast)**:
//!   those deliver every message (and must handle lagging receivers); signals carry no
//!   payload and never lag.
//!
//! # Pitfalls avoided
//!
//! - **S11-2 (lost wake-up)**: the seed's `Broadcast` closed the current listeners'
//!   channels and reset the list, so a listener that subscribed just after the broadcast
//!   waited for the *next* one, forever if it was a one-shot signal. A [`Latch`] remembers
//!   the fire, so a late [`wait`](Latch::wait) returns at once; an [`Event`] counts
//!   generations, so [`wait_after(g)`](Event::wait_after) returns at once if the event
//!   moved past `g` while you were not waiting.
//! - **S11-3 (no unsubscribe)**: a wait is a future; dropping it unsubscribes (the
//!   semaphore acquire or `watch` receiver it holds goes away). [`Latch::waiter_count`]
//!   and [`Event::waiter_count`] let tests check that.
//! - **The seed's lost wake-up, re-done with `Notify`**: the tempting port of the seed is
//!   "check a flag, then `notify.notified().await`", with `notify_waiters` on fire. A
//!   fire between the check and the creation of the `Notified` is lost (`notify_waiters`
//!   stores no permit), which is S11-2 again; it is only correct if the `Notified` is
//!   created (or `enable`d) *before* the re-check. tokio's own history has several such
//!   races (tokio#4618, #5396). Neither type here relies on that ordering.
//! - **S11-4 (no "has fired?", no context)**: [`Latch::is_fired`],
//!   [`Event::generation`] and [`Event::is_closed`] answer without waiting; every wait
//!   is cancel safe, has a `_timeout` variant, and composes with a cancellation token in
//!   `tokio::select!`.
//!
//! # Cost
//!
//! Criterion, release build, on a 2-core machine shared with other builds: best of three
//! runs, so treat the numbers as ratios within one row more than as absolutes. Futures
//! are polled by hand with a no-op waker, so no scheduler is measured.
//!
//! | operation | throng | `CancellationToken` | `Notify` + flag | raw primitive |
//! |---|---|---|---|---|
//! | [`Latch::wait`] after the fire | 6.7 ns | 28.6 ns | 3.3 ns | closed `Semaphore` acquire: 20.6 ns |
//! | [`Latch::fire`] with 100 registered waiters, then poll them all | 11.3 µs | 11.9 µs | 10.1 µs | closed `Semaphore`: 8.9 µs |
//! | [`Event::notify`] with 100 registered waiters, then poll them all | 21.6 µs | n/a | `notify_waiters`: 8.3 µs | `watch<u64>`: 20.8 µs |
//!
//! A latch on `watch<bool>` (the first version) took 29 µs to fire with 100 waiters and
//! a `watch<bool>` wait after the fire takes 72 ns. [`Event`] costs what `watch` costs
//! (one receiver per wait); the extra over `Notify` buys generations and close.
//!
//! ```text
//! cargo bench -p throng-benches --bench signal
//! ```
//!
//! # Examples
//!
//! ```
//! use throng::signal::{Event, Latch};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ready = Latch::new();
//! assert!(ready.fire()); // this call fired it
//! assert!(!ready.fire()); // a second fire is a no-op
//! ready.wait().await; // a late waiter returns at once
//!
//! let changed = Event::new();
//! let seen = changed.generation();
//! changed.notify().unwrap(); // nobody is waiting yet...
//! // ...but the change is not lost: the generation moved past `seen`.
//! let now = changed.wait_after(seen).await.unwrap();
//! assert_eq!(now.get(), seen.get() + 1);
//! # }
//! ```

mod error;
mod event;
mod latch;

pub use error::{Closed, Elapsed, WaitTimeoutError};
pub use event::{Event, Generation, Listener};
pub use latch::Latch;
