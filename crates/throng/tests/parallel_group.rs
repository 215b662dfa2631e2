//! `Group`: values in spawn order, the limit, first-error cancellation, panics, refused
//! spawns, and that no task outlives the group.
#![cfg(feature = "parallel")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::MS;
use throng::parallel::{Group, InvalidLimit, ItemError, TrySpawnError};
use tokio::time::{sleep, Instant};

/// Decrements the counter when dropped (task finished or aborted).
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(c: &Arc<AtomicUsize>) -> Self {
        c.fetch_add(1, Ordering::SeqCst);
        Live(c.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn wait_returns_the_values_in_spawn_order() {
    let mut group = Group::new();
    for i in 0..10u64 {
        group
            .spawn(move |_| async move {
                sleep(MS * (10 - i) as u32).await;
                Ok::<_, Infallible>(i)
            })
            .await
            .unwrap();
    }
    assert_eq!(group.spawned(), 10);
    assert_eq!(group.wait().await, Ok((0..10).collect::<Vec<_>>()));
}

#[tokio::test(start_paused = true)]
async fn an_empty_group_waits_for_nothing() {
    let group: Group<u8, Infallible> = Group::new();
    assert!(group.is_empty());
    assert_eq!(group.wait().await, Ok(vec![]));
}

#[tokio::test(start_paused = true)]
async fn the_limit_bounds_running_tasks_and_spawn_waits_for_a_slot() {
    let live = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut group = Group::with_limit(2).unwrap();
    let start = Instant::now();
    for _ in 0..6 {
        let (live, peak) = (live.clone(), peak.clone());
        group
            .spawn(move |_| async move {
                let _l = Live::new(&live);
                peak.fetch_max(live.load(Ordering::SeqCst), Ordering::SeqCst);
                sleep(10 * MS).await;
                Ok::<_, Infallible>(())
            })
            .await
            .unwrap();
        assert!(group.len() <= 2);
    }
    // The 6th spawn waited for two rounds of 10 ms.
    assert_eq!(start.elapsed(), 20 * MS);
    group.wait().await.unwrap();
    assert_eq!(start.elapsed(), 30 * MS);
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn try_spawn_refuses_when_full_and_hands_the_closure_back() {
    let mut group = Group::<(), Infallible>::with_limit(1).unwrap();
    group
        .try_spawn(|_| async {
            sleep(10 * MS).await;
            Ok(())
        })
        .unwrap();
    let err = group.try_spawn(|_| async { Ok(()) }).unwrap_err();
    assert!(err.is_full());
    sleep(11 * MS).await;
    // The first task has finished: its slot is reaped and the closure can go in.
    group.try_spawn(err.into_inner()).unwrap();
    assert_eq!(group.wait().await, Ok(vec![(), ()]));
}

#[tokio::test(start_paused = true)]
async fn the_first_error_cancels_the_token_and_wait_returns_it() {
    let live = Arc::new(AtomicUsize::new(0));
    let mut group = Group::<(), String>::new();
    for i in 0..4u32 {
        let live = live.clone();
        group
            .spawn(move |token| async move {
                let _l = Live::new(&live);
                if i == 2 {
                    sleep(5 * MS).await;
                    return Err(format!("task {i} failed"));
                }
                token.cancelled().await;
                Err("cancelled".to_owned())
            })
            .await
            .unwrap();
    }
    let start = Instant::now();
    let res = group.wait().await;
    assert_eq!(
        res,
        Err(ItemError::Failed {
            index: 2,
            error: "task 2 failed".to_owned()
        })
    );
    assert_eq!(start.elapsed(), 5 * MS);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn no_task_outlives_wait_after_an_error_even_if_it_ignores_the_token() {
    let live = Arc::new(AtomicUsize::new(0));
    let mut group = Group::new();
    for i in 0..5u32 {
        let live = live.clone();
        group
            .spawn(move |_token| async move {
                let _l = Live::new(&live);
                if i == 0 {
                    return Err("fail");
                }
                sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .await
            .unwrap();
    }
    assert_eq!(group.wait().await.unwrap_err().index(), 0);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_task_becomes_an_error() {
    let mut group = Group::<(), Infallible>::new();
    group.spawn(|_| async { Ok(()) }).await.unwrap();
    group
        .spawn(|_| async {
            sleep(MS).await;
            panic!("task blew up")
        })
        .await
        .unwrap();
    assert_eq!(
        group.wait().await,
        Err(ItemError::Panicked {
            index: 1,
            message: "task blew up".to_owned()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn spawn_after_a_failure_is_refused() {
    let mut group = Group::<(), &str>::new();
    group.spawn(|_| async { Err("fail") }).await.unwrap();
    sleep(MS).await;
    assert!(group.is_stopped());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let refused = group
        .spawn(move |_| async move {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert!(refused.is_err());
    let refused = group.try_spawn(|_| async { Ok(()) });
    assert!(matches!(refused, Err(TrySpawnError::Stopped(_))));
    assert_eq!(group.wait().await.unwrap_err().index(), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn an_outside_cancel_is_cooperative_and_wait_collects_the_values() {
    let mut group = Group::<u32, Infallible>::new();
    for i in 0..3 {
        group
            .spawn(move |token| async move {
                token.cancelled().await;
                sleep(MS).await; // clean-up after the cancel still runs
                Ok(i)
            })
            .await
            .unwrap();
    }
    let token = group.token().clone();
    tokio::spawn(async move {
        sleep(10 * MS).await;
        token.cancel();
    });
    assert_eq!(group.wait().await, Ok(vec![0, 1, 2]));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_group_aborts_its_tasks_and_cancels_the_token() {
    let live = Arc::new(AtomicUsize::new(0));
    let mut group = Group::<(), Infallible>::new();
    let token = group.token().clone();
    for _ in 0..3 {
        let live = live.clone();
        group
            .spawn(move |_| async move {
                let _l = Live::new(&live);
                sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .await
            .unwrap();
    }
    sleep(MS).await;
    assert_eq!(live.load(Ordering::SeqCst), 3);
    drop(group);
    assert!(token.is_cancelled());
    sleep(MS).await;
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[test]
fn a_zero_limit_is_a_config_error() {
    let err = Group::<(), Infallible>::with_limit(0).unwrap_err();
    assert_eq!(err, InvalidLimit::ZeroLimit);
    assert_eq!(err.to_string(), "concurrency limit must be at least 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_every_task_is_counted() {
    let done = Arc::new(AtomicUsize::new(0));
    let mut group = Group::<usize, Infallible>::with_limit(8).unwrap();
    for i in 0..5_000 {
        let done = done.clone();
        group
            .spawn(move |_| async move {
                tokio::task::yield_now().await;
                done.fetch_add(1, Ordering::Relaxed);
                Ok(i)
            })
            .await
            .unwrap();
    }
    let values = group.wait().await.unwrap();
    assert_eq!(values, (0..5_000).collect::<Vec<_>>());
    assert_eq!(done.load(Ordering::Relaxed), 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_can_be_filled_and_awaited_inside_a_spawned_task() {
    let handle = tokio::spawn(async {
        let mut group = Group::<u32, String>::with_limit(2).unwrap();
        for i in 0..4 {
            group.spawn(move |_| async move { Ok(i) }).await.unwrap();
        }
        group.wait().await
    });
    assert_eq!(handle.await.unwrap(), Ok(vec![0, 1, 2, 3]));
}
