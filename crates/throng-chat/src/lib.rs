//! throng-chat: a real-time WebSocket chat server built on throng's patterns.
//!
//! - [`room`]: sequencing split from delivery: the [`room::Sequencer`] seam (its rules,
//!   the local SQLite/memory implementation), the node-local [`room::Hub`], the
//!   [`room::Names`] registry, protocol-neutral events.
//! - [`outbox`]: each connection's queue, bounded in frames and bytes, and the
//!   slow-consumer rule (close 4008).
//! - [`conn`]: one connection's reader and batching writer; [`handlers`]: one per
//!   request type.
//! - [`protocol`]: every wire frame and close code.
//! - [`web`]: the browser client (`static/`), embedded and served at `GET /`.
//! - [`http`]: `/`, `/ws`, `/healthz`, `/readyz` (the public listener).
//! - [`admin`]: `/metrics`, `/api/*` and operators' actions (the admin listener).
//! - [`serve`]: the accept loop: caps before HTTP, header-read timeout, keepalive,
//!   accept back-off.
//! - [`app`]: shared state, connection limits, shutdown.
//! - [`auth`]: `--auth off|token`, JWT verification; [`addr`]: client addresses behind
//!   trusted proxies, the per-address key, the own-host rule of the Origin check.
//! - The per-user request counters are throng's [`throng::keyed::KeyedCounters`],
//!   dumped by throng's [`throng::dump::Dumper`].
//!
//! The protocol is in `PROTOCOL.md`.

pub mod addr;
pub mod admin;
pub mod app;
pub mod auth;
pub mod budget;
pub mod config;
pub mod conn;
pub mod dumpsink;
pub mod handlers;
pub mod http;
pub mod metrics;
pub mod outbox;
pub mod protocol;
pub mod room;
pub mod serve;
pub mod web;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use throng::dump::{DumpReport, Dumper, JsonLinesFileSink};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use app::{App, Backend};
pub use config::Config;

use dumpsink::ChatSink;

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The admin listener's address ([`admin`]).
    pub admin_addr: SocketAddr,
    /// Shared state (metrics, rooms, counters).
    pub app: Arc<App>,
    task: JoinHandle<Result<Summary, String>>,
}

/// What shutdown did.
#[derive(Debug)]
pub struct Summary {
    /// The dumper's report, including the final flush.
    pub dump: DumpReport<ChatSink>,
    /// The history store's counters after the last commit (`None` with `--memory`).
    pub history: Option<HistoryReport>,
}

/// What the history store did over the server's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryReport {
    /// Transactions committed.
    pub commits: u64,
    /// Messages committed.
    pub rows_written: u64,
    /// Messages refused because their commit failed.
    pub rows_failed: u64,
}

impl Server {
    /// Binds `cfg.listen` and starts serving on the backend the flags choose: Redis with
    /// `--redis`, else local (SQLite in `--data-dir`, or memory with `--memory`).
    ///
    /// # Errors
    ///
    /// Invalid configuration, the data directory locked by another server or unusable,
    /// or the bind error (address in use, permission).
    pub async fn start(cfg: Config) -> std::io::Result<Self> {
        let flags = cfg.clone();
        Self::start_with(cfg, move |hub, metrics| app::backend(&flags, hub, metrics)).await
    }

    /// As [`start`](Self::start), on the backend `make` builds around this node's hub
    /// (any [`room::Sequencer`] and [`room::Names`]).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), and what `make` returns.
    pub async fn start_with(
        cfg: Config,
        make: impl FnOnce(Arc<room::Hub>, Arc<metrics::Metrics>) -> Result<Backend, String>,
    ) -> std::io::Result<Self> {
        cfg.validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let admin_token = cfg
            .admin_token()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let admin_listener = TcpListener::bind(cfg.admin_listen).await?;
        let admin_addr = admin_listener.local_addr()?;
        let durable = !cfg.memory && cfg.redis.is_none();
        let app = App::build(cfg, |hub, metrics| make(hub as Arc<room::Hub>, metrics))
            .map_err(std::io::Error::other)?;
        let dump_token = tokio_util::sync::CancellationToken::new();
        let sink = ChatSink::new(
            app.cfg.dump_file.as_ref().map(JsonLinesFileSink::new),
            app.metrics.clone(),
            app.cfg.dump_summary,
        )
        .share(
            app.cluster_users.clone(),
            app.cfg.dump_interval + app.cfg.redis_lease,
        );
        let dumper = Dumper::new(app.counters.clone(), app.cfg.dump_interval)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?
            .skip_empty(true)
            .spawn(dump_token.clone(), sink)
            .map_err(std::io::Error::other)?;
        let router = http::router(app.clone());
        // The HTTP listener outlives the drain, so `/readyz` answers 503 (and `/ws` 503)
        // while clients are being closed; it stops once they are gone.
        let http_stop = tokio_util::sync::CancellationToken::new();
        let http = tokio::spawn(serve::serve(
            listener,
            router,
            app.clone(),
            http_stop.clone(),
        ));
        let admin_router = admin::router(app.clone(), admin_token.map(Arc::from));
        let admin_serve = axum::serve(admin_listener, admin_router)
            .with_graceful_shutdown(http_stop.clone().cancelled_owned());
        let admin = tokio::spawn(async move { admin_serve.await });
        let retention = retention(&app)?;
        let fence_watch = fence_watch(&app)?;
        let a = app.clone();
        let task = tokio::spawn(async move {
            a.shutdown.cancelled().await;
            // Clients were told (begin_shutdown); wait for their queues to flush and
            // their connections to close, within the grace (each writer has its own).
            a.tasks.close();
            let _ = tokio::time::timeout(a.cfg.shutdown_grace * 2, a.tasks.wait()).await;
            http_stop.cancel();
            http.await.map_err(|e| e.to_string())?;
            if let Some(mut r) = retention {
                r.cancel();
                let _ = r.join().await;
            }
            let mut fence_watch = fence_watch;
            fence_watch.cancel();
            let _ = fence_watch.join().await;
            let _ = tokio::time::timeout(a.cfg.shutdown_grace, admin).await;
            // Every connection is gone: no more posts. The sequencer finishes what it
            // accepted and stops.
            a.sequencer.shutdown().await;
            let history = durable.then(|| HistoryReport {
                commits: a.metrics.commits.get(),
                rows_written: a.metrics.rows_written.get(),
                rows_failed: a.metrics.rows_failed.get(),
            });
            dump_token.cancel();
            let dump = dumper.join().await.map_err(|e| e.to_string())?;
            Ok(Summary { dump, history })
        });
        Ok(Self {
            addr,
            admin_addr,
            app,
            task,
        })
    }

    /// Begins a graceful shutdown and waits for it: readiness off, new upgrades refused,
    /// `bye` and close 1001 to every client after its queue flushes, the final dump.
    ///
    /// # Errors
    ///
    /// A server or dumper failure, as text.
    pub async fn shutdown(self) -> Result<Summary, String> {
        self.app.begin_shutdown();
        self.task.await.map_err(|e| e.to_string())?
    }
}

/// The history retention task (`--history-retention`, `--history-max-rows`), every
/// `--retention-every`, if either is set and history is durable.
fn retention(app: &Arc<App>) -> std::io::Result<Option<throng::periodic::PeriodicHandle>> {
    let (older, keep) = (app.cfg.history_retention, app.cfg.history_max_rows);
    if app.cfg.memory || (older.is_none() && keep.is_none()) {
        return Ok(None);
    }
    let app = app.clone();
    let handle = throng::periodic::Periodic::new(app.cfg.retention_every)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?
        .spawn(tokio_util::sync::CancellationToken::new(), move |_| {
            let app = app.clone();
            async move {
                let before = older.map(|d| room::now_ms().saturating_sub(d.as_millis() as u64));
                if let Err(e) = handlers::bounded(app.sequencer.prune(before, keep)).await {
                    tracing::warn!(error = %e, "history retention could not run; will retry");
                }
            }
        })
        .map_err(std::io::Error::other)?;
    Ok(Some(handle))
}

/// Every second: once the sequencer is fenced (it lost its lease on a shared store), new
/// upgrades are refused and every client is closed with 1013 "try again later", so it
/// reconnects (to another node) and catches up from history.
fn fence_watch(app: &Arc<App>) -> std::io::Result<throng::periodic::PeriodicHandle> {
    let app = app.clone();
    let mut done = false;
    throng::periodic::Periodic::new(std::time::Duration::from_secs(1))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?
        .spawn(tokio_util::sync::CancellationToken::new(), move |_| {
            if !done && app.sequencer.fenced() {
                done = true;
                app.refuse_new_connections();
                let n = app.hub.close_all(protocol::CLOSE_TRY_AGAIN);
                tracing::error!(
                    clients = n,
                    "this node is fenced: closed every client with 1013 so it reconnects elsewhere"
                );
            }
            std::future::ready(())
        })
        .map_err(std::io::Error::other)
}
