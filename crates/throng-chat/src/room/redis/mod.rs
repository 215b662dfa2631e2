//! The Redis [`Sequencer`] and [`Names`](super::Names): several throng-chat nodes share
//! one Redis (≥ 7) and keep every rule of the sequencer's contract across nodes.
//!
//! # Keys
//!
//! Room keys carry the room as a hash tag, so each room script touches one slot:
//!
//! | key | type | what |
//! |---|---|---|
//! | `throng:{room}:meta` | hash | `seq` (last message), `pos` (last event) |
//! | `throng:{room}:log` | stream | the history: entry id `<seq>-0`, fields `f` (from), `t` (text), `ts`; `MAXLEN ~ --history` |
//! | `throng:{room}:members` | hash | `<node>:<conn>` → user name |
//! | `throng:{room}:pid:<len>:<user>:<id>` | string | a post's client id → its `seq`, expiring after the dedupe window |
//! | `throng:events` | stream | every room event, in order: the delivery stream (`MAXLEN ~ 20 000`, [`RedisConfig::events_len`]) |
//! | `throng:rooms` | set | rooms with members (`--max-rooms` counts these, cluster-wide) |
//! | `throng:closed` | set | rooms an operator closed |
//! | `throng:nodes` | zset | node → lease expiry (Redis clock, ms) |
//! | `throng:node:<node>:rooms` | hash | room → how many of the node's connections are in it (for the reaper) |
//! | `throng:node:<node>:names` | set | names the node's connections claimed (for the reaper) |
//! | `throng:node:<node>:users` | hash | the node's last dump of per-user request counts, expiring after two dump intervals and a lease |
//! | `throng:name:<folded name>` | string | the holder, `<node>:<conn>` |
//!
//! The prefix (`throng`) is [`RedisConfig::prefix`].
//!
//! # Scripts
//!
//! Each room event is one Lua script (see `scripts.rs`): a post checks membership and
//! the client id, takes `seq + 1` and the time from Redis `TIME`, appends to the room's
//! log and to the delivery stream, then moves the counters and remembers the client id;
//! a join or leave changes the members and appends its event the same way. A script is
//! atomic, so a room's events enter the delivery stream in `pos` order and no `seq` is
//! skipped or reused; a script that fails before its first write leaves nothing. Every
//! room script carries the caller's deadline and refuses (`expired`) once Redis's clock
//! has passed it, so a call answered `Unavailable` after a timeout cannot be sequenced
//! later (this assumes the nodes' clocks and Redis's agree to well within the command
//! timeout, 1 s by default).
//!
//! # Delivery
//!
//! Each node runs one delivery task on its own connection: `XREAD BLOCK` on the
//! delivery stream from the last id it applied, handing each event to the node's
//! [`Deliver`] target (the [`Hub`](super::Hub)) in stream order, which is each room's
//! order. It starts at the stream's end; after a disconnect or a Redis restart it
//! resumes from its last id, so nothing is lost while the stream still holds it (it
//! checks `max-deleted-entry-id` and counts a loss in `delivery_gaps`). A join carries
//! an origin (`<instance>:<token>`); the joiner's node pairs the event with the snapshot
//! its join script returned (members after the join, the last messages before it,
//! read in the same script), so only the joiner's node gets a snapshot (rule 7).
//! `post`, `join` and `leave` resolve only once this node's delivery task has applied
//! their event (rule 4), within [`RedisConfig::delivery_wait`].
//!
//! # Leases
//!
//! Each node keeps a lease in `throng:nodes` (renewed every third of
//! [`RedisConfig::lease`]), and reaps nodes whose lease ran out: their members leave
//! every room (silent leave events, so everyone sees presence), their names are freed,
//! their bookkeeping is deleted. A node that finds its own lease gone, or that could not
//! renew it for a whole lease, fences itself: every call answers `Unavailable` and
//! health stays `Failing` (so `/readyz` is 503) until it is restarted, so a name is never
//! held twice. Its clients are then closed with 1013 "try again later" (the server
//! watches [`Sequencer::fenced`]), so they reconnect, to another node behind the load
//! balancer, and catch up from history. A node that shuts down cleanly reaps itself.
//!
//! # When Redis fails
//!
//! Every command goes through throng's [`Breaker`] (3 consecutive failures open it for
//! 1 s) with a per-command timeout and a bound on calls in flight: a dead, paused or
//! unreachable Redis makes posts and joins fail fast with `Unavailable` and a retry
//! hint, never sequenced locally and never buffered. Health is `Failing` while the last
//! command failed, the breaker is open, or the delivery task is disconnected; the lease
//! heartbeat is the probe that turns it healthy again without traffic. The delivery
//! task reconnects with throng's [`retry`](throng::retry) backoff and resumes from its
//! last id. Acknowledged posts survive a Redis restart as far as Redis persists them:
//! run Redis with `appendonly yes` (a killed process loses nothing it answered; add
//! `appendfsync always` to survive a host crash too).
//!
//! # Sizing
//!
//! Redis holds, per room, up to `--history` messages (the log, trimmed approximately),
//! plus one small key per post with a client id for the dedupe window (10 min), plus
//! the delivery stream's last [`RedisConfig::events_len`] events (which bounds how long
//! a node may be disconnected and still catch up). Every node reads every event: the
//! delivery stream is the limit when all nodes together deliver more than one Redis
//! connection per node can read; per-room streams or PUB/SUB with gap fill is the next
//! step then.
//!
//! # Controls
//!
//! What one node asks of every node ([`Control`]: close a connection, close or reopen a
//! room) is an entry in the same delivery stream (`k` `x` or `z`), so every node applies
//! it in order and a disconnected node catches up on it. Taking a name over
//! (`CLAIM_REPLACING`) writes the old holder's disconnect in the same script, so a proven
//! identity that signs in on another node has its old connection closed (4001) wherever
//! it was. Closed rooms are also kept in `throng:closed`, which a starting node reads.
//!
//! # A node that fell too far behind
//!
//! When a node reconnects and finds that the stream was trimmed past the last event it
//! applied (`max-deleted-entry-id`; it was cut off for longer than
//! `--redis-stream-len` events), it counts the gap (`delivery_gaps`) and tells its
//! [`Deliver`] target ([`Deliver::missed`]): the hub closes every client with 1013 "try
//! again later", and the clients reconnect and catch up from history by `seq`, so a
//! member misses nothing even then.
//!
//! Not handled yet: Redis Cluster (the delivery stream and the node keys are global).

mod delivery;
mod names;
mod node;
mod scripts;
mod users;

pub use names::RedisNames;
pub use users::{ClusterUsers, RedisUsers};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Value};
use throng::breaker::Breaker;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::event::{ConnId, Control, Message, Snapshot};
use super::now_ms;
use super::sequencer::{
    Deliver, Health, HistoryQuery, MemberRequest, PostReceipt, PostRequest, RoomInfo, SeqError,
    Sequencer,
};
use crate::metrics::Metrics;

/// The Redis backend's settings.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// The first part of every key.
    pub prefix: String,
    /// This node's id ([`ConnId::node`]); unique per running node.
    pub node: u64,
    /// Messages kept per room (the log's `MAXLEN ~`).
    pub history: usize,
    /// Messages in a joiner's snapshot.
    pub join_history: usize,
    /// Bytes of a snapshot's or a history reply's messages, at most.
    pub max_reply_bytes: usize,
    /// Rooms with members, at most, across the cluster.
    pub max_rooms: usize,
    /// How long a client id is remembered for retries.
    pub dedupe_window: Duration,
    /// Entries kept in the delivery stream (`MAXLEN ~`): how far behind a node may fall
    /// (a disconnect) and still catch up without loss.
    pub events_len: usize,
    /// How long one command may take before it counts as failed.
    pub timeout: Duration,
    /// How long `post`, `join` and `leave` wait for this node to deliver their event.
    pub delivery_wait: Duration,
    /// A node's lease: a node silent this long is reaped by the others.
    pub lease: Duration,
    /// Commands in flight at once; beyond it, `Unavailable`.
    pub max_in_flight: usize,
}

impl RedisConfig {
    /// The defaults for `url`, as node `node`.
    pub fn new(url: impl Into<String>, node: u64) -> Self {
        Self {
            url: url.into(),
            prefix: "throng".into(),
            node,
            history: 1000,
            join_history: 50,
            max_reply_bytes: 256 * 1024,
            max_rooms: 10_000,
            dedupe_window: Duration::from_secs(600),
            events_len: 20_000,
            timeout: Duration::from_secs(1),
            delivery_wait: Duration::from_secs(5),
            lease: Duration::from_secs(10),
            max_in_flight: 8192,
        }
    }
}

/// How long a client is told to wait when Redis fails or is overloaded.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The key names; see the module docs.
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn room(&self, room: &str, what: &str) -> String {
        format!("{}:{{{room}}}:{what}", self.prefix)
    }
    fn post_id(&self, room: &str, user: &str, id: &str) -> String {
        format!("{}:{{{room}}}:pid:{}:{user}:{id}", self.prefix, user.len())
    }
    fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }
    fn rooms(&self) -> String {
        format!("{}:rooms", self.prefix)
    }
    fn closed_rooms(&self) -> String {
        format!("{}:closed", self.prefix)
    }
    fn node_users(&self, node: u64) -> String {
        format!("{}:node:{node}:users", self.prefix)
    }
    fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    fn node_rooms(&self, node: u64) -> String {
        format!("{}:node:{node}:rooms", self.prefix)
    }
    fn node_names(&self, node: u64) -> String {
        format!("{}:node:{node}:names", self.prefix)
    }
    fn name(&self, folded: &str) -> String {
        format!("{}:name:{folded}", self.prefix)
    }
}

/// A delivery-stream entry id, `<ms>-<n>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct EventId(u64, u64);

impl EventId {
    fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once('-')?;
        Some(Self(a.parse().ok()?, b.parse().ok()?))
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// A member's field in a room's members hash; empty for the system.
fn member_field(c: ConnId) -> String {
    if c == ConnId::SYSTEM {
        String::new()
    } else {
        format!("{}:{}", c.node, c.conn)
    }
}

fn parse_conn(s: &str) -> Option<ConnId> {
    let (n, c) = s.split_once(':')?;
    Some(ConnId {
        node: n.parse().ok()?,
        conn: c.parse().ok()?,
    })
}

fn unavailable(reason: impl Into<String>) -> SeqError {
    SeqError::Unavailable {
        retry_after: RETRY_AFTER,
        reason: reason.into(),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Okay => Some("OK".into()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => text(other)?.parse().ok(),
    }
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => Vec::new(),
    }
}

/// A stream entry: its id and its fields.
type Entry = (String, Vec<(String, String)>);

/// `[id, [field, value, …]]` → an [`Entry`].
fn entry(v: Value) -> Option<Entry> {
    let mut it = items(v).into_iter();
    let id = text(&it.next()?)?;
    let raw = items(it.next()?);
    let mut fields = Vec::with_capacity(raw.len() / 2);
    let mut raw = raw.into_iter();
    while let (Some(k), Some(v)) = (raw.next(), raw.next()) {
        fields.push((text(&k)?, text(&v)?));
    }
    Some((id, fields))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A room-log entry (`<seq>-0`, from, text, ts) → a message.
fn log_message(room: &Arc<str>, e: Entry) -> Option<Arc<Message>> {
    let (id, fields) = e;
    let seq = EventId::parse(&id)?.0;
    Some(Arc::new(Message {
        room: room.clone(),
        seq,
        from: Arc::from(field(&fields, "f")?),
        text: Arc::from(field(&fields, "t")?),
        ts: field(&fields, "ts")?.parse().ok()?,
    }))
}

/// Keeps the newest messages of `newest_first` within `max_bytes` (at least one),
/// oldest first.
fn cap(newest_first: Vec<Arc<Message>>, max_bytes: usize) -> Vec<Arc<Message>> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for m in newest_first {
        bytes = bytes.saturating_add(m.weight());
        if bytes > max_bytes && !out.is_empty() {
            break;
        }
        out.push(m);
    }
    out.reverse();
    out
}

/// What the sequencer, its names and its tasks share.
struct Core {
    cfg: RedisConfig,
    keys: Keys,
    client: redis::Client,
    conn: ConnectionManager,
    breaker: Breaker,
    metrics: Arc<Metrics>,
    in_flight: Arc<Semaphore>,
    /// This sequencer's instance (joins' origin), random per start.
    instance: u64,
    next_token: AtomicU64,
    closed: AtomicBool,
    fenced: AtomicBool,
    /// Set by [`RedisSequencer::stop_heartbeat`].
    heartbeat_stopped: AtomicBool,
    /// Why the last command failed, until one succeeds.
    store_error: Mutex<Option<String>>,
    /// Why the delivery task is disconnected, until it reads again.
    delivery_error: Mutex<Option<String>>,
    /// `true` once the delivery task knows where it starts: events sequenced from then
    /// on will be delivered here.
    started: watch::Sender<bool>,
    /// The last event id applied by the delivery task.
    applied: watch::Sender<EventId>,
    /// Snapshots of this node's joins, by origin token, for the delivery task.
    snapshots: Mutex<HashMap<u64, oneshot::Receiver<Arc<Snapshot>>>>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("node", &self.cfg.node)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A random u64 from the OS-seeded hasher keys (no extra dependency).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

impl Core {
    fn set_store_error(&self, e: Option<String>) {
        let mut g = lock(&self.store_error);
        if g.is_some() != e.is_some() {
            match &e {
                Some(why) => tracing::error!(error = %why, "redis commands failing"),
                None => tracing::info!("redis commands work again"),
            }
        }
        *g = e;
        drop(g);
        self.update_health_metric();
    }

    fn set_delivery_error(&self, e: Option<String>) {
        *lock(&self.delivery_error) = e;
        self.update_health_metric();
    }

    fn update_health_metric(&self) {
        self.metrics
            .store_healthy
            .set(i64::from(matches!(self.health(), Health::Ok)));
    }

    fn health(&self) -> Health {
        if self.fenced.load(Ordering::Acquire) {
            return Health::Failing("this node lost its redis lease; restart it".into());
        }
        if let Some(e) = lock(&self.store_error).clone() {
            return Health::Failing(format!("redis: {e}"));
        }
        if let Some(e) = lock(&self.delivery_error).clone() {
            return Health::Failing(format!("redis delivery: {e}"));
        }
        if self.breaker.state() == throng::breaker::State::Open {
            return Health::Failing("redis: circuit open".into());
        }
        Health::Ok
    }

    fn check_open(&self) -> Result<(), SeqError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SeqError::Closed);
        }
        if self.fenced.load(Ordering::Acquire) {
            return Err(unavailable("this node lost its redis lease"));
        }
        Ok(())
    }

    /// Runs one command (or pipeline, or script) through the in-flight bound, the
    /// breaker and the timeout.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, SeqError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        let _slot =
            self.in_flight
                .clone()
                .try_acquire_owned()
                .map_err(|_| SeqError::Unavailable {
                    retry_after: Duration::from_millis(100),
                    reason: "too many redis calls in flight".into(),
                })?;
        let permit = self
            .breaker
            .try_acquire()
            .map_err(|r| SeqError::Unavailable {
                retry_after: r
                    .retry_after()
                    .unwrap_or(RETRY_AFTER)
                    .max(Duration::from_millis(10)),
                reason: format!("redis: {r}"),
            })?;
        match tokio::time::timeout(self.cfg.timeout, f(self.conn.clone())).await {
            Ok(Ok(v)) => {
                permit.success();
                if lock(&self.store_error).is_some() {
                    self.set_store_error(None);
                }
                Ok(v)
            }
            Ok(Err(e)) => {
                permit.failure();
                let why = e.to_string();
                self.set_store_error(Some(why.clone()));
                Err(unavailable(format!("redis: {why}")))
            }
            Err(_) => {
                permit.failure();
                let why = format!("no answer within {:?}", self.cfg.timeout);
                self.set_store_error(Some(why.clone()));
                Err(unavailable(format!("redis: {why}")))
            }
        }
    }

    /// Runs a script invocation through [`call`](Self::call).
    async fn script(&self, inv: redis::ScriptInvocation<'static>) -> Result<Value, SeqError> {
        self.call(|mut c| async move { inv.invoke_async::<Value>(&mut c).await })
            .await
    }

    /// The deadline a room script must start by (see the module docs).
    fn deadline(&self) -> u64 {
        now_ms() + self.cfg.timeout.as_millis() as u64
    }

    /// Waits (bounded) until the delivery task knows where it starts.
    async fn ready(&self) -> Result<(), SeqError> {
        self.check_open()?;
        let mut rx = self.started.subscribe();
        let r = tokio::time::timeout(self.cfg.timeout * 2, rx.wait_for(|s| *s))
            .await
            .map(|r| r.is_ok());
        match r {
            Ok(true) => Ok(()),
            Ok(false) => Err(SeqError::Closed),
            Err(_) => Err(unavailable("not connected to redis yet")),
        }
    }

    /// Waits (bounded) until this node's delivery task has applied event `id` (rule 4).
    async fn delivered(&self, id: EventId) -> Result<(), SeqError> {
        let mut rx = self.applied.subscribe();
        let r = tokio::time::timeout(self.cfg.delivery_wait, rx.wait_for(|a| *a >= id))
            .await
            .map(|r| r.is_ok());
        match r {
            Ok(true) => Ok(()),
            Ok(false) => Err(SeqError::Closed),
            Err(_) => Err(unavailable(
                "sequenced, but not delivered on this node in time (a retry with the same id is safe)",
            )),
        }
    }

    /// Sequences a leave of `conn` from `room` (also the reaper's).
    async fn leave(
        &self,
        room: &str,
        conn: ConnId,
        silent: bool,
        deadline: u64,
    ) -> Result<Option<EventId>, SeqError> {
        let k = &self.keys;
        let mut inv = scripts::LEAVE_SCRIPT.prepare_invoke();
        inv.key(k.room(room, "meta"))
            .key(k.room(room, "members"))
            .key(k.events())
            .key(k.rooms())
            .key(k.node_rooms(conn.node))
            .arg(deadline)
            .arg(member_field(conn))
            .arg(room)
            .arg(self.cfg.events_len)
            .arg(conn.node)
            .arg(conn.conn)
            .arg(if silent { "1" } else { "0" });
        let reply = items(self.script(inv).await?);
        match reply.first().and_then(text).as_deref() {
            Some("ok") => Ok(reply.get(1).and_then(text).and_then(|s| EventId::parse(&s))),
            Some("notin") => Ok(None),
            Some("expired") => Err(unavailable("redis answered too late")),
            other => Err(unavailable(format!("unexpected reply to leave: {other:?}"))),
        }
    }
}

/// The Redis sequencer; see the module docs.
#[derive(Debug)]
pub struct RedisSequencer {
    core: Arc<Core>,
}

impl RedisSequencer {
    /// Starts the sequencer for node `cfg.node`: its delivery task (to `deliver`) and its
    /// lease task. Connections are made in the background; calls answer `Unavailable`
    /// until Redis answers.
    ///
    /// Must be called within a tokio runtime.
    ///
    /// # Errors
    ///
    /// An invalid URL, or no tokio runtime.
    pub fn start(
        cfg: RedisConfig,
        deliver: Arc<dyn Deliver>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("the redis backend needs a tokio runtime".into());
        }
        let client = redis::Client::open(cfg.url.as_str())
            .map_err(|e| format!("bad redis url `{}`: {e}", cfg.url))?;
        let mcfg = ConnectionManagerConfig::new()
            .set_response_timeout(Some(cfg.timeout))
            .set_connection_timeout(Some(cfg.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), mcfg)
            .map_err(|e| format!("cannot set up the redis connection: {e}"))?;
        let breaker = Breaker::builder()
            .consecutive_failures(3)
            .cool_down(Duration::from_secs(1))
            .build()
            .map_err(|e| e.to_string())?;
        let core = Arc::new(Core {
            keys: Keys {
                prefix: cfg.prefix.clone(),
            },
            in_flight: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
            cfg,
            client,
            conn,
            breaker,
            metrics,
            instance: random_u64(),
            next_token: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            fenced: AtomicBool::new(false),
            heartbeat_stopped: AtomicBool::new(false),
            store_error: Mutex::new(None),
            delivery_error: Mutex::new(Some("not connected yet".into())),
            started: watch::Sender::new(false),
            applied: watch::Sender::new(EventId::default()),
            snapshots: Mutex::default(),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        core.update_health_metric();
        core.tasks.spawn(delivery::run(core.clone(), deliver));
        core.tasks.spawn(node::run(core.clone()));
        Ok(Self { core })
    }

    /// The name registry on the same Redis (and the same connection and breaker).
    pub fn names(&self) -> RedisNames {
        RedisNames::new(self.core.clone())
    }

    /// Per-user counts on the same Redis, readable from any node.
    pub fn users(&self) -> RedisUsers {
        RedisUsers::new(self.core.clone())
    }

    /// This node's id.
    pub fn node(&self) -> u64 {
        self.core.cfg.node
    }

    /// Stops renewing this node's lease while everything else keeps running, as if the
    /// node had hung: the other nodes reap it once the lease runs out. For tests of
    /// reaping; there is no way back but a restart.
    pub fn stop_heartbeat(&self) {
        node::stop_heartbeat(&self.core);
    }
}

impl Sequencer for RedisSequencer {
    fn post(&self, req: PostRequest) -> BoxFuture<'_, Result<PostReceipt, SeqError>> {
        let core = self.core.clone();
        async move {
            core.ready().await?;
            let k = &core.keys;
            let pid = match &req.client_id {
                Some(id) => k.post_id(&req.room, &req.from, id),
                None => k.room(&req.room, "pid"),
            };
            let mut inv = scripts::POST_SCRIPT.prepare_invoke();
            inv.key(k.room(&req.room, "meta"))
                .key(k.room(&req.room, "log"))
                .key(k.room(&req.room, "members"))
                .key(pid)
                .key(k.events())
                .arg(core.deadline())
                .arg(member_field(req.conn))
                .arg(&*req.from)
                .arg(&*req.text)
                .arg(if req.client_id.is_some() { "1" } else { "0" })
                .arg(core.cfg.dedupe_window.as_secs().max(1))
                .arg(core.cfg.history.max(1))
                .arg(core.cfg.events_len)
                .arg(&*req.room);
            let reply = items(core.script(inv).await?);
            match reply.first().and_then(text).as_deref() {
                Some("ok") => {
                    let seq = reply.get(1).and_then(int);
                    let id = reply.get(2).and_then(text).and_then(|s| EventId::parse(&s));
                    let (Some(seq), Some(id)) = (seq, id) else {
                        return Err(unavailable("unexpected reply to post"));
                    };
                    core.metrics.messages.inc();
                    core.delivered(id).await?;
                    Ok(PostReceipt {
                        seq,
                        duplicate: false,
                    })
                }
                Some("dup") => match reply.get(1).and_then(int) {
                    Some(seq) => Ok(PostReceipt {
                        seq,
                        duplicate: true,
                    }),
                    None => Err(unavailable("unexpected reply to post")),
                },
                Some("notin") => Err(SeqError::NotInRoom),
                Some("expired") => Err(unavailable("redis answered too late")),
                other => Err(unavailable(format!("unexpected reply to post: {other:?}"))),
            }
        }
        .boxed()
    }

    fn join(&self, req: MemberRequest) -> BoxFuture<'_, Result<(), SeqError>> {
        let core = self.core.clone();
        async move {
            core.ready().await?;
            let token = core.next_token.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            lock(&core.snapshots).insert(token, rx);
            let r = join(&core, &req, token, tx).await;
            lock(&core.snapshots).remove(&token);
            r
        }
        .boxed()
    }

    fn leave(&self, req: MemberRequest, silent: bool) -> BoxFuture<'_, Result<(), SeqError>> {
        let core = self.core.clone();
        async move {
            core.ready().await?;
            match core
                .leave(&req.room, req.conn, silent, core.deadline())
                .await?
            {
                Some(id) => core.delivered(id).await,
                None => Err(SeqError::NotInRoom),
            }
        }
        .boxed()
    }

    fn history(&self, q: HistoryQuery) -> BoxFuture<'_, Result<Vec<Arc<Message>>, SeqError>> {
        let core = self.core.clone();
        async move {
            core.check_open()?;
            let end = match q.before {
                Some(b) if b <= 1 => return Ok(Vec::new()),
                Some(b) => format!("({b}-0"),
                None => "+".into(),
            };
            if q.limit == 0 {
                return Ok(Vec::new());
            }
            let key = core.keys.room(&q.room, "log");
            let count = q.limit.min(10_000);
            let v: Value = core
                .call(|mut c| async move {
                    redis::cmd("XREVRANGE")
                        .arg(key)
                        .arg(end)
                        .arg("-")
                        .arg("COUNT")
                        .arg(count)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            let newest_first: Vec<Arc<Message>> = items(v)
                .into_iter()
                .filter_map(|e| log_message(&q.room, entry(e)?))
                .collect();
            Ok(cap(newest_first, q.max_bytes))
        }
        .boxed()
    }

    fn rooms(&self) -> BoxFuture<'_, Result<Vec<RoomInfo>, SeqError>> {
        let core = self.core.clone();
        async move {
            core.check_open()?;
            let key = core.keys.rooms();
            let names: Vec<String> =
                core.call(|mut c| async move {
                    redis::cmd("SMEMBERS").arg(key).query_async(&mut c).await
                })
                .await?;
            let mut pipe = redis::pipe();
            for n in &names {
                pipe.cmd("HLEN").arg(core.keys.room(n, "members"));
            }
            let counts: Vec<u64> = if names.is_empty() {
                Vec::new()
            } else {
                core.call(|mut c| async move { pipe.query_async(&mut c).await })
                    .await?
            };
            let mut out: Vec<RoomInfo> = names
                .into_iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(room, members)| RoomInfo {
                    room,
                    members: members as usize,
                })
                .collect();
            out.sort_by(|a, b| a.room.cmp(&b.room));
            Ok(out)
        }
        .boxed()
    }

    fn health(&self) -> Health {
        self.core.health()
    }

    fn fenced(&self) -> bool {
        self.core.fenced.load(Ordering::Acquire)
    }

    fn control(&self, c: Control) -> BoxFuture<'_, Result<(), SeqError>> {
        let core = self.core.clone();
        async move {
            core.ready().await?;
            let events = core.keys.events();
            let max = core.cfg.events_len;
            let id: String = match c {
                Control::Disconnect { conn, reason } => {
                    core.call(|mut c| async move {
                        redis::cmd("XADD")
                            .arg(events)
                            .arg("MAXLEN")
                            .arg("~")
                            .arg(max)
                            .arg("*")
                            .arg(&["k", "x", "n"])
                            .arg(conn.node)
                            .arg("c")
                            .arg(conn.conn)
                            .arg("w")
                            .arg(reason.as_str())
                            .query_async(&mut c)
                            .await
                    })
                    .await?
                }
                Control::RoomClosed { room, closed } => {
                    let mut inv = scripts::ROOM_CLOSED.prepare_invoke();
                    inv.key(core.keys.closed_rooms())
                        .key(events)
                        .arg(&*room)
                        .arg(if closed { "1" } else { "0" })
                        .arg(max);
                    text(&core.script(inv).await?).unwrap_or_default()
                }
            };
            match EventId::parse(&id) {
                Some(id) => core.delivered(id).await,
                None => Err(unavailable("unexpected reply to a control")),
            }
        }
        .boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let core = self.core.clone();
        async move {
            if !core.closed.swap(true, Ordering::AcqRel) {
                // Leave nothing behind: this node's remaining members leave, its names
                // are freed, its lease is dropped (bounded; the lease covers a failure).
                let node = core.cfg.node;
                let _ = tokio::time::timeout(core.cfg.timeout * 5, node::reap(&core, node)).await;
            }
            core.stop.cancel();
            core.tasks.close();
            let _ = tokio::time::timeout(core.cfg.timeout * 5, core.tasks.wait()).await;
        }
        .boxed()
    }
}

impl Drop for RedisSequencer {
    fn drop(&mut self) {
        // Tasks hold the core; stop them even without a shutdown.
        self.core.stop.cancel();
    }
}

/// The join script, the snapshot for the delivery task, and the wait for delivery.
async fn join(
    core: &Core,
    req: &MemberRequest,
    token: u64,
    tx: oneshot::Sender<Arc<Snapshot>>,
) -> Result<(), SeqError> {
    let k = &core.keys;
    let mut inv = scripts::JOIN_SCRIPT.prepare_invoke();
    inv.key(k.room(&req.room, "meta"))
        .key(k.room(&req.room, "log"))
        .key(k.room(&req.room, "members"))
        .key(k.events())
        .key(k.rooms())
        .key(k.node_rooms(req.conn.node))
        .arg(core.deadline())
        .arg(member_field(req.conn))
        .arg(&*req.user)
        .arg(&*req.room)
        .arg(core.cfg.max_rooms)
        .arg(core.cfg.join_history)
        .arg(core.cfg.events_len)
        .arg(req.conn.node)
        .arg(req.conn.conn)
        .arg(format!("{}:{token}", core.instance));
    let mut reply = items(core.script(inv).await?).into_iter();
    let status = reply.next().as_ref().and_then(text);
    match status.as_deref() {
        Some("ok") => {}
        Some("already") => return Ok(()),
        Some("full") => return Err(SeqError::TooManyRooms),
        Some("expired") => return Err(unavailable("redis answered too late")),
        other => return Err(unavailable(format!("unexpected reply to join: {other:?}"))),
    }
    let id = reply
        .next()
        .as_ref()
        .and_then(text)
        .and_then(|s| EventId::parse(&s))
        .ok_or_else(|| unavailable("unexpected reply to join"))?;
    let mut members: Vec<Arc<str>> = reply
        .next()
        .map(items)
        .unwrap_or_default()
        .iter()
        .filter_map(text)
        .map(Arc::from)
        .collect();
    members.sort_unstable();
    members.dedup();
    let newest_first: Vec<Arc<Message>> = reply
        .next()
        .map(items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| log_message(&req.room, entry(e)?))
        .collect();
    let history = cap(newest_first, core.cfg.max_reply_bytes);
    let _ = tx.send(Arc::new(Snapshot { members, history }));
    core.delivered(id).await
}
