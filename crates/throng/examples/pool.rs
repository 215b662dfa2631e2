//! The seed's "worker pool with backpressure and graceful shutdown", done properly: a
//! small queue that pushes back, `submit_with_retry` with jitter, a job that panics, a
//! job that times out, a results stream, and a shutdown whose report accounts for every
//! job (including the ones handed back unstarted).
//!
//! Run with `cargo run -p throng --example pool`. Finishes in about a second.

use std::time::Duration;

use throng::pool::{results, Finished, JobError, Pool, TrySubmitError};
use throng::retry::{Backoff, Jitter};
use tokio::time::Instant;

/// A unit of work: typed, unlike the seed's `Payload interface{}`.
#[derive(Debug, Clone)]
struct Job {
    id: String,
    /// How long the pretend work takes.
    cost_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // job-7 panics on purpose; print one line for it instead of a backtrace. The pool
    // contains the panic either way: the worker lives on and the handle says `Panicked`.
    std::panic::set_hook(Box::new(|info| eprintln!("(panic inside a job: {info})")));
    let pool = Pool::builder()
        .name("resize")
        .workers(3)
        .queue_capacity(4)
        .job_timeout(Duration::from_millis(300))
        .spawn(|job: Job, token| async move {
            if job.id == "job-7" {
                panic!("corrupt input in {}", job.id);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(job.cost_ms)) => {
                    format!("{} done", job.id)
                }
                _ = token.cancelled() => format!("{} stopped early", job.id),
            }
        })?;

    // 1. Backpressure: the queue holds 4 and 3 workers are busy, so a burst of 10
    //    `try_submit`s is partly refused, and the refused job comes back to us.
    println!("-- backpressure: try_submit, queue of 4, 3 workers");
    let (tx, mut rx) = results();
    let mut refused = Vec::new();
    for i in 0..10 {
        let job = Job {
            id: format!("job-{i}"),
            cost_ms: 100,
        };
        match pool.try_submit(job) {
            Ok(handle) => handle.forward(&tx),
            Err(TrySubmitError::Full(job)) => refused.push(job),
            Err(TrySubmitError::Closed(job)) => unreachable!("open; {job:?} came back"),
        }
        tokio::task::yield_now().await; // let the workers pick up jobs
    }
    println!(
        "accepted {}, refused {} (handed back: {})",
        10 - refused.len(),
        refused.len(),
        refused
            .iter()
            .map(|j| j.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 2. Retry the refused ones with jittered backoff instead of failing them.
    println!("-- submit_with_retry: exponential backoff with full jitter");
    let policy = Backoff::builder()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(200))
        .jitter(Jitter::Full)
        .max_attempts(8)
        .build()?;
    for job in refused {
        let id = job.id.clone();
        match pool.submit_with_retry(job, &policy).await {
            Ok(handle) => handle.forward(&tx),
            Err(e) => println!("{id}: gave up: {e}"),
        }
    }

    // 3. A job that overruns the 300 ms job timeout.
    let slow = pool
        .submit(Job {
            id: "job-slow".into(),
            cost_ms: 5_000,
        })
        .await?;
    println!("-- job timeout: {:?}", slow.await);

    // 4. Queue more than can finish before the shutdown deadline: 3 run, 4 wait.
    for i in 10..17 {
        let job = Job {
            id: format!("job-{i}"),
            cost_ms: 400,
        };
        pool.submit(job).await?.forward(&tx);
    }
    drop(tx); // the stream ends once every forwarded job is accounted for

    // The consumer is joined below, so it sees every outcome (the seed's example returned
    // without waiting for its consumer, S15-11).
    let consumer = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(Finished { id, result }) = rx.recv().await {
            let line = match result {
                Ok(msg) => format!("#{id:<2} ok: {msg}"),
                Err(JobError::Panicked(msg)) => format!("#{id:<2} panicked: {msg}"),
                Err(e) => format!("#{id:<2} {e}"),
            };
            lines.push((id, line));
        }
        lines
    });

    // 5. Graceful shutdown with a deadline: stop intake, drain until 200 ms, then cancel
    //    running jobs through their token and hand back what never started.
    let start = Instant::now();
    let report = pool.shutdown(Duration::from_millis(200)).await;
    println!("-- shutdown after {:?}", start.elapsed());
    let mut lines = consumer.await?;
    lines.sort();
    for (_, line) in lines {
        println!("{line}");
    }
    println!(
        "accepted {} = completed {} + failed {} + cancelled {} + not started {}",
        report.accepted,
        report.completed,
        report.failed(),
        report.cancelled,
        report.not_started
    );
    println!(
        "handed back: {}",
        report
            .unstarted
            .iter()
            .map(|j| j.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(
        report.accepted,
        report.completed + report.failed() + report.cancelled + report.not_started
    );
    // After shutdown the pool refuses politely; it does not panic (S15-1, S15-2).
    let late = pool.try_submit(Job {
        id: "late".into(),
        cost_ms: 1,
    });
    println!("submit after shutdown: {}", late.unwrap_err());
    Ok(())
}
