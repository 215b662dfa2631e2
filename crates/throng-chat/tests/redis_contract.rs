//! The sequencer contract (`support/contract.rs`) against [`RedisSequencer`], each test
//! on a `redis-server` of its own (`support/redis.rs`); a "restart" is a new sequencer
//! on the same Redis. Skipped, with a message, when `redis-server` is not installed
//! (unless `THRONG_REQUIRE_REDIS=1`). Then what only Redis shows: a dead Redis answers
//! `Unavailable` fast, health says so, and everything resumes after a restart.

#[path = "support/contract.rs"]
mod contract;
#[path = "support/redis.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use contract::{member, post, within, Backend, Recorder};
use redis_server::RedisServer;
use throng_chat::metrics::Metrics;
use throng_chat::room::{Deliver, Health, RedisConfig, RedisSequencer, SeqError, Sequencer};

struct Redis(RedisServer);

impl Redis {
    fn new() -> Option<Self> {
        RedisServer::start().map(Redis)
    }
}

fn sequencer(url: String, deliver: Arc<dyn Deliver>) -> Arc<RedisSequencer> {
    let cfg = RedisConfig::new(url, 0);
    Arc::new(RedisSequencer::start(cfg, deliver, Arc::new(Metrics::default())).unwrap())
}

impl Backend for Redis {
    fn start(&self, deliver: Arc<dyn Deliver>) -> Arc<dyn Sequencer> {
        sequencer(self.0.url(), deliver)
    }
    fn durable(&self) -> bool {
        true
    }
}

sequencer_contract!(
    redis,
    match Redis::new() {
        Some(r) => r,
        None => return,
    }
);

/// Redis killed: posts fail fast with `Unavailable` and a retry hint, health is
/// `Failing`; Redis restarted from its AOF: health returns by itself, `seq` continues
/// from what was acknowledged, and delivery resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_fails_fast_and_everything_resumes_after_a_restart() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let rec = Arc::new(Recorder::default());
    let s = sequencer(server.url(), rec.clone());
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    for i in 1..=3u64 {
        let r = within(s.post(post("lobby", 1, "alice", "x", None)))
            .await
            .unwrap();
        assert_eq!(r.seq, i);
    }
    server.kill();
    let mut fast = 0;
    for _ in 0..10 {
        let t = Instant::now();
        match within(s.post(post("lobby", 1, "alice", "lost", None))).await {
            Err(SeqError::Unavailable { retry_after, .. }) => {
                assert!(retry_after > Duration::ZERO);
                if t.elapsed() < Duration::from_millis(100) {
                    fast += 1;
                }
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
    assert!(
        fast >= 5,
        "the breaker answers at once once open ({fast}/10)"
    );
    assert!(matches!(s.health(), Health::Failing(_)));
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.health() != Health::Ok {
        assert!(Instant::now() < deadline, "healthy again within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = within(s.post(post("lobby", 1, "alice", "after", None)))
        .await
        .unwrap();
    assert_eq!(r.seq, 4, "no seq lost or reused across the restart");
    assert_eq!(
        rec.messages("lobby").last(),
        Some(&(4, "after".to_string())),
        "delivery resumed"
    );
    within(s.shutdown()).await;
}
