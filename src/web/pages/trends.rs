//! `/trends`: what is the long-term trend? Per cluster, for each quantity of a typed catalogue
//! (Kafka throughput and size, consumer lag, ZooKeeper, hosts): the daily average, p95 and peak
//! over the range, week-over-week and month-over-month growth with the largest growers first, a
//! least-squares slope per day shown only where a line fits, and an hour-of-week heat strip of the
//! first quantity with data (messages in, where the kafka source runs).
//!
//! Each quantity is one PromQL query of the cluster evaluated at an hourly step over the range
//! (at least 60 days, so month-over-month has its two months); the arithmetic is in
//! [`crate::analysis::trend`].

use super::{RangeQuery, clusters, require_cluster};
use crate::analysis::trend::{self, DayBand, Forecast};
use crate::catalogue::Unit;
use crate::model::Timestamp;
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartPoint, ChartSpec, SeriesData};
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::format::ValueFormat;
use crate::web::page::{PageCtx, metric_link};
use crate::web::panels::query_series;
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

/// One quantity whose trend is shown.
pub struct TrendDef {
    pub title: &'static str,
    /// PromQL with `{c}` for the cluster matcher and `{w}` for the rate window.
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
        "Messages in",
        "sum(rate(kafka_topic_partition_current_offset{{c}}[{w}]))",
        Unit::None,
        true,
        "Records produced per second, from the log-end offsets",
    ),
    t(
        "Consumer lag, all groups",
        "sum(kafka_consumergroup_lag{{c}})",
        Unit::None,
        false,
        "Records not yet consumed, summed over groups and partitions",
    ),
    t(
        "Partitions",
        "sum(kafka_topic_partitions{{c}})",
        Unit::None,
        false,
        "Partitions of all topics",
    ),
    t(
        "Topics",
        "count(kafka_topic_partitions{{c}})",
        Unit::None,
        false,
        "Topics",
    ),
    t(
        "Consumer groups",
        "count(kafka_consumergroup_members{{c}})",
        Unit::None,
        false,
        "Groups the brokers list",
    ),
    t(
        "ZooKeeper znodes",
        "max(zk_znode_count{{c}})",
        Unit::None,
        false,
        "Znodes in the data tree",
    ),
    t(
        "ZooKeeper connections",
        "sum(zk_num_alive_connections{{c}})",
        Unit::None,
        false,
        "Client connections over all servers",
    ),
    t(
        "Host CPU busy",
        "1 - avg(rate(node_cpu_seconds_total{{c},mode=\"idle\"}[{w}]))",
        Unit::Ratio,
        false,
        "Share of all hosts' CPUs not idle",
    ),
    t(
        "Host disk reads",
        "sum(rate(node_disk_read_bytes_total{{c}}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes read from disk by all hosts: consumers missing the page cache show here",
    ),
    t(
        "Host network out",
        "sum(rate(node_network_transmit_bytes_total{{c},device!=\"lo\"}[{w}]))",
        Unit::Bytes,
        true,
        "Bytes sent by all hosts",
    ),
    t(
        "Page cache",
        "sum(node_memory_Cached_bytes{{c}})",
        Unit::Bytes,
        false,
        "Page cache of all hosts",
    ),
    t(
        "Least free space on a file system",
        "min(node_filesystem_avail_bytes{{c}})",
        Unit::Bytes,
        false,
        "The fullest file system's space left",
    ),
];

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
    pub rows: Vec<TrendRow>,
    pub heat: Option<Heat>,
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

async fn cluster_trends(ctx: &Ctx, cluster: &str, range: &TimeRange) -> WebResult<ClusterTrends> {
    let c = format!(
        "cluster=\"{}\"",
        cluster.replace('\\', "\\\\").replace('"', "\\\"")
    );
    // Hourly over at least 60 days, so that month-over-month has both months.
    let from = range.from.min(range.to - 60 * DAY);
    // And back to the compared window (`compare=`), for the ghost of the daily average.
    let from = from.min(range.from - range.compare.as_ref().map_or(0, |k| k.ms));
    let wide = TimeRange::fixed(from.div_euclid(HOUR) * HOUR, range.to);
    let mut rows = Vec::new();
    let mut heat = None;
    for d in TRENDS {
        let text = d.query.replace("{c}", &c).replace("{w}", "2h");
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
    Ok(ClusterTrends {
        name: cluster.to_string(),
        rows,
        heat,
    })
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
    let mut out = Vec::new();
    for name in &names {
        out.push(cluster_trends(&ctx, name, &range).await?);
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
            .keep("cluster", q.cluster.as_deref().unwrap_or("")),
        clusters: out,
    };
    Ok(Html(page.render()?))
}
