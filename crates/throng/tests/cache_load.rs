//! Single-flight loading: one loader per key at a time, leadership handed over when the
//! leader is cancelled or panics, errors delivered to every waiter and never cached.
//! All on paused tokio time; loaders are gated by semaphores, never by real sleeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::cache::Cache;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Lets spawned tasks run until they block (paused time advances only when all idle).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn cache() -> Cache<u32, String> {
    Cache::new(100).unwrap()
}

#[tokio::test(start_paused = true)]
async fn n_concurrent_misses_run_the_loader_exactly_once() {
    let c = cache();
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let mut set = JoinSet::new();
    for _ in 0..50 {
        let (c, calls, gate) = (c.clone(), calls.clone(), gate.clone());
        set.spawn(async move {
            c.get_or_load(7, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let _p = gate.acquire().await.unwrap();
                "seven".to_string()
            })
            .await
        });
    }
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one leader while it runs");
    gate.add_permits(100);
    while let Some(v) = set.join_next().await {
        assert_eq!(v.unwrap(), "seven");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(c.get(&7).as_deref(), Some("seven"));
    // Loaded: later calls are hits and run no loader.
    let v = c.get_or_load(7, || async { unreachable!("a hit") }).await;
    assert_eq!(v, "seven");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_concurrent_misses_on_many_keys_load_each_key_once() {
    let c = Cache::<u32, u32>::new(10_000).unwrap();
    let calls: Arc<Vec<AtomicUsize>> = Arc::new((0..64).map(|_| AtomicUsize::new(0)).collect());
    let mut set = JoinSet::new();
    for t in 0..16u32 {
        let (c, calls) = (c.clone(), calls.clone());
        set.spawn(async move {
            for i in 0..64u32 {
                let k = (i * 7 + t) % 64;
                let calls = calls.clone();
                let v = c
                    .get_or_load(k, || async move {
                        calls[k as usize].fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        k * 2
                    })
                    .await;
                assert_eq!(v, k * 2);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    // Capacity is ample, so each key is loaded once and stays.
    for (k, n) in calls.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), 1, "key {k}");
    }
}

#[tokio::test(start_paused = true)]
async fn cancelled_leader_hands_over_to_a_waiter_and_nobody_hangs() {
    let c = cache();
    let calls = Arc::new(AtomicUsize::new(0));
    // The leader's loader never finishes.
    let leader = {
        let (c, calls) = (c.clone(), calls.clone());
        tokio::spawn(async move {
            c.get_or_load(1, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<String>().await
            })
            .await
        })
    };
    settle().await;
    let gate = Arc::new(Semaphore::new(0));
    let mut waiters = JoinSet::new();
    for i in 0..5 {
        let (c, calls, gate) = (c.clone(), calls.clone(), gate.clone());
        waiters.spawn(async move {
            c.get_or_load(1, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let _p = gate.acquire().await.unwrap();
                format!("from waiter {i}")
            })
            .await
        });
    }
    settle().await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "waiters wait for the leader"
    );

    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    settle().await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "exactly one waiter took over"
    );

    gate.add_permits(10);
    let mut values = Vec::new();
    while let Some(v) = waiters.join_next().await {
        values.push(v.unwrap());
    }
    assert_eq!(values.len(), 5);
    assert!(values.iter().all(|v| v == &values[0]), "{values:?}");
    assert_eq!(c.get(&1), Some(values[0].clone()));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_leader_timed_out_by_its_caller_hands_over() {
    let c = cache();
    let slow = c.get_or_load(1, || async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        "slow".to_string()
    });
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move { c.get_or_load(1, || async { "fast".to_string() }).await })
    };
    // The leader is polled first (it registers the flight), then times out.
    let r = tokio::time::timeout(Duration::from_millis(10), slow).await;
    assert!(r.is_err());
    assert_eq!(waiter.await.unwrap(), "fast");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_loader_hands_over_to_a_waiter() {
    let c = cache();
    let gate = Arc::new(Semaphore::new(0));
    let leader = {
        let (c, gate) = (c.clone(), gate.clone());
        tokio::spawn(async move {
            c.get_or_load(1, || async move {
                let _p = gate.acquire().await.unwrap();
                panic!("loader failed hard");
            })
            .await
        })
    };
    settle().await;
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move { c.get_or_load(1, || async { "recovered".to_string() }).await })
    };
    settle().await;
    gate.add_permits(1);
    assert!(leader.await.unwrap_err().is_panic());
    assert_eq!(waiter.await.unwrap(), "recovered");
}

#[tokio::test(start_paused = true)]
async fn loader_error_reaches_every_waiter_and_the_next_call_retries() {
    let c = cache();
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let mut set = JoinSet::new();
    for _ in 0..10 {
        let (c, calls, gate) = (c.clone(), calls.clone(), gate.clone());
        set.spawn(async move {
            c.try_get_or_load(3, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let _p = gate.acquire().await.unwrap();
                Err::<String, _>("backend down".to_string())
            })
            .await
        });
    }
    settle().await;
    gate.add_permits(100);
    let mut errors = 0;
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap(), Err("backend down".to_string()));
        errors += 1;
    }
    assert_eq!(errors, 10);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one loader, ten errors");
    assert_eq!(c.get(&3), None, "errors are not cached");

    let v = c
        .try_get_or_load(3, || async { Ok::<_, String>("back".to_string()) })
        .await;
    assert_eq!(v.as_deref(), Ok("back"));
    assert_eq!(c.get(&3).as_deref(), Some("back"));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_with_no_waiters_leaves_nothing_behind() {
    let c = cache();
    let leader = {
        let c = c.clone();
        tokio::spawn(async move { c.get_or_load(1, std::future::pending::<String>).await })
    };
    settle().await;
    leader.abort();
    let _ = leader.await;
    // A later call leads a fresh load at once (no stale flight to wait on).
    let v = tokio::time::timeout(
        Duration::from_secs(1),
        c.get_or_load(1, || async { "fresh".to_string() }),
    )
    .await
    .expect("no hang");
    assert_eq!(v, "fresh");
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiters_do_not_disturb_the_leader() {
    let c = cache();
    let gate = Arc::new(Semaphore::new(0));
    let leader = {
        let (c, gate) = (c.clone(), gate.clone());
        tokio::spawn(async move {
            c.get_or_load(1, || async move {
                let _p = gate.acquire().await.unwrap();
                "led".to_string()
            })
            .await
        })
    };
    settle().await;
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move { c.get_or_load(1, || async { "other".to_string() }).await })
    };
    settle().await;
    waiter.abort();
    let _ = waiter.await;
    gate.add_permits(1);
    assert_eq!(leader.await.unwrap(), "led");
    assert_eq!(c.get(&1).as_deref(), Some("led"));
}

#[tokio::test(start_paused = true)]
async fn different_keys_load_independently() {
    let c = cache();
    let gate = Arc::new(Semaphore::new(0));
    let blocked = {
        let (c, gate) = (c.clone(), gate.clone());
        tokio::spawn(async move {
            c.get_or_load(1, || async move {
                let _p = gate.acquire().await.unwrap();
                "one".to_string()
            })
            .await
        })
    };
    settle().await;
    // Key 2 is not held up by key 1's load.
    let v = tokio::time::timeout(
        Duration::from_secs(1),
        c.get_or_load(2, || async { "two".to_string() }),
    )
    .await
    .expect("independent");
    assert_eq!(v, "two");
    gate.add_permits(1);
    assert_eq!(blocked.await.unwrap(), "one");
}

#[tokio::test(start_paused = true)]
async fn get_or_load_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let c = cache();
    let f = c.get_or_load(1, || async { "x".to_string() });
    assert_send(&f);
    let g = c.try_get_or_load(1, || async {
        Ok::<_, Arc<std::io::Error>>("x".to_string())
    });
    assert_send(&g);
    assert_eq!(f.await, "x");
    assert_eq!(g.await.unwrap(), "x");
}

/// A small seeded xorshift, so the stress test is reproducible.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Decrements `running` when the loader finishes or is dropped mid-way.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn stress_random_cancellations_never_run_two_loaders_and_never_hang() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..200u64 {
        let c = Cache::<u32, u64>::new(100).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..8u64 {
            let (c, running, loads) = (c.clone(), running.clone(), loads.clone());
            let start = rng.below(5);
            let work = 1 + rng.below(9);
            let fail = rng.below(4) == 0;
            handles.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(start)).await;
                c.try_get_or_load(1, || async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    assert_eq!(now, 1, "two loaders ran at once (round {round})");
                    let _guard = Running(running);
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(work)).await;
                    if fail {
                        Err("failed")
                    } else {
                        Ok(round * 100 + i)
                    }
                })
                .await
            }));
        }
        // Cancel a random subset at random times.
        let mut cancelled = Vec::new();
        for (i, h) in handles.iter().enumerate() {
            if rng.below(2) == 0 {
                cancelled.push(i);
                let abort = h.abort_handle();
                let at = rng.below(12);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(at)).await;
                    abort.abort();
                });
            }
        }
        let all = async {
            let mut outcomes = Vec::new();
            for h in handles {
                outcomes.push(h.await);
            }
            outcomes
        };
        // Paused time: a hang would let the clock run to this deadline and fail.
        let outcomes = tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .unwrap_or_else(|_| panic!("a caller hung in round {round}"));
        for (i, o) in outcomes.into_iter().enumerate() {
            match o {
                Ok(Ok(v)) => assert_eq!(v / 100, round, "a value from this round"),
                Ok(Err(e)) => assert_eq!(e, "failed"),
                Err(e) => assert!(e.is_cancelled() && cancelled.contains(&i)),
            }
        }
        assert_eq!(running.load(Ordering::SeqCst), 0);
        assert!(loads.load(Ordering::SeqCst) <= 8);
    }
}
