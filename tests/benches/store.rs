//! `cargo bench --bench store [-- --series N --duration SECS --quick --json]`: runs the storage benchmark
//! (the same code as `kafkascope bench-store`).
//!
//! `cargo test --all-targets` runs this binary without cargo's `--bench` flag: it then does a
//! quick smoke run (2,000 series for 3 s) that proves the benchmark and every phase still work.

use std::time::Duration;

use kafkascope::bench::store::{BenchOptions, run};

fn main() -> anyhow::Result<()> {
    let mut opts = BenchOptions::default();
    let mut json = false;
    if !std::env::args().any(|a| a == "--bench") {
        opts.quick = true;
        opts.series = 2_000;
        opts.duration = Duration::from_secs(3);
    }
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--series" => {
                opts.series = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(opts.series)
            }
            "--duration" => {
                opts.duration =
                    Duration::from_secs(args.next().and_then(|v| v.parse().ok()).unwrap_or(60));
            }
            "--dir" => opts.dir = args.next().map(Into::into),
            "--json" => json = true,
            "--quick" => opts.quick = true,
            _ => {} // `--bench` from cargo bench
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = rt.block_on(run(opts))?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
