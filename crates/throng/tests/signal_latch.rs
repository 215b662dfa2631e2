//! `Latch`: one-shot, remembers the fire, wakes every waiter, drop unsubscribes.

mod support;

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use support::poll_once;
use throng::signal::Latch;
use tokio_util::sync::CancellationToken;

/// Polls `fut` once with a no-op waker.
#[test]
fn latch_is_send_sync_and_its_wait_future_is_send() {
    fn is_send_sync<T: Send + Sync>() {}
    fn is_send<T: Send>(_: &T) {}
    is_send_sync::<Latch>();
    let latch = Latch::new();
    is_send(&latch.wait());
    is_send(&latch.wait_timeout(Duration::ZERO));
}

#[test]
fn smoke_fire_once_then_no_op() {
    let latch = Latch::new();
    assert!(!latch.is_fired());
    assert!(latch.fire(), "the first fire fires");
    assert!(latch.is_fired());
    assert!(!latch.fire(), "a second fire is a no-op");
    assert!(latch.is_fired());
    let clone = latch.clone();
    assert!(clone.is_fired(), "clones share the latch");
    assert!(!clone.fire());
}

#[test]
fn s11_2_a_waiter_that_arrives_after_the_fire_returns_at_once() {
    // The seed reset its listener list on Broadcast, so a listener that subscribed just
    // after the broadcast waited for the next one, forever for a one-shot (S11-2).
    let latch = Latch::new();
    latch.fire();
    for _ in 0..3 {
        let wait = pin!(latch.wait());
        assert_eq!(poll_once(wait), Poll::Ready(()));
    }
}

#[test]
fn s11_2_a_waiter_created_before_the_fire_and_polled_after_returns() {
    let latch = Latch::new();
    let mut wait = pin!(latch.wait());
    assert_eq!(poll_once(wait.as_mut()), Poll::Pending);
    latch.fire();
    assert_eq!(poll_once(wait.as_mut()), Poll::Ready(()));
}

#[test]
fn s11_2_stress_fire_racing_with_late_waiters_never_loses_one() {
    // Fire on one thread while another keeps arriving; every wait must finish (bounded
    // by a timeout so a lost wake-up fails instead of hanging).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..200 {
            let latch = Latch::new();
            let waiters: Vec<_> = (0..4)
                .map(|_| {
                    let latch = latch.clone();
                    tokio::spawn(async move { latch.wait_timeout(Duration::from_secs(2)).await })
                })
                .collect();
            let firer = {
                let latch = latch.clone();
                tokio::spawn(async move { latch.fire() })
            };
            let late = {
                let latch = latch.clone();
                tokio::spawn(async move { latch.wait_timeout(Duration::from_secs(2)).await })
            };
            assert!(firer.await.unwrap());
            for w in waiters {
                assert_eq!(w.await.unwrap(), Ok(()));
            }
            assert_eq!(late.await.unwrap(), Ok(()));
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_wakes_every_one_of_a_hundred_waiters() {
    let latch = Latch::new();
    let woken = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let latch = latch.clone();
            let woken = Arc::clone(&woken);
            tokio::spawn(async move {
                latch.wait().await;
                woken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Wait until all are subscribed so the fire really has 100 waiters to wake.
    while latch.waiter_count() < 100 {
        tokio::task::yield_now().await;
    }
    assert!(latch.fire());
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(2), t)
            .await
            .expect("every waiter wakes")
            .unwrap();
    }
    assert_eq!(woken.load(Ordering::SeqCst), 100);
    assert_eq!(latch.waiter_count(), 0);
}

#[test]
fn s11_3_dropping_a_wait_unsubscribes_it() {
    // The seed had no Unsubscribe: abandoned listeners piled up until the next
    // broadcast, forever if none came (S11-3).
    let latch = Latch::new();
    assert_eq!(latch.waiter_count(), 0);
    {
        let mut waits: Vec<_> = (0..10).map(|_| Box::pin(latch.wait())).collect();
        for w in &mut waits {
            assert_eq!(poll_once(w.as_mut()), Poll::Pending);
        }
        assert_eq!(latch.waiter_count(), 10);
    }
    assert_eq!(latch.waiter_count(), 0, "dropped waits left nothing behind");
    // Many abandoned waits in a row do not pile up either.
    for _ in 0..1_000 {
        let mut w = pin!(latch.wait());
        assert_eq!(poll_once(w.as_mut()), Poll::Pending);
    }
    assert_eq!(latch.waiter_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn s11_4_is_fired_answers_without_waiting_and_waits_compose_with_a_token() {
    // The seed had no "has fired?" query and no context integration (S11-4).
    let latch = Latch::new();
    assert!(!latch.is_fired());
    let token = CancellationToken::new();
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        canceller.cancel();
    });
    let start = tokio::time::Instant::now();
    let outcome = tokio::select! {
        () = latch.wait() => "fired",
        () = token.cancelled() => "cancelled",
    };
    assert_eq!(outcome, "cancelled");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(latch.waiter_count(), 0, "the cancelled wait unsubscribed");
    latch.fire();
    assert!(latch.is_fired());
}

#[tokio::test(start_paused = true)]
async fn wait_timeout_elapses_on_an_unfired_latch_and_succeeds_on_a_fired_one() {
    let latch = Latch::new();
    let start = tokio::time::Instant::now();
    let err = latch
        .wait_timeout(Duration::from_millis(250))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(err.to_string(), "deadline elapsed");
    assert_eq!(format!("{err:?}"), "Elapsed");

    let l2 = latch.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        l2.fire();
    });
    let start = tokio::time::Instant::now();
    assert_eq!(latch.wait_timeout(Duration::from_secs(5)).await, Ok(()));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(latch.wait_timeout(Duration::ZERO).await, Ok(()));
}

#[test]
fn concurrent_fires_elect_exactly_one_winner() {
    for _ in 0..200 {
        let latch = Latch::new();
        let winners = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    if latch.fire() {
                        winners.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(winners.load(Ordering::SeqCst), 1);
    }
}
