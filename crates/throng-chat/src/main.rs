//! `throng-chat`: start the chat server. `--help` lists every flag.

use clap::Parser;
use throng_chat::{Config, Server};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cfg = Config::parse();
    let server = match Server::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("throng-chat: cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    tracing::info!(addr = %server.addr, "throng-chat listening; open ws://{}/ws", server.addr);
    wait_for_signal().await;
    tracing::info!("shutting down: draining connections");
    match server.shutdown().await {
        Ok(summary) => {
            tracing::info!(
                dumps = summary.dump.dumps,
                counted = summary.dump.counted,
                "stopped"
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("throng-chat: shutdown failed: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
