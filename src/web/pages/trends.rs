//! `/trends`: what is the long-term trend? Per cluster — or per broker, topic or consumer group
//! with `&broker=`, `&topic=`, `&group=` — for each quantity of a typed catalogue
//! (Kafka throughput and size, consumer lag, ZooKeeper, hosts): the daily average, p95 and peak
//! over the range, week-over-week and month-over-month growth with the largest growers first, a
//! least-squares slope per day shown only where a line fits, and an hour-of-week heat strip of the
//! first quantity with data (messages in, where the kafka source runs).
//!
//! Each quantity is one PromQL query of the cluster evaluated at an hourly step over the range
//! (at least 60 days, so month-over-month has its two months); the arithmetic is in
//! [`crate::analysis::trend`].

use super::{RangeQuery, clusters, require_cluster};
use crate::analysis::capacity;
use crate::analysis::trend::{self, DayBand, Forecast};
use crate::catalogue::Unit;
use crate::model::Timestamp;
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartPoint, ChartSpec, SeriesData};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::ValueFormat;
use crate::web::format::urlencode;
use crate::web::page::{PageCtx, metric_link};
use crate::web::panels::query_series;
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

/// One quantity whose trend is shown.
pub struct TrendDef {
    pub title: &'static str,
    /// PromQL with `{sel}` for the cluster matcher and `{w}` for the rate window.
    pub query: &'static str,
    pub unit: Unit,
    pub per_second: bool,
    pub what: &'static str,
}

const fn t(
    title: &'static str,
    query: &'static str,
    unit: Unit,
    per_second: bool,
    what: &'static str,
) -> TrendDef {
    TrendDef {
        title,
        query,
        unit,
        per_second,
        what,
    }
}

/// The catalogue of long-term quantities, in display order before sorting by growth.
pub const TRENDS: &[TrendDef] = &[
    t(
        "Bytes in",
        "sum(rate(kafka_server_brokertopicmetrics_bytesin_total{{sel},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes from producers to all brokers (broker JMX)",
    ),
    t(
        "Bytes out",
        "sum(rate(kafka_server_brokertopicmetrics_bytesout_total{{sel},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes from all brokers to consumers and followers (broker JMX)",
    ),
    t(
        "Client connections",
        "sum(kafka_server_socket_server_metrics_connection_count{{sel}})",
        Unit::None,
        false,
        "Connections open to all brokers' listeners (broker JMX)",
    ),
    t(
        "Messages in",
        "sum(rate(kafka_topic_partition_current_offset{{sel}}[{w}]))",
        Unit::None,
        true,
        "Records produced per second, from the log-end offsets",
    ),
    t(
        "Consumer lag, all groups",
        "sum(kafka_consumergroup_lag{{sel}})",
        Unit::None,
        false,
        "Records not yet consumed, summed over groups and partitions",
    ),
    t(
        "Partitions",
        "sum(kafka_topic_partitions{{sel}})",
        Unit::None,
        false,
        "Partitions of all topics",
    ),
    t(
        "Topics",
        "count(kafka_topic_partitions{{sel}})",
        Unit::None,
        false,
        "Topics",
    ),
    t(
        "Consumer groups",
        "count(kafka_consumergroup_members{{sel}})",
        Unit::None,
        false,
        "Groups the brokers list",
    ),
    t(
        "ZooKeeper znodes",
        "max(zk_znode_count{{sel}})",
        Unit::None,
        false,
        "Znodes in the data tree",
    ),
    t(
        "ZooKeeper connections",
        "sum(zk_num_alive_connections{{sel}})",
        Unit::None,
        false,
        "Client connections over all servers",
    ),
    t(
        "Host CPU busy",
        "1 - avg(rate(node_cpu_seconds_total{{sel},mode=\"idle\"}[{w}]))",
        Unit::Ratio,
        false,
        "Share of all hosts' CPUs not idle",
    ),
    t(
        "Host disk reads",
        "sum(rate(node_disk_read_bytes_total{{sel}}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes read from disk by all hosts: consumers missing the page cache show here",
    ),
    t(
        "Host network out",
        "sum(rate(node_network_transmit_bytes_total{{sel},device!=\"lo\"}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes sent by all hosts",
    ),
    t(
        "Page cache",
        "sum(node_memory_Cached_bytes{{sel}})",
        Unit::Bytes,
        false,
        "Page cache of all hosts",
    ),
    t(
        "Least free space on a file system",
        "min(node_filesystem_avail_bytes{{sel}})",
        Unit::Bytes,
        false,
        "The fullest file system's space left",
    ),
];

/// One broker's long-term quantities (`{sel}`: its cluster, job and instance).
pub const BROKER_TRENDS: &[TrendDef] = &[
    t(
        "Bytes in",
        "sum(rate(kafka_server_brokertopicmetrics_bytesin_total{{sel},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes from producers to this broker",
    ),
    t(
        "Bytes out",
        "sum(rate(kafka_server_brokertopicmetrics_bytesout_total{{sel},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes from this broker to consumers and followers",
    ),
    t(
        "Messages in",
        "sum(rate(kafka_server_brokertopicmetrics_messagesin_total{{sel},topic=\"\"}[{w}]))",
        Unit::None,
        true,
        "Records appended to this broker's leaders",
    ),
    t(
        "Produce p99",
        "max(kafka_network_requestmetrics_totaltimems{{sel},request=\"Produce\",quantile=\"0.99\"})",
        Unit::Milliseconds,
        false,
        "99th percentile of produce request time",
    ),
    t(
        "Request handler idle",
        "min(kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent{{sel}})",
        Unit::Ratio,
        false,
        "Share of time the request threads wait for work (below 0.3: saturated)",
    ),
    t(
        "Partitions",
        "max(kafka_server_replicamanager_partitioncount{{sel}})",
        Unit::None,
        false,
        "Partition replicas on this broker",
    ),
    t(
        "Leaders",
        "max(kafka_server_replicamanager_leadercount{{sel}})",
        Unit::None,
        false,
        "Partitions this broker leads",
    ),
    t(
        "Connections",
        "sum(kafka_server_socket_server_metrics_connection_count{{sel}})",
        Unit::None,
        false,
        "Connections open to this broker",
    ),
    t(
        "Log size",
        "sum(kafka_log_log_size{{sel}})",
        Unit::Bytes,
        false,
        "Bytes of this broker's partition logs (the per-partition preset)",
    ),
];

/// One topic's long-term quantities (`{sel}`: its cluster and topic).
pub const TOPIC_TRENDS: &[TrendDef] = &[
    t(
        "Messages in",
        "sum(rate(kafka_topic_partition_current_offset{{sel}}[{w}]))",
        Unit::None,
        true,
        "Records produced per second, from the log-end offsets",
    ),
    t(
        "Bytes in",
        "sum(rate(kafka_server_brokertopicmetrics_bytesin_total{{sel}}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes from producers, over all brokers (broker JMX)",
    ),
    t(
        "Bytes out",
        "sum(rate(kafka_server_brokertopicmetrics_bytesout_total{{sel}}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes to consumers, over all brokers (broker JMX)",
    ),
    t(
        "Records retained",
        "sum(kafka_topic_partition_current_offset{{sel}}) - sum(kafka_topic_partition_oldest_offset{{sel}})",
        Unit::None,
        false,
        "Records between the oldest and the newest offset of every partition",
    ),
    t(
        "Size on disk",
        "sum(kafka_log_log_size{{sel}})",
        Unit::Bytes,
        false,
        "Bytes of all its replicas' logs (the per-partition preset)",
    ),
    t(
        "Consumer lag",
        "sum(kafka_consumergroup_lag{{sel}})",
        Unit::None,
        false,
        "Records not yet consumed, over every group reading it",
    ),
    t(
        "Partitions",
        "max(kafka_topic_partitions{{sel}})",
        Unit::None,
        false,
        "Partitions of the topic",
    ),
];

/// One consumer group's long-term quantities (`{sel}`: its cluster and group).
pub const GROUP_TRENDS: &[TrendDef] = &[
    t(
        "Lag",
        "sum(kafka_consumergroup_lag{{sel}})",
        Unit::None,
        false,
        "Records not yet consumed, over the group's partitions",
    ),
    t(
        "Largest partition lag",
        "max(kafka_consumergroup_lag{{sel}})",
        Unit::None,
        false,
        "The most behind partition's lag",
    ),
    t(
        "Consume rate",
        "sum(rate(kafka_consumergroup_current_offset{{sel}}[{w}]))",
        Unit::None,
        true,
        "Records committed per second",
    ),
    t(
        "Members",
        "max(kafka_consumergroup_members{{sel}})",
        Unit::None,
        false,
        "Consumers in the group",
    ),
];

/// Whose trends a page shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    Cluster,
    Broker(String),
    Topic(String),
    Group(String),
}

impl Scope {
    fn catalogue(&self) -> &'static [TrendDef] {
        match self {
            Scope::Cluster => TRENDS,
            Scope::Broker(_) => BROKER_TRENDS,
            Scope::Topic(_) => TOPIC_TRENDS,
            Scope::Group(_) => GROUP_TRENDS,
        }
    }

    /// The matchers for `{sel}`.
    fn selector(&self, cluster: &str) -> String {
        let c = format!("cluster=\"{}\"", lit(cluster));
        match self {
            Scope::Cluster => c,
            Scope::Broker(b) => format!("{c},job=\"kafka-broker\",instance=\"{}\"", lit(b)),
            Scope::Topic(t) => format!("{c},topic=\"{}\"", lit(t)),
            Scope::Group(g) => format!("{c},consumergroup=\"{}\"", lit(g)),
        }
    }

    /// "broker b1", "topic orders" … (empty for a cluster).
    pub fn title(&self) -> String {
        match self {
            Scope::Cluster => String::new(),
            Scope::Broker(b) => format!("broker {b}"),
            Scope::Topic(t) => format!("topic {t}"),
            Scope::Group(g) => format!("consumer group {g}"),
        }
    }
}

fn lit(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Links to the trends of one kind of entity of a cluster (at most [`ENTITY_LINKS`] of them).
pub struct EntityLinks {
    pub kind: &'static str,
    pub links: Vec<(String, String)>,
    /// How many more there are than linked.
    pub more: usize,
}

const ENTITY_LINKS: usize = 40;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

pub struct TrendRow {
    pub title: &'static str,
    pub what: &'static str,
    pub link: String,
    pub now: String,
    pub wow: String,
    pub mom: String,
    wow_abs: f64,
    pub wow_class: &'static str,
    /// Slope per day with the fit's r², or why none is shown.
    pub slope: String,
    pub chart: Chart,
}

pub struct HeatCell {
    pub x: u32,
    pub y: u32,
    pub opacity: String,
    pub title: String,
}

pub struct Heat {
    pub title: &'static str,
    pub cells: Vec<HeatCell>,
}

pub struct ClusterTrends {
    pub name: String,
    /// Whose trends (empty for the whole cluster).
    pub scope: String,
    pub rows: Vec<TrendRow>,
    pub heat: Option<Heat>,
    /// The cluster's brokers, topics and groups, each linking to its own trends.
    pub entities: Vec<EntityLinks>,
    /// When each Kafka log dir fills, retention-aware (see [`crate::analysis::capacity`]).
    pub disks: Vec<DiskRow>,
}

/// One log dir's forecast as the page shows it.
pub struct DiskRow {
    pub instance: String,
    pub log_dir: String,
    pub mountpoint: String,
    pub kafka: String,
    pub free: String,
    pub retention: String,
    pub growth: String,
    pub full_in: String,
    pub class: &'static str,
    pub growing: String,
}

impl DiskRow {
    fn new(f: &capacity::LogDirForecast) -> DiskRow {
        let bytes = ValueFormat {
            unit: Unit::Bytes,
            per_second: false,
        };
        let days = f.days_to_full();
        DiskRow {
            instance: f.instance.clone(),
            log_dir: f.log_dir.clone(),
            mountpoint: f.mountpoint.clone(),
            kafka: bytes.format(f.kafka_bytes),
            free: f.avail.map_or("–".into(), |a| {
                format!(
                    "{}{}",
                    bytes.format(a),
                    f.size
                        .filter(|s| *s > 0.0)
                        .map_or(String::new(), |s| format!(" of {}", bytes.format(s)))
                )
            }),
            retention: format!("{} of {}", f.at_retention, f.partitions),
            growth: f
                .growth_per_day
                .map_or("unknown".into(), |g| format!("{} / day", bytes.format(g))),
            full_in: match (days, f.growth_per_day) {
                (Some(d), _) if d < 1.0 => "within a day".into(),
                (Some(d), _) => format!(
                    "{d:.0} days{}",
                    if f.at_retention < f.partitions {
                        " (at most)"
                    } else {
                        ""
                    }
                ),
                (None, Some(_)) => "not filling: every partition is at its retention".into(),
                (None, None) => "no forecast: no offsets stored for its partitions".into(),
            },
            class: match days {
                Some(d) if d < 7.0 => "critical",
                Some(d) if d < 30.0 => "warning",
                _ => "",
            },
            growing: f
                .growing
                .iter()
                .map(|(t, g)| format!("{t} +{}/day", bytes.format(*g)))
                .collect::<Vec<_>>()
                .join(", ")
                + &if f.unknown > 0 {
                    format!(
                        "{}{} partition(s) without offsets",
                        if f.growing.is_empty() { "" } else { "; " },
                        f.unknown
                    )
                } else {
                    String::new()
                },
        }
    }
}

#[derive(Template)]
#[template(path = "trends.html")]
pub struct TrendsPage {
    pub page: PageCtx,
    pub clusters: Vec<ClusterTrends>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct TrendsQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub cluster: Option<String>,
    pub broker: Option<String>,
    pub topic: Option<String>,
    pub group: Option<String>,
}

fn pct(g: Option<f64>) -> String {
    match g {
        None => "–".into(),
        Some(g) => format!(
            "{}{:.1} %",
            if g >= 0.0 { "+" } else { "−" },
            g.abs() * 100.0
        ),
    }
}

/// The daily average of the compared window (`compare=`), at its own times: the ghost line.
fn compared_daily_average(points: &[(Timestamp, f64)], range: &TimeRange) -> Vec<SeriesData> {
    let Some(c) = &range.compare else {
        return Vec::new();
    };
    let (from, to) = (range.from - c.ms, range.to - c.ms);
    let earlier: Vec<(Timestamp, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0 >= from && p.0 <= to)
        .collect();
    let avg: Vec<(Timestamp, f64)> = trend::daily_bands(&earlier)
        .iter()
        .map(|b| (b.day, b.avg))
        .collect();
    vec![SeriesData::from_values("daily average", &avg, DAY)]
}

async fn cluster_trends(
    ctx: &Ctx,
    cluster: &str,
    scope: &Scope,
    range: &TimeRange,
) -> WebResult<ClusterTrends> {
    let c = scope.selector(cluster);
    // Hourly over at least 60 days, so that month-over-month has both months.
    let from = range.from.min(range.to - 60 * DAY);
    // And back to the compared window (`compare=`), for the ghost of the daily average.
    let from = from.min(range.from - range.compare.as_ref().map_or(0, |k| k.ms));
    let wide = TimeRange::fixed(from.div_euclid(HOUR) * HOUR, range.to);
    let mut rows = Vec::new();
    let mut heat = None;
    for d in scope.catalogue() {
        let text = d.query.replace("{sel}", &c).replace("{w}", "2h");
        let series = query_series(ctx, &text, &wide, HOUR).await?;
        let Some((_, data)) = series.into_iter().next() else {
            continue;
        };
        let points: Vec<(Timestamp, f64)> = data
            .points
            .iter()
            .map(|p| (p.ts + data.step_ms, p.avg))
            .collect();
        if points.is_empty() {
            continue;
        }
        let format = ValueFormat {
            unit: d.unit,
            per_second: d.per_second,
        };
        let in_range: Vec<(Timestamp, f64)> = points
            .iter()
            .copied()
            .filter(|p| p.0 >= range.from)
            .collect();
        let days: Vec<DayBand> = trend::daily_bands(&in_range);
        let now = trend::window_mean(&points, range.to - DAY, range.to + 1);
        let wow = trend::growth(&points, range.to + 1, 7 * DAY, HOUR);
        let mom = trend::growth(&points, range.to + 1, 30 * DAY, HOUR);
        // The slope from whole days only: a partial first or last day's average is biased
        // toward its hours.
        let full = days.iter().map(|b| b.n).max().unwrap_or(0) * 4 / 5;
        let daily: Vec<(Timestamp, f64)> = days
            .iter()
            .filter(|b| b.n >= full)
            .map(|b| (b.day, b.avg))
            .collect();
        let slope = match trend::forecast(&daily, 3 * DAY, 0.5) {
            Forecast::TooShort { .. } => "needs 3 days or more".to_string(),
            Forecast::PoorFit { r2 } => format!("no steady trend (r² {r2:.2})"),
            Forecast::Fit(f) => format!(
                "{}{} / day (r² {:.2})",
                if f.per_day() >= 0.0 { "+" } else { "−" },
                ValueFormat {
                    unit: d.unit,
                    per_second: d.per_second
                }
                .format(f.per_day().abs()),
                f.r2
            ),
        };
        let line = |label: &str, f: fn(&DayBand) -> f64| SeriesData {
            label: label.to_string(),
            points: days
                .iter()
                .map(|b| {
                    let v = f(b);
                    ChartPoint {
                        ts: b.day,
                        avg: v,
                        min: v,
                        max: v,
                        last: v,
                    }
                })
                .collect(),
            step_ms: DAY,
            interval_ms: DAY,
            tier: data.tier.clone(),
            link: String::new(),
        };
        let link = metric_link(&text, range);
        let chart = ChartSpec::new(
            d.title,
            link.clone(),
            (crate::web::pages::SMALL_W, crate::web::pages::SMALL_H),
            (range.from.div_euclid(DAY) * DAY, range.to),
            format,
            vec![
                line("daily average", |b| b.avg),
                line("p95", |b| b.p95),
                line("peak", |b| b.max),
            ],
        )
        .ghosts(
            compared_daily_average(&points, range),
            range.compare.as_ref(),
        )
        .bands(false)
        .hover_px(8.0)
        .render();
        if heat.is_none() {
            let how = trend::hour_of_week(&in_range);
            let max = how.iter().flatten().copied().fold(0.0f64, f64::max);
            const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            heat = Some(Heat {
                title: d.title,
                cells: how
                    .iter()
                    .enumerate()
                    .map(|(i, v)| HeatCell {
                        x: (i % 24) as u32,
                        y: (i / 24) as u32,
                        opacity: match v {
                            Some(v) if max > 0.0 => format!("{:.2}", (v / max).clamp(0.04, 1.0)),
                            Some(_) => "0.04".into(),
                            None => "0".into(),
                        },
                        title: format!(
                            "{} {:02}:00 UTC: {}",
                            DAYS[i / 24],
                            i % 24,
                            v.map_or("no data".into(), |v| format.format(v))
                        ),
                    })
                    .collect(),
            });
        }
        rows.push(TrendRow {
            title: d.title,
            what: d.what,
            link,
            now: now.map_or("–".into(), |v| format.format(v)),
            wow: pct(wow),
            mom: pct(mom),
            wow_abs: wow.map_or(-1.0, f64::abs),
            wow_class: match wow {
                Some(g) if g >= 0.2 => "warning",
                _ => "",
            },
            slope,
            chart,
        });
    }
    // The largest growers first (week over week), then those without a comparison.
    rows.sort_by(|a, b| b.wow_abs.total_cmp(&a.wow_abs));
    let (entities, disks) = if *scope == Scope::Cluster {
        let disks = capacity::log_dirs(&ctx.store, cluster, range.to)
            .await
            .map_err(crate::web::panels::query_error)?;
        (
            entity_links(ctx, cluster, range),
            disks.iter().map(DiskRow::new).collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(ClusterTrends {
        name: cluster.to_string(),
        scope: scope.title(),
        rows,
        heat,
        entities,
        disks,
    })
}

/// The brokers, topics and groups of `cluster` with a link to each one's trends.
fn entity_links(ctx: &Ctx, cluster: &str, range: &TimeRange) -> Vec<EntityLinks> {
    use crate::model::Matcher;
    let values = |metric: &str, label: &str, extra: Option<Matcher>| {
        let mut m = vec![Matcher::eq("cluster", cluster)];
        m.extend(extra);
        let set: std::collections::BTreeSet<String> = ctx
            .store
            .select(Some(metric), &m)
            .into_iter()
            .filter_map(|i| i.key.labels.get(label).map(str::to_string))
            .filter(|v| !v.is_empty())
            .collect();
        set
    };
    let kinds = [
        (
            "Brokers",
            "broker",
            values(
                "kafka_server_replicamanager_partitioncount",
                "instance",
                Some(Matcher::eq("job", "kafka-broker")),
            ),
        ),
        (
            "Topics",
            "topic",
            values("kafka_topic_partitions", "topic", None),
        ),
        (
            "Consumer groups",
            "group",
            values("kafka_consumergroup_members", "consumergroup", None),
        ),
    ];
    kinds
        .into_iter()
        .filter(|(_, _, set)| !set.is_empty())
        .map(|(kind, param, set)| EntityLinks {
            kind,
            more: set.len().saturating_sub(ENTITY_LINKS),
            links: set
                .into_iter()
                .take(ENTITY_LINKS)
                .map(|v| {
                    let href = format!(
                        "/trends?cluster={}&{param}={}&{}",
                        urlencode(cluster),
                        urlencode(&v),
                        range.query()
                    );
                    (v, href)
                })
                .collect(),
        })
        .collect()
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<TrendsQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let names = match q.cluster.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            require_cluster(&ctx, c)?;
            vec![c.to_string()]
        }
        None => clusters(&ctx),
    };
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let scope = match (given(&q.broker), given(&q.topic), given(&q.group)) {
        (None, None, None) => Scope::Cluster,
        (Some(b), None, None) => Scope::Broker(b),
        (None, Some(t), None) => Scope::Topic(t),
        (None, None, Some(g)) => Scope::Group(g),
        _ => {
            return Err(WebError::BadRequest(
                "broker, topic, group: give at most one of them".into(),
            ));
        }
    };
    if scope != Scope::Cluster && names.len() != 1 {
        return Err(WebError::BadRequest(
            "cluster: a broker, topic or group needs its cluster (cluster=…)".into(),
        ));
    }
    let mut out = Vec::new();
    for name in &names {
        out.push(cluster_trends(&ctx, name, &scope, &range).await?);
    }
    crate::web::export::offer_table("trends", || {
        use crate::web::export::Table;
        let mut t = Table::new(
            "trends",
            vec![
                "cluster",
                "quantity",
                "last_day_mean",
                "week_over_week",
                "month_over_month",
                "trend",
            ],
        );
        for c in &out {
            for r in &c.rows {
                t.row(vec![
                    c.name.as_str().into(),
                    r.title.into(),
                    r.now.as_str().into(),
                    r.wow.as_str().into(),
                    r.mom.as_str().into(),
                    r.slope.as_str().into(),
                ]);
            }
        }
        t
    });
    let page = TrendsPage {
        page: PageCtx::new(&ctx, "Trends", "trends", "/trends", range)
            .keep("cluster", q.cluster.as_deref().unwrap_or(""))
            .keep("broker", q.broker.as_deref().unwrap_or(""))
            .keep("topic", q.topic.as_deref().unwrap_or(""))
            .keep("group", q.group.as_deref().unwrap_or("")),
        clusters: out,
    };
    Ok(Html(page.render()?))
}
