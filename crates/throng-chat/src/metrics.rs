//! Prometheus metrics (prometheus-client). No per-user labels: cardinality stays fixed.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

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
    /// History rows refused because the writer was too far behind.
    pub history_write_failures: Counter,
    /// History rows written to disk (sampled on scrape).
    pub history_rows_written: Gauge,
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
            "history_write_failures",
            "History rows not persisted (writer behind)",
            self.history_write_failures.clone(),
        );
        registry.register(
            "history_rows_written",
            "History rows written to disk",
            self.history_rows_written.clone(),
        );
        let mut out = String::new();
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}
