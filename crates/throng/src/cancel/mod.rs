//! Cancellation: tokio-util's tokens and task tracker, plus a [`Scope`] that carries a
//! deadline, says why work stopped, and owns every task spawned in it.
//!
//! Throng does not write a new token. [`CancellationToken`], [`DropGuard`],
//! [`WaitForCancellationFuture`] and [`TaskTracker`] are tokio-util's, re-exported. What this
//! module adds is what users keep hand-rolling around them:
//!
//! - [`Scope`]: a token plus an optional deadline ([`tokio::time::Instant`]), with child
//!   scopes that inherit both (a child's deadline is the earlier of the two; cancelling a
//!   parent cancels its children, never the reverse). It is Go's `context.Context`.
//! - [`Scope::run`] / [`run_until`]: run a future against the token and the deadline and get
//!   `Result<T, Stopped>`, where [`Stopped`] says whether it was [`Cancelled`](Stopped::Cancelled)
//!   or hit [`DeadlineExceeded`](Stopped::DeadlineExceeded).
//! - [`Scope::run_with`]: the same for work that takes a token; the token is cancelled when
//!   the call returns, so a timeout *tells the abandoned work to stop*.
//! - [`Scope::spawn`], [`Scope::close_and_wait`], [`Scope::shutdown`]: tasks spawned into a
//!   scope are tracked (by a [`TaskTracker`]), get a token that the scope's cancellation and
//!   deadline reach, and are joined, or aborted after a grace period, by their owner. A
//!   [`ShutdownReport`] counts them.
//!
//! # When to use
//!
//! Use a [`Scope`] when a unit of work (a request, a job, a session) has a deadline and may
//! be cancelled from outside, and its sub-steps or helper tasks must stop with it. Use
//! [`Scope::run`] when you need to know *why* a wait ended. Use [`Scope::spawn`] +
//! [`Scope::shutdown`] when background tasks must not outlive their owner.
//!
//! When not: if all you need is a stop signal, a bare [`CancellationToken`] is enough (and
//! is what the scope uses). If a single future needs a timeout and nothing else and
//! nobody cancels it from outside, [`tokio::time::timeout`] is the simpler tool (it costs
//! about the same, see below). For a fixed batch of tasks
//! whose results you collect, [`tokio::task::JoinSet`] fits better.
//!
//! # Scope vs dropping, timeout, CancellationToken, TaskTracker and JoinSet
//!
//! | Tool | Stops work by | Knows why | Deadline | Owns spawned tasks |
//! |---|---|---|---|---|
//! | dropping a future | dropping it at its `.await` | no | no | no: tasks it spawned keep running |
//! | [`tokio::time::timeout`] | dropping the future | `Elapsed` only | yes, not inherited | no |
//! | [`CancellationToken`] | cooperation: the work watches it | no | no | no |
//! | [`TaskTracker`] | nothing: it only counts and waits | no | no | waits, never aborts (tokio#7222) |
//! | [`tokio::task::JoinSet`] | aborting on drop / `shutdown` | no | no | yes, one owner with `&mut` |
//! | [`Scope`] | token first, abort after a grace period | [`Stopped`] | yes, min with parent | yes, shared by clones, nested |
//!
//! - *CancellationToken vs Scope.* A token is the signal; a scope is the signal plus a
//!   deadline plus the tasks. `scope.token()` hands the signal to code that wants a token.
//! - *`timeout` vs `Scope::run`.* `timeout` cannot be cancelled from outside and does not
//!   cascade; `run` answers "value, cancelled or timed out" in one match.
//! - *`JoinSet` vs `Scope::spawn`.* A `JoinSet` needs `&mut` to spawn and hands results back
//!   in completion order; a scope is `Clone`, so helpers spawn into it from anywhere, nested
//!   scopes count toward their parents, and shutdown asks politely before aborting.
//! - *Dropping a future vs `run_with`.* Dropping only reaches the future itself; `run_with`
//!   also cancels the token the work passed on to tasks, threads and callees.
//! - Within throng: [`signal::Latch`](crate::signal) is a one-shot "it happened" for any
//!   event; use a token or scope when the event is "stop".
//!
//! ## The seed's three styles, in Rust
//!
//! | Go (seed) | Rust |
//! |---|---|
//! | signal channel: `close(w.stop)`, `select { case <-w.stop: return; default: … Sleep }` | `let scope = Scope::new(); let h = scope.spawn(\|t\| worker(t));` and `select! { _ = t.cancelled() => return, _ = tick.tick() => … }`; stop with `scope.shutdown(grace)` (idempotent, joins) |
//! | timeout: `select { case <-done: case <-time.After(1s): }` | `Scope::with_timeout(d).run_with(\|t\| work(t)).await`: `Err(DeadlineExceeded)` and the work's token cancelled |
//! | context: `ctx, cancel := context.WithTimeout(parent, d)`; `<-ctx.Done()`; `ctx.Err()` | `let ctx = parent.child_with_timeout(d)`; `ctx.stopped().await` or `ctx.run(fut).await`; `ctx.stop_reason()` |
//!
//! # Pitfalls avoided
//!
//! - **S4-1** (a `select` with a timeout leaks its senders): tasks spawned into a scope get a
//!   token and an owner; after the timeout, `shutdown` cancels and joins them, leaving zero
//!   live tasks.
//! - **S5-2** (double `Stop()` panics): [`Scope::cancel`] and [`Scope::shutdown`] are
//!   idempotent and fine before anything was spawned.
//! - **S5-4** (`Stop()` does not wait): [`Scope::shutdown`] returns after every task ended.
//! - **S5-5**, **S7-1** (polling with `default:` and `Sleep(100ms)`): [`Scope::stopped`] and
//!   the work's token are awaitable, so a worker blocks on "stop or work" and stops in the
//!   same instant it is cancelled; the tests check zero latency on paused time.
//! - **S6-1** (`timeoutWork` leaves its goroutine blocked forever): [`Scope::run_with`]
//!   cancels the abandoned work's token, and a spawned task's token is cancelled at the
//!   scope's deadline.
//! - **S7-2** (no completion path, only `ctx.Err()`): [`Scope::run`] returns the value, or
//!   [`Stopped::Cancelled`], or [`Stopped::DeadlineExceeded`].
//! - A spawn racing a shutdown: the task either is never polled or is aborted; a loom
//!   model of the abort registry (`tests/loom_cancel.rs`) checks every interleaving.
//! - **S4-2** (the seed claims `select` prevents starvation; Go picks a ready case at
//!   random): [`run_until`] checks in a fixed, documented order: cancellation, then the
//!   work, then the deadline. Work that finishes as the deadline passes keeps its value;
//!   work that finishes because it was cancelled reports [`Stopped::Cancelled`].
//! - **S4-3**/**S6-2** (`time.After` per call): the timer is created only if the work is not
//!   ready at once, and dropped with the call; a scope's one deadline bounds a whole loop.
//!
//! # Cost
//!
//! Measured with criterion on the 2-core build machine while other builds ran (best of a
//! few runs; treat as ±20 %), current-thread runtime, per call, the work an already-ready
//! future:
//!
//! | Call | Time |
//! |---|---|
//! | bare `.await` | 2 ns |
//! | [`run_until`] on a bare token, no deadline | ≈ 25 ns |
//! | [`Scope::run`], no deadline (one token lock) | ≈ 35 ns |
//! | [`Scope::run`], with a deadline (adds a clock read) | ≈ 60 ns |
//! | [`tokio::time::timeout`] | ≈ 85 ns |
//! | [`Scope::run_with`] (creates and cancels a child token) | ≈ 420 ns |
//!
//! The timer and the token waiter are only created if the work is pending on its first
//! poll. Spawning and joining a trivial task: `tokio::spawn` ≈ 0.46 µs,
//! `TaskTracker::spawn` ≈ 0.61 µs, [`Scope::spawn`] ≈ 1.6 µs (a child token per task, its
//! abort handle registered in the scope and each enclosing scope, the token cancelled on
//! exit). After the spawn a scope adds nothing per poll unless the scope has a deadline
//! (one timer): 64 tasks yielding 200 times each on 2 workers take 1.9 ms in a scope vs
//! 1.7 ms in a bare `TaskTracker` (within noise). Use `run_until` on a bare token, or plain
//! `tokio::spawn`, in loops where a microsecond per task matters.
//!
//! Reproduce: `cargo bench -p throng-benches --bench cancel`.
//!
//! # Examples
//!
//! A request with a deadline, a sub-step with a tighter one, and a background helper that
//! is told to stop and joined on the way out:
//!
//! ```
//! use std::time::Duration;
//! use throng::cancel::{Scope, Stopped};
//! use tokio::time::sleep;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let request = Scope::with_timeout(Duration::from_secs(2));
//!
//! // Background helper: runs until the request scope stops.
//! let helper = request.spawn(|token| async move {
//!     token.cancelled().await;
//!     "helper stopped"
//! });
//!
//! // A sub-step with its own, tighter timeout.
//! let step = request.child_with_timeout(Duration::from_millis(100));
//! match step.run(sleep(Duration::from_secs(1))).await {
//!     Ok(()) => println!("step done"),
//!     Err(Stopped::DeadlineExceeded) => println!("step timed out"),
//!     Err(Stopped::Cancelled) => println!("request cancelled"),
//! }
//! assert_eq!(step.stop_reason(), Some(Stopped::DeadlineExceeded));
//! assert_eq!(request.stop_reason(), None);
//!
//! let report = request.shutdown(Duration::from_secs(1)).await;
//! assert!(report.is_clean());
//! assert_eq!(helper.await, Ok("helper stopped"));
//! # }
//! ```

mod run;
mod scope;
mod stopped;
mod task;

pub use run::{run_until, run_with_until};
pub use scope::Scope;
pub use stopped::{ShutdownReport, Stopped, TaskError};
pub use task::ScopedJoinHandle;
pub use tokio_util::sync::{
    CancellationToken, DropGuard, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};
pub use tokio_util::task::TaskTracker;
