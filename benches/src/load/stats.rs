//! What the load generator counts: per-connection counters (each connection owns its
//! own, so the hot path never shares a cache line), sharded latency histograms (one for
//! post -> delivery, one for post -> ack), and the shared tallies of rare events (error codes, closes, connect failures).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use hdrhistogram::Histogram;

/// Highest latency the histogram resolves, in microseconds (60 s); longer ones saturate.
const MAX_LATENCY_US: u64 = 60_000_000;
/// Histogram shards; connection `i` records into shard `i % SHARDS`.
const SHARDS: usize = 16;

/// One connection's counters. `*_window` count only posts scheduled inside the
/// measurement window (after warmup), so `delivered_window == Σ sent_window × members`
/// once the run has drained.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// `message` frames received (any time).
    pub delivered: AtomicU64,
    /// `message` frames received for posts scheduled inside the window.
    pub delivered_window: AtomicU64,
    /// Posts sent (any time).
    pub sent: AtomicU64,
    /// Posts sent that were scheduled inside the window.
    pub sent_window: AtomicU64,
    /// `ack` frames received.
    pub acks: AtomicU64,
    /// `ack` frames received for posts scheduled inside the window (each one timed).
    pub acks_window: AtomicU64,
    /// WebSocket frames received after the join, of any kind.
    pub frames: AtomicU64,
    /// The `seq` of the first and of the last `message` received (0: none).
    pub first_seq: AtomicU64,
    pub last_seq: AtomicU64,
    /// Messages skipped: a `seq` more than one past the last one counts those between.
    pub seq_gaps: AtomicU64,
    /// Messages received twice or out of order: a `seq` not above the last one.
    pub seq_dups: AtomicU64,
}

/// Sums of every connection's counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub delivered: u64,
    pub delivered_window: u64,
    pub sent: u64,
    pub sent_window: u64,
    pub acks: u64,
    pub acks_window: u64,
    pub frames: u64,
    pub seq_gaps: u64,
    pub seq_dups: u64,
}

/// Sums `stats` (relaxed loads; a progress snapshot, exact once the run is quiet).
pub fn totals<'a>(stats: impl IntoIterator<Item = &'a ConnStats>) -> Totals {
    let mut t = Totals::default();
    for s in stats {
        t.delivered += s.delivered.load(Relaxed);
        t.delivered_window += s.delivered_window.load(Relaxed);
        t.sent += s.sent.load(Relaxed);
        t.sent_window += s.sent_window.load(Relaxed);
        t.acks += s.acks.load(Relaxed);
        t.acks_window += s.acks_window.load(Relaxed);
        t.frames += s.frames.load(Relaxed);
        t.seq_gaps += s.seq_gaps.load(Relaxed);
        t.seq_dups += s.seq_dups.load(Relaxed);
    }
    t
}

/// A latency (end-to-end delivery, or post to ack), in microseconds, in a few mutexed HDR
/// histograms: a receiver locks
/// only its own shard, which another receiver rarely holds at the same moment.
#[derive(Debug)]
pub struct Latency {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(empty())).collect(),
        }
    }
}

fn empty() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Latency {
    /// Records one latency for connection `conn`.
    pub fn record(&self, conn: usize, micros: u64) {
        lock(&self.shards[conn % SHARDS]).saturating_record(micros.max(1));
    }

    /// All shards merged.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = empty();
        for s in &self.shards {
            // Same bounds everywhere, so adding cannot fail.
            let _ = all.add(&*lock(s));
        }
        all
    }
}

/// Rare events, behind one lock.
#[derive(Debug, Default)]
pub struct Events {
    inner: Mutex<EventCounts>,
}

/// The tallies [`Events`] keeps.
#[derive(Debug, Default, Clone)]
pub struct EventCounts {
    /// `error` frames by `code`.
    pub errors: BTreeMap<String, u64>,
    /// Closes with 4008 "slow consumer".
    pub slow_closes: u64,
    /// Other closes (or a dropped connection) before the run ended, by code (`0` = no
    /// close frame).
    pub other_closes: BTreeMap<u16, u64>,
    /// Connections that failed to connect, say hello or join.
    pub connect_failures: u64,
    /// The first connect failure, to tell why.
    pub first_connect_error: Option<String>,
}

impl Events {
    pub fn error(&self, code: &str) {
        *lock(&self.inner).errors.entry(code.to_owned()).or_default() += 1;
    }

    pub fn closed(&self, code: u16) {
        let mut e = lock(&self.inner);
        if code == 4008 {
            e.slow_closes += 1;
        } else {
            *e.other_closes.entry(code).or_default() += 1;
        }
    }

    pub fn connect_failed(&self, why: String) {
        let mut e = lock(&self.inner);
        e.connect_failures += 1;
        e.first_connect_error.get_or_insert(why);
    }

    pub fn snapshot(&self) -> EventCounts {
        lock(&self.inner).clone()
    }
}
