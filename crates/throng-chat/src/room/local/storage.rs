//! Where the local sequencer keeps messages: the [`Storage`] trait, and
//! [`MemoryStorage`] for `--memory`. The SQLite one is in [`super::sqlite`].

use std::sync::Arc;

use crate::room::event::Message;
use crate::room::sequencer::HistoryQuery;

/// A storage failure (disk full, I/O error, corrupt file), as text for logs and replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// One message to commit, with the client's id for retries.
#[derive(Debug, Clone)]
pub struct Row {
    pub msg: Arc<Message>,
    pub client_id: Option<Arc<str>>,
}

/// A post with a client id, as remembered for retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedId {
    pub user: Arc<str>,
    pub id: Arc<str>,
    pub seq: u64,
    pub ts: u64,
}

/// What a room looks like on disk when it is loaded.
#[derive(Debug, Clone, Default)]
pub struct RoomLoad {
    /// The last committed `seq` (0 for a room never posted to).
    pub last_seq: u64,
    /// The last messages, oldest first.
    pub recent: Vec<Arc<Message>>,
    /// Posts with a client id among the room's last posts, for retries.
    pub ids: Vec<PostedId>,
}

/// Reads history without going through the sequencer's thread (so reads never wait
/// behind commits, nor commits behind reads).
pub trait HistoryReader: Send + Sync + 'static {
    /// Up to `q.limit` messages with `seq < q.before`, at most `q.max_bytes`, oldest first.
    fn read(&self, q: &HistoryQuery) -> Result<Vec<Arc<Message>>, StoreError>;
}

/// Durable message storage for the local sequencer. It is owned by the sequencer's
/// thread, so its methods may block.
pub trait Storage: Send + 'static {
    /// The room's last committed `seq`, its last `recent` messages (at most `max_bytes`),
    /// and the client ids among its last `ids` posts made at or after `ids_since_ms`.
    fn load_room(
        &mut self,
        room: &str,
        recent: usize,
        max_bytes: usize,
        ids: usize,
        ids_since_ms: u64,
    ) -> Result<RoomLoad, StoreError>;
    /// Commits `rows` in one transaction: all or none. A row whose `(room, seq)` exists
    /// is an error, never an overwrite.
    fn commit(&mut self, rows: &[Row]) -> Result<(), StoreError>;
    /// Tries a small write, to learn whether a failing disk works again.
    fn probe(&mut self) -> Result<(), StoreError>;
    /// `true` if messages outlive the process (history may then be read from here).
    fn is_durable(&self) -> bool;
    /// A reader for history, for durable storage.
    fn reader(&self) -> Option<Arc<dyn HistoryReader>>;
    /// Deletes messages posted before `older_than_ms` (Unix ms) and, per room, all but
    /// the newest `keep_rows`; never a room's newest message, which holds its `seq`.
    /// Returns how many were deleted. Storage that keeps nothing deletes nothing.
    fn prune(
        &mut self,
        older_than_ms: Option<u64>,
        keep_rows: Option<u64>,
    ) -> Result<u64, StoreError> {
        let _ = (older_than_ms, keep_rows);
        Ok(0)
    }
}

/// `--memory`: nothing is written; a room's history lives in the sequencer's cache and
/// goes when the room empties.
#[derive(Debug, Default)]
pub struct MemoryStorage;

impl Storage for MemoryStorage {
    fn load_room(
        &mut self,
        _: &str,
        _: usize,
        _: usize,
        _: usize,
        _: u64,
    ) -> Result<RoomLoad, StoreError> {
        Ok(RoomLoad::default())
    }
    fn commit(&mut self, _: &[Row]) -> Result<(), StoreError> {
        Ok(())
    }
    fn probe(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    fn is_durable(&self) -> bool {
        false
    }
    fn reader(&self) -> Option<Arc<dyn HistoryReader>> {
        None
    }
}

impl<S: Storage + ?Sized> Storage for Box<S> {
    fn load_room(
        &mut self,
        room: &str,
        recent: usize,
        max_bytes: usize,
        ids: usize,
        ids_since_ms: u64,
    ) -> Result<RoomLoad, StoreError> {
        (**self).load_room(room, recent, max_bytes, ids, ids_since_ms)
    }
    fn commit(&mut self, rows: &[Row]) -> Result<(), StoreError> {
        (**self).commit(rows)
    }
    fn probe(&mut self) -> Result<(), StoreError> {
        (**self).probe()
    }
    fn is_durable(&self) -> bool {
        (**self).is_durable()
    }
    fn reader(&self) -> Option<Arc<dyn HistoryReader>> {
        (**self).reader()
    }
    fn prune(
        &mut self,
        older_than_ms: Option<u64>,
        keep_rows: Option<u64>,
    ) -> Result<u64, StoreError> {
        (**self).prune(older_than_ms, keep_rows)
    }
}
