//! `cargo bench --bench kafka`: one full poll of the kafka source against a real Tansu broker
//! holding many consumer groups × partitions — the time of a poll and the requests it sends.
//!
//! Setup (not timed): TOPICS topics × PARTITIONS partitions, one record per partition, and GROUPS
//! groups each committing every partition of one topic (confluent-kafka, `kafka_tool.py bulk`).
//! Then: a first poll (connections and ApiVersions included) and ROUNDS steady cycles, each as
//! the server runs it: poll → readings, documents and events → the store write of the samples
//! (with `cluster`, as the collector adds it) and of the documents → the lag recorder's
//! evaluation of every group (the windows of all groups, Burrow's rules on each, lag in seconds
//! over the log-end histories) and its write of each group's max lag seconds and status.
//! Each part is timed; the store is a real SQLite file in a temporary directory.
//!
//! Env: `BENCH_GROUPS` (default 2,000), `BENCH_PARTITIONS` (50), `BENCH_TOPICS` (40),
//! `BENCH_ROUNDS` (5). `cargo test --all-targets` runs this binary without `--bench`: a smoke run
//! (20 groups × 5 partitions over 2 topics, 2 rounds) that proves every step works.

#[path = "../support/kafka.rs"]
mod kafka_support;

mod common;

use common::env_num;
use kafkascope::lag::recorder;
use kafkascope::lag::settings::LagSettings;
use kafkascope::model::{Sample, SeriesKey, now_ms};
use kafkascope::sources::Source;
use kafkascope::sources::kafka::config::NameFilter;
use kafkascope::sources::kafka::{CommitsMode, KafkaSettings, KafkaSource, collect, events};
use kafkascope::store::{Store, StoreConfig};
use std::time::{Duration, Instant};

const CLUSTER: &str = "bench";
/// The poll interval the evaluation's window read assumes.
const INTERVAL_MS: i64 = 30_000;

fn main() -> anyhow::Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    // RUST_LOG=kafkascope=debug shows each exchange's time (which API the poll waits on).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let groups = env_num("BENCH_GROUPS", if smoke { 20 } else { 2_000 });
    let partitions = env_num("BENCH_PARTITIONS", if smoke { 5 } else { 50 });
    let topics = env_num("BENCH_TOPICS", if smoke { 2 } else { 40 }).max(1);
    let rounds = env_num("BENCH_ROUNDS", if smoke { 2 } else { 5 }).max(1);
    if smoke {
        println!("(smoke run under cargo test: figures not comparable; use cargo bench)");
    }
    let dir = tempfile::tempdir()?;
    let broker = kafka_support::Tansu::start(dir.path());
    let t = Instant::now();
    broker.tool(
        "bulk",
        &[
            &topics.to_string(),
            &partitions.to_string(),
            &groups.to_string(),
        ],
    );
    println!(
        "setup: {topics} topics x {partitions} partitions, {groups} groups x {partitions} committed partitions in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut source = KafkaSource::new(KafkaSettings {
        brokers: vec![broker.addr.clone()],
        commits: CommitsMode::AdminApi,
        groups: NameFilter::default(),
        topics: NameFilter::default(),
        client_id: "kafkascope-bench".into(),
        tls: None,
        tls_ca_file: None,
        sasl: None,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let store = rt.block_on(Store::open(StoreConfig::new(dir.path().join("bench.db"))))?;
    rt.block_on(async {
        let timeout = Duration::from_secs(60);
        let t = Instant::now();
        let first = source.poll(timeout).await.map_err(anyhow::Error::msg)?;
        let first_ms = t.elapsed().as_secs_f64() * 1e3;
        let committed: usize = first.groups.values().map(|g| g.offsets.len()).sum();
        println!(
            "first poll: {first_ms:.0} ms, {} requests, {} groups, {} partitions, {committed} committed offsets, {} warnings",
            first.requests,
            first.groups.len(),
            first.topics.values().map(|t| t.partitions.len()).sum::<usize>(),
            first.warnings.len()
        );
        anyhow::ensure!(
            first.groups.len() >= groups,
            "only {} of {groups} groups seen: {:?}",
            first.groups.len(),
            first.warnings.first()
        );
        anyhow::ensure!(committed >= groups * partitions, "only {committed} committed offsets");
        let mut previous = first;
        let mut poll_ms = Vec::new();
        let mut convert_ms = Vec::new();
        let mut write_ms = Vec::new();
        let mut docs_ms = Vec::new();
        let mut eval_ms = Vec::new();
        let mut cycle_ms = Vec::new();
        let mut requests = 0;
        let mut n_readings = 0;
        let mut n_evaluated = 0;
        let settings = LagSettings::default();
        for round in 0..rounds {
            let t = Instant::now();
            let snap = source.poll(timeout).await.map_err(anyhow::Error::msg)?;
            poll_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let t1 = Instant::now();
            let mut states = collect::StateMemory::default();
            let readings = collect::readings(&snap, &mut states);
            let docs = collect::documents(&snap, "admin-api", None);
            let ev = events::diff(&previous, &snap);
            convert_ms.push(t1.elapsed().as_secs_f64() * 1e3);
            requests = snap.requests;
            n_readings = readings.len();
            anyhow::ensure!(ev.is_empty(), "nothing changed, yet events: {ev:?}");
            anyhow::ensure!(docs.len() == snap.groups.len() + 1);

            // The collector's write: one stamp for the poll, `cluster` on every series.
            let t2 = Instant::now();
            let stamp = now_ms();
            let samples: Vec<Sample> = readings
                .into_iter()
                .map(|r| {
                    let mut labels = r.labels;
                    labels.insert("cluster", CLUSTER.to_string());
                    Sample {
                        key: SeriesKey::new(r.metric, labels),
                        kind: r.kind,
                        ts: stamp,
                        value: r.value,
                    }
                })
                .collect();
            let report = store.write(&samples, &[]).await?;
            anyhow::ensure!(report.rejected == 0, "{} samples refused", report.rejected);
            write_ms.push(t2.elapsed().as_secs_f64() * 1e3);
            let t3 = Instant::now();
            let batch: Vec<(&str, &str, &str)> = docs
                .iter()
                .map(|d| (d.subject.as_str(), d.name.as_str(), d.body.as_str()))
                .collect();
            store.put_documents(CLUSTER, stamp, &batch).await?;
            docs_ms.push(t3.elapsed().as_secs_f64() * 1e3);

            // The lag recorder's evaluation of every group (Burrow's rules, lag in seconds over
            // the log-end histories, thresholds) and its write of the results, as the server
            // runs it after each poll.
            let t4 = Instant::now();
            let rec = recorder::record(&store, CLUSTER, now_ms(), &settings, INTERVAL_MS).await?;
            eval_ms.push(t4.elapsed().as_secs_f64() * 1e3);
            cycle_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let evaluated = rec.groups;
            anyhow::ensure!(
                evaluated >= groups && rec.with_seconds >= groups,
                "round {round}: {rec:?} of {groups} groups evaluated with a lag in seconds"
            );
            n_evaluated = evaluated;
            previous = snap;
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        println!(
            "steady cycle, median of {rounds}: poll {:.0} ms ({requests} requests), readings + documents + events {:.0} ms, store write of {n_readings} samples {:.0} ms, {} documents {:.0} ms, evaluation and record of {n_evaluated} groups {:.0} ms; whole cycle {:.0} ms",
            med(&mut poll_ms),
            med(&mut convert_ms),
            med(&mut write_ms),
            groups + 1,
            med(&mut docs_ms),
            med(&mut eval_ms),
            med(&mut cycle_ms),
        );
        // Through the Source trait too, as the collector calls it.
        let out = source.scrape(timeout).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(out.readings.len() == n_readings, "{} vs {n_readings}", out.readings.len());
        store.close().await?;
        Ok(())
    })
}
