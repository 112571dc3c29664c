//! The host pages: `/hosts` (a row per host: CPU, memory, page cache, disks, network, log-dir
//! fill, with sparklines and how far each host is from the others) and
//! `/hosts/{cluster}/{instance}` (all of one host over time).
//!
//! A host is any `(cluster, instance)` that writes node_exporter's `node_memory_MemTotal_bytes`:
//! the server's own host reader (`job="host"`), a scraped `kafkascope agent` or a scraped
//! node_exporter look alike here, because all three write the same series.

mod list;
mod show;

use super::Ctx;
use crate::catalogue::Unit;
use crate::model::Matcher;
use crate::store::StoredEvent;
use crate::web::format::urlencode;
use crate::web::panels::Panel;
use crate::web::sources::{Tile, TileFuture, WebSource};
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;

pub const WEB: WebSource = WebSource {
    key: "host",
    nav: Some(("hosts", "Hosts", "/hosts")),
    routes,
    overview: tile,
    event_link: |_, _| None,
};

fn routes(router: Router<Ctx>) -> Router<Ctx> {
    router
        .route("/hosts", get(list::list))
        .route("/hosts/{cluster}/{instance}", get(show::show))
}

/// One host as stored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostId {
    pub cluster: String,
    pub instance: String,
    pub job: String,
}

impl HostId {
    pub fn path(&self) -> String {
        format!(
            "/hosts/{}/{}",
            urlencode(&self.cluster),
            urlencode(&self.instance)
        )
    }

    /// The matchers of its series, for `{sel}` in a panel's query.
    pub fn selector(&self) -> String {
        format!(
            "cluster=\"{}\",job=\"{}\",instance=\"{}\"",
            esc(&self.cluster),
            esc(&self.job),
            esc(&self.instance)
        )
    }

    /// How it is read.
    pub fn via(&self) -> &'static str {
        if self.job == "host" {
            "this server's host reader"
        } else {
            "scraped endpoint (kafkascope agent or node_exporter)"
        }
    }
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Every host in the store (of one cluster when given), sorted.
pub fn hosts(ctx: &Ctx, cluster: Option<&str>) -> Vec<HostId> {
    let matchers: Vec<Matcher> = cluster
        .map(|c| vec![Matcher::eq("cluster", c)])
        .unwrap_or_default();
    let mut out: Vec<HostId> = ctx
        .store
        .select(Some("node_memory_MemTotal_bytes"), &matchers)
        .into_iter()
        .map(|i| HostId {
            cluster: i.key.labels.get("cluster").unwrap_or("").to_string(),
            instance: i.key.labels.get("instance").unwrap_or("").to_string(),
            job: i.key.labels.get("job").unwrap_or("").to_string(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

use Unit::{Bytes, None as Plain, Ratio};

use crate::web::panels::panel;

/// The chart that shows consumers reading cold segments: the broker's bytes out (jmx_exporter's
/// `kafka_server_brokertopicmetrics_bytesout_total`, from a scraped jmx_exporter on the same host,
/// matched by host name in `{host}`) over the host's disk reads and the bytes paged in because the
/// page cache missed. Bytes out that rise with disk reads are consumers served from disk.
pub const COLD_READS: Panel = panel(
    "Broker bytes out vs disk reads and cache misses",
    "label_replace(sum(rate(kafka_server_brokertopicmetrics_bytesout_total{cluster=\"{cluster}\",instance=~\"{host}\",topic=\"\"}[{w}])), \"what\", \"broker bytes out\", \"\", \"\") or label_replace(sum(rate(node_disk_read_bytes_total{{sel}}[{w}])), \"what\", \"disk reads\", \"\", \"\") or label_replace(rate(node_vmstat_pgpgin{{sel}}[{w}]) * 1024, \"what\", \"paged in (cache misses)\", \"\", \"\")",
    "what",
    "",
    Bytes,
    true,
    "When bytes out rise with disk reads and page-ins, consumers are reading segments that are no longer in the page cache",
);

/// The charts of a host page, in order.
pub const PANELS: &[Panel] = &[
    panel(
        "CPU busy by mode",
        "sum by (mode) (rate(node_cpu_seconds_total{{sel},mode!=\"idle\"}[{w}])) / scalar(count(node_cpu_seconds_total{{sel},mode=\"idle\"}))",
        "mode",
        "",
        Ratio,
        false,
        "Share of all CPUs per mode; iowait is time waiting for disk with nothing else to run",
    ),
    panel(
        "Load",
        "{__name__=~\"node_load1|node_load5|node_load15\",{sel}}",
        "__name__",
        "node_",
        Plain,
        false,
        "Run-queue length; compare with the number of CPUs",
    ),
    panel(
        "Memory and page cache",
        "{__name__=~\"node_memory_(MemAvailable|Cached|Buffers|Dirty|Writeback)_bytes\",{sel}}",
        "__name__",
        "node_memory_",
        Bytes,
        false,
        "Cached is the page cache Kafka serves consumers from; Dirty and Writeback are writes not yet on disk",
    ),
    panel(
        "Page-cache misses: read from disk",
        "rate(node_vmstat_pgpgin{{sel}}[{w}]) * 1024",
        "",
        "",
        Bytes,
        true,
        "Bytes paged in from disk (pgpgin): reads the page cache could not serve",
    ),
    panel(
        "Major faults and file refaults",
        "label_replace(rate(node_vmstat_pgmajfault{{sel}}[{w}]), \"what\", \"major faults\", \"\", \"\") or label_replace(rate(node_vmstat_workingset_refault_file{{sel}}[{w}]), \"what\", \"file refaults\", \"\", \"\")",
        "what",
        "",
        Plain,
        true,
        "Refaults are file pages read again soon after eviction: the cache is smaller than the working set",
    ),
    panel(
        "Disk reads by device",
        "rate(node_disk_read_bytes_total{{sel}}[{w}])",
        "device",
        "",
        Bytes,
        true,
        "Bytes read from each block device",
    ),
    panel(
        "Disk writes by device",
        "rate(node_disk_written_bytes_total{{sel}}[{w}])",
        "device",
        "",
        Bytes,
        true,
        "Bytes written to each block device",
    ),
    panel(
        "Disk busy",
        "rate(node_disk_io_time_seconds_total{{sel}}[{w}])",
        "device",
        "",
        Ratio,
        false,
        "Share of time each device had I/O in flight (utilisation)",
    ),
    panel(
        "Network received",
        "rate(node_network_receive_bytes_total{{sel}}[{w}])",
        "device",
        "",
        Bytes,
        true,
        "Bytes received per interface",
    ),
    panel(
        "Network sent",
        "rate(node_network_transmit_bytes_total{{sel}}[{w}])",
        "device",
        "",
        Bytes,
        true,
        "Bytes sent per interface; a broker's consumer traffic leaves here",
    ),
    panel(
        "Pressure stall (PSI)",
        "label_replace(rate(node_pressure_cpu_waiting_seconds_total{{sel}}[{w}]), \"what\", \"cpu\", \"\", \"\") or label_replace(rate(node_pressure_memory_waiting_seconds_total{{sel}}[{w}]), \"what\", \"memory\", \"\", \"\") or label_replace(rate(node_pressure_io_waiting_seconds_total{{sel}}[{w}]), \"what\", \"io\", \"\", \"\")",
        "what",
        "",
        Ratio,
        false,
        "Share of time some task waited for CPU, memory or I/O",
    ),
    panel(
        "File-system use",
        "1 - node_filesystem_avail_bytes{{sel}} / node_filesystem_size_bytes{{sel}}",
        "mountpoint",
        "",
        Ratio,
        false,
        "Share of each file system used (as Kafka sees it: space available to non-root users)",
    ),
];

fn tile<'a>(
    ctx: &'a Ctx,
    cluster: &'a str,
    range: &'a TimeRange,
    _events: &'a [StoredEvent],
) -> TileFuture<'a> {
    Box::pin(async move {
        let rows = list::rows(ctx, Some(cluster), range).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut reasons = Vec::new();
        let mut class = "ok";
        for r in &rows {
            if let Some(f) = r.fill.value
                && f >= 0.8
            {
                reasons.push(format!(
                    "{}: file system {:.0} % used",
                    r.host.instance,
                    f * 100.0
                ));
                class = if f >= 0.9 { "critical" } else { "warning" };
            }
        }
        let stale = rows.iter().filter(|r| r.stale).count();
        if stale > 0 {
            reasons.push(format!("{stale} without a recent read"));
            if class == "ok" {
                class = "unknown";
            }
        }
        let worst_cpu = rows
            .iter()
            .filter_map(|r| r.cpu.value.map(|v| (v, &r.host.instance)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let mut facts = vec![("Hosts".into(), rows.len().to_string())];
        if let Some((v, h)) = worst_cpu {
            facts.push(("Busiest CPU".into(), format!("{:.0} % ({h})", v * 100.0)));
        }
        Ok(Some(Tile {
            title: "Hosts".into(),
            link: format!("/hosts?{}", range.query()),
            class,
            reasons,
            facts,
            charts: vec![],
            strip: vec![],
        }))
    })
}
