//! What happens to each job: values, panics, timeouts, tokens, the results stream and the
//! metrics.

use std::time::Duration;

use throng::pool::{results, Finished, JobError, Pool};

#[tokio::test(start_paused = true)]
async fn a_panicking_job_becomes_an_error_and_the_worker_goes_on() {
    let pool = Pool::builder()
        .workers(1)
        .spawn(|n: u32, _| async move {
            tokio::task::yield_now().await;
            if n == 2 {
                panic!("job {n} exploded");
            }
            n
        })
        .unwrap();
    let handles: Vec<_> = (1..=3).map(|n| pool.try_submit(n).unwrap()).collect();
    let outcomes: Vec<_> = futures_join(handles).await;
    assert_eq!(
        outcomes,
        vec![
            Ok(1),
            Err(JobError::Panicked("job 2 exploded".into())),
            Ok(3)
        ]
    );
    let m = pool.metrics();
    assert_eq!((m.completed, m.panicked, m.failed()), (2, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_panics_before_its_future_exists_is_contained_too() {
    let pool = Pool::builder()
        .workers(1)
        .spawn(|n: u32, _| {
            assert!(n != 0, "zero is not a job");
            async move { n }
        })
        .unwrap();
    let bad = pool.try_submit(0).unwrap();
    let good = pool.try_submit(5).unwrap();
    assert_eq!(
        bad.await,
        Err(JobError::Panicked("zero is not a job".into()))
    );
    assert_eq!(good.await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn a_job_past_its_timeout_fails_with_timed_out() {
    let pool = Pool::builder()
        .workers(1)
        .job_timeout(Duration::from_millis(100))
        .spawn(|ms: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        })
        .unwrap();
    let slow = pool.try_submit(500).unwrap();
    let fast = pool.try_submit(50).unwrap();
    let start = tokio::time::Instant::now();
    assert_eq!(slow.await, Err(JobError::TimedOut));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(fast.await, Ok(50));
    let m = pool.metrics();
    assert_eq!((m.timed_out, m.completed), (1, 1));
}

#[tokio::test]
async fn blocking_jobs_run_off_the_runtime_and_panics_are_contained() {
    let pool = Pool::builder()
        .workers(2)
        .spawn_blocking(|n: u64, _token| {
            assert!(n != 3, "three is unlucky");
            // Really blocking: a runtime thread would stall here.
            std::thread::sleep(Duration::from_millis(5));
            (0..=n).sum::<u64>()
        })
        .unwrap();
    let handles: Vec<_> = (1..=4).map(|n| pool.try_submit(n).unwrap()).collect();
    let outcomes = futures_join(handles).await;
    assert_eq!(
        outcomes,
        vec![
            Ok(1),
            Ok(3),
            Err(JobError::Panicked("three is unlucky".into())),
            Ok(10)
        ]
    );
}

#[tokio::test]
async fn a_blocking_job_past_its_timeout_sees_its_token_cancelled() {
    let pool = Pool::builder()
        .workers(1)
        .job_timeout(Duration::from_millis(20))
        .spawn_blocking(|(), token| {
            // Cooperative: polls its token.
            let start = std::time::Instant::now();
            while !token.is_cancelled() {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "token never cancelled"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            "stopped"
        })
        .unwrap();
    assert_eq!(pool.try_submit(()).unwrap().await, Err(JobError::TimedOut));
    // The worker is free again.
    let next = pool.try_submit(()).unwrap();
    assert_eq!(next.await, Err(JobError::TimedOut));
}

#[tokio::test(start_paused = true)]
async fn jobs_get_a_token_that_the_shutdown_deadline_cancels() {
    let pool = Pool::builder()
        .workers(1)
        .spawn(|(), token| async move {
            token.cancelled().await;
            "saw cancellation"
        })
        .unwrap();
    let h = pool.try_submit(()).unwrap();
    let report = pool.shutdown(Duration::from_millis(30)).await;
    assert_eq!(h.await, Ok("saw cancellation"));
    assert_eq!((report.completed, report.cancelled), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn forwarded_handles_feed_one_results_stream_that_ends_after_the_last_job() {
    let pool = Pool::builder()
        .workers(2)
        .spawn(|n: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(10 * (5 - n))).await;
            n
        })
        .unwrap();
    let (tx, mut rx) = results();
    for n in 0..5 {
        pool.submit(n).await.unwrap().forward(&tx);
    }
    drop(tx);
    let consumer = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(Finished { id, result }) = rx.recv().await {
            seen.push((id, result.unwrap()));
        }
        seen
    });
    let report = pool.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean());
    let mut seen = consumer.await.unwrap();
    assert_eq!(seen.len(), 5, "every outcome arrived and the stream ended");
    seen.sort_unstable();
    assert_eq!(seen, (0..5).map(|n| (n, n)).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn metrics_report_queue_depth_running_jobs_and_queue_wait() {
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(4)
        .spawn(|ms: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        })
        .unwrap();
    let handles: Vec<_> = (0..3).map(|_| pool.try_submit(100).unwrap()).collect();
    tokio::task::yield_now().await;
    let m = pool.metrics();
    assert_eq!((m.queued, m.running, m.accepted), (2, 1, 3));
    futures_join(handles).await;
    let m = pool.metrics();
    assert_eq!((m.queued, m.running, m.completed, m.started), (0, 0, 3, 3));
    // Waits: 0, 100 and 200 ms.
    assert_eq!(m.queue_wait_max, Duration::from_millis(200));
    assert_eq!(m.queue_wait_total, Duration::from_millis(300));
    assert_eq!(m.queue_wait_mean(), Duration::from_millis(100));
}

async fn futures_join<R>(handles: Vec<throng::pool::JobHandle<R>>) -> Vec<Result<R, JobError>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}
