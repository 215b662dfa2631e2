//! The seed's "dump counters" worker: per-user request counts written every 300 ms to a
//! JSON-lines file, and once more at shutdown so the last interval is not lost.
//!
//! Run: `cargo run -p throng --example dump`

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use throng::dump::{Dumper, JsonLinesFileSink};
use throng::keyed::KeyedCounters;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let path =
        std::env::temp_dir().join(format!("throng-dump-example-{}.jsonl", std::process::id()));
    let hits = Arc::new(
        KeyedCounters::<String>::builder(NonZeroUsize::new(3).unwrap())
            .evict_idle_after(NonZeroUsize::new(2).unwrap())
            .build(),
    );
    let token = CancellationToken::new();
    let dumper = Dumper::new(Arc::clone(&hits), Duration::from_millis(300))
        .unwrap()
        .spawn(token.clone(), JsonLinesFileSink::new(&path))
        .unwrap();

    let mut sent = 0u64;
    for round in 0..10u64 {
        // Four users but a cap of three keys: the fourth one's requests go to the
        // overflow bucket, which every dump reports.
        for user in ["alice", "bob", "carol", "dave"] {
            hits.add(user, round + 1);
            sent += round + 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hits.inc("alice"); // counted after the last tick: only the final flush writes it
    sent += 1;

    token.cancel();
    let report = dumper.join().await.expect("dumper ran");
    print!("{}", std::fs::read_to_string(&path).expect("dump file"));
    println!(
        "sent {sent} requests; {} dumps wrote {} of them, {} lost",
        report.dumps, report.counted, report.lost
    );
    assert_eq!(report.counted, sent);
    let _ = std::fs::remove_file(&path);
}
