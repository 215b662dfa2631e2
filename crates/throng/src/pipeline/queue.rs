//! The queues between stages: bounded tokio channels of `(sequence number, item)`, shared
//! by a stage's workers. The first stage numbers items as it takes them, so the numbers
//! follow input order with no gaps; in ordered mode it also holds back items that are too
//! far ahead of the output (the reorder window), so the reorder buffer stays bounded and
//! can never deadlock the queues.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Mutex, Notify};

/// How far the output has got, for the reorder window.
#[derive(Debug)]
pub(crate) struct Window {
    /// Items handed to the output's reader so far.
    pub(crate) delivered: AtomicU64,
    /// How far ahead of `delivered` the first stage may take items (`u64::MAX`: no limit,
    /// the unordered default).
    pub(crate) size: AtomicU64,
    pub(crate) moved: Notify,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            delivered: AtomicU64::new(0),
            size: AtomicU64::new(u64::MAX),
            moved: Notify::new(),
        }
    }
}

/// A stage's input.
#[derive(Debug)]
pub(crate) enum Source<T> {
    /// The pipeline's input: items get their sequence number here.
    First {
        rx: mpsc::Receiver<T>,
        next: u64,
        window: Arc<Window>,
    },
    /// A queue fed by the previous stage.
    Inner(mpsc::Receiver<(u64, T)>),
}

impl<T> Source<T> {
    /// The next item, or `None` once the queue is closed and empty.
    pub(crate) async fn recv(&mut self) -> Option<(u64, T)> {
        match self {
            Self::First { rx, next, window } => {
                // Wait until this item's number is inside the window (ordered mode).
                loop {
                    let moved = window.moved.notified();
                    let size = window.size.load(Ordering::Relaxed);
                    if *next
                        < window
                            .delivered
                            .load(Ordering::Acquire)
                            .saturating_add(size)
                    {
                        break;
                    }
                    moved.await;
                }
                let item = rx.recv().await?;
                let seq = *next;
                *next += 1;
                Some((seq, item))
            }
            Self::Inner(rx) => rx.recv().await,
        }
    }
}

/// A source shared by a stage's workers.
pub(crate) type Shared<T> = Arc<Mutex<Source<T>>>;

/// The pipeline's final queue, re-sequenced when ordered.
#[derive(Debug)]
pub(crate) struct Output<T> {
    pub(crate) rx: mpsc::Receiver<(u64, T)>,
    pub(crate) ordered: Option<Arc<Window>>,
    pub(crate) held: BTreeMap<u64, T>,
    pub(crate) next: u64,
}

impl<T> Output<T> {
    pub(crate) async fn recv(&mut self) -> Option<T> {
        let Some(window) = self.ordered.clone() else {
            return self.rx.recv().await.map(|(_, item)| item);
        };
        loop {
            if let Some(item) = self.held.remove(&self.next) {
                self.next += 1;
                window.delivered.fetch_add(1, Ordering::Release);
                window.moved.notify_waiters();
                return Some(item);
            }
            match self.rx.recv().await {
                Some((seq, item)) => {
                    self.held.insert(seq, item);
                }
                None => {
                    // Closed: after an error or cancellation there may be gaps; hand out
                    // what arrived, still in order.
                    let (&seq, _) = self.held.iter().next()?;
                    self.next = seq;
                }
            }
        }
    }
}
