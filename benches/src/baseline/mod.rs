//! The baseline: a chat server in the most common Rust style, to measure throng-chat
//! against (never shipped). It speaks the subset of throng-chat's protocol the load
//! generator uses: `hello`/`welcome`, `join`/`joined` (members, empty history),
//! `post` → `message` (with `seq` and `ts`) to every member and `ack` to the sender, and
//! the error codes for bad input. No presence events, history, rate limit or connection
//! limits.
//!
//! The design, as found in most tutorials and many production services:
//! - axum 0.8 WebSocket with its default buffer sizes, `TCP_NODELAY` on accepted sockets
//!   (as throng-chat; without it Nagle and delayed acks add tens of ms to the tail);
//! - one `tokio::sync::broadcast` channel per room in a `Mutex<HashMap<..>>`, created on
//!   first join, with capacity 1024 (throng-chat's default outbound queue);
//! - per connection, a task that reads frames and, per joined room, a task that forwards
//!   from the room's broadcast receiver; both write through one `Mutex`-guarded sink;
//! - each forwarding task serializes the message with serde_json itself (once per
//!   recipient) and sends each frame on its own (`send` = feed + flush, no batching).
//!
//! A receiver that falls more than 1024 messages behind gets `Lagged` from the broadcast
//! channel; the baseline counts it ([`State::lagged`]) and closes the connection with
//! 4008 "slow consumer", as throng-chat does when its outbound queue overflows, so the
//! generator's slow-consumer count means the same on both.
//!
//! - [`conn`]: one connection's reader and forwarders.
//! - [`wire`]: the frames, in and out.

pub mod conn;
pub mod wire;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{State as AxState, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Messages a room's channel holds for its slowest receiver (throng-chat's default
/// `--outbound-queue`).
pub const ROOM_CAPACITY: usize = 1024;

/// A message as it travels through a room's channel (serialized by each receiver).
#[derive(Debug, Clone)]
pub struct ChatMessage {
    pub room: Arc<str>,
    pub from: Arc<str>,
    pub text: String,
    pub seq: u64,
    pub ts: u64,
}

/// One room: its channel, its members, its sequence counter.
#[derive(Debug)]
pub struct Room {
    pub tx: broadcast::Sender<Arc<ChatMessage>>,
    pub members: BTreeSet<Arc<str>>,
    pub seq: u64,
}

/// Shared server state.
#[derive(Debug, Default)]
pub struct State {
    pub rooms: Mutex<HashMap<String, Room>>,
    pub names: Mutex<HashSet<Arc<str>>>,
    /// Receivers that lagged (and were closed with 4008).
    pub lagged: AtomicU64,
}

impl State {
    /// The rooms, even if a panicking task poisoned the lock.
    pub fn rooms(&self) -> MutexGuard<'_, HashMap<String, Room>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn names(&self) -> MutexGuard<'_, HashSet<Arc<str>>> {
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The routes: `GET /ws` and `GET /healthz`.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/ws", get(ws))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

async fn ws(AxState(state): AxState<Arc<State>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| conn::run(state, socket))
}

/// Binds `addr` and serves in a background task; returns the bound address, the state
/// and the task.
///
/// # Errors
///
/// The bind error.
pub async fn start(
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, Arc<State>, JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let state = Arc::new(State::default());
    let app = router(state.clone());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((bound, state, task))
}
