use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use throng_benches::cases::parallel::*;

static T0: OnceLock<Instant> = OnceLock::new();
static FIRST_WAVE_DONE: AtomicU64 = AtomicU64::new(0);
static LAST_DONE: AtomicU64 = AtomicU64::new(0);

fn now_us() -> u64 {
    T0.get().unwrap().elapsed().as_micros() as u64
}

async fn item(i: u64) -> u64 {
    if i < LIMIT_IO as u64 {
        FIRST_WAVE_DONE.fetch_max(now_us(), Ordering::Relaxed);
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    LAST_DONE.fetch_max(now_us(), Ordering::Relaxed);
    i
}

fn main() {
    T0.set(Instant::now()).unwrap();
    let rt = runtime();
    let n: u64 = std::env::var("N")
        .map(|v| v.parse().unwrap())
        .unwrap_or(1024);
    for round in 0..2 {
        for side in 0..2 {
            let (mut start, mut end, mut total) = (0u64, 0u64, 0u64);
            let reps = 40;
            for _ in 0..reps {
                FIRST_WAVE_DONE.store(0, Ordering::Relaxed);
                LAST_DONE.store(0, Ordering::Relaxed);
                let t = now_us();
                rt.block_on(async {
                    if side == 0 {
                        with_throng(n, LIMIT_IO, item).await
                    } else {
                        with_buffered(n, LIMIT_IO, item).await
                    }
                });
                let e = now_us();
                start += FIRST_WAVE_DONE.load(Ordering::Relaxed) - t;
                end += e - LAST_DONE.load(Ordering::Relaxed);
                total += e - t;
            }
            println!("round {round} {}: first wave registered after {} us, return {} us after last item, total {} us",
                ["throng","buffered"][side], start / reps, end / reps, total / reps);
        }
    }
}
