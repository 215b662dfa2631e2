//! Load generator for throng-chat (and the baseline server in this crate): opens many
//! WebSocket connections, posts at a target rate and reports delivery rate, end-to-end
//! latency (HDR histogram), errors and closes. See `throng_benches::load`.
//!
//! `cargo run --release -p throng-benches --bin chat_load -- --conns 1000 --rate 200`

use clap::Parser;
use throng_benches::load::{self, os, Args};

fn main() {
    let args = Args::parse();
    let need = args.conns as u64 + 64;
    match os::raise_nofile() {
        Ok((soft, hard)) => {
            eprintln!("open-file limit: {soft} (hard {hard})");
            if soft < need {
                eprintln!(
                    "warning: {} connections need about {need} open files; raise the hard \
                     limit first (as root: `ulimit -n {need}` in this shell, or LimitNOFILE= \
                     / /etc/security/limits.conf)",
                    args.conns
                );
            }
        }
        Err(e) => eprintln!("warning: could not read or raise the open-file limit: {e}"),
    }
    let posters = args.poster_count();
    if !args.idle && posters > 0 && args.rate / posters as f64 > load::SERVER_POST_RATE {
        eprintln!(
            "warning: {:.1} posts/s per poster is over throng-chat's default per-user limit \
             ({}/s): expect rate_limited errors unless the server runs with a higher \
             --post-rate, or use more --posters",
            args.rate / posters as f64,
            load::SERVER_POST_RATE
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(load::run(&args)) {
        Ok(mut summary) => {
            summary.nofile = os::raise_nofile().map_or(0, |(soft, _)| soft);
            println!("{summary}");
            if args.json {
                println!("{}", summary.to_json());
            }
        }
        Err(e) => {
            eprintln!("chat_load: {e}");
            std::process::exit(2);
        }
    }
}
