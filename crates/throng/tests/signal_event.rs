//! `Event`: generations, wait_after, coalescing, close, drop, unsubscribe.

mod support;

use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use support::poll_once;
use throng::signal::{Closed, Event, Generation, Listener, WaitTimeoutError};

fn g(n: u64) -> Generation {
    Generation::new(n)
}

#[test]
fn event_types_are_send_sync_and_waits_are_static_send_futures() {
    fn is_send_sync<T: Send + Sync>() {}
    fn is_static_send<T: Send + 'static>(_: &T) {}
    is_send_sync::<Event>();
    is_send_sync::<Listener>();
    let event = Event::new();
    is_static_send(&event.wait());
    is_static_send(&event.wait_after(Generation::ZERO));
    is_static_send(&event.wait_timeout(Duration::ZERO));
    is_static_send(
        &event
            .listener()
            .wait_after_timeout(Generation::ZERO, Duration::ZERO),
    );
}

#[test]
fn smoke_notify_bumps_the_generation() {
    let event = Event::new();
    assert_eq!(event.generation(), Generation::ZERO);
    assert_eq!(event.notify(), Ok(g(1)));
    assert_eq!(event.notify(), Ok(g(2)));
    assert_eq!(event.generation().get(), 2);
    assert_eq!(event.clone().generation(), g(2), "clones share the event");
    assert_eq!(g(7).to_string(), "7");
}

#[test]
fn notify_wakes_every_current_waiter_with_the_same_generation() {
    let event = Event::new();
    let mut waits: Vec<_> = (0..5).map(|_| Box::pin(event.wait())).collect();
    for w in &mut waits {
        assert_eq!(poll_once(w.as_mut()), Poll::Pending);
    }
    event.notify().unwrap();
    for w in &mut waits {
        assert_eq!(poll_once(w.as_mut()), Poll::Ready(Ok(g(1))));
    }
}

#[test]
fn wait_reads_the_generation_when_called_not_when_first_polled() {
    let event = Event::new();
    let wait = event.wait(); // created, never polled
    event.notify().unwrap();
    let wait = pin!(wait);
    assert_eq!(poll_once(wait), Poll::Ready(Ok(g(1))));
    // A wait created after the notify waits for the next one.
    let mut later = pin!(event.wait());
    assert_eq!(poll_once(later.as_mut()), Poll::Pending);
}

#[test]
fn s11_2_wait_after_returns_at_once_if_the_generation_moved_past() {
    // The seed's late subscriber missed a broadcast that happened just before it
    // subscribed (S11-2); with generations the waiter sees it missed one.
    let event = Event::new();
    let seen = event.generation();
    event.notify().unwrap(); // nobody waiting
    let wait = pin!(event.wait_after(seen));
    assert_eq!(poll_once(wait), Poll::Ready(Ok(g(1))));
    let mut current = pin!(event.wait_after(g(1)));
    assert_eq!(poll_once(current.as_mut()), Poll::Pending);
}

#[test]
fn notifications_between_waits_coalesce_into_the_latest_generation() {
    let event = Event::new();
    for _ in 0..3 {
        event.notify().unwrap();
    }
    let wait = pin!(event.wait_after(Generation::ZERO));
    assert_eq!(poll_once(wait), Poll::Ready(Ok(g(3))));
}

#[test]
fn close_wakes_waiters_with_closed_and_is_idempotent() {
    let event = Event::new();
    let mut w = pin!(event.wait());
    assert_eq!(poll_once(w.as_mut()), Poll::Pending);
    assert!(!event.is_closed());
    assert!(event.close());
    assert!(!event.close(), "a second close is a no-op");
    assert!(event.is_closed());
    assert_eq!(poll_once(w.as_mut()), Poll::Ready(Err(closed())));
    assert!(event.notify().is_err(), "notify after close fails");
    assert_eq!(event.generation(), Generation::ZERO, "and changes nothing");
    let late = pin!(event.wait());
    assert!(matches!(poll_once(late), Poll::Ready(Err(_))));
}

/// `Closed` has no public constructor; take one from a closed event.
fn closed() -> Closed {
    let e = Event::new();
    e.close();
    e.notify().unwrap_err()
}

#[test]
fn a_generation_reached_before_close_is_still_reported() {
    let event = Event::new();
    event.notify().unwrap();
    event.close();
    let before = pin!(event.wait_after(Generation::ZERO));
    assert_eq!(poll_once(before), Poll::Ready(Ok(g(1))));
    let after = pin!(event.wait_after(g(1)));
    assert!(matches!(poll_once(after), Poll::Ready(Err(_))));
    assert_eq!(closed().to_string(), "event closed");
}

#[test]
fn dropping_every_event_closes_listeners_and_pending_waits() {
    let event = Event::new();
    let listener = event.listener();
    let clone = event.clone();
    let mut pending = pin!(event.wait());
    assert_eq!(poll_once(pending.as_mut()), Poll::Pending);
    drop(event);
    assert!(!listener.is_closed(), "a clone still holds it open");
    assert_eq!(poll_once(pending.as_mut()), Poll::Pending);
    clone.notify().unwrap();
    drop(clone);
    assert!(listener.is_closed());
    assert_eq!(poll_once(pending.as_mut()), Poll::Ready(Ok(g(1))));
    let l = pin!(listener.wait());
    assert!(matches!(poll_once(l), Poll::Ready(Err(_))));
    let caught_up = pin!(listener.wait_after(Generation::ZERO));
    assert_eq!(poll_once(caught_up), Poll::Ready(Ok(g(1))));
}

#[test]
fn s11_3_dropping_a_wait_unsubscribes_it() {
    // The seed had no Unsubscribe (S11-3).
    let event = Event::new();
    assert_eq!(event.waiter_count(), 0);
    let waits: Vec<_> = (0..10).map(|_| event.wait()).collect();
    assert_eq!(event.waiter_count(), 10);
    drop(waits);
    assert_eq!(event.waiter_count(), 0);
    let listener = event.listener();
    assert_eq!(event.waiter_count(), 1);
    drop(listener);
    for _ in 0..1_000 {
        let mut w = pin!(event.wait_after(event.generation()));
        assert_eq!(poll_once(w.as_mut()), Poll::Pending);
    }
    assert_eq!(event.waiter_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn s11_4_wait_timeout_reports_elapsed_or_closed() {
    let event = Event::new();
    let start = tokio::time::Instant::now();
    assert_eq!(
        event.wait_timeout(Duration::from_millis(300)).await,
        Err(WaitTimeoutError::Elapsed)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(300));

    let e2 = event.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        e2.notify().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        e2.close();
    });
    let listener = event.listener();
    assert_eq!(
        listener.wait_timeout(Duration::from_secs(5)).await,
        Ok(g(1))
    );
    assert_eq!(
        listener
            .wait_after_timeout(g(1), Duration::from_secs(5))
            .await,
        Err(WaitTimeoutError::Closed)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(500));
    assert_eq!(
        event
            .wait_after_timeout(Generation::ZERO, Duration::ZERO)
            .await,
        Ok(g(1))
    );
    assert_eq!(WaitTimeoutError::Closed.to_string(), "event closed");
}

#[test]
fn stress_a_wait_after_loop_sees_the_final_generation_across_threads() {
    // A producer notifies N times on one worker while a consumer loops on wait_after on
    // the other; the consumer must end exactly at generation N when the event closes.
    const N: u64 = 2_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let event = Event::new();
        let listener = event.listener();
        let consumer = tokio::spawn(async move {
            let mut seen = Generation::ZERO;
            let mut wakeups = 0u64;
            loop {
                match listener
                    .wait_after_timeout(seen, Duration::from_secs(2))
                    .await
                {
                    Ok(g) => {
                        assert!(g > seen, "generations only move forward");
                        seen = g;
                        wakeups += 1;
                    }
                    Err(WaitTimeoutError::Closed) => return (seen, wakeups),
                    Err(WaitTimeoutError::Elapsed) => panic!("lost wake-up at {seen}"),
                }
            }
        });
        let producer = tokio::spawn(async move {
            for i in 1..=N {
                assert_eq!(event.notify(), Ok(g(i)));
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            // Dropping the last Event closes the listener.
        });
        producer.await.unwrap();
        let (seen, wakeups) = consumer.await.unwrap();
        assert_eq!(seen, g(N));
        assert!((1..=N).contains(&wakeups));
    });
}
