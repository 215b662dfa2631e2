//! Schedule of the periodic runner: exact run counts, first run, missed-tick policies.
//! All on paused tokio time, so every instant below is exact.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::ms;
use throng::periodic::{FinalRun, FirstRun, InvalidPeriod, MissedTicks, Periodic, Stopped};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const P: Duration = Duration::from_millis(10);

/// Spawns a runner that records the start time (ms since `start`) of every regular run;
/// run 0 takes `first_run_takes`. Cancels at `cancel_at` and returns the start times.
async fn run_times(
    periodic: Periodic,
    first_run_takes: Duration,
    cancel_at: Duration,
) -> (Vec<u64>, u64) {
    let start = Instant::now();
    let times = Arc::new(Mutex::new(Vec::new()));
    let t = Arc::clone(&times);
    let mut handle = periodic
        .spawn(CancellationToken::new(), move |ctx| {
            t.lock()
                .unwrap()
                .push((Instant::now() - start).as_millis() as u64);
            async move {
                if ctx.index() == 0 {
                    tokio::time::sleep(first_run_takes).await;
                }
            }
        })
        .unwrap();
    tokio::time::sleep_until(start + cancel_at).await;
    let report = handle.stop().await;
    let times = times.lock().unwrap().clone();
    (times, report.runs)
}

#[test]
fn zero_period_is_a_typed_error() {
    assert_eq!(
        Periodic::new(Duration::ZERO).unwrap_err(),
        InvalidPeriod::Zero
    );
    assert_eq!(
        Periodic::new(Periodic::MAX_PERIOD + Duration::from_nanos(1)).unwrap_err(),
        InvalidPeriod::TooLong
    );
    assert!(Periodic::new(Periodic::MAX_PERIOD).is_ok());
    assert_eq!(InvalidPeriod::Zero.to_string(), "period must be non-zero");
}

#[tokio::test(start_paused = true)]
async fn ten_periods_give_exactly_eleven_runs_when_the_first_is_immediate() {
    let periodic = Periodic::new(P).unwrap();
    let (times, runs) = run_times(periodic, Duration::ZERO, ms(105)).await;
    assert_eq!(runs, 11);
    assert_eq!(times, (0..=10).map(|i| i * 10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn ten_periods_give_exactly_ten_runs_when_the_first_waits_a_period() {
    let periodic = Periodic::new(P).unwrap().first_run(FirstRun::AfterPeriod);
    let (times, runs) = run_times(periodic, Duration::ZERO, ms(105)).await;
    assert_eq!(runs, 10);
    assert_eq!(times, (1..=10).map(|i| i * 10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn s9_4_first_run_is_an_explicit_option_defaulting_to_immediately() {
    // The seed's dumper only ran after a full interval, implicitly (S9-4).
    let (default_times, _) = run_times(Periodic::new(P).unwrap(), Duration::ZERO, ms(5)).await;
    assert_eq!(default_times, [0]);
    let (after, runs) = run_times(
        Periodic::new(P).unwrap().first_run(FirstRun::AfterPeriod),
        Duration::ZERO,
        ms(5),
    )
    .await;
    assert!(after.is_empty());
    assert_eq!(runs, 0);
}

#[tokio::test(start_paused = true)]
async fn s9_4_missed_ticks_skip_is_the_default_and_resumes_on_the_grid() {
    // Go tickers silently drop ticks while the consumer is slow (S9-4); here the policy
    // is explicit. Run 0 takes 25 ms: ticks 10 and 20 are missed.
    let (times, _) = run_times(Periodic::new(P).unwrap(), ms(25), ms(52)).await;
    // The overdue tick runs once at 25 (the two missed ticks collapsed into one), then
    // the schedule resumes on the original 10 ms grid.
    assert_eq!(times, [0, 25, 30, 40, 50]);
    let (explicit, _) = run_times(
        Periodic::new(P).unwrap().missed_ticks(MissedTicks::Skip),
        ms(25),
        ms(52),
    )
    .await;
    assert_eq!(explicit, times);
}

#[tokio::test(start_paused = true)]
async fn missed_ticks_burst_runs_every_missed_tick_back_to_back() {
    let periodic = Periodic::new(P).unwrap().missed_ticks(MissedTicks::Burst);
    let (times, runs) = run_times(periodic, ms(25), ms(52)).await;
    assert_eq!(times, [0, 25, 25, 30, 40, 50]);
    assert_eq!(runs, 6);
}

#[tokio::test(start_paused = true)]
async fn missed_ticks_delay_shifts_the_grid_by_the_stall() {
    let periodic = Periodic::new(P).unwrap().missed_ticks(MissedTicks::Delay);
    let (times, _) = run_times(periodic, ms(25), ms(52)).await;
    assert_eq!(times, [0, 25, 35, 45]);
}

#[tokio::test(start_paused = true)]
async fn run_indices_count_up_and_the_context_carries_the_token() {
    let token = CancellationToken::new();
    let mut seen = Vec::new();
    let report = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .run(token.clone(), |ctx| {
            seen.push((ctx.index(), ctx.is_final(), ctx.token().is_cancelled()));
            if ctx.index() == 3 {
                // Cancelling from inside a run stops the runner after this run.
                ctx.token().cancel();
            }
            async {}
        })
        .await;
    assert_eq!(report.runs, 4);
    assert_eq!(report.final_run, FinalRun::Completed);
    assert_eq!(report.stopped, Stopped::Cancelled);
    assert_eq!(
        seen,
        [
            (0, false, false),
            (1, false, false),
            (2, false, false),
            (3, false, false),
            (4, true, true)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_runner_cancelled_during_a_run_never_starts_another_even_with_ticks_due() {
    // Run 0 takes 5 periods and cancels the token halfway: under Burst, five ticks are
    // due when it returns, but none may start.
    let token = CancellationToken::new();
    let periodic = Periodic::new(P).unwrap().missed_ticks(MissedTicks::Burst);
    let report = periodic
        .run(token.clone(), |ctx| async move {
            tokio::time::sleep(ms(25)).await;
            ctx.token().cancel();
            tokio::time::sleep(ms(25)).await;
        })
        .await;
    assert_eq!(report.runs, 1);
    assert_eq!(report.final_run, FinalRun::Disabled);
}

#[tokio::test(start_paused = true)]
async fn s9_2_run_blocks_the_caller_while_spawn_returns_at_once() {
    // The seed's `Start` blocked although its name suggested it spawned (S9-2).
    let periodic = Periodic::new(P).unwrap();
    let token = CancellationToken::new();
    let blocked = tokio::time::timeout(ms(55), periodic.run(token.clone(), |_| async {})).await;
    assert!(blocked.is_err(), "run must not return before cancellation");

    let start = Instant::now();
    let mut handle = periodic.spawn(token.clone(), |_| async {}).unwrap();
    assert_eq!(Instant::now(), start, "spawn returns without waiting");
    assert!(!handle.is_finished());
    tokio::time::sleep(ms(25)).await;
    assert_eq!(handle.runs(), 3);
    token.cancel();
    assert_eq!(handle.join().await.runs, 3);
    assert!(handle.is_finished());
}
