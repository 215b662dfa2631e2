//! The baseline chat server (axum, one broadcast channel per room, JSON per recipient, no
//! write batching), for the load generator to compare throng-chat against. Never shipped;
//! see `throng_benches::baseline`.
//!
//! `cargo run --release -p throng-benches --bin chat_baseline -- --listen 127.0.0.1:9090`

use std::net::SocketAddr;

use clap::Parser;

/// chat_baseline: the common-style chat server throng-chat is measured against.
#[derive(Debug, Parser)]
#[command(name = "chat_baseline", about, long_about = None)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (addr, _state, task) = match throng_benches::baseline::start(args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("chat_baseline: bind {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    eprintln!("chat_baseline listening on {addr}");
    tokio::select! {
        r = task => match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("chat_baseline: {e}"),
            Err(e) => eprintln!("chat_baseline: {e}"),
        },
        _ = tokio::signal::ctrl_c() => {}
    }
}
