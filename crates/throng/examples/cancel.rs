//! The seed's three cancellation styles, the Rust way, with `throng::cancel`.
//!
//! Run with `cargo run -p throng --example cancel`. Finishes in about a second.

use std::time::Duration;

use throng::cancel::{CancellationToken, Scope, Stopped};
use tokio::time::{sleep, Instant};

/// Style 1, the seed's `Worker` with a stop channel: a worker that blocks on "stop or
/// tick" instead of polling with `Sleep(100ms)`.
async fn signal_style() {
    println!("-- 1. stop signal (seed: close(w.stop))");
    let scope = Scope::new();
    let worker = scope.spawn(|token| async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut steps = 0;
        loop {
            tokio::select! {
                _ = token.cancelled() => return steps,
                _ = tick.tick() => {
                    steps += 1;
                    println!("   working... step {steps}");
                }
            }
        }
    });
    sleep(Duration::from_millis(250)).await;
    let t = Instant::now();
    // Idempotent, safe before or after start, and it waits (seed S5-2, S5-4).
    let report = scope.shutdown(Duration::from_secs(1)).await;
    scope.shutdown(Duration::from_secs(1)).await;
    println!(
        "   stopped after {:?}: {report:?}, worker did {:?} steps",
        t.elapsed(),
        worker.await
    );
}

/// Style 2, the seed's `timeoutWork`: the timeout now cancels the abandoned work.
async fn timeout_style() {
    println!("-- 2. timeout (seed: select with time.After)");
    let scope = Scope::with_timeout(Duration::from_millis(300));
    let worker = scope.spawn(|token| async move {
        tokio::select! {
            _ = token.cancelled() => "told to stop at the deadline",
            _ = sleep(Duration::from_secs(2)) => "finished its 2 s of work",
        }
    });
    match scope.run(worker).await {
        Ok(r) => println!("   work completed: {r:?}"),
        Err(stop) => println!("   gave up waiting: {stop}"),
    }
    scope.close_and_wait().await;
    println!("   live tasks after the call: {}", scope.tasks());
}

/// Style 3, the seed's `ContextWorker.DoWork`, with a completion path.
async fn do_work(token: CancellationToken, steps: u32) -> u32 {
    for i in 0..steps {
        tokio::select! {
            _ = token.cancelled() => return i,
            _ = sleep(Duration::from_millis(100)) => {}
        }
    }
    steps
}

async fn context_style() {
    println!("-- 3. context (seed: context.WithTimeout)");
    let request = Scope::with_timeout(Duration::from_secs(2));
    for steps in [2, 10] {
        let ctx = request.child_with_timeout(Duration::from_millis(350));
        let outcome = ctx.run_with(|t| do_work(t, steps)).await;
        match outcome {
            Ok(n) => println!("   {steps} steps: completed {n}"),
            Err(Stopped::DeadlineExceeded) => println!("   {steps} steps: deadline exceeded"),
            Err(Stopped::Cancelled) => println!("   {steps} steps: cancelled"),
        }
    }
    let ctx = request.child();
    let canceller = request.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(50)).await;
        canceller.cancel();
    });
    println!(
        "   parent cancelled mid-way: {:?}",
        ctx.run_with(|t| do_work(t, 10)).await
    );
}

#[tokio::main]
async fn main() {
    let start = Instant::now();
    signal_style().await;
    timeout_style().await;
    context_style().await;
    println!("all done in {:?}", start.elapsed());
}
