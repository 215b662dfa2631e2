//! The node-local hub: applies sequenced events to the outboxes of this node's members,
//! in each room's order.
//!
//! The sequencer calls [`Hub::deliver`] once per event, in order; the hub encodes each
//! event's frame once and queues the same bytes to every local member. Queuing never
//! waits: a member whose outbox is full is closed with 4008 (see [`crate::outbox`]), so no
//! member delays another. A join of a local connection queues its `joined` reply (members
//! and history from the event's snapshot) before any later event of the room, so the
//! joiner misses nothing and sees nothing twice.
//!
//! Every room event carries the room's position; a position that skips ahead means this
//! node never got some of the room's events (a shared log trimmed them while the node was
//! cut off), so the room's members here are closed with 1013 "try again later" and catch
//! up from history when they reconnect: a hole is never shown as a complete view.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::metrics::Metrics;
use crate::outbox::{Command, Outbox};
use crate::protocol;
use crate::protocol::{CLOSE_KICKED, CLOSE_REPLACED, CLOSE_TRY_AGAIN};
use crate::room::event::{Control, DisconnectReason, Event, Sequenced};
use crate::room::sequencer::Deliver;

#[derive(Debug, Default)]
struct HubRoom {
    /// This node's connections in the room.
    local: HashMap<u64, Outbox>,
    /// Every member's name (all nodes), with how many connections it has in the room.
    names: BTreeMap<Arc<str>, usize>,
    /// The position of the last event applied.
    pos: u64,
}

#[derive(Debug, Default)]
struct Inner {
    conns: HashMap<u64, Outbox>,
    rooms: HashMap<Arc<str>, HubRoom>,
    /// Rooms an operator closed (on any node; see [`Control::RoomClosed`]).
    closed: HashSet<Arc<str>>,
}

/// Delivery on one node; see the module docs.
#[derive(Debug)]
pub struct Hub {
    node: u64,
    inner: Mutex<Inner>,
    metrics: Arc<Metrics>,
}

impl Hub {
    /// A hub for node `node`.
    pub fn new(node: u64, metrics: Arc<Metrics>) -> Self {
        Self {
            node,
            inner: Mutex::default(),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes connection `conn` of this node reachable: events naming it go to `out`.
    pub fn attach(&self, conn: u64, out: Outbox) {
        self.lock().conns.insert(conn, out);
    }

    /// Forgets connection `conn` (its leaves were sequenced, or it never joined).
    pub fn detach(&self, conn: u64) {
        let mut inner = self.lock();
        inner.conns.remove(&conn);
        inner.rooms.retain(|_, r| {
            r.local.remove(&conn);
            !r.local.is_empty()
        });
    }

    /// The outbox of this node's connection `conn`, if attached.
    pub fn outbox(&self, conn: u64) -> Option<Outbox> {
        self.lock().conns.get(&conn).cloned()
    }

    /// This node's number (the `node` of its connections' ids).
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Asks every attached connection to close with `reason`; returns how many.
    pub fn close_all(&self, reason: crate::protocol::CloseReason) -> usize {
        let outs = self.outboxes();
        for out in &outs {
            out.close(reason);
        }
        outs.len()
    }

    /// Every attached connection's outbox.
    pub fn outboxes(&self) -> Vec<Outbox> {
        self.lock().conns.values().cloned().collect()
    }

    /// This node's connections in `room`, with their outboxes.
    pub fn local_members(&self, room: &str) -> Vec<(u64, Outbox)> {
        self.lock().rooms.get(room).map_or_else(Vec::new, |r| {
            r.local.iter().map(|(c, o)| (*c, o.clone())).collect()
        })
    }

    /// Whether an operator closed `room` (on any node).
    pub fn is_room_closed(&self, room: &str) -> bool {
        self.lock().closed.contains(room)
    }

    /// Member names of `room` as this node knows them (sorted), if it has members here.
    pub fn member_names(&self, room: &str) -> Option<Vec<Arc<str>>> {
        self.lock()
            .rooms
            .get(room)
            .map(|r| r.names.keys().cloned().collect())
    }
}

impl Deliver for Hub {
    fn missed(&self) {
        let n = self.close_all(CLOSE_TRY_AGAIN);
        tracing::error!(
            clients = n,
            "this node missed room events: closing every client with 1013 so it reconnects and catches up"
        );
    }

    fn control(&self, c: &Control) {
        match c {
            Control::Disconnect { conn, reason } => {
                if conn.node != self.node {
                    return;
                }
                if let Some(out) = self.outbox(conn.conn) {
                    out.close(match reason {
                        DisconnectReason::Replaced => CLOSE_REPLACED,
                        DisconnectReason::Kicked => CLOSE_KICKED,
                    });
                }
            }
            Control::RoomClosed { room, closed } => {
                let mut inner = self.lock();
                if !*closed {
                    inner.closed.remove(room);
                    return;
                }
                inner.closed.insert(room.clone());
                // Its members here leave it as for their own leave (each connection's
                // reader carries the command out between its requests).
                if let Some(r) = inner.rooms.get(room) {
                    for out in r.local.values() {
                        out.command(Command::LeaveRoom(room.clone()));
                    }
                }
            }
        }
    }

    fn deliver(&self, ev: &Sequenced) {
        let mut inner = self.lock();
        let Inner { conns, rooms, .. } = &mut *inner;
        if let Some(room) = rooms.get_mut(&ev.room) {
            if ev.pos != room.pos + 1 {
                self.metrics.delivery_gaps.inc();
                tracing::warn!(room = %ev.room, expected = room.pos + 1, got = ev.pos, "room events out of order");
                if ev.pos > room.pos + 1 {
                    // Events of this room never reached this node: its members here have
                    // a hole. They start over (1013) and catch up from history.
                    for out in room.local.values() {
                        out.close(CLOSE_TRY_AGAIN);
                    }
                }
            }
            room.pos = ev.pos;
        }
        match &ev.event {
            Event::Message(m) => {
                let Some(room) = rooms.get(&ev.room) else {
                    return;
                };
                let frame = protocol::message_frame(m);
                let now = std::time::Instant::now();
                for out in room.local.values() {
                    out.push_at(frame.clone(), now);
                }
            }
            Event::Join {
                user,
                conn,
                snapshot,
            } => {
                let joiner = (conn.node == self.node)
                    .then(|| conns.get(&conn.conn).cloned())
                    .flatten();
                if joiner.is_none() && !rooms.contains_key(&ev.room) {
                    return; // nobody here cares
                }
                let room = rooms.entry(ev.room.clone()).or_insert_with(|| HubRoom {
                    pos: ev.pos,
                    ..HubRoom::default()
                });
                match snapshot.as_deref() {
                    // The first local member: the snapshot says who is in the room.
                    Some(snap) if joiner.is_some() && room.local.is_empty() => {
                        room.names = snap.members.iter().map(|n| (n.clone(), 1)).collect();
                    }
                    _ => *room.names.entry(user.clone()).or_insert(0) += 1,
                }
                let presence = protocol::presence_frame(&ev.room, user, "join");
                let now = std::time::Instant::now();
                for out in room.local.values() {
                    out.push_at(presence.clone(), now);
                }
                if let Some(out) = joiner {
                    let members: Vec<Arc<str>> = room.names.keys().cloned().collect();
                    let history = snapshot.as_ref().map_or(&[][..], |s| &s.history[..]);
                    out.push(protocol::joined_frame(&ev.room, &members, history));
                    room.local.insert(conn.conn, out);
                }
            }
            Event::Leave { user, conn, silent } => {
                let Some(room) = rooms.get_mut(&ev.room) else {
                    return;
                };
                if let Some(n) = room.names.get_mut(user) {
                    *n -= 1;
                    if *n == 0 {
                        room.names.remove(user);
                    }
                }
                if conn.node == self.node {
                    if let Some(out) = room.local.remove(&conn.conn) {
                        if !silent {
                            out.push(protocol::left_frame(&ev.room));
                        }
                    }
                }
                let presence = protocol::presence_frame(&ev.room, user, "leave");
                let now = std::time::Instant::now();
                for out in room.local.values() {
                    out.push_at(presence.clone(), now);
                }
                if room.local.is_empty() {
                    rooms.remove(&ev.room);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CLOSE_TRY_AGAIN;
    use crate::room::event::{ConnId, Message, Snapshot};

    fn msg(room: &Arc<str>, pos: u64) -> Sequenced {
        Sequenced {
            room: room.clone(),
            pos,
            event: Event::Message(Arc::new(Message {
                room: room.clone(),
                seq: pos,
                from: Arc::from("bob"),
                text: Arc::from("hi"),
                ts: 0,
            })),
        }
    }

    #[test]
    fn a_room_whose_events_skip_ahead_closes_its_members_here_to_start_over() {
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(1, metrics.clone());
        let (out, _rx) = Outbox::new(100, 1 << 20, metrics.clone());
        hub.attach(7, out.clone());
        let room: Arc<str> = Arc::from("lobby");
        hub.deliver(&Sequenced {
            room: room.clone(),
            pos: 1,
            event: Event::Join {
                user: Arc::from("alice"),
                conn: ConnId { node: 1, conn: 7 },
                snapshot: Some(Arc::new(Snapshot::default())),
            },
        });
        hub.deliver(&msg(&room, 2));
        assert!(!out.is_closing(), "in order: nothing happens");
        hub.deliver(&msg(&room, 5));
        assert_eq!(out.close_reason(), Some(CLOSE_TRY_AGAIN));
        assert_eq!(metrics.delivery_gaps.get(), 1);
    }

    #[test]
    fn missed_events_close_every_client_here() {
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(1, metrics.clone());
        let (a, _ra) = Outbox::new(10, 1 << 20, metrics.clone());
        let (b, _rb) = Outbox::new(10, 1 << 20, metrics.clone());
        hub.attach(1, a.clone());
        hub.attach(2, b.clone());
        hub.missed();
        assert_eq!(a.close_reason(), Some(CLOSE_TRY_AGAIN));
        assert_eq!(b.close_reason(), Some(CLOSE_TRY_AGAIN));
    }
}
