//! Test helpers: start a real server on an ephemeral port and talk to it with a real
//! WebSocket client.
#![allow(dead_code)]

pub mod fuzz;
#[cfg(target_os = "linux")]
pub mod process;
pub mod raw;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use throng_chat::{Config, Server};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

/// Defaults with an ephemeral port and a dump interval out of the way (an hour).
pub fn config() -> Config {
    let mut c = Config::with_listen("127.0.0.1:0".parse().unwrap());
    c.dump_interval = Duration::from_secs(3600);
    c.shutdown_grace = Duration::from_secs(2);
    c
}

/// Every request budget out of the way (for tests about something else).
pub fn unlimited(mut cfg: Config) -> Config {
    cfg.budgets = throng_chat::budget::Kind::ALL
        .into_iter()
        .map(|kind| throng_chat::budget::BudgetArg {
            kind,
            rate: 100_000_000,
            burst: 100_000_000,
        })
        .collect();
    cfg
}

/// The same as command-line flags, for the binary.
pub const UNLIMITED_FLAGS: &str = "--budget=post=100000000/100000000,member=100000000/100000000,create=100000000/100000000,history=100000000/100000000,ping=100000000/100000000,control=100000000/100000000,bytes=100000000/100000000";

pub async fn start(cfg: Config) -> Server {
    Server::start(cfg).await.expect("server starts")
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(server: &Server) -> Client {
        let url = format!("ws://{}/ws", server.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connects");
        Client { ws }
    }

    /// Connects to a WebSocket `url` (a server in another process) and says hello as
    /// `name`, expecting `welcome`.
    pub async fn login_url(url: &str, name: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connects");
        let mut c = Client { ws };
        c.send(json!({"type": "hello", "name": name})).await;
        c.recv_type("welcome").await;
        c
    }

    /// Connects and says hello as `name`, expecting `welcome`.
    pub async fn login(server: &Server, name: &str) -> Client {
        let mut c = Client::connect(server).await;
        c.send(json!({"type": "hello", "name": name})).await;
        let w = c.recv().await;
        assert_eq!(w, json!({"type": "welcome", "name": name}));
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.expect("send");
    }

    /// The next JSON frame (skipping pings), within `WAIT`.
    pub async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("stream open")
                .expect("frame ok");
            match m {
                Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected text, got {other:?}"),
            }
        }
    }

    /// Frames until one of `type`, returning it (the others are dropped).
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Joins `room`, returning the `joined` frame.
    pub async fn join(&mut self, room: &str) -> Value {
        self.send(json!({"type": "join", "room": room})).await;
        self.recv_type("joined").await
    }

    /// Waits for the close frame, returning its code and reason; text frames before it
    /// are returned too.
    pub async fn closed(&mut self) -> (Vec<Value>, Option<(u16, String)>) {
        let mut texts = Vec::new();
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close in time");
            match m {
                Some(Ok(Message::Text(t))) => texts.push(serde_json::from_str(t.as_str()).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    return (
                        texts,
                        frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                    );
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (texts, None),
            }
        }
    }
}

pub fn code(c: CloseCode) -> u16 {
    u16::from(c)
}

/// A plain HTTP/1.1 request (for the admin listener): (status, body).
pub async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf[9..12].parse().unwrap();
    let body = buf.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}
