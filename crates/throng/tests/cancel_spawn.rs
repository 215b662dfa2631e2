//! `Scope::spawn`, `close_and_wait` and `shutdown`: every spawned task has an owner that
//! stops and joins it.
#![cfg(feature = "cancel")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::MS;
use throng::cancel::{CancellationToken, Scope, TaskError};
use tokio::time::{sleep, Instant};

/// A worker that runs until its token is cancelled and counts itself out on exit.
async fn cooperative(token: CancellationToken, exited: Arc<AtomicUsize>) {
    token.cancelled().await;
    exited.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_and_joins_every_spawned_task() {
    let scope = Scope::new();
    let exited = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| scope.spawn(|t| cooperative(t, exited.clone())))
        .collect();
    tokio::task::yield_now().await;
    assert_eq!(scope.tasks(), 8);

    let report = scope.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.running, 8);
    assert_eq!(report.aborted, 0);
    assert_eq!(report.stopped_in_time(), 8);
    assert!(report.is_clean());
    assert_eq!(exited.load(Ordering::SeqCst), 8);
    assert_eq!(scope.tasks(), 0);
    for h in handles {
        assert_eq!(h.await, Ok(()));
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_tasks_that_ignore_their_token_after_the_grace_period() {
    let scope = Scope::new();
    let exited = Arc::new(AtomicUsize::new(0));
    let polite = scope.spawn(|t| cooperative(t, exited.clone()));
    let payload = Arc::new(());
    let held = payload.clone();
    let stubborn = scope.spawn(move |_token| async move {
        let _held = held;
        sleep(Duration::from_secs(3600)).await;
        "never"
    });
    tokio::task::yield_now().await;

    let start = Instant::now();
    let report = scope.shutdown(50 * MS).await;
    assert_eq!(start.elapsed(), 50 * MS, "waited exactly the grace period");
    assert_eq!((report.running, report.aborted), (2, 1));
    assert_eq!(polite.await, Ok(()));
    assert_eq!(stubborn.await, Err(TaskError::Aborted));
    assert_eq!(
        Arc::strong_count(&payload),
        1,
        "the aborted task was dropped"
    );
    assert_eq!(scope.tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_idempotent() {
    let scope = Scope::new();
    let exited = Arc::new(AtomicUsize::new(0));
    scope.spawn(|t| cooperative(t, exited.clone()));
    tokio::task::yield_now().await;
    let first = scope.shutdown(MS).await;
    let second = scope.shutdown(MS).await;
    assert_eq!((first.running, first.aborted), (1, 0));
    assert_eq!((second.running, second.aborted), (0, 0));
    assert_eq!(exited.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_of_an_empty_scope_returns_at_once() {
    let scope = Scope::new();
    let start = Instant::now();
    let report = scope.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.running, report.aborted), (0, 0));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn spawning_after_the_abort_never_polls_the_work() {
    let scope = Scope::new();
    scope.spawn(|_t| std::future::pending::<()>());
    tokio::task::yield_now().await;
    let report = scope.shutdown(MS).await;
    assert_eq!(report.aborted, 1);

    let polled = Arc::new(AtomicUsize::new(0));
    let p = polled.clone();
    let late = scope.spawn(move |_t| async move {
        p.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(late.await, Err(TaskError::Aborted));
    assert_eq!(polled.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cancels_a_spawned_tasks_token_and_keeps_its_result() {
    let scope = Scope::with_timeout(100 * MS);
    let h = scope.spawn(|token| async move {
        token.cancelled().await;
        Instant::now()
    });
    let start = Instant::now();
    let stopped_at = h.await.unwrap();
    assert_eq!(stopped_at - start, 100 * MS);
    assert!(
        !scope.is_cancelled(),
        "the deadline stops work, it does not cancel the scope"
    );
}

#[tokio::test(start_paused = true)]
async fn a_spawned_tasks_token_is_cancelled_when_it_returns() {
    let scope = Scope::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let h = scope.spawn(|token| async move {
        // Hand the token to a helper that outlives this task.
        tokio::spawn(async move {
            token.cancelled().await;
            let _ = tx.send(());
        });
        7
    });
    assert_eq!(h.await, Ok(7));
    rx.await
        .expect("helper was told to stop when its parent task ended");
    assert!(!scope.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn child_scope_tasks_count_toward_the_parent() {
    let parent = Scope::new();
    let child = parent.child();
    let grandchild = child.child();
    let exited = Arc::new(AtomicUsize::new(0));
    parent.spawn(|t| cooperative(t, exited.clone()));
    child.spawn(|t| cooperative(t, exited.clone()));
    grandchild.spawn(|t| cooperative(t, exited.clone()));
    tokio::task::yield_now().await;
    assert_eq!(parent.tasks(), 3);
    assert_eq!(child.tasks(), 2);
    assert_eq!(grandchild.tasks(), 1);

    // Shutting down the child stops the child and grandchild tasks only.
    let report = child.shutdown(Duration::from_secs(1)).await;
    assert_eq!((report.running, report.aborted), (2, 0));
    assert_eq!(exited.load(Ordering::SeqCst), 2);
    assert_eq!(parent.tasks(), 1);
    assert!(!parent.is_cancelled());

    let report = parent.shutdown(Duration::from_secs(1)).await;
    assert_eq!((report.running, report.aborted), (1, 0));
    assert_eq!(exited.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn parent_shutdown_aborts_stubborn_grandchild_tasks() {
    let parent = Scope::new();
    let grandchild = parent.child().child();
    let h = grandchild.spawn(|_t| std::future::pending::<()>());
    tokio::task::yield_now().await;
    let report = parent.shutdown(10 * MS).await;
    assert_eq!((report.running, report.aborted), (1, 1));
    assert_eq!(h.await, Err(TaskError::Aborted));
}

#[tokio::test(start_paused = true)]
async fn close_and_wait_joins_tasks_that_finish_on_their_own() {
    let scope = Scope::new();
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..5u32 {
        let d = done.clone();
        scope.spawn(move |_t| async move {
            sleep(i * 10 * MS).await;
            d.fetch_add(1, Ordering::SeqCst);
        });
    }
    let start = Instant::now();
    scope.close_and_wait().await;
    assert_eq!(start.elapsed(), 40 * MS);
    assert_eq!(done.load(Ordering::SeqCst), 5);
    assert!(!scope.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_task_reports_its_message() {
    let scope = Scope::new();
    let h = scope.spawn(|_t| async {
        panic!("boom");
    });
    assert_eq!(h.await, Err(TaskError::Panicked("boom".into())));
    let h = scope.spawn(|_t| async move {
        let n = 3;
        panic!("boom {n}");
    });
    assert_eq!(h.await, Err(TaskError::Panicked("boom 3".into())));
    assert_eq!(scope.tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn abort_through_the_handle() {
    let scope = Scope::new();
    let h = scope.spawn(|_t| std::future::pending::<()>());
    assert!(!h.is_finished());
    h.abort();
    assert_eq!(h.await, Err(TaskError::Aborted));
    scope.close_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_spawn_and_shutdown_account_for_every_task() {
    let scope = Scope::new();
    let exited = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..2000 {
        let child = if i % 3 == 0 {
            scope.child()
        } else {
            scope.clone()
        };
        handles.push(child.spawn(|t| cooperative(t, exited.clone())));
    }
    let report = scope.shutdown(Duration::from_secs(2)).await;
    assert_eq!(report.aborted, 0);
    assert_eq!(exited.load(Ordering::SeqCst), 2000);
    for h in handles {
        assert_eq!(h.await, Ok(()));
    }
    assert_eq!(scope.tasks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_shutdown_racing_spawners_leaves_no_task_behind() {
    // Stubborn tasks (they ignore their token) are spawned from two threads while the
    // scope shuts down with no grace: each is aborted by the shutdown, aborted at
    // registration, or never polled. None may survive.
    for _ in 0..20 {
        let scope = Scope::new();
        let live = Arc::new(());
        let spawner = |scope: Scope, live: Arc<()>| {
            tokio::spawn(async move {
                let mut handles = Vec::new();
                for i in 0..200 {
                    let alive = live.clone();
                    let s = if i % 2 == 0 {
                        scope.child()
                    } else {
                        scope.clone()
                    };
                    handles.push(s.spawn(move |_t| async move {
                        let _alive = alive;
                        std::future::pending::<()>().await
                    }));
                    if i % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                handles
            })
        };
        let a = spawner(scope.clone(), live.clone());
        let b = spawner(scope.clone(), live.clone());
        tokio::task::yield_now().await;
        scope.shutdown(Duration::ZERO).await;
        for h in a.await.unwrap().into_iter().chain(b.await.unwrap()) {
            let res = tokio::time::timeout(Duration::from_secs(2), h).await;
            assert_eq!(res.expect("every handle resolves"), Err(TaskError::Aborted));
        }
        scope.close_and_wait().await;
        assert_eq!(Arc::strong_count(&live), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn spawning_after_a_clean_shutdown_never_polls_the_work() {
    let scope = Scope::new();
    let child = scope.child();
    let report = scope.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean());
    let polled = Arc::new(AtomicUsize::new(0));
    for s in [&scope, &child, &child.child()] {
        let p = polled.clone();
        let h = s.spawn(move |_t| async move {
            p.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(h.await, Err(TaskError::Aborted));
    }
    assert_eq!(polled.load(Ordering::SeqCst), 0);
    assert_eq!(scope.tasks(), 0);
}
