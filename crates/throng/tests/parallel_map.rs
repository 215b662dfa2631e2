//! `ParMap`: input order, the limit, first-error cancellation, collect-all, panics, real
//! parallelism, and that no item outlives the call.
#![cfg(feature = "parallel")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use support::MS;
use throng::parallel::{CancellationToken, ItemError, ParMap};
use tokio::time::{sleep, Instant};

/// Counts live items: one `Live` per running item, decremented when the item is dropped
/// (finished or aborted).
#[derive(Clone, Default)]
struct Tally {
    live: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
}

struct Live(Arc<AtomicUsize>);

impl Tally {
    fn enter(&self) -> Live {
        self.started.fetch_add(1, Ordering::SeqCst);
        let now = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Live(self.live.clone())
    }
    fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn results_come_back_in_input_order_whatever_the_finish_order() {
    let par = ParMap::new(4).unwrap();
    // Later items finish first.
    let out = par
        .try_map(0..20u64, |i| async move {
            sleep(MS * (20 - i) as u32).await;
            Ok::<_, Infallible>(i * i)
        })
        .await
        .unwrap();
    assert_eq!(out, (0..20u64).map(|i| i * i).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn at_most_limit_items_run_at_once_and_the_limit_is_used() {
    let tally = Tally::default();
    let t = tally.clone();
    let par = ParMap::new(3).unwrap();
    let start = Instant::now();
    let out = par
        .try_map(0..12u32, move |i| {
            let t = t.clone();
            async move {
                let _live = t.enter();
                sleep(10 * MS).await;
                Ok::<_, Infallible>(i)
            }
        })
        .await
        .unwrap();
    assert_eq!(out.len(), 12);
    assert_eq!(tally.peak(), 3);
    // 12 items, 3 at a time, 10 ms each.
    assert_eq!(start.elapsed(), 40 * MS);
    assert_eq!(tally.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_first_error_cancels_the_rest_and_says_which_item() {
    let tally = Tally::default();
    let t = tally.clone();
    let par = ParMap::new(4).unwrap();
    let start = Instant::now();
    let res = par
        .try_map(0..100u32, move |i| {
            let t = t.clone();
            async move {
                let _live = t.enter();
                if i == 2 {
                    sleep(5 * MS).await;
                    return Err(format!("item {i} is bad"));
                }
                sleep(Duration::from_secs(10)).await;
                Ok(i)
            }
        })
        .await;
    assert_eq!(
        res,
        Err(ItemError::Failed {
            index: 2,
            error: "item 2 is bad".to_owned()
        })
    );
    // Returned at the error, not after the 10 s siblings.
    assert_eq!(start.elapsed(), 5 * MS);
    // Only the first 4 ever started; none is still alive.
    assert_eq!(tally.started(), 4);
    assert_eq!(tally.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_sibling_failing_because_of_the_cancellation_does_not_mask_the_cause() {
    let par = ParMap::new(8).unwrap();
    let res = par
        .try_map_with_token(0..8u32, |i, token| async move {
            if i == 5 {
                sleep(MS).await;
                return Err("root cause");
            }
            token.cancelled().await;
            Err::<(), _>("cancelled")
        })
        .await;
    assert_eq!(
        res,
        Err(ItemError::Failed {
            index: 5,
            error: "root cause"
        })
    );
}

#[tokio::test(start_paused = true)]
async fn the_token_reaches_work_an_item_handed_to_another_task() {
    let par = ParMap::new(2).unwrap();
    let helper_saw_cancel = Arc::new(AtomicUsize::new(0));
    let saw = helper_saw_cancel.clone();
    let res = par
        .try_map_with_token(0..2u32, move |i, token| {
            let saw = saw.clone();
            async move {
                if i == 0 {
                    // A helper outside the map, told to stop through the token.
                    let helper = tokio::spawn(async move {
                        token.cancelled().await;
                        saw.fetch_add(1, Ordering::SeqCst);
                    });
                    sleep(Duration::from_secs(10)).await;
                    helper.abort();
                    return Ok(());
                }
                sleep(MS).await;
                Err("fail")
            }
        })
        .await;
    assert_eq!(res.unwrap_err().index(), 1);
    sleep(MS).await;
    assert_eq!(helper_saw_cancel.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn map_all_collects_every_outcome_in_input_order() {
    let par = ParMap::new(3).unwrap();
    let out = par
        .map_all(0..6u32, |i| async move {
            sleep(MS * (6 - i)).await;
            match i % 3 {
                0 => Ok(i),
                1 => Err(i * 100),
                _ => panic!("item {i} panicked"),
            }
        })
        .await;
    assert_eq!(out.len(), 6);
    assert_eq!(out[0], Ok(0));
    assert_eq!(
        out[1],
        Err(ItemError::Failed {
            index: 1,
            error: 100
        })
    );
    assert_eq!(
        out[2],
        Err(ItemError::Panicked {
            index: 2,
            message: "item 2 panicked".to_owned()
        })
    );
    assert_eq!(out[3], Ok(3));
    assert_eq!(out[4].as_ref().unwrap_err().index(), 4);
    assert!(out[5].as_ref().unwrap_err().is_panic());
}

#[tokio::test]
async fn a_panicking_item_is_an_error_not_a_crash() {
    let par = ParMap::new(2).unwrap();
    let res = par
        .try_map(0..4u32, |i| async move {
            if i == 1 {
                panic!("bad item {i}");
            }
            Ok::<_, Infallible>(i)
        })
        .await;
    let err = res.unwrap_err();
    assert_eq!(err.index(), 1);
    assert_eq!(err.panic_message(), Some("bad item 1"));
    assert_eq!(err.to_string(), "item 1 panicked: bad item 1");
}

#[tokio::test]
async fn a_panic_while_creating_the_future_is_caught_too() {
    let par = ParMap::new(2).unwrap();
    let res = par
        .try_map(0..3u32, |i| {
            assert!(i != 2, "no future for {i}");
            async move { Ok::<_, Infallible>(i) }
        })
        .await;
    assert_eq!(
        res,
        Err(ItemError::Panicked {
            index: 2,
            message: "no future for 2".to_owned()
        })
    );
}

#[tokio::test]
async fn a_panicking_iterator_is_reported_at_its_position() {
    let par = ParMap::new(2).unwrap();
    let items = (0..5u32).inspect(|&i| assert!(i != 3, "iterator broke"));
    let out = par
        .map_all(items, |i| async move { Ok::<_, Infallible>(i) })
        .await;
    assert_eq!(out.len(), 4);
    assert_eq!(out[2], Ok(2));
    assert_eq!(
        out[3],
        Err(ItemError::Panicked {
            index: 3,
            message: "iterator broke".to_owned()
        })
    );
}

#[tokio::test]
async fn empty_input_gives_an_empty_vec() {
    let par = ParMap::new(8).unwrap();
    let out = par
        .try_map(Vec::<u32>::new(), |i| async move { Ok::<_, Infallible>(i) })
        .await;
    assert_eq!(out, Ok(vec![]));
}

/// Maps two items that can only finish if they run at the same time on two threads: each
/// blocks its thread until the other has arrived. A single task polling both (as
/// `buffered` does) would never get past the first. The condvar's 10 s timeout is only a
/// failsafe against hanging the test suite.
async fn two_items_that_need_two_threads() -> Vec<std::thread::ThreadId> {
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    let out = ParMap::new(2)
        .unwrap()
        .try_map(0..2u32, move |_| {
            let a = arrived.clone();
            async move {
                let (count, cv) = &*a;
                let mut n = count.lock().unwrap();
                *n += 1;
                cv.notify_all();
                let (n, timeout) = cv
                    .wait_timeout_while(n, Duration::from_secs(10), |n| *n < 2)
                    .unwrap();
                drop(n);
                if timeout.timed_out() {
                    Err("items did not run in parallel".to_owned())
                } else {
                    Ok(std::thread::current().id())
                }
            }
        })
        .await;
    out.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_run_in_parallel_on_the_worker_threads() {
    let threads = two_items_that_need_two_threads().await;
    assert_ne!(threads[0], threads[1], "both items ran on the same thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_run_in_parallel_when_called_from_a_task_on_a_worker_thread() {
    // The workers are then spawned onto the caller's thread; the other thread must steal.
    let threads = tokio::spawn(two_items_that_need_two_threads())
        .await
        .unwrap();
    assert_ne!(threads[0], threads[1], "both items ran on the same thread");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_aborts_every_item() {
    let tally = Tally::default();
    let t = tally.clone();
    let par = ParMap::new(5).unwrap();
    let call = par.try_map(0..50u32, move |i| {
        let t = t.clone();
        async move {
            let _live = t.enter();
            sleep(Duration::from_secs(10)).await;
            Ok::<_, Infallible>(i)
        }
    });
    assert!(tokio::time::timeout(MS, call).await.is_err());
    assert_eq!(tally.started(), 5);
    // The aborts are requested on drop and carried out at the next scheduling point.
    tokio::task::yield_now().await;
    sleep(MS).await;
    assert_eq!(tally.live(), 0);
    assert_eq!(tally.started(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_every_item_is_processed_exactly_once() {
    const N: usize = 20_000;
    let seen: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let s = seen.clone();
    let par = ParMap::new(16).unwrap();
    let out = par
        .try_map(0..N, move |i| {
            let s = s.clone();
            async move {
                s[i].fetch_add(1, Ordering::Relaxed);
                if i % 7 == 0 {
                    tokio::task::yield_now().await;
                }
                Ok::<_, Infallible>(i)
            }
        })
        .await
        .unwrap();
    assert_eq!(out, (0..N).collect::<Vec<_>>());
    assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_is_send_and_can_run_in_a_spawned_task() {
    let handle = tokio::spawn(async {
        ParMap::new(2)
            .unwrap()
            .try_map(
                vec!["a", "b"],
                |s| async move { Ok::<_, Infallible>(s.len()) },
            )
            .await
    });
    assert_eq!(handle.await.unwrap(), Ok(vec![1, 1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_no_item_outlives_a_failed_call() {
    let tally = Tally::default();
    for round in 0..200u32 {
        let t = tally.clone();
        let bad = round % 50;
        let res = ParMap::new(1 + (round as usize % 16))
            .unwrap()
            .try_map(0..64u32, move |i| {
                let t = t.clone();
                async move {
                    let _live = t.enter();
                    tokio::task::yield_now().await;
                    if i == bad {
                        return Err(i);
                    }
                    tokio::task::yield_now().await;
                    Ok(i)
                }
            })
            .await;
        assert_eq!(
            res,
            Err(ItemError::Failed {
                index: bad as usize,
                error: bad
            })
        );
        assert_eq!(tally.live(), 0, "round {round}: an item outlived the call");
    }
}

#[tokio::test]
async fn a_worker_whose_items_never_await_still_lets_other_tasks_run() {
    // One thread, one worker, items that never `.await`. Item 0 spawns a task; it must run
    // long before the last item, because each item consumes coop budget.
    let ran = Arc::new(AtomicUsize::new(0));
    let seen_at = Arc::new(AtomicUsize::new(usize::MAX));
    let (r, s) = (ran.clone(), seen_at.clone());
    let out = ParMap::new(1)
        .unwrap()
        .try_map(0..2_000usize, move |i| {
            if i == 0 {
                let r = r.clone();
                tokio::spawn(async move { r.store(1, Ordering::SeqCst) });
            }
            if r.load(Ordering::SeqCst) == 1 {
                s.fetch_min(i, Ordering::SeqCst);
            }
            async move { Ok::<_, Infallible>(i) }
        })
        .await
        .unwrap();
    assert_eq!(out.len(), 2_000);
    assert!(seen_at.load(Ordering::SeqCst) < 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_limit_with_an_unsized_input_allocates_only_what_is_used() {
    // `from_fn` has no upper size hint, so the limit alone bounds the slots.
    let mut n = 0u32;
    let items = std::iter::from_fn(move || {
        n += 1;
        (n <= 1_000).then_some(n)
    });
    let out = ParMap::new(usize::MAX)
        .unwrap()
        .try_map(items, |i| async move {
            tokio::task::yield_now().await;
            Ok::<_, Infallible>(i)
        })
        .await
        .unwrap();
    assert_eq!(out, (1..=1_000).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_cancels_the_items_token() {
    let (tx, rx) = tokio::sync::oneshot::channel::<CancellationToken>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let call = ParMap::new(1)
        .unwrap()
        .try_map_with_token(0..1u32, move |_, token| {
            let sender = tx.lock().unwrap().take();
            if let Some(sender) = sender {
                let _ = sender.send(token);
            }
            async move {
                sleep(Duration::from_secs(10)).await;
                Ok::<_, Infallible>(())
            }
        });
    assert!(tokio::time::timeout(MS, call).await.is_err());
    let token = rx.await.unwrap();
    assert!(token.is_cancelled());
}
