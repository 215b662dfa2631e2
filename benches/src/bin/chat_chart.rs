//! chat_chart: draws the saturation steps that `benches/scripts/chat_load.sh` writes as
//! CSV into one SVG: p50 and p99 delivery latency against the offered post rate, one
//! colour per server, both axes logarithmic, the p99 limit (50 ms) as a line.
//!
//! `chat_chart --out chart.svg --title "…" saturation.csv [more.csv …]`
//!
//! The CSV needs a header naming at least `server`, `offered`, `p50_ms` and `p99_ms`
//! (other columns are ignored but `pass`: a step whose `pass` is not `yes` is drawn as a
//! cross, since past the limit its numbers may describe only the members not yet
//! closed); each distinct `server` is one series, its steps in the order of the file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use plotters::prelude::*;

/// Draws p50 and p99 against offered rate from chat_load.sh's CSV.
#[derive(Debug, Parser)]
#[command(name = "chat_chart", about)]
struct Args {
    /// The SVG to write.
    #[arg(long)]
    out: PathBuf,
    /// The chart's title.
    #[arg(long, default_value = "chat delivery latency against offered rate")]
    title: String,
    /// The p99 limit to draw, in ms (0: none).
    #[arg(long, default_value_t = 50.0)]
    limit_ms: f64,
    /// CSV files from chat_load.sh.
    #[arg(required = true)]
    csv: Vec<PathBuf>,
}

/// One step of one server.
#[derive(Debug, Clone, Copy)]
struct Step {
    offered: f64,
    p50: f64,
    p99: f64,
    pass: bool,
}

/// Reads the steps of every server in `text`, keeping the file's order of servers.
fn read_csv(text: &str, into: &mut Vec<(String, Vec<Step>)>) -> Result<(), String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("no `{name}` column"))
    };
    let (server, offered, p50, p99) = (
        col("server")?,
        col("offered")?,
        col("p50_ms")?,
        col("p99_ms")?,
    );
    let pass = col("pass").ok();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let num = |i: usize| -> Result<f64, String> {
            cells
                .get(i)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("row {}: column {} is not a number", n + 2, header[i]))
        };
        let step = Step {
            offered: num(offered)?,
            p50: num(p50)?,
            p99: num(p99)?,
            pass: pass.is_none_or(|i| cells.get(i) == Some(&"yes")),
        };
        let name = cells.get(server).copied().unwrap_or_default().to_string();
        match into.iter_mut().find(|(s, _)| *s == name) {
            Some((_, steps)) => steps.push(step),
            None => into.push((name, vec![step])),
        }
    }
    Ok(())
}

fn draw(args: &Args, series: &[(String, Vec<Step>)]) -> Result<(), Box<dyn std::error::Error>> {
    let all = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::MAX, args.limit_ms.max(1.0));
    let mut x_min = f64::MAX;
    for s in all {
        x_min = x_min.min(s.offered);
        x_max = x_max.max(s.offered);
        y_min = y_min.min(s.p50.max(0.01));
        y_max = y_max.max(s.p99);
    }
    let x_range = (x_min * 0.8).max(0.1)..x_max * 1.25;
    let y_range = (y_min * 0.7).max(0.01)..y_max * 1.6;

    let root = SVGBackend::new(&args.out, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&args.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone().log_scale(), y_range.log_scale())?;
    chart
        .configure_mesh()
        .x_desc("offered posts/s (1 room, each post delivered to every member)")
        .y_desc("delivery latency, ms")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y < 1.0 {
                format!("{y:.1}")
            } else {
                format!("{y:.0}")
            }
        })
        .draw()?;

    if args.limit_ms > 0.0 {
        let limit = args.limit_ms;
        chart
            .draw_series(LineSeries::new(
                [(x_range.start, limit), (x_range.end, limit)],
                BLACK.mix(0.4).stroke_width(1),
            ))?
            .label(format!("p99 limit {limit:.0} ms"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.4)));
    }
    let palette = [
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0xff, 0x7f, 0x0e),
    ];
    for (k, (name, steps)) in series.iter().enumerate() {
        let c = palette[k % palette.len()];
        let p99: Vec<(f64, f64)> = steps.iter().map(|s| (s.offered, s.p99.max(0.01))).collect();
        let p50: Vec<(f64, f64)> = steps.iter().map(|s| (s.offered, s.p50.max(0.01))).collect();
        chart
            .draw_series(LineSeries::new(p99.clone(), c.stroke_width(3)))?
            .label(format!("{name} p99"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(3)));
        chart.draw_series(
            steps
                .iter()
                .zip(&p99)
                .map(|(s, &p)| marker(s.pass, p, 4, c.filled())),
        )?;
        chart
            .draw_series(LineSeries::new(p50.clone(), c.mix(0.6).stroke_width(1)))?
            .label(format!("{name} p50"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.mix(0.6)));
        chart.draw_series(
            steps
                .iter()
                .zip(&p50)
                .map(|(s, &p)| marker(s.pass, p, 3, c.mix(0.6).into())),
        )?;
    }
    if series.iter().any(|(_, s)| s.iter().any(|s| !s.pass)) {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("x: step failed (p99 over the limit, a loss or a close)")
            .legend(|(x, y)| Cross::new((x + 10, y), 4, BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    root.present()?;
    Ok(())
}

/// A step's marker: a dot if it passed, a cross if not.
fn marker<DB: DrawingBackend>(
    pass: bool,
    at: (f64, f64),
    size: i32,
    style: ShapeStyle,
) -> DynElement<'static, DB, (f64, f64)> {
    if pass {
        Circle::new(at, size, style).into_dyn()
    } else {
        Cross::new(at, size + 1, style.stroke_width(2)).into_dyn()
    }
}

fn main() {
    let args = Args::parse();
    let mut series = Vec::new();
    for path in &args.csv {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("chat_chart: {}: {e}", path.display());
                std::process::exit(2);
            }
        };
        if let Err(e) = read_csv(&text, &mut series) {
            eprintln!("chat_chart: {}: {e}", path.display());
            std::process::exit(2);
        }
    }
    series.retain(|(_, s)| !s.is_empty());
    if series.is_empty() {
        eprintln!("chat_chart: no steps in the CSV");
        std::process::exit(2);
    }
    if let Err(e) = draw(&args, &series) {
        eprintln!("chat_chart: {e}");
        std::process::exit(1);
    }
    let counts: BTreeMap<&str, usize> = series.iter().map(|(n, s)| (n.as_str(), s.len())).collect();
    eprintln!(
        "chat_chart: wrote {} ({counts:?} steps)",
        args.out.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_group_by_server_in_file_order() {
        let csv = "server,offered,p50_ms,p99_ms,pass\nthrong,10,1.5,3.0,yes\nbaseline,10,2,9,no\nthrong,100,2.5,8,yes\n";
        let mut s = Vec::new();
        read_csv(csv, &mut s).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "throng");
        assert_eq!(s[0].1.len(), 2);
        assert_eq!(s[0].1[1].p99, 8.0);
        assert_eq!(s[1].0, "baseline");
        assert!(s[0].1[0].pass && !s[1].1[0].pass);
        assert!(read_csv("server,offered\n", &mut s).is_err());
        assert!(read_csv("server,offered,p50_ms,p99_ms\nx,1,a,2\n", &mut s).is_err());
    }
}
