//! Rooms: sequencing split from delivery.
//!
//! - [`Sequencer`] ([`sequencer`]) puts each room's events (posts, joins, leaves) in one
//!   order, makes posts durable, and hands every event to each node's [`Deliver`] target.
//!   Its rules, which every implementation keeps and `tests/sequencer_contract.rs`
//!   checks, are on the trait's module.
//! - [`LocalSequencer`] ([`local`]) is the single-process implementation: one thread,
//!   group commit into SQLite ([`SqliteStorage`]) or nothing ([`MemoryStorage`]).
//! - [`Hub`] ([`hub`]) is this node's delivery: it turns events into frames once and
//!   queues them to the members' outboxes.
//! - [`Names`] ([`names`]) is the name registry; [`LocalNames`] the in-process one.
//! - Events ([`event`]) are protocol-neutral; [`crate::protocol`] owns the wire frames.
//!
//! - [`RedisSequencer`] ([`redis`]) and [`RedisNames`] put several nodes on one Redis.
//!
//! A broker-backed deployment implements [`Sequencer`] and [`Names`]; connection handling
//! and the hub do not change.

pub mod event;
pub mod hub;
pub mod local;
pub mod names;
pub mod redis;
pub mod sequencer;

pub use self::redis::{ClusterUsers, RedisConfig, RedisNames, RedisSequencer, RedisUsers};
pub use event::{
    ConnId, Control, DisconnectReason, Event, Message, Sequenced, Snapshot, SYSTEM_SENDER,
};
pub use hub::Hub;
pub use local::{LocalConfig, LocalSequencer, MemoryStorage, SqliteStorage, Storage, SyncMode};
pub use names::{LocalNames, NameError, Names};
pub use sequencer::{
    Deliver, Health, HistoryQuery, MemberRequest, PostReceipt, PostRequest, RoomInfo, SeqError,
    Sequencer,
};

use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock in Unix milliseconds (message timestamps).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
