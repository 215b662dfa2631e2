//! [`Dumper`]: the schedule, the sink and the counters, run together.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::{Dump, DumpHandle, DumpReport, Sink, SpawnError};
use crate::keyed::KeyedCounters;
use crate::periodic::{FirstRun, InvalidPeriod, MissedTicks, Periodic};

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Takes and writes the deltas of a [`KeyedCounters`] every interval; see the
/// [module docs](super) for the semantics and a spawned example.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::num::NonZeroUsize;
/// use std::sync::Arc;
/// use std::time::Duration;
/// use throng::dump::{Dumper, TextSink};
/// use throng::keyed::KeyedCounters;
/// use tokio_util::sync::CancellationToken;
///
/// let hits = Arc::new(KeyedCounters::<String>::new(NonZeroUsize::new(100).unwrap()));
/// hits.add("alice", 3);
/// let token = CancellationToken::new();
/// token.cancel(); // stop at once: only the final flush runs
/// let report = Dumper::new(hits, Duration::from_secs(60))
///     .unwrap()
///     .clock(|| std::time::UNIX_EPOCH)
///     .run(token, TextSink::new(Vec::new()))
///     .await;
/// assert_eq!((report.dumps, report.counted, report.lost), (1, 3, 0));
/// assert_eq!(report.sink.into_inner(), b"dump=1 ts_ms=0 key=alice count=3\n");
/// # }
/// ```
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

    /// Bounds the final flush at shutdown: a sink still writing after `deadline` is dropped
    /// midway and the report says
    /// [`FinalRun::TimedOut`](crate::periodic::FinalRun::TimedOut), with the final dump
    /// counted in [`DumpReport::failed`] and its total in [`DumpReport::lost`]. Unbounded
    /// by default.
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
