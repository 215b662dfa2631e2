//! Which WebSocket stack for throng-chat? An echo benchmark on this machine: the same
//! tokio-tungstenite client drives an echo server built on each candidate, in one run.
//!
//! - `axum-ws`: axum 0.8's `WebSocketUpgrade` (tokio-tungstenite underneath), the stack
//!   throng-chat uses.
//! - `tokio-websockets`: tokio-websockets 0.13 on a bare `TcpListener`.
//!
//! fastwebsockets is left out: it hands out raw frames (fragment assembly is the user's
//! job) and its soundness is disputed (denoland/fastwebsockets#42); the reference numbers
//! put it level with tokio-websockets on small messages.
//!
//! The server runs on its own one-thread runtime and the client on another, so each gets
//! about one core of this 2-core machine. Each case: `conns` connections, each sending
//! `per_conn` messages of `size` bytes with up to 32 in flight, reading every echo.
//!
//! `cargo run --release -p throng-benches --bin ws_stack`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const WINDOW: usize = 32;

fn one_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Starts an echo server on its own thread and runtime; returns its address.
fn serve(kind: &'static str) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        one_thread().block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            match kind {
                "axum-ws" => {
                    let app = axum::Router::new().route(
                        "/ws",
                        get(|ws: WebSocketUpgrade| async move {
                            ws.on_upgrade(|mut socket| async move {
                                while let Some(Ok(msg)) = socket.recv().await {
                                    if matches!(msg, AxMessage::Text(_) | AxMessage::Binary(_))
                                        && socket.send(msg).await.is_err()
                                    {
                                        break;
                                    }
                                }
                            })
                        }),
                    );
                    axum::serve(listener, app).await.unwrap();
                }
                _ => loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    tokio::spawn(async move {
                        let Ok((_req, mut ws)) =
                            tokio_websockets::ServerBuilder::new().accept(stream).await
                        else {
                            return;
                        };
                        while let Some(Ok(msg)) = ws.next().await {
                            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                                break;
                            }
                        }
                    });
                },
            }
        });
    });
    rx.recv().unwrap()
}

/// Echoed messages per second.
fn drive(addr: SocketAddr, conns: usize, per_conn: usize, size: usize) -> f64 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rate = one_thread().block_on(async move {
            let mut clients = Vec::new();
            for _ in 0..conns {
                let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
                    .await
                    .unwrap();
                clients.push(ws);
            }
            let payload = "x".repeat(size);
            let start = Instant::now();
            let mut tasks = Vec::new();
            for ws in clients {
                let payload = payload.clone();
                tasks.push(tokio::spawn(async move {
                    let (mut sink, mut stream) = ws.split();
                    let mut sent = 0;
                    let mut got = 0;
                    while got < per_conn {
                        while sent < per_conn && sent - got < WINDOW {
                            sink.feed(Message::Text(payload.clone().into()))
                                .await
                                .unwrap();
                            sent += 1;
                        }
                        sink.flush().await.unwrap();
                        match stream.next().await {
                            Some(Ok(Message::Text(_))) => got += 1,
                            Some(Ok(_)) => {}
                            other => panic!("echo failed: {other:?}"),
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            (conns * per_conn) as f64 / start.elapsed().as_secs_f64()
        });
        tx.send(rate).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("case finished")
}

fn main() {
    let cases = [(100usize, 2_000usize, 20usize), (100, 200, 16 * 1024)];
    let servers = [
        ("axum-ws", serve("axum-ws")),
        ("tokio-websockets", serve("tokio-websockets")),
    ];
    for (conns, per_conn, size) in cases {
        let mut best = Vec::new();
        for (name, addr) in servers {
            // Best of three, interleaved with the other server.
            let mut b = 0f64;
            for _ in 0..3 {
                b = b.max(drive(addr, conns, per_conn, size));
            }
            best.push((name, b));
        }
        let base = best[0].1;
        for (name, rate) in &best {
            println!(
                "case=ws.echo.{conns}x{size}B server={name} msgs_per_s={rate:.0} vs_axum={:.2}",
                rate / base
            );
        }
    }
}
