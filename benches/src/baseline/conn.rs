//! One baseline connection: the reader (this task) handles requests; each joined room
//! gets a forwarding task that receives from the room's broadcast channel, serializes
//! each message itself and sends it. Both write through one `Mutex`-guarded sink.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::wire::{valid_name, ClientMsg, ServerMsg};
use super::{ChatMessage, Room, State, ROOM_CAPACITY};

type Sink = Arc<Mutex<SplitSink<WebSocket, Message>>>;

/// How long a close frame may take to go out to a peer that is not reading.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends one text frame (feed + flush); `false` once the socket is gone.
async fn send(sink: &Sink, text: String) -> bool {
    sink.lock()
        .await
        .send(Message::Text(text.into()))
        .await
        .is_ok()
}

async fn close(sink: &Sink, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        let mut s = sink.lock().await;
        let _ = s.send(frame).await;
    })
    .await;
}

async fn error(sink: &Sink, code: &str, message: &str, reference: Option<&str>) -> bool {
    send(
        sink,
        ServerMsg::Error {
            code,
            message,
            reference,
        }
        .to_json(),
    )
    .await
}

/// One connection's session.
struct Session {
    state: Arc<State>,
    sink: Sink,
    closed: CancellationToken,
    name: Option<Arc<str>>,
    rooms: HashMap<String, JoinHandle<()>>,
}

/// Serves one connection until either side closes it.
pub async fn run(state: Arc<State>, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let mut s = Session {
        state,
        sink: Arc::new(Mutex::new(sink)),
        closed: CancellationToken::new(),
        name: None,
        rooms: HashMap::new(),
    };
    loop {
        let frame = tokio::select! {
            _ = s.closed.cancelled() => break,
            frame = stream.next() => frame,
        };
        let flow = match frame {
            Some(Ok(Message::Text(text))) => s.handle(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => {
                if error(&s.sink, "bad_request", "send JSON text", None).await {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => ControlFlow::Continue(()),
            Some(Ok(Message::Close(_)) | Err(_)) | None => ControlFlow::Break(()),
        };
        if flow.is_break() {
            break;
        }
    }
    s.closed.cancel();
    s.leave_all();
}

impl Session {
    async fn handle(&mut self, text: &str) -> ControlFlow<()> {
        let msg = match serde_json::from_str::<ClientMsg>(text) {
            Ok(m) => m,
            Err(e) => return self.reply_error("bad_request", &e.to_string(), None).await,
        };
        let name = match (&self.name, msg) {
            (None, ClientMsg::Hello { name }) => return self.hello(name).await,
            (None, _) => {
                return self
                    .reply_error("not_authenticated", "send hello first", None)
                    .await
            }
            (Some(_), ClientMsg::Hello { .. }) => {
                return self
                    .reply_error("bad_request", "already said hello", None)
                    .await
            }
            (Some(name), msg) => (name.clone(), msg),
        };
        match name {
            (name, ClientMsg::Join { room }) => self.join(name, room).await,
            (name, ClientMsg::Post { room, text, id }) => self.post(name, room, text, id).await,
            (_, ClientMsg::Hello { .. }) => ControlFlow::Continue(()), // handled above
        }
    }

    async fn reply_error(
        &self,
        code: &str,
        message: &str,
        reference: Option<&str>,
    ) -> ControlFlow<()> {
        if error(&self.sink, code, message, reference).await {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }

    async fn reply(&self, text: String) -> ControlFlow<()> {
        if send(&self.sink, text).await {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }

    async fn hello(&mut self, name: String) -> ControlFlow<()> {
        if !valid_name(&name) {
            let _ = error(&self.sink, "invalid_name", "bad name", None).await;
            close(&self.sink, 1008, "invalid name").await;
            return ControlFlow::Break(());
        }
        let name: Arc<str> = name.into();
        if !self.state.names().insert(name.clone()) {
            let _ = error(&self.sink, "name_taken", "that name is in use", None).await;
            close(&self.sink, 1008, "name taken").await;
            return ControlFlow::Break(());
        }
        self.name = Some(name.clone());
        self.reply(ServerMsg::Welcome { name: &name }.to_json())
            .await
    }

    async fn join(&mut self, name: Arc<str>, room: String) -> ControlFlow<()> {
        if !valid_name(&room) {
            return self
                .reply_error("invalid_name", "bad room name", None)
                .await;
        }
        let (rx, joined) = {
            let mut rooms = self.state.rooms();
            let r = rooms.entry(room.clone()).or_insert_with(|| Room {
                tx: broadcast::channel(ROOM_CAPACITY).0,
                members: Default::default(),
                seq: 0,
            });
            r.members.insert(name);
            let members = r.members.iter().map(|m| &**m).collect();
            let joined = ServerMsg::Joined {
                room: &room,
                members,
                history: [],
            }
            .to_json();
            (r.tx.subscribe(), joined)
        };
        if !self.rooms.contains_key(&room) {
            let task = tokio::spawn(forward(
                rx,
                self.sink.clone(),
                self.closed.clone(),
                self.state.clone(),
            ));
            self.rooms.insert(room, task);
        }
        self.reply(joined).await
    }

    async fn post(
        &mut self,
        name: Arc<str>,
        room: String,
        text: String,
        id: Option<String>,
    ) -> ControlFlow<()> {
        if !self.rooms.contains_key(&room) {
            return self
                .reply_error("not_in_room", "join the room before posting", id.as_deref())
                .await;
        }
        let seq = {
            let mut rooms = self.state.rooms();
            rooms.get_mut(&room).map(|r| {
                r.seq += 1;
                let msg = ChatMessage {
                    room: room.as_str().into(),
                    from: name,
                    text,
                    seq: r.seq,
                    ts: now_ms(),
                };
                let _ = r.tx.send(Arc::new(msg)); // under the lock: channel order = seq order
                r.seq
            })
        };
        let Some(seq) = seq else {
            return self
                .reply_error("not_in_room", "join the room before posting", id.as_deref())
                .await;
        };
        match id {
            Some(id) => self.reply(ServerMsg::Ack { id: &id, seq }.to_json()).await,
            None => ControlFlow::Continue(()),
        }
    }

    /// Leaves every room (dropping empty ones) and frees the name.
    fn leave_all(&mut self) {
        let Some(name) = self.name.take() else { return };
        {
            let mut rooms = self.state.rooms();
            for (room, task) in self.rooms.drain() {
                task.abort();
                if let Some(r) = rooms.get_mut(&room) {
                    r.members.remove(&name);
                    if r.members.is_empty() {
                        rooms.remove(&room);
                    }
                }
            }
        }
        self.state.names().remove(&name);
    }
}

/// Forwards a room's messages to this connection, serializing each one here. A receiver
/// that lagged is counted and closed with 4008 "slow consumer".
async fn forward(
    mut rx: broadcast::Receiver<Arc<ChatMessage>>,
    sink: Sink,
    closed: CancellationToken,
    state: Arc<State>,
) {
    loop {
        let msg = tokio::select! {
            _ = closed.cancelled() => return,
            msg = rx.recv() => msg,
        };
        match msg {
            Ok(m) => {
                let json = ServerMsg::Message {
                    room: &m.room,
                    from: &m.from,
                    text: &m.text,
                    seq: m.seq,
                    ts: m.ts,
                }
                .to_json();
                if !send(&sink, json).await {
                    closed.cancel();
                    return;
                }
            }
            Err(RecvError::Lagged(_)) => {
                state.lagged.fetch_add(1, Relaxed);
                close(&sink, 4008, "slow consumer").await;
                closed.cancel();
                return;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
