//! `/hosts`: a row per host at the end of the range, with how far it is from the other hosts.

use super::{HostId, hosts};
use crate::catalogue::Unit;
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::format::ValueFormat;
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::{RangeQuery, chart_step};
use crate::web::panels::{instant, query_series, spark};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::HashMap;

/// One cell: its value at the range's end, shown formatted, and how it compares.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub value: Option<f64>,
    pub text: String,
    /// This host is the column's maximum and at least 1.5× the column's average.
    pub outlier: bool,
}

pub struct Row {
    pub host: HostId,
    pub cpu: Cell,
    pub mem_avail: Cell,
    pub cached: Cell,
    pub hit_ratio: Cell,
    pub dirty: Cell,
    pub disk_read: Cell,
    pub disk_write: Cell,
    pub net_rx: Cell,
    pub net_tx: Cell,
    pub fill: Cell,
    pub cpu_spark: Option<Sparkline>,
    pub read_spark: Option<Sparkline>,
    /// The biggest ratio of this host's value to the hosts' average over the load columns.
    pub skew: String,
    /// No MemTotal sample within 5 minutes of the range's end.
    pub stale: bool,
}

/// A column of the table: its query (grouped by host) and its unit.
struct Column {
    query: &'static str,
    format: ValueFormat,
}

const BY: &str = "cluster, job, instance";

fn columns() -> [Column; 10] {
    let f = |unit, per_second| ValueFormat { unit, per_second };
    [
        Column {
            query: "1 - avg by ({by}) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))",
            format: f(Unit::Ratio, false),
        },
        Column {
            query: "max by ({by}) (node_memory_MemAvailable_bytes)",
            format: f(Unit::Bytes, false),
        },
        Column {
            query: "max by ({by}) (node_memory_Cached_bytes)",
            format: f(Unit::Bytes, false),
        },
        Column {
            query: "sum by ({by}) (rate(kafkascope_cachestat_hits_total[5m])) / (sum by ({by}) (rate(kafkascope_cachestat_hits_total[5m])) + sum by ({by}) (rate(kafkascope_cachestat_misses_total[5m])))",
            format: f(Unit::Ratio, false),
        },
        Column {
            query: "max by ({by}) (node_memory_Dirty_bytes)",
            format: f(Unit::Bytes, false),
        },
        Column {
            query: "sum by ({by}) (rate(node_disk_read_bytes_total[5m]))",
            format: f(Unit::Bytes, true),
        },
        Column {
            query: "sum by ({by}) (rate(node_disk_written_bytes_total[5m]))",
            format: f(Unit::Bytes, true),
        },
        Column {
            query: "sum by ({by}) (rate(node_network_receive_bytes_total{device!=\"lo\"}[5m]))",
            format: f(Unit::Bytes, true),
        },
        Column {
            query: "sum by ({by}) (rate(node_network_transmit_bytes_total{device!=\"lo\"}[5m]))",
            format: f(Unit::Bytes, true),
        },
        // Kafka's log dirs when the host reader or agent says which mounts hold them, else
        // the fullest file system of the host.
        Column {
            query: "max by ({by}) ((1 - node_filesystem_avail_bytes / node_filesystem_size_bytes) * on (cluster, job, instance, mountpoint) group_left max by (cluster, job, instance, mountpoint) (kafkascope_log_dir_info)) or max by ({by}) (1 - node_filesystem_avail_bytes / node_filesystem_size_bytes)",
            format: f(Unit::Ratio, false),
        },
    ]
}

fn key_of(labels: &crate::model::Labels) -> (String, String, String) {
    let g = |k| labels.get(k).unwrap_or("").to_string();
    (g("cluster"), g("job"), g("instance"))
}

/// The rows of every host (of one cluster when given).
pub async fn rows(ctx: &Ctx, cluster: Option<&str>, range: &TimeRange) -> WebResult<Vec<Row>> {
    let hosts = hosts(ctx, cluster);
    if hosts.is_empty() {
        return Ok(vec![]);
    }
    let cols = columns();
    let mut values: Vec<HashMap<(String, String, String), f64>> = Vec::new();
    for c in &cols {
        let text = c.query.replace("{by}", BY);
        let out = instant(ctx, &text, range.to).await?;
        values.push(
            out.into_iter()
                .filter_map(|s| {
                    let v = s.values.first().copied().flatten()?;
                    v.is_finite().then(|| (key_of(&s.labels), v))
                })
                .collect(),
        );
    }
    // Sparklines of CPU busy and disk reads over the range.
    let step = chart_step(ctx, range, 48);
    let w = crate::web::panels::rate_window(step) / 1000;
    let mut sparks = Vec::new();
    for (i, q) in [
        format!("1 - avg by ({BY}) (rate(node_cpu_seconds_total{{mode=\"idle\"}}[{w}s]))"),
        format!("sum by ({BY}) (rate(node_disk_read_bytes_total[{w}s]))"),
    ]
    .into_iter()
    .enumerate()
    {
        let fmt = cols[if i == 0 { 0 } else { 5 }].format;
        let link = metric_link(&q, range);
        let got: HashMap<_, _> = query_series(ctx, &q, range, step)
            .await?
            .into_iter()
            .map(|(s, d)| (key_of(&s.labels), spark(&d, range, fmt, link.clone())))
            .collect();
        sparks.push(got);
    }
    // A host whose MemTotal has no sample within 5 minutes of the end is stale.
    let lookback = 5 * 60_000;
    let ids: Vec<_> = hosts
        .iter()
        .map(|h| {
            ctx.store
                .select(
                    Some("node_memory_MemTotal_bytes"),
                    &[
                        crate::model::Matcher::eq("cluster", &h.cluster),
                        crate::model::Matcher::eq("job", &h.job),
                        crate::model::Matcher::eq("instance", &h.instance),
                    ],
                )
                .first()
                .map(|i| i.id)
        })
        .collect();
    let present: Vec<_> = ids.iter().flatten().copied().collect();
    let fresh = ctx
        .store
        .value_at(&present, range.to, lookback)
        .await
        .map_err(|e| crate::web::error::WebError::Store(e.to_string()))?;
    let fresh: HashMap<_, bool> = present
        .iter()
        .zip(fresh.iter())
        .map(|(id, v)| (*id, v.is_some()))
        .collect();
    let mut rows: Vec<Row> = hosts
        .into_iter()
        .enumerate()
        .map(|(i, host)| {
            let k = (
                host.cluster.clone(),
                host.job.clone(),
                host.instance.clone(),
            );
            let cell = |c: usize| {
                let v = values[c].get(&k).copied();
                Cell {
                    value: v,
                    text: v
                        .map(|v| cols[c].format.format(v))
                        .unwrap_or_else(|| "–".into()),
                    outlier: false,
                }
            };
            Row {
                cpu: cell(0),
                mem_avail: cell(1),
                cached: cell(2),
                hit_ratio: cell(3),
                dirty: cell(4),
                disk_read: cell(5),
                disk_write: cell(6),
                net_rx: cell(7),
                net_tx: cell(8),
                fill: cell(9),
                cpu_spark: sparks[0].get(&k).cloned(),
                read_spark: sparks[1].get(&k).cloned(),
                skew: String::new(),
                stale: !ids[i]
                    .and_then(|id| fresh.get(&id).copied())
                    .unwrap_or(false),
                host,
            }
        })
        .collect();
    mark_skew(&mut rows);
    Ok(rows)
}

/// Marks each load column's outlier (its maximum when ≥ 1.5× the average of the hosts) and
/// names each host's largest ratio to the average.
fn mark_skew(rows: &mut [Row]) {
    if rows.len() < 2 {
        return;
    }
    type Get = fn(&mut Row) -> &mut Cell;
    let cols: [(&str, Get); 6] = [
        ("CPU", |r| &mut r.cpu),
        ("disk read", |r| &mut r.disk_read),
        ("disk write", |r| &mut r.disk_write),
        ("net in", |r| &mut r.net_rx),
        ("net out", |r| &mut r.net_tx),
        ("dirty", |r| &mut r.dirty),
    ];
    let mut best: Vec<(f64, &str)> = vec![(0.0, ""); rows.len()];
    for (name, get) in cols {
        let vals: Vec<Option<f64>> = rows.iter_mut().map(|r| get(r).value).collect();
        let present: Vec<f64> = vals.iter().flatten().copied().collect();
        if present.len() < 2 {
            continue;
        }
        let avg = present.iter().sum::<f64>() / present.len() as f64;
        if avg <= 0.0 {
            continue;
        }
        let max = present.iter().copied().fold(f64::MIN, f64::max);
        for (i, v) in vals.iter().enumerate() {
            let Some(v) = v else { continue };
            let ratio = v / avg;
            if ratio > best[i].0 {
                best[i] = (ratio, name);
            }
            if *v == max && ratio >= 1.5 {
                get(&mut rows[i]).outlier = true;
            }
        }
    }
    for (r, (ratio, name)) in rows.iter_mut().zip(best) {
        if !name.is_empty() {
            r.skew = format!("{name} {ratio:.1}× avg");
        }
    }
}

#[derive(Template)]
#[template(path = "host/list.html")]
pub struct ListPage {
    pub page: PageCtx,
    pub rows: Vec<Row>,
}

pub(crate) async fn list(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let rows = rows(&ctx, None, &range).await?;
    crate::web::export::offer_table("hosts", || {
        use crate::web::export::{Cell as C, Table};
        let mut t = Table::new(
            "hosts",
            vec![
                "cluster",
                "host",
                "job",
                "cpu_busy_ratio",
                "memory_available_bytes",
                "page_cache_bytes",
                "cache_hit_ratio",
                "dirty_bytes",
                "disk_read_bytes_per_second",
                "disk_write_bytes_per_second",
                "net_in_bytes_per_second",
                "net_out_bytes_per_second",
                "log_dir_fill_ratio",
                "skew",
                "stale",
            ],
        );
        for r in &rows {
            t.row(vec![
                r.host.cluster.as_str().into(),
                r.host.instance.as_str().into(),
                r.host.job.as_str().into(),
                C::from(r.cpu.value),
                C::from(r.mem_avail.value),
                C::from(r.cached.value),
                C::from(r.hit_ratio.value),
                C::from(r.dirty.value),
                C::from(r.disk_read.value),
                C::from(r.disk_write.value),
                C::from(r.net_rx.value),
                C::from(r.net_tx.value),
                C::from(r.fill.value),
                r.skew.as_str().into(),
                (if r.stale { "stale" } else { "" }).into(),
            ]);
        }
        t
    });
    let page = ListPage {
        page: PageCtx::new(&ctx, "Hosts", "hosts", "/hosts", range),
        rows,
    };
    Ok(Html(page.render()?))
}
