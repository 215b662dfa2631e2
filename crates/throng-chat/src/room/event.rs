//! Room events as the sequencer produces them: protocol-neutral (no JSON, no frames).
//! [`crate::protocol`] turns them into wire frames.

use std::sync::Arc;

/// A connection somewhere in the cluster: the node it is on and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// The node holding the connection (0 for a single-process server).
    pub node: u64,
    /// The connection's id on that node (unique for the node's life).
    pub conn: u64,
}

impl ConnId {
    /// The server itself, posting a system message ([`SYSTEM_SENDER`]): the sequencer
    /// accepts its posts in any room that has members.
    pub const SYSTEM: ConnId = ConnId {
        node: u64::MAX,
        conn: 0,
    };
}

/// The `from` of a system message: not a valid user name, so nobody can pass for it.
pub const SYSTEM_SENDER: &str = "[server]";

/// A chat message, as stored and delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The room it was posted to.
    pub room: Arc<str>,
    /// Its place in the room: the first message is 1, each next one one more.
    pub seq: u64,
    /// The poster's name.
    pub from: Arc<str>,
    /// The text.
    pub text: Arc<str>,
    /// When it was sequenced, Unix milliseconds.
    pub ts: u64,
}

impl Message {
    /// Roughly what the message costs in memory and on the wire, for byte budgets.
    pub fn weight(&self) -> usize {
        96 + self.room.len() + self.from.len() + self.text.len()
    }
}

/// What joining returns to the joiner: who is in the room after the join, and the room's
/// most recent messages before it, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Member names, sorted, each once, the joiner included.
    pub members: Vec<Arc<str>>,
    /// The last messages sequenced before the join, oldest first (bounded in count and
    /// bytes).
    pub history: Vec<Arc<Message>>,
}

/// One thing that happened in a room.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message was posted (and is durable).
    Message(Arc<Message>),
    /// A connection joined. `snapshot` is present when the event is delivered to the node
    /// holding the joiner.
    Join {
        /// The joiner's name.
        user: Arc<str>,
        /// The joining connection.
        conn: ConnId,
        /// Members and recent history as of the join, for the joiner's `joined` reply.
        snapshot: Option<Arc<Snapshot>>,
    },
    /// A connection left. `silent`: the leaver is gone (disconnect), so no `left` reply.
    Leave {
        /// The leaver's name.
        user: Arc<str>,
        /// The leaving connection.
        conn: ConnId,
        /// No `left` reply to the leaver.
        silent: bool,
    },
}

/// An event with its place in its room's total order.
#[derive(Debug, Clone)]
pub struct Sequenced {
    /// The room.
    pub room: Arc<str>,
    /// The event's position among all events of the room (messages and presence) since
    /// the room was last loaded: each event one more than the one before.
    pub pos: u64,
    /// What happened.
    pub event: Event,
}

/// Why a connection is told to go by [`Control::Disconnect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The same proven identity signed in again, possibly on another node (4001).
    Replaced,
    /// An operator disconnected the user (4003).
    Kicked,
}

impl DisconnectReason {
    /// The form stored in a shared log (`r`, `k`).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Replaced => "r",
            DisconnectReason::Kicked => "k",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "r" => Some(DisconnectReason::Replaced),
            "k" => Some(DisconnectReason::Kicked),
            _ => None,
        }
    }
}

/// Something one node asks of every node: it is not a room event (no `pos`, no
/// history), but it reaches every node's [`Deliver`](super::Deliver) target, so an
/// action taken on one node holds on all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Close connection `conn`, wherever it is.
    Disconnect {
        /// The connection to close.
        conn: ConnId,
        /// Why (its close code).
        reason: DisconnectReason,
    },
    /// An operator closed (`closed: true`) or reopened `room`: a closed room refuses
    /// joins, and its members are taken out of it.
    RoomClosed {
        /// The room.
        room: Arc<str>,
        /// Closed (`true`) or open again.
        closed: bool,
    },
}
