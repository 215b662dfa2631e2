//! `Scope`: child inheritance of cancellation and deadline, `stopped`, `stop_reason`.
#![cfg(feature = "cancel")]

mod support;

use std::time::Duration;

use support::MS;
use throng::cancel::{CancellationToken, Scope, Stopped};
use tokio::time::{sleep, Instant};

fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

#[test]
fn scope_is_send_sync_clone() {
    assert_send_sync::<Scope>();
}

#[tokio::test(start_paused = true)]
async fn child_deadline_is_the_earlier_of_its_own_and_its_parents() {
    let parent = Scope::with_timeout(100 * MS);
    let parent_deadline = parent.deadline().unwrap();

    let tighter = parent.child_with_timeout(10 * MS);
    assert_eq!(tighter.deadline(), Some(Instant::now() + 10 * MS));

    let looser = parent.child_with_timeout(Duration::from_secs(60));
    assert_eq!(looser.deadline(), Some(parent_deadline));

    let plain = parent.child();
    assert_eq!(plain.deadline(), Some(parent_deadline));

    let grandchild = tighter.child_with_deadline(Instant::now() + 50 * MS);
    assert_eq!(grandchild.deadline(), tighter.deadline());

    let unbounded_parent = Scope::new();
    assert_eq!(unbounded_parent.child().deadline(), None);
    let c = unbounded_parent.child_with_timeout(5 * MS);
    assert_eq!(c.deadline(), Some(Instant::now() + 5 * MS));
}

#[tokio::test(start_paused = true)]
async fn a_child_times_out_at_the_parents_deadline() {
    let parent = Scope::with_timeout(30 * MS);
    let child = parent.child_with_timeout(Duration::from_secs(5));
    let start = Instant::now();
    assert_eq!(
        child.run(std::future::pending::<()>()).await,
        Err(Stopped::DeadlineExceeded)
    );
    assert_eq!(start.elapsed(), 30 * MS);
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_parent_cancels_children_and_grandchildren() {
    let parent = Scope::new();
    let child = parent.child();
    let grandchild = child.child_with_timeout(Duration::from_secs(1));
    parent.cancel();
    assert!(child.is_cancelled());
    assert!(grandchild.is_cancelled());
    assert_eq!(grandchild.run(async { 1 }).await, Err(Stopped::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_child_leaves_the_parent_and_siblings_running() {
    let parent = Scope::new();
    let a = parent.child();
    let b = parent.child();
    a.cancel();
    assert!(a.is_cancelled());
    assert!(!parent.is_cancelled());
    assert!(!b.is_cancelled());
    assert_eq!(parent.run(async { 1 }).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn cancel_is_idempotent_and_fine_before_use() {
    let scope = Scope::new();
    scope.cancel();
    scope.cancel();
    assert!(scope.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn remaining_counts_down_and_saturates_at_zero() {
    let scope = Scope::with_timeout(100 * MS);
    assert_eq!(scope.remaining(), Some(100 * MS));
    sleep(40 * MS).await;
    assert_eq!(scope.remaining(), Some(60 * MS));
    sleep(100 * MS).await;
    assert_eq!(scope.remaining(), Some(Duration::ZERO));
    assert_eq!(Scope::new().remaining(), None);
}

#[tokio::test(start_paused = true)]
async fn stop_reason_tracks_cancel_and_deadline() {
    let scope = Scope::with_timeout(10 * MS);
    assert_eq!(scope.stop_reason(), None);
    sleep(10 * MS).await;
    assert_eq!(scope.stop_reason(), Some(Stopped::DeadlineExceeded));
    assert!(
        !scope.is_cancelled(),
        "a deadline does not cancel the token"
    );
    scope.cancel();
    assert_eq!(scope.stop_reason(), Some(Stopped::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn stopped_resolves_at_the_deadline_or_on_cancel() {
    let scope = Scope::with_timeout(25 * MS);
    let start = Instant::now();
    assert_eq!(scope.stopped().await, Stopped::DeadlineExceeded);
    assert_eq!(start.elapsed(), 25 * MS);

    let scope = Scope::new();
    let c = scope.clone();
    tokio::spawn(async move {
        sleep(7 * MS).await;
        c.cancel();
    });
    let start = Instant::now();
    assert_eq!(scope.stopped().await, Stopped::Cancelled);
    assert_eq!(start.elapsed(), 7 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_huge_timeout_means_no_deadline_instead_of_a_panic() {
    let scope = Scope::with_timeout(Duration::MAX);
    assert_eq!(scope.deadline(), None);
    let child = Scope::with_timeout(MS).child_with_timeout(Duration::MAX);
    assert!(child.deadline().is_some());
}

#[tokio::test(start_paused = true)]
async fn from_token_shares_the_token_both_ways() {
    let token = CancellationToken::new();
    let scope = Scope::from_token(token.clone());
    token.cancel();
    assert!(scope.is_cancelled());

    let scope = Scope::new();
    let token = scope.token().clone();
    scope.cancel();
    assert!(token.is_cancelled());
}

#[test]
fn debug_shows_state() {
    let s = format!("{:?}", Scope::new().child());
    assert!(s.contains("cancelled: false"), "{s}");
    assert!(s.contains("depth: 1"), "{s}");
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn scope_futures_are_send() {
    // Compile-time check: every async method can be spawned onto a multi-thread runtime.
    let scope = Scope::new();
    assert_send(&scope.run(async { 1 }));
    assert_send(&scope.run_with(|_t| async { 1 }));
    assert_send(&scope.stopped());
    assert_send(&scope.close_and_wait());
    assert_send(&scope.shutdown(Duration::ZERO));
    assert_send(&throng::cancel::run_until(scope.token(), None, async { 1 }));
    fn handle_is_send_sync<T: Send + Sync>() {}
    handle_is_send_sync::<throng::cancel::ScopedJoinHandle<u32>>();
    handle_is_send_sync::<throng::cancel::ShutdownReport>();
}
