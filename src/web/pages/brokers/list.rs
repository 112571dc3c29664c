//! `/brokers`: a row per broker at the end of the range, each value with its sparkline over the
//! range, how far each broker is from the others of its cluster (the skew), under a health line
//! per cluster.

use super::{BROKER_JOB, BrokerId, CORE, ClusterHealth, Voter, brokers, q, voter_text, voters};
use crate::catalogue::Unit;
use crate::model::Matcher;
use crate::store::SeriesId;
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::chart::{ChartPoint, SeriesData};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::ValueFormat;
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::{
    RangeQuery, chart_step, fetch_ranges_points, require_cluster, series_data,
};
use crate::web::panels::{instant, rate_window};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::HashMap;

/// How a column's skew is read: the busiest broker stands out (`Load`), the least idle one
/// (`Idle`: skew of `1 − idle`), or not at all (counts where any non-zero value is the news).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skew {
    Load,
    Idle,
    Not,
}

/// A column of the table: its query (`{f}`: the brokers' matchers, `{w}`: the rate window),
/// grouped by broker, and its unit.
pub struct Column {
    pub key: &'static str,
    pub title: &'static str,
    query: &'static str,
    pub format: ValueFormat,
    pub skew: Skew,
    /// The stored series its sparkline draws (summed when several match, a counter as its
    /// rate): the metric and label values besides the broker's (`""`: the label is absent).
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
}

const BY: &str = "cluster, instance";

#[allow(clippy::too_many_arguments)]
const fn col(
    key: &'static str,
    title: &'static str,
    query: &'static str,
    unit: Unit,
    per_second: bool,
    skew: Skew,
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
) -> Column {
    Column {
        key,
        title,
        query,
        format: ValueFormat { unit, per_second },
        skew,
        metric,
        labels,
    }
}

/// The all-topics `BrokerTopicMetrics` bean: no `topic` label.
const ALL_TOPICS: &[(&str, &str)] = &[("topic", "")];

/// The columns, in order. Values are at the range's end (rates over the last 5 minutes).
pub const COLUMNS: [Column; 12] = [
    col(
        "bytes_in",
        "Bytes in",
        "sum by ({by}) (rate(kafka_server_brokertopicmetrics_bytesin_total{{f},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
        Skew::Load,
        "kafka_server_brokertopicmetrics_bytesin_total",
        ALL_TOPICS,
    ),
    col(
        "bytes_out",
        "Bytes out",
        "sum by ({by}) (rate(kafka_server_brokertopicmetrics_bytesout_total{{f},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
        Skew::Load,
        "kafka_server_brokertopicmetrics_bytesout_total",
        ALL_TOPICS,
    ),
    col(
        "messages_in",
        "Messages in",
        "sum by ({by}) (rate(kafka_server_brokertopicmetrics_messagesin_total{{f},topic=\"\"}[{w}]))",
        Unit::None,
        true,
        Skew::Load,
        "kafka_server_brokertopicmetrics_messagesin_total",
        ALL_TOPICS,
    ),
    col(
        "handler_idle",
        "Request handler idle",
        "max by ({by}) (kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent{{f}})",
        Unit::Ratio,
        false,
        Skew::Idle,
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
        &[],
    ),
    col(
        "network_idle",
        "Network processor idle",
        "max by ({by}) (kafka_network_socketserver_networkprocessoravgidlepercent{{f}})",
        Unit::Ratio,
        false,
        Skew::Idle,
        "kafka_network_socketserver_networkprocessoravgidlepercent",
        &[],
    ),
    col(
        "urp",
        "Under-replicated",
        "max by ({by}) (kafka_server_replicamanager_underreplicatedpartitions{{f}})",
        Unit::None,
        false,
        Skew::Not,
        "kafka_server_replicamanager_underreplicatedpartitions",
        &[],
    ),
    col(
        "offline",
        "Offline partitions",
        "max by ({by}) (kafka_controller_kafkacontroller_offlinepartitionscount{{f}})",
        Unit::None,
        false,
        Skew::Not,
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        &[],
    ),
    col(
        "partitions",
        "Partitions",
        "max by ({by}) (kafka_server_replicamanager_partitioncount{{f}})",
        Unit::None,
        false,
        Skew::Load,
        "kafka_server_replicamanager_partitioncount",
        &[],
    ),
    col(
        "leaders",
        "Leaders",
        "max by ({by}) (kafka_server_replicamanager_leadercount{{f}})",
        Unit::None,
        false,
        Skew::Load,
        "kafka_server_replicamanager_leadercount",
        &[],
    ),
    col(
        "controller",
        "Active controller",
        "max by ({by}) (kafka_controller_kafkacontroller_activecontrollercount{{f}})",
        Unit::None,
        false,
        Skew::Not,
        "kafka_controller_kafkacontroller_activecontrollercount",
        &[],
    ),
    col(
        "heap",
        "Heap used",
        "sum by ({by}) (jvm_memory_bytes_used{{f},area=\"heap\"})",
        Unit::Bytes,
        false,
        Skew::Load,
        "jvm_memory_bytes_used",
        &[("area", "heap")],
    ),
    col(
        "gc",
        "GC time",
        "sum by ({by}) (rate(jvm_gc_collection_seconds_sum{{f}}[{w}]))",
        Unit::Ratio,
        false,
        Skew::Load,
        "jvm_gc_collection_seconds_sum",
        &[],
    ),
];

const URP: usize = 5;
const OFFLINE: usize = 6;
const CONTROLLER: usize = 9;

impl Column {
    /// The query over the brokers matched by `f`, with a rate window of `w_s` seconds.
    pub fn text(&self, f: &str, w_s: i64) -> String {
        self.query
            .replace("{by}", BY)
            .replace("{f}", f)
            .replace("{w}", &format!("{w_s}s"))
    }
}

/// One cell: its value at the range's end, shown formatted, its sparkline and how it compares.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub value: Option<f64>,
    pub text: String,
    /// The broker stands out in this column (see [`mark_skew`]).
    pub outlier: bool,
    /// `critical`/`warning` for counts that must be zero (URP, offline partitions).
    pub class: &'static str,
    pub spark: Option<Sparkline>,
}

pub struct Row {
    pub broker: BrokerId,
    pub cells: Vec<Cell>,
    /// This broker's largest ratio to its cluster's average over the skew columns, and which.
    pub skew: Option<f64>,
    pub skew_text: String,
    /// No sample of its core series within 5 minutes of the range's end.
    pub stale: bool,
    /// Its last JMX scrape failed (`up{source="jmx"} == 0`).
    pub down: bool,
    /// Whether an `up` series says how its scrapes went.
    pub scraped: bool,
}

fn key_of(labels: &crate::model::Labels) -> (String, String) {
    let g = |k| labels.get(k).unwrap_or("").to_string();
    (g("cluster"), g("instance"))
}

/// The brokers' matchers for `{f}`.
fn filter(cluster: Option<&str>) -> String {
    match cluster {
        Some(c) => format!("job=\"{BROKER_JOB}\",cluster=\"{}\"", q(c)),
        None => format!("job=\"{BROKER_JOB}\""),
    }
}

/// Within this much of the range's end a broker's newest sample must be, or it is stale.
const FRESH_MS: i64 = 5 * 60_000;

/// The rows of every broker (of one cluster when given), by cluster and instance; sparklines over
/// the range when `sparks`.
pub async fn rows(
    ctx: &Ctx,
    cluster: Option<&str>,
    range: &TimeRange,
    sparks: bool,
) -> WebResult<Vec<Row>> {
    let all = brokers(ctx, cluster);
    if all.is_empty() {
        return Ok(vec![]);
    }
    let f = filter(cluster);
    let mut values: Vec<HashMap<(String, String), f64>> = Vec::with_capacity(COLUMNS.len());
    for c in &COLUMNS {
        let out = instant(ctx, &c.text(&f, 300), range.to).await?;
        values.push(
            out.into_iter()
                .filter_map(|s| {
                    let v = s.values.first().copied().flatten()?;
                    v.is_finite().then(|| (key_of(&s.labels), v))
                })
                .collect(),
        );
    }
    let lines = if sparks {
        sparklines(ctx, cluster, range, &f).await?
    } else {
        Vec::new()
    };
    let fresh = freshness(ctx, &all, range).await?;
    let scrapes = scrape_status(ctx, cluster, range).await?;
    let mut rows: Vec<Row> = all
        .into_iter()
        .map(|broker| {
            let k = (broker.cluster.clone(), broker.instance.clone());
            let cells = COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = values[i].get(&k).copied();
                    let class = match (i, v) {
                        (OFFLINE, Some(v)) if v > 0.0 => "critical",
                        (URP, Some(v)) if v > 0.0 => "warning",
                        _ => "",
                    };
                    Cell {
                        value: v,
                        text: v.map_or_else(|| "–".into(), |v| c.format.format(v)),
                        outlier: false,
                        class,
                        spark: lines.get(i).and_then(|l| l.get(&k)).cloned(),
                    }
                })
                .collect();
            let status = scrapes
                .iter()
                .find(|(target, _)| target_is(target, &broker.instance))
                .map(|(_, up)| *up);
            Row {
                stale: !fresh.get(&k).copied().unwrap_or(false),
                down: status == Some(Some(false)),
                scraped: status.is_some(),
                cells,
                skew: None,
                skew_text: String::new(),
                broker,
            }
        })
        .collect();
    let mut start = 0;
    while start < rows.len() {
        let end = start
            + rows[start..]
                .iter()
                .take_while(|r| r.broker.cluster == rows[start].broker.cluster)
                .count();
        mark_skew(&mut rows[start..end]);
        start = end;
    }
    Ok(rows)
}

/// Sparkline points per cell: hourly over a day, so the store's 1 h tier answers longer ranges.
const SPARK_POINTS: usize = 48;

/// Each column's sparkline per broker, drawn from the store's tiers in one read of every
/// column's series (not by evaluating each column's query over the range: over 30 days that
/// decodes every raw sample of every broker twelve times). Counters are drawn as rates; a
/// column with several series per broker (GC time per collector) as their sum.
async fn sparklines(
    ctx: &Ctx,
    cluster: Option<&str>,
    range: &TimeRange,
    f: &str,
) -> WebResult<Vec<HashMap<(String, String), Sparkline>>> {
    let mut base = vec![Matcher::eq("job", BROKER_JOB)];
    if let Some(c) = cluster {
        base.push(Matcher::eq("cluster", c));
    }
    let mut owners: Vec<HashMap<(String, String), Vec<SeriesId>>> = Vec::new();
    let mut ids = Vec::new();
    for c in &COLUMNS {
        let mut matchers = base.clone();
        matchers.extend(c.labels.iter().map(|(k, v)| Matcher::eq(*k, *v)));
        let mut by: HashMap<(String, String), Vec<SeriesId>> = HashMap::new();
        for i in ctx.store.select(Some(c.metric), &matchers) {
            by.entry(key_of(&i.key.labels)).or_default().push(i.id);
            ids.push(i.id);
        }
        owners.push(by);
    }
    let data = fetch_ranges_points(ctx, &ids, range, SPARK_POINTS).await?;
    let step = chart_step(ctx, range, SPARK_POINTS);
    let w = rate_window(step) / 1000;
    Ok(COLUMNS
        .iter()
        .zip(owners)
        .map(|(c, by)| {
            let link = metric_link(&c.text(f, w), range);
            by.into_iter()
                .filter_map(|(k, ids)| {
                    let mut parts = ids
                        .iter()
                        .filter_map(|id| data.get(id))
                        .map(|r| series_data(r, c.title.to_string(), range));
                    let mut sum = parts.next()?;
                    for p in parts {
                        add_points(&mut sum, &p);
                    }
                    let line = Sparkline::sized(
                        &sum,
                        range.from,
                        range.to,
                        c.format,
                        link.clone(),
                        (72, 18),
                    );
                    Some((k, line))
                })
                .collect()
        })
        .collect())
}

/// Adds `other`'s points to `sum` where both have a point at the same time (a bucket missing
/// from either stays a gap rather than a dip).
fn add_points(sum: &mut SeriesData, other: &SeriesData) {
    let theirs: HashMap<i64, &ChartPoint> = other.points.iter().map(|p| (p.ts, p)).collect();
    sum.points.retain_mut(|p| match theirs.get(&p.ts) {
        Some(o) => {
            p.avg += o.avg;
            p.min += o.min;
            p.max += o.max;
            p.last += o.last;
            true
        }
        None => false,
    });
}

/// Whether a JMX target (`host:port`, or a service URL naming it) is this broker's instance.
fn target_is(target: &str, instance: &str) -> bool {
    target == instance
        || target
            .strip_prefix("service:jmx:")
            .is_some_and(|rest| rest.contains(&format!("//{instance}/")))
}

/// Each broker: whether one of its core series has a sample within [`FRESH_MS`] of the end.
async fn freshness(
    ctx: &Ctx,
    brokers: &[BrokerId],
    range: &TimeRange,
) -> WebResult<HashMap<(String, String), bool>> {
    let mut ids = Vec::new();
    let mut owner = Vec::new();
    for b in brokers {
        let matchers = [
            Matcher::eq("cluster", &b.cluster),
            Matcher::eq("job", BROKER_JOB),
            Matcher::eq("instance", &b.instance),
        ];
        let mut own: Vec<_> = CORE
            .iter()
            .flat_map(|m| ctx.store.select(Some(m), &matchers))
            .map(|i| i.id)
            .collect();
        if own.is_empty() {
            // A broker with none of the usual series (a custom rule set): any of its series.
            own = ctx
                .store
                .select(None, &matchers)
                .into_iter()
                .take(16)
                .map(|i| i.id)
                .collect();
        }
        for id in own {
            ids.push(id);
            owner.push((b.cluster.clone(), b.instance.clone()));
        }
    }
    let found = ctx
        .store
        .value_at(&ids, range.to, FRESH_MS)
        .await
        .map_err(|e| WebError::Store(e.to_string()))?;
    let mut out: HashMap<(String, String), bool> = HashMap::new();
    for (k, v) in owner.into_iter().zip(found) {
        *out.entry(k).or_default() |= v.is_some();
    }
    Ok(out)
}

/// The JMX targets' last scrape outcome at the end: (target, Some(up) or None without a
/// sample within 5 minutes).
async fn scrape_status(
    ctx: &Ctx,
    cluster: Option<&str>,
    range: &TimeRange,
) -> WebResult<Vec<(String, Option<bool>)>> {
    let mut matchers = vec![Matcher::eq("source", "jmx")];
    if let Some(c) = cluster {
        matchers.push(Matcher::eq("cluster", c));
    }
    let stored = ctx.store.select(Some("up"), &matchers);
    if stored.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<_> = stored.iter().map(|i| i.id).collect();
    let at = ctx
        .store
        .value_at(&ids, range.to, FRESH_MS)
        .await
        .map_err(|e| WebError::Store(e.to_string()))?;
    Ok(stored
        .iter()
        .zip(at)
        .map(|(i, v)| {
            (
                i.key.labels.get("target").unwrap_or("").to_string(),
                v.map(|(_, v)| v == 1.0),
            )
        })
        .collect())
}

/// Marks each skew column's outlier — its most loaded broker when at least 1.5× the cluster's
/// average (for idle columns: the least idle, by busy time `1 − idle`) — and names each broker's
/// largest ratio to the average. Stale brokers have no values and take no part.
pub fn mark_skew(rows: &mut [Row]) {
    if rows.len() < 2 {
        return;
    }
    let mut best: Vec<(f64, &str)> = vec![(0.0, ""); rows.len()];
    for (c, col) in COLUMNS.iter().enumerate() {
        let load = |v: f64| match col.skew {
            Skew::Idle => (1.0 - v).max(0.0),
            _ => v,
        };
        if col.skew == Skew::Not {
            continue;
        }
        let vals: Vec<Option<f64>> = rows.iter().map(|r| r.cells[c].value.map(load)).collect();
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
                best[i] = (ratio, col.title);
            }
            if *v == max && ratio >= 1.5 {
                rows[i].cells[c].outlier = true;
            }
        }
    }
    for (r, (ratio, name)) in rows.iter_mut().zip(best) {
        if !name.is_empty() {
            r.skew = Some(ratio);
            // Within 10 % of the average on every column: nothing to name.
            r.skew_text = if ratio < 1.1 {
                "balanced".into()
            } else {
                format!(
                    "{}{name} {ratio:.1}× avg",
                    if name.ends_with("idle") { "busy: " } else { "" }
                )
            };
        }
    }
}

/// A cluster's health line from its rows and quorum.
pub fn health_of(rows: &[Row], voters: Vec<Voter>) -> ClusterHealth {
    let sum = |c: usize| {
        let v: Vec<f64> = rows.iter().filter_map(|r| r.cells[c].value).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    ClusterHealth {
        brokers: rows.len(),
        up: rows
            .iter()
            .filter(|r| {
                if r.scraped {
                    !r.down && !r.stale
                } else {
                    !r.stale
                }
            })
            .count(),
        stale: rows
            .iter()
            .filter(|r| r.stale)
            .map(|r| r.broker.instance.clone())
            .collect(),
        controllers: sum(CONTROLLER),
        offline: sum(OFFLINE),
        urp: sum(URP),
        voters,
    }
}

/// How the table is ordered: by broker (default), by a column (most first; idle least first),
/// or by skew. Rows stay grouped by cluster.
pub fn sort_rows(rows: &mut [Row], sort: &str) {
    let col = COLUMNS.iter().position(|c| c.key == sort);
    let key = |r: &Row| -> Option<f64> {
        match col {
            Some(c) => r.cells[c]
                .value
                .map(|v| if COLUMNS[c].skew == Skew::Idle { v } else { -v }),
            None if sort == "skew" => r.skew.map(|s| -s),
            None => None,
        }
    };
    rows.sort_by(|a, b| {
        a.broker.cluster.cmp(&b.broker.cluster).then_with(|| {
            match (key(a), key(b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.broker.instance.cmp(&b.broker.instance))
        })
    });
}

fn sort_names() -> Vec<&'static str> {
    let mut v = vec!["broker", "skew"];
    v.extend(COLUMNS.iter().map(|c| c.key));
    v
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub sort: Option<String>,
    pub cluster: Option<String>,
}

/// One cluster's part of the page.
pub struct ClusterBlock {
    pub name: String,
    pub health: ClusterHealth,
    pub class: &'static str,
    pub reasons: Vec<String>,
    pub rows: Vec<Row>,
    /// max/avg per column (empty where not read as skew or with fewer than two brokers).
    pub footer: Vec<String>,
    pub voters: Vec<(Voter, String)>,
}

impl ClusterBlock {
    pub fn n(v: &Option<f64>) -> String {
        v.map_or("–".into(), |v| format!("{v:.0}"))
    }

    pub fn controllers_class(&self) -> &'static str {
        match self.health.controllers {
            Some(1.0) => "ok",
            Some(_) => "critical",
            None => "unknown",
        }
    }
}

#[derive(Template)]
#[template(path = "brokers/list.html")]
pub struct ListPage {
    pub page: PageCtx,
    pub columns: &'static [Column],
    pub clusters: Vec<ClusterBlock>,
    pub sort: String,
    pub cluster: Option<String>,
}

impl ListPage {
    pub fn sort_href(&self, name: &str) -> String {
        let cluster = self
            .cluster
            .as_deref()
            .map(|c| format!("&cluster={}", crate::web::format::urlencode(c)))
            .unwrap_or_default();
        format!("/brokers{}{cluster}&sort={name}", self.page.rq())
    }

    pub fn sort_class(&self, name: &str) -> &'static str {
        if self.sort == name { "sorted" } else { "" }
    }
}

pub(crate) async fn list(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<ListQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let sort = q.sort.clone().unwrap_or_default();
    if !sort.is_empty() && !sort_names().contains(&sort.as_str()) {
        return Err(WebError::BadRequest(format!(
            "sort: {sort:?} is not one of {}",
            sort_names().join(", ")
        )));
    }
    let cluster = q.cluster.clone().filter(|c| !c.is_empty());
    if let Some(c) = &cluster {
        require_cluster(&ctx, c)?;
    }
    let mut all = rows(&ctx, cluster.as_deref(), &range, true).await?;
    sort_rows(&mut all, if sort.is_empty() { "broker" } else { &sort });
    let mut clusters: Vec<ClusterBlock> = Vec::new();
    for r in all {
        match clusters.last_mut() {
            Some(b) if b.name == r.broker.cluster => b.rows.push(r),
            _ => clusters.push(ClusterBlock {
                name: r.broker.cluster.clone(),
                health: ClusterHealth::default(),
                class: "ok",
                reasons: vec![],
                rows: vec![r],
                footer: vec![],
                voters: vec![],
            }),
        }
    }
    for b in &mut clusters {
        let v = voters(&ctx, &b.name, range.to).await?;
        b.voters = v.iter().map(|v| (v.clone(), voter_text(v))).collect();
        b.health = health_of(&b.rows, v);
        (b.class, b.reasons) = b.health.verdict();
        // The footer from the values, whatever the order.
        b.footer = footer_of(&b.rows);
    }
    crate::web::export::offer_table("brokers", || {
        use crate::web::export::{Cell as C, Table};
        let mut columns = vec!["cluster", "broker"];
        columns.extend(COLUMNS.iter().map(|c| c.key));
        columns.extend(["skew", "stale", "down"]);
        let mut t = Table::new("brokers", columns);
        for r in clusters.iter().flat_map(|b| &b.rows) {
            let mut cells: Vec<C> = vec![
                r.broker.cluster.as_str().into(),
                r.broker.instance.as_str().into(),
            ];
            cells.extend(r.cells.iter().map(|c| C::from(c.value)));
            cells.extend([
                r.skew_text.as_str().into(),
                (if r.stale { "stale" } else { "" }).into(),
                (if r.down { "down" } else { "" }).into(),
            ]);
            t.row(cells);
        }
        t
    });
    let page = ListPage {
        page: PageCtx::new(&ctx, "Brokers", "brokers", "/brokers", range)
            .keep("cluster", cluster.as_deref().unwrap_or(""))
            .keep("sort", &sort),
        columns: &COLUMNS,
        clusters,
        sort: if sort.is_empty() {
            "broker".into()
        } else {
            sort
        },
        cluster,
    };
    Ok(Html(page.render()?))
}

/// max/avg per skew column of a cluster's rows.
fn footer_of(rows: &[Row]) -> Vec<String> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(c, col)| {
            if col.skew == Skew::Not {
                return String::new();
            }
            let v: Vec<f64> = rows
                .iter()
                .filter_map(|r| r.cells[c].value)
                .map(|v| {
                    if col.skew == Skew::Idle {
                        (1.0 - v).max(0.0)
                    } else {
                        v
                    }
                })
                .collect();
            let avg = v.iter().sum::<f64>() / v.len().max(1) as f64;
            if v.len() < 2 || avg <= 0.0 {
                return String::new();
            }
            format!("{:.1}×", v.iter().copied().fold(f64::MIN, f64::max) / avg)
        })
        .collect()
}
