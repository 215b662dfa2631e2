//! `throng-chat`: start the chat server. `--help` lists every flag.

use std::io::IsTerminal;

use clap::Parser;
use throng_chat::config::LogFormat;
use throng_chat::{Config, Server};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cfg = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match cfg.log_format {
        // Colour only where a person reads it: a terminal, and not with NO_COLOR.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
    }
    raise_fd_limit(cfg.max_connections);
    let server = match Server::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("throng-chat: cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    // The handlers are installed before "listening" is logged: a supervisor (or a test)
    // that signals as soon as it reads that line must find them in place.
    let signalled = match signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("throng-chat: cannot install signal handlers: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    tracing::info!(addr = %server.admin_addr, "admin (metrics, APIs) on http://{}/", server.admin_addr);
    tracing::info!(addr = %server.addr, "throng-chat listening; open ws://{}/ws", server.addr);
    signalled.await;
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

/// A future that resolves on SIGINT or SIGTERM; the handlers are registered now.
fn signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Raises the soft limit on open files to the hard limit (every connection is a file
/// descriptor; the usual soft limit, 1 024, is far below `--max-connections`), and logs
/// what it got.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
fn raise_fd_limit(max_connections: u64) {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
        if !got {
            tracing::warn!("cannot read the open-file limit (RLIMIT_NOFILE)");
            return;
        }
        let before = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
                lim.rlim_cur = before;
            }
        }
        let now = lim.rlim_cur as u64;
        tracing::info!(
            before = before as u64,
            now,
            "open-file limit (RLIMIT_NOFILE)"
        );
        // Room for the listener, the database, logs and connections still being closed.
        if now < max_connections.saturating_add(64) {
            tracing::warn!(
                limit = now,
                max_connections,
                "the open-file limit is below --max-connections; accept will fail (and back off) before the cap is reached"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = max_connections;
}
