//! Durable room history in an embedded SQLite database, written through throng's
//! [`Batcher`]: a post is sequenced and delivered at once, and its row joins the next
//! batch (one transaction per batch), so the hot path never waits on a disk write.
//!
//! Durability bound: a row reaches the disk within `max_delay` (5 ms) of its post, or
//! sooner when 256 rows are waiting. A `kill -9` loses at most the posts of the last
//! unflushed batch: those acknowledged in the last 5 ms (plus the time one transaction
//! takes). A clean shutdown flushes everything.
//!
//! If the disk falls more than [`QUEUE`] rows behind, further rows are not persisted
//! (they are still delivered and kept in memory); each is counted in
//! `throng_chat_history_write_failures_total` and logged, never dropped silently.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use throng::batch::{BatchMetrics, Batcher, TrySubmitError};

use crate::metrics::Metrics;

/// Rows that may wait for the writer before new ones are refused.
pub const QUEUE: usize = 65_536;
/// Most rows per transaction.
pub const BATCH: usize = 256;
/// Longest a row waits before its batch is written.
pub const MAX_DELAY: Duration = Duration::from_millis(5);

/// One message to persist.
#[derive(Debug, Clone)]
pub struct Row {
    pub room: Arc<str>,
    pub seq: u64,
    /// The message frame exactly as sent to members (JSON).
    pub frame: Utf8Bytes,
}

/// The history database.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    reader: Mutex<Connection>,
    writer: Batcher<Row, (), String>,
    metrics: Arc<Metrics>,
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // WAL: readers do not block the writer; NORMAL sync is durable at each checkpoint and
    // loses nothing on a process crash (only on an OS crash / power loss, the last
    // transactions).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS messages (
             room  TEXT    NOT NULL,
             seq   INTEGER NOT NULL,
             frame TEXT    NOT NULL,
             PRIMARY KEY (room, seq)
         ) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

fn write(conn: &Mutex<Connection>, rows: &[Row]) -> Result<Vec<()>, String> {
    let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO messages (room, seq, frame) VALUES (?1, ?2, ?3)",
            )
            .map_err(|e| e.to_string())?;
        for r in rows {
            stmt.execute(params![&*r.room, r.seq as i64, r.frame.as_str()])
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(vec![(); rows.len()])
}

impl Store {
    /// Opens (or creates) `dir/history.sqlite3` and starts the batched writer. Call inside
    /// a tokio runtime.
    ///
    /// # Errors
    ///
    /// The directory or database cannot be created or opened.
    pub fn open(dir: &Path, metrics: Arc<Metrics>) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("history.sqlite3");
        let reader = open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let writer_conn = Arc::new(Mutex::new(
            open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?,
        ));
        let writer = Batcher::builder()
            .max_items(BATCH)
            .max_delay(MAX_DELAY)
            .max_in_flight(1) // one writer: SQLite serializes writes anyway
            .queue_capacity(QUEUE)
            .spawn(move |rows: Vec<Row>| {
                let conn = writer_conn.clone();
                async move {
                    let n = rows.len();
                    let written = tokio::task::spawn_blocking(move || write(&conn, &rows))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r);
                    if let Err(e) = &written {
                        tracing::error!(error = %e, rows = n, "history batch not persisted");
                    }
                    written
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Self {
            path,
            reader: Mutex::new(reader),
            writer,
            metrics,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues `row` for the next batch without waiting.
    pub fn append(&self, row: Row) {
        match self.writer.try_submit(row) {
            // Detached: a failed batch is logged by the writer and counted in its metrics.
            Ok(handle) => drop(handle),
            Err(TrySubmitError::Full(row) | TrySubmitError::Closed(row)) => {
                self.metrics.history_write_failures.inc();
                tracing::error!(room = %row.room, seq = row.seq, "history writer is behind; message not persisted");
            }
        }
    }

    /// The last sequence number of `room` and its last `n` frames, oldest first.
    pub fn load_room(&self, room: &str, n: usize) -> (u64, Vec<(u64, Utf8Bytes)>) {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let max: Option<i64> = conn
            .query_row(
                "SELECT MAX(seq) FROM messages WHERE room = ?1",
                [room],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
            .flatten();
        drop(conn);
        let frames = self.before(room, u64::MAX, n);
        (max.unwrap_or(0) as u64, frames)
    }

    /// Up to `limit` frames of `room` with `seq < before`, oldest first.
    pub fn before(&self, room: &str, before: u64, limit: usize) -> Vec<(u64, Utf8Bytes)> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let mut out: Vec<(u64, Utf8Bytes)> = match conn.prepare_cached(
            "SELECT seq, frame FROM messages WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        ) {
            Ok(mut stmt) => stmt
                .query_map(params![room, before, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, Utf8Bytes::from(r.get::<_, String>(1)?)))
                })
                .map(|rows| rows.filter_map(Result::ok).collect())
                .unwrap_or_default(),
            Err(e) => {
                tracing::error!(error = %e, "history read failed");
                Vec::new()
            }
        };
        out.reverse();
        out
    }

    /// Rows refused at the queue plus rows of failed batches.
    pub fn failures(&self) -> u64 {
        self.metrics.history_write_failures.get() + self.writer.metrics().failed
    }

    /// The writer's counters.
    pub fn writer_metrics(&self) -> BatchMetrics {
        self.writer.metrics()
    }

    /// Flushes every queued row (within `timeout`) and stops the writer.
    pub async fn shutdown(&self, timeout: Duration) -> BatchMetrics {
        self.writer.shutdown(timeout).await
    }
}
