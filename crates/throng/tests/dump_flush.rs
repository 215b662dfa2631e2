//! The dumper: deltas per interval, sorted, flushed once more at shutdown.

use std::io;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use throng::dump::{format_json_lines, Dump, Dumper, JsonLinesFileSink, Sink, TextSink};
use throng::keyed::KeyedCounters;
use throng::periodic::FinalRun;
use tokio_util::sync::CancellationToken;

fn counters(max_keys: usize) -> Arc<KeyedCounters<String>> {
    Arc::new(KeyedCounters::new(NonZeroUsize::new(max_keys).unwrap()))
}

/// A sink that records every dump it is given.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Dump<String>>>>);

impl Sink<String> for Recorder {
    async fn write(&mut self, dump: &Dump<String>) -> io::Result<()> {
        self.0.lock().unwrap().push(dump.clone());
        Ok(())
    }
}

impl Recorder {
    fn dumps(&self) -> Vec<Dump<String>> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test(start_paused = true)]
async fn s9_1_counts_after_the_last_tick_are_flushed_at_shutdown() {
    // The seed's dumper returned on ctx.Done() without a last dump: the counts of the
    // final partial interval were lost at every shutdown.
    let hits = counters(100);
    let rec = Recorder::default();
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(10))
        .unwrap()
        .spawn(token.clone(), rec.clone())
        .unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    hits.add("late", 7);
    token.cancel();
    let report = handle.join().await.unwrap();
    assert_eq!(report.periodic.final_run, FinalRun::Completed);
    let dumps = rec.dumps();
    let last = dumps.last().expect("a final dump");
    assert!(last.is_final);
    assert_eq!(last.counts, vec![("late".to_string(), 7)]);
}

#[tokio::test(start_paused = true)]
async fn s9_3_dumps_are_sorted_by_key_and_stamped_by_the_injected_clock() {
    // The seed printed in Go's random map order with fmt.Println and time.Now: output
    // was neither deterministic nor testable.
    let hits = counters(100);
    for user in ["zoe", "alice", "mallory", "bob"] {
        hits.inc(user);
    }
    let rec = Recorder::default();
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(1))
        .unwrap()
        .clock(|| UNIX_EPOCH + Duration::from_millis(1234))
        .spawn(token.clone(), rec.clone())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    handle.stop().await.unwrap();
    let dumps = rec.dumps();
    assert_eq!(dumps.len(), 1);
    let keys: Vec<&str> = dumps[0].counts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["alice", "bob", "mallory", "zoe"]);
    assert_eq!(dumps[0].ts_ms, 1234);
}

#[tokio::test(start_paused = true)]
async fn s9_4_each_dump_holds_the_interval_delta_and_the_first_comes_after_one_interval() {
    // The seed dumped cumulative totals only, with an undocumented first tick.
    let hits = counters(100);
    let rec = Recorder::default();
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(10))
        .unwrap()
        .skip_empty(false)
        .spawn(token.clone(), rec.clone())
        .unwrap();
    hits.add("u", 3);
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(rec.dumps().is_empty(), "no dump before the first interval");
    tokio::time::sleep(Duration::from_secs(2)).await; // t = 11
    hits.add("u", 4);
    tokio::time::sleep(Duration::from_secs(10)).await; // t = 21
    handle.stop().await.unwrap();
    let counts: Vec<Vec<(String, u64)>> = rec.dumps().into_iter().map(|d| d.counts).collect();
    assert_eq!(
        counts,
        vec![
            vec![("u".to_string(), 3)],
            vec![("u".to_string(), 4)],
            vec![]
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn empty_intervals_are_skipped_by_default() {
    let hits = counters(100);
    let rec = Recorder::default();
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(1))
        .unwrap()
        .spawn(token.clone(), rec.clone())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    hits.inc("x");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = handle.stop().await.unwrap();
    assert_eq!(report.dumps, 1);
    assert_eq!(report.periodic.runs, 4);
    assert_eq!(rec.dumps().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn overflow_and_evictions_are_reported_to_the_sink() {
    let hits = Arc::new(
        KeyedCounters::<String>::builder(NonZeroUsize::new(2).unwrap())
            .evict_idle_after(NonZeroUsize::new(1).unwrap())
            .build(),
    );
    hits.inc("a");
    hits.inc("b");
    hits.add("c", 5); // past the cap of 2 keys
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(1))
        .unwrap()
        .spawn(token.clone(), TextSink::new(Vec::new()))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = handle.stop().await.unwrap();
    let text = String::from_utf8(report.sink.into_inner()).unwrap();
    assert!(text.contains("key=a count=1"), "{text}");
    assert!(text.contains("overflow=5"), "{text}");
    assert_eq!(report.counted, 7);
}

struct FailingSink;

impl Sink<String> for FailingSink {
    async fn write(&mut self, _dump: &Dump<String>) -> io::Result<()> {
        Err(io::Error::other("disk full"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_is_reported_with_the_counts_it_lost() {
    let hits = counters(10);
    hits.add("a", 2);
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(1))
        .unwrap()
        .spawn(token.clone(), FailingSink)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hits.add("b", 3);
    let report = handle.stop().await.unwrap();
    assert_eq!(report.failed, 2);
    assert_eq!(report.lost, 5);
    assert_eq!(report.counted, 0);
}

struct PanickingSink;

impl Sink<String> for PanickingSink {
    async fn write(&mut self, _dump: &Dump<String>) -> io::Result<()> {
        panic!("sink bug");
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_stops_the_dumper_with_a_report() {
    let hits = counters(10);
    hits.inc("a");
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(1))
        .unwrap()
        .spawn(token.clone(), PanickingSink)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = handle.join().await.unwrap();
    let panic = report.periodic.panic().expect("panic reported");
    assert!(panic.message().contains("sink bug"));
}

#[tokio::test(start_paused = true)]
async fn zero_interval_is_a_typed_error() {
    assert!(Dumper::new(counters(1), Duration::ZERO).is_err());
}

#[tokio::test]
async fn json_lines_file_sink_appends_one_object_per_key() {
    let dir = std::env::temp_dir().join(format!("throng-dump-{}", std::process::id()));
    let path = dir.join("nested").join("counts.jsonl");
    let _ = std::fs::remove_dir_all(&dir);
    let mut sink = JsonLinesFileSink::new(&path);
    let dump = sample_dump();
    Sink::<String>::write(&mut sink, &dump).await.unwrap();
    Sink::<String>::write(&mut sink, &dump).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, format_json_lines(&dump).repeat(2));
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["key"], "alice");
    assert_eq!(first["count"], 2);
    assert!(text.lines().any(|l| l.contains("\"overflow\":1")));
    let _ = std::fs::remove_dir_all(&dir);
}

fn sample_dump() -> Dump<String> {
    Dump {
        seq: 3,
        ts_ms: 1_700_000_000_000,
        is_final: false,
        counts: vec![("alice".to_string(), 2), ("bob".to_string(), 1)],
        overflow: 1,
        evicted: 0,
        keys: 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_every_increment_lands_in_exactly_one_dump() {
    let hits = counters(64);
    let rec = Recorder::default();
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_millis(1))
        .unwrap()
        .spawn(token.clone(), rec.clone())
        .unwrap();
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let hits = Arc::clone(&hits);
            tokio::task::spawn_blocking(move || {
                for i in 0..100_000u64 {
                    hits.inc(&format!("user{}", (i + t) % 100));
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let report = handle.stop().await.unwrap();
    let total: u64 = rec.dumps().iter().map(Dump::total).sum();
    assert_eq!(total, 200_000);
    assert_eq!(report.counted, 200_000);
}

/// A sink whose final write never finishes; regular writes succeed.
struct StuckOnFinal;

impl Sink<String> for StuckOnFinal {
    async fn write(&mut self, dump: &Dump<String>) -> io::Result<()> {
        if dump.is_final {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn counts_of_a_final_write_abandoned_at_the_deadline_are_reported_lost() {
    let hits = counters(10);
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(1))
        .unwrap()
        .final_flush_deadline(Duration::from_secs(5))
        .spawn(token.clone(), StuckOnFinal)
        .unwrap();
    hits.add("a", 2);
    tokio::time::sleep(Duration::from_millis(1500)).await; // first dump: 2 counted
    hits.add("b", 3);
    let report = handle.stop().await.unwrap();
    assert_eq!(report.periodic.final_run, FinalRun::TimedOut);
    assert_eq!(report.counted, 2);
    assert_eq!(
        report.lost, 3,
        "the abandoned final dump's counts are lost, not gone"
    );
    assert_eq!(report.dumps, 2);
    assert_eq!(report.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn counts_of_a_write_that_panicked_are_reported_lost() {
    let hits = counters(10);
    hits.add("a", 4);
    let token = CancellationToken::new();
    let handle = Dumper::new(Arc::clone(&hits), Duration::from_secs(1))
        .unwrap()
        .spawn(token.clone(), PanickingSink)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = handle.join().await.unwrap();
    assert!(report.periodic.panic().is_some());
    assert_eq!(report.counted, 0);
    assert_eq!(report.lost, 4);
    assert_eq!(report.failed, 1);
}
