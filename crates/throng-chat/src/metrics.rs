//! Prometheus metrics (prometheus-client). No per-user labels: cardinality stays fixed.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

fn commit_buckets() -> Histogram {
    Histogram::new([
        0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
    ])
}

/// The store's commit-duration histogram (seconds).
#[derive(Debug, Clone)]
pub struct CommitSeconds(pub Histogram);

impl Default for CommitSeconds {
    fn default() -> Self {
        Self(commit_buckets())
    }
}

impl CommitSeconds {
    pub fn observe(&self, secs: f64) {
        self.0.observe(secs);
    }
}

/// Every metric the server exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Connections refused before the upgrade (limits, draining).
    pub connections_refused: Counter,
    /// Rooms that exist.
    pub rooms: Gauge,
    /// Frames received from clients.
    pub frames_in: Counter,
    /// Bytes received from clients.
    pub bytes_in: Counter,
    /// Frames queued to clients.
    pub frames_out: Counter,
    /// Bytes queued to clients.
    pub bytes_out: Counter,
    /// Chat messages accepted (posts sequenced into a room).
    pub messages: Counter,
    /// Connections closed for not reading fast enough (4008).
    pub slow_closes: Counter,
    /// Posts refused by the per-user rate limit.
    pub rate_limited: Counter,
    /// Error frames sent.
    pub errors: Counter,
    /// Frames waiting in outbound queues, summed (sampled on scrape).
    pub outbound_queued: Gauge,
    /// Per-user counter dumps written.
    pub dump_runs: Counter,
    /// History transactions committed.
    pub commits: Counter,
    /// History transactions that failed (disk full, I/O error); their posts were refused.
    pub commit_failures: Counter,
    /// Messages committed to history.
    pub rows_written: Counter,
    /// Messages refused because their commit failed.
    pub rows_failed: Counter,
    /// How long each commit took.
    pub commit_seconds: CommitSeconds,
    /// 1 while the history store accepts writes, 0 while it fails.
    pub store_healthy: Gauge,
    /// Room events that reached the hub out of order (should stay 0).
    pub delivery_gaps: Counter,
    /// WebSocket control frames (ping, pong) received from clients.
    pub control_frames: Counter,
    /// Requests refused with `unavailable`.
    pub unavailable: Counter,
    /// Bytes of messages in the history cache, across rooms.
    pub cache_bytes: Gauge,
    /// Requests and frames refused for being over a budget.
    pub over_budget: Counter,
    /// Connections closed for sustained requests over budget (1008).
    pub abuse_closes: Counter,
    /// `accept` calls that failed (out of file descriptors, …).
    pub accept_errors: Counter,
    /// Connections closed for a timeout: no `hello`, no answer to a ping, or idle.
    pub timeouts: Counter,
    /// Connections closed for a WebSocket protocol error (1002) or invalid UTF-8 (1007).
    pub protocol_errors: Counter,
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut registry = Registry::with_prefix("throng_chat");
        registry.register(
            "connections",
            "Open WebSocket connections",
            self.connections.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections refused before the upgrade",
            self.connections_refused.clone(),
        );
        registry.register("rooms", "Rooms that exist", self.rooms.clone());
        registry.register(
            "frames_in",
            "Frames received from clients",
            self.frames_in.clone(),
        );
        registry.register(
            "bytes_in",
            "Bytes received from clients",
            self.bytes_in.clone(),
        );
        registry.register(
            "frames_out",
            "Frames queued to clients",
            self.frames_out.clone(),
        );
        registry.register(
            "bytes_out",
            "Bytes queued to clients",
            self.bytes_out.clone(),
        );
        registry.register(
            "messages",
            "Chat messages sequenced into rooms",
            self.messages.clone(),
        );
        registry.register(
            "slow_consumer_closes",
            "Connections closed with 4008 for not reading fast enough",
            self.slow_closes.clone(),
        );
        registry.register(
            "rate_limited_posts",
            "Posts refused by the per-user rate limit",
            self.rate_limited.clone(),
        );
        registry.register("errors", "Error frames sent", self.errors.clone());
        registry.register(
            "outbound_queued_frames",
            "Frames waiting in outbound queues",
            self.outbound_queued.clone(),
        );
        registry.register(
            "dump_runs",
            "Per-user counter dumps written",
            self.dump_runs.clone(),
        );
        registry.register(
            "history_commits",
            "History transactions committed",
            self.commits.clone(),
        );
        registry.register(
            "history_commit_failures",
            "History transactions that failed; their posts were refused",
            self.commit_failures.clone(),
        );
        registry.register(
            "history_rows_written",
            "Messages committed to history",
            self.rows_written.clone(),
        );
        registry.register(
            "history_rows_failed",
            "Messages refused because their commit failed",
            self.rows_failed.clone(),
        );
        registry.register_with_unit(
            "history_commit_duration",
            "How long each history commit took",
            prometheus_client::registry::Unit::Seconds,
            self.commit_seconds.0.clone(),
        );
        registry.register(
            "history_store_healthy",
            "1 while the history store accepts writes",
            self.store_healthy.clone(),
        );
        registry.register(
            "delivery_gaps",
            "Room events that reached the hub out of order",
            self.delivery_gaps.clone(),
        );
        registry.register(
            "control_frames",
            "WebSocket control frames received from clients",
            self.control_frames.clone(),
        );
        registry.register_with_unit(
            "history_cache",
            "Messages cached in memory across rooms",
            prometheus_client::registry::Unit::Bytes,
            self.cache_bytes.clone(),
        );
        registry.register(
            "unavailable",
            "Requests refused with unavailable",
            self.unavailable.clone(),
        );
        registry.register(
            "over_budget",
            "Requests and frames refused for being over a budget",
            self.over_budget.clone(),
        );
        registry.register(
            "abuse_closes",
            "Connections closed for sustained requests over budget",
            self.abuse_closes.clone(),
        );
        registry.register(
            "accept_errors",
            "accept calls that failed (out of file descriptors, ...)",
            self.accept_errors.clone(),
        );
        registry.register(
            "timeouts",
            "Connections closed for a timeout (no hello, no pong, idle)",
            self.timeouts.clone(),
        );
        registry.register(
            "protocol_errors",
            "Connections closed for a WebSocket protocol error or invalid UTF-8",
            self.protocol_errors.clone(),
        );
        let mut out = String::new();
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}
