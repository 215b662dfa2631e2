//! `Scope::run`, `Scope::run_with`, `run_until`: each outcome and the order of checks.
#![cfg(feature = "cancel")]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::MS;
use throng::cancel::{run_until, run_with_until, CancellationToken, Scope, Stopped};
use tokio::sync::oneshot;
use tokio::time::{sleep, Instant};

#[tokio::test(start_paused = true)]
async fn run_returns_the_value_when_work_finishes_first() {
    let scope = Scope::with_timeout(100 * MS);
    let res = scope
        .run(async {
            sleep(50 * MS).await;
            42
        })
        .await;
    assert_eq!(res, Ok(42));
}

#[tokio::test(start_paused = true)]
async fn run_reports_cancelled_when_cancelled_midway() {
    let scope = Scope::new();
    let canceller = scope.clone();
    tokio::spawn(async move {
        sleep(30 * MS).await;
        canceller.cancel();
    });
    let start = Instant::now();
    let res = scope.run(sleep(Duration::from_secs(10))).await;
    assert_eq!(res, Err(Stopped::Cancelled));
    assert_eq!(start.elapsed(), 30 * MS);
}

#[tokio::test(start_paused = true)]
async fn run_reports_deadline_exceeded_at_the_deadline() {
    let scope = Scope::with_timeout(100 * MS);
    let start = Instant::now();
    let res = scope.run(std::future::pending::<()>()).await;
    assert_eq!(res, Err(Stopped::DeadlineExceeded));
    assert_eq!(start.elapsed(), 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_scope_does_not_poll_the_work() {
    let polled = AtomicBool::new(false);
    let work = async {
        polled.store(true, Ordering::SeqCst);
    };

    let cancelled = Scope::new();
    cancelled.cancel();
    assert_eq!(cancelled.run(work).await, Err(Stopped::Cancelled));

    let expired = Scope::with_deadline(Instant::now());
    let work = async {
        polled.store(true, Ordering::SeqCst);
    };
    assert_eq!(expired.run(work).await, Err(Stopped::DeadlineExceeded));
    assert!(!polled.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn cancellation_wins_over_an_expired_deadline() {
    let scope = Scope::with_deadline(Instant::now());
    scope.cancel();
    assert_eq!(scope.run(async { 1 }).await, Err(Stopped::Cancelled));
    assert_eq!(scope.stop_reason(), Some(Stopped::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn work_finishing_at_the_deadline_instant_keeps_its_value() {
    // The work's timer and the deadline fire in the same instant: the work is polled
    // first on each wake-up, so its value is not thrown away.
    let scope = Scope::with_timeout(100 * MS);
    let res = scope
        .run(async {
            sleep(100 * MS).await;
            "done"
        })
        .await;
    assert_eq!(res, Ok("done"));
}

#[tokio::test(start_paused = true)]
async fn run_until_takes_a_bare_token_and_optional_deadline() {
    let token = CancellationToken::new();
    assert_eq!(run_until(&token, None, async { 1 }).await, Ok(1));
    let deadline = Instant::now() + 10 * MS;
    let res = run_until(&token, Some(deadline), sleep(20 * MS)).await;
    assert_eq!(res, Err(Stopped::DeadlineExceeded));
    let child = token.child_token();
    token.cancel();
    assert_eq!(
        run_until(&child, Some(deadline + MS), async { 1 }).await,
        Err(Stopped::Cancelled)
    );
}

#[tokio::test(start_paused = true)]
async fn run_with_timeout_cancels_the_token_seen_inside_the_work() {
    let scope = Scope::with_timeout(100 * MS);
    let seen: Arc<Mutex<Option<CancellationToken>>> = Arc::default();
    let stash = seen.clone();
    let res = scope
        .run_with(|token| async move {
            *stash.lock().unwrap() = Some(token.clone());
            assert!(!token.is_cancelled());
            sleep(Duration::from_secs(10)).await;
        })
        .await;
    assert_eq!(res, Err(Stopped::DeadlineExceeded));
    let token = seen.lock().unwrap().take().expect("work ran");
    assert!(
        token.is_cancelled(),
        "the abandoned work's token must be cancelled"
    );
    assert!(
        !scope.is_cancelled(),
        "the timeout cancels the work, not the scope"
    );
}

#[tokio::test(start_paused = true)]
async fn run_with_cancels_the_token_of_a_helper_the_work_spawned() {
    let scope = Scope::with_timeout(100 * MS);
    let (tx, rx) = oneshot::channel();
    let res = scope
        .run_with(|token| async move {
            tokio::spawn(async move {
                token.cancelled().await;
                let _ = tx.send(Instant::now());
            });
            std::future::pending::<()>().await
        })
        .await;
    let returned_at = Instant::now();
    assert_eq!(res, Err(Stopped::DeadlineExceeded));
    assert_eq!(
        rx.await.unwrap(),
        returned_at,
        "helper stopped at the timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn run_with_cancels_the_token_after_success_too() {
    let scope = Scope::new();
    let (res, token) = {
        let mut kept = None;
        let res = scope
            .run_with(|token| {
                kept = Some(token.clone());
                async { 5 }
            })
            .await;
        (res, kept.unwrap())
    };
    assert_eq!(res, Ok(5));
    assert!(token.is_cancelled());
    assert!(!scope.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn dropping_run_with_cancels_the_work_token() {
    let scope = Scope::new();
    let mut kept = None;
    let fut = scope.run_with(|token| {
        kept = Some(token.clone());
        std::future::pending::<()>()
    });
    // Poll once so the work exists, then drop the call.
    let _ = tokio::time::timeout(MS, fut).await;
    assert!(kept.unwrap().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn run_with_does_not_build_work_in_a_stopped_scope() {
    let scope = Scope::new();
    scope.cancel();
    let mut built = false;
    let res = scope
        .run_with(|_token| {
            built = true;
            async {}
        })
        .await;
    assert_eq!(res, Err(Stopped::Cancelled));
    assert!(!built);

    let token = CancellationToken::new();
    let res = run_with_until(&token, Some(Instant::now()), |_t| async { 1 }).await;
    assert_eq!(res, Err(Stopped::DeadlineExceeded));
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_work_token_does_not_cancel_the_scope() {
    let scope = Scope::new();
    let res = scope
        .run_with(|token| async move {
            token.cancel();
            token.is_cancelled()
        })
        .await;
    assert_eq!(res, Ok(true));
    assert!(!scope.is_cancelled());
}

#[test]
fn stopped_displays_short_lowercase_messages() {
    assert_eq!(Stopped::Cancelled.to_string(), "cancelled");
    assert_eq!(Stopped::DeadlineExceeded.to_string(), "deadline exceeded");
    assert!(Stopped::Cancelled.is_cancelled());
    assert!(Stopped::DeadlineExceeded.is_deadline_exceeded());
}

#[tokio::test(start_paused = true)]
async fn work_reacting_to_the_cancellation_does_not_mask_it() {
    // The work returns as soon as its token is cancelled; the caller still learns that the
    // scope was cancelled rather than getting the work's "I stopped" value.
    let scope = Scope::new();
    let c = scope.clone();
    tokio::spawn(async move {
        sleep(10 * MS).await;
        c.cancel();
    });
    let res = scope
        .run_with(|token| async move {
            token.cancelled().await;
            "stopped early"
        })
        .await;
    assert_eq!(res, Err(Stopped::Cancelled));
}
