//! Quick same-run comparisons of throng against its peers.
//!
//! Usage: `cargo run --release -p throng-benches --bin scoreboard -- [case-prefix ...]`
//!
//! Prints one line per case and peer, higher is better:
//! `case=<name> throng=<value> peer=<peer>:<value> unit=<unit> ratio=<throng/peer>`

fn main() {
    let prefixes: Vec<String> = std::env::args().skip(1).collect();
    let cases = throng_benches::cases::all();
    let selected: Vec<_> = cases
        .iter()
        .filter(|c| prefixes.is_empty() || prefixes.iter().any(|p| c.name.starts_with(p.as_str())))
        .collect();
    if selected.is_empty() {
        eprintln!("no case matches {prefixes:?}; cases are:");
        for c in &cases {
            eprintln!("  {}", c.name);
        }
        std::process::exit(2);
    }
    for case in selected {
        for line in (case.run)().lines() {
            println!("{line}");
        }
    }
}
