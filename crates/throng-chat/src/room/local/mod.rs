//! The single-process [`Sequencer`]: one thread owns every room and the storage.
//!
//! Requests arrive on a bounded queue and are handled in arrival order. Consecutive posts
//! form a batch: each gets the next `seq` of its room, the batch is committed in one
//! transaction, and only after the commit are its messages delivered (in order) and
//! acknowledged. The thread takes whatever is waiting when it becomes free, so a lone post
//! waits for one commit and a burst shares one (group commit, no fixed delay). A join or a
//! leave ends the batch before it: membership never changes inside a batch, so every post
//! is checked against, and delivered to, exactly the members of its moment, and a join's
//! snapshot holds only committed messages.
//!
//! If the commit fails (disk full, I/O error), every post of the batch is answered
//! `Unavailable`, none is delivered, no `seq` is used up, and [`Health`] turns `Failing`
//! (so `/readyz` answers 503). While failing, the thread probes the storage every second
//! and turns healthy again by itself when a write succeeds.
//!
//! Rooms live in memory only while they have members; the next join loads `seq`, recent
//! messages and recent client ids back from the storage. The history cache has one byte
//! budget across rooms. History reads of durable storage run on the blocking pool through
//! the storage's own reader connections, never on this thread and never on a runtime
//! thread.

mod sqlite;
mod state;
mod storage;

pub use sqlite::{SqliteReader, SqliteStorage, SyncMode};
pub use storage::{HistoryReader, MemoryStorage, PostedId, RoomLoad, Row, Storage, StoreError};

use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{oneshot, Semaphore};

use super::event::{ConnId, Control, Event, Message, Sequenced, Snapshot};
use super::now_ms;
use super::sequencer::{
    Deliver, Health, HistoryQuery, MemberRequest, PostReceipt, PostRequest, RoomInfo, SeqError,
    Sequencer,
};
use crate::metrics::Metrics;
use state::{tail, Rooms};

/// The local sequencer's settings.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Messages kept in memory per room (in `--memory`, the room's whole history).
    pub history: usize,
    /// Messages in a joiner's snapshot.
    pub join_history: usize,
    /// Bytes of a snapshot's or a history reply's messages, at most.
    pub max_reply_bytes: usize,
    /// Bytes of cached messages across all rooms.
    pub cache_bytes: usize,
    /// Rooms with members, at most.
    pub max_rooms: usize,
    /// Requests waiting for the thread, at most; beyond it, `Unavailable`.
    pub queue: usize,
    /// Most posts per batch.
    pub batch: usize,
    /// How long a client id is remembered for retries.
    pub dedupe_window: Duration,
    /// Client ids remembered per room.
    pub dedupe_ids: usize,
    /// This node's id in [`ConnId::node`](crate::room::ConnId::node).
    pub node: u64,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            history: 1000,
            join_history: 50,
            max_reply_bytes: 256 * 1024,
            cache_bytes: 64 * 1024 * 1024,
            max_rooms: 10_000,
            queue: 16_384,
            batch: 512,
            dedupe_window: Duration::from_secs(600),
            dedupe_ids: 1024,
            node: 0,
        }
    }
}

/// How long a client is told to wait after a failed commit.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// How long after an overloaded queue.
pub const RETRY_AFTER_BUSY: Duration = Duration::from_millis(100);
/// How often a failing storage is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// History reads running at once.
const READS: usize = 4;

type Reply<T> = oneshot::Sender<Result<T, SeqError>>;
/// (room, user, client id) of a post in the batch being built.
type RetryKey = (Arc<str>, Arc<str>, Arc<str>);

enum Command {
    Post(PostRequest, Reply<PostReceipt>),
    Join(MemberRequest, Reply<()>),
    Leave(MemberRequest, bool, Reply<()>),
    History(HistoryQuery, Reply<Vec<Arc<Message>>>),
    Rooms(Reply<Vec<RoomInfo>>),
    Prune(Option<u64>, Option<u64>, Reply<u64>),
    Shutdown,
}

#[derive(Debug)]
struct Shared {
    health: Mutex<Health>,
    metrics: Arc<Metrics>,
}

impl Shared {
    fn set_health(&self, h: Health) {
        self.metrics
            .store_healthy
            .set(i64::from(matches!(h, Health::Ok)));
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = h;
    }
}

/// The single-process sequencer; see the module docs.
#[derive(Debug)]
pub struct LocalSequencer {
    tx: SyncSender<Command>,
    shared: Arc<Shared>,
    reader: Option<Arc<dyn HistoryReader>>,
    reads: Semaphore,
    max_reply_bytes: usize,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Where [`Sequencer::control`] goes (the same target as the events).
    deliver: Arc<dyn Deliver>,
}

impl std::fmt::Debug for dyn HistoryReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistoryReader")
    }
}

impl LocalSequencer {
    /// Starts the sequencer's thread over `storage`, delivering to `deliver`.
    ///
    /// # Errors
    ///
    /// The thread could not be spawned.
    pub fn start<S: Storage>(
        storage: S,
        cfg: LocalConfig,
        deliver: Arc<dyn Deliver>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = std_mpsc::sync_channel(cfg.queue.max(1));
        let shared = Arc::new(Shared {
            health: Mutex::new(Health::Ok),
            metrics,
        });
        shared.set_health(Health::Ok);
        let reader = storage.reader();
        let max_reply_bytes = cfg.max_reply_bytes;
        let control_target = deliver.clone();
        let worker = Worker {
            rooms: Rooms::new(cfg.history, cfg.cache_bytes),
            storage,
            cfg,
            deliver,
            shared: shared.clone(),
            healthy: true,
        };
        let thread = std::thread::Builder::new()
            .name("throng-sequencer".into())
            .spawn(move || worker.run(rx))?;
        Ok(Self {
            tx,
            shared,
            reader,
            reads: Semaphore::new(READS),
            max_reply_bytes,
            thread: Mutex::new(Some(thread)),
            deliver: control_target,
        })
    }

    fn call<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> BoxFuture<'static, Result<T, SeqError>> {
        let (reply, rx) = oneshot::channel();
        let sent = match self.tx.try_send(make(reply)) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(SeqError::Unavailable {
                retry_after: RETRY_AFTER_BUSY,
                reason: "the sequencer is overloaded".into(),
            }),
            Err(TrySendError::Disconnected(_)) => Err(SeqError::Closed),
        };
        async move {
            match sent {
                Ok(rx) => rx.await.unwrap_or(Err(SeqError::Closed)),
                Err(e) => Err(e),
            }
        }
        .boxed()
    }
}

impl Sequencer for LocalSequencer {
    fn post(&self, req: PostRequest) -> BoxFuture<'_, Result<PostReceipt, SeqError>> {
        self.call(|r| Command::Post(req, r))
    }

    fn join(&self, req: MemberRequest) -> BoxFuture<'_, Result<(), SeqError>> {
        self.call(|r| Command::Join(req, r))
    }

    fn leave(&self, req: MemberRequest, silent: bool) -> BoxFuture<'_, Result<(), SeqError>> {
        self.call(move |r| Command::Leave(req, silent, r))
    }

    fn history(&self, mut q: HistoryQuery) -> BoxFuture<'_, Result<Vec<Arc<Message>>, SeqError>> {
        q.max_bytes = q.max_bytes.min(self.max_reply_bytes);
        let Some(reader) = self.reader.clone() else {
            return self.call(|r| Command::History(q, r));
        };
        async move {
            let _permit = self.reads.acquire().await.map_err(|_| SeqError::Closed)?;
            tokio::task::spawn_blocking(move || reader.read(&q))
                .await
                .map_err(|e| SeqError::Unavailable {
                    retry_after: RETRY_AFTER_FAILURE,
                    reason: e.to_string(),
                })?
                .map_err(|e| SeqError::Unavailable {
                    retry_after: RETRY_AFTER_FAILURE,
                    reason: e.0,
                })
        }
        .boxed()
    }

    fn rooms(&self) -> BoxFuture<'_, Result<Vec<RoomInfo>, SeqError>> {
        self.call(Command::Rooms)
    }

    fn prune(
        &self,
        older_than_ms: Option<u64>,
        keep_rows: Option<u64>,
    ) -> BoxFuture<'_, Result<u64, SeqError>> {
        self.call(move |r| Command::Prune(older_than_ms, keep_rows, r))
    }

    fn health(&self) -> Health {
        self.shared
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn control(&self, c: Control) -> BoxFuture<'_, Result<(), SeqError>> {
        // One node: nothing to send anywhere.
        self.deliver.control(&c);
        futures::future::ready(Ok(())).boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        // Blocking send: the queue is bounded and the thread is draining it.
        let tx = self.tx.clone();
        async move {
            let Some(thread) = thread else { return };
            let _ = tokio::task::spawn_blocking(move || {
                let _ = tx.send(Command::Shutdown);
                let _ = thread.join();
            })
            .await;
        }
        .boxed()
    }
}

/// The thread's state.
struct Worker<S> {
    rooms: Rooms,
    storage: S,
    cfg: LocalConfig,
    deliver: Arc<dyn Deliver>,
    shared: Arc<Shared>,
    healthy: bool,
}

struct Pending {
    req: PostRequest,
    reply: Reply<PostReceipt>,
}

impl<S: Storage> Worker<S> {
    fn run(mut self, rx: std_mpsc::Receiver<Command>) {
        let mut batch: Vec<Pending> = Vec::new();
        'outer: loop {
            let first = if self.healthy {
                match rx.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                }
            } else {
                match rx.recv_timeout(PROBE_EVERY) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => {
                        self.probe();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut next = Some(first);
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Post(req, reply) => {
                        batch.push(Pending { req, reply });
                        if batch.len() >= self.cfg.batch {
                            self.commit(&mut batch);
                        }
                    }
                    Command::Shutdown => {
                        self.commit(&mut batch);
                        break 'outer;
                    }
                    other => {
                        self.commit(&mut batch);
                        self.handle(other);
                    }
                }
                next = rx.try_recv().ok();
            }
            self.commit(&mut batch);
        }
        self.commit(&mut batch);
        // Whatever is still queued is refused, not dropped silently.
        while let Ok(cmd) = rx.try_recv() {
            refuse(cmd);
        }
    }

    fn probe(&mut self) {
        match self.storage.probe() {
            Ok(()) => {
                tracing::info!("history storage works again");
                self.healthy = true;
                self.shared.set_health(Health::Ok);
            }
            Err(e) => tracing::debug!(error = %e, "history storage still failing"),
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Join(req, reply) => {
                let _ = reply.send(self.join(req));
            }
            Command::Leave(req, silent, reply) => {
                let _ = reply.send(self.leave(req, silent));
            }
            Command::History(q, reply) => {
                let _ = reply.send(Ok(self.history(&q)));
            }
            Command::Rooms(reply) => {
                let mut out: Vec<RoomInfo> = self
                    .rooms
                    .map
                    .values()
                    .map(|r| RoomInfo {
                        room: r.name.to_string(),
                        members: r.members.len(),
                    })
                    .collect();
                out.sort_by(|a, b| a.room.cmp(&b.room));
                let _ = reply.send(Ok(out));
            }
            Command::Prune(older, keep, reply) => {
                let r = self.storage.prune(older, keep).map_err(|e| unavailable(&e));
                if let Ok(n) = &r {
                    if *n > 0 {
                        tracing::info!(deleted = n, "history retention applied");
                    }
                }
                let _ = reply.send(r);
            }
            Command::Post(..) | Command::Shutdown => unreachable!("handled by run"),
        }
    }

    fn since_ms(&self) -> u64 {
        now_ms().saturating_sub(self.cfg.dedupe_window.as_millis() as u64)
    }

    /// Sequences, commits, then delivers and answers the posts of `batch`.
    fn commit(&mut self, batch: &mut Vec<Pending>) {
        if batch.is_empty() {
            return;
        }
        // Next seq per room within this batch; (room, user, id) -> seq for retries inside it.
        let mut next: std::collections::HashMap<Arc<str>, u64> = Default::default();
        let mut ids: std::collections::HashMap<RetryKey, u64> = Default::default();
        let mut rows = Vec::with_capacity(batch.len());
        // What each pending post becomes: a new row, a retry of `seq`, or an error.
        let mut plan: Vec<Result<(u64, bool), SeqError>> = Vec::with_capacity(batch.len());
        let ts = now_ms();
        for p in batch.iter() {
            let req = &p.req;
            let Some(room) = self.rooms.map.get(&req.room) else {
                plan.push(Err(SeqError::NotInRoom));
                continue;
            };
            if req.conn != ConnId::SYSTEM && !room.members.contains_key(&req.conn) {
                plan.push(Err(SeqError::NotInRoom));
                continue;
            }
            if let Some(id) = &req.client_id {
                let key = (req.room.clone(), req.from.clone(), id.clone());
                let earlier = room
                    .posted(&req.from, id)
                    .or_else(|| ids.get(&key).copied());
                if let Some(seq) = earlier {
                    plan.push(Ok((seq, true)));
                    continue;
                }
            }
            let seq = next.entry(req.room.clone()).or_insert(room.last_seq);
            *seq += 1;
            if let Some(id) = &req.client_id {
                ids.insert((req.room.clone(), req.from.clone(), id.clone()), *seq);
            }
            rows.push(Row {
                msg: Arc::new(Message {
                    room: room.name.clone(),
                    seq: *seq,
                    from: req.from.clone(),
                    text: req.text.clone(),
                    ts,
                }),
                client_id: req.client_id.clone(),
            });
            plan.push(Ok((*seq, false)));
        }
        let started = Instant::now();
        let committed = if rows.is_empty() {
            Ok(())
        } else {
            self.storage.commit(&rows)
        };
        let m = &self.shared.metrics;
        match &committed {
            Ok(()) if !rows.is_empty() => {
                m.commits.inc();
                m.rows_written.inc_by(rows.len() as u64);
                m.commit_seconds.observe(started.elapsed().as_secs_f64());
                m.commit_rows.observe(rows.len() as f64);
                if !self.healthy {
                    tracing::info!("history storage works again");
                    self.healthy = true;
                    self.shared.set_health(Health::Ok);
                }
            }
            Ok(()) => {}
            Err(e) => {
                m.commit_failures.inc();
                m.rows_failed.inc_by(rows.len() as u64);
                tracing::error!(error = %e, rows = rows.len(), "history commit failed; its posts were refused");
                self.healthy = false;
                self.shared.set_health(Health::Failing(e.0.clone()));
            }
        }
        let mut rows = rows.into_iter();
        for (p, planned) in batch.drain(..).zip(plan) {
            let answer = match (planned, &committed) {
                (Err(e), _) => Err(e),
                (Ok((seq, true)), Ok(())) => Ok(PostReceipt {
                    seq,
                    duplicate: true,
                }),
                // A retry of a post in this failed batch failed with it.
                (Ok((seq, true)), Err(e)) if seq > self.last_seq(&p.req.room) => {
                    Err(unavailable(e))
                }
                (Ok((seq, true)), Err(_)) => Ok(PostReceipt {
                    seq,
                    duplicate: true,
                }),
                (Ok((seq, false)), Ok(())) => {
                    let row = rows.next().expect("one row per new post");
                    self.apply(row, &p.req);
                    Ok(PostReceipt {
                        seq,
                        duplicate: false,
                    })
                }
                (Ok((_, false)), Err(e)) => Err(unavailable(e)),
            };
            let _ = p.reply.send(answer);
        }
    }

    fn last_seq(&self, room: &str) -> u64 {
        self.rooms.map.get(room).map_or(0, |r| r.last_seq)
    }

    /// A committed row: the room moves on, caches it, remembers its id, delivers it.
    fn apply(&mut self, row: Row, req: &PostRequest) {
        let since = self.since_ms();
        let keep = self.cfg.dedupe_ids;
        let Some(room) = self.rooms.touch(&req.room) else {
            return;
        };
        room.last_seq = row.msg.seq;
        room.pos += 1;
        let pos = room.pos;
        if let Some(id) = row.client_id {
            room.remember(
                PostedId {
                    user: req.from.clone(),
                    id,
                    seq: row.msg.seq,
                    ts: row.msg.ts,
                },
                keep,
                since,
            );
        }
        let name = room.name.clone();
        self.rooms.push(&name, row.msg.clone());
        self.shared.metrics.messages.inc();
        self.shared
            .metrics
            .cache_bytes
            .set(self.rooms.cached_bytes() as i64);
        self.deliver.deliver(&Sequenced {
            room: name,
            pos,
            event: Event::Message(row.msg),
        });
    }

    fn join(&mut self, req: MemberRequest) -> Result<(), SeqError> {
        if !self.rooms.map.contains_key(&req.room) {
            if self.rooms.map.len() >= self.cfg.max_rooms {
                return Err(SeqError::TooManyRooms);
            }
            let since = self.since_ms();
            let load = self
                .storage
                .load_room(
                    &req.room,
                    self.cfg.history,
                    self.cfg.cache_bytes / 16,
                    self.cfg.dedupe_ids,
                    since,
                )
                .map_err(|e| unavailable(&e))?;
            self.rooms
                .insert(req.room.clone(), load, self.cfg.dedupe_ids, since);
            self.shared.metrics.rooms.set(self.rooms.map.len() as i64);
        }
        let room = self.rooms.touch(&req.room).expect("just ensured");
        if room.members.contains_key(&req.conn) {
            return Ok(());
        }
        room.members.insert(req.conn, req.user.clone());
        room.pos += 1;
        let pos = room.pos;
        let members = room.member_names();
        let want = self.cfg.join_history.min(room.last_seq as usize);
        let max = self.cfg.max_reply_bytes;
        let cached_enough = room.cache.len() >= want
            || room.cache.front().is_some_and(|m| m.seq == 1)
            || !self.storage.is_durable();
        let history = if want == 0 {
            Vec::new()
        } else if cached_enough {
            tail(&room.cache, want, max)
        } else {
            // The cache was trimmed by the budget: read the rest from disk.
            let q = HistoryQuery {
                room: req.room.clone(),
                before: None,
                limit: want,
                max_bytes: max,
            };
            match self.storage.reader().map(|r| r.read(&q)) {
                Some(Ok(h)) => h,
                Some(Err(e)) => {
                    // Undo: the join did not happen.
                    let room = self.rooms.map.get_mut(&req.room).expect("present");
                    room.members.remove(&req.conn);
                    room.pos -= 1;
                    return Err(unavailable(&e));
                }
                None => Vec::new(),
            }
        };
        self.deliver.deliver(&Sequenced {
            room: req.room.clone(),
            pos,
            event: Event::Join {
                user: req.user,
                conn: req.conn,
                snapshot: Some(Arc::new(Snapshot { members, history })),
            },
        });
        Ok(())
    }

    fn leave(&mut self, req: MemberRequest, silent: bool) -> Result<(), SeqError> {
        let room = self.rooms.touch(&req.room).ok_or(SeqError::NotInRoom)?;
        let user = room.members.remove(&req.conn).ok_or(SeqError::NotInRoom)?;
        room.pos += 1;
        let pos = room.pos;
        let empty = room.members.is_empty();
        self.deliver.deliver(&Sequenced {
            room: req.room.clone(),
            pos,
            event: Event::Leave {
                user,
                conn: req.conn,
                silent,
            },
        });
        if empty {
            // Its seq, history and ids come back from the storage on the next join (in
            // `--memory`, the room and its history are gone).
            self.rooms.remove(&req.room);
            self.shared.metrics.rooms.set(self.rooms.map.len() as i64);
            self.shared
                .metrics
                .cache_bytes
                .set(self.rooms.cached_bytes() as i64);
        }
        Ok(())
    }

    /// History from the cache (storage that is not durable: the cache is the history).
    fn history(&self, q: &HistoryQuery) -> Vec<Arc<Message>> {
        let Some(room) = self.rooms.map.get(&q.room) else {
            return Vec::new();
        };
        let before = q.before.unwrap_or(u64::MAX);
        let below: std::collections::VecDeque<Arc<Message>> = room
            .cache
            .iter()
            .filter(|m| m.seq < before)
            .cloned()
            .collect();
        tail(&below, q.limit, q.max_bytes)
    }
}

fn unavailable(e: &StoreError) -> SeqError {
    SeqError::Unavailable {
        retry_after: RETRY_AFTER_FAILURE,
        reason: e.0.clone(),
    }
}

fn refuse(cmd: Command) {
    match cmd {
        Command::Post(_, r) => drop(r.send(Err(SeqError::Closed))),
        Command::Join(_, r) | Command::Leave(_, _, r) => drop(r.send(Err(SeqError::Closed))),
        Command::History(_, r) => drop(r.send(Err(SeqError::Closed))),
        Command::Rooms(r) => drop(r.send(Err(SeqError::Closed))),
        Command::Prune(_, _, r) => drop(r.send(Err(SeqError::Closed))),
        Command::Shutdown => {}
    }
}
