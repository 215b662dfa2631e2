//! A circuit breaker in front of a flaky downstream, with `throng::breaker`.
//!
//! The downstream is healthy for 1 s, then fails (slowly) until 4 s, then recovers. A
//! client calls it every 100 ms through a breaker: the breaker trips after a few
//! failures, rejects calls at once while open (no waiting on a dead service), lets probes
//! through when the cool-down ends (the cool-down grows while probes keep failing), and
//! closes again once probes succeed. Every state change is printed as it happens; a call
//! that the client cancels (a timeout) is excluded, not counted as a failure.
//!
//! Run with `cargo run -p throng --example breaker`. It runs on paused tokio time, so it
//! finishes at once and prints the same thing every time.

use std::time::Duration;

use throng::breaker::{Breaker, CallError, State, Window};
use throng::clock::TokioClock;
use throng::retry::{Backoff, Jitter};
use tokio::time::{sleep, timeout, Instant};

#[derive(Debug)]
struct Unavailable;

/// The downstream: fine before 1 s and after 4 s; in between it takes 80 ms to fail.
async fn downstream(start: Instant, n: u32) -> Result<String, Unavailable> {
    let t = start.elapsed();
    if t >= Duration::from_secs(1) && t < Duration::from_secs(4) {
        sleep(Duration::from_millis(80)).await;
        Err(Unavailable)
    } else {
        sleep(Duration::from_millis(5)).await;
        Ok(format!("reply {n}"))
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let start = Instant::now();
    let cool_down = Backoff::builder()
        .initial_delay(Duration::from_millis(500))
        .multiplier(2.0)
        .max_delay(Duration::from_secs(2))
        .jitter(Jitter::None) // one client; use Jitter::Equal for a fleet
        .build()
        .expect("valid backoff");
    let breaker = Breaker::builder()
        .consecutive_failures(3)
        .failure_rate(0.5, Window::time(Duration::from_secs(2)))
        .minimum_calls(5)
        .slow_call(Duration::from_millis(500))
        .cool_down_backoff(cool_down)
        .half_open_probes(2)
        .clock(TokioClock::new())
        .on_state_change(|e| {
            println!(
                "  [{:>5} ms] state change {} -> {} ({:?}){}",
                e.at.as_millis(),
                e.from,
                e.to,
                e.reason,
                e.open_for
                    .map(|d| format!(", open for {} ms", d.as_millis()))
                    .unwrap_or_default()
            )
        })
        .build()
        .expect("valid breaker");

    let (mut ok, mut failed, mut rejected) = (0, 0, 0);
    for n in 0..60 {
        let result = breaker.call(|| downstream(start, n)).await;
        let at = start.elapsed().as_millis();
        match result {
            Ok(reply) => {
                ok += 1;
                if n % 10 == 0 || breaker.state() != State::Closed {
                    println!("{at:>6} ms  ok: {reply}");
                }
            }
            Err(CallError::Inner(Unavailable)) => {
                failed += 1;
                println!("{at:>6} ms  failed after waiting on the downstream");
            }
            Err(CallError::Rejected(r)) => {
                rejected += 1;
                println!("{at:>6} ms  rejected at once: {r}");
            }
        }
        sleep(Duration::from_millis(100)).await;
    }

    // A call the client gives up on is cancelled, not failed: it does not count.
    let before = breaker.metrics();
    let hung = timeout(
        Duration::from_millis(10),
        breaker.call(|| async {
            sleep(Duration::from_secs(60)).await;
            Ok::<_, Unavailable>(())
        }),
    )
    .await;
    assert!(hung.is_err());
    let m = breaker.metrics();
    assert_eq!(m.ignored, before.ignored + 1);
    assert_eq!(m.failures, before.failures);

    println!(
        "\nclient saw: {ok} ok, {failed} failed (each waited 80 ms), {rejected} rejected at once"
    );
    println!(
        "breaker metrics: state {}, {} successes, {} failures, {} ignored, {} late, {} rejected, {} trips",
        m.state, m.successes, m.failures, m.ignored, m.late, m.rejected, m.trips
    );
    assert_eq!(m.state, State::Closed, "recovered");
    assert_eq!(ok + failed + rejected, 60);
}
