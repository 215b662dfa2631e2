//! One simulated user: connect, `hello`, `join` one room, then read every frame (timing
//! each `message` against the send stamp in its text, and each `ack` against the same
//! stamp in its `id`) and, for posters, post on a fixed schedule until the run ends.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::stats::{ConnStats, Events, Latency};

/// Longest a connect, `hello` or `join` may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the run is; every connection watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connections are being opened; nobody posts.
    Connecting,
    /// Posters post, their first post at `start` plus their offset.
    Posting { start: Instant },
    /// Posting stopped; in-flight messages still arrive.
    Draining,
    /// Close and exit.
    Done,
}

/// State every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// The clock origin of the `t=` stamps (one process, so one monotonic base).
    pub base: Instant,
    /// Stamps in `[window_start, window_end)` (ns since `base`) are counted and timed.
    pub window_start: AtomicU64,
    pub window_end: AtomicU64,
    /// Post -> delivery (`message` frame), every member.
    pub latency: Latency,
    /// Post -> `ack`, the poster only.
    pub ack_latency: Latency,
    pub events: Events,
}

impl Shared {
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            window_start: AtomicU64::new(u64::MAX),
            window_end: AtomicU64::new(u64::MAX),
            latency: Latency::default(),
            ack_latency: Latency::default(),
            events: Events::default(),
        }
    }

    /// Nanoseconds since `base`.
    pub fn now_ns(&self) -> u64 {
        self.ns(Instant::now())
    }

    fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    fn in_window(&self, stamp: u64) -> bool {
        stamp >= self.window_start.load(Relaxed) && stamp < self.window_end.load(Relaxed)
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}

/// How one connection behaves.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Index among all connections (picks the histogram shard).
    pub index: usize,
    pub name: String,
    pub room: String,
    /// For a poster: its period and its first post's offset from the posting start.
    pub post: Option<(Duration, Duration)>,
    /// Bytes of padding after the stamp in each post's text.
    pub pad: usize,
    /// Local address to bind before connecting (`None`: the kernel picks).
    pub source: Option<IpAddr>,
}

/// Per-connection counters plus whether the connection is currently joined.
#[derive(Debug, Default)]
pub struct Conn {
    pub stats: ConnStats,
    pub held: AtomicBool,
}

type Ws = WebSocketStream<TcpStream>;

/// Runs one connection until the phase is `Done` or the server closes it.
pub async fn run(
    spec: Spec,
    addr: SocketAddr,
    url: Arc<str>,
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    mut phase: watch::Receiver<Phase>,
) {
    let mut ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, open(&spec, addr, &url)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(why)) => return shared.events.connect_failed(why),
        Err(_) => return shared.events.connect_failed("handshake timed out".into()),
    };
    conn.held.store(true, Relaxed);
    let text_pad = "x".repeat(spec.pad);
    let mut ticker: Option<Interval> = None;
    let mut next_id = 0u64;
    // A phase already past `Connecting` (a slow connect) is acted on at once.
    let mut act_on_phase = *phase.borrow_and_update() != Phase::Connecting;
    loop {
        if act_on_phase {
            act_on_phase = false;
            let now = *phase.borrow_and_update();
            match now {
                Phase::Connecting => {}
                Phase::Posting { start } => {
                    if let Some((period, offset)) = spec.post {
                        let first = tokio::time::Instant::from_std(start + offset);
                        let mut iv = tokio::time::interval_at(first, period);
                        // Burst: posts that fell due while this task was late are still
                        // sent, so the offered rate holds (open loop) and the lateness
                        // shows up in the latency of those posts (they carry their
                        // scheduled time), instead of silently lowering the load.
                        iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
                        ticker = Some(iv);
                    }
                }
                Phase::Draining => ticker = None,
                Phase::Done => {
                    let close = CloseFrame {
                        code: CloseCode::Normal,
                        reason: "done".into(),
                    };
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), ws.close(Some(close))).await;
                    break;
                }
            }
        }
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    break; // the run is gone
                }
                act_on_phase = true;
            }
            scheduled = tick(&mut ticker), if ticker.is_some() => {
                let stamp = shared.ns(scheduled.into_std());
                next_id += 1;
                // The id carries the stamp too, so the ack can be timed without a table
                // of posts in flight; the counter keeps ids unique.
                let frame = format!(
                    r#"{{"type":"post","room":"{}","text":"t={stamp} {text_pad}","id":"t{stamp}-{next_id}"}}"#,
                    spec.room
                );
                if ws.send(Message::text(frame)).await.is_err() {
                    lost(&shared, &phase, 0);
                    break;
                }
                conn.stats.sent.fetch_add(1, Relaxed);
                if shared.in_window(stamp) {
                    conn.stats.sent_window.fetch_add(1, Relaxed);
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => on_text(&spec, &shared, &conn.stats, t.as_str()),
                Some(Ok(Message::Close(f))) => {
                    lost(&shared, &phase, f.map_or(0, |f| u16::from(f.code)));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    lost(&shared, &phase, 0);
                    break;
                }
            },
        }
    }
    conn.held.store(false, Relaxed);
}

async fn tick(ticker: &mut Option<Interval>) -> tokio::time::Instant {
    match ticker {
        Some(iv) => iv.tick().await,
        None => std::future::pending().await,
    }
}

/// Counts a close that the run did not ask for.
fn lost(shared: &Shared, phase: &watch::Receiver<Phase>, code: u16) {
    if *phase.borrow() != Phase::Done {
        shared.events.closed(code);
    }
}

/// Connects, says hello and joins; any refusal is an error with the server's words.
async fn open(spec: &Spec, addr: SocketAddr, url: &str) -> Result<Ws, String> {
    let tcp = match spec.source {
        Some(ip) => {
            let sock = if ip.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(|e| format!("socket: {e}"))?;
            sock.bind(SocketAddr::new(ip, 0))
                .map_err(|e| format!("bind {ip}: {e}"))?;
            sock.connect(addr).await
        }
        None => TcpStream::connect(addr).await,
    }
    .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    // Small buffers: tungstenite's default 128 KiB read buffer times 10,000 connections
    // would be more than a gigabyte in the generator alone.
    let cfg = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(cfg))
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    send(
        &mut ws,
        format!(r#"{{"type":"hello","name":"{}"}}"#, spec.name),
    )
    .await?;
    expect(&mut ws, "welcome").await?;
    send(
        &mut ws,
        format!(r#"{{"type":"join","room":"{}"}}"#, spec.room),
    )
    .await?;
    expect(&mut ws, "joined").await?;
    Ok(ws)
}

async fn send(ws: &mut Ws, frame: String) -> Result<(), String> {
    ws.send(Message::text(frame))
        .await
        .map_err(|e| format!("send: {e}"))
}

/// Reads until a frame of type `kind`, skipping presence and other events; an `error`
/// or a close first is a failure.
async fn expect(ws: &mut Ws, kind: &str) -> Result<(), String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value =
                    serde_json::from_str(t.as_str()).map_err(|e| format!("bad JSON: {e}"))?;
                match v["type"].as_str() {
                    Some(k) if k == kind => return Ok(()),
                    Some("error") => return Err(format!("error before {kind}: {v}")),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(f))) => return Err(format!("closed before {kind}: {f:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err(format!("closed before {kind}")),
        }
    }
}

/// The opening of a `message` frame as both servers write it (fields in protocol order).
const MESSAGE_PREFIX: &str = r#"{"type":"message""#;
/// Where the send stamp starts inside a generator post's `message` frame.
const STAMP_MARK: &str = r#""text":"t="#;
/// The opening of an `ack` frame as both servers write it (`type` first).
const ACK_PREFIX: &str = r#"{"type":"ack""#;
/// Where the post's id starts inside an `ack` frame.
const ID_MARK: &str = r#""id":""#;

/// Handles one text frame after the join. `message` and `ack` frames take a fast path (no
/// JSON tree: this runs once per delivery, hundreds of thousands of times a second, and
/// once per post); the rare rest is parsed properly.
fn on_text(spec: &Spec, shared: &Shared, stats: &ConnStats, text: &str) {
    if text.starts_with(MESSAGE_PREFIX) {
        if let Some(stamp) = stamp_of(text) {
            stats.delivered.fetch_add(1, Relaxed);
            if shared.in_window(stamp) {
                stats.delivered_window.fetch_add(1, Relaxed);
                let micros = shared.now_ns().saturating_sub(stamp) / 1_000;
                shared.latency.record(spec.index, micros);
            }
            return;
        }
    }
    if text.starts_with(ACK_PREFIX) {
        if let Some(id) = ack_id_of(text) {
            return on_ack(spec, shared, stats, id);
        }
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return shared.events.error("unparsable_frame");
    };
    match v["type"].as_str() {
        Some("ack") => on_ack(spec, shared, stats, v["id"].as_str().unwrap_or_default()),
        Some("error") => shared
            .events
            .error(v["code"].as_str().unwrap_or("error_without_code")),
        Some("message") => {
            // Not from this generator (or written differently): delivered, not timed.
            stats.delivered.fetch_add(1, Relaxed);
        }
        _ => {} // presence, pong, bye: nothing to count
    }
}

/// Counts an ack and, when its id is one of this generator's and inside the window,
/// times it against the stamp in the id.
fn on_ack(spec: &Spec, shared: &Shared, stats: &ConnStats, id: &str) {
    stats.acks.fetch_add(1, Relaxed);
    if let Some(stamp) = id_stamp(id) {
        if shared.in_window(stamp) {
            stats.acks_window.fetch_add(1, Relaxed);
            let micros = shared.now_ns().saturating_sub(stamp) / 1_000;
            shared.ack_latency.record(spec.index, micros);
        }
    }
}

/// The `t=<ns>` stamp in a `message` frame's text, if there is one.
pub fn stamp_of(frame: &str) -> Option<u64> {
    let at = frame.find(STAMP_MARK)? + STAMP_MARK.len();
    leading_number(&frame[at..]).map(|(n, _)| n)
}

/// The id in an `ack` frame (up to the next quote: the generator's ids have no escapes).
pub fn ack_id_of(frame: &str) -> Option<&str> {
    let at = frame.find(ID_MARK)? + ID_MARK.len();
    let rest = &frame[at..];
    rest.find('"').map(|end| &rest[..end])
}

/// The stamp in a generator post id, `t<ns>-<counter>`.
pub fn id_stamp(id: &str) -> Option<u64> {
    match leading_number(id.strip_prefix('t')?)? {
        (n, rest) if rest.starts_with('-') => Some(n),
        _ => None,
    }
}

/// The decimal number `s` starts with, and what follows it.
fn leading_number(s: &str) -> Option<(u64, &str)> {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_in_message_frames() {
        let f = r#"{"type":"message","room":"r","from":"u1","text":"t=123456 xx","seq":1,"ts":5}"#;
        assert!(f.starts_with(MESSAGE_PREFIX));
        assert_eq!(stamp_of(f), Some(123_456));
        assert_eq!(stamp_of(r#"{"type":"message","text":"hello"}"#), None);
        assert_eq!(stamp_of(r#"{"type":"message","text":"t="}"#), None);
    }

    #[test]
    fn stamps_are_found_in_ack_ids() {
        let f = r#"{"type":"ack","id":"t123456-7","seq":3}"#;
        assert!(f.starts_with(ACK_PREFIX));
        assert_eq!(ack_id_of(f), Some("t123456-7"));
        assert_eq!(ack_id_of(f).and_then(id_stamp), Some(123_456));
        assert_eq!(id_stamp("7"), None);
        assert_eq!(id_stamp("t-7"), None);
        assert_eq!(id_stamp("t123"), None);
        assert_eq!(id_stamp("x123-1"), None);
        assert_eq!(ack_id_of(r#"{"type":"ack","seq":3}"#), None);
    }
}
