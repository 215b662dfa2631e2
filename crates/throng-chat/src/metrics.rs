//! Prometheus metrics (prometheus-client), registered once when the server starts and
//! encoded on each scrape. Names follow Prometheus' conventions: the `throng_chat_`
//! prefix, `_total` on counters, units in the name (`_seconds`, `_bytes`). Labels come
//! from fixed sets only (error codes, refusal reasons, close codes), never from users or
//! rooms, so the number of series stays fixed.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Buckets for durations from a fraction of a millisecond to seconds.
const SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Buckets for rows per commit.
const ROWS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

fn seconds() -> Histogram {
    Histogram::new(SECONDS)
}

/// `code="…"`: an error frame's code or a close code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: &'static str,
}

/// `reason="…"`: why a connection was refused.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// `version="…"`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    rustc: &'static str,
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Connections refused before the upgrade, by reason (`draining`,
    /// `too_many_connections`, `too_many_from_address`, `origin`).
    pub connections_refused: Family<ReasonLabel, Counter>,
    /// Connections closed, by close code.
    pub closes: Family<CodeLabel, Counter>,
    /// Rooms that exist.
    pub rooms: Gauge,
    /// Frames received from clients.
    pub frames_in: Counter,
    /// Bytes received from clients.
    pub bytes_in: Counter,
    /// Frames queued to clients.
    pub frames_out: Counter,
    /// Bytes queued to clients (WebSocket frames as on the wire, headers included).
    pub bytes_out: Counter,
    /// Chat messages accepted (posts sequenced into a room).
    pub messages: Counter,
    /// Connections closed for not reading fast enough (4008).
    pub slow_closes: Counter,
    /// Posts refused by the per-user rate limit.
    pub rate_limited: Counter,
    /// Error frames sent, by code.
    pub errors: Family<CodeLabel, Counter>,
    /// Frames waiting in outbound queues, summed (sampled on scrape).
    pub outbound_queued: Gauge,
    /// How long frames waited between being queued and reaching the socket (the oldest
    /// frame of each write).
    pub outbound_wait: Histogram,
    /// From a post's arrival to its `ack` being queued (sequencing and durability
    /// included).
    pub post_ack: Histogram,
    /// Per-user counter dumps written.
    pub dump_runs: Counter,
    /// Dumps that could not be shared with the other nodes (`--redis`).
    pub dump_share_failures: Counter,
    /// History transactions committed.
    pub commits: Counter,
    /// History transactions that failed (disk full, I/O error); their posts were refused.
    pub commit_failures: Counter,
    /// Messages committed to history.
    pub rows_written: Counter,
    /// Messages refused because their commit failed.
    pub rows_failed: Counter,
    /// How long each commit took.
    pub commit_seconds: Histogram,
    /// Messages per commit (group commit's batch size).
    pub commit_rows: Histogram,
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
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered once.
    pub fn new() -> Self {
        let mut m = Self {
            connections: Gauge::default(),
            connections_refused: Family::default(),
            closes: Family::default(),
            rooms: Gauge::default(),
            frames_in: Counter::default(),
            bytes_in: Counter::default(),
            frames_out: Counter::default(),
            bytes_out: Counter::default(),
            messages: Counter::default(),
            slow_closes: Counter::default(),
            rate_limited: Counter::default(),
            errors: Family::default(),
            outbound_queued: Gauge::default(),
            outbound_wait: seconds(),
            post_ack: seconds(),
            dump_runs: Counter::default(),
            dump_share_failures: Counter::default(),
            commits: Counter::default(),
            commit_failures: Counter::default(),
            rows_written: Counter::default(),
            rows_failed: Counter::default(),
            commit_seconds: seconds(),
            commit_rows: Histogram::new(ROWS),
            store_healthy: Gauge::default(),
            delivery_gaps: Counter::default(),
            control_frames: Counter::default(),
            unavailable: Counter::default(),
            cache_bytes: Gauge::default(),
            over_budget: Counter::default(),
            abuse_closes: Counter::default(),
            accept_errors: Counter::default(),
            timeouts: Counter::default(),
            protocol_errors: Counter::default(),
            registry: Registry::with_prefix("throng_chat"),
        };
        m.register();
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                rustc: option_env!("RUSTC_VERSION").unwrap_or("unknown"),
            })
            .set(1);
        r.register("build_info", "Build information (always 1)", build);
        r.register(
            "connections",
            "Open WebSocket connections",
            self.connections.clone(),
        );
        r.register(
            "connections_refused",
            "Connections refused before the upgrade, by reason",
            self.connections_refused.clone(),
        );
        r.register(
            "closes",
            "Connections closed, by close code",
            self.closes.clone(),
        );
        r.register("rooms", "Rooms that exist", self.rooms.clone());
        r.register(
            "frames_in",
            "Frames received from clients",
            self.frames_in.clone(),
        );
        r.register_with_unit(
            "received",
            "Bytes received from clients",
            Unit::Bytes,
            self.bytes_in.clone(),
        );
        r.register(
            "frames_out",
            "Frames queued to clients",
            self.frames_out.clone(),
        );
        r.register_with_unit(
            "sent",
            "Bytes queued to clients (WebSocket frames, headers included)",
            Unit::Bytes,
            self.bytes_out.clone(),
        );
        r.register(
            "messages",
            "Chat messages sequenced into rooms",
            self.messages.clone(),
        );
        r.register(
            "slow_consumer_closes",
            "Connections closed with 4008 for not reading fast enough",
            self.slow_closes.clone(),
        );
        r.register(
            "rate_limited_posts",
            "Posts refused by the per-user rate limit",
            self.rate_limited.clone(),
        );
        r.register("errors", "Error frames sent, by code", self.errors.clone());
        r.register(
            "outbound_queued_frames",
            "Frames waiting in outbound queues",
            self.outbound_queued.clone(),
        );
        r.register_with_unit(
            "outbound_wait",
            "How long frames waited between being queued and reaching the socket",
            Unit::Seconds,
            self.outbound_wait.clone(),
        );
        r.register_with_unit(
            "post_ack",
            "From a post's arrival to its ack (sequencing and durability included)",
            Unit::Seconds,
            self.post_ack.clone(),
        );
        r.register(
            "dump_runs",
            "Per-user counter dumps written",
            self.dump_runs.clone(),
        );
        r.register(
            "dump_share_failures",
            "Per-user counter dumps that could not be shared with the other nodes",
            self.dump_share_failures.clone(),
        );
        r.register(
            "history_commits",
            "History transactions committed",
            self.commits.clone(),
        );
        r.register(
            "history_commit_failures",
            "History transactions that failed; their posts were refused",
            self.commit_failures.clone(),
        );
        r.register(
            "history_rows_written",
            "Messages committed to history",
            self.rows_written.clone(),
        );
        r.register(
            "history_rows_failed",
            "Messages refused because their commit failed",
            self.rows_failed.clone(),
        );
        r.register_with_unit(
            "history_commit_duration",
            "How long each history commit took",
            Unit::Seconds,
            self.commit_seconds.clone(),
        );
        r.register(
            "history_commit_rows",
            "Messages per history commit (group commit's batch)",
            self.commit_rows.clone(),
        );
        r.register(
            "history_store_healthy",
            "1 while the history store accepts writes",
            self.store_healthy.clone(),
        );
        r.register(
            "delivery_gaps",
            "Room events that reached the hub out of order",
            self.delivery_gaps.clone(),
        );
        r.register(
            "control_frames",
            "WebSocket control frames received from clients",
            self.control_frames.clone(),
        );
        r.register_with_unit(
            "history_cache",
            "Messages cached in memory across rooms",
            Unit::Bytes,
            self.cache_bytes.clone(),
        );
        r.register(
            "unavailable",
            "Requests refused with unavailable",
            self.unavailable.clone(),
        );
        r.register(
            "over_budget",
            "Requests and frames refused for being over a budget",
            self.over_budget.clone(),
        );
        r.register(
            "abuse_closes",
            "Connections closed for sustained requests over budget",
            self.abuse_closes.clone(),
        );
        r.register(
            "accept_errors",
            "accept calls that failed (out of file descriptors, ...)",
            self.accept_errors.clone(),
        );
        r.register(
            "timeouts",
            "Connections closed for a timeout (no hello, no pong, idle)",
            self.timeouts.clone(),
        );
        r.register(
            "protocol_errors",
            "Connections closed for a WebSocket protocol error or invalid UTF-8",
            self.protocol_errors.clone(),
        );
    }

    /// Counts an error frame with `code`.
    pub fn error(&self, code: &'static str) {
        self.errors.get_or_create(&CodeLabel { code }).inc();
    }

    /// Counts a connection refused for `reason`.
    pub fn refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts a close with `code`.
    pub fn closed(&self, code: u16) {
        let code = match code {
            1000 => "1000",
            1001 => "1001",
            1002 => "1002",
            1007 => "1007",
            1008 => "1008",
            1009 => "1009",
            1013 => "1013",
            4000 => "4000",
            4001 => "4001",
            4003 => "4003",
            4008 => "4008",
            _ => "other",
        };
        self.closes.get_or_create(&CodeLabel { code }).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
