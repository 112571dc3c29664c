//! `/investigate` benchmark: a temporary store with `BENCH_SERIES` gauges of one cluster
//! (default 2,000) × `BENCH_DAYS` of history (default 7) at one sample a minute, one series in a
//! hundred with a planted level step in the window; then the page is requested through the real
//! router in-process over the whole history (window = the last fifth, baseline = the 4× longer
//! period before it) and p50/p99 wall time and process CPU per request are reported. The target
//! is ≤ 1 s for 2,000 series × 7 days.
//!
//! Run: `cargo bench --bench investigate` (env: `BENCH_N` requests per method, default 10).
//! Without cargo's `--bench` flag (as `cargo test --all-targets` builds it) it does a smoke run:
//! 100 series × 12 h, 2 requests, and still checks that the planted series rank first.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{cpu_ns, env_num, pct};
use kafkascope::config::Config;
use kafkascope::model::{Labels, MetricKind, SeriesKey, Timestamp, now_ms};
use kafkascope::store::{SeriesId, Store, StoreConfig};
use kafkascope::targets::TargetRegistry;
use kafkascope::web::{AppState, router};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const INTERVAL_MS: i64 = 60_000;

/// Deterministic noise in [-1, 1).
fn noise(series: u64, i: i64) -> f64 {
    let mut s = series
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    s ^= s >> 31;
    s = s.wrapping_mul(0x94D0_49BB_1331_11EB);
    s ^= s >> 29;
    ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n_series = env_num("BENCH_SERIES", if smoke { 100 } else { 2000 }).max(100);
    let span_ms = if smoke {
        12 * 3_600_000
    } else {
        env_num("BENCH_DAYS", 7) as i64 * 86_400_000
    };
    let n = env_num("BENCH_N", if smoke { 2 } else { 10 }).max(1);
    if smoke {
        println!("(smoke run under cargo test: figures not comparable; use cargo bench)");
    }
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(dir.path().join("investigate.db"))).await?;
    let now = now_ms();
    let end = now - now.rem_euclid(INTERVAL_MS) - INTERVAL_MS;
    let start = end - span_ms;
    let window_from = end - span_ms / 5;
    let keys: Vec<(SeriesKey, MetricKind)> = (0..n_series)
        .map(|k| {
            let metric = if k % 100 == 0 {
                "kafka_bench_planted"
            } else {
                "kafka_bench_gauge"
            };
            (
                SeriesKey::new(
                    metric,
                    Labels::from_pairs([("cluster", "lab"), ("n", format!("{k:04}").as_str())]),
                ),
                MetricKind::Gauge,
            )
        })
        .collect();
    let ids = store.resolve(&keys).await?;
    let started = Instant::now();
    let mut batch: Vec<(SeriesId, Timestamp, f64)> = Vec::with_capacity(60_000);
    let mut ts = start;
    let mut samples = 0u64;
    while ts <= end {
        let i = (ts - start) / INTERVAL_MS;
        for (k, id) in ids.iter().enumerate() {
            let step = if k % 100 == 0 && ts >= window_from {
                25.0
            } else {
                0.0
            };
            batch.push((*id, ts, 50.0 + noise(k as u64, i) + step));
        }
        if batch.len() >= 50_000 {
            samples += store.append(&batch, &[]).await?.accepted as u64;
            batch.clear();
        }
        ts += INTERVAL_MS;
    }
    samples += store.append(&batch, &[]).await?.accepted as u64;
    let took = started.elapsed();
    let settle = Instant::now();
    while store.stats().await.head_blocks > 2 && settle.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // And the day merges (5m/1h/1d day chunks), so reads see what a long-running server has.
    let day = 86_400_000;
    let complete = end - end.rem_euclid(day);
    while store
        .stats()
        .await
        .merged_until
        .is_none_or(|m| m < complete)
        && settle.elapsed() < Duration::from_secs(600)
        && span_ms >= day
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats = store.stats().await;
    println!(
        "filled: {n_series} series × {:.1} days, {samples} samples in {:.1} s; {} MB on disk; head blocks {} after {:.1} s of compaction and merges",
        span_ms as f64 / 86_400_000.0,
        took.as_secs_f64(),
        stats.bytes_on_disk / 1_000_000,
        stats.head_blocks,
        settle.elapsed().as_secs_f64()
    );

    let config = Config::parse(
        "[collector]\ninterval = \"60s\"\n\n[[clusters]]\nname = \"lab\"\nzookeeper = [\"zk1:2181\"]\n",
        "bench.toml",
    )?;
    let app = router(AppState {
        store: store.clone(),
        targets: TargetRegistry::default(),
        config: Arc::new(config),
        catalogue: kafkascope::sources::catalogue(),
    });
    // The store read alone, as the page does it (one batched read of every series at the
    // page's step: the nicest step near 100 points per window, here 30 min): what of the page's
    // time is decoding chunks.
    let step = kafkascope::web::steps::nice_step(end - window_from, 100, INTERVAL_MS);
    let span_start = window_from - 4 * (end - window_from);
    let span_start = span_start - span_start.rem_euclid(step);
    let mut reads = Vec::with_capacity(n);
    let mut tier = String::new();
    for _ in 0..n {
        let t0 = Instant::now();
        let r = store
            .query_range_step(&ids, span_start, end, step, None)
            .await?;
        reads.push(t0.elapsed().as_secs_f64() * 1000.0);
        tier = r
            .first()
            .map(|r| r.tier.as_str().to_string())
            .unwrap_or_default();
    }
    reads.sort_by(f64::total_cmp);
    println!(
        "store read of {n_series} series over the span at step {} s (tier {tier}), one task: p50 {:.0} ms, p99 {:.0} ms",
        step / 1000,
        pct(&reads, 0.5),
        pct(&reads, 0.99)
    );
    let window = format!("from={}&to={}", window_from / 1000, end / 1000);
    for method in ["volume", "ks"] {
        let uri = format!("/investigate?cluster=lab&method={method}&{window}");
        let mut wall = Vec::with_capacity(n);
        let mut cpu = Vec::with_capacity(n);
        let mut body = String::new();
        for _ in 0..n {
            let (c0, t0) = (cpu_ns(), Instant::now());
            let resp = app
                .clone()
                .oneshot(Request::get(&uri).body(Body::empty())?)
                .await?;
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            wall.push(t0.elapsed().as_secs_f64() * 1000.0);
            cpu.push((cpu_ns() - c0) as f64 / 1e6);
            anyhow::ensure!(status == 200, "{uri}: {status}");
            body = String::from_utf8_lossy(&bytes).into_owned();
        }
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        println!(
            "/investigate method={method}: {n_series} candidates, p50 {:.0} ms, p99 {:.0} ms wall; CPU p50 {:.0} ms; {} KB of HTML",
            pct(&wall, 0.5),
            pct(&wall, 0.99),
            pct(&cpu, 0.5),
            body.len() / 1024
        );
        if method == "volume" {
            // The planted steps must lead the ranking, or the figure measures a broken page.
            let first = body
                .split("<table class=\"wide ranking\">")
                .nth(1)
                .and_then(|t| t.split("</tbody>").next())
                .unwrap_or("");
            let planted = (n_series / 100).min(12);
            let rows: Vec<&str> = first.split("<tr>").skip(2).take(planted).collect();
            anyhow::ensure!(
                rows.len() == planted && rows.iter().all(|r| r.contains("kafka_bench_planted")),
                "the planted series do not lead the volume ranking"
            );
        }
    }
    store.close().await?;
    Ok(())
}
