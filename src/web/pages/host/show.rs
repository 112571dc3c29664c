//! `/hosts/{cluster}/{instance}`: one host over the range — the panel charts of [`super::PANELS`],
//! its file systems with a fill forecast, its events, then every one of its series grouped by
//! prefix with the shared planner.

use super::{HostId, PANELS, hosts};
use crate::analysis::trend;
use crate::model::Matcher;
use crate::web::Ctx;
use crate::web::chart::Chart;
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, format_number};
use crate::web::page::PageCtx;
use crate::web::pages::events::EventRow;
use crate::web::pages::{SMALL_H, SMALL_W, event_marks, range_events, require_cluster};
use crate::web::panels::instant;
use crate::web::planner::{self, EntityQuery, Group};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

/// A panel's chart with what it means.
pub struct PanelChart {
    pub chart: Chart,
    pub help: &'static str,
}

/// One file system of the host, at the range's end, with where it is heading.
pub struct FsRow {
    pub mountpoint: String,
    pub device: String,
    pub log_dirs: Vec<String>,
    pub size: String,
    pub avail: String,
    pub used_pct: f64,
    pub used: String,
    /// Change of the available space per day over the range (least squares), shown.
    pub trend: String,
    /// "full in 12 days", "not filling", or why no forecast is given.
    pub forecast: String,
    pub class: &'static str,
}

/// One interval of cachestat's output, as the tool prints it.
pub struct CacheRow {
    pub time: String,
    pub hits: String,
    pub misses: String,
    pub dirties: String,
    pub ratio: String,
    pub buffers_mb: String,
    pub cache_mb: String,
}

/// cachestat on this host: counting (with the functions used), or why not.
pub struct CacheStat {
    /// `counting`, `unavailable`, `error`, or empty when the host never said (node_exporter).
    pub state: String,
    pub detail: String,
    pub rows: Vec<CacheRow>,
}

/// One topic-partition's page-cache residency at the range's end.
pub struct ResidencyRow {
    pub log_dir: String,
    pub partition: String,
    pub log_bytes: String,
    pub segments: String,
    pub active: String,
    pub recent: String,
    pub dirty: String,
    pub cold: String,
    cold_bytes: f64,
    /// `critical` when less than half of the active segment is cached.
    pub class: &'static str,
}

/// The latest residency scan of the host's log dirs.
pub struct Residency {
    pub method: String,
    pub files: String,
    pub took: String,
    pub errors: String,
    pub truncated: bool,
    pub rows: Vec<ResidencyRow>,
    /// Partitions not shown (the table keeps the coldest 200).
    pub more: usize,
}

/// A consumer group whose committed offset lies in segments that are not in the page cache.
pub struct ColdRow {
    pub group: String,
    pub partition: String,
    pub offset: String,
    pub lag: String,
    /// Bytes from the committed offset to the log's end that are not cached.
    pub cold: String,
    cold_bytes: f64,
    pub link: String,
}

/// Which lagging groups read cold data on this host: the latest residency scan (kept by the
/// server's own host reader as the `log_residency` document) joined with the kafka source's
/// committed offsets.
pub enum ColdReaders {
    /// No residency scan document for this host (agents and node_exporter do not send one).
    NoScan,
    /// The scan, but no committed offsets of its partitions in this cluster.
    NoGroups,
    /// Only the latest scan is kept, and it was not taken at the range's end: showing it would
    /// state the present as the past (a permalink to an ended window).
    NotAtRangeEnd {
        scanned: String,
    },
    Rows(Vec<ColdRow>),
}

#[derive(Template)]
#[template(path = "host/show.html")]
pub struct HostPage {
    pub page: PageCtx,
    pub host: HostId,
    pub facts: Vec<(String, String)>,
    pub panels: Vec<PanelChart>,
    pub filesystems: Vec<FsRow>,
    pub cachestat: CacheStat,
    pub residency: Option<Residency>,
    pub cold_readers: ColdReaders,
    pub open_all: bool,
    pub groups: Vec<Group>,
    pub events: Vec<EventRow>,
    pub series_count: usize,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, instance)): Path<(String, String)>,
    PageQuery(q): PageQuery<EntityQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let open_all = q.open_all()?;
    require_cluster(&ctx, &cluster)?;
    let host = hosts(&ctx, Some(&cluster))
        .into_iter()
        .find(|h| h.instance == instance)
        .ok_or_else(|| {
            WebError::NotFound(format!(
                "Cluster {cluster:?} has no host {instance:?} (a host is a target writing node_exporter's series)."
            ))
        })?;
    let sel = host.selector();
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    let own: Vec<_> = events
        .iter()
        .filter(|e| {
            e.event.subject == host.instance
                || e.event.subject.starts_with(&format!("{}:", host.instance))
        })
        .cloned()
        .collect();
    let marks = event_marks(&own);

    let mut panels = Vec::with_capacity(PANELS.len() + 1);
    // The broker on this host, by host name: `broker-1:7071` for host `broker-1:9100`.
    let host_name = host
        .instance
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host.instance.as_str(), |(h, _)| h);
    let host_re = format!("{}(:[0-9]+)?", regex_escape(host_name));
    let cluster_q = host.cluster.replace('\\', "\\\\").replace('"', "\\\"");
    panels.push(PanelChart {
        chart: super::COLD_READS
            .chart_with(
                &ctx,
                &sel,
                &[
                    ("{host}", &host_re.replace('\\', "\\\\")),
                    ("{cluster}", &cluster_q),
                ],
                &range,
                (SMALL_W, SMALL_H),
                &marks,
            )
            .await?,
        help: super::COLD_READS.help,
    });
    for p in PANELS {
        panels.push(PanelChart {
            chart: p
                .chart(&ctx, &sel, &range, (SMALL_W, SMALL_H), &marks)
                .await?,
            help: p.help,
        });
    }
    let filesystems = filesystems(&ctx, &sel, &range).await?;
    let cachestat = cachestat(&ctx, &sel, &range).await?;
    let residency = residency(&ctx, &sel, &range).await?;
    let cold_readers = cold_readers(&ctx, &host, &range).await?;
    let facts = facts(&ctx, &host, &sel, &range).await?;

    let infos = ctx.store.select(
        None,
        &[
            Matcher::eq("cluster", &host.cluster),
            Matcher::eq("job", &host.job),
            Matcher::eq("instance", &host.instance),
        ],
    );
    let series_count = infos.len();
    let labels = [
        ("cluster", host.cluster.as_str()),
        ("job", host.job.as_str()),
        ("instance", host.instance.as_str()),
    ];
    let planner::PrefixGroups { groups, .. } = planner::prefix_groups(
        &ctx,
        infos,
        planner::PrefixLayout {
            key_group: "Key",
            key: &[],
            states: &[],
            own_labels: &["cluster", "job", "instance"],
        },
        &range,
        &marks,
        &labels,
        open_all,
    )
    .await?;
    let page = HostPage {
        page: PageCtx::new(
            &ctx,
            format!("{} · {}", host.instance, host.cluster),
            "hosts",
            host.path(),
            range.clone(),
        )
        .in_cluster(&host.cluster)
        .keep("open", if open_all { "all" } else { "" }),
        host,
        facts,
        panels,
        filesystems,
        cachestat,
        residency,
        cold_readers,
        open_all,
        groups,
        events: own.iter().take(30).map(EventRow::new).collect(),
        series_count,
    };
    Ok(Html(page.render()?))
}

async fn value(ctx: &Ctx, q: &str, at: i64) -> WebResult<Option<f64>> {
    Ok(instant(ctx, q, at)
        .await?
        .first()
        .and_then(|s| s.values.first().copied().flatten())
        .filter(|v| v.is_finite()))
}

async fn facts(
    ctx: &Ctx,
    host: &HostId,
    sel: &str,
    range: &crate::web::timerange::TimeRange,
) -> WebResult<Vec<(String, String)>> {
    let bytes = ValueFormat {
        unit: crate::catalogue::Unit::Bytes,
        per_second: false,
    };
    let mut out = vec![
        ("Read by".to_string(), host.via().to_string()),
        ("job".to_string(), host.job.clone()),
    ];
    if let Some(v) = value(
        ctx,
        &format!("node_memory_MemTotal_bytes{{{sel}}}"),
        range.to,
    )
    .await?
    {
        out.push(("Memory".into(), bytes.format(v)));
    }
    if let Some(v) = value(
        ctx,
        &format!("count(node_cpu_seconds_total{{{sel},mode=\"idle\"}})"),
        range.to,
    )
    .await?
    {
        out.push(("CPUs".into(), format_number(v)));
    }
    if let Some(v) = value(ctx, &format!("node_boot_time_seconds{{{sel}}}"), range.to).await? {
        out.push((
            "Booted".into(),
            crate::web::format::utc((v * 1000.0) as i64),
        ));
    }
    Ok(out)
}

/// The host's file systems at the range's end, with a least-squares trend of the space
/// available over the range and the days until it runs out at that pace.
///
/// Over a range shorter than Kafka's retention the trend is the growth before retention starts
/// deleting; over longer ranges a log dir's sawtooth flattens it. The forecast says which.
async fn filesystems(
    ctx: &Ctx,
    sel: &str,
    range: &crate::web::timerange::TimeRange,
) -> WebResult<Vec<FsRow>> {
    let size = instant(
        ctx,
        &format!("node_filesystem_size_bytes{{{sel}}}"),
        range.to,
    )
    .await?;
    let avail = instant(
        ctx,
        &format!("node_filesystem_avail_bytes{{{sel}}}"),
        range.to,
    )
    .await?;
    // The available space over the range, for a least-squares trend per file system.
    let step = crate::web::pages::chart_step(ctx, range, 240);
    let history = crate::web::panels::query_series(
        ctx,
        &format!("node_filesystem_avail_bytes{{{sel}}}"),
        range,
        step,
    )
    .await?;
    let dirs = instant(ctx, &format!("kafkascope_log_dir_info{{{sel}}}"), range.to).await?;
    let bytes = ValueFormat {
        unit: crate::catalogue::Unit::Bytes,
        per_second: false,
    };
    let mut rows = Vec::new();
    for s in &size {
        let Some(mp) = s.labels.get("mountpoint") else {
            continue;
        };
        let Some(sz) = s.values.first().copied().flatten().filter(|v| *v > 0.0) else {
            continue;
        };
        let find = |v: &[crate::query::SeriesValues]| {
            v.iter()
                .find(|x| x.labels.get("mountpoint") == Some(mp))
                .and_then(|x| x.values.first().copied().flatten())
                .filter(|v| v.is_finite())
        };
        let Some(av) = find(&avail) else { continue };
        let used = (sz - av) / sz;
        let points: Vec<(i64, f64)> = history
            .iter()
            .find(|(s, _)| s.labels.get("mountpoint") == Some(mp))
            .map(|(_, d)| d.points.iter().map(|p| (p.ts + d.step_ms, p.avg)).collect())
            .unwrap_or_default();
        let (trend, forecast) =
            match trend::forecast(&points, MIN_FORECAST_SPAN_MS, MIN_FORECAST_R2) {
                trend::Forecast::TooShort { span_ms } => (
                    "–".into(),
                    format!(
                        "no forecast: {} of history in the range, at least an hour is needed",
                        crate::duration::format_duration(std::time::Duration::from_millis(
                            span_ms.max(0) as u64
                        ))
                    ),
                ),
                trend::Forecast::PoorFit { r2 } => (
                    "–".into(),
                    format!(
                        "no forecast: no steady trend (fit r² {r2:.2}, below {MIN_FORECAST_R2})"
                    ),
                ),
                trend::Forecast::Fit(f) => {
                    let d = f.per_day();
                    let shown = format!(
                        "{}{} / day (r² {:.2})",
                        if d >= 0.0 { "+" } else { "−" },
                        bytes.format(d.abs()),
                        f.r2
                    );
                    match f.reaches(0.0, range.to) {
                        Some(t) => (
                            shown,
                            format!(
                                "full in {} at this pace",
                                days_text((t - range.to) as f64 / 86_400_000.0)
                            ),
                        ),
                        None => (shown, "not filling".into()),
                    }
                }
            };
        rows.push(FsRow {
            mountpoint: mp.to_string(),
            device: s.labels.get("device").unwrap_or("").to_string(),
            log_dirs: dirs
                .iter()
                .filter(|d| d.labels.get("mountpoint") == Some(mp))
                .filter_map(|d| d.labels.get("log_dir").map(str::to_string))
                .collect(),
            size: bytes.format(sz),
            avail: bytes.format(av),
            used_pct: (used * 1000.0).round() / 10.0,
            used: format!("{:.1} %", used * 100.0),
            trend,
            forecast,
            class: if used >= 0.9 {
                "critical"
            } else if used >= 0.8 {
                "warning"
            } else {
                "ok"
            },
        });
    }
    // Log dirs first, then the fullest.
    rows.sort_by(|a, b| {
        b.log_dirs
            .is_empty()
            .cmp(&a.log_dirs.is_empty())
            .reverse()
            .then(b.used_pct.total_cmp(&a.used_pct))
    });
    Ok(rows)
}

/// cachestat's table for the last ten minutes of the range, a row per minute (as
/// `cachestat 60` prints it), from the stored counters and meminfo.
async fn cachestat(
    ctx: &Ctx,
    sel: &str,
    range: &crate::web::timerange::TimeRange,
) -> WebResult<CacheStat> {
    let info = instant(
        ctx,
        &format!("kafkascope_cachestat_info{{{sel}}}"),
        range.to,
    )
    .await?;
    let (state, detail) = match info.first() {
        None => (String::new(), String::new()),
        Some(i) => {
            let state = i.labels.get("state").unwrap_or("").to_string();
            let detail = match state.as_str() {
                "counting" => format!(
                    "counting calls of {} through tracefs' function profiler",
                    i.labels.get("functions").unwrap_or("")
                ),
                _ => i.labels.get("reason").unwrap_or("").to_string(),
            };
            (state, detail)
        }
    };
    let mut rows = Vec::new();
    if state == "counting" {
        let step = 60_000;
        let start = range.to - 9 * step;
        let col = |q: String| async move {
            let r = crate::query::eval_range(
                &ctx.store,
                &q,
                start,
                range.to,
                step,
                &crate::query::Limits::default(),
            )
            .await
            .map_err(crate::web::panels::query_error)?;
            let times = r.times.clone();
            let values = r
                .into_series()
                .into_iter()
                .next()
                .map(|s| s.values)
                .unwrap_or_default();
            WebResult::Ok((times, values))
        };
        let (times, hits) = col(format!(
            "sum(increase(kafkascope_cachestat_hits_total{{{sel}}}[60s]))"
        ))
        .await?;
        let (_, misses) = col(format!(
            "sum(increase(kafkascope_cachestat_misses_total{{{sel}}}[60s]))"
        ))
        .await?;
        let (_, dirties) = col(format!(
            "sum(increase(kafkascope_cachestat_dirties_total{{{sel}}}[60s]))"
        ))
        .await?;
        let (_, buffers) = col(format!("node_memory_Buffers_bytes{{{sel}}}")).await?;
        let (_, cached) = col(format!("node_memory_Cached_bytes{{{sel}}}")).await?;
        let at = |v: &[Option<f64>], i: usize| v.get(i).copied().flatten();
        let n = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.0}", v.round()));
        let mb = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.0}", v / 1048576.0));
        for (i, t) in times.iter().enumerate() {
            let (h, m) = (at(&hits, i), at(&misses, i));
            let ratio = match (h, m) {
                (Some(h), Some(m)) if h + m > 0.0 => format!("{:.1} %", 100.0 * h / (h + m)),
                _ => "–".into(),
            };
            rows.push(CacheRow {
                time: crate::web::format::utc(*t),
                hits: n(h),
                misses: n(m),
                dirties: n(at(&dirties, i)),
                ratio,
                buffers_mb: mb(at(&buffers, i)),
                cache_mb: mb(at(&cached, i)),
            });
        }
    }
    Ok(CacheStat {
        state,
        detail,
        rows,
    })
}

/// The host's latest residency scan, the partitions with the most bytes out of the cache first.
async fn residency(
    ctx: &Ctx,
    sel: &str,
    range: &crate::web::timerange::TimeRange,
) -> WebResult<Option<Residency>> {
    let info = instant(
        ctx,
        &format!("kafkascope_log_residency_info{{{sel}}}"),
        range.to,
    )
    .await?;
    let Some(method) = info
        .first()
        .and_then(|i| i.labels.get("method"))
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let one = |name: &'static str| async move {
        WebResult::Ok(
            instant(ctx, &format!("{name}{{{sel}}}"), range.to)
                .await?
                .first()
                .and_then(|s| s.values.first().copied().flatten()),
        )
    };
    let files = one("kafkascope_log_residency_files").await?;
    let took = one("kafkascope_log_residency_seconds").await?;
    let errors = one("kafkascope_log_residency_errors").await?;
    let truncated = one("kafkascope_log_residency_truncated").await?;
    type Key = (String, String, String);
    let key = |l: &crate::model::Labels| -> Key {
        let g = |k| l.get(k).unwrap_or("").to_string();
        (g("log_dir"), g("topic"), g("partition"))
    };
    let by_key = |v: Vec<crate::query::SeriesValues>, segments: Option<&str>| {
        v.into_iter()
            .filter(|s| segments.is_none_or(|w| s.labels.get("segments") == Some(w)))
            .filter_map(|s| Some((key(&s.labels), s.values.first().copied().flatten()?)))
            .collect::<std::collections::HashMap<Key, f64>>()
    };
    let q = |name: &str| format!("{name}{{{sel}}}");
    let sizes = by_key(
        instant(ctx, &q("kafkascope_log_partition_bytes"), range.to).await?,
        None,
    );
    let segs = by_key(
        instant(ctx, &q("kafkascope_log_partition_segments"), range.to).await?,
        None,
    );
    let cold = by_key(
        instant(ctx, &q("kafkascope_log_partition_cold_bytes"), range.to).await?,
        None,
    );
    let seg_bytes = instant(ctx, &q("kafkascope_log_segment_bytes"), range.to).await?;
    let seg_cached = instant(ctx, &q("kafkascope_log_segment_cached_bytes"), range.to).await?;
    let seg_dirty = instant(ctx, &q("kafkascope_log_segment_dirty_bytes"), range.to).await?;
    let (ab, rb) = (
        by_key(seg_bytes.clone(), Some("active")),
        by_key(seg_bytes, Some("recent")),
    );
    let (ac, rc) = (
        by_key(seg_cached.clone(), Some("active")),
        by_key(seg_cached, Some("recent")),
    );
    let dirty = by_key(seg_dirty, Some("active"));
    let bytes = ValueFormat {
        unit: crate::catalogue::Unit::Bytes,
        per_second: false,
    };
    let pct = |c: Option<&f64>, b: Option<&f64>| match (c, b) {
        (Some(c), Some(b)) if *b > 0.0 => Some(c / b),
        (Some(_), Some(_)) => Some(1.0),
        _ => None,
    };
    let mut rows: Vec<ResidencyRow> = sizes
        .iter()
        .map(|(k, size)| {
            let active = pct(ac.get(k), ab.get(k));
            let recent = pct(rc.get(k), rb.get(k));
            let cold_b = cold.get(k).copied().unwrap_or(0.0);
            ResidencyRow {
                log_dir: k.0.clone(),
                partition: format!("{}-{}", k.1, k.2),
                log_bytes: bytes.format(*size),
                segments: segs.get(k).map_or("–".into(), |v| format!("{v:.0}")),
                active: active.map_or("not scanned".into(), |v| format!("{:.0} %", v * 100.0)),
                recent: recent.map_or("–".into(), |v| format!("{:.0} %", v * 100.0)),
                dirty: dirty.get(k).map_or("–".into(), |v| bytes.format(*v)),
                cold: bytes.format(cold_b),
                cold_bytes: cold_b,
                class: if active.is_some_and(|a| a < 0.5) {
                    "critical"
                } else {
                    "ok"
                },
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.cold_bytes
            .total_cmp(&a.cold_bytes)
            .then(a.partition.cmp(&b.partition))
    });
    let more = rows.len().saturating_sub(200);
    rows.truncate(200);
    Ok(Some(Residency {
        method: if method == "cachestat" {
            "cachestat(2): cached, dirty and writeback pages".into()
        } else {
            "mmap + mincore: cached pages only (this kernel has no cachestat(2))".into()
        },
        files: files.map_or("–".into(), |v| format!("{v:.0}")),
        took: took.map_or("–".into(), |v| format!("{:.1} ms", v * 1000.0)),
        errors: errors.map_or("–".into(), |v| format!("{v:.0}")),
        truncated: truncated.is_some_and(|v| v > 0.0),
        rows,
        more,
    }))
}

async fn cold_readers(
    ctx: &Ctx,
    host: &HostId,
    range: &crate::web::timerange::TimeRange,
) -> WebResult<ColdReaders> {
    use crate::sources::host::residency::ScanReport;
    let docs = ctx
        .store
        .documents(&host.cluster, &host.instance)
        .await
        .map_err(|e| WebError::Store(e.to_string()))?;
    let Some((scanned_at, report)) = docs
        .iter()
        .find(|(name, _, _)| name == "log_residency")
        .and_then(|(_, ts, body)| Some((*ts, serde_json::from_str::<ScanReport>(body).ok()?)))
    else {
        return Ok(ColdReaders::NoScan);
    };
    // The scan must describe the range's end: taken within the 10 minutes before it (or a minute
    // after, the scrape in flight).
    if scanned_at > range.to + 60_000 || scanned_at < range.to - 600_000 {
        return Ok(ColdReaders::NotAtRangeEnd {
            scanned: crate::web::format::utc(scanned_at),
        });
    }
    let c = format!(
        "cluster=\"{}\"",
        host.cluster.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let committed = instant(
        ctx,
        &format!("kafka_consumergroup_current_offset{{{c}}}"),
        range.to,
    )
    .await?;
    let lags = instant(ctx, &format!("kafka_consumergroup_lag{{{c}}}"), range.to).await?;
    let key = |l: &crate::model::Labels| {
        (
            l.get("consumergroup").unwrap_or("").to_string(),
            l.get("topic").unwrap_or("").to_string(),
            l.get("partition").unwrap_or("").to_string(),
        )
    };
    let lag: std::collections::HashMap<_, f64> = lags
        .iter()
        .filter_map(|s| Some((key(&s.labels), s.values.first().copied().flatten()?)))
        .collect();
    let bytes = ValueFormat {
        unit: crate::catalogue::Unit::Bytes,
        per_second: false,
    };
    let mut rows = Vec::new();
    let mut any = false;
    for s in &committed {
        let k = key(&s.labels);
        let Some(offset) = s.values.first().copied().flatten().filter(|v| *v >= 0.0) else {
            continue;
        };
        let Some(p) = report
            .partitions
            .iter()
            .find(|p| p.topic == k.1 && p.partition.to_string() == k.2)
        else {
            continue;
        };
        any = true;
        let (cold, cold_bytes) = match p.cold_bytes_from(offset as u64) {
            Some(0) => continue,
            Some(b) => (bytes.format(b as f64), b as f64),
            None => (
                "unknown: the offset is in segments the scan did not check".into(),
                f64::MAX,
            ),
        };
        rows.push(ColdRow {
            link: format!(
                "/consumers/{}/{}",
                crate::web::format::urlencode(&host.cluster),
                crate::web::format::urlencode(&k.0)
            ),
            lag: lag.get(&k).map_or("–".into(), |v| format!("{v:.0}")),
            offset: format!("{offset:.0}"),
            partition: format!("{}-{}", k.1, k.2),
            group: k.0,
            cold,
            cold_bytes,
        });
    }
    if !any {
        return Ok(ColdReaders::NoGroups);
    }
    rows.sort_by(|a, b| b.cold_bytes.total_cmp(&a.cold_bytes));
    Ok(ColdReaders::Rows(rows))
}

/// A regex matching `s` literally (RE2 syntax, as PromQL's `=~`).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A forecast needs at least an hour of history and a line that fits (r² ≥ 0.5).
const MIN_FORECAST_SPAN_MS: i64 = 3_600_000;
const MIN_FORECAST_R2: f64 = 0.5;

fn days_text(days: f64) -> String {
    if days < 1.0 {
        format!("{:.0} hours", (days * 24.0).max(0.0))
    } else if days < 1000.0 {
        format!("{days:.0} days")
    } else {
        "more than 1,000 days".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forecasts_read_in_hours_days_or_never() {
        assert_eq!(days_text(0.25), "6 hours");
        assert_eq!(days_text(12.4), "12 days");
        assert_eq!(days_text(5000.0), "more than 1,000 days");
    }
}
