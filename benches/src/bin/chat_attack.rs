//! Abusive clients for the soak test (`benches/scripts/chat_soak.sh`): every attack the
//! hostile-clients review ran, at once, for `--duration`, against a throng-chat server.
//!
//! Per 50 clients (scaled by `--clients`): 10 post floods under distinct names, 5 join/leave
//! floods in the victims' rooms, 5 history floods that never read, 5 WebSocket ping
//! floods before `hello`, 10 slowloris sockets (half-sent request headers), 5 ghosts
//! (connect, never `hello`), 5 senders of invalid frames (bad UTF-8, unmasked, bad
//! opcodes), 5 senders of maximum-size frames. A client the server closes reconnects.
//! Prints what the server answered: requests sent, `rate_limited` replies, closes by code.
//!
//! `cargo run --release -p throng-benches --bin chat_attack -- --url ws://127.0.0.1:8080/ws`

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Parser)]
#[command(name = "chat_attack", about, long_about = None)]
struct Args {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// Abusive clients in all (the mix above, scaled).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// How long to attack, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Rooms the victims are in (`r000` … as chat_load names them): floods go there.
    #[arg(long, default_value_t = 20)]
    rooms: usize,
    /// Local addresses to attack from, round-robin.
    #[arg(long, value_delimiter = ',')]
    source_ips: Vec<IpAddr>,
    /// Largest frame the server takes (`--max-frame`).
    #[arg(long, default_value_t = 65_536)]
    max_frame: usize,
}

#[derive(Debug, Default)]
struct Tally {
    sent: AtomicU64,
    rate_limited: AtomicU64,
    refused: AtomicU64,
    closes: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn close(&self, why: String) {
        *self.closes.lock().unwrap().entry(why).or_insert(0) += 1;
    }
}

struct Ctx {
    args: Args,
    addr: SocketAddr,
    tally: Tally,
    until: Instant,
    next_ip: AtomicU64,
}

impl Ctx {
    fn source(&self) -> Option<IpAddr> {
        let n = self.next_ip.fetch_add(1, Relaxed) as usize;
        (!self.args.source_ips.is_empty())
            .then(|| self.args.source_ips[n % self.args.source_ips.len()])
    }

    async fn tcp(&self) -> std::io::Result<TcpStream> {
        let s = TcpSocket::new_v4()?;
        if let Some(ip) = self.source() {
            s.bind(SocketAddr::new(ip, 0))?;
        }
        s.connect(self.addr).await
    }

    fn live(&self) -> bool {
        Instant::now() < self.until
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn ws(ctx: &Ctx) -> Option<Ws> {
    let tcp = ctx.tcp().await.ok()?;
    match tokio_tungstenite::client_async(ctx.args.url.as_str(), tcp).await {
        Ok((ws, _)) => Some(ws),
        Err(_) => {
            ctx.tally.refused.fetch_add(1, Relaxed);
            None
        }
    }
}

async fn hello(ws: &mut Ws, name: &str) -> bool {
    ws.send(Message::Text(
        json!({"type": "hello", "name": name}).to_string().into(),
    ))
    .await
    .is_ok()
}

/// Reads what the server sends (counting rate_limited and the close), until `stop`.
async fn drain(ctx: &Ctx, ws: &mut Ws, stop: Duration) {
    let deadline = tokio::time::Instant::now() + stop;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                if t.contains("\"rate_limited\"") {
                    ctx.tally.rate_limited.fetch_add(1, Relaxed);
                }
            }
            Ok(Some(Ok(Message::Close(f)))) => {
                ctx.tally.close(f.map_or("none".into(), |f| {
                    format!("{} {}", u16::from(f.code), f.reason)
                }));
                return;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => {
                ctx.tally.close("reset".into());
                return;
            }
            Err(_) => return,
        }
    }
}

/// Posts as fast as the server reads, under its own name, into a victims' room.
async fn post_flood(ctx: Arc<Ctx>, n: usize) {
    while ctx.live() {
        let Some(mut ws) = ws(&ctx).await else {
            continue;
        };
        let room = format!("r{:03}", n % ctx.args.rooms);
        if !hello(&mut ws, &format!("spam{n}-{}", fastrand::u32(..))).await {
            continue;
        }
        let _ = ws
            .send(Message::Text(
                json!({"type": "join", "room": room}).to_string().into(),
            ))
            .await;
        while ctx.live() {
            let post = json!({"type": "post", "room": room, "text": "buy cheap stuff"});
            if ws
                .send(Message::Text(post.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            ctx.tally.sent.fetch_add(1, Relaxed);
            drain(&ctx, &mut ws, Duration::from_millis(1)).await;
        }
    }
}

/// Joins and leaves a victims' room in a loop (presence fan-out).
async fn churn(ctx: Arc<Ctx>, n: usize) {
    while ctx.live() {
        let Some(mut ws) = ws(&ctx).await else {
            continue;
        };
        let room = format!("r{:03}", n % ctx.args.rooms);
        if !hello(&mut ws, &format!("churn{n}-{}", fastrand::u32(..))).await {
            continue;
        }
        while ctx.live() {
            let mut ok = true;
            for t in ["join", "leave"] {
                ok &= ws
                    .send(Message::Text(
                        json!({"type": t, "room": room}).to_string().into(),
                    ))
                    .await
                    .is_ok();
                ctx.tally.sent.fetch_add(1, Relaxed);
            }
            if !ok {
                break;
            }
            drain(&ctx, &mut ws, Duration::from_millis(1)).await;
        }
    }
}

/// Asks for as much history as it may and never reads a reply.
async fn history_flood(ctx: Arc<Ctx>, n: usize) {
    while ctx.live() {
        let Some(mut ws) = ws(&ctx).await else {
            continue;
        };
        let room = format!("r{:03}", n % ctx.args.rooms);
        if !hello(&mut ws, &format!("hist{n}-{}", fastrand::u32(..))).await {
            continue;
        }
        let _ = ws
            .send(Message::Text(
                json!({"type": "join", "room": room}).to_string().into(),
            ))
            .await;
        while ctx.live() {
            let q = json!({"type": "history", "room": room, "limit": 500});
            let send = ws.send(Message::Text(q.to_string().into()));
            match tokio::time::timeout(Duration::from_secs(1), send).await {
                Ok(Ok(())) => ctx.tally.sent.fetch_add(1, Relaxed),
                Ok(Err(_)) => {
                    ctx.tally.close("closed while flooding".into());
                    break;
                }
                Err(_) => continue, // the server stopped reading us
            };
        }
    }
}

/// WebSocket pings as fast as possible, before any hello, never reading.
async fn ping_flood(ctx: Arc<Ctx>) {
    while ctx.live() {
        let Some(mut ws) = ws(&ctx).await else {
            continue;
        };
        while ctx.live() {
            let send = ws.send(Message::Ping(vec![0u8; 125].into()));
            match tokio::time::timeout(Duration::from_secs(1), send).await {
                Ok(Ok(())) => ctx.tally.sent.fetch_add(1, Relaxed),
                Ok(Err(_)) => {
                    ctx.tally.close("closed while flooding".into());
                    break;
                }
                Err(_) => continue,
            };
        }
    }
}

/// Half-sent request headers, one byte a second.
async fn slowloris(ctx: Arc<Ctx>) {
    while ctx.live() {
        let Ok(mut s) = ctx.tcp().await else { continue };
        if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_err()
        {
            continue;
        }
        ctx.tally.sent.fetch_add(1, Relaxed);
        while ctx.live() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if s.write_all(b"X").await.is_err() {
                break;
            }
            let mut b = [0u8; 512];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await
            {
                if n == 0 {
                    ctx.tally.close("slowloris dropped".into());
                    break;
                }
                if b.starts_with(b"HTTP/1.1 503") {
                    ctx.tally.refused.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

/// Connects and never says hello.
async fn ghost(ctx: Arc<Ctx>) {
    while ctx.live() {
        let Some(mut ws) = ws(&ctx).await else {
            continue;
        };
        ctx.tally.sent.fetch_add(1, Relaxed);
        let left = ctx.until.saturating_duration_since(Instant::now());
        drain(&ctx, &mut ws, left).await;
    }
}

/// Frames no client should send: invalid UTF-8, unmasked, unknown opcode, oversized ping.
async fn bad_frames(ctx: Arc<Ctx>, n: usize) {
    let frames: [&[u8]; 4] = [
        &[0x81, 0x83, 1, 2, 3, 4, 0xfe, 0xfd, 0xfc],
        &[0x81, 0x02, b'{', b'}'],
        &[0x83, 0x81, 1, 2, 3, 4, b'x'],
        &[0x89, 0xfe, 0x00, 0x7e, 1, 2, 3, 4],
    ];
    let mut i = n;
    while ctx.live() {
        let Some(ws) = ws(&ctx).await else { continue };
        let mut tcp = ws.into_inner();
        let _ = tcp.write_all(frames[i % frames.len()]).await;
        if i % frames.len() == 3 {
            let _ = tcp.write_all(&[0u8; 126]).await;
        }
        i += 1;
        ctx.tally.sent.fetch_add(1, Relaxed);
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n >= 4 && buf[0] == 0x88 => {
                ctx.tally
                    .close(format!("{}", u16::from_be_bytes([buf[2], buf[3]])));
            }
            _ => ctx.tally.close("bad frame: other".into()),
        }
    }
}

/// Frames of the largest size the server takes, as fast as possible.
async fn big_frames(ctx: Arc<Ctx>, n: usize) {
    let text = "x".repeat(ctx.args.max_frame - 64);
    while ctx.live() {
        let Some(mut ws) = ws(&ctx).await else {
            continue;
        };
        let room = format!("r{:03}", n % ctx.args.rooms);
        if !hello(&mut ws, &format!("big{n}-{}", fastrand::u32(..))).await {
            continue;
        }
        let _ = ws
            .send(Message::Text(
                json!({"type": "join", "room": room}).to_string().into(),
            ))
            .await;
        while ctx.live() {
            let post = json!({"type": "post", "room": room, "text": text});
            if ws
                .send(Message::Text(post.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            ctx.tally.sent.fetch_add(1, Relaxed);
            drain(&ctx, &mut ws, Duration::from_millis(1)).await;
        }
    }
}

fn main() {
    let args = Args::parse();
    let host = args
        .url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let addr: SocketAddr = match host.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!(
                "chat_attack: --url must be ws://<ip>:<port>/ws, got {}",
                args.url
            );
            std::process::exit(2);
        }
    };
    let _ = throng_benches::load::os::raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let scale = |n: usize| (n * args.clients).div_ceil(50).max(1);
    let ctx = Arc::new(Ctx {
        until: Instant::now() + Duration::from_secs(args.duration),
        addr,
        tally: Tally::default(),
        next_ip: AtomicU64::new(0),
        args: args.clone(),
    });
    rt.block_on(async {
        let mut tasks = Vec::new();
        for n in 0..scale(10) {
            tasks.push(tokio::spawn(post_flood(ctx.clone(), n)));
            tasks.push(tokio::spawn(slowloris(ctx.clone())));
        }
        for n in 0..scale(5) {
            tasks.push(tokio::spawn(churn(ctx.clone(), n)));
            tasks.push(tokio::spawn(history_flood(ctx.clone(), n)));
            tasks.push(tokio::spawn(ping_flood(ctx.clone())));
            tasks.push(tokio::spawn(ghost(ctx.clone())));
            tasks.push(tokio::spawn(bad_frames(ctx.clone(), n)));
            tasks.push(tokio::spawn(big_frames(ctx.clone(), n)));
        }
        let grace = Duration::from_secs(args.duration + 10);
        for t in tasks {
            let _ = tokio::time::timeout(grace, t).await;
        }
    });
    let t = &ctx.tally;
    println!(
        "chat_attack: {} clients for {} s: {} requests/frames/sockets sent, {} rate_limited replies, {} connections refused",
        args.clients,
        args.duration,
        t.sent.load(Relaxed),
        t.rate_limited.load(Relaxed),
        t.refused.load(Relaxed)
    );
    for (why, n) in t.closes.lock().unwrap().iter() {
        println!("  closed: {why}: {n}");
    }
    rt.shutdown_timeout(Duration::from_secs(1));
}
