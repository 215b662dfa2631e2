//! Optional `metrics` for a pool: queue depth, jobs by outcome, rejections. Registered
//! once when the pool is built (labelled with its name), so recording is a handle call;
//! without the feature every hook compiles to nothing.

use super::handle::JobResult;

/// The pool's metric handles.
#[derive(Debug)]
pub(crate) struct Hooks {
    #[cfg(feature = "metrics")]
    m: Handles,
}

#[cfg(feature = "metrics")]
#[derive(Debug)]
struct Handles {
    queued: metrics::Gauge,
    completed: metrics::Counter,
    panicked: metrics::Counter,
    timed_out: metrics::Counter,
    cancelled: metrics::Counter,
    not_started: metrics::Counter,
    rejected: metrics::Counter,
}

impl Hooks {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(feature = "metrics")]
        let m = {
            let pool = name.to_owned();
            let jobs = |outcome: &'static str| metrics::counter!("throng_pool_jobs_total", "pool" => pool.clone(), "outcome" => outcome);
            Handles {
                queued: metrics::gauge!("throng_pool_queued", "pool" => pool.clone()),
                completed: jobs("completed"),
                panicked: jobs("panicked"),
                timed_out: jobs("timed_out"),
                cancelled: jobs("cancelled"),
                not_started: jobs("not_started"),
                rejected: metrics::counter!("throng_pool_rejected_total", "pool" => pool.clone()),
            }
        };
        Self {
            #[cfg(feature = "metrics")]
            m,
        }
    }

    /// `n` jobs entered the queue.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn queued(&self, n: usize) {
        #[cfg(feature = "metrics")]
        self.m.queued.increment(n as f64);
    }

    /// `n` jobs left the queue (to a worker, or handed back at shutdown).
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn dequeued(&self, n: usize) {
        #[cfg(feature = "metrics")]
        self.m.queued.decrement(n as f64);
    }

    /// A job ran to an outcome.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn finished<R>(&self, outcome: &JobResult<R>) {
        #[cfg(feature = "metrics")]
        {
            use super::error::JobError;
            match outcome {
                Ok(_) => self.m.completed.increment(1),
                Err(JobError::Panicked(_)) => self.m.panicked.increment(1),
                Err(JobError::TimedOut) => self.m.timed_out.increment(1),
                Err(JobError::Cancelled) => self.m.cancelled.increment(1),
                Err(JobError::NotStarted) => self.m.not_started.increment(1),
            }
        }
    }

    /// Shutdown dropped `cancelled` running jobs and handed back `not_started` queued
    /// ones.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn shutdown(&self, cancelled: u64, not_started: u64) {
        #[cfg(feature = "metrics")]
        {
            self.m.cancelled.increment(cancelled);
            self.m.not_started.increment(not_started);
        }
    }

    /// A submit was refused (full or closed).
    #[inline]
    pub(crate) fn rejected(&self) {
        #[cfg(feature = "metrics")]
        self.m.rejected.increment(1);
    }
}
