//! The seed's "dump counters" worker: every interval, take the per-key deltas of a
//! [`KeyedCounters`] and hand them, sorted, to a [`Sink`]; once more on shutdown.
//!
//! A [`Dumper`] is [`KeyedCounters::take_snapshot`] on a [`Periodic`] schedule. Each
//! run builds a [`Dump`] (the deltas since the previous run, sorted by key, with the
//! overflow bucket and the number of idle keys evicted) and passes it to the sink. When
//! the token is cancelled the dumper runs one last time, so nothing counted between the
//! last tick and shutdown is lost, then returns a [`DumpReport`] and the sink.
//!
//! Three sinks ship with throng: [`TextSink`] (one `key=… count=…` line per key to any
//! `io::Write`), [`JsonLinesFileSink`] (one JSON object per key, appended to a file) and
//! [`TracingSink`] (one `tracing` event per key). Implement [`Sink`] for anything else.
//!
//! # When to use
//!
//! When per-key counts (requests per user, errors per endpoint) must leave the process
//! at a steady rhythm as *per-interval* numbers, and the last interval must not vanish at
//! shutdown. For totals that a scraper reads whenever it likes, expose
//! [`KeyedCounters::snapshot`] on a metrics endpoint instead: no dumper needed.
//!
//! # Dumper vs a hand-written loop
//!
//! The usual loop (`loop { select! { tick => dump(), cancelled => return } }`) has the
//! seed's bugs: the counts since the last tick are lost on shutdown (S9-1), the
//! output order is random (S9-3), and cumulative values make "how many this minute"
//! a subtraction the reader must do (S9-4). The dumper fixes each and adds a bounded
//! final flush ([`final_flush_deadline`](Dumper::final_flush_deadline)) and panic
//! containment for the sink (a panicking sink stops the dumper with a report, it does not
//! take the process down).
//!
//! # Semantics
//!
//! - **Deltas.** Each dump holds what was counted since the previous dump (the take
//!   resets), never cumulative totals. Every increment lands in exactly one dump
//!   (guaranteed by `take_snapshot`; see its docs).
//! - **First dump** after one interval, not at start (an empty dump at start says
//!   nothing). **Missed ticks** are skipped by default: a slow sink delays the next dump
//!   instead of causing a burst; the next dump simply covers the longer interval.
//! - **Empty intervals** write nothing by default ([`skip_empty`](Dumper::skip_empty)).
//! - **Sink errors** are counted in the report and the dumper goes on; the counts of the
//!   failed dump were taken and are not retried (a sink that can fail transiently should
//!   retry inside [`Sink::write`]).
//! - **Nothing silently gone.** Every increment taken ends up in [`DumpReport::counted`]
//!   or [`DumpReport::lost`]: a write that returns an error, panics, or is dropped at the
//!   final-flush deadline counts as failed and its dump's total as lost.
//! - **Timestamps** come from an injectable clock ([`clock`](Dumper::clock)), wall time
//!   by default, as unix milliseconds.
//!
//! # Pitfalls avoided
//!
//! - S9-1: final flush on cancellation, bounded by a deadline.
//! - S9-2: [`Dumper::run`] blocks (the name says so); [`Dumper::spawn`] returns a
//!   [`DumpHandle`] at once.
//! - S9-3: sorted output through an injectable sink and clock.
//! - S9-4: per-interval deltas; first-dump and missed-tick policy documented above.
//!
//! # Cost
//!
//! One `take_snapshot` (a pass over the keys; see [`crate::keyed`] for the measured cost
//! at 100k keys), one sort, one sink write per interval. Nothing on the increment path.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::num::NonZeroUsize;
//! use std::sync::Arc;
//! use std::time::Duration;
//! use throng::dump::{Dumper, TextSink};
//! use throng::keyed::KeyedCounters;
//! use tokio_util::sync::CancellationToken;
//!
//! let hits = Arc::new(KeyedCounters::<String>::new(NonZeroUsize::new(10_000).unwrap()));
//! let token = CancellationToken::new();
//! let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(10))
//!     .unwrap()
//!     .clock(|| std::time::UNIX_EPOCH + Duration::from_secs(1))
//!     .spawn(token.clone(), TextSink::new(Vec::new()))
//!     .unwrap();
//!
//! hits.inc("alice");
//! tokio::time::sleep(Duration::from_secs(11)).await; // first dump at t = 10 s
//! hits.add("bob", 2); // counted after the last tick: flushed at shutdown
//!
//! token.cancel();
//! let report = handle.join().await.unwrap();
//! assert_eq!(report.dumps, 2);
//! let text = String::from_utf8(report.sink.into_inner()).unwrap();
//! assert_eq!(
//!     text,
//!     "dump=1 ts_ms=1000 key=alice count=1\ndump=2 ts_ms=1000 key=bob count=2\n"
//! );
//! # }
//! ```

mod sink;

pub use sink::{format_json_lines, format_text, JsonLinesFileSink, Sink, TextSink, TracingSink};

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::keyed::KeyedCounters;
use crate::periodic::{FirstRun, InvalidPeriod, MissedTicks, Periodic, PeriodicReport};

/// One interval's counts, as handed to a [`Sink`].
///
/// Its fields are public so a sink's own tests can build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump<K> {
    /// 1 for the first dump written by this dumper, counting up.
    pub seq: u64,
    /// When the counts were taken, in milliseconds since the unix epoch (from the
    /// dumper's clock).
    pub ts_ms: u64,
    /// Whether this is the flush at shutdown.
    pub is_final: bool,
    /// `(key, delta)` for every key incremented in the interval, sorted by key.
    pub counts: Vec<(K, u64)>,
    /// Increments for new keys that arrived while the counters were at their key cap.
    pub overflow: u64,
    /// Keys evicted as idle by this take.
    pub evicted: usize,
    /// Keys tracked after this take.
    pub keys: usize,
}

impl<K> Dump<K> {
    /// Everything this dump accounts for: the sum of the counts plus the overflow.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(self.overflow, |acc, (_, n)| acc.wrapping_add(*n))
    }
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Takes and writes the deltas of a [`KeyedCounters`] every interval; see the
/// [module docs](self).
#[must_use = "a Dumper does nothing until run or spawned"]
pub struct Dumper<K: Send + Sync> {
    counters: Arc<KeyedCounters<K>>,
    schedule: Periodic,
    clock: Clock,
    skip_empty: bool,
}

impl<K: Send + Sync> fmt::Debug for Dumper<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dumper")
            .field("schedule", &self.schedule)
            .field("skip_empty", &self.skip_empty)
            .finish_non_exhaustive()
    }
}

impl<K> Dumper<K>
where
    K: Hash + Eq + Ord + Clone + Send + Sync + 'static,
{
    /// A dumper for `counters` every `interval`, with a final flush on shutdown.
    ///
    /// # Errors
    ///
    /// [`InvalidPeriod`] if `interval` is zero or absurdly long.
    pub fn new(counters: Arc<KeyedCounters<K>>, interval: Duration) -> Result<Self, InvalidPeriod> {
        let schedule = Periodic::new(interval)?
            .first_run(FirstRun::AfterPeriod)
            .missed_ticks(MissedTicks::Skip)
            .final_run(true);
        Ok(Self {
            counters,
            schedule,
            clock: Arc::new(SystemTime::now),
            skip_empty: true,
        })
    }

    /// Bounds the final flush at shutdown: a sink still writing after `deadline` is
    /// dropped midway and the report says [`FinalRun::TimedOut`](crate::periodic::FinalRun::TimedOut),
    /// with the final dump counted in [`DumpReport::failed`] and its total in
    /// [`DumpReport::lost`]. Unbounded by default.
    pub fn final_flush_deadline(mut self, deadline: Duration) -> Self {
        self.schedule = self.schedule.final_run_deadline(deadline);
        self
    }

    /// What to do after a tick was missed because the sink was slow (default
    /// [`MissedTicks::Skip`]).
    pub fn missed_ticks(mut self, missed: MissedTicks) -> Self {
        self.schedule = self.schedule.missed_ticks(missed);
        self
    }

    /// The clock stamped on each dump (default [`SystemTime::now`]); tests pass a fixed one.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether an interval with no counts, no overflow and no evictions is skipped
    /// (default `true`). With `false` every tick calls the sink, even with nothing in it.
    pub fn skip_empty(mut self, skip: bool) -> Self {
        self.skip_empty = skip;
        self
    }

    /// Runs the dumper in the calling task until `token` is cancelled, flushes once more,
    /// and returns the report with the sink.
    ///
    /// # Cancel safety
    ///
    /// Dropping this future drops the counts of a dump in progress and skips the final
    /// flush. Cancel the token and await the future to stop without losing counts.
    pub async fn run<S: Sink<K>>(self, token: CancellationToken, sink: S) -> DumpReport<S> {
        let sink = tokio::sync::Mutex::new(sink);
        let stats = Stats::default();
        let Self {
            counters,
            schedule,
            clock,
            skip_empty,
        } = self;
        let periodic = schedule
            .run(token, |ctx| {
                let (sink, stats, counters, clock) = (&sink, &stats, &counters, &clock);
                async move {
                    let snap = counters.take_snapshot().sorted();
                    let dump = Dump {
                        seq: stats.dumps.load(Ordering::Relaxed) + 1,
                        ts_ms: unix_ms(clock()),
                        is_final: ctx.is_final(),
                        counts: snap.counts,
                        overflow: snap.overflow,
                        evicted: snap.evicted,
                        keys: snap.keys,
                    };
                    if skip_empty && dump.counts.is_empty() && dump.overflow == 0 && dump.evicted == 0 {
                        return;
                    }
                    let total = dump.total();
                    // The counts are taken: until the write returns they are in flight, so
                    // a write dropped at the final-flush deadline or unwound by a panic is
                    // still accounted for (as lost) when the report is built.
                    stats.dumps.fetch_add(1, Ordering::Relaxed);
                    stats.in_flight.store(total, Ordering::Relaxed);
                    stats.writing.store(true, Ordering::Relaxed);
                    let res = sink.lock().await.write(&dump).await;
                    stats.writing.store(false, Ordering::Relaxed);
                    stats.in_flight.store(0, Ordering::Relaxed);
                    match res {
                        Ok(()) => {
                            stats.counted.fetch_add(total, Ordering::Relaxed);
                        }
                        Err(err) => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                            stats.lost.fetch_add(total, Ordering::Relaxed);
                            tracing::warn!(target: "throng::dump", error = %err, "dump sink failed");
                        }
                    }
                }
            })
            .await;
        // A write that never returned (dropped at the deadline, or panicked) failed, and
        // its counts are lost.
        let abandoned = stats.writing.into_inner();
        DumpReport {
            dumps: stats.dumps.into_inner(),
            failed: stats.failed.into_inner() + u64::from(abandoned),
            counted: stats.counted.into_inner(),
            lost: stats.lost.into_inner() + stats.in_flight.into_inner(),
            periodic,
            sink: sink.into_inner(),
        }
    }

    /// Spawns the dumper on the current runtime and returns its handle at once.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoRuntime`] if called outside a tokio runtime (where `tokio::spawn`
    /// would panic); the sink is dropped.
    pub fn spawn<S: Sink<K>>(
        self,
        token: CancellationToken,
        sink: S,
    ) -> Result<DumpHandle<S>, SpawnError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        let token = token.child_token();
        let task = runtime.spawn(self.run(token.clone(), sink));
        Ok(DumpHandle { token, task })
    }
}

#[derive(Default)]
struct Stats {
    dumps: AtomicU64,
    failed: AtomicU64,
    counted: AtomicU64,
    lost: AtomicU64,
    /// The total of the dump being written, 0 between writes.
    in_flight: AtomicU64,
    /// Whether a write is under way (it may be abandoned or panic before returning).
    writing: AtomicBool,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How a dumper ended, with its sink handed back.
#[derive(Debug)]
#[non_exhaustive]
pub struct DumpReport<S> {
    /// Dumps handed to the sink (successful or not), final flush included.
    pub dumps: u64,
    /// Dumps whose write failed, returned an error, panicked or was dropped at the
    /// final-flush deadline.
    pub failed: u64,
    /// Increments written successfully (counts plus overflow).
    pub counted: u64,
    /// Increments taken for a dump whose write failed (an error, a panic of the sink, or
    /// a final write dropped at [`final_flush_deadline`](Dumper::final_flush_deadline)):
    /// reported here, never silently gone. After the dumper ends, every increment taken
    /// is in exactly one of `counted` and `lost`.
    pub lost: u64,
    /// The schedule's report: regular runs, the final flush's fate, and a caught panic.
    pub periodic: PeriodicReport,
    /// The sink, returned for inspection or reuse.
    pub sink: S,
}

/// The owner of a dumper started by [`Dumper::spawn`].
///
/// Dropping it leaves the dumper running until the token given to `spawn` is
/// cancelled; [`stop`](DumpHandle::stop) cancels and waits.
#[derive(Debug)]
#[must_use = "a dump handle is how you stop the dumper and wait for its final flush"]
pub struct DumpHandle<S> {
    token: CancellationToken,
    task: JoinHandle<DumpReport<S>>,
}

/// Why [`Dumper::spawn`] started no dumper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// `spawn` was called outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRuntime => "a dumper must be spawned inside a tokio runtime",
        })
    }
}

impl std::error::Error for SpawnError {}

/// The dumper task ended without a report: its runtime shut down under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumperAborted;

impl fmt::Display for DumperAborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dumper task aborted")
    }
}

impl std::error::Error for DumperAborted {}

impl<S> DumpHandle<S> {
    /// Asks the dumper to flush once more and stop. Idempotent; returns at once.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether the dumper task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the dumper to end (after its token is cancelled) and returns its report.
    ///
    /// # Errors
    ///
    /// [`DumperAborted`] if the runtime shut down under the task. Panics of the sink
    /// are not errors here: they are caught and reported in [`DumpReport::periodic`].
    ///
    /// # Cancel safety
    ///
    /// Dropping this future leaves the dumper running; nothing is lost.
    pub async fn join(self) -> Result<DumpReport<S>, DumperAborted> {
        self.task.await.map_err(|_| DumperAborted)
    }

    /// [`cancel`](DumpHandle::cancel), then [`join`](DumpHandle::join).
    ///
    /// # Errors
    ///
    /// As [`join`](DumpHandle::join).
    pub async fn stop(self) -> Result<DumpReport<S>, DumperAborted> {
        self.cancel();
        self.join().await
    }
}
