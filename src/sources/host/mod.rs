//! Host: the machine kafkascope runs on — CPU, load, pressure, memory and page cache, paging,
//! disks, network and the file systems of Kafka's log dirs — named as node_exporter names them
//! ([`node`]), so this reader, `kafkascope agent` on other hosts and a scraped node_exporter all
//! write the same series.
//!
//! Every series carries `job="host"` and `instance=<name>` (the machine's hostname unless
//! `[clusters.host] name` says otherwise), the labels a scraped node_exporter or agent gets from
//! the Prometheus source, so the host pages find hosts the same way whichever path read them.
//!
//! Events: a log dir's file system crossing 80 % or 90 % used (and falling back), the page-cache
//! hit ratio falling below `cache_hit_floor`, and memory pressure spikes (PSI `some` above
//! `memory_pressure_spike` of an interval).

pub mod cachestat;
pub mod config;
pub mod node;
pub mod residency;

use crate::catalogue::{MetricDef, MetricType, SourceCatalogue, Unit};
use crate::model::{Labels, Reading, Severity};
use crate::sources::{
    EventKind, ScrapeOutput, Source, SourceError, SourceEvent, SourceKind, TargetInfo,
};
use config::HostConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const LOG_DIR_FULL: &str = "host_log_dir_full";
pub const CACHE_HIT_LOW: &str = "host_cache_hit_low";
pub const MEMORY_PRESSURE: &str = "host_memory_pressure";

/// The host source kind.
pub const KIND: SourceKind = SourceKind {
    key: "host",
    title: "Hosts",
    target_sources: &["host"],
    catalogue: CATALOGUE,
    events: &[
        EventKind {
            kind: LOG_DIR_FULL,
            title: "Log dir file system 80 % / 90 % used",
        },
        EventKind {
            kind: CACHE_HIT_LOW,
            title: "Page-cache hit ratio below its floor",
        },
        EventKind {
            kind: MEMORY_PRESSURE,
            title: "Memory pressure spike",
        },
    ],
    build: config::build,
    default_local: config::default_local,
};

const fn def(name: &'static str, kind: MetricType, unit: Unit, help: &'static str) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        help,
    }
}

use MetricType::{Counter, Gauge};
use Unit::{Bytes, None as Plain, Seconds};

/// The series the host pages chart, with their meaning. Every other `node_*` name is described
/// by the Prometheus naming rule (`_total` counters, `_bytes`, `_seconds`).
pub const METRICS: &[MetricDef] = &[
    def(
        "node_cpu_seconds_total",
        Counter,
        Seconds,
        "CPU time per CPU and mode",
    ),
    def(
        "node_load1",
        Gauge,
        Plain,
        "Run-queue length averaged over 1 minute",
    ),
    def(
        "node_load5",
        Gauge,
        Plain,
        "Run-queue length averaged over 5 minutes",
    ),
    def(
        "node_load15",
        Gauge,
        Plain,
        "Run-queue length averaged over 15 minutes",
    ),
    def(
        "node_memory_MemTotal_bytes",
        Gauge,
        Bytes,
        "Physical memory",
    ),
    def(
        "node_memory_MemAvailable_bytes",
        Gauge,
        Bytes,
        "Memory available for new work without swapping (page cache that can be dropped included)",
    ),
    def(
        "node_memory_Cached_bytes",
        Gauge,
        Bytes,
        "Page cache: file pages in memory (Kafka's log segments live here)",
    ),
    def(
        "node_memory_Buffers_bytes",
        Gauge,
        Bytes,
        "Block-device buffers",
    ),
    def(
        "node_memory_Dirty_bytes",
        Gauge,
        Bytes,
        "Page-cache pages written to but not yet on disk",
    ),
    def(
        "node_memory_Writeback_bytes",
        Gauge,
        Bytes,
        "Dirty pages being written to disk now",
    ),
    def(
        "node_memory_Active_file_bytes",
        Gauge,
        Bytes,
        "Recently used file pages (kept longer)",
    ),
    def(
        "node_memory_Inactive_file_bytes",
        Gauge,
        Bytes,
        "File pages first in line for eviction",
    ),
    def(
        "node_vmstat_pgmajfault",
        Counter,
        Plain,
        "Major page faults: pages that had to be read from disk",
    ),
    def(
        "node_vmstat_pgfault",
        Counter,
        Plain,
        "Page faults, minor and major",
    ),
    def(
        "node_vmstat_pgpgin",
        Counter,
        Plain,
        "KiB paged in from disk (reads that missed the page cache)",
    ),
    def(
        "node_vmstat_pgpgout",
        Counter,
        Plain,
        "KiB paged out to disk",
    ),
    def(
        "node_vmstat_workingset_refault_file",
        Counter,
        Plain,
        "File pages read again soon after eviction: the cache is too small for the working set",
    ),
    def(
        "node_vmstat_pgsteal_kswapd",
        Counter,
        Plain,
        "Pages reclaimed by kswapd",
    ),
    def(
        "node_vmstat_pgsteal_direct",
        Counter,
        Plain,
        "Pages reclaimed directly by allocating tasks (stalls them)",
    ),
    def(
        "node_vmstat_pgscan_kswapd",
        Counter,
        Plain,
        "Pages scanned by kswapd",
    ),
    def(
        "node_vmstat_pgscan_direct",
        Counter,
        Plain,
        "Pages scanned by direct reclaim",
    ),
    def(
        "node_pressure_cpu_waiting_seconds_total",
        Counter,
        Seconds,
        "Time some task waited for a CPU (PSI)",
    ),
    def(
        "node_pressure_memory_waiting_seconds_total",
        Counter,
        Seconds,
        "Time some task stalled on memory (PSI some)",
    ),
    def(
        "node_pressure_memory_stalled_seconds_total",
        Counter,
        Seconds,
        "Time all tasks stalled on memory (PSI full)",
    ),
    def(
        "node_pressure_io_waiting_seconds_total",
        Counter,
        Seconds,
        "Time some task waited for I/O (PSI some)",
    ),
    def(
        "node_pressure_io_stalled_seconds_total",
        Counter,
        Seconds,
        "Time all tasks waited for I/O (PSI full)",
    ),
    def(
        "node_disk_read_bytes_total",
        Counter,
        Bytes,
        "Bytes read from the device",
    ),
    def(
        "node_disk_written_bytes_total",
        Counter,
        Bytes,
        "Bytes written to the device",
    ),
    def(
        "node_disk_reads_completed_total",
        Counter,
        Plain,
        "Reads completed",
    ),
    def(
        "node_disk_writes_completed_total",
        Counter,
        Plain,
        "Writes completed",
    ),
    def(
        "node_disk_io_time_seconds_total",
        Counter,
        Seconds,
        "Time the device was busy (its rate is utilisation)",
    ),
    def("node_disk_io_now", Gauge, Plain, "I/Os in progress"),
    def(
        "node_network_receive_bytes_total",
        Counter,
        Bytes,
        "Bytes received per interface",
    ),
    def(
        "node_network_transmit_bytes_total",
        Counter,
        Bytes,
        "Bytes sent per interface",
    ),
    def(
        "node_network_receive_drop_total",
        Counter,
        Plain,
        "Received packets dropped",
    ),
    def(
        "node_network_transmit_drop_total",
        Counter,
        Plain,
        "Sent packets dropped",
    ),
    def(
        "node_network_receive_errs_total",
        Counter,
        Plain,
        "Receive errors",
    ),
    def(
        "node_network_transmit_errs_total",
        Counter,
        Plain,
        "Transmit errors",
    ),
    def(
        "node_filesystem_size_bytes",
        Gauge,
        Bytes,
        "File-system size",
    ),
    def(
        "node_filesystem_avail_bytes",
        Gauge,
        Bytes,
        "File-system space available to unprivileged users (Kafka)",
    ),
    def(
        "node_filesystem_free_bytes",
        Gauge,
        Bytes,
        "File-system free space (root's reserve included)",
    ),
    def("node_filesystem_files", Gauge, Plain, "Inodes"),
    def("node_filesystem_files_free", Gauge, Plain, "Free inodes"),
    def(
        "kafkascope_log_dir_info",
        MetricType::Info,
        Plain,
        "A Kafka log dir (log_dir) and the mount that holds it (mountpoint)",
    ),
    def(
        "kafkascope_cachestat_info",
        MetricType::Info,
        Plain,
        "Whether cachestat counts (state counting, with the kernel functions used) or why not (state unavailable or error, with the reason)",
    ),
    def(
        "kafkascope_cachestat_hits_total",
        Counter,
        Plain,
        "Page-cache hits counted as cachestat counts them (accesses that found the page in memory)",
    ),
    def(
        "kafkascope_cachestat_misses_total",
        Counter,
        Plain,
        "Page-cache misses counted as cachestat counts them (pages added to the cache for a read)",
    ),
    def(
        "kafkascope_cachestat_dirties_total",
        Counter,
        Plain,
        "Buffers dirtied (cachestat's DIRTIES column)",
    ),
    def(
        "kafkascope_log_partition_bytes",
        Gauge,
        Bytes,
        "Size of a topic-partition's .log segments in a log dir",
    ),
    def(
        "kafkascope_log_partition_segments",
        Gauge,
        Plain,
        "Segments of a topic-partition in a log dir",
    ),
    def(
        "kafkascope_log_partition_cold_bytes",
        Gauge,
        Bytes,
        "Bytes of the scanned segments not in the page cache: what a consumer reading them would read from disk",
    ),
    def(
        "kafkascope_log_segment_bytes",
        Gauge,
        Bytes,
        "Bytes of the active segment, or of the recent segments before it (segments label)",
    ),
    def(
        "kafkascope_log_segment_cached_bytes",
        Gauge,
        Bytes,
        "Bytes of those segments in the page cache",
    ),
    def(
        "kafkascope_log_segment_dirty_bytes",
        Gauge,
        Bytes,
        "Bytes of those segments written but not yet on disk (cachestat(2) only)",
    ),
    def(
        "kafkascope_log_segment_writeback_bytes",
        Gauge,
        Bytes,
        "Bytes of those segments being written to disk now (cachestat(2) only)",
    ),
    def(
        "kafkascope_log_residency_info",
        MetricType::Info,
        Plain,
        "How segment residency was measured: cachestat(2) or mmap + mincore (method)",
    ),
    def(
        "kafkascope_log_residency_files",
        Gauge,
        Plain,
        "Segment files checked by the last residency scan",
    ),
    def(
        "kafkascope_log_residency_pages",
        Gauge,
        Plain,
        "File pages covered by the last residency scan",
    ),
    def(
        "kafkascope_log_residency_seconds",
        Gauge,
        Seconds,
        "Time the last residency scan took",
    ),
    def(
        "kafkascope_log_residency_errors",
        Gauge,
        Plain,
        "Segment files the last residency scan could not check",
    ),
    def(
        "kafkascope_log_residency_truncated",
        Gauge,
        Plain,
        "1 when the last residency scan ran out of its budget before checking every segment",
    ),
];

pub const CATALOGUE: SourceCatalogue = SourceCatalogue {
    metrics: METRICS,
    rule: Some(crate::sources::prometheus::catalogue::describe),
    family: None,
};

/// The labels of every series of a host read here: what the Prometheus source gives a scraped
/// node_exporter (`job`, `instance`).
pub fn host_labels(name: &str) -> Labels {
    Labels::new().with("job", "host").with("instance", name)
}

/// What the reader remembers between reads, for events.
#[derive(Debug, Default)]
struct Memory {
    /// The cachestat totals of the previous read, and whether the ratio was below the floor.
    cache: Option<cachestat::CacheCounts>,
    cache_low: bool,
    /// Per log dir mount: 0 below 80 %, 1 from 80 %, 2 from 90 %.
    fill_level: BTreeMap<String, u8>,
    /// Cumulative memory PSI `some` seconds and when it was read.
    psi: Option<(f64, Instant)>,
    psi_spike: bool,
}

/// Reads the host: everything [`node`] reads, plus events. Blocking (it reads files); the
/// source runs it off the async workers, the agent on its request thread.
#[derive(Debug)]
pub struct HostReader {
    config: HostConfig,
    name: String,
    memory: Memory,
    /// The function profiler, or why cachestat cannot count here.
    cachestat: Result<cachestat::Profiler, cachestat::Unavailable>,
}

/// One read of the host.
#[derive(Debug, Default)]
pub struct HostRead {
    pub readings: Vec<Reading>,
    pub events: Vec<SourceEvent>,
    pub warnings: Vec<String>,
    /// The latest residency scan, segment by segment (kept as the `log_residency` document).
    pub documents: Vec<crate::sources::Document>,
}

impl HostReader {
    pub fn new(config: HostConfig) -> Self {
        let name = config.name.clone().unwrap_or_else(config::hostname);
        // The profiler changes kernel tracing state (and stays on after a kill -9), so it runs only
        // when asked for.
        let cachestat = if config.cachestat {
            cachestat::probe_system()
        } else {
            Err(cachestat::Unavailable {
                reason: "not turned on: set cachestat = true in [clusters.host] (or start the agent with --cachestat); it needs root and tracefs' function profiler".into(),
            })
        };
        match &cachestat {
            Ok(p) => {
                tracing::info!(functions = ?p.functions(), "cachestat: counting page-cache hits and misses with tracefs' function profiler")
            }
            Err(u) => {
                tracing::info!(reason = %u.reason, "cachestat counts unavailable; showing major faults, pgpgin and refaults instead")
            }
        }
        HostReader {
            config,
            name,
            memory: Memory::default(),
            cachestat,
        }
    }

    /// The `instance` label of this host's series.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn log_dirs(&self) -> &[PathBuf] {
        &self.config.log_dirs
    }

    /// Reads everything once, without the `job`/`instance` labels (the agent's scraper adds its
    /// own; the source adds [`host_labels`]).
    pub fn read(&mut self) -> HostRead {
        let node = node::read(&self.config.log_dirs);
        let mut events = Vec::new();
        self.fill_events(&node, &mut events);
        self.pressure_events(&node.readings, Instant::now(), &mut events);
        let mut readings = node.readings;
        let mut warnings = node.warnings;
        for (dir, mountpoint) in &node.log_dir_mounts {
            readings.push(
                Reading::gauge("kafkascope_log_dir_info", 1.0)
                    .label("log_dir", dir.display().to_string())
                    .label("mountpoint", mountpoint),
            );
        }
        self.cachestat_readings(&mut readings, &mut events, &mut warnings);
        let mut documents = Vec::new();
        if !self.config.log_dirs.is_empty() {
            let budget = residency::Budget {
                max_files: self.config.residency_max_files,
                recent_segments: self.config.residency_recent_segments,
                ..Default::default()
            };
            let report = residency::scan(&self.config.log_dirs, &budget);
            residency_readings(&report, &mut readings, &mut warnings);
            if let Ok(body) = serde_json::to_string(&report) {
                documents.push(crate::sources::Document {
                    subject: self.name.clone(),
                    name: "log_residency".into(),
                    body,
                });
            }
        }
        HostRead {
            readings,
            events,
            warnings,
            documents,
        }
    }

    /// cachestat's totals as counters (their rates are cachestat's columns), its state as
    /// `kafkascope_cachestat_info`, and the hit-ratio event.
    fn cachestat_readings(
        &mut self,
        readings: &mut Vec<Reading>,
        events: &mut Vec<SourceEvent>,
        warnings: &mut Vec<String>,
    ) {
        let counts = match &mut self.cachestat {
            Err(u) => {
                readings.push(
                    Reading::gauge("kafkascope_cachestat_info", 1.0)
                        .label("state", "unavailable")
                        .label("reason", &u.reason),
                );
                return;
            }
            Ok(p) => match p.read() {
                Ok(c) => {
                    readings.push(
                        Reading::gauge("kafkascope_cachestat_info", 1.0)
                            .label("state", "counting")
                            .label("functions", p.functions().join(",")),
                    );
                    c
                }
                Err(e) => {
                    readings.push(
                        Reading::gauge("kafkascope_cachestat_info", 1.0)
                            .label("state", "error")
                            .label("reason", &e),
                    );
                    warnings.push(format!("cachestat: {e}"));
                    return;
                }
            },
        };
        for (name, v) in [
            ("kafkascope_cachestat_hits_total", counts.hits),
            ("kafkascope_cachestat_misses_total", counts.misses),
            ("kafkascope_cachestat_dirties_total", counts.dirties),
        ] {
            readings.push(Reading::counter(name, v as f64));
        }
        let before = self.memory.cache.replace(counts);
        // Below a thousand accesses an interval the ratio says little.
        let Some(before) = before.filter(|b| counts.accesses.saturating_sub(b.accesses) >= 1000)
        else {
            return;
        };
        let Some(ratio) = counts.ratio_since(&before) else {
            return;
        };
        let low = ratio < self.config.cache_hit_floor;
        if low != self.memory.cache_low {
            events.push(SourceEvent {
                kind: CACHE_HIT_LOW.into(),
                severity: if low { Severity::Warning } else { Severity::Info },
                subject: self.name.clone(),
                message: if low {
                    format!(
                        "{}: page-cache hit ratio {:.1} % fell below {:.0} % ({} misses in the interval: reads from disk)",
                        self.name,
                        ratio * 100.0,
                        self.config.cache_hit_floor * 100.0,
                        counts.misses.saturating_sub(before.misses)
                    )
                } else {
                    format!(
                        "{}: page-cache hit ratio back to {:.1} %",
                        self.name,
                        ratio * 100.0
                    )
                },
                at: None,
            });
        }
        self.memory.cache_low = low;
    }

    fn fill_events(&mut self, node: &node::NodeRead, events: &mut Vec<SourceEvent>) {
        for (dir, mountpoint) in &node.log_dir_mounts {
            let value = |metric: &str| {
                node.readings
                    .iter()
                    .find(|r| r.metric == metric && r.labels.get("mountpoint") == Some(mountpoint))
                    .map(|r| r.value)
            };
            let (Some(size), Some(avail)) = (
                value("node_filesystem_size_bytes"),
                value("node_filesystem_avail_bytes"),
            ) else {
                continue;
            };
            if size <= 0.0 {
                continue;
            }
            let used = (size - avail) / size;
            let level = fill_level(used);
            let before = self.memory.fill_level.insert(mountpoint.clone(), level);
            let Some(before) = before else {
                // The first read states where we are when the level is already high.
                if level > 0 {
                    events.push(fill_event(&self.name, dir, mountpoint, used, level, true));
                }
                continue;
            };
            if level != before {
                events.push(fill_event(
                    &self.name,
                    dir,
                    mountpoint,
                    used,
                    level,
                    level > before,
                ));
            }
        }
    }

    fn pressure_events(
        &mut self,
        readings: &[Reading],
        now: Instant,
        events: &mut Vec<SourceEvent>,
    ) {
        let Some(total) = readings
            .iter()
            .find(|r| r.metric == "node_pressure_memory_waiting_seconds_total")
            .map(|r| r.value)
        else {
            return;
        };
        if let Some((before, at)) = self.memory.psi.replace((total, now)) {
            let secs = now.duration_since(at).as_secs_f64();
            if secs <= 0.0 {
                return;
            }
            let share = ((total - before) / secs).max(0.0);
            let spike = share > self.config.memory_pressure_spike;
            if spike && !self.memory.psi_spike {
                events.push(SourceEvent {
                    kind: MEMORY_PRESSURE.into(),
                    severity: Severity::Warning,
                    subject: self.name.clone(),
                    message: format!(
                        "{}: tasks stalled on memory {:.0} % of the last {:.0} s (PSI some; spike threshold {:.0} %)",
                        self.name,
                        share * 100.0,
                        secs,
                        self.config.memory_pressure_spike * 100.0
                    ),
                    at: None,
                });
            }
            self.memory.psi_spike = spike;
        }
    }
}

/// A residency scan as series: per partition, the active and the recent segments' bytes, cached
/// bytes and (with `cachestat(2)`) dirty and writeback bytes, the bytes not in the cache, and the
/// scan's own cost. Per-file errors are warnings (the first few, then a count).
fn residency_readings(
    report: &residency::ScanReport,
    readings: &mut Vec<Reading>,
    warnings: &mut Vec<String>,
) {
    let page = report.page_size as f64;
    for p in &report.partitions {
        let labels = Labels::new()
            .with("log_dir", p.dir.display().to_string())
            .with("topic", &p.topic)
            .with("partition", p.partition.to_string());
        let mut push = |name: &str, extra: Option<(&str, &str)>, v: f64| {
            let mut r = Reading::gauge(name, v);
            r.labels = labels.clone();
            if let Some((k, val)) = extra {
                r.labels.insert(k, val);
            }
            readings.push(r);
        };
        push("kafkascope_log_partition_bytes", None, p.log_bytes as f64);
        push(
            "kafkascope_log_partition_segments",
            None,
            p.segment_count as f64,
        );
        let scanned_cold: u64 = p.segments.iter().map(|s| s.cold_bytes()).sum();
        push(
            "kafkascope_log_partition_cold_bytes",
            None,
            scanned_cold as f64,
        );
        let sums = [
            (
                "active",
                p.active
                    .as_ref()
                    .map(|a| (a.bytes, a.cached_bytes, a.pages)),
            ),
            (
                "recent",
                (p.recent.segments > 0).then_some((
                    p.recent.bytes,
                    p.recent.cached_bytes,
                    p.recent.pages,
                )),
            ),
        ];
        for (which, sum) in sums {
            let Some((bytes, cached, pages)) = sum else {
                continue;
            };
            let w = Some(("segments", which));
            push("kafkascope_log_segment_bytes", w, bytes as f64);
            push("kafkascope_log_segment_cached_bytes", w, cached as f64);
            if let Some(d) = pages.dirty {
                push("kafkascope_log_segment_dirty_bytes", w, d as f64 * page);
            }
            if let Some(wb) = pages.writeback {
                push(
                    "kafkascope_log_segment_writeback_bytes",
                    w,
                    wb as f64 * page,
                );
            }
        }
    }
    readings.push(
        Reading::gauge("kafkascope_log_residency_info", 1.0)
            .label("method", report.method.as_str()),
    );
    for (name, v) in [
        (
            "kafkascope_log_residency_files",
            report.files_scanned as f64,
        ),
        (
            "kafkascope_log_residency_pages",
            report.pages_checked as f64,
        ),
        (
            "kafkascope_log_residency_seconds",
            report.elapsed.as_secs_f64(),
        ),
        (
            "kafkascope_log_residency_errors",
            report.errors.len() as f64,
        ),
        (
            "kafkascope_log_residency_truncated",
            if report.truncated { 1.0 } else { 0.0 },
        ),
    ] {
        readings.push(Reading::gauge(name, v));
    }
    for e in report.errors.iter().take(5) {
        warnings.push(format!("log residency: {e}"));
    }
    if report.errors.len() > 5 {
        warnings.push(format!(
            "log residency: {} more files could not be checked",
            report.errors.len() - 5
        ));
    }
}

fn fill_level(used: f64) -> u8 {
    if used >= 0.9 {
        2
    } else if used >= 0.8 {
        1
    } else {
        0
    }
}

fn fill_event(
    host: &str,
    dir: &std::path::Path,
    mountpoint: &str,
    used: f64,
    level: u8,
    rising: bool,
) -> SourceEvent {
    let (severity, what) = match (level, rising) {
        (2, _) => (Severity::Critical, "at or above 90 % used"),
        (1, true) => (Severity::Warning, "at or above 80 % used"),
        (1, false) => (Severity::Warning, "back below 90 % used"),
        _ => (Severity::Info, "back below 80 % used"),
    };
    SourceEvent {
        kind: LOG_DIR_FULL.into(),
        severity,
        subject: format!("{host}:{}", dir.display()),
        message: format!(
            "{host}: log dir {} ({mountpoint}) {what}: {:.1} %",
            dir.display(),
            used * 100.0
        ),
        at: None,
    }
}

/// The local host as a collector target.
pub struct HostSource {
    info: TargetInfo,
    reader: Arc<Mutex<HostReader>>,
}

impl std::fmt::Debug for HostSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSource")
            .field("info", &self.info)
            .finish()
    }
}

impl HostSource {
    pub fn new(config: HostConfig) -> Self {
        let reader = HostReader::new(config);
        let name = reader.name().to_string();
        HostSource {
            info: TargetInfo {
                source: "host",
                target: name.clone(),
                phase_key: name.clone(),
                identity: host_labels(&name),
            },
            reader: Arc::new(Mutex::new(reader)),
        }
    }
}

impl Source for HostSource {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn scrape(&mut self, _timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        let reader = self.reader.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut r = reader.lock().unwrap_or_else(|p| p.into_inner());
            r.read()
        })
        .await
        .map_err(|e| SourceError(format!("host read failed: {e}")))?;
        if read.readings.is_empty() {
            return Err(SourceError(format!(
                "nothing could be read: {}",
                read.warnings.join("; ")
            )));
        }
        let labels = self.info.identity.clone();
        let readings = read
            .readings
            .into_iter()
            .map(|mut r| {
                for (k, v) in labels.iter() {
                    r.labels.insert(k, v);
                }
                r
            })
            .collect();
        Ok(ScrapeOutput {
            readings,
            events: read.events,
            warnings: read.warnings,
            documents: read.documents,
            identity: self.info.identity.clone(),
            up_since: None,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_levels_step_at_80_and_90_percent() {
        assert_eq!(
            [0.5, 0.799, 0.8, 0.899, 0.9, 1.0].map(fill_level),
            [0, 0, 1, 1, 2, 2]
        );
    }

    #[test]
    fn a_hit_ratio_below_the_floor_and_its_recovery_are_events() {
        use cachestat::tests::{fake_tracefs, write_stat};
        let dir = fake_tracefs(
            "folio_mark_accessed\nfilemap_add_folio\nmark_buffer_dirty\n__folio_mark_dirty\n",
        );
        let mut r = HostReader {
            config: HostConfig::default(),
            name: "h".into(),
            memory: Memory::default(),
            cachestat: cachestat::probe(dir.path()),
        };
        let mut step = |accessed: u64, added: u64| {
            write_stat(
                dir.path(),
                0,
                &[
                    ("folio_mark_accessed", accessed),
                    ("filemap_add_folio", added),
                ],
            );
            let (mut readings, mut events, mut warnings) = (vec![], vec![], vec![]);
            r.cachestat_readings(&mut readings, &mut events, &mut warnings);
            assert!(warnings.is_empty(), "{warnings:?}");
            assert!(
                readings
                    .iter()
                    .any(|x| x.metric == "kafkascope_cachestat_hits_total")
            );
            events
        };
        assert!(step(0, 0).is_empty(), "the first read is the baseline");
        assert!(
            step(10_000, 100).is_empty(),
            "99 % hits: above the 90 % floor"
        );
        let e = step(20_000, 5_100);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].message.contains("fell below 90 %") && e[0].message.contains("50.0 %"),
            "{}",
            e[0].message
        );
        assert!(step(30_000, 10_100).is_empty(), "still low: no repeat");
        let e = step(40_000, 10_200);
        assert!(
            e.len() == 1 && e[0].message.contains("back to 99.0 %"),
            "{e:?}"
        );
    }

    #[test]
    fn memory_pressure_spikes_are_one_event_each() {
        let mut r = HostReader::new(HostConfig::default());
        let t0 = Instant::now();
        let psi = |v: f64| {
            vec![Reading::counter(
                "node_pressure_memory_waiting_seconds_total",
                v,
            )]
        };
        let mut events = Vec::new();
        for (secs, total) in [(0, 0.0), (10, 3.0), (20, 5.0), (30, 5.1), (40, 8.0)] {
            r.pressure_events(&psi(total), t0 + Duration::from_secs(secs), &mut events);
        }
        // 30 % of 10 s stalled: a spike; 20 %: the same spike; 1 %: over; 29 %: a new one.
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            events[0].message.contains("stalled on memory 30 %"),
            "{}",
            events[0].message
        );
        assert!(events[1].message.contains("29 %"), "{}", events[1].message);
    }

    #[test]
    fn falling_back_is_an_event_too() {
        let e = fill_event("h", std::path::Path::new("/k"), "/", 0.85, 1, false);
        assert!(e.message.contains("back below 90 %"), "{}", e.message);
        let e = fill_event("h", std::path::Path::new("/k"), "/", 0.95, 2, true);
        assert_eq!(e.severity, Severity::Critical);
    }
}
