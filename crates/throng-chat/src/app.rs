//! Shared server state: names, rooms, counters, limits, connections, shutdown.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use throng::keyed::KeyedCounters;
use throng::ratelimit::{KeyedRateLimiter, Quota};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::outbox::{CloseReason, Outbox};
use crate::rooms::{Fanout, LocalRooms};
use crate::store::Store;

/// Close reason sent to every client at shutdown.
pub const CLOSE_SHUTDOWN: CloseReason = CloseReason {
    code: 1001,
    reason: "shutdown",
};

/// Everything connections share.
#[derive(Debug)]
pub struct App {
    pub cfg: Config,
    pub rooms: Arc<dyn Fanout>,
    pub metrics: Arc<Metrics>,
    /// Requests (frames) per user in the current dump interval.
    pub counters: Arc<KeyedCounters<String>>,
    /// Posts per user: `--post-rate` per second, `--post-burst` at once (GCRA).
    pub post_limit: KeyedRateLimiter<String>,
    /// The history database, unless `--memory`.
    pub store: Option<Arc<Store>>,
    names: Mutex<HashMap<String, u64>>,
    conns: Mutex<HashMap<u64, Outbox>>,
    per_ip: Mutex<HashMap<IpAddr, u64>>,
    open: AtomicU64,
    next_conn: AtomicU64,
    draining: AtomicBool,
    /// Cancelled when shutdown begins.
    pub shutdown: CancellationToken,
    /// Every connection task.
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for dyn Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fanout")
    }
}

/// Why a connection was refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Draining,
    TooManyConnections,
    TooManyFromIp,
}

/// A held connection slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    app: Arc<App>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.app.open.fetch_sub(1, Ordering::AcqRel);
        self.app.metrics.connections.dec();
        let mut per_ip = self.app.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

impl App {
    /// Shared state for `cfg`. The flags were range-checked by clap, so the quota is valid;
    /// an embedder passing nonsense gets the smallest valid quota instead of a panic.
    pub fn new(cfg: Config) -> Arc<Self> {
        Self::with_store(cfg, None, Arc::new(Metrics::default()))
    }

    /// As [`new`](Self::new), persisting history to `store`.
    pub fn with_store(cfg: Config, store: Option<Arc<Store>>, metrics: Arc<Metrics>) -> Arc<Self> {
        let quota = Quota::per_second(cfg.post_rate.max(1))
            .burst(cfg.post_burst.max(1))
            .build()
            .unwrap_or_else(|_| {
                Quota::per_second(1)
                    .burst(1)
                    .build()
                    .expect("one per second is a valid quota")
            });
        let post_limit = KeyedRateLimiter::new(
            quota,
            NonZeroUsize::new(cfg.max_tracked_users as usize).unwrap_or(NonZeroUsize::MIN),
        );
        let rooms = Arc::new(LocalRooms::new(
            cfg.history as usize,
            cfg.join_history as usize,
            cfg.max_rooms as usize,
            store.clone(),
            metrics.clone(),
        ));
        let max_users =
            NonZeroUsize::new(cfg.max_tracked_users as usize).unwrap_or(NonZeroUsize::MIN);
        let counters = Arc::new(
            KeyedCounters::builder(max_users)
                // A user silent for 6 dump intervals is dropped from the counters.
                .evict_idle_after(NonZeroUsize::new(6).expect("non-zero"))
                .build(),
        );
        Arc::new(Self {
            cfg,
            rooms,
            metrics,
            counters,
            post_limit,
            store,
            names: Mutex::default(),
            conns: Mutex::default(),
            per_ip: Mutex::default(),
            open: AtomicU64::new(0),
            next_conn: AtomicU64::new(1),
            draining: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        })
    }

    /// `true` once shutdown began: `/readyz` is 503 and upgrades are refused.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Takes a connection slot for `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        if self.is_draining() {
            return Err(Refused::Draining);
        }
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let from_ip = per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.cfg.max_connections_per_ip {
            return Err(Refused::TooManyFromIp);
        }
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.cfg.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::TooManyConnections);
        }
        *per_ip.entry(ip).or_insert(0) += 1;
        self.metrics.connections.inc();
        Ok(Slot {
            app: self.clone(),
            ip,
        })
    }

    /// A new connection id, registered for shutdown.
    pub fn register(&self, out: &Outbox) -> u64 {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, out.clone());
        id
    }

    pub fn unregister(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Claims `name` for connection `id`; `false` if another connection holds it.
    pub fn claim_name(&self, name: &str, id: u64) -> bool {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        match names.get(name) {
            Some(holder) => *holder == id,
            None => {
                names.insert(name.to_owned(), id);
                true
            }
        }
    }

    /// Releases `name` if connection `id` holds it.
    pub fn release_name(&self, name: &str, id: u64) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if names.get(name) == Some(&id) {
            names.remove(name);
        }
    }

    /// Frames waiting in every outbound queue.
    pub fn queued_frames(&self) -> usize {
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(Outbox::len)
            .sum()
    }

    /// Starts the drain: readiness off, no new upgrades, every client told to go.
    pub fn begin_shutdown(&self) {
        self.draining.store(true, Ordering::Release);
        self.shutdown.cancel();
        let conns: Vec<Outbox> = self
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for out in conns {
            out.close(CLOSE_SHUTDOWN);
        }
    }
}
