//! Shared server state: the room backend (sequencer, hub, names), counters, limits,
//! connections, shutdown.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use throng::keyed::KeyedCounters;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::addr::AddrKey;
use crate::auth::Verifier;
use crate::budget::{Budgets, Kind};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::protocol::CLOSE_SHUTDOWN;
use crate::room::{
    Deliver, Health, Hub, LocalConfig, LocalNames, LocalSequencer, MemoryStorage, Names,
    RedisConfig, RedisSequencer, RedisUsers, Sequencer, SqliteStorage,
};

/// The room layer a server runs on: any [`Sequencer`] and [`Names`].
#[derive(Debug, Clone)]
pub struct Backend {
    pub sequencer: Arc<dyn Sequencer>,
    pub names: Arc<dyn Names>,
    /// Where each node's per-user counts are shared (`None`: one node).
    pub users: Option<RedisUsers>,
}

/// Everything connections share.
#[derive(Debug)]
pub struct App {
    pub cfg: Config,
    /// Orders and persists room events.
    pub sequencer: Arc<dyn Sequencer>,
    /// Delivers them to this node's connections.
    pub hub: Arc<Hub>,
    /// Who holds which name.
    pub names: Arc<dyn Names>,
    pub metrics: Arc<Metrics>,
    /// Requests (frames) per user in the current dump interval.
    pub counters: Arc<KeyedCounters<String>>,
    /// Every node's last dump of [`counters`](Self::counters), with `--redis`.
    pub cluster_users: Option<RedisUsers>,
    /// A budget per request kind, per client and per address (see [`crate::budget`]).
    pub budgets: Budgets,
    /// Checks `hello` tokens; `None` with `--auth off`.
    pub verifier: Option<Verifier>,
    /// Open connections per address key (`--ipv4-prefix`, `--ipv6-prefix`).
    per_ip: Mutex<HashMap<AddrKey, u64>>,
    open: AtomicU64,
    /// Accepted TCP connections not (yet) WebSockets, per address and in all.
    pending_per_ip: Mutex<HashMap<AddrKey, u64>>,
    pending: AtomicU64,
    next_conn: AtomicU64,
    draining: AtomicBool,
    /// Cancelled when shutdown begins.
    pub shutdown: CancellationToken,
    /// Every connection task.
    pub tasks: TaskTracker,
}

/// Why a connection was refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Draining,
    TooManyConnections,
    TooManyFromIp,
}

impl Refused {
    /// Why, as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Draining => "draining",
            Refused::TooManyConnections => "too_many_connections",
            Refused::TooManyFromIp => "too_many_from_address",
        }
    }

    /// Why, for the 503's body.
    pub fn message(self) -> &'static str {
        match self {
            Refused::Draining => "shutting down",
            Refused::TooManyConnections => "too many connections",
            Refused::TooManyFromIp => "too many connections from your address",
        }
    }
}

/// A held connection slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    app: Arc<App>,
    key: AddrKey,
}

impl Slot {
    /// The address key this connection is counted under (for per-address limits).
    pub fn key(&self) -> AddrKey {
        self.key
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.app.open.fetch_sub(1, Ordering::AcqRel);
        self.app.metrics.connections.dec();
        let mut per_ip = self.app.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.key);
            }
        }
    }
}

/// An accepted TCP connection still speaking HTTP (not yet a WebSocket); dropping it
/// frees its place under the caps.
#[derive(Debug)]
pub struct PendingSlot {
    app: Arc<App>,
    key: AddrKey,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.app.pending.fetch_sub(1, Ordering::AcqRel);
        let mut per_ip = self
            .app
            .pending_per_ip
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.key);
            }
        }
    }
}

/// The local sequencer's settings from the flags.
pub fn local_config(cfg: &Config) -> LocalConfig {
    LocalConfig {
        history: cfg.history as usize,
        join_history: (cfg.join_history as usize).min(cfg.history as usize),
        max_reply_bytes: cfg.max_reply_bytes as usize,
        cache_bytes: cfg.history_cache_bytes as usize,
        max_rooms: cfg.max_rooms as usize,
        ..LocalConfig::default()
    }
}

/// The single-process backend: SQLite in `--data-dir`, or memory with `--memory`.
///
/// # Errors
///
/// The data directory cannot be locked or opened, or the thread cannot start.
pub fn local_backend(
    cfg: &Config,
    deliver: Arc<dyn Deliver>,
    metrics: Arc<Metrics>,
) -> Result<Backend, String> {
    let lc = local_config(cfg);
    let sequencer = if cfg.memory {
        LocalSequencer::start(MemoryStorage, lc, deliver, metrics)
    } else {
        let storage = SqliteStorage::open(&cfg.data_dir, cfg.sync).map_err(|e| e.0)?;
        LocalSequencer::start(storage, lc, deliver, metrics)
    }
    .map_err(|e| format!("cannot start the sequencer: {e}"))?;
    Ok(Backend {
        sequencer: Arc::new(sequencer),
        names: Arc::new(LocalNames::default()),
        users: None,
    })
}

/// The Redis backend's settings from the flags, for node `node`.
pub fn redis_config(cfg: &Config, url: &str, node: u64) -> RedisConfig {
    RedisConfig {
        history: (cfg.history as usize).max(1),
        join_history: (cfg.join_history as usize).min(cfg.history as usize),
        max_reply_bytes: cfg.max_reply_bytes as usize,
        max_rooms: cfg.max_rooms as usize,
        lease: cfg.redis_lease,
        events_len: cfg.redis_stream_len as usize,
        ..RedisConfig::new(url, node)
    }
}

/// One node of several on the Redis at `url` (`--redis`), delivering to `hub`.
///
/// # Errors
///
/// An invalid URL, or no tokio runtime.
pub fn redis_backend(
    cfg: &Config,
    url: &str,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
) -> Result<Backend, String> {
    let seq = RedisSequencer::start(redis_config(cfg, url, hub.node()), hub, metrics)?;
    Ok(Backend {
        names: Arc::new(seq.names()),
        users: Some(seq.users()),
        sequencer: Arc::new(seq),
    })
}

/// The backend the flags ask for: Redis with `--redis`, else local.
///
/// # Errors
///
/// As [`redis_backend`] or [`local_backend`].
pub fn backend(cfg: &Config, hub: Arc<Hub>, metrics: Arc<Metrics>) -> Result<Backend, String> {
    match &cfg.redis {
        Some(url) => redis_backend(cfg, url, hub, metrics),
        None => local_backend(cfg, hub, metrics),
    }
}

/// This node's id: 0 alone; with `--redis`, random (unique among the nodes), never
/// [`ConnId::SYSTEM`](crate::room::ConnId::SYSTEM)'s.
fn node_id(cfg: &Config) -> u64 {
    if cfg.redis.is_some() {
        crate::room::redis::random_u64() >> 1
    } else {
        0
    }
}

impl App {
    /// Shared state for `cfg` on an in-memory local backend (for tests and embedding).
    ///
    /// # Panics
    ///
    /// If the sequencer's thread cannot be spawned, or the `--auth` flags are invalid
    /// (see [`crate::auth::AuthConfigError`]).
    pub fn new(mut cfg: Config) -> Arc<Self> {
        cfg.memory = true;
        let c = cfg.clone();
        Self::build(cfg, move |hub, metrics| local_backend(&c, hub, metrics))
            .expect("an in-memory backend starts")
    }

    /// Shared state for `cfg` on the backend `make` builds around this node's hub.
    ///
    /// # Errors
    ///
    /// Invalid `--auth` flags or key file ([`crate::auth::AuthConfigError`], as text),
    /// and what `make` returns.
    pub fn build(
        cfg: Config,
        make: impl FnOnce(Arc<Hub>, Arc<Metrics>) -> Result<Backend, String>,
    ) -> Result<Arc<Self>, String> {
        let verifier = cfg.auth.verifier().map_err(|e| e.to_string())?;
        let metrics = Arc::new(Metrics::default());
        let hub = Arc::new(Hub::new(node_id(&cfg), metrics.clone()));
        let backend = make(hub.clone(), metrics.clone())?;
        // The flags were range-checked by clap, so the quota is valid; an embedder
        // passing nonsense gets the smallest valid quota instead of a panic.
        let max_users =
            NonZeroUsize::new(cfg.max_tracked_users as usize).unwrap_or(NonZeroUsize::MIN);
        let per_client = Kind::ALL.map(|k| cfg.budget(k));
        // Clients are connections or identities, addresses are capped: both are bounded
        // by the connection cap.
        let budget_keys =
            NonZeroUsize::new((cfg.max_connections as usize).saturating_mul(2) + 1024)
                .unwrap_or(NonZeroUsize::MIN);
        let budgets = Budgets::new(&per_client, cfg.address_budget_factor, budget_keys)?;
        let counters = Arc::new(
            KeyedCounters::builder(max_users)
                // A user silent for 6 dump intervals is dropped from the counters.
                .evict_idle_after(NonZeroUsize::new(6).expect("non-zero"))
                .build(),
        );
        Ok(Arc::new(Self {
            cfg,
            sequencer: backend.sequencer,
            hub,
            names: backend.names,
            metrics,
            counters,
            cluster_users: backend.users,
            budgets,
            verifier,
            per_ip: Mutex::default(),
            open: AtomicU64::new(0),
            pending_per_ip: Mutex::default(),
            pending: AtomicU64::new(0),
            next_conn: AtomicU64::new(1),
            draining: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }))
    }

    /// `true` once shutdown began: `/readyz` is 503 and upgrades are refused.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// `None` when ready; otherwise why not (draining, or the store failing).
    pub fn not_ready(&self) -> Option<String> {
        if self.is_draining() {
            return Some("draining".into());
        }
        match self.sequencer.health() {
            Health::Ok => None,
            Health::Failing(why) => Some(format!("history store failing: {why}")),
        }
    }

    /// Takes a connection slot for client address `ip`, or says why not. The
    /// per-address cap counts `ip`'s key: its `/32` (IPv4) or `/64` (IPv6) by default
    /// (see [`crate::addr`]).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        if self.is_draining() {
            return Err(Refused::Draining);
        }
        let key = self.cfg.net.key(ip);
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let from_ip = per_ip.get(&key).copied().unwrap_or(0);
        if from_ip >= self.cfg.max_connections_per_ip {
            return Err(Refused::TooManyFromIp);
        }
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.cfg.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::TooManyConnections);
        }
        *per_ip.entry(key).or_insert(0) += 1;
        self.metrics.connections.inc();
        Ok(Slot {
            app: self.clone(),
            key,
        })
    }

    /// Admits an accepted TCP connection before any of its HTTP is read: it counts
    /// against `--max-connections` and `--max-connections-per-ip` together with the
    /// WebSockets, so connections that never finish a request cannot exhaust the server.
    pub fn accept_tcp(self: &Arc<Self>, ip: IpAddr) -> Result<PendingSlot, Refused> {
        let key = self.cfg.net.key(ip);
        // Behind a trusted proxy every connection comes from the proxy: only the global
        // cap applies here, and the per-address cap at the upgrade, on the client's
        // address from the proxy's headers.
        let per_address = !self.cfg.net.is_trusted_proxy(ip);
        let ws_from_key = {
            let per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            per_ip.get(&key).copied().unwrap_or(0)
        };
        let mut pending = self
            .pending_per_ip
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let from_key = pending.get(&key).copied().unwrap_or(0);
        if per_address && from_key + ws_from_key >= self.cfg.max_connections_per_ip {
            return Err(Refused::TooManyFromIp);
        }
        let open = self.open.load(Ordering::Acquire);
        if self.pending.fetch_add(1, Ordering::AcqRel) + open >= self.cfg.max_connections {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::TooManyConnections);
        }
        *pending.entry(key).or_insert(0) += 1;
        Ok(PendingSlot {
            app: self.clone(),
            key,
        })
    }

    /// Whether an operator closed `room` (on any node).
    pub fn is_closed_room(&self, room: &str) -> bool {
        self.hub.is_room_closed(room)
    }

    /// A new connection id (unique for the server's life).
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Frames waiting in every outbound queue.
    pub fn queued_frames(&self) -> usize {
        self.hub.outboxes().iter().map(|o| o.len()).sum()
    }

    /// No new WebSockets from now on (503), without starting a shutdown: a fenced node.
    pub fn refuse_new_connections(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Starts the drain: readiness off, no new upgrades, every client told to go.
    pub fn begin_shutdown(&self) {
        self.draining.store(true, Ordering::Release);
        self.shutdown.cancel();
        for out in self.hub.outboxes() {
            out.close(CLOSE_SHUTDOWN);
        }
    }
}
