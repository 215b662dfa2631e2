//! A task that owns a state; others run closures on it through a bounded mailbox.
//!
//! [`Keeper::spawn`] moves a state `S` into a new tokio task (the *owner*) and returns a
//! cloneable handle. Every handle sends closures `FnOnce(&mut S) -> R` to the owner over
//! one bounded mailbox; the owner runs them one at a time, in the order the mailbox
//! accepted them, so the state needs no lock and is never touched by two closures at
//! once. This is the Go walkthrough's "resource keeper" (actor) pattern with typed
//! requests and replies instead of string ops and `interface{}`.
//!
//! The operations follow tokio's naming grid:
//!
//! | operation | waits for room? | waits for the result? | refusal |
//! |---|---|---|---|
//! | [`call`](Keeper::call) | yes | yes | [`CallError`] |
//! | [`call_timeout`](Keeper::call_timeout) | yes, within the deadline | yes, within the same deadline | [`CallTimeoutError`] |
//! | [`try_call`](Keeper::try_call) | no | returns a [`Reply`] future | [`TryCallError`] (closure handed back) |
//! | [`blocking_call`](Keeper::blocking_call) | blocks the thread | blocks the thread | [`CallError`] |
//! | [`cast`](Keeper::cast) | yes | no (fire and forget) | [`CastError`] (closure handed back) |
//! | [`try_cast`](Keeper::try_cast) | no | no | [`TryCastError`] (closure handed back) |
//! | [`stop`](Keeper::stop) | no | joins the owner | [`StopError`] |
//!
//! # Guarantees
//!
//! - **Every accepted call is answered**: with its value, or with `Stopped`, `Poisoned`
//!   or `Panicked`, even if the owner task is dropped by its runtime with calls still
//!   queued. Nothing waits forever for a reply that cannot come.
//! - **Stop** ([`Keeper::stop`]): from the moment it is called, new work is refused at
//!   once with `Stopped`; everything already accepted runs; then the owner ends, is
//!   joined, and its final state is returned to exactly one caller. Later or concurrent
//!   `stop`s wait for the end and get [`StopError::AlreadyStopped`].
//! - **Panics are contained**: a closure is run under `catch_unwind`. Its caller gets
//!   [`CallError::Panicked`] with the message; the keeper is then *poisoned*: it stops,
//!   answers queued calls with [`CallError::Poisoned`] without running them (the state
//!   may be half-updated), refuses new work with `Poisoned`, and `stop` returns the state
//!   in [`StopError::Poisoned`] (as [`std::sync::PoisonError`] hands back the data). The
//!   caller never panics and never hangs.
//! - **Cancellation**: dropping a call's future (or its [`Reply`]) before the owner starts
//!   the closure means the closure never runs; after it started, it runs to completion
//!   and the result is dropped. So `TimedOut` means "not run" or "ran, result lost",
//!   never "will run later".
//! - **No leaked task**: when the last handle is dropped, the owner runs what was
//!   accepted, ends, and drops the state.
//!
//! # When to use
//!
//! Use a keeper when one task must *own* the state: the state is not `Sync`, it must be
//! updated in a strict order, several fields must change together, or the owner must do
//! work no caller should wait on a lock for (casts). Do not use it for a short critical
//! section on plain data: a [`std::sync::Mutex`] is ~35x cheaper per operation (below).
//! Closures run on the owner's worker thread and must not block for long; the owner
//! cannot `.await` inside a closure (state that needs async I/O per request is better
//! served by a hand-rolled owner loop, or by a keeper whose closures hand back work to
//! run outside).
//!
//! # Keeper vs Mutex vs hand-rolled mpsc + oneshot
//!
//! - [`std::sync::Mutex`] wins for short critical sections with no `.await` inside:
//!   18 ns uncontended vs ~640 ns for a keeper round trip, and 9.2 M vs 1.5 M ops/s
//!   with 8 contending tasks on 2 workers. Use it for counters, maps, caches.
//! - [`tokio::sync::Mutex`] is for a lock held across an `.await`; still 51 ns
//!   uncontended and 3.1 M ops/s contended, so it beats a keeper whenever callers may
//!   simply take turns.
//! - A keeper wins when the owner must be one task (ordering, non-`Sync` state, a
//!   resource with its own lifecycle), when callers must not wait for the work (`cast`),
//!   and when you need bounded queueing with backpressure, deadlines and a clean stop.
//!   It costs about the same as the hand-rolled `mpsc` + `oneshot` loop it replaces
//!   (same-run ratio 0.91-0.99 with one caller, 1.00-1.08 with 8 callers; below)
//!   and removes its pitfalls: no command enum to keep exhaustive, no reply that can
//!   be forgotten, stop and panics handled.
//! - Within throng: [`counter`](crate::counter) and [`keyed`](crate::keyed) are the
//!   lock-free answer for counting; a keeper is the general tool for everything else.
//!
//! # Pitfalls avoided
//!
//! - **S10-2** (unknown op never answered, caller hangs): requests are typed closures,
//!   and every accepted call is answered, even if the owner dies (a queued call's drop
//!   answers `Stopped`).
//! - **S10-3** (after `Stop()` every request waited 100 ms and was silently dropped; a
//!   second `Stop()` panicked; no join): calls after `stop` fail at once with
//!   `Stopped`; `stop` is idempotent, joins the task and returns the state.
//! - **S10-4** (the timeout covered only the enqueue): [`Keeper::call_timeout`] bounds
//!   the whole round trip, and the mailbox has an explicit capacity.
//! - **S10-5** (`Inc` returned nothing, "non-blocking" yet blocking): [`Keeper::cast`]
//!   returns a `Result`, and [`Keeper::try_cast`] / [`Keeper::try_call`] never wait and
//!   hand the closure back on `Full` or `Stopped`.
//! - **S10-6** (untyped replies, no batching, one goroutine caps throughput): replies
//!   are typed `R`; the owner drains the mailbox in batches of up to 64
//!   (`recv_many`); the ceiling is documented below.
//!
//! # Cost
//!
//! One call costs one allocation (closure, result slot and waker share it: a lock-free
//! oneshot protocol checked by `tests/loom_keeper.rs`), one mailbox slot, and two
//! wake-ups. Measured on a 2-core machine shared with other builds (best of several
//! runs; expect noise of about 10%):
//!
//! ```text
//! cargo run --release -p throng-benches --bin scoreboard -- keeper
//! case=keeper.call throng=2800551 peer=mpsc-oneshot:2998034 unit=calls/s ratio=0.93
//! case=keeper.call.mt throng=1777447 peer=mpsc-oneshot:1854455 unit=calls/s ratio=0.96
//! case=keeper.call.contended throng=1830034 peer=mpsc-oneshot:1711163 unit=calls/s ratio=1.07
//!
//! cargo bench -p throng-benches --bench keeper   (time per round trip / throughput)
//! keeper/uncontended: keeper 643 ns, mpsc-oneshot 607 ns, tokio-mutex 51 ns, std-mutex 18.5 ns
//! keeper/contended (8 tasks, 2 workers): keeper 1.54, mpsc-oneshot 1.49,
//!                                         tokio-mutex 3.12, std-mutex 9.22 M ops/s
//! ```
//!
//! (`keeper.call`: one caller, current-thread runtime; `.mt`: one caller, 2 workers;
//! `.contended`: 8 callers, 2 workers.)
//!
//! **Throughput ceiling** (S10-6): one owner runs every closure serially, so a keeper
//! tops out at about `1 / (per-message overhead + closure time)`: here some 2-3 M
//! trivial calls/s however many callers there are. Batched draining amortizes the
//! owner's wake-ups but not the closure time. Beyond that, shard the state over several
//! keepers (by key), or use a lock or atomics.
//!
//! # Examples
//!
//! ```
//! use std::collections::HashMap;
//! use std::num::NonZeroUsize;
//! use throng::keeper::{CallError, Keeper};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let keeper = Keeper::spawn(HashMap::<String, u64>::new(), NonZeroUsize::new(128).unwrap()).unwrap();
//!
//! // Fire-and-forget updates, typed reads.
//! keeper.cast(|m| *m.entry("ann".into()).or_default() += 1).await.unwrap();
//! let ann = keeper.call(|m| m.get("ann").copied()).await.unwrap();
//! assert_eq!(ann, Some(1));
//!
//! // Stop: accepted work runs, the final state comes back, later calls fail fast.
//! let state = keeper.stop().await.unwrap();
//! assert_eq!(state["ann"], 1);
//! assert_eq!(keeper.call(|m| m.len()).await, Err(CallError::Stopped));
//! # }
//! ```
mod error;
mod handle;
mod slot;
mod task;

pub use error::{
    CallError, CallTimeoutError, CastError, SpawnError, StopError, TryCallError, TryCastError,
};
pub use handle::{Keeper, MAX_CAPACITY};
pub use slot::Reply;

#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    //! The call slot's protocol, exposed for `tests/loom_keeper.rs` only.
    pub use super::slot::{Call, Job, ReplySlot};
}
