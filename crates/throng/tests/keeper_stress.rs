//! Many callers on the multi-thread runtime: every call is counted exactly once.

use std::num::NonZeroUsize;

use throng::keeper::Keeper;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_many_callers_every_call_counted() {
    const CALLERS: u64 = 16;
    const CALLS: u64 = 500;
    let keeper = Keeper::spawn((0u64, 0u64), NonZeroUsize::new(8).unwrap()).unwrap();
    let mut tasks = Vec::new();
    for c in 0..CALLERS {
        let keeper = keeper.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for i in 0..CALLS {
                if i % 2 == 0 {
                    let seen = keeper
                        .call(move |s| {
                            s.0 += 1;
                            s.0
                        })
                        .await
                        .unwrap();
                    assert!(seen > last, "replies from one caller increase");
                    last = seen;
                } else {
                    keeper.cast(move |s| s.1 += c).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (calls, casts) = keeper.stop().await.unwrap();
    assert_eq!(calls, CALLERS * CALLS / 2);
    assert_eq!(casts, (0..CALLERS).sum::<u64>() * CALLS / 2);
}
