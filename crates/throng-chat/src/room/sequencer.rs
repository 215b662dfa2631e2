//! The [`Sequencer`] seam: what puts a room's events in order, makes them durable and
//! hands them to each node's [`Deliver`] target.
//!
//! # Rules every implementation keeps
//!
//! These are the guarantees the protocol promises; `tests/sequencer_contract.rs` checks
//! them against every implementation (the local one with SQLite, with memory, and with a
//! failing disk), and the next implementation runs the same suite.
//!
//! 1. **One order per room.** Every event of a room (message, join, leave) gets a
//!    position; the [`Deliver`] target of every node sees a room's events in that order,
//!    each once, with `pos` rising by one.
//! 2. **`seq` rises by one and is never reused.** A room's first message is 1; each next
//!    message one more, with no gap, also across restarts: the source of truth is what was
//!    committed, never a counter that a crash can roll back.
//! 3. **Durable before visible.** A message is delivered, and [`Sequencer::post`]
//!    resolves `Ok`, only after it is durable (for the local sequencer: after the
//!    transaction holding it has committed). Nothing a client saw can be lost.
//! 4. **Delivered before acknowledged.** When `post` resolves `Ok`, the message has
//!    already been delivered on the poster's node, so the poster sees its `message`
//!    before its `ack`. Likewise `join` and `leave` resolve after their event was
//!    delivered.
//! 5. **A failure leaves no trace.** A post that fails (`Unavailable`) is not delivered,
//!    is not in history, and uses up no `seq`: the next successful post gets it.
//! 6. **Exactly the members present.** A message reaches exactly the connections whose
//!    join came before it and whose leave (if any) after it in the room's order. Only a
//!    member may post, except [`ConnId::SYSTEM`](super::ConnId::SYSTEM) (an operator's
//!    system message), which may post in any room that has members.
//! 7. **Joins see a consistent past.** A join delivered to the joiner's node carries a
//!    [`Snapshot`](super::Snapshot): the members after the join and the last messages
//!    before it; the joiner receives every later event.
//! 8. **Retries are safe.** A post with a client id that the same user already posted in
//!    that room within the dedupe window resolves with the original `seq`
//!    (`duplicate: true`) and is not delivered again.
//! 9. **Bounded.** No call waits without bound and nothing is buffered without bound: a
//!    sequencer that cannot keep up or cannot write answers `Unavailable` with a retry
//!    hint.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::event::{ConnId, Control, Message, Sequenced};

/// Receives sequenced events on one node, in each room's order (rule 1). Called from the
/// sequencer's own thread or task: it must not block.
pub trait Deliver: Send + Sync + 'static {
    /// Applies one event.
    fn deliver(&self, event: &Sequenced);

    /// Applies one [`Control`] (every node gets each, in the order they were sent). The
    /// default ignores it.
    fn control(&self, c: &Control) {
        let _ = c;
    }

    /// Events meant for this node were lost before it could apply them (a shared log
    /// trimmed them while the node was cut off): its view of its rooms is stale. The
    /// target must have its connections start over (the hub closes them with 1013, so
    /// they reconnect and catch up from history). The default ignores it.
    fn missed(&self) {}
}

/// A post to sequence.
#[derive(Debug, Clone)]
pub struct PostRequest {
    pub room: Arc<str>,
    pub conn: ConnId,
    pub from: Arc<str>,
    pub text: Arc<str>,
    /// The client's id for the post: a retry with the same id is not posted twice.
    pub client_id: Option<Arc<str>>,
}

/// What a successful post returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostReceipt {
    /// The message's place in its room.
    pub seq: u64,
    /// `true` if this was a retry of a post already sequenced (nothing was delivered now).
    pub duplicate: bool,
}

/// A join or a leave to sequence.
#[derive(Debug, Clone)]
pub struct MemberRequest {
    pub room: Arc<str>,
    pub conn: ConnId,
    pub user: Arc<str>,
}

/// A history read: up to `limit` messages with `seq < before`, at most `max_bytes` of
/// them (by [`Message::weight`]), oldest first.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub room: Arc<str>,
    pub before: Option<u64>,
    pub limit: usize,
    pub max_bytes: usize,
}

/// A room and how many connections are in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    pub room: String,
    pub members: usize,
}

/// Why the sequencer refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeqError {
    /// The connection is not a member of the room.
    NotInRoom,
    /// The room does not exist and the server holds its maximum number of rooms.
    TooManyRooms,
    /// The event could not be made durable now (disk full, I/O error, overloaded); it was
    /// not delivered and may be retried after `retry_after`.
    Unavailable {
        retry_after: Duration,
        reason: String,
    },
    /// The sequencer has shut down.
    Closed,
}

impl std::fmt::Display for SeqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeqError::NotInRoom => f.write_str("not in that room"),
            SeqError::TooManyRooms => f.write_str("the server holds its maximum number of rooms"),
            SeqError::Unavailable { reason, .. } => write!(f, "unavailable: {reason}"),
            SeqError::Closed => f.write_str("shutting down"),
        }
    }
}

impl std::error::Error for SeqError {}

/// Whether the sequencer can make events durable right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The last commit failed, with why; posts are answered `Unavailable` until one
    /// succeeds again.
    Failing(String),
}

/// Puts rooms' events in order and makes them durable; see the module docs for the rules.
pub trait Sequencer: Send + Sync + 'static {
    /// Sequences a post by a member of the room.
    fn post(&self, req: PostRequest) -> BoxFuture<'_, Result<PostReceipt, SeqError>>;
    /// Adds the connection to the room (creating it). Joining a room the connection is
    /// already in is a no-op that still succeeds.
    fn join(&self, req: MemberRequest) -> BoxFuture<'_, Result<(), SeqError>>;
    /// Removes the connection from the room; `silent` when the connection is gone.
    fn leave(&self, req: MemberRequest, silent: bool) -> BoxFuture<'_, Result<(), SeqError>>;
    /// Reads history (rule: only what is durable).
    fn history(&self, q: HistoryQuery) -> BoxFuture<'_, Result<Vec<Arc<Message>>, SeqError>>;
    /// Every room with members, sorted by name.
    fn rooms(&self) -> BoxFuture<'_, Result<Vec<RoomInfo>, SeqError>>;
    /// Whether writes currently succeed.
    fn health(&self) -> Health;
    /// Finishes what was accepted, then stops; later calls get [`SeqError::Closed`].
    fn shutdown(&self) -> BoxFuture<'_, ()>;
    /// Hands `c` to every node's [`Deliver`] target, this one's included, in the order
    /// of the calls (a broker-backed sequencer through the broker, so every node gets
    /// it; the local one at once). `Ok` means it was sent, not that every node applied
    /// it.
    fn control(&self, c: Control) -> BoxFuture<'_, Result<(), SeqError>>;
    /// `true` once this node can no longer take part (a broker-backed node that lost its
    /// lease): the server then closes its clients with 1013 "try again later" so they
    /// reconnect, to another node, and catch up from history. Never for the local
    /// sequencer.
    fn fenced(&self) -> bool {
        false
    }
    /// Applies the history retention: deletes messages older than `older_than_ms` (Unix
    /// ms) and, per room, all but the newest `keep_rows`, never a room's newest message
    /// (so `seq` is never reused). Returns how many were deleted. An implementation whose
    /// history has its own bound may delete nothing (the default).
    fn prune(
        &self,
        older_than_ms: Option<u64>,
        keep_rows: Option<u64>,
    ) -> BoxFuture<'_, Result<u64, SeqError>> {
        let _ = (older_than_ms, keep_rows);
        Box::pin(async { Ok(0) })
    }
}

impl std::fmt::Debug for dyn Deliver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deliver")
    }
}

impl std::fmt::Debug for dyn Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sequencer")
    }
}
