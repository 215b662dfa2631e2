//! A tiny chat room on `throng::broadcast::Hub`, one member per overflow policy.
//!
//! Run: `cargo run -p throng --example broadcast`
//!
//! A fast reader keeps up; a `DropNewest` and a `DropOldest` reader never read until the
//! end and see exactly what they missed; a `Disconnect` reader is cut off (a chat server
//! would close it with code 4008); a `Block` reader slows the room down for a moment and
//! is then disconnected when it stops reading (its 100 ms timeout expires). Join events carry their own sequence
//! number because they are built under the room's sequencer (`publish_with`).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use throng::broadcast::{Hub, HubSubscriber, Overflow, RecvError, SubscribeOptions};

type Msg = Arc<str>;

fn opts(cap: usize, overflow: Overflow) -> SubscribeOptions {
    SubscribeOptions::new(NonZeroUsize::new(cap).expect("non-zero"), overflow)
}

async fn join(
    hub: &Hub<String, Msg>,
    name: &str,
    o: SubscribeOptions,
) -> HubSubscriber<String, Msg> {
    let sub = hub.subscribe("lobby".to_string(), o).expect("hub open");
    let r = hub
        .publish_with("lobby", |seq| Arc::from(format!("#{seq} * {name} joined")))
        .await
        .expect("room exists");
    println!(
        "{name:>8} joined: stream starts at seq {}, join event is seq {}",
        sub.start_seq(),
        r.seq
    );
    sub
}

/// Reads whatever is queued now and prints what it got and how it ended.
fn drain(name: &str, sub: &mut HubSubscriber<String, Msg>) {
    let (mut got, mut end) = (Vec::new(), String::from("still open"));
    loop {
        match sub.try_recv() {
            Ok(d) => got.push(d.seq),
            Err(throng::broadcast::TryRecvError::Empty) => break,
            Err(throng::broadcast::TryRecvError::Lagged(n)) => got.push(u64::MAX - n),
            Err(e) => {
                end = e.to_string();
                break;
            }
        }
    }
    let shown: Vec<String> = got
        .iter()
        .map(|s| {
            if *s > u64::MAX / 2 {
                format!("<lagged {}>", u64::MAX - s)
            } else {
                s.to_string()
            }
        })
        .collect();
    let st = sub.stats();
    println!(
        "{name:>8}: got [{}], dropped {}, end: {end}",
        shown.join(" "),
        st.dropped
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let hub: Hub<String, Msg> = Hub::new();

    let mut fast = join(&hub, "fast", opts(64, Overflow::DropOldest)).await;
    let reader = tokio::spawn(async move {
        let mut seen = 0;
        loop {
            match fast.recv().await {
                Ok(_) => seen += 1,
                Err(RecvError::Closed) => return seen,
                Err(e) => println!("fast: {e}"),
            }
        }
    });
    let mut newest = join(&hub, "newest", opts(4, Overflow::DropNewest)).await;
    let mut oldest = join(&hub, "oldest", opts(4, Overflow::DropOldest)).await;
    let mut strict = join(&hub, "strict", opts(4, Overflow::Disconnect)).await;
    let mut blocker = join(
        &hub,
        "blocker",
        opts(
            4,
            Overflow::Block {
                timeout: Duration::from_millis(100),
            },
        ),
    )
    .await;
    // The blocker reads slowly (one message per 20 ms) until seq 10, then stops reading.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let slow = tokio::spawn(async move {
        while let Ok(d) = blocker.recv().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if d.seq == 10 {
                break;
            }
        }
        let _ = stop_rx.await;
        drain("blocker", &mut blocker);
        blocker
    });

    for i in 0..18 {
        let start = tokio::time::Instant::now();
        let r = hub
            .publish("lobby", Arc::from(format!("message {i}")))
            .await
            .expect("room exists");
        println!(
            "publish seq {:>2}: delivered {}, dropped {}, evicted {}, disconnected {}, waited {:>2} ms",
            r.seq,
            r.delivered,
            r.dropped,
            r.evicted,
            r.disconnected,
            start.elapsed().as_millis()
        );
    }

    drain("newest", &mut newest);
    drain("oldest", &mut oldest);
    drain("strict", &mut strict);
    let _ = stop_tx.send(());
    let blocker = slow.await.expect("blocker task");
    let m = hub.metrics("lobby").expect("room exists");
    println!(
        "room: published {}, delivered {}, dropped {}, disconnected {}, members {}",
        m.published, m.delivered, m.dropped, m.disconnected, m.subscribers
    );

    hub.close();
    println!(
        "fast reader saw {} messages before the close",
        reader.await.expect("reader")
    );
    drop((newest, oldest, strict, blocker));
    println!("topics after close: {:?}", hub.topics());
}
