//! Command-line flags and environment variables (clap), validated when parsed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::room::SyncMode;

/// Parses a duration with units (`10s`, `500ms`, `2m`, `1h30m`, `30d`: humantime's
/// syntax) or a plain number of seconds; zero is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // A bare number is seconds.
        let n: f64 = s
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (try 10s, 500ms, 2m, 1h30m)"))?;
        if !(n.is_finite() && n < 1e9) {
            return Err(format!("`{s}` is out of range"));
        }
        Duration::from_secs_f64(n)
    } else {
        humantime::parse_duration(s)
            .map_err(|e| format!("`{s}` is not a duration ({e}; try 10s, 500ms, 2m, 1h30m)"))?
    };
    if d.is_zero() {
        return Err(format!("`{s}` must be a positive duration"));
    }
    Ok(d)
}

/// Parses an `--allowed-origin`: `*`, or `scheme://host[:port]` with no path.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "*" {
        return Ok(s.to_string());
    }
    let Some((scheme, authority)) = s.split_once("://") else {
        return Err(format!(
            "`{s}` is not an origin (like https://chat.example.com or *)"
        ));
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok || authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "`{s}` is not an origin: scheme://host[:port], no path (like https://chat.example.com)"
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// throng-chat: a real-time WebSocket chat server.
///
/// Every flag can also be set with the environment variable shown.
#[derive(Debug, Clone, Parser)]
#[command(name = "throng-chat", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "THRONG_CHAT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Largest frame a client may send, in bytes; larger gives `too_large` and close 1009.
    #[arg(long, env = "THRONG_CHAT_MAX_FRAME", default_value_t = 65_536,
          value_parser = clap::value_parser!(u64).range(64..=16_777_216))]
    pub max_frame: u64,

    /// Most WebSocket connections overall; over it, HTTP 503 before the upgrade.
    #[arg(long, env = "THRONG_CHAT_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,

    /// Most WebSocket connections from one IP address; over it, HTTP 503.
    #[arg(long, env = "THRONG_CHAT_MAX_CONNECTIONS_PER_IP", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_ip: u64,

    /// Posts per second each user may make, on average.
    #[arg(long, env = "THRONG_CHAT_POST_RATE", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub post_rate: u32,

    /// Posts a user may make in a burst above the rate.
    #[arg(long, env = "THRONG_CHAT_POST_BURST", default_value_t = 40,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub post_burst: u32,

    /// Most rooms one connection may be in at once.
    #[arg(long, env = "THRONG_CHAT_MAX_ROOMS_PER_USER", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rooms_per_user: u64,

    /// Messages of history kept in memory per room (with a data dir, older ones are read
    /// from disk).
    #[arg(long, env = "THRONG_CHAT_HISTORY", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub history: u64,

    /// Messages of history sent to a joiner in `joined`.
    #[arg(long, env = "THRONG_CHAT_JOIN_HISTORY", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub join_history: u64,

    /// Frames each connection may have waiting to be sent; over it the connection is
    /// closed with 4008 "slow consumer".
    #[arg(long, env = "THRONG_CHAT_OUTBOUND_QUEUE", default_value_t = 1_024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub outbound_queue: u64,

    /// Bytes each connection may have waiting to be sent, including what its writer
    /// holds; over it the connection is closed with 4008 "slow consumer".
    #[arg(long, env = "THRONG_CHAT_OUTBOUND_BYTES", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u64).range(65_536..=1_073_741_824))]
    pub outbound_bytes: u64,

    /// Most bytes of messages in one `history` reply or `joined` snapshot (clients page
    /// back with `before`). Must be at most half of `--outbound-bytes`.
    #[arg(long, env = "THRONG_CHAT_MAX_REPLY_BYTES", default_value_t = 262_144,
          value_parser = clap::value_parser!(u64).range(4_096..=268_435_456))]
    pub max_reply_bytes: u64,

    /// Bytes of recent messages cached in memory across all rooms; the rooms used longest
    /// ago give theirs up first (with a data dir they are read back from disk; with
    /// `--memory` the cache is the history, so this also bounds what is kept).
    #[arg(long, env = "THRONG_CHAT_HISTORY_CACHE_BYTES", default_value_t = 67_108_864,
          value_parser = clap::value_parser!(u64).range(65_536..))]
    pub history_cache_bytes: u64,

    /// How hard each history commit reaches the disk: `full` fsyncs every commit (an
    /// acknowledged message survives power loss), `normal` only at checkpoints (survives
    /// a crash of the process, not of the OS).
    #[arg(long, env = "THRONG_CHAT_SYNC", value_enum, default_value_t = SyncMode::Full)]
    pub sync: SyncMode,

    /// How often the per-user request counters are dumped (e.g. 10s, 500ms, 1m).
    #[arg(long, env = "THRONG_CHAT_DUMP_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub dump_interval: Duration,

    /// Write the dumps as JSON lines to this file instead of the log.
    #[arg(long, env = "THRONG_CHAT_DUMP_FILE")]
    pub dump_file: Option<PathBuf>,

    /// Most distinct users the request counters track; later users are counted together
    /// in an overflow bucket until idle users are evicted.
    #[arg(long, env = "THRONG_CHAT_MAX_TRACKED_USERS", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tracked_users: u64,

    /// Where the history database lives (created if missing).
    #[arg(long, env = "THRONG_CHAT_DATA_DIR", default_value = "./throng-data")]
    pub data_dir: PathBuf,

    /// Keep history in memory only (nothing written to disk; lost on restart).
    #[arg(long, env = "THRONG_CHAT_MEMORY")]
    pub memory: bool,

    /// Run as one node of several sharing this Redis (>= 7), e.g. `redis://127.0.0.1:6379`:
    /// rooms, history and names live there (`--data-dir` and `--memory` are not used).
    #[arg(long, env = "THRONG_CHAT_REDIS", value_name = "URL")]
    pub redis: Option<String>,

    /// With `--redis`: how long a node that stops renewing its lease keeps its members
    /// and names before another node reaps them.
    #[arg(long, env = "THRONG_CHAT_REDIS_LEASE", default_value = "10s", value_parser = parse_duration)]
    pub redis_lease: Duration,

    /// With `--redis`: events kept in the delivery stream, i.e. how far a node cut off
    /// from Redis may fall behind and still catch up by itself. A node that falls
    /// further closes its clients with 1013 so they reconnect and catch up from history.
    #[arg(long, env = "THRONG_CHAT_REDIS_STREAM_LEN", default_value_t = 20_000,
          value_parser = clap::value_parser!(u64).range(100..=100_000_000))]
    pub redis_stream_len: u64,

    /// Most rooms the server holds at once; joining a new room beyond it is refused.
    #[arg(long, env = "THRONG_CHAT_MAX_ROOMS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rooms: u64,

    /// Browser origins that may open a WebSocket besides the server's own (repeat the flag,
    /// or comma-separate in the variable; `*` allows any). A request with an `Origin`
    /// header from elsewhere gets HTTP 403; clients that send none (not browsers) are not
    /// affected.
    #[arg(long = "allowed-origin", env = "THRONG_CHAT_ALLOWED_ORIGINS", value_delimiter = ',',
          value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,

    /// How long shutdown waits for clients' queues to flush before closing anyway; also
    /// how long any close waits for a client that stopped reading.
    #[arg(long, env = "THRONG_CHAT_SHUTDOWN_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Delete messages older than this from durable history (e.g. `30d`); a room's
    /// newest message always stays (its `seq` continues from it). Off by default.
    #[arg(long, env = "THRONG_CHAT_HISTORY_RETENTION", value_parser = parse_duration)]
    pub history_retention: Option<Duration>,

    /// Keep at most this many messages per room in durable history (the newest). Off
    /// by default.
    #[arg(long, env = "THRONG_CHAT_HISTORY_MAX_ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub history_max_rows: Option<u64>,

    /// How often the retention above is applied.
    #[arg(long, env = "THRONG_CHAT_RETENTION_EVERY", default_value = "1m", value_parser = parse_duration)]
    pub retention_every: Duration,

    /// Log the per-user counts as one summary line per interval (users, requests, the
    /// busiest five) instead of a line per user (without `--dump-file`).
    #[arg(long, env = "THRONG_CHAT_DUMP_SUMMARY")]
    pub dump_summary: bool,

    /// Log lines as text (coloured on a terminal only) or as JSON objects, one per line.
    #[arg(long, env = "THRONG_CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Longest a new TCP connection may take to send its request headers; then it is
    /// dropped (slowloris).
    #[arg(long, env = "THRONG_CHAT_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Longest a WebSocket may stay open without a successful `hello`.
    #[arg(long, env = "THRONG_CHAT_HELLO_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub hello_timeout: Duration,

    /// How often the server pings a connection that has sent nothing meanwhile.
    #[arg(long, env = "THRONG_CHAT_PING_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// How long after its ping a silent connection has to answer (any frame, a pong
    /// included) before it is closed as dead (4000).
    #[arg(long, env = "THRONG_CHAT_PONG_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub pong_timeout: Duration,

    /// Longest a connection may go without a request (any JSON frame; `ping` counts,
    /// WebSocket pongs do not) before it is closed (4000). The web client pings every
    /// 25 s.
    #[arg(long, env = "THRONG_CHAT_IDLE_TIMEOUT", default_value = "1h", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// A request budget other than the default, `KIND=RATE/BURST` (per second; kinds:
    /// post, member, create, history, ping, control, bytes; see the README). Repeatable.
    #[arg(long = "budget", env = "THRONG_CHAT_BUDGETS", value_delimiter = ',',
          value_parser = crate::budget::parse_budget)]
    pub budgets: Vec<crate::budget::BudgetArg>,

    /// An address's budget for each kind, as a multiple of one client's: the clients
    /// behind one address (or IPv6 /64) share this much.
    #[arg(long, env = "THRONG_CHAT_ADDRESS_BUDGET_FACTOR", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub address_budget_factor: u32,

    /// Serve a public room directory at `GET /rooms` on `--listen`: each room with members
    /// and how many (the web client then lists them). Off by default: room names can be
    /// private, and the admin listener's `/api/rooms` is the operators' view.
    #[arg(long, env = "THRONG_CHAT_ROOM_DIRECTORY")]
    pub room_directory: bool,

    /// Where the admin surface listens (metrics, JSON APIs, operators' actions): never
    /// on `--listen`. Keep it on loopback, or set `--admin-token-file`.
    #[arg(
        long,
        env = "THRONG_CHAT_ADMIN_LISTEN",
        default_value = "127.0.0.1:9090"
    )]
    pub admin_listen: SocketAddr,

    /// A file holding the admin bearer token (at least 16 bytes; surrounding whitespace
    /// is not part of it): every admin request then needs `Authorization: Bearer …`.
    /// Required when `--admin-listen` is not a loopback address.
    #[arg(long, env = "THRONG_CHAT_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Identity: `--auth`, and its key (see [`crate::auth`]).
    #[command(flatten)]
    pub auth: crate::auth::AuthArgs,

    /// Client addresses, trusted proxies and own host names (see [`crate::addr`]).
    #[command(flatten)]
    pub net: crate::addr::AddrArgs,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Checks what clap cannot check flag by flag.
    ///
    /// # Errors
    ///
    /// Which flags disagree, and how.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_reply_bytes.saturating_mul(2) > self.outbound_bytes {
            return Err(format!(
                "--max-reply-bytes ({}) must be at most half of --outbound-bytes ({}), or a full history reply would close its own client as a slow consumer",
                self.max_reply_bytes, self.outbound_bytes
            ));
        }
        if !self.admin_listen.ip().is_loopback() && self.admin_token_file.is_none() {
            return Err(format!(
                "--admin-listen {} is not a loopback address: set --admin-token-file too, or anyone who reaches it can read metrics and disconnect users",
                self.admin_listen
            ));
        }
        let bytes_burst = self.budget(crate::budget::Kind::Bytes).1;
        if u64::from(bytes_burst) < self.max_frame.saturating_mul(2) {
            return Err(format!(
                "the bytes budget's burst ({bytes_burst}) must be at least twice --max-frame ({}), or a large frame could never pass",
                self.max_frame
            ));
        }
        if self.max_frame.saturating_mul(2) > self.outbound_bytes {
            return Err(format!(
                "--max-frame ({}) must be at most half of --outbound-bytes ({})",
                self.max_frame, self.outbound_bytes
            ));
        }
        Ok(())
    }

    /// The admin bearer token from `--admin-token-file`, if set.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or holds fewer than 16 bytes.
    pub fn admin_token(&self) -> Result<Option<String>, String> {
        let Some(path) = &self.admin_token_file else {
            return Ok(None);
        };
        let raw = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --admin-token-file {}: {e}", path.display()))?;
        let token = raw.trim();
        if token.len() < 16 {
            return Err(format!(
                "--admin-token-file {}: the token must be at least 16 bytes",
                path.display()
            ));
        }
        Ok(Some(token.to_string()))
    }

    /// A client's (rate per second, burst) for `kind`: `--budget`, else for posts
    /// `--post-rate`/`--post-burst`, else the default.
    pub fn budget(&self, kind: crate::budget::Kind) -> (u32, u32) {
        if let Some(b) = self.budgets.iter().rev().find(|b| b.kind == kind) {
            return (b.rate, b.burst);
        }
        if kind == crate::budget::Kind::Post {
            return (self.post_rate, self.post_burst);
        }
        kind.default_budget()
    }

    /// The defaults, listening on `addr` (for tests and embedding).
    /// In-memory history (no data dir), so tests and embedders write nothing unless asked.
    pub fn with_listen(addr: SocketAddr) -> Self {
        let mut c = Config::parse_from(["throng-chat", "--memory"]);
        c.listen = addr;
        c.admin_listen = SocketAddr::new(addr.ip(), 0);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_zero() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::parse_from(["throng-chat"]);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!((c.max_frame, c.post_rate, c.post_burst), (65_536, 20, 40));
        assert_eq!(c.dump_interval, Duration::from_secs(10));
    }

    #[test]
    fn origins_are_validated() {
        assert_eq!(
            parse_origin("https://Chat.Example.com"),
            Ok("https://chat.example.com".into())
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8080"),
            Ok("http://127.0.0.1:8080".into())
        );
        assert_eq!(parse_origin("*"), Ok("*".into()));
        assert!(parse_origin("chat.example.com").is_err());
        assert!(parse_origin("https://chat.example.com/app").is_err());
        assert!(parse_origin("https://").is_err());
        let c = Config::parse_from([
            "throng-chat",
            "--allowed-origin",
            "https://a.example",
            "--allowed-origin",
            "https://b.example",
        ]);
        assert_eq!(
            c.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn zero_limits_are_refused_at_parse_time() {
        assert!(Config::try_parse_from(["throng-chat", "--post-rate", "0"]).is_err());
        assert!(Config::try_parse_from(["throng-chat", "--max-connections", "0"]).is_err());
        assert!(Config::try_parse_from(["throng-chat", "--dump-interval", "0s"]).is_err());
    }

    #[test]
    fn byte_bounds_that_disagree_are_refused() {
        assert_eq!(Config::parse_from(["throng-chat"]).validate(), Ok(()));
        let c = Config::parse_from([
            "throng-chat",
            "--outbound-bytes",
            "100000",
            "--max-reply-bytes",
            "60000",
        ]);
        assert!(c.validate().unwrap_err().contains("--max-reply-bytes"));
    }
}
