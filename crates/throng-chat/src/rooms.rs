//! Rooms: membership, sequencing, history and fan-out, behind the [`Fanout`] seam.
//!
//! Each room has one lock. Everything that changes what members see (a post, a join, a
//! leave) happens under it: the sequence number is assigned, the frame is serialized once
//! and pushed to every member's outbound queue, all before the next event. So every
//! member sees a room's messages and presence events in the same order, a post reaches
//! exactly the members present when it is sequenced, and `seq` rises by one per message.
//! A member whose queue is full is closed with 4008 (see [`crate::outbox`]); the push
//! never waits, so no member delays another.
//!
//! [`Fanout`] is the seam for scale-out: a broker-backed implementation (rooms spread over
//! several processes) would implement the same four operations, and connection handling
//! would not change.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::Utf8Bytes;
use serde_json::value::RawValue;

use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::protocol::{ChatMessage, ServerMsg};
use crate::store::{Row, Store};

/// A connection in a room.
#[derive(Debug, Clone)]
pub struct Member {
    /// The connection's id (unique for the server's life).
    pub conn: u64,
    /// The user's name.
    pub name: Arc<str>,
    /// Where the room's frames go.
    pub out: Outbox,
}

/// Why a room operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomError {
    /// The connection is not a member of that room.
    NotInRoom,
    /// The server holds its maximum number of rooms; this one does not exist yet.
    TooManyRooms,
}

/// The room operations connection handling needs; the seam for a broker-backed version.
pub trait Fanout: Send + Sync + 'static {
    /// Adds `member` to `room` (creating it): the member gets `joined` (members and recent
    /// history), the others get presence `join`. Joining twice is a no-op that still
    /// answers `joined`.
    fn join(&self, room: &str, member: &Member) -> Result<(), RoomError>;
    /// Removes the connection: it gets `left` (unless `silent`), the others presence
    /// `leave`. Empty rooms are removed.
    fn leave(&self, room: &str, conn: u64, silent: bool) -> Result<(), RoomError>;
    /// Sequences a post and sends it to every member (sender included), then `ack` to
    /// the sender when `ack_id` is given. Returns the message's `seq`.
    fn post(
        &self,
        room: &str,
        conn: u64,
        text: &str,
        ack_id: Option<&str>,
    ) -> Result<u64, RoomError>;
    /// Up to `limit` messages with `seq < before` (all, without `before`), oldest first,
    /// as a `history` frame.
    fn history(&self, room: &str, before: Option<u64>, limit: usize) -> String;
    /// Every room with its member count, sorted by name.
    fn rooms(&self) -> Vec<(String, usize)>;
}

#[derive(Debug)]
struct RoomState {
    name: Arc<str>,
    /// Set (under both locks) when the room is removed from the map; a joiner that
    /// finds it set looks the room up again.
    removed: bool,
    /// The last sequence number given out.
    seq: u64,
    members: HashMap<u64, Member>,
    /// The last `history_len` messages, serialized once, shared with the frames.
    history: VecDeque<(u64, Utf8Bytes)>,
}

/// Rooms held in this process.
///
/// With a [`Store`], every message is also persisted and rooms stay in memory when they
/// empty (their `seq` must continue); without one, an empty room is removed, history and
/// all. Either way at most `max_rooms` rooms exist.
#[derive(Debug)]
pub struct LocalRooms {
    rooms: RwLock<HashMap<String, Arc<Mutex<RoomState>>>>,
    history_len: usize,
    join_history: usize,
    max_rooms: usize,
    store: Option<Arc<Store>>,
    metrics: Arc<Metrics>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn raw(frame: &Utf8Bytes) -> &RawValue {
    serde_json::from_str(frame.as_str()).expect("history holds JSON we serialized")
}

impl LocalRooms {
    /// Rooms keeping the last `history_len` messages each, and sending the last
    /// `join_history` of them to a joiner.
    pub fn new(
        history_len: usize,
        join_history: usize,
        max_rooms: usize,
        store: Option<Arc<Store>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            rooms: RwLock::default(),
            history_len,
            join_history: join_history.min(history_len),
            max_rooms,
            store,
            metrics,
        }
    }

    fn get(&self, room: &str) -> Option<Arc<Mutex<RoomState>>> {
        self.rooms
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(room)
            .cloned()
    }

    fn get_or_create(&self, room: &str) -> Result<Arc<Mutex<RoomState>>, RoomError> {
        if let Some(r) = self.get(room) {
            return Ok(r);
        }
        // A room seen before a restart continues its sequence and history from the store
        // (read outside the map lock: an indexed query on the primary key).
        let (seq, history) = match &self.store {
            Some(store) => store.load_room(room, self.history_len),
            None => (0, Vec::new()),
        };
        let mut rooms = self.rooms.write().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = rooms.get(room) {
            return Ok(r.clone());
        }
        if rooms.len() >= self.max_rooms {
            return Err(RoomError::TooManyRooms);
        }
        let r = Arc::new(Mutex::new(RoomState {
            name: Arc::from(room),
            removed: false,
            seq,
            members: HashMap::new(),
            history: history.into(),
        }));
        rooms.insert(room.to_owned(), r.clone());
        self.metrics.rooms.set(rooms.len() as i64);
        Ok(r)
    }

    /// Removes `room` if it is (still) empty. Lock order: the map, then the room; never
    /// the other way round.
    fn remove_if_empty(&self, room: &str) {
        if self.store.is_some() {
            return; // durable rooms stay: their sequence must continue
        }
        let mut rooms = self.rooms.write().unwrap_or_else(|p| p.into_inner());
        let Some(r) = rooms.get(room).cloned() else {
            return;
        };
        let mut state = lock(&r);
        if state.members.is_empty() {
            state.removed = true;
            rooms.remove(room);
            self.metrics.rooms.set(rooms.len() as i64);
        }
    }
}

fn lock(r: &Mutex<RoomState>) -> std::sync::MutexGuard<'_, RoomState> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

impl Fanout for LocalRooms {
    fn join(&self, room: &str, member: &Member) -> Result<(), RoomError> {
        // Retry if the room was removed between lookup and lock (its last member left).
        loop {
            let r = self.get_or_create(room)?;
            let mut state = lock(&r);
            if state.removed {
                continue;
            }
            let fresh = state.members.insert(member.conn, member.clone()).is_none();
            let mut names: Vec<&str> = state.members.values().map(|m| &*m.name).collect();
            names.sort_unstable();
            names.dedup();
            let skip = state.history.len().saturating_sub(self.join_history);
            let history: Vec<&RawValue> = state
                .history
                .iter()
                .skip(skip)
                .map(|(_, f)| raw(f))
                .collect();
            let joined = ServerMsg::Joined {
                room,
                members: names,
                history,
            }
            .to_json();
            member.out.push_text(joined);
            if fresh {
                let presence = Utf8Bytes::from(
                    ServerMsg::Presence {
                        room,
                        user: &member.name,
                        event: "join",
                    }
                    .to_json(),
                );
                for (conn, m) in &state.members {
                    if *conn != member.conn {
                        m.out.push(presence.clone());
                    }
                }
            }
            return Ok(());
        }
    }

    fn leave(&self, room: &str, conn: u64, silent: bool) -> Result<(), RoomError> {
        let r = self.get(room).ok_or(RoomError::NotInRoom)?;
        let empty = {
            let mut state = lock(&r);
            let member = state.members.remove(&conn).ok_or(RoomError::NotInRoom)?;
            if !silent {
                member.out.push_text(ServerMsg::Left { room }.to_json());
            }
            let presence = Utf8Bytes::from(
                ServerMsg::Presence {
                    room,
                    user: &member.name,
                    event: "leave",
                }
                .to_json(),
            );
            for m in state.members.values() {
                m.out.push(presence.clone());
            }
            state.members.is_empty()
        };
        if empty {
            self.remove_if_empty(room);
        }
        Ok(())
    }

    fn post(
        &self,
        room: &str,
        conn: u64,
        text: &str,
        ack_id: Option<&str>,
    ) -> Result<u64, RoomError> {
        let r = self.get(room).ok_or(RoomError::NotInRoom)?;
        let mut state = lock(&r);
        let Some(sender) = state.members.get(&conn) else {
            return Err(RoomError::NotInRoom);
        };
        let from = sender.name.clone();
        let sender_out = sender.out.clone();
        state.seq += 1;
        let seq = state.seq;
        // Serialized once; every member's frame shares these bytes.
        let frame = Utf8Bytes::from(
            serde_json::to_string(&ChatMessage {
                kind: "message",
                room,
                from: &from,
                text,
                seq,
                ts: now_ms(),
            })
            .expect("messages serialize"),
        );
        if self.history_len > 0 {
            if state.history.len() == self.history_len {
                state.history.pop_front();
            }
            state.history.push_back((seq, frame.clone()));
        }
        if let Some(store) = &self.store {
            store.append(Row {
                room: state.name.clone(),
                seq,
                frame: frame.clone(),
            });
        }
        for m in state.members.values() {
            m.out.push(frame.clone());
        }
        if let Some(id) = ack_id {
            sender_out.push_text(ServerMsg::Ack { id, seq }.to_json());
        }
        self.metrics.messages.inc();
        Ok(seq)
    }

    fn history(&self, room: &str, before: Option<u64>, limit: usize) -> String {
        let Some(r) = self.get(room) else {
            // Not in memory: only the store can know it.
            let frames = self
                .store
                .as_ref()
                .map(|s| s.before(room, before.unwrap_or(u64::MAX), limit))
                .unwrap_or_default();
            return ServerMsg::History {
                room,
                messages: frames.iter().map(|(_, f)| raw(f)).collect(),
            }
            .to_json();
        };
        let before = before.unwrap_or(u64::MAX);
        // Newest first from memory, then older ones from the store if memory runs out.
        let mut frames: Vec<(u64, Utf8Bytes)> = {
            let state = lock(&r);
            state
                .history
                .iter()
                .rev()
                .filter(|(seq, _)| *seq < before)
                .take(limit)
                .cloned()
                .collect()
        };
        if frames.len() < limit {
            if let Some(store) = &self.store {
                let older_than = frames.last().map_or(before, |(seq, _)| *seq);
                let mut older = store.before(room, older_than, limit - frames.len());
                older.reverse();
                frames.extend(older);
            }
        }
        frames.reverse();
        ServerMsg::History {
            room,
            messages: frames.iter().map(|(_, f)| raw(f)).collect(),
        }
        .to_json()
    }

    fn rooms(&self) -> Vec<(String, usize)> {
        let rooms = self.rooms.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, usize)> = rooms
            .iter()
            .map(|(name, r)| (name.clone(), lock(r).members.len()))
            .collect();
        out.sort();
        out
    }
}
