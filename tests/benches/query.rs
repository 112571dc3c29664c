//! PromQL benchmark: a store with 50 histogram bucket series (`x_bucket{instance, le}`, 5
//! instances × 10 bounds) × 24 h of 15 s scrapes, then
//! * `query_range` of `histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))` over the 24 h
//!   at a 60 s step (the figure), and
//! * a 3,000-term chain `x_bucket{…} * 1 * 1 * …` (the query that used to crash the server) as
//!   an instant query and as a 1 h range query,
//!
//! through the library's `eval_range`/`eval_instant` (parse, load, evaluate on a query thread),
//! reporting p50/p99 wall time and the process CPU time per query (10 ms ticks, averaged).
//!
//! Run: `cargo bench --bench query` (env: `BENCH_N` runs per query, default 20; `BENCH_HOURS` of
//! history, default 24). Without cargo's `--bench` flag (`cargo test --all-targets`) it does a
//! smoke run: 2 h of history, 2 runs per query.

mod common;

use common::{env_num, pct};
use kafkascope::model::{Labels, MetricKind, Sample, SeriesKey, now_ms};
use kafkascope::query::{Limits, Value, eval_instant, eval_range};
use kafkascope::store::{Store, StoreConfig};
use std::time::{Duration, Instant};

const SCRAPE_MS: i64 = 15_000;
const BOUNDS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];

/// CPU time of the whole process so far, in ns: user + system from `/proc/self/stat`, which
/// (unlike the per-thread counters) keeps the time of query threads that have exited.
fn cpu_ns() -> u64 {
    // Clock ticks of 10 ms (CLK_TCK = 100 on Linux).
    const TICK_NS: u64 = 10_000_000;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) * TICK_NS
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = env_num("BENCH_N", if smoke { 2 } else { 20 }).max(1);
    let hours = env_num("BENCH_HOURS", if smoke { 2 } else { 24 }) as i64;
    if smoke {
        println!("(smoke run under cargo test: figures not comparable; use cargo bench)");
    }
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(dir.path().join("query.db"))).await?;
    let now = now_ms();
    let end = now - now.rem_euclid(60_000) - 60_000;
    let start = end - hours * 3_600_000;
    let keys: Vec<SeriesKey> = (0..5)
        .flat_map(|i| {
            BOUNDS.iter().map(move |le| {
                SeriesKey::new(
                    "x_bucket",
                    Labels::from_pairs([("instance", format!("i{i}")), ("le", le.to_string())]),
                )
            })
        })
        .collect();
    let started = Instant::now();
    let mut counts = vec![0.0f64; keys.len()];
    let mut batch = Vec::with_capacity(10_000);
    let mut t = start;
    let mut step = 0u64;
    while t <= end {
        for (k, key) in keys.iter().enumerate() {
            // Cumulative buckets: bound b gets (b + 1) observations per scrape, plus a wobble.
            let b = k % BOUNDS.len();
            step = step.wrapping_mul(6364136223846793005).wrapping_add(1);
            counts[k] += (b + 1) as f64 * 3.0 + (step >> 61) as f64;
            batch.push(Sample {
                key: key.clone(),
                kind: MetricKind::Counter,
                ts: t,
                value: counts[k],
            });
        }
        if batch.len() >= 10_000 {
            store.write(&batch, &[]).await?;
            batch.clear();
        }
        t += SCRAPE_MS;
    }
    store.write(&batch, &[]).await?;
    let settle = Instant::now();
    while store.stats().await.head_blocks > 2 && settle.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "filled: {} series, {hours} h of 15 s scrapes in {:.1} s",
        keys.len(),
        started.elapsed().as_secs_f64()
    );

    let limits = Limits::default();
    let hist = "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))";
    let chain = format!(
        "x_bucket{{instance=\"i0\", le=\"+Inf\"}}{}",
        " * 1".repeat(2_999)
    );
    println!(
        "\n{:<44} {:>9} {:>9} {:>9} {:>11} {:>9}",
        "query", "p50 ms", "p99 ms", "max ms", "cpu ms/q", "points"
    );
    for (name, text, range) in [
        (
            format!("{hist} [{hours}h, step 60s]"),
            hist.to_string(),
            Some((start, 60_000)),
        ),
        ("3000-term chain, instant".to_string(), chain.clone(), None),
        (
            "3000-term chain, 1 h range, step 60s".to_string(),
            chain.clone(),
            Some((end - 3_600_000, 60_000)),
        ),
    ] {
        let mut times = Vec::with_capacity(n);
        let mut cpu = 0u64;
        let mut points = 0;
        for i in 0..n + 1 {
            let cpu0 = cpu_ns();
            let t = Instant::now();
            let r = match range {
                Some((from, step)) => eval_range(&store, &text, from, end, step, &limits).await,
                None => eval_instant(&store, &text, end, &limits).await,
            }
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            points = match &r.value {
                Value::Vector(v) => v.iter().map(|s| s.values.iter().flatten().count()).sum(),
                _ => 0,
            };
            anyhow::ensure!(points > 0, "{name}: empty result");
            // The first run warms caches; it is not counted.
            if i > 0 {
                times.push(ms);
                cpu += cpu_ns().saturating_sub(cpu0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<44} {:>9.1} {:>9.1} {:>9.1} {:>11.1} {:>9}",
            pct(&times, 0.5),
            pct(&times, 0.99),
            times[times.len() - 1],
            cpu as f64 / 1e6 / n as f64,
            points
        );
    }
    store.close().await?;
    Ok(())
}
