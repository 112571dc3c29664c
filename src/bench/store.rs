//! `kafkascope bench-store`: a realistic load against a fresh store, measured end to end through
//! the public API.
//!
//! Phases: (1) a year of history for 50 series at a 60 s interval, compacted, merged and trimmed
//! by retention as time passes (so the 1h…1y reads hit the tiers a year-old store has); (2) ingest
//! of `series` Kafka-like series at a 15 s interval as fast as the store takes it (appends of
//! 10,000 samples), with background compaction and rollups on and a reader querying
//! concurrently, then 15 s paced at the 1M samples/s target with the reader still running;
//! (3) compaction of what is left, bytes per sample, read latencies per range, the latest-value
//! query; (4) scrape-shaped ingest: whole scrapes of every series written in per-target appends
//! of 2,000 samples, one burst per 15 s of simulated time paced to an average of 133,000
//! samples/s of wall clock (the 200 brokers × 10,000 series) with idle gaps between
//! bursts, while a block is compacted, a day merged into every rollup tier and retention deletes
//! the oldest raw block, with a reader running. Each ingest phase reports the distribution of
//! append waits for the writer (the write stall) and of the writer holds of maintenance
//! transactions and WAL checkpoints.
//!
//! Shapes follow the captured fixtures (ZooKeeper `mntr`, kafka-clients JMX): constant gauges
//! (partition counts, `zk_outstanding_requests 0`, zero-rate error totals), monotonically
//! increasing integer counters with diurnal rate and rare resets (`record-send-total 581.0`,
//! `zk_packets_received`), slowly varying integer gauges (`zk_znode_count`, log sizes), sparse
//! percentiles with one decimal and NaN when idle, 4-decimal averages (`zk_avg_latency 1.1818`),
//! full-precision client rates (`outgoing-byte-rate 1336.4256343395848`), and series that appear
//! and disappear.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::model::{Labels, MetricKind, SeriesKey, Timestamp};

use crate::store::codec::{self, ValueCodecs};
use crate::store::{HoldSummary, SeriesId, Store, StoreConfig, store_files};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Length of the paced (1M samples/s) ingest phase.
const PACED: Duration = Duration::from_secs(15);
/// Average rate of the scrape-shaped phase: the "200 brokers × 10,000 series" at 15 s.
const SCRAPE_RATE: f64 = 133_334.0;
/// Samples per append in the scrape-shaped phase (one target's scrape).
const SCRAPE_APPEND: usize = 2_000;

#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Active series in the ingest phase.
    pub series: usize,
    /// Wall-clock length of the ingest phase.
    pub duration: Duration,
    /// Where to put the database (a fresh temporary directory when None; removed afterwards).
    pub dir: Option<PathBuf>,
    /// Smoke-test size: 20 days of history for 10 series instead of a year for 50, and the
    /// paced phase no longer than half of `duration`. Every report field is still filled.
    pub quick: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            series: 200_000,
            duration: Duration::from_secs(60),
            dir: None,
            quick: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Bytes per sample of one codec choice on one data shape (480-sample chunks, 2 h at 15 s).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CodecRow {
    pub shape: String,
    pub ours: f64,
    pub gorilla: f64,
    pub pco: f64,
    /// Encode plus decode time per sample, nanoseconds (ours, gorilla, pco).
    pub ns_per_sample: [f64; 3],
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct TierFootprint {
    pub chunks: i64,
    pub points: i64,
    pub payload_bytes: i64,
}

/// Writer waits and holds during one ingest phase (milliseconds).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct WriterHolds {
    /// How long appends waited for the head log (a lane switch, a block seal): the write stall.
    pub append_wait_ms: HoldSummary,
    /// Whole append calls (wait, commit, head update), measured by the bench.
    pub append_ms: HoldSummary,
    /// How long compaction, merge, retention and head-log transactions held the main writer
    /// (events, `resolve` and documents wait for it; sample appends do not).
    pub maintenance_tx_ms: HoldSummary,
    pub maintenance_tx_by_kind: BTreeMap<String, HoldSummary>,
    /// How long WAL-resetting checkpoints held the main writer.
    pub wal_checkpoint_ms: HoldSummary,
    pub wal_locked_checkpoints: u64,
    pub wal_locked_checkpoints_caught_up: u64,
    /// Largest main-database WAL in use (frames not yet reusable) that a checkpoint saw.
    pub peak_wal_in_use_bytes: u64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    /// Run with `BenchOptions::quick` (smoke-test sizes).
    pub quick: bool,
    pub series: usize,
    pub samples_ingested: u64,
    pub ingest_seconds: f64,
    pub ingest_samples_per_sec: f64,
    /// On-disk bytes per raw sample after compaction: the size of a database file holding only the
    /// raw chunks (rows and indexes) divided by the samples in them.
    pub bytes_per_sample: f64,
    /// Chunk payload (BLOB bytes) per raw sample.
    pub payload_bytes_per_sample: f64,
    /// Whole database (all tiers, head log, events, free pages) at the end.
    pub db_bytes: u64,
    /// Keys "1h", "24h", "7d", "30d", "90d", "1y": 50-series `query_range` at 300 points.
    pub read_ms: BTreeMap<String, Percentiles>,
    /// Tier that answered each range.
    pub read_tier: BTreeMap<String, String>,
    /// 50-series 1 h reads running concurrently with the max-rate ingest (CPU saturated).
    pub read_during_ingest_ms: Percentiles,
    /// Chunk rows, points (samples or buckets) and payload bytes per tier (before the scrape
    /// phase).
    pub chunks_per_tier: BTreeMap<String, TierFootprint>,
    /// Largest WAL file seen during the ingest phases.
    pub peak_wal_bytes: u64,
    /// Peak resident memory of the process (Linux VmHWM), 0 where unknown.
    pub peak_rss_bytes: u64,
    /// Second ingest phase paced at 1M samples/s (achieved rate).
    pub paced_samples_per_sec: f64,
    /// 50-series 1 h reads running concurrently with the paced ingest.
    pub read_during_paced_ingest_ms: Percentiles,
    /// Longest append wait for the writer during the paced phase.
    pub max_write_stall_paced_ms: f64,
    /// Longest single maintenance transaction during the paced phase.
    pub max_maintenance_tx_paced_ms: f64,
    /// Longest main-writer hold by the WAL-resetting checkpoint, paced phase.
    pub max_wal_checkpoint_paced_ms: f64,
    /// Longest main-writer hold by the WAL-resetting checkpoint, paced and scrape phases.
    pub max_wal_checkpoint_ms: f64,
    /// Longest main-writer hold by the WAL-resetting checkpoint, max-rate phase.
    pub max_wal_checkpoint_max_rate_ms: f64,
    pub latest_10k_ms: f64,
    /// The target figure: the longest time an append waited for the head log while
    /// compaction, merges, retention and WAL checkpoints ran, in the phases the target is about —
    /// the 1M samples/s paced phase and the scrape-shaped phase (the worse of the two).
    pub max_write_stall_ms: f64,
    /// Longest append wait during the max-rate phase (CPU saturated by ingest itself).
    pub max_write_stall_max_rate_ms: f64,
    /// Longest single compaction, merge or retention transaction, paced and scrape phases.
    pub max_maintenance_tx_ms: f64,
    /// Longest single compaction, merge or retention transaction, max-rate phase.
    pub max_maintenance_tx_max_rate_ms: f64,
    /// Append call latency, max-rate phase.
    pub append_ms: Percentiles,
    /// Scrape-shaped phase: series per scrape, samples per append, wall-clock interval between
    /// bursts, bursts written, achieved average rate and time to write one whole scrape.
    pub scrape_series: usize,
    pub scrape_append_samples: usize,
    pub scrape_interval_ms: f64,
    pub scrape_bursts: u32,
    pub scrape_samples_per_sec: f64,
    pub scrape_burst_ms: Percentiles,
    pub read_during_scrape_ms: Percentiles,
    pub max_write_stall_scrape_ms: f64,
    pub max_maintenance_tx_scrape_ms: f64,
    pub max_wal_checkpoint_scrape_ms: f64,
    /// Maintenance that ran during the scrape phase: block compactions, chunks deleted (by
    /// retention and by merges), whether the day merge (which starts after the second
    /// compaction) finished within the phase, whether retention finished.
    pub scrape_compactions: u64,
    pub scrape_chunks_deleted: u64,
    pub scrape_day_merged: bool,
    pub scrape_retention_done: bool,
    /// Distributions of writer waits and holds per ingest phase.
    pub holds_max_rate: WriterHolds,
    pub holds_paced: WriterHolds,
    pub holds_scrape: WriterHolds,
    pub compactions: u64,
    pub codecs: Vec<CodecRow>,
    /// Wall-clock seconds per phase.
    pub phase_seconds: BTreeMap<String, f64>,
}

impl BenchReport {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let w = |s: &mut String, k: &str, v: String| s.push_str(&format!("{k:<46} {v}\n"));
        let dist = |h: &HoldSummary| {
            format!(
                "p50 {:.2} / p99 {:.2} / max {:.2} ms (n {})",
                h.p50_ms, h.p99_ms, h.max_ms, h.count
            )
        };
        if self.quick {
            s.push_str("(quick run: smoke-test sizes, figures not comparable)\n");
        }
        w(
            &mut s,
            "active series (ingest phases)",
            self.series.to_string(),
        );
        w(
            &mut s,
            "samples ingested (max-rate phase)",
            self.samples_ingested.to_string(),
        );
        w(
            &mut s,
            "ingest samples/s (compaction + rollups on)",
            format!("{:.0}", self.ingest_samples_per_sec),
        );
        w(
            &mut s,
            "append latency p50 / p99 (max-rate)",
            format!("{:.2} / {:.2} ms", self.append_ms.p50, self.append_ms.p99),
        );
        w(
            &mut s,
            "bytes/sample on disk, raw after compaction",
            format!("{:.3}", self.bytes_per_sample),
        );
        w(
            &mut s,
            "bytes/sample chunk payload",
            format!("{:.3}", self.payload_bytes_per_sample),
        );
        w(
            &mut s,
            "database size",
            format!("{:.1} MiB", self.db_bytes as f64 / 1048576.0),
        );
        w(
            &mut s,
            "peak WAL file size during ingest",
            format!("{:.1} MiB", self.peak_wal_bytes as f64 / 1048576.0),
        );
        w(
            &mut s,
            "peak resident memory",
            format!("{:.1} MiB", self.peak_rss_bytes as f64 / 1048576.0),
        );
        for k in ["1h", "24h", "7d", "30d", "90d", "1y"] {
            if let Some(p) = self.read_ms.get(k) {
                let tier = self.read_tier.get(k).cloned().unwrap_or_default();
                w(
                    &mut s,
                    &format!("read 50 series x 300 pts, {k} ({tier} tier)"),
                    format!("p50 {:.2} ms, p99 {:.2} ms", p.p50, p.p99),
                );
            }
        }
        w(
            &mut s,
            "latest value of 10,000 series",
            format!("{:.3} ms", self.latest_10k_ms),
        );
        w(
            &mut s,
            "longest write stall (paced + scrape phases)",
            format!("{:.2} ms", self.max_write_stall_ms),
        );
        w(
            &mut s,
            "longest maintenance tx (paced + scrape)",
            format!("{:.2} ms", self.max_maintenance_tx_ms),
        );
        w(
            &mut s,
            "longest main WAL-reset checkpoint hold (same)",
            format!("{:.2} ms", self.max_wal_checkpoint_ms),
        );
        let phases: [(&str, &WriterHolds, String); 3] = [
            (
                "max-rate ingest",
                &self.holds_max_rate,
                format!(
                    "{:.0} samples/s, appends of 10,000; reads 1h p50 {:.2} / p99 {:.2} ms",
                    self.ingest_samples_per_sec,
                    self.read_during_ingest_ms.p50,
                    self.read_during_ingest_ms.p99
                ),
            ),
            (
                "paced ingest (target 1M/s)",
                &self.holds_paced,
                format!(
                    "{:.0} samples/s, appends of 10,000; reads 1h p50 {:.2} / p99 {:.2} ms",
                    self.paced_samples_per_sec,
                    self.read_during_paced_ingest_ms.p50,
                    self.read_during_paced_ingest_ms.p99
                ),
            ),
            (
                "scrape-shaped ingest",
                &self.holds_scrape,
                format!(
                    "{:.0} samples/s average: {} bursts of {} series every {:.0} ms in appends of {}, \
                     a burst takes p50 {:.0} / p99 {:.0} ms; reads 1h p50 {:.2} / p99 {:.2} ms; \
                     {} compactions, {} chunks deleted, day merge finished {}, retention finished {}",
                    self.scrape_samples_per_sec,
                    self.scrape_bursts,
                    self.scrape_series,
                    self.scrape_interval_ms,
                    self.scrape_append_samples,
                    self.scrape_burst_ms.p50,
                    self.scrape_burst_ms.p99,
                    self.read_during_scrape_ms.p50,
                    self.read_during_scrape_ms.p99,
                    self.scrape_compactions,
                    self.scrape_chunks_deleted,
                    self.scrape_day_merged,
                    self.scrape_retention_done
                ),
            ),
        ];
        for (name, h, what) in phases {
            s.push_str(&format!("\n{name}: {what}\n"));
            w(
                &mut s,
                "  append wait for the head log (stall)",
                dist(&h.append_wait_ms),
            );
            w(&mut s, "  append call", dist(&h.append_ms));
            w(&mut s, "  maintenance tx hold", dist(&h.maintenance_tx_ms));
            for (kind, d) in &h.maintenance_tx_by_kind {
                w(&mut s, &format!("    {kind}"), dist(d));
            }
            w(
                &mut s,
                "  main WAL-reset checkpoint hold",
                format!(
                    "{}; {} caught up of {}; peak WAL in use {:.1} MiB",
                    dist(&h.wal_checkpoint_ms),
                    h.wal_locked_checkpoints_caught_up,
                    h.wal_locked_checkpoints,
                    h.peak_wal_in_use_bytes as f64 / 1048576.0
                ),
            );
        }
        s.push('\n');
        w(&mut s, "compactions", self.compactions.to_string());
        let phases: Vec<String> = self
            .phase_seconds
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect();
        w(&mut s, "phase seconds", phases.join(", "));
        for (tier, f) in &self.chunks_per_tier {
            w(
                &mut s,
                &format!("chunks, {tier} tier"),
                format!(
                    "{} rows, {} points, {:.1} MiB payload, {:.2} B/point",
                    f.chunks,
                    f.points,
                    f.payload_bytes as f64 / 1048576.0,
                    f.payload_bytes as f64 / f.points.max(1) as f64
                ),
            );
        }
        s.push_str("\ncodec bytes/sample on 480-sample chunks (ours = decimal/delta/bit-packing, Gorilla fallback):\n");
        s.push_str(&format!(
            "{:<26} {:>8} {:>8} {:>8}   encode+decode ns/sample: {:>6} {:>6} {:>6}\n",
            "shape", "ours", "gorilla", "pco", "ours", "gorilla", "pco"
        ));
        for r in &self.codecs {
            s.push_str(&format!(
                "{:<26} {:>8.3} {:>8.3} {:>8.3}   {:>30.1} {:>6.1} {:>6.1}\n",
                r.shape,
                r.ours,
                r.gorilla,
                r.pco,
                r.ns_per_sample[0],
                r.ns_per_sample[1],
                r.ns_per_sample[2]
            ));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Generator.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Constant,
    Counter,
    SlowGauge,
    Percentile,
    DecimalAvg,
    NoisyRate,
}

impl Shape {
    /// Share of series per shape, in 20ths.
    fn of(i: usize) -> Shape {
        match i % 20 {
            0..=5 => Shape::Constant,
            6..=10 => Shape::Counter,
            11..=13 => Shape::SlowGauge,
            14..=15 => Shape::Percentile,
            16..=17 => Shape::DecimalAvg,
            _ => Shape::NoisyRate,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Shape::Constant => "constant gauge",
            Shape::Counter => "counter (resets)",
            Shape::SlowGauge => "slow integer gauge",
            Shape::Percentile => "sparse percentile",
            Shape::DecimalAvg => "4-decimal average",
            Shape::NoisyRate => "noisy client rate",
        }
    }

    fn kind(self) -> MetricKind {
        if self == Shape::Counter {
            MetricKind::Counter
        } else {
            MetricKind::Gauge
        }
    }
}

struct SeriesGen {
    shape: Shape,
    value: f64,
    rate: f64,
    /// Series that appear and disappear: present only while (scrape / period) is even.
    churn_period: Option<u64>,
}

struct Generator {
    series: Vec<SeriesGen>,
    rng: fastrand::Rng,
}

impl Generator {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let series = (0..n)
            .map(|i| {
                let shape = Shape::of(i);
                let value = match shape {
                    Shape::Constant => [0.0, 1.0, 3.0, 12.0, 50.0, 3.3554432e7][i % 6],
                    Shape::Counter => rng.u64(0..10_000_000) as f64,
                    Shape::SlowGauge => rng.u64(10..5_000_000) as f64,
                    Shape::Percentile => 3.0,
                    Shape::DecimalAvg => 1.1818,
                    Shape::NoisyRate => 1336.4256343395848,
                };
                let rate = match shape {
                    Shape::Counter => [0.0, 2.0, 40.0, 1500.0, 2.0e5][i % 5],
                    _ => 0.0,
                };
                SeriesGen {
                    shape,
                    value,
                    rate,
                    churn_period: (i % 37 == 0).then(|| 40 + (i as u64 % 7) * 20),
                }
            })
            .collect();
        Generator { series, rng }
    }

    /// Values of every series for the scrape at `ts` (number `k`); None where a series is absent.
    fn scrape(&mut self, ts: Timestamp, k: u64, interval_s: f64, out: &mut Vec<(usize, f64)>) {
        // Diurnal factor: traffic peaks in the afternoon.
        let day_phase = (ts.rem_euclid(DAY) as f64 / DAY as f64) * std::f64::consts::TAU;
        let diurnal = 1.0 + 0.5 * day_phase.sin();
        let rng = &mut self.rng;
        for (i, s) in self.series.iter_mut().enumerate() {
            if let Some(p) = s.churn_period
                && (k / p) % 2 == 1
            {
                continue;
            }
            let v = match s.shape {
                Shape::Constant => s.value,
                Shape::Counter => {
                    if rng.u32(0..200_000) == 0 {
                        s.value = 0.0; // process restart
                    } else if s.rate > 0.0 {
                        let noise = 0.9 + 0.2 * rng.f64();
                        s.value += (s.rate * interval_s * diurnal * noise).round();
                    }
                    s.value
                }
                Shape::SlowGauge => {
                    if rng.u8(0..4) == 0 {
                        s.value = (s.value + rng.i64(-40..=60) as f64).max(0.0);
                    }
                    s.value
                }
                Shape::Percentile => {
                    if rng.u8(0..10) == 0 {
                        f64::NAN // idle: no requests in the window
                    } else {
                        (s.value * diurnal * (0.8 + 0.6 * rng.f64()) * 10.0).round() / 10.0
                    }
                }
                Shape::DecimalAvg => {
                    s.value = ((s.value + (rng.f64() - 0.5) * 0.01).max(0.1) * 10_000.0).round()
                        / 10_000.0;
                    s.value
                }
                Shape::NoisyRate => s.value * diurnal * (0.95 + 0.1 * rng.f64()),
            };
            out.push((i, v));
        }
    }
}

fn keys(prefix: &str, n: usize) -> Vec<(SeriesKey, MetricKind)> {
    (0..n)
        .map(|i| {
            let shape = Shape::of(i);
            let metric = match shape {
                Shape::Constant => "kafka_log_partition_count",
                Shape::Counter => "kafka_server_brokertopicmetrics_bytesin_total",
                Shape::SlowGauge => "kafka_log_log_size",
                Shape::Percentile => "kafka_network_requestmetrics_totaltimems",
                Shape::DecimalAvg => "zk_avg_latency",
                Shape::NoisyRate => "kafka_producer_outgoing_byte_rate",
            };
            let labels = Labels::from_pairs([
                ("cluster", prefix.to_string()),
                ("broker", (i % 30).to_string()),
                ("topic", format!("topic-{}", i / 30)),
            ]);
            (SeriesKey::new(metric, labels), shape.kind())
        })
        .collect()
}

/// Codec comparison on each shape: 200 series x one 480-sample chunk.
fn codec_table() -> Vec<CodecRow> {
    let shapes = [
        Shape::Constant,
        Shape::Counter,
        Shape::SlowGauge,
        Shape::Percentile,
        Shape::DecimalAvg,
        Shape::NoisyRate,
    ];
    let n_series = 20 * 60; // every shape gets 60 series
    let mut g = Generator::new(n_series, 11);
    let mut per: Vec<Vec<(i64, f64)>> = vec![Vec::new(); n_series];
    let t0 = 1_704_067_200_000i64;
    let mut buf = Vec::new();
    for k in 0..480u64 {
        let ts = t0 + k as i64 * 15_000;
        buf.clear();
        g.scrape(ts, k, 15.0, &mut buf);
        for &(i, v) in &buf {
            per[i].push((ts, v));
        }
    }
    let mut rows = Vec::new();
    let mut totals = [0usize; 3];
    let mut total_n = 0usize;
    for shape in shapes {
        let mut sizes = [0usize; 3];
        let mut nanos = [0f64; 3];
        let mut n = 0usize;
        let variants = [
            ValueCodecs::default(),
            ValueCodecs {
                decimal: false,
                gorilla: true,
                pco: false,
            },
            ValueCodecs {
                decimal: false,
                gorilla: false,
                pco: true,
            },
        ];
        for (i, samples) in per.iter().enumerate() {
            if Shape::of(i) != shape || samples.is_empty() {
                continue;
            }
            n += samples.len();
            for (j, codecs) in variants.iter().enumerate() {
                let t = Instant::now();
                let enc = codec::encode_raw(None, samples, *codecs);
                let dec = codec::decode_raw(&enc);
                nanos[j] += t.elapsed().as_nanos() as f64;
                debug_assert!(dec.is_ok());
                sizes[j] += enc.len();
            }
        }
        for j in 0..3 {
            totals[j] += sizes[j];
        }
        total_n += n;
        rows.push(CodecRow {
            shape: shape.name().to_string(),
            ours: sizes[0] as f64 / n as f64,
            gorilla: sizes[1] as f64 / n as f64,
            pco: sizes[2] as f64 / n as f64,
            ns_per_sample: nanos.map(|x| x / n as f64),
        });
    }
    rows.push(CodecRow {
        shape: "mix (bench shares)".to_string(),
        ours: weighted(&rows, 0),
        gorilla: weighted(&rows, 1),
        pco: weighted(&rows, 2),
        ns_per_sample: [0, 1, 2]
            .map(|j| rows.iter().map(|r| r.ns_per_sample[j]).sum::<f64>() / rows.len() as f64),
    });
    let _ = (totals, total_n);
    rows
}

/// Mix weighted by the generator's shares (6, 5, 3, 2, 2, 2 of 20).
fn weighted(rows: &[CodecRow], col: usize) -> f64 {
    let w = [6.0, 5.0, 3.0, 2.0, 2.0, 2.0];
    rows.iter()
        .zip(w)
        .map(|(r, w)| w * [r.ours, r.gorilla, r.pco][col])
        .sum::<f64>()
        / 20.0
}

// ---------------------------------------------------------------------------------------------

pub async fn run(opts: BenchOptions) -> anyhow::Result<BenchReport> {
    let (dir, remove) = match &opts.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!(
                "kafkascope-bench-{}-{}",
                std::process::id(),
                crate::model::now_ms()
            )),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.db");
    for f in store_files(&path) {
        let _ = std::fs::remove_file(f);
    }
    let result = run_in(&opts, path).await;
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// Whole scrapes from a generator thread: (timestamp, samples of every present series).
type Scrape = (Timestamp, Vec<(SeriesId, Timestamp, f64)>);

/// Generates scrapes of all `ids` every 15 s of simulated time from `start`, as fast as the
/// channel takes them, until `stop` is set or the receiver is dropped.
fn spawn_producer(
    ids: Arc<Vec<SeriesId>>,
    seed: u64,
    start: Timestamp,
    stop: Arc<AtomicBool>,
) -> (
    std::thread::JoinHandle<()>,
    tokio::sync::mpsc::Receiver<Scrape>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Scrape>(3);
    let handle = std::thread::spawn(move || {
        let mut g = Generator::new(ids.len(), seed);
        let mut buf = Vec::new();
        let mut k = 0u64;
        let mut ts = start;
        while !stop.load(Ordering::Relaxed) {
            buf.clear();
            g.scrape(ts, k, 15.0, &mut buf);
            let s: Vec<_> = buf.iter().map(|&(i, v)| (ids[i], ts, v)).collect();
            if tx.blocking_send((ts, s)).is_err() {
                break;
            }
            ts += 15_000;
            k += 1;
        }
    });
    (handle, rx)
}

/// 50-series 1 h reads every 20 ms until `stop`: (start time, latency ms) of each, and the
/// largest WAL file seen.
fn spawn_reader(
    store: Store,
    path: PathBuf,
    ids: Arc<Vec<SeriesId>>,
    fallback_end: Timestamp,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<(Instant, f64)>, u64)> {
    tokio::spawn(async move {
        let mut lat = Vec::new();
        let mut peak_wal = 0u64;
        let wal_path = PathBuf::from(format!("{}-wal", path.display()));
        let mut rng = fastrand::Rng::with_seed(9);
        while !stop.load(Ordering::Relaxed) {
            let pick: Vec<SeriesId> = (0..50).map(|_| ids[rng.usize(0..ids.len())]).collect();
            let end = store.latest(&pick[..1])[0]
                .map(|l| l.0)
                .unwrap_or(fallback_end);
            let t = Instant::now();
            let _ = store.query_range(&pick, end - HOUR, end, 300).await;
            lat.push((t, t.elapsed().as_secs_f64() * 1000.0));
            if let Ok(m) = std::fs::metadata(&wal_path) {
                peak_wal = peak_wal.max(m.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (lat, peak_wal)
    })
}

/// Append latencies (whole calls) as a distribution.
fn summary_of(mut v: Vec<f64>) -> HoldSummary {
    if v.is_empty() {
        return HoldSummary::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    HoldSummary {
        count: v.len() as u64,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: v[v.len() - 1],
    }
}

fn holds_of(stats: &crate::store::StoreStats, append: Vec<f64>) -> WriterHolds {
    WriterHolds {
        append_wait_ms: stats.append_wait,
        append_ms: summary_of(append),
        maintenance_tx_ms: stats.maintenance_tx,
        maintenance_tx_by_kind: stats.maintenance_tx_by_kind.clone(),
        wal_checkpoint_ms: stats.wal_checkpoint_hold,
        wal_locked_checkpoints: stats.wal_locked_checkpoints_total,
        wal_locked_checkpoints_caught_up: stats.wal_locked_checkpoints_caught_up,
        peak_wal_in_use_bytes: stats.peak_wal_bytes,
    }
}

async fn run_in(opts: &BenchOptions, path: PathBuf) -> anyhow::Result<BenchReport> {
    let mut cfg = StoreConfig::new(&path);
    cfg.retention_interval = None; // retention runs on simulated time below
    cfg.maintenance_interval = Duration::from_millis(200);
    // Simulated time runs 10–1000x faster than the wall clock; a short grace period lets the
    // scrape phase see a block sealed and compacted within a minute.
    cfg.grace_ms = 2 * MINUTE;
    cfg.checkpoint_fsync = std::env::var("KS_BENCH_CHECKPOINT_FSYNC")
        .map(|v| v != "0")
        .unwrap_or(true);
    if let Some(mb) = std::env::var("KS_BENCH_WAL_RESTART_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        cfg.wal_restart_bytes = mb << 20;
    }
    if let Some(ms) = std::env::var("KS_BENCH_TX_TIME_MS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
    {
        cfg.maintenance_tx_time = Duration::from_secs_f64(ms / 1000.0);
    }
    let block_ms = cfg.block_ms;
    let raw_keep = cfg
        .retention
        .raw
        .map(|d| d.as_millis() as i64)
        .unwrap_or(8 * DAY);
    let store = Store::open(cfg).await?;
    let mut phases = BTreeMap::new();
    let mut phase_t = Instant::now();
    let mut phase = |name: &str| {
        phases.insert(name.to_string(), phase_t.elapsed().as_secs_f64());
        tracing::info!(
            phase = name,
            seconds = phase_t.elapsed().as_secs_f64(),
            "Bench phase done."
        );
        phase_t = Instant::now();
    };

    // The simulated timeline must end before the wall clock (later samples are rejected as from
    // the future): with few series, scrapes advance it fast. Room for 8M samples/s through the
    // max-rate phase (up to 3x its duration), the paced phase and the scrape phase (up to 2x),
    // and at least 30 days.
    let now_wall = crate::model::now_ms();
    let n = opts.series.max(1);
    let wall = |d: Duration| d.as_secs_f64();
    let samples_bound =
        8e6 * wall(opts.duration * 3) + 1e6 * wall(PACED) + SCRAPE_RATE * wall(opts.duration * 2);
    let span_ms = (samples_bound / n as f64 * 15_000.0) as i64;
    let ingest_start = (now_wall - (span_ms + DAY).max(30 * DAY)).div_euclid(DAY) * DAY;
    let hist_end = ingest_start;
    let (hist_series, hist_days) = if opts.quick { (10, 20) } else { (50, 365) };
    let hist_start = hist_end - hist_days * DAY;

    // Phase 1: history (a year for 50 series at 60 s; quick: 20 days of 10).
    let hist_ids = store.resolve(&keys("history", hist_series)).await?;
    let mut g = Generator::new(hist_series, 3);
    let mut buf = Vec::new();
    let mut batch: Vec<(SeriesId, Timestamp, f64)> = Vec::with_capacity(20_000);
    let mut next_maint = hist_start + DAY;
    let mut next_retention = hist_start + 7 * DAY;
    let mut k = 0u64;
    let mut ts = hist_start;
    while ts < hist_end {
        buf.clear();
        g.scrape(ts, k, 60.0, &mut buf);
        batch.extend(buf.iter().map(|&(i, v)| (hist_ids[i], ts, v)));
        if batch.len() >= 10_000 {
            store.append(&batch, &[]).await?;
            batch.clear();
        }
        if ts >= next_maint {
            store.append(&batch, &[]).await?;
            batch.clear();
            store.compact_now().await?;
            next_maint += DAY;
        }
        if ts >= next_retention {
            store.run_retention_now(ts).await?;
            next_retention += 7 * DAY;
        }
        ts += MINUTE;
        k += 1;
    }
    store.append(&batch, &[]).await?;
    store.compact_now().await?;
    store.run_retention_now(hist_end).await?;
    phase("history");

    // Phase 2: ingest as fast as the store takes it, one append per 10,000 samples (a large
    // broker's scrape), then paced at 1M samples/s; a reader runs throughout.
    let ids = Arc::new(store.resolve(&keys("ingest", n)).await?);
    phase("register");
    let stop = Arc::new(AtomicBool::new(false));
    let (producer, mut rx) = spawn_producer(ids.clone(), 5, ingest_start, stop.clone());
    let reader = spawn_reader(
        store.clone(),
        path.clone(),
        ids.clone(),
        ingest_start,
        stop.clone(),
    );
    store.reset_peaks();
    let started = Instant::now();
    let mut ingested = 0u64;
    let mut append_lat = Vec::new();
    let mut last_ts = ingest_start;
    let mut pending: Vec<(SeriesId, Timestamp, f64)> = Vec::new();
    // Run for the duration, and on until a block has been compacted (the figure is meant with
    // compaction on), but never past three times the duration.
    let compactions_before = store.stats().await.compactions_total;
    'max_rate: loop {
        let Some((ts, scrape)) = rx.recv().await else {
            break;
        };
        last_ts = ts;
        for part in scrape.chunks(10_000) {
            let elapsed = started.elapsed();
            if elapsed >= opts.duration * 3
                || (elapsed >= opts.duration
                    && store.stats().await.compactions_total > compactions_before)
            {
                pending = part.to_vec();
                break 'max_rate;
            }
            let t = Instant::now();
            let r = store.append(part, &[]).await?;
            append_lat.push(t.elapsed().as_secs_f64() * 1000.0);
            ingested += r.accepted as u64;
        }
    }
    let ingest_seconds = started.elapsed().as_secs_f64();
    let max_rate_stats = store.stats().await;
    let max_rate_end = Instant::now();

    // Paced at the 1M samples/s target: the stall and read figures of an ingest that leaves the
    // CPU some room.
    let paced_for = if opts.quick {
        PACED.min(opts.duration / 2)
    } else {
        PACED
    };
    store.reset_peaks();
    let paced_start = Instant::now();
    let mut paced = 0u64;
    let mut paced_lat = Vec::new();
    'paced: while paced_start.elapsed() < paced_for {
        let parts: Vec<Vec<(SeriesId, Timestamp, f64)>> = if pending.is_empty() {
            let Some((ts, scrape)) = rx.recv().await else {
                break;
            };
            last_ts = ts;
            scrape.chunks(10_000).map(|c| c.to_vec()).collect()
        } else {
            vec![std::mem::take(&mut pending)]
        };
        for part in parts {
            let t = Instant::now();
            paced += store.append(&part, &[]).await?.accepted as u64;
            paced_lat.push(t.elapsed().as_secs_f64() * 1000.0);
            let due = Duration::from_secs_f64(paced as f64 / 1_000_000.0);
            if let Some(wait) = due.checked_sub(paced_start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            if paced_start.elapsed() >= paced_for {
                break 'paced;
            }
        }
    }
    let paced_seconds = paced_start.elapsed().as_secs_f64();
    let paced_stats = store.stats().await;
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = producer.join();
    let (reads, peak_wal_bytes) = reader.await.unwrap_or_default();
    let read_during: Vec<f64> = reads
        .iter()
        .filter(|r| r.0 < max_rate_end)
        .map(|r| r.1)
        .collect();
    let read_paced: Vec<f64> = reads
        .iter()
        .filter(|r| r.0 >= paced_start)
        .map(|r| r.1)
        .collect();
    phase("ingest");

    // Phase 3: compaction of what is complete, then measurements.
    store.compact_now().await?;
    phase("final compaction");
    let (raw_samples, raw_payload, raw_file_bytes, per_tier) = raw_footprint(&path).await?;
    phase("footprint");

    let end = store.latest(&hist_ids[..1])[0]
        .map(|l| l.0)
        .unwrap_or(hist_end);
    let mut read_ms = BTreeMap::new();
    let mut read_tier = BTreeMap::new();
    for (name, range) in [
        ("1h", HOUR),
        ("24h", DAY),
        ("7d", 7 * DAY),
        ("30d", 30 * DAY),
        ("90d", 90 * DAY),
        ("1y", 365 * DAY),
    ] {
        let mut lat = Vec::new();
        for i in 0..40 {
            let e = end - i * MINUTE;
            let t = Instant::now();
            let r = store.query_range(&hist_ids, e - range, e, 300).await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            if i == 0 {
                read_tier.insert(
                    name.to_string(),
                    r.first().map(|s| s.tier.as_str()).unwrap_or("").to_string(),
                );
            }
        }
        read_ms.insert(name.to_string(), percentiles(lat));
    }
    let ten_k: Vec<SeriesId> = ids.iter().copied().take(10_000).collect();
    let mut lat = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let v = store.latest(&ten_k);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(v);
    }
    let latest_10k_ms = percentiles(lat).p50;
    phase("reads");

    // Phase 4: scrape-shaped ingest. Whole scrapes of every series, 15 s apart in simulated
    // time, written in appends of SCRAPE_APPEND samples (one target's scrape), one burst every
    // series / SCRAPE_RATE seconds of wall clock and idle in between — while the day's last block
    // is sealed and compacted, the day is merged into day chunks of every tier, and retention
    // deletes the oldest raw block of every series, with a reader running. The timeline resumes
    // 30 s before the next day boundary (a gap, as after downtime).
    let day_end = (last_ts.div_euclid(DAY) + 1) * DAY;
    let scrape_start = day_end - 30_000;
    let interval = Duration::from_secs_f64(n as f64 / SCRAPE_RATE);
    let scrape_for = opts.duration;
    let stop = Arc::new(AtomicBool::new(false));
    let (producer, mut rx) = spawn_producer(ids.clone(), 7, scrape_start, stop.clone());
    let reader = spawn_reader(
        store.clone(),
        path.clone(),
        ids.clone(),
        scrape_start,
        stop.clone(),
    );
    let before = store.stats().await;
    store.reset_peaks();
    let retention = {
        let store = store.clone();
        // Raw chunks that ended before the first ingest block's end are past retention.
        let now = ingest_start + block_ms + raw_keep;
        tokio::spawn(async move {
            tokio::time::sleep(interval).await;
            store.run_retention_now(now).await
        })
    };
    let scrape_started = Instant::now();
    let mut scrape_samples = 0u64;
    let mut scrape_lat = Vec::new();
    let mut burst_ms = Vec::new();
    let mut bursts = 0u32;
    loop {
        let elapsed = scrape_started.elapsed();
        let merged = store
            .stats()
            .await
            .merged_until
            .is_some_and(|m| m >= day_end);
        // The day merge of many series can take minutes of background work: the phase covers its
        // start, not necessarily its end (`scrape_day_merged`).
        let compacted = store.stats().await.compactions_total >= before.compactions_total + 2;
        if elapsed >= scrape_for * 2
            || (elapsed >= scrape_for && (merged || compacted) && retention.is_finished())
        {
            break;
        }
        let due = interval * bursts;
        if let Some(wait) = due.checked_sub(elapsed) {
            tokio::time::sleep(wait).await;
        }
        let Some((_, scrape)) = rx.recv().await else {
            break;
        };
        let t_burst = Instant::now();
        for part in scrape.chunks(SCRAPE_APPEND) {
            let t = Instant::now();
            scrape_samples += store.append(part, &[]).await?.accepted as u64;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if ms > 10.0 {
                tracing::debug!(ms, "Slow scrape append.");
            }
            scrape_lat.push(ms);
        }
        burst_ms.push(t_burst.elapsed().as_secs_f64() * 1000.0);
        bursts += 1;
    }
    let scrape_seconds = scrape_started.elapsed().as_secs_f64();
    let scrape_stats = store.stats().await;
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = producer.join();
    let (scrape_reads, scrape_peak_wal) = reader.await.unwrap_or_default();
    let retention_done = retention.is_finished();
    retention.abort();
    phase("scrape ingest");

    let stats = store.stats().await;
    store.close().await?;
    phase("close");
    let codecs = codec_table();
    phase("codec table");
    let db_bytes = store_files(&path)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();

    let holds_max_rate = holds_of(&max_rate_stats, append_lat.clone());
    let holds_paced = holds_of(&paced_stats, paced_lat);
    let holds_scrape = holds_of(&scrape_stats, scrape_lat);
    let worst = |f: fn(&WriterHolds) -> f64| f(&holds_paced).max(f(&holds_scrape));
    Ok(BenchReport {
        quick: opts.quick,
        series: n,
        samples_ingested: ingested,
        ingest_seconds,
        ingest_samples_per_sec: ingested as f64 / ingest_seconds.max(1e-9),
        bytes_per_sample: raw_file_bytes as f64 / raw_samples.max(1) as f64,
        payload_bytes_per_sample: raw_payload as f64 / raw_samples.max(1) as f64,
        db_bytes,
        read_ms,
        read_tier,
        read_during_ingest_ms: percentiles(read_during),
        chunks_per_tier: per_tier,
        peak_wal_bytes: peak_wal_bytes.max(scrape_peak_wal),
        peak_rss_bytes: peak_rss(),
        paced_samples_per_sec: paced as f64 / paced_seconds.max(1e-9),
        read_during_paced_ingest_ms: percentiles(read_paced),
        max_write_stall_paced_ms: paced_stats.max_append_wait_ms,
        max_maintenance_tx_paced_ms: paced_stats.max_maintenance_tx_ms,
        max_wal_checkpoint_paced_ms: paced_stats.max_wal_checkpoint_ms,
        max_wal_checkpoint_ms: worst(|h| h.wal_checkpoint_ms.max_ms),
        max_wal_checkpoint_max_rate_ms: max_rate_stats.max_wal_checkpoint_ms,
        latest_10k_ms,
        max_write_stall_ms: worst(|h| h.append_wait_ms.max_ms),
        max_write_stall_max_rate_ms: max_rate_stats.max_append_wait_ms,
        max_maintenance_tx_ms: worst(|h| h.maintenance_tx_ms.max_ms),
        max_maintenance_tx_max_rate_ms: max_rate_stats.max_maintenance_tx_ms,
        append_ms: percentiles(append_lat),
        scrape_series: n,
        scrape_append_samples: SCRAPE_APPEND,
        scrape_interval_ms: interval.as_secs_f64() * 1000.0,
        scrape_bursts: bursts,
        scrape_samples_per_sec: scrape_samples as f64 / scrape_seconds.max(1e-9),
        scrape_burst_ms: percentiles(burst_ms),
        read_during_scrape_ms: percentiles(scrape_reads.iter().map(|r| r.1).collect()),
        max_write_stall_scrape_ms: scrape_stats.max_append_wait_ms,
        max_maintenance_tx_scrape_ms: scrape_stats.max_maintenance_tx_ms,
        max_wal_checkpoint_scrape_ms: scrape_stats.max_wal_checkpoint_ms,
        scrape_compactions: scrape_stats.compactions_total - before.compactions_total,
        scrape_chunks_deleted: scrape_stats.chunks_deleted_total - before.chunks_deleted_total,
        scrape_day_merged: scrape_stats.merged_until.is_some_and(|m| m >= day_end),
        scrape_retention_done: retention_done,
        holds_max_rate,
        holds_paced,
        holds_scrape,
        compactions: stats.compactions_total,
        codecs,
        phase_seconds: phases,
    })
}

fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// (raw samples, raw payload bytes, size of a fresh database file holding only the raw chunks,
/// chunk totals per tier).
async fn raw_footprint(
    path: &std::path::Path,
) -> anyhow::Result<(i64, i64, u64, BTreeMap<String, TierFootprint>)> {
    use sqlx::Connection;
    let copy = path.with_extension("rawonly.db");
    let _ = std::fs::remove_file(&copy);
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let tiers: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT tier, count(*), sum(n), sum(length(data)) FROM chunk GROUP BY tier ORDER BY tier",
    )
    .fetch_all(&mut conn)
    .await?;
    let (n, bytes) = tiers
        .iter()
        .find(|t| t.0 == 0)
        .map(|t| (Some(t.2), Some(t.3)))
        .unwrap_or((None, None));
    let per_tier: BTreeMap<String, TierFootprint> = tiers
        .iter()
        .map(|&(tier, rows, n, bytes)| {
            let name = crate::store::Tier::ALL
                .get(tier as usize)
                .map(|t| t.as_str())
                .unwrap_or("?");
            (
                name.to_string(),
                TierFootprint {
                    chunks: rows,
                    points: n,
                    payload_bytes: bytes,
                },
            )
        })
        .collect();
    conn.close().await?;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&copy)
        .create_if_missing(true)
        .page_size(16384);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
    sqlx::query(
        "CREATE TABLE chunk (series_id INTEGER NOT NULL, tier INTEGER NOT NULL, start_ts INTEGER NOT NULL, \
         end_ts INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE (series_id, tier, start_ts))",
    )
    .execute(&mut c)
    .await?;
    sqlx::query("CREATE INDEX chunk_tier_end ON chunk (tier, end_ts)")
        .execute(&mut c)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ATTACH DATABASE '{}' AS src",
        path.display().to_string().replace('\'', "''")
    )))
    .execute(&mut c)
    .await?;
    sqlx::query("INSERT INTO main.chunk SELECT * FROM src.chunk WHERE tier = 0 ORDER BY series_id, start_ts")
        .execute(&mut c)
        .await?;
    sqlx::query("DETACH DATABASE src").execute(&mut c).await?;
    c.close().await?;
    let size = std::fs::metadata(&copy)?.len();
    let _ = std::fs::remove_file(&copy);
    Ok((n.unwrap_or(0), bytes.unwrap_or(0), size, per_tier))
}

/// What compaction makes of data that was really scraped: `kafkascope bench-store --from-db FILE`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RealDataReport {
    pub database: String,
    pub block_ms: i64,
    pub series: usize,
    /// First and last sample time of the compacted raw data (unix ms).
    pub from_ms: Timestamp,
    pub to_ms: Timestamp,
    pub raw_samples: i64,
    /// Raw chunk BLOB bytes per sample.
    pub payload_bytes_per_sample: f64,
    /// Raw chunks alone in a fresh database file, per sample (pages, row and index overhead included).
    pub bytes_per_sample: f64,
    pub chunks_per_tier: BTreeMap<String, TierFootprint>,
}

impl RealDataReport {
    pub fn to_text(&self) -> String {
        let fmt_ts = |ms: Timestamp| {
            jiff::Timestamp::from_millisecond(ms)
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|_| ms.to_string())
        };
        let mut s = format!(
            "real data from {} (compacted in {} min blocks)\n  series                      {}\n  span                        {} → {} ({:.1} h)\n  raw samples compacted       {}\n  raw payload bytes/sample    {:.3}\n  raw on-disk bytes/sample    {:.3}\n",
            self.database,
            self.block_ms / 60_000,
            self.series,
            fmt_ts(self.from_ms),
            fmt_ts(self.to_ms),
            (self.to_ms - self.from_ms) as f64 / 3_600_000.0,
            self.raw_samples,
            self.payload_bytes_per_sample,
            self.bytes_per_sample,
        );
        for (tier, f) in &self.chunks_per_tier {
            s.push_str(&format!(
                "  tier {tier:<4} chunks {:>8}  points {:>10}  payload B/point {:.3}\n",
                f.chunks,
                f.points,
                f.payload_bytes as f64 / f.points.max(1) as f64
            ));
        }
        s
    }
}

/// Copies a live kafkascope database (with its WAL), compacts every complete block of `block`
/// length it holds (the server's own is 2 h; shorter blocks measure sooner but pay more per-chunk
/// overhead), and measures the compressed raw data — bytes per sample of real scrapes, without waiting
/// for the live server's 2-hour blocks to close.
pub async fn measure_db(
    source: &std::path::Path,
    block: Duration,
) -> anyhow::Result<RealDataReport> {
    use anyhow::Context;
    let dir = std::env::temp_dir().join(format!(
        "kafkascope-measure-{}-{}",
        std::process::id(),
        crate::model::now_ms()
    ));
    std::fs::create_dir_all(&dir).context("creating a temporary directory")?;
    let result = measure_copy(source, &dir, block).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure_copy(
    source: &std::path::Path,
    dir: &std::path::Path,
    block: Duration,
) -> anyhow::Result<RealDataReport> {
    use anyhow::Context;
    let copy = dir.join("copy.db");
    // The database and its head-log lanes, each with its WAL (not the shared-memory files).
    let sources = store_files(source);
    let targets = store_files(&copy);
    for (from, to) in sources.iter().zip(&targets) {
        if from.exists() && !from.to_string_lossy().ends_with("-shm") {
            std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
        }
    }
    let mut cfg = StoreConfig::new(&copy);
    cfg.block_ms = block.as_millis() as i64;
    cfg.background = false;
    cfg.retention_interval = None;
    let store = Store::open(cfg).await.context("opening the copy")?;
    store.compact_now().await.context("compacting the copy")?;
    let series = store.stats().await.series;
    store.close().await?;
    let (raw_samples, raw_payload, raw_file_bytes, per_tier) = raw_footprint(&copy).await?;
    let span: (Option<i64>, Option<i64>) = {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&copy)
            .read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
        let r = sqlx::query_as("SELECT min(start_ts), max(end_ts) FROM chunk WHERE tier = 0")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        r
    };
    Ok(RealDataReport {
        database: source.display().to_string(),
        block_ms: block.as_millis() as i64,
        series,
        from_ms: span.0.unwrap_or(0),
        to_ms: span.1.unwrap_or(0),
        raw_samples,
        payload_bytes_per_sample: raw_payload as f64 / raw_samples.max(1) as f64,
        bytes_per_sample: raw_file_bytes as f64 / raw_samples.max(1) as f64,
        chunks_per_tier: per_tier,
    })
}
