//! Stress: a million trivial jobs with a concurrent shutdown, and thousands of random
//! interleavings of submitters and shutdown. Every job is accounted for exactly once.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::pool::{JobError, Pool, SubmitTimeoutError, TrySubmitError};

/// Where each job ended up; every slot must be written exactly once.
struct Ledger(Vec<AtomicU8>);

const RAN: u8 = 1;
const REFUSED: u8 = 2;
const HANDED_BACK: u8 = 3;
const CANCELLED: u8 = 4;

impl Ledger {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Self((0..n).map(|_| AtomicU8::new(0)).collect()))
    }

    fn mark(&self, job: usize, how: u8) {
        let prev = self.0[job].swap(how, Ordering::SeqCst);
        assert_eq!(prev, 0, "job {job} accounted twice: {prev} then {how}");
    }

    fn count(&self, how: u8) -> u64 {
        self.0
            .iter()
            .filter(|s| s.load(Ordering::SeqCst) == how)
            .count() as u64
    }

    fn unaccounted(&self) -> usize {
        self.0
            .iter()
            .filter(|s| s.load(Ordering::SeqCst) == 0)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_trivial_jobs_with_a_concurrent_shutdown_balance_exactly() {
    const JOBS: usize = 1_000_000;
    const SUBMITTERS: usize = 4;
    let ledger = Ledger::new(JOBS);
    let l = ledger.clone();
    let pool = Pool::builder()
        .workers(4)
        .queue_capacity(256)
        .cancel_grace(Duration::ZERO)
        .spawn(move |job: usize, _| {
            let l = l.clone();
            async move {
                l.mark(job, RAN);
            }
        })
        .unwrap();
    let mut submitters = Vec::new();
    for s in 0..SUBMITTERS {
        let pool = pool.clone();
        let ledger = ledger.clone();
        submitters.push(tokio::spawn(async move {
            for job in (s..JOBS).step_by(SUBMITTERS) {
                if let Err(e) = pool.submit(job).await {
                    ledger.mark(e.into_inner(), REFUSED);
                }
            }
        }));
    }
    // Shut down while the submitters are mid-way.
    while pool.metrics().completed < (JOBS / 3) as u64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let report = pool.shutdown(Duration::from_millis(5)).await;
    for s in submitters {
        s.await.unwrap();
    }
    for job in &report.unstarted {
        ledger.mark(*job, HANDED_BACK);
    }
    assert_eq!(ledger.unaccounted(), 0);
    assert_eq!(report.completed, ledger.count(RAN));
    assert_eq!(report.not_started, ledger.count(HANDED_BACK));
    assert_eq!(
        report.cancelled, 0,
        "trivial jobs have no await to cancel at"
    );
    assert_eq!(
        report.completed
            + report.failed()
            + report.cancelled
            + report.unstarted.len() as u64
            + ledger.count(REFUSED),
        JOBS as u64,
        "{report:?}"
    );
    assert_eq!(report.accepted, JOBS as u64 - ledger.count(REFUSED));
    assert_eq!(pool.metrics().rejected, ledger.count(REFUSED));
}

/// One random interleaving: submitters using every submit flavour race a shutdown with a
/// random deadline; jobs sometimes yield, sleep or panic.
async fn trial(seed: u64) -> [u64; 4] {
    let mut rng = fastrand::Rng::with_seed(seed);
    let jobs_per_submitter = rng.usize(1..20);
    let submitters = rng.usize(1..4);
    let total = jobs_per_submitter * submitters;
    let ledger = Ledger::new(total);
    let l = ledger.clone();
    let pool = Pool::builder()
        .workers(rng.usize(1..4))
        .queue_capacity(rng.usize(1..5))
        .cancel_grace(Duration::from_micros(rng.u64(0..300)))
        .spawn(move |job: usize, token| {
            let l = l.clone();
            async move {
                match job % 5 {
                    0 => tokio::task::yield_now().await,
                    1 => {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_micros(200)) => {}
                            _ = token.cancelled() => {}
                        }
                    }
                    2 => tokio::time::sleep(Duration::from_micros(500)).await,
                    3 if job % 2 == 1 => panic!("job {job}"),
                    _ => {}
                }
                l.mark(job, RAN);
            }
        })
        .unwrap();
    let mut tasks = Vec::new();
    for s in 0..submitters {
        let pool = pool.clone();
        let ledger = ledger.clone();
        let flavour = rng.u8(0..3);
        tasks.push(tokio::spawn(async move {
            let mut handles = Vec::new();
            for job in (s..total).step_by(submitters) {
                let refused = match flavour {
                    0 => match pool.try_submit(job) {
                        Ok(h) => {
                            handles.push((job, h));
                            None
                        }
                        Err(TrySubmitError::Full(j) | TrySubmitError::Closed(j)) => Some(j),
                    },
                    1 => match pool.submit(job).await {
                        Ok(h) => {
                            handles.push((job, h));
                            None
                        }
                        Err(e) => Some(e.into_inner()),
                    },
                    _ => match pool.submit_timeout(job, Duration::from_micros(300)).await {
                        Ok(h) => {
                            handles.push((job, h));
                            None
                        }
                        Err(SubmitTimeoutError::Timeout(j) | SubmitTimeoutError::Closed(j)) => {
                            Some(j)
                        }
                    },
                };
                if let Some(j) = refused {
                    ledger.mark(j, REFUSED);
                }
            }
            for (job, h) in handles {
                match h.await {
                    Ok(()) => {}
                    // A panicking job never reached its mark; record it here.
                    Err(JobError::Panicked(_)) => ledger.mark(job, RAN),
                    Err(JobError::Cancelled) => ledger.mark(job, CANCELLED),
                    Err(JobError::NotStarted) => {} // marked from the report
                    Err(e) => panic!("unexpected {e}"),
                }
            }
        }));
    }
    if rng.bool() {
        for _ in 0..rng.usize(0..50) {
            tokio::task::yield_now().await;
        }
    } else {
        tokio::time::sleep(Duration::from_micros(rng.u64(0..4_000))).await;
    }
    let deadline = Duration::from_micros(rng.u64(0..1_000));
    let (a, b) = tokio::join!(pool.shutdown(deadline), pool.shutdown(deadline));
    for t in tasks {
        t.await.unwrap();
    }
    for job in a.unstarted.iter().chain(&b.unstarted) {
        ledger.mark(*job, HANDED_BACK);
    }
    assert_eq!(ledger.unaccounted(), 0, "seed {seed}");
    assert_eq!(a.accepted, b.accepted);
    assert_eq!(
        a.completed + a.failed() + a.cancelled + a.not_started,
        a.accepted,
        "seed {seed}: {a:?}"
    );
    assert_eq!(a.cancelled, ledger.count(CANCELLED), "seed {seed}");
    assert_eq!(a.not_started, ledger.count(HANDED_BACK), "seed {seed}");
    assert_eq!(
        a.accepted + ledger.count(REFUSED),
        total as u64,
        "seed {seed}"
    );
    [RAN, REFUSED, HANDED_BACK, CANCELLED].map(|how| ledger.count(how))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_random_submit_shutdown_interleavings_lose_nothing() {
    // The jobs' own panics are expected; keep them out of the output, print the rest.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<String>();
        if !msg.is_some_and(|m| m.starts_with("job ")) {
            default_hook(info);
        }
    }));
    let mut totals = [0u64; 4];
    for seed in 0..2_000 {
        for (t, n) in totals.iter_mut().zip(trial(seed).await) {
            *t += n;
        }
    }
    let [ran, refused, handed_back, cancelled] = totals;
    eprintln!("ran={ran} refused={refused} handed_back={handed_back} cancelled={cancelled}");
    // The trials reached every outcome, so the accounting above was exercised.
    assert!(
        ran > 0 && refused > 0 && handed_back > 0 && cancelled > 0,
        "{totals:?}"
    );
}
