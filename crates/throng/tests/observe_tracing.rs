//! The `tracing` hooks: pool and pipeline work runs in the caller's span, breaker
//! transitions and retries are events.
#![cfg(feature = "tracing")]

use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// One event as seen by the subscriber.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    /// `message` first, then `name=value` for every other field.
    fields: String,
    /// The names of the spans the event is in, outermost first.
    spans: Vec<String>,
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collect {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().map(|s| s.name().to_string()).collect())
            .unwrap_or_default();
        self.0.lock().unwrap().push(Seen {
            target: event.metadata().target().to_string(),
            fields: fields.0,
            spans,
        });
    }
}

/// Installs one global collector for this test binary (blocking threads and worker
/// tasks must see it too) and returns what it saw.
fn seen() -> Arc<Mutex<Vec<Seen>>> {
    static COLLECT: OnceLock<Collect> = OnceLock::new();
    COLLECT
        .get_or_init(|| {
            let collect = Collect::default();
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(collect.clone()),
            )
            .expect("no other global subscriber");
            collect
        })
        .0
        .clone()
}

/// Events whose fields contain `needle`.
fn find(needle: &str) -> Vec<Seen> {
    seen()
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.fields.contains(needle))
        .cloned()
        .collect()
}

#[cfg(feature = "pool")]
#[tokio::test]
async fn a_pool_job_runs_in_the_span_of_whoever_submitted_it() {
    use throng::pool::Pool;
    use tracing::Instrument;

    seen();
    let pool = Pool::builder()
        .workers(1)
        .spawn(|n: u32, _| async move {
            tracing::info!(n, "pool job ran");
            n
        })
        .unwrap();
    let handle = pool
        .submit(41)
        .instrument(tracing::info_span!("request_41"))
        .await
        .unwrap();
    assert_eq!(handle.await, Ok(41));
    // Submitted outside any span: no span.
    assert_eq!(pool.try_submit(42).unwrap().await, Ok(42));

    let ran = find("n=41");
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran[0].spans, ["request_41"]);
    assert!(find("n=42")[0].spans.is_empty());
}

#[cfg(feature = "pool")]
#[tokio::test]
async fn a_blocking_pool_job_keeps_the_span_on_its_thread() {
    use throng::pool::Pool;

    seen();
    let pool = Pool::builder()
        .workers(1)
        .spawn_blocking(|n: u32, _| {
            tracing::info!(n, "blocking job ran");
            n
        })
        .unwrap();
    let span = tracing::info_span!("batch_import");
    let handle = span.in_scope(|| pool.try_submit(7001).unwrap());
    assert_eq!(handle.await, Ok(7001));
    assert_eq!(find("n=7001")[0].spans, ["batch_import"]);
}

#[cfg(feature = "pipeline")]
#[tokio::test]
async fn pipeline_stages_run_under_the_span_current_at_spawn() {
    use throng::pipeline::Pipeline;

    seen();
    let span = tracing::info_span!("nightly_job");
    let (input, mut output, handle) = span.in_scope(|| {
        Pipeline::builder::<u32, std::convert::Infallible>(8)
            .stage("double", 1, |n: u32, _| async move {
                tracing::info!(n, "stage saw");
                Ok(n * 2)
            })
            .spawn()
            .unwrap()
    });
    input.send(9001).await.unwrap();
    drop(input);
    assert_eq!(output.recv().await, Some(18002));
    handle.join().await.unwrap();
    let saw = find("n=9001");
    assert_eq!(saw[0].spans, ["nightly_job", "pipeline_stage"]);
}

#[cfg(feature = "breaker")]
#[test]
fn breaker_transitions_are_events() {
    use std::time::Duration;
    use throng::breaker::Breaker;
    use throng::clock::ManualClock;

    seen();
    let breaker = Breaker::builder()
        .name("payments-gw")
        .consecutive_failures(1)
        .cool_down(Duration::from_secs(3))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().failure();
    breaker.clock().advance(Duration::from_secs(3));
    breaker.try_acquire().unwrap().success();

    let events = find("breaker=\"payments-gw\"");
    assert_eq!(events.len(), 3, "open, half-open, closed: {events:?}");
    assert!(events.iter().all(|e| e.target == "throng::breaker"));
    assert!(events[0].fields.contains("circuit breaker opened"));
    assert!(events[0].fields.contains("to=open"));
    assert!(events[1].fields.contains("to=half-open"));
    assert!(events[2].fields.contains("to=closed"));
}

#[cfg(feature = "retry")]
#[tokio::test(start_paused = true)]
async fn retries_are_events() {
    use std::future::IntoFuture;
    use throng::retry::Backoff;

    seen();
    use tracing::Instrument;
    let result = Backoff::default()
        .retry(|attempt| async move {
            if attempt < 3 {
                Err("busy")
            } else {
                Ok(attempt)
            }
        })
        .into_future()
        .instrument(tracing::info_span!("retry_events_test"))
        .await;
    assert_eq!(result.ok(), Some(3));
    let events: Vec<_> = seen()
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.spans == ["retry_events_test"] && s.target == "throng::retry")
        .cloned()
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].fields.contains("attempt=1"));
    assert!(events[1].fields.contains("attempt=2"));
    assert!(events[0].fields.contains("retrying"));
}
