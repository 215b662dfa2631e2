//! One simulated user's start: connect (TCP, from a chosen source address if asked), the
//! WebSocket upgrade written by hand, `hello`, `join` one room. Then the socket goes to a
//! [`reactor`](super::reactor) thread, which reads its frames and, for posters, posts on
//! schedule until the run ends. Also the state every connection shares.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};

use super::stats::{ConnStats, Events, Latency};
use super::wire::{self, opcode};

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

    /// Nanoseconds from `base` to `t`.
    pub fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    /// Whether a post stamped `stamp` is counted and timed.
    pub fn in_window(&self, stamp: u64) -> bool {
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
    /// Times the deliveries it receives (`--sample`); otherwise it counts and checks them.
    pub sample: bool,
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

/// A joined connection, ready for a reactor.
#[derive(Debug)]
pub struct Opened {
    /// The socket (non-blocking).
    pub stream: std::net::TcpStream,
    /// Bytes read after the `joined` frame: the start of the frames that follow it.
    pub leftover: Vec<u8>,
}

/// Connects, upgrades, says hello and joins, within 15 s; any refusal
/// is an error with the server's words.
///
/// # Errors
///
/// Why the connection could not be opened.
pub async fn open(spec: &Spec, addr: SocketAddr, url: &str) -> Result<Opened, String> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, open_now(spec, addr, url)).await {
        Ok(r) => r,
        Err(_) => Err("handshake timed out".into()),
    }
}

async fn open_now(spec: &Spec, addr: SocketAddr, url: &str) -> Result<Opened, String> {
    let mut tcp = match spec.source {
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

    let uri: tokio_tungstenite::tungstenite::http::Uri =
        url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
    let host = uri
        .authority()
        .map_or_else(|| addr.to_string(), |a| a.to_string());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let key = generate_key();
    tcp.write_all(wire::upgrade_request(&host, path, &key).as_bytes())
        .await
        .map_err(|e| format!("send upgrade: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if let Some(end) = wire::head_end(&buf) {
            break end;
        }
        if buf.len() > 16 * 1024 {
            return Err("upgrade: response head over 16 KiB".into());
        }
        read_more(&mut tcp, &mut buf, "upgrade").await?;
    };
    wire::check_upgrade(&buf[..end], &derive_accept_key(key.as_bytes()))?;
    buf.drain(..end);

    let hello = format!(r#"{{"type":"hello","name":"{}"}}"#, spec.name);
    send(&mut tcp, hello.as_bytes()).await?;
    expect(&mut tcp, &mut buf, "welcome").await?;
    let join = format!(r#"{{"type":"join","room":"{}"}}"#, spec.room);
    send(&mut tcp, join.as_bytes()).await?;
    expect(&mut tcp, &mut buf, "joined").await?;
    let stream = tcp.into_std().map_err(|e| format!("into_std: {e}"))?;
    Ok(Opened {
        stream,
        leftover: buf,
    })
}

async fn read_more(tcp: &mut TcpStream, buf: &mut Vec<u8>, during: &str) -> Result<(), String> {
    let mut chunk = [0u8; 4096];
    match tcp.read(&mut chunk).await {
        Ok(0) => Err(format!("{during}: connection closed")),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) => Err(format!("{during}: {e}")),
    }
}

async fn send(tcp: &mut TcpStream, json: &[u8]) -> Result<(), String> {
    let mut frame = Vec::with_capacity(json.len() + 14);
    wire::push_frame(&mut frame, opcode::TEXT, json);
    tcp.write_all(&frame)
        .await
        .map_err(|e| format!("send: {e}"))
}

/// Reads frames until a text frame of type `kind` (leaving what follows it in `buf`),
/// skipping presence and other events; an `error` or a close first is a failure.
async fn expect(tcp: &mut TcpStream, buf: &mut Vec<u8>, kind: &str) -> Result<(), String> {
    loop {
        let parsed = wire::parse_frame(buf).map_err(|e| format!("before {kind}: {e}"))?;
        let Some((frame, used)) = parsed else {
            read_more(tcp, buf, kind).await?;
            continue;
        };
        let done = match frame.opcode {
            opcode::TEXT if frame.fin => {
                let v: serde_json::Value = serde_json::from_slice(frame.payload)
                    .map_err(|e| format!("bad JSON before {kind}: {e}"))?;
                match v["type"].as_str() {
                    Some(k) if k == kind => true,
                    Some("error") => return Err(format!("error before {kind}: {v}")),
                    _ => false,
                }
            }
            opcode::CLOSE => {
                let code = wire::close_code(frame.payload);
                let reason = String::from_utf8_lossy(frame.payload.get(2..).unwrap_or_default());
                return Err(format!("closed before {kind}: {code} {reason}"));
            }
            opcode::PING => {
                let mut pong = Vec::new();
                wire::push_frame(&mut pong, opcode::PONG, frame.payload);
                tcp.write_all(&pong)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                false
            }
            _ => false,
        };
        buf.drain(..used);
        if done {
            return Ok(());
        }
    }
}
