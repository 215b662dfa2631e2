//! [`PipelineBuilder`]: typed stages, each with its own worker count, joined by bounded
//! queues. Nothing runs until [`spawn`](PipelineBuilder::spawn).

use std::fmt;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex as StdMutex};

use tokio::runtime::Handle;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::error::InvalidPipeline;
use super::metrics::StageCounters;
use super::pipeline::{PipelineHandle, PipelineInput, PipelineOutput, StageInfo};
use super::queue::{Output, Source, Window};
use super::stage::{worker, Control};

type Spawner<E> = Box<dyn FnOnce(&Handle, &TaskTracker, &Arc<Control<E>>) + Send>;

/// Builds a pipeline from `In` items to `Cur` items, with stage errors of type `E`.
/// Start with [`Pipeline::builder`](super::Pipeline::builder).
#[must_use = "a builder does nothing until `spawn` is called"]
pub struct PipelineBuilder<In, Cur, E> {
    capacity: usize,
    ordered: bool,
    input: mpsc::Sender<In>,
    source: Source<Cur>,
    window: Arc<Window>,
    stages: Vec<StageInfo>,
    spawners: Vec<Spawner<E>>,
    error: Option<InvalidPipeline>,
}

impl<In, Cur, E> fmt::Debug for PipelineBuilder<In, Cur, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("capacity", &self.capacity)
            .field("ordered", &self.ordered)
            .field(
                "stages",
                &self.stages.iter().map(|s| s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl<In: Send + 'static, E: Send + 'static> PipelineBuilder<In, In, E> {
    pub(crate) fn new(capacity: usize) -> Self {
        let (input, rx) = mpsc::channel(capacity.max(1));
        let window: Arc<Window> = Arc::default();
        Self {
            capacity,
            ordered: false,
            input,
            source: Source::First {
                rx,
                next: 0,
                window: window.clone(),
            },
            window,
            stages: Vec::new(),
            spawners: Vec::new(),
            error: (capacity == 0).then_some(InvalidPipeline::ZeroCapacity),
        }
    }
}

impl<In, Cur, E> PipelineBuilder<In, Cur, E>
where
    In: Send + 'static,
    Cur: Send + 'static,
    E: Send + 'static,
{
    /// Delivers the output in input order (default: completion order). Items are
    /// re-sequenced at the end through a reorder buffer of at most `capacity` items; the
    /// first stage does not take an item more than `capacity` ahead of the output, so a
    /// slow item holds the others back instead of letting the buffer grow.
    pub fn ordered(mut self) -> Self {
        self.ordered = true;
        self.window.size.store(
            self.capacity.max(1) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        self
    }

    /// Adds a stage: `workers` tasks each take an item, run `f(item, token)`, and pass
    /// the `Ok` value on through a queue of the builder's capacity. The first `Err` (or
    /// panic) in any stage stops every stage; `token` is cancelled then, so long items
    /// can stop early.
    pub fn stage<Next, F, Fut>(
        mut self,
        name: &'static str,
        workers: usize,
        f: F,
    ) -> PipelineBuilder<In, Next, E>
    where
        Next: Send + 'static,
        F: Fn(Cur, CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Next, E>> + Send + 'static,
    {
        if workers == 0 && self.error.is_none() {
            self.error = Some(InvalidPipeline::ZeroWorkers { stage: name });
        }
        let (tx, rx) = mpsc::channel::<(u64, Next)>(self.capacity.max(1));
        let counters = Arc::new(StageCounters::new(workers));
        self.stages.push(StageInfo {
            name,
            workers,
            counters: counters.clone(),
        });
        let source = Arc::new(Mutex::new(self.source));
        let f = Arc::new(f);
        self.spawners.push(Box::new(move |rt, tracker, control| {
            for index in 0..workers {
                let task = worker(
                    name,
                    source.clone(),
                    tx.clone(),
                    f.clone(),
                    (counters.clone(), index),
                    control.clone(),
                );
                // `spawn` runs this closure, so the current span is the caller's: each
                // stage worker gets a child span of it.
                #[cfg(feature = "tracing")]
                let task = tracing::Instrument::instrument(
                    task,
                    tracing::info_span!("pipeline_stage", stage = name, worker = index),
                );
                tracker.spawn_on(task, rt);
            }
        }));
        PipelineBuilder {
            capacity: self.capacity,
            ordered: self.ordered,
            input: self.input,
            source: Source::Inner(rx),
            window: self.window,
            stages: self.stages,
            spawners: self.spawners,
            error: self.error,
        }
    }

    /// Starts every stage. Returns the input (send items; drop every clone to say "no
    /// more"), the output (receive results), and the handle (metrics, cancel, join).
    ///
    /// With the `tracing` feature, each stage worker runs in a `pipeline_stage` span
    /// (fields `stage`, `worker`) whose parent is the span current at this call.
    ///
    /// # Errors
    ///
    /// [`InvalidPipeline`] for a zero capacity, a stage with zero workers, no stages,
    /// or no tokio runtime.
    #[allow(clippy::type_complexity)]
    pub fn spawn(
        self,
    ) -> Result<(PipelineInput<In>, PipelineOutput<Cur>, PipelineHandle<E>), InvalidPipeline> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.stages.is_empty() {
            return Err(InvalidPipeline::NoStages);
        }
        let rt = Handle::try_current().map_err(|_| InvalidPipeline::NoRuntime)?;
        let Source::Inner(rx) = self.source else {
            unreachable!("at least one stage was added");
        };
        let control = Arc::new(Control {
            token: CancellationToken::new(),
            first_error: StdMutex::new(None),
        });
        let tracker = TaskTracker::new();
        for spawn in self.spawners {
            spawn(&rt, &tracker, &control);
        }
        tracker.close();
        let sent = Arc::new(AtomicU64::new(0));
        let output = Output {
            rx,
            ordered: self.ordered.then(|| self.window.clone()),
            held: Default::default(),
            next: 0,
        };
        Ok((
            PipelineInput::new(self.input, sent.clone()),
            PipelineOutput::new(output),
            PipelineHandle::new(control, tracker, self.stages, sent),
        ))
    }
}
