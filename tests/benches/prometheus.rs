//! `cargo bench --bench prometheus`: the `prometheus` source on a 50,000-series exposition shaped
//! like a broker's jmx_exporter output (per-topic and per-partition gauges and counters, request
//! histograms with 12 buckets, summaries), measured three ways:
//!
//! 0. **parser alone**: text → lines (names, labels, values), nothing built;
//! 1. **parse**: text → readings, labels and metadata (`convert`), in memory;
//! 2. **scrape**: the real source over HTTP on loopback (request, gzip-free body of ~4 MB, parse);
//! 3. **parse + store**: parse, then write the scrape into a real store in a temporary directory
//!    the way the collector does (`Store::write`), first scrape (creates every series) and
//!    steady state.
//!
//! Memory: a counting global allocator reports the peak heap above the level before each phase,
//! and the process' peak RSS (`VmHWM`) is printed at the end.
//!
//! Env: `BENCH_SERIES` (default 50,000), `BENCH_ROUNDS` (default 10). `cargo test --all-targets`
//! runs this binary without cargo's `--bench` flag: it then does a smoke run (2,000 series, 2
//! rounds) that proves every phase works.

mod common;

use common::{env_num, pct};
use kafkascope::config::Config;
use kafkascope::model::{Sample, SeriesKey};
use kafkascope::sources::prometheus::convert::{MapOptions, convert};
use kafkascope::sources::prometheus::parse::{Format, Parser};
use kafkascope::sources::{Source, build_all};
use kafkascope::store::{Store, StoreConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Resets the peak to the current level; returns that level.
fn mark() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn peak_above(base: usize) -> f64 {
    (PEAK.load(Ordering::Relaxed).saturating_sub(base)) as f64 / (1 << 20) as f64
}

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A jmx_exporter-like exposition with about `series` series.
fn exposition(series: usize) -> String {
    let mut out = String::with_capacity(series * 90);
    let mut n = 0;
    let topics = (series / 400).max(1);
    let partitions = 12;
    // Per-partition gauges: 4 families × topics × partitions.
    for fam in [
        "kafka_log_log_size",
        "kafka_log_log_logendoffset",
        "kafka_log_log_logstartoffset",
        "kafka_cluster_partition_replicascount",
    ] {
        out.push_str(&format!(
            "# HELP {fam} Attribute exposed for management.\n# TYPE {fam} gauge\n"
        ));
        for t in 0..topics {
            for p in 0..partitions {
                out.push_str(&format!(
                    "{fam}{{topic=\"orders-{t}\",partition=\"{p}\"}} {}\n",
                    (t * 1_000_003 + p * 7919) as f64
                ));
                n += 1;
            }
        }
    }
    // Per-topic counters.
    for fam in [
        "kafka_server_brokertopicmetrics_messagesin_total",
        "kafka_server_brokertopicmetrics_bytesin_total",
        "kafka_server_brokertopicmetrics_bytesout_total",
    ] {
        out.push_str(&format!("# HELP {fam} Count.\n# TYPE {fam} counter\n"));
        for t in 0..topics {
            out.push_str(&format!("{fam}{{topic=\"orders-{t}\"}} {}\n", t * 31 + 17));
            n += 1;
        }
    }
    // Request histograms (12 buckets + sum + count) and summaries, until the target is reached.
    let buckets = [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
        "+Inf",
    ];
    let mut i = 0;
    while n < series {
        let fam = format!("kafka_network_requestmetrics_{i}_seconds");
        out.push_str(&format!(
            "# HELP {fam} Request time.\n# TYPE {fam} histogram\n"
        ));
        for request in ["Produce", "FetchConsumer", "FetchFollower", "Metadata"] {
            for (j, le) in buckets.iter().enumerate() {
                out.push_str(&format!(
                    "{fam}_bucket{{request=\"{request}\",le=\"{le}\"}} {}\n",
                    j * 100
                ));
            }
            out.push_str(&format!("{fam}_sum{{request=\"{request}\"}} 1234.5\n{fam}_count{{request=\"{request}\"}} 1100\n"));
            n += 14;
        }
        let sfam = format!("jvm_gc_collection_{i}_seconds");
        out.push_str(&format!("# TYPE {sfam} summary\n"));
        for q in ["0.5", "0.99"] {
            out.push_str(&format!("{sfam}{{quantile=\"{q}\"}} 0.01\n"));
        }
        out.push_str(&format!("{sfam}_sum 12.5\n{sfam}_count 1000\n"));
        n += 4;
        i += 1;
    }
    out
}

fn options() -> MapOptions {
    MapOptions {
        target_labels: kafkascope::model::Labels::from_pairs([
            ("job", "broker-1"),
            ("instance", "broker-1:7071"),
        ]),
        honor_labels: false,
        allow: None,
        deny: None,
        series_limit: 1_000_000,
    }
}

fn summary(name: &str, ms: &mut [f64]) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<34} p50 {:>8.1} ms   min {:>8.1} ms   max {:>8.1} ms   ({} rounds)",
        pct(ms, 0.5),
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
}

/// Serves `body` to every request on a loopback port.
async fn serve(body: std::sync::Arc<String>) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let h = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(h.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

fn main() -> anyhow::Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let series = env_num("BENCH_SERIES", if smoke { 2_000 } else { 50_000 });
    let rounds = env_num("BENCH_ROUNDS", if smoke { 2 } else { 10 }).max(1);
    if smoke {
        println!("(smoke run under cargo test: figures not comparable; use cargo bench)");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(series, rounds))
}

async fn run(series: usize, rounds: usize) -> anyhow::Result<()> {
    let text = exposition(series);
    let opts = options();
    let probe = convert(&text, Format::Text, &opts)?;
    let n = probe.readings.len();
    println!(
        "exposition: {n} series, {} metadata entries, {:.1} MB of text",
        probe.metadata.len(),
        text.len() as f64 / 1e6
    );
    drop(probe);

    // 0. The parser alone (lines out, nothing built).
    let mut lines_ms = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let lines = Parser::new(&text, Format::Text)
            .filter(|l| l.is_ok())
            .count();
        lines_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(lines >= n);
    }

    // 1. Parse.
    let mut parse_ms = Vec::new();
    let mut parse_peak: f64 = 0.0;
    for _ in 0..rounds {
        let base = mark();
        let t = Instant::now();
        let c = convert(&text, Format::Text, &opts)?;
        parse_ms.push(t.elapsed().as_secs_f64() * 1e3);
        parse_peak = parse_peak.max(peak_above(base));
        assert_eq!(c.readings.len(), n);
    }

    // 2. The source over HTTP.
    let body = std::sync::Arc::new(text.clone());
    let port = serve(body).await;
    let config = Config::parse(
        &format!(
            "[[clusters]]\nname = \"bench\"\n[[clusters.prometheus]]\nname = \"broker-1\"\nurl = \"http://127.0.0.1:{port}/metrics\"\nseries_limit = 1000000\n"
        ),
        "bench.toml",
    )?;
    let mut source = build_all(&config)?.targets.remove(0).source;
    let mut scrape_ms = Vec::new();
    let mut scrape_peak: f64 = 0.0;
    for _ in 0..rounds {
        let base = mark();
        let t = Instant::now();
        let out = source
            .scrape(Duration::from_secs(30))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        scrape_ms.push(t.elapsed().as_secs_f64() * 1e3);
        scrape_peak = scrape_peak.max(peak_above(base));
        assert_eq!(out.readings.len(), n);
    }

    // 3. Parse + store, as the collector writes a scrape.
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(dir.path().join("prom-bench.db"))).await?;
    let interval = 15_000i64;
    let now = kafkascope::model::now_ms();
    let start = now - now.rem_euclid(interval) - (rounds as i64 + 1) * interval;
    let mut first_ms = 0.0;
    let mut steady_ms = Vec::new();
    let mut store_peak: f64 = 0.0;
    for r in 0..=rounds {
        let base = mark();
        let t = Instant::now();
        let c = convert(&text, Format::Text, &opts)?;
        let ts = start + r as i64 * interval;
        let samples: Vec<Sample> = c
            .readings
            .into_iter()
            .map(|reading| {
                let mut labels = reading.labels;
                labels.insert("cluster", "bench");
                Sample {
                    key: SeriesKey::new(reading.metric, labels),
                    kind: reading.kind,
                    ts,
                    value: reading.value,
                }
            })
            .collect();
        store.write(&samples, &[]).await?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        store_peak = store_peak.max(peak_above(base));
        if r == 0 {
            first_ms = ms;
        } else {
            steady_ms.push(ms);
        }
    }
    let stored = store.select(Some("kafka_log_log_size"), &[]).len();
    assert!(stored > 0, "nothing stored");
    store.close().await?;

    summary("parser alone (lines)", &mut lines_ms);
    summary("parse (convert)", &mut parse_ms);
    summary("scrape over HTTP (fetch + parse)", &mut scrape_ms);
    println!(
        "{:<34} {first_ms:>8.1} ms   (creates {n} series)",
        "parse + store, first scrape"
    );
    summary("parse + store, steady state", &mut steady_ms);
    println!(
        "peak heap above baseline: parse {parse_peak:.1} MB, scrape {scrape_peak:.1} MB, parse + store {store_peak:.1} MB"
    );
    println!("process peak RSS (VmHWM): {:.1} MB", vm_hwm_mb());
    Ok(())
}
