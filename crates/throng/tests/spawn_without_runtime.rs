//! Misuse returns typed errors: everything that spawns tasks says `NoRuntime` when called
//! (or, for `ParMap`, polled) outside a tokio runtime, as `Pool` and `Pipeline` do,
//! instead of panicking like `tokio::spawn`. Plain `#[test]`s: no runtime here.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use throng::dump::{self, Dumper, TextSink};
use throng::keeper::{self, Keeper};
use throng::keyed::KeyedCounters;
use throng::parallel::{ItemError, ParMap};
use throng::periodic::{self, Periodic};
use tokio_util::sync::CancellationToken;

/// Polls `fut` once with a no-op waker: with no runtime it must be ready at once.
fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("pending outside a runtime"),
    }
}

#[test]
fn keeper_spawn_outside_a_runtime_is_no_runtime() {
    let err = Keeper::spawn(0u64, NonZeroUsize::new(4).unwrap()).unwrap_err();
    assert_eq!(err, keeper::SpawnError::NoRuntime);
    assert_eq!(
        err.to_string(),
        "a keeper must be spawned inside a tokio runtime"
    );
}

#[test]
fn periodic_spawn_outside_a_runtime_is_no_runtime() {
    let err = Periodic::new(Duration::from_secs(1))
        .unwrap()
        .spawn(CancellationToken::new(), |_| async {})
        .unwrap_err();
    assert_eq!(err, periodic::SpawnError::NoRuntime);
}

#[test]
fn dumper_spawn_outside_a_runtime_is_no_runtime() {
    let hits = Arc::new(KeyedCounters::<String>::new(NonZeroUsize::new(4).unwrap()));
    let err = Dumper::new(hits, Duration::from_secs(1))
        .unwrap()
        .spawn(CancellationToken::new(), TextSink::new(Vec::new()))
        .unwrap_err();
    assert_eq!(err, dump::SpawnError::NoRuntime);
}

#[test]
fn par_map_polled_outside_a_runtime_is_no_runtime_and_pulls_nothing() {
    let par = ParMap::new(2).unwrap();
    let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let p = Arc::clone(&pulled);
    let items = (0..3).inspect(move |_| {
        p.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    let out = poll_once(par.try_map(items, |n| async move { Ok::<_, ()>(n) }));
    assert_eq!(out, Err(ItemError::NoRuntime { index: 0 }));
    assert_eq!(pulled.load(std::sync::atomic::Ordering::Relaxed), 0);

    let out = poll_once(par.try_map_with_token([1], |n, _| async move { Ok::<_, ()>(n) }));
    assert_eq!(out, Err(ItemError::NoRuntime { index: 0 }));

    let all = poll_once(par.map_all([1, 2], |n| async move { Ok::<_, ()>(n) }));
    assert_eq!(all, vec![Err(ItemError::NoRuntime { index: 0 })]);
}
