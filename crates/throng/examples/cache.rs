//! `throng::cache` in one run: a bounded cache in front of a slow "database", with a TTL,
//! single-flight loading under a burst of requests, a cancelled leader handing over, and
//! a failing backend whose error reaches every waiter without being cached.
//!
//! Run with `cargo run -p throng --example cache`. Finishes in well under a second.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::cache::Cache;
use tokio::time::sleep;

/// A slow backend that counts its queries and can be told to fail.
#[derive(Default)]
struct Database {
    queries: AtomicUsize,
}

impl Database {
    async fn user_name(&self, id: u64, fail: bool) -> Result<Arc<str>, String> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        sleep(Duration::from_millis(50)).await;
        if fail {
            Err(format!("database unavailable (user {id})"))
        } else {
            Ok(Arc::from(format!("user-{id}")))
        }
    }
}

#[tokio::main]
async fn main() {
    let db = Arc::new(Database::default());
    let cache: Cache<u64, Arc<str>> = Cache::builder(1_000)
        .time_to_live(Duration::from_secs(60))
        .build()
        .expect("valid config");

    println!("-- 1. a burst of 100 requests for one cold key");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (cache, db) = (cache.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .try_get_or_load(7, || async move { db.user_name(7, false).await })
                .await
        }));
    }
    for t in tasks {
        assert_eq!(&*t.await.unwrap().unwrap(), "user-7");
    }
    println!(
        "   100 answers, {} database query",
        db.queries.load(Ordering::Relaxed)
    );

    println!("-- 2. the leading request is cancelled mid-load");
    let leader = {
        let (cache, db) = (cache.clone(), db.clone());
        tokio::spawn(async move {
            cache
                .try_get_or_load(8, || async move { db.user_name(8, false).await })
                .await
        })
    };
    sleep(Duration::from_millis(10)).await;
    let waiter = {
        let (cache, db) = (cache.clone(), db.clone());
        tokio::spawn(async move {
            cache
                .try_get_or_load(8, || async move { db.user_name(8, false).await })
                .await
        })
    };
    sleep(Duration::from_millis(10)).await;
    leader.abort();
    let name = waiter.await.unwrap().unwrap();
    println!("   the waiter took over and got {name:?} (no hang)");

    println!("-- 3. a failing backend");
    let before = db.queries.load(Ordering::Relaxed);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (cache, db) = (cache.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .try_get_or_load(9, || async move { db.user_name(9, true).await })
                .await
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().is_err());
    }
    println!(
        "   10 callers got the error from {} query; cached: {}",
        db.queries.load(Ordering::Relaxed) - before,
        cache.get(&9).is_some()
    );

    println!("-- 4. the bound");
    for id in 0..5_000u64 {
        cache.insert(id, Arc::from("x"));
    }
    println!(
        "   inserted 5000 keys into a cache of {}: len = {}",
        cache.max_capacity(),
        cache.len()
    );
}
