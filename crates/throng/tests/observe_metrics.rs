//! The `metrics` hooks, read back through metrics-util's debugging recorder: pool queue
//! depth and jobs, breaker state and transitions, rate-limit refusals.
#![cfg(feature = "metrics")]

use std::collections::HashMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// A metric: its name and its sorted labels.
type Id = (String, Vec<(String, String)>);

/// Reads the debugging recorder. Its snapshots reset every counter and gauge to 0, so
/// this adds each snapshot into running sums (right for counters and for gauges moved
/// by increment/decrement) and also keeps the last snapshot's raw values (right for
/// gauges that are `set`).
struct Reader {
    snap: Snapshotter,
    sums: HashMap<Id, f64>,
    last: HashMap<Id, f64>,
}

impl Reader {
    fn new(recorder: &DebuggingRecorder) -> Self {
        Self {
            snap: recorder.snapshotter(),
            sums: HashMap::new(),
            last: HashMap::new(),
        }
    }

    fn refresh(&mut self) {
        self.last.clear();
        for (key, _, _, value) in self.snap.snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<_> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let v = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.0,
                DebugValue::Histogram(h) => h.len() as f64,
            };
            let id = (key.name().to_owned(), labels);
            *self.sums.entry(id.clone()).or_default() += v;
            self.last.insert(id, v);
        }
    }

    fn lookup(map: &HashMap<Id, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        map.iter()
            .find(|((n, ls), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| *v)
    }

    /// A counter's total, or an increment/decrement gauge's level.
    fn total(&mut self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.refresh();
        Self::lookup(&self.sums, name, labels)
    }

    /// A `set` gauge's value (only meaningful if it was set since the last read).
    fn set_gauge(&mut self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.refresh();
        Self::lookup(&self.last, name, labels)
    }
}

#[cfg(feature = "pool")]
#[tokio::test]
async fn pool_queue_depth_jobs_and_rejections() {
    use std::sync::Arc;
    use throng::pool::Pool;
    use tokio::sync::Semaphore;

    let recorder = DebuggingRecorder::new();
    let mut m = Reader::new(&recorder);
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    // Handles are registered when the pool is built: the recorder must be in place then.
    let pool = metrics::with_local_recorder(&recorder, || {
        Pool::builder()
            .name("resize")
            .workers(1)
            .queue_capacity(2)
            .spawn(move |n: u32, _| {
                let g = g.clone();
                async move {
                    g.acquire().await.unwrap().forget();
                    assert_ne!(n, 0, "job 0 panics");
                    n
                }
            })
            .unwrap()
    });
    let pool_label = [("pool", "resize")];
    let first = pool.try_submit(1).unwrap();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let second = pool.try_submit(0).unwrap();
    let third = pool.try_submit(3).unwrap();
    assert!(pool.try_submit(4).is_err());
    assert_eq!(m.total("throng_pool_queued", &pool_label), Some(2.0));
    assert_eq!(
        m.total("throng_pool_rejected_total", &pool_label),
        Some(1.0)
    );

    gate.add_permits(3);
    assert_eq!(first.await, Ok(1));
    assert!(second.await.is_err());
    assert_eq!(third.await, Ok(3));
    assert_eq!(m.total("throng_pool_queued", &pool_label), Some(0.0));
    let mut jobs = |outcome| {
        m.total(
            "throng_pool_jobs_total",
            &[("pool", "resize"), ("outcome", outcome)],
        )
    };
    assert_eq!(jobs("completed"), Some(2.0));
    assert_eq!(jobs("panicked"), Some(1.0));
    pool.shutdown(std::time::Duration::from_secs(1)).await;
}

#[cfg(feature = "breaker")]
#[test]
fn breaker_state_transitions_and_rejections() {
    use std::time::Duration;
    use throng::breaker::Breaker;
    use throng::clock::ManualClock;

    let recorder = DebuggingRecorder::new();
    let mut m = Reader::new(&recorder);
    let breaker = metrics::with_local_recorder(&recorder, || {
        Breaker::builder()
            .name("db")
            .consecutive_failures(1)
            .cool_down(Duration::from_secs(1))
            .clock(ManualClock::new())
            .build()
            .unwrap()
    });
    let db = [("breaker", "db")];
    assert_eq!(m.set_gauge("throng_breaker_state", &db), Some(0.0));
    breaker.try_acquire().unwrap().failure();
    assert_eq!(m.set_gauge("throng_breaker_state", &db), Some(2.0));
    assert!(breaker.try_acquire().is_err());
    assert!(breaker.try_acquire().is_err());
    assert_eq!(m.total("throng_breaker_rejected_total", &db), Some(2.0));
    breaker.clock().advance(Duration::from_secs(1));
    let probe = breaker.try_acquire().unwrap();
    assert_eq!(m.set_gauge("throng_breaker_state", &db), Some(1.0));
    probe.success();
    assert_eq!(m.set_gauge("throng_breaker_state", &db), Some(0.0));
    let mut to = |state| {
        m.total(
            "throng_breaker_transitions_total",
            &[("breaker", "db"), ("to", state)],
        )
    };
    assert_eq!(
        (to("open"), to("half_open"), to("closed")),
        (Some(1.0), Some(1.0), Some(1.0))
    );
}

#[cfg(all(feature = "tower", feature = "ratelimit"))]
#[tokio::test]
async fn rate_limit_refusals_by_reason() {
    use std::num::NonZeroUsize;
    use std::sync::Arc;
    use throng::clock::ManualClock;
    use throng::ratelimit::{KeyedRateLimiter, Quota};
    use throng::tower::RateLimitLayer;
    use tower::{service_fn, Layer, ServiceExt};

    let recorder = DebuggingRecorder::new();
    let mut m = Reader::new(&recorder);
    let limiter = Arc::new(KeyedRateLimiter::<u32, _>::with_clock(
        Quota::per_second(1).build().unwrap(),
        NonZeroUsize::new(1).unwrap(),
        ManualClock::new(),
    ));
    let layer = metrics::with_local_recorder(&recorder, || {
        RateLimitLayer::with_name(limiter, |n: &u32| *n, "login")
    });
    let svc = layer.layer(service_fn(|n: u32| async move { Ok::<_, ()>(n) }));
    assert!(svc.clone().oneshot(1).await.is_ok());
    assert!(svc.clone().oneshot(1).await.is_err()); // over quota
    assert!(svc.clone().oneshot(1).await.is_err()); // over quota
    assert!(svc.oneshot(2).await.is_err()); // a new key, and the limiter is full
    let mut refused = |reason| {
        m.total(
            "throng_ratelimit_refused_total",
            &[("limiter", "login"), ("reason", reason)],
        )
    };
    assert_eq!((refused("quota"), refused("keys")), (Some(2.0), Some(1.0)));
}
