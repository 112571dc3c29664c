//! Consumer-page benchmark: fills a temporary store with the series the kafka source writes for
//! many consumer groups (default 2,000 groups × 4 partitions, 10 groups per topic) over 30 days,
//! then requests `/consumers` and a group page through the real router in-process and reports
//! p50/p99 server time and the process CPU time per request.
//!
//! History: one sample every 30 min for the whole span, then one every 30 s (the poll
//! interval) for the last 2 hours, for every committed offset, lag, lag sum and log end; members
//! and state for the last 2 hours. Groups: 70 % keep up, 15 % fall behind (WARN), 10 % commit
//! one offset (STALL), 5 % stopped an hour ago (STOP).
//!
//! Run: `cargo bench --bench consumers` (env: `BENCH_GROUPS`, default 2000; `BENCH_DAYS`,
//! default 30; `BENCH_N` requests per page, default 20).
//!
//! `cargo test --all-targets` runs this binary without cargo's `--bench` flag: it then does a
//! smoke run (100 groups, 1 day, 2 requests per page) that proves both pages render.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{cpu_ns, env_num, pct};
use kafkascope::config::Config;
use kafkascope::model::{Labels, MetricKind, SeriesKey, Timestamp, now_ms};
use kafkascope::store::{SeriesId, Store, StoreConfig};
use kafkascope::targets::{TargetRegistry, TargetStatus};
use kafkascope::web::{AppState, router};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const CLUSTER: &str = "bench";
const POLL_MS: i64 = 30_000;
const OLD_STEP_MS: i64 = 1_800_000;
const RECENT_MS: i64 = 2 * 3_600_000;
const PARTITIONS: i64 = 4;
const GROUPS_PER_TOPIC: usize = 10;

fn key(metric: &str, labels: &[(&str, &str)]) -> (SeriesKey, MetricKind) {
    let mut all = vec![("cluster", CLUSTER)];
    all.extend_from_slice(labels);
    (
        SeriesKey::new(metric, Labels::from_pairs(all)),
        MetricKind::Gauge,
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    KeepsUp,
    Slow,
    Stalled,
    Stopped,
}

fn kind_of(g: usize) -> Kind {
    match g % 20 {
        0..=13 => Kind::KeepsUp,
        14..=16 => Kind::Slow,
        17 | 18 => Kind::Stalled,
        _ => Kind::Stopped,
    }
}

/// Messages per second into each partition of topic `t`.
fn rate(t: usize) -> i64 {
    (t % 5) as i64 + 1
}

struct Group {
    kind: Kind,
    topic: usize,
    committed: Vec<SeriesId>,
    lag: Vec<SeriesId>,
    lag_sum: SeriesId,
    members: SeriesId,
    state: SeriesId,
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let groups_n = env_num("BENCH_GROUPS", if smoke { 100 } else { 2000 });
    let days = env_num("BENCH_DAYS", if smoke { 1 } else { 30 }) as i64;
    let n = env_num("BENCH_N", if smoke { 2 } else { 20 }).max(1);
    if smoke {
        println!("(smoke run under cargo test: figures not comparable; use cargo bench)");
    }
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(dir.path().join("consumers.db"))).await?;
    let now = now_ms();
    let end = now - now.rem_euclid(POLL_MS) - POLL_MS;
    let start = end - days * 86_400_000;
    let recent_from = end - RECENT_MS;
    let stop_at = end - 3_600_000;
    let topics_n = groups_n.div_ceil(GROUPS_PER_TOPIC);

    // Series.
    let mut log_end_ids: Vec<Vec<SeriesId>> = Vec::new();
    for t in 0..topics_n {
        let name = format!("topic-{t:04}");
        let keys: Vec<_> = (0..PARTITIONS)
            .map(|p| {
                let p = p.to_string();
                key(
                    "kafka_topic_partition_current_offset",
                    &[("topic", name.as_str()), ("partition", p.as_str())],
                )
            })
            .collect();
        log_end_ids.push(store.resolve(&keys).await?);
    }
    let mut groups = Vec::new();
    for g in 0..groups_n {
        let name = format!("group-{g:04}");
        let topic = g % topics_n;
        let tname = format!("topic-{topic:04}");
        let mut keys = Vec::new();
        for metric in [
            "kafka_consumergroup_current_offset",
            "kafka_consumergroup_lag",
        ] {
            for p in 0..PARTITIONS {
                let p = p.to_string();
                keys.push(key(
                    metric,
                    &[
                        ("consumergroup", name.as_str()),
                        ("topic", tname.as_str()),
                        ("partition", p.as_str()),
                    ],
                ));
            }
        }
        keys.push(key(
            "kafka_consumergroup_lag_sum",
            &[("consumergroup", name.as_str()), ("topic", tname.as_str())],
        ));
        keys.push(key(
            "kafka_consumergroup_members",
            &[("consumergroup", name.as_str())],
        ));
        let kind = kind_of(g);
        let state = if kind == Kind::Stopped {
            "Empty"
        } else {
            "Stable"
        };
        keys.push(key(
            "kafka_consumergroup_state",
            &[("consumergroup", name.as_str()), ("state", state)],
        ));
        let ids = store.resolve(&keys).await?;
        let p = PARTITIONS as usize;
        groups.push(Group {
            kind,
            topic,
            committed: ids[..p].to_vec(),
            lag: ids[p..2 * p].to_vec(),
            lag_sum: ids[2 * p],
            members: ids[2 * p + 1],
            state: ids[2 * p + 2],
        });
    }
    let series = topics_n * PARTITIONS as usize + groups_n * (2 * PARTITIONS as usize + 3);

    // Samples, in time order.
    let started = Instant::now();
    let mut written = 0usize;
    let mut batch: Vec<(SeriesId, Timestamp, f64)> = Vec::new();
    let mut ts = start;
    while ts <= end {
        let recent = ts >= recent_from;
        let secs = (ts - start) / 1000;
        for (t, ids) in log_end_ids.iter().enumerate() {
            for (p, id) in ids.iter().enumerate() {
                batch.push((*id, ts, (secs * rate(t) + p as i64) as f64));
            }
        }
        for (g, gr) in groups.iter().enumerate() {
            let produced = secs * rate(gr.topic);
            let lag = match gr.kind {
                Kind::KeepsUp => (g as i64 + secs / 30) % 5,
                // Falls one message a second further behind during the recent hours.
                Kind::Slow => 100 + (ts - recent_from).max(0) / 1000,
                Kind::Stalled => 50 + (ts - recent_from).max(0) / 1000 * rate(gr.topic),
                Kind::Stopped => 20 + (ts - stop_at).max(0) / 1000 * rate(gr.topic),
            };
            if gr.kind == Kind::Stopped && ts > stop_at {
                // No commit any more: only the lag sum keeps being reported by the source.
                batch.push((gr.lag_sum, ts, (lag * PARTITIONS) as f64));
                continue;
            }
            for p in 0..PARTITIONS as usize {
                let log_end = produced + p as i64;
                batch.push((gr.committed[p], ts, (log_end - lag).max(0) as f64));
                batch.push((gr.lag[p], ts, lag as f64));
            }
            batch.push((gr.lag_sum, ts, (lag * PARTITIONS) as f64));
            if recent {
                let members = if gr.kind == Kind::Stopped { 0.0 } else { 2.0 };
                batch.push((gr.members, ts, members));
                batch.push((gr.state, ts, 1.0));
            }
        }
        if batch.len() > 200_000 {
            written += batch.len();
            let r = store.append(&batch, &[]).await?;
            anyhow::ensure!(r.rejected == 0, "the store refused {} samples", r.rejected);
            batch.clear();
        }
        ts += if ts + OLD_STEP_MS <= recent_from {
            OLD_STEP_MS
        } else if ts < recent_from {
            recent_from - ts
        } else {
            POLL_MS
        };
    }
    written += batch.len();
    let r = store.append(&batch, &[]).await?;
    anyhow::ensure!(r.rejected == 0, "the store refused {} samples", r.rejected);
    let took = started.elapsed();
    let settle = Instant::now();
    while store.stats().await.head_blocks > 2 && settle.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The due merges too, so the pages are timed on a settled store, not beside a merge.
    store.compact_now().await?;
    let stats = store.stats().await;
    println!(
        "filled: {groups_n} groups × {PARTITIONS} partitions on {topics_n} topics, {series} series, {days} d, {written} samples in {:.1} s; {} MB on disk; head blocks {} after {:.1} s of compaction",
        took.as_secs_f64(),
        stats.bytes_on_disk / 1_000_000,
        stats.head_blocks,
        settle.elapsed().as_secs_f64()
    );

    let targets = TargetRegistry::default();
    targets.register(TargetStatus {
        cluster: CLUSTER.into(),
        source: "kafka",
        target: "127.0.0.1:9092".into(),
        identity: Labels::new(),
        interval_ms: POLL_MS,
        timeout_ms: 10_000,
        up: Some(true),
        last_scrape: Some(end),
        last_success: Some(end),
        last_error: None,
        warnings: vec![],
        last_duration_ms: Some(10.0),
        last_samples: series,
        consecutive_failures: 0,
        next_scrape: Some(end + POLL_MS),
        scrapes_total: 1,
        failures_total: 0,
    });
    let config = Config::parse(
        &format!("[[clusters]]\nname = \"{CLUSTER}\"\n"),
        "bench.toml",
    )?;
    let app = router(AppState {
        store: store.clone(),
        targets,
        config: Arc::new(config),
        catalogue: kafkascope::sources::catalogue(),
    });
    // Where the list's time goes: reading every group's windows, then the log-end histories.
    {
        use kafkascope::lag::evaluator::EvalConfig;
        use kafkascope::lag::storage;
        let names = storage::groups(&store, CLUSTER);
        let cfg = EvalConfig::default();
        let t = Instant::now();
        let data = storage::read_groups(
            &store,
            CLUSTER,
            &names,
            end,
            &cfg,
            POLL_MS,
            storage::Docs::ClusterMode,
        )
        .await?;
        let read_ms = t.elapsed().as_secs_f64() * 1000.0;
        let mut lowest = std::collections::HashMap::new();
        let mut recent = std::collections::HashMap::new();
        for d in &data {
            for w in &d.windows {
                if let Some(last) = w.offsets.last() {
                    let k = (w.topic.clone(), w.partition);
                    let e = lowest.entry(k.clone()).or_insert(last.offset);
                    *e = (*e).min(last.offset);
                    if let Some(r) = d.recent_log_ends.get(&k) {
                        recent.entry(k).or_insert_with(|| r.clone());
                    }
                }
            }
        }
        let t = Instant::now();
        let h = storage::histories(&store, CLUSTER, &recent, &lowest, end).await?;
        let hist_ms = t.elapsed().as_secs_f64() * 1000.0;
        // The page draws sparklines for the 200 rows of its first page (`PAGE_ROWS`).
        let sums: Vec<SeriesId> = groups.iter().take(200).map(|g| g.lag_sum).collect();
        let t = Instant::now();
        let r = store
            .query_range_step(&sums, end - 86_400_000, end, 3_600_000, None)
            .await?;
        println!(
            "phases of /consumers: read_groups {read_ms:.1} ms ({} groups), histories {hist_ms:.1} ms ({} partitions), 24 h lag sums of the sparkline rows {:.1} ms ({} series, tier {})",
            data.len(),
            h.len(),
            t.elapsed().as_secs_f64() * 1000.0,
            r.len(),
            r.first().map_or("–", |x| x.tier.as_str()),
        );
    }
    let slow = (0..groups_n)
        .find(|g| kind_of(*g) == Kind::Slow)
        .unwrap_or(0);
    let pages = [
        ("/consumers (24h)", "/consumers?range=24h".to_string()),
        (
            "/consumers (24h, all groups on one page)",
            "/consumers?range=24h&per=5000".to_string(),
        ),
        (
            "/consumers/{cluster}/{group} (24h)",
            format!("/consumers/{CLUSTER}/group-{slow:04}?range=24h"),
        ),
        (
            "/consumers/{cluster}/{group} (30d)",
            format!("/consumers/{CLUSTER}/group-{slow:04}?range=30d"),
        ),
        (
            "/v3/kafka/{cluster}/consumer/{group}/lag",
            format!("/v3/kafka/{CLUSTER}/consumer/group-{slow:04}/lag"),
        ),
    ];
    println!(
        "\n{:<42} {:>9} {:>9} {:>9} {:>11} {:>10}",
        "page", "p50 ms", "p99 ms", "max ms", "cpu ms/req", "bytes"
    );
    for (name, path) in pages {
        let mut times = Vec::with_capacity(n);
        let mut bytes = 0;
        let mut cpu = 0u64;
        for i in 0..n + 2 {
            let cpu0 = cpu_ns();
            let req = Request::get(&path).body(Body::empty())?;
            let t = Instant::now();
            let resp = app.clone().oneshot(req).await?;
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            anyhow::ensure!(
                status.is_success(),
                "{path}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
            let text = String::from_utf8_lossy(&body);
            if path.starts_with("/consumers?") {
                // Every group is counted, one page of them listed (every group with per=5000),
                // and each kind of group got its status.
                let rows = if path.contains("per=") {
                    groups_n
                } else {
                    groups_n.min(200)
                };
                anyhow::ensure!(
                    text.matches("<a class=\"mono\" href=\"/consumers/").count() == rows,
                    "{path}: not {rows} rows listed"
                );
                anyhow::ensure!(
                    text.contains(&format!("{groups_n} groups in")),
                    "{path}: not every group counted"
                );
                for status in [">ERR</span>", ">WARN</span>", ">OK</span>"] {
                    anyhow::ensure!(text.contains(status), "{path}: no {status}");
                }
            }
            bytes = body.len();
            if i >= 2 {
                times.push(ms);
                cpu += cpu_ns().saturating_sub(cpu0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<42} {:>9.1} {:>9.1} {:>9.1} {:>11.1} {:>10}",
            pct(&times, 0.5),
            pct(&times, 0.99),
            times[times.len() - 1],
            cpu as f64 / 1e6 / n as f64,
            bytes
        );
    }
    store.close().await?;
    Ok(())
}
