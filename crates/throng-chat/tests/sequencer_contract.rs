//! The sequencer contract (`support/contract.rs`) against every local implementation:
//! SQLite, memory, and SQLite behind a storage that fails on demand. Then what only a
//! failing or stalled storage shows: rule 5 (a failure leaves no trace), recovery, and
//! rule 9 (bounded).

#[path = "support/contract.rs"]
mod contract;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use contract::{history, member, post, within, Backend, Recorder};
use throng_chat::metrics::Metrics;
use throng_chat::room::local::{HistoryReader, RoomLoad, Row, StoreError};
use throng_chat::room::{
    Deliver, Health, LocalConfig, LocalSequencer, MemoryStorage, SeqError, Sequencer,
    SqliteStorage, Storage, SyncMode,
};

static DIRS: AtomicU64 = AtomicU64::new(0);

fn temp_dir() -> PathBuf {
    let n = DIRS.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("throng-contract-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn local(storage: impl Storage, cfg: LocalConfig, deliver: Arc<dyn Deliver>) -> Arc<dyn Sequencer> {
    Arc::new(LocalSequencer::start(storage, cfg, deliver, Arc::new(Metrics::default())).unwrap())
}

/// SQLite in a fresh directory; a restart reopens the same directory.
struct Sqlite(PathBuf);

impl Sqlite {
    fn new() -> Self {
        Self(temp_dir())
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Backend for Sqlite {
    fn start(&self, deliver: Arc<dyn Deliver>) -> Arc<dyn Sequencer> {
        let storage = SqliteStorage::open(&self.0, SyncMode::Normal).unwrap();
        local(storage, LocalConfig::default(), deliver)
    }
    fn durable(&self) -> bool {
        true
    }
}

/// `--memory`.
struct Memory;

impl Backend for Memory {
    fn start(&self, deliver: Arc<dyn Deliver>) -> Arc<dyn Sequencer> {
        local(MemoryStorage, LocalConfig::default(), deliver)
    }
    fn durable(&self) -> bool {
        false
    }
}

/// A small cache: history and snapshots come from disk, not memory.
struct SqliteColdCache(Sqlite);

impl Backend for SqliteColdCache {
    fn start(&self, deliver: Arc<dyn Deliver>) -> Arc<dyn Sequencer> {
        let storage = SqliteStorage::open(&self.0 .0, SyncMode::Normal).unwrap();
        let cfg = LocalConfig {
            history: 2,
            cache_bytes: 1,
            ..LocalConfig::default()
        };
        local(storage, cfg, deliver)
    }
    fn durable(&self) -> bool {
        true
    }
}

sequencer_contract!(sqlite, Sqlite::new());
sequencer_contract!(sqlite_cold_cache, SqliteColdCache(Sqlite::new()));
sequencer_contract!(memory, Memory);

/// Storage that fails while `fail` is set, and whose commits wait while `stall` is set.
#[derive(Clone, Default)]
struct Switches {
    fail: Arc<AtomicBool>,
    stall: Arc<(Mutex<bool>, Condvar)>,
    commits: Arc<AtomicU64>,
}

impl Switches {
    fn set_stall(&self, on: bool) {
        *self.stall.0.lock().unwrap() = on;
        self.stall.1.notify_all();
    }
}

struct Faulty<S> {
    inner: S,
    sw: Switches,
}

impl<S: Storage> Storage for Faulty<S> {
    fn load_room(
        &mut self,
        room: &str,
        recent: usize,
        max_bytes: usize,
        ids: usize,
        since: u64,
    ) -> Result<RoomLoad, StoreError> {
        self.inner.load_room(room, recent, max_bytes, ids, since)
    }
    fn commit(&mut self, rows: &[Row]) -> Result<(), StoreError> {
        let (lock, cv) = &*self.sw.stall;
        let _g = cv.wait_while(lock.lock().unwrap(), |s| *s).unwrap();
        self.sw.commits.fetch_add(1, Ordering::SeqCst);
        if self.sw.fail.load(Ordering::SeqCst) {
            return Err(StoreError("database or disk is full".into()));
        }
        self.inner.commit(rows)
    }
    fn probe(&mut self) -> Result<(), StoreError> {
        if self.sw.fail.load(Ordering::SeqCst) {
            return Err(StoreError("database or disk is full".into()));
        }
        self.inner.probe()
    }
    fn is_durable(&self) -> bool {
        self.inner.is_durable()
    }
    fn reader(&self) -> Option<Arc<dyn HistoryReader>> {
        self.inner.reader()
    }
}

fn faulty(
    dir: &std::path::Path,
    cfg: LocalConfig,
) -> (Arc<dyn Sequencer>, Arc<Recorder>, Switches) {
    let sw = Switches::default();
    let rec = Arc::new(Recorder::default());
    let storage = Faulty {
        inner: SqliteStorage::open(dir, SyncMode::Normal).unwrap(),
        sw: sw.clone(),
    };
    (local(storage, cfg, rec.clone()), rec, sw)
}

/// Rule 5: a failed commit answers `Unavailable` with a retry hint, delivers nothing,
/// writes nothing and uses up no `seq`; health says so until a commit succeeds.
#[tokio::test]
async fn a_failed_commit_leaves_no_trace() {
    let dir = temp_dir();
    let (s, rec, sw) = faulty(&dir, LocalConfig::default());
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    let first = within(s.post(post("lobby", 1, "alice", "one", Some("a")))).await;
    assert_eq!(first.unwrap().seq, 1);

    sw.fail.store(true, Ordering::SeqCst);
    match within(s.post(post("lobby", 1, "alice", "lost", Some("b")))).await {
        Err(SeqError::Unavailable { retry_after, .. }) => assert!(retry_after > Duration::ZERO),
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(matches!(s.health(), Health::Failing(_)));
    assert_eq!(
        rec.messages("lobby"),
        vec![(1, "one".to_string())],
        "nothing delivered"
    );
    let h = within(s.history(history("lobby", None, 10))).await.unwrap();
    assert_eq!(h.len(), 1, "nothing written");

    sw.fail.store(false, Ordering::SeqCst);
    // The retry of the failed post (same id) is a new post now: it was never stored.
    let retry = within(s.post(post("lobby", 1, "alice", "lost", Some("b"))))
        .await
        .unwrap();
    assert_eq!(
        (retry.seq, retry.duplicate),
        (2, false),
        "the failure used up no seq"
    );
    assert_eq!(s.health(), Health::Ok);
    within(s.shutdown()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// While failing, the sequencer probes the storage and turns healthy by itself.
#[tokio::test]
async fn a_failing_storage_is_probed_and_recovers_without_traffic() {
    let dir = temp_dir();
    let (s, _, sw) = faulty(&dir, LocalConfig::default());
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    sw.fail.store(true, Ordering::SeqCst);
    assert!(within(s.post(post("lobby", 1, "alice", "x", None)))
        .await
        .is_err());
    sw.fail.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.health() != Health::Ok {
        assert!(
            Instant::now() < deadline,
            "healthy again within the probe interval"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    within(s.shutdown()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rule 9: a stalled storage does not make callers queue without bound: past the
/// queue, calls answer `Unavailable` at once; everything accepted completes once the
/// storage moves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_storage_answers_unavailable_past_the_queue() {
    let dir = temp_dir();
    let cfg = LocalConfig {
        queue: 8,
        ..LocalConfig::default()
    };
    let (s, _, sw) = faulty(&dir, cfg);
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    sw.set_stall(true);
    let mut pending = Vec::new();
    let mut refused = 0;
    for i in 0..64 {
        let s = s.clone();
        let mut f = Box::pin(async move {
            s.post(post("lobby", 1, "alice", &format!("m{i}"), None))
                .await
        });
        // A refusal is immediate; an accepted post stays pending while the disk stalls.
        match tokio::time::timeout(Duration::from_millis(5), &mut f).await {
            Ok(Err(SeqError::Unavailable { .. })) => refused += 1,
            Ok(other) => panic!("nothing completes while stalled: {other:?}"),
            Err(_) => pending.push(f),
        }
    }
    assert!(refused > 0, "the queue is bounded");
    assert!(
        pending.len() <= 8 + 1,
        "at most the queue plus the commit in hand"
    );
    sw.set_stall(false);
    let mut seqs: Vec<u64> = Vec::new();
    for f in pending {
        seqs.push(within(f).await.unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    within(s.shutdown()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A second sequencer on one directory is refused while the first holds it.
#[test]
fn one_directory_one_storage() {
    let dir = temp_dir();
    let first = SqliteStorage::open(&dir, SyncMode::Full).unwrap();
    let err = SqliteStorage::open(&dir, SyncMode::Full).unwrap_err();
    assert!(
        err.to_string().contains("in use by another throng-chat"),
        "{err}"
    );
    drop(first);
    let _ = std::fs::remove_dir_all(&dir);
}
