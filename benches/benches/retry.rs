//! Cost of `throng::retry`.
//!
//! - `retry/next_delay`: one `BackoffState::next_delay` step per jitter kind (a fresh
//!   state every 8 steps, so the cap is reached sometimes but not always), next to a
//!   hand-written `min(cap, initial * 2^n)` full-jitter computation as the baseline.
//!   Both draw from the same xorshift generator.
//! - `retry/first_try_ok`: the overhead of wrapping an operation that succeeds at once
//!   in `retry(..).await` (policy copy, generator seeding, boxing the attempt), next to
//!   awaiting the operation directly.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use throng::retry::{retry, Backoff, Jitter, RandomSource};
use tokio_util::sync::CancellationToken;

/// A xorshift64 generator (the benches crate does not depend on fastrand), used by both
/// throng and the baseline so only the delay maths differ.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl RandomSource for XorShift {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        match (high - low).checked_add(1) {
            Some(span) => low + self.next() % span,
            None => self.next(),
        }
    }
}

fn policy(jitter: Jitter) -> Backoff {
    Backoff::builder()
        .initial_delay(Duration::from_millis(10))
        .multiplier(2.0)
        .max_delay(Duration::from_secs(1))
        .jitter(jitter)
        .max_attempts(9)
        .build()
        .unwrap()
}

fn next_delay(c: &mut Criterion) {
    let mut g = c.benchmark_group("retry/next_delay");
    for (name, jitter) in [
        ("none", Jitter::None),
        ("full", Jitter::Full),
        ("equal", Jitter::Equal),
        ("decorrelated", Jitter::Decorrelated),
    ] {
        let p = policy(jitter);
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut state = p.state();
        g.bench_function(format!("throng_{name}"), |b| {
            b.iter(|| match state.next_delay(&mut rng) {
                Some(d) => black_box(d),
                None => {
                    state = p.state();
                    Duration::ZERO
                }
            })
        });
    }
    // Baseline: the hand-written loop most code has, with full jitter.
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut n = 0u32;
    g.bench_function("hand_rolled_full", |b| {
        b.iter(|| {
            let base = (Duration::from_millis(10) * 2u32.pow(n)).min(Duration::from_secs(1));
            n = (n + 1) % 8;
            black_box(Duration::from_nanos(rng.between(0, base.as_nanos() as u64)))
        })
    });
    g.finish();
}

fn first_try_ok(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let p = policy(Jitter::Full);
    let token = CancellationToken::new();
    let mut g = c.benchmark_group("retry/first_try_ok");
    g.bench_function("throng_retry", |b| {
        b.iter(|| {
            rt.block_on(async {
                retry(&p, &token, |n| async move { Ok::<_, ()>(black_box(n)) }).await
            })
        })
    });
    g.bench_function("direct_await", |b| {
        b.iter(|| rt.block_on(async { black_box(async { Ok::<_, ()>(black_box(1u32)) }.await) }))
    });
    g.finish();
}

criterion_group!(benches, next_delay, first_try_ok);
criterion_main!(benches);
