//! Page-render benchmark: fills a temporary store with three ZooKeeper servers × ~430 series
//! (shaped like the real `mntr` fixture) × 24 h of 15 s scrapes, then requests pages through the
//! real router in-process and reports p50/p99 render times, and the process CPU time per request
//! (all threads; less disturbed than wall time on a shared machine).
//!
//! Run: `cargo bench --bench pages` (env: `BENCH_N` requests per page, default 30;
//! `BENCH_HOURS` of history, default 24; `BENCH_DUMP=<dir>` writes each page's HTML there; `BENCH_ONLY=<text>` measures only the pages
//! whose name contains it).
//!
//! `cargo test --all-targets` runs this binary without cargo's `--bench` flag: it then does a
//! smoke run (2 h of history, 2 requests per page) that proves every benchmarked page renders.

#[path = "../web_support/mod.rs"]
mod web_support;

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{cpu_ns, env_num, pct};
use kafkascope::config::Config;
use kafkascope::model::{Event, Severity, now_ms};
use kafkascope::store::{Store, StoreConfig};
use kafkascope::targets::TargetRegistry;
use kafkascope::web::{AppState, router};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use web_support::{CONF, ENVI, SCRAPE_MS, ZkSeries, enc, status, write_scrapes};

const SERVERS: [(&str, &str); 3] = [
    ("zk1:2181", "leader"),
    ("zk2:2182", "follower"),
    ("zk3:2183", "follower"),
];

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = env_num("BENCH_N", if smoke { 2 } else { 30 }).max(1);
    let hours = env_num("BENCH_HOURS", if smoke { 2 } else { 24 }) as i64;
    if smoke {
        println!("(smoke run under cargo test: figures not comparable; use cargo bench)");
    }
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(dir.path().join("pages.db"))).await?;
    let now = now_ms();
    let end = now - now.rem_euclid(SCRAPE_MS) - SCRAPE_MS;
    let start = end - hours * 3_600_000;

    let mut servers = Vec::new();
    for (server, mode) in SERVERS {
        let s = ZkSeries::new(server, mode);
        let ids = store.resolve(&s.keys).await?;
        servers.push((s, ids));
    }
    let series: usize = servers.iter().map(|(s, _)| s.keys.len()).sum();
    let started = Instant::now();
    write_scrapes(&store, &servers, start, start, end).await;
    let took = started.elapsed();
    let samples = series as f64 * ((end - start) / SCRAPE_MS + 1) as f64;
    let events: Vec<Event> = (0..48)
        .map(|i| Event {
            ts: start + i * 1_800_000,
            kind: if i % 2 == 0 {
                "zk_mode_change"
            } else {
                "annotation"
            }
            .into(),
            severity: Severity::Info,
            cluster: "lab".into(),
            subject: SERVERS[(i % 3) as usize].0.into(),
            message: format!("event {i}"),
        })
        .collect();
    store.append(&[], &events).await?;
    for (server, _) in SERVERS {
        store.put_document("lab", server, "conf", end, CONF).await?;
        store.put_document("lab", server, "envi", end, ENVI).await?;
    }
    // Let background compaction catch up so pages read what a running server reads.
    let settle = Instant::now();
    while store.stats().await.head_blocks > 2 && settle.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats = store.stats().await;
    println!(
        "filled: {series} series, {hours} h, {samples:.0} samples in {:.1} s ({:.0} samples/s); {} MB on disk; head blocks {} after {:.1} s of compaction",
        took.as_secs_f64(),
        samples / took.as_secs_f64(),
        stats.bytes_on_disk / 1_000_000,
        stats.head_blocks,
        settle.elapsed().as_secs_f64()
    );

    let targets = TargetRegistry::default();
    for (server, _) in SERVERS {
        targets.register(status(server, Some(true), None, now));
    }
    let config = Config::parse(
        "[[clusters]]\nname = \"lab\"\nzookeeper = [\"zk1:2181\", \"zk2:2182\", \"zk3:2183\"]\n",
        "bench.toml",
    )?;
    let app = router(AppState {
        store: store.clone(),
        targets,
        config: Arc::new(config),
        catalogue: kafkascope::sources::catalogue(),
    });
    let pages = [
        ("/zookeeper (24h)", "/zookeeper?range=24h".to_string()),
        (
            "/metric selector, 3 series (24h)",
            format!(
                "/metric?query={}&range=24h",
                enc(r#"zk_avg_latency{cluster="lab"}"#)
            ),
        ),
        (
            "/metric compare=1w (24h)",
            format!(
                "/metric?query={}&range=24h&compare=1w",
                enc(r#"zk_avg_latency{cluster="lab"}"#)
            ),
        ),
        (
            "/metric sum(rate()) (24h)",
            format!(
                "/metric?query={}&range=24h",
                enc("sum by (server) (rate(zk_packets_received[5m]))")
            ),
        ),
        ("/ overview (24h)", "/?range=24h".to_string()),
        (
            "/zookeeper/lab/zk1:2181 (24h)",
            format!("/zookeeper/lab/{}?range=24h", enc("zk1:2181")),
        ),
        ("/zookeeper (7d)", "/zookeeper?range=7d".to_string()),
        (
            "/metric selector (7d)",
            format!(
                "/metric?query={}&range=7d",
                enc(r#"zk_avg_latency{cluster="lab"}"#)
            ),
        ),
        (
            "/zookeeper/lab/zk1:2181 (1h)",
            format!("/zookeeper/lab/{}?range=1h", enc("zk1:2181")),
        ),
        (
            "/zookeeper/lab/zk1:2181 (7d)",
            format!("/zookeeper/lab/{}?range=7d", enc("zk1:2181")),
        ),
        ("/zookeeper (1h)", "/zookeeper?range=1h".to_string()),
        (
            "/metric selector (1h)",
            format!(
                "/metric?query={}&range=1h",
                enc(r#"zk_avg_latency{cluster="lab"}"#)
            ),
        ),
    ];
    let dump = std::env::var("BENCH_DUMP").ok();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    println!(
        "\n{:<36} {:>9} {:>9} {:>9} {:>11} {:>10}",
        "page", "p50 ms", "p99 ms", "max ms", "cpu ms/req", "bytes"
    );
    for (k, (name, path)) in pages.into_iter().enumerate() {
        if !name.contains(&only) {
            continue;
        }
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
            bytes = body.len();
            if let Some(dir) = &dump {
                std::fs::write(format!("{dir}/page{k}.html"), &body)?;
            }
            if i >= 2 {
                times.push(ms);
                cpu += cpu_ns().saturating_sub(cpu0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<36} {:>9.1} {:>9.1} {:>9.1} {:>11.1} {:>10}",
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
