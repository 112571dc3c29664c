//! `/zookeeper` and `/zookeeper/{cluster}`: the ensemble like zktop, with history. One row per
//! configured server (also those never reached, shown down with the error of their failure):
//! state and mode, zxid, request latency over the range (average and worst p99), outstanding
//! requests, connections, znodes, watches, ephemerals, open / max file descriptors, and on the
//! leader followers / synced / pending syncs; every cell with a sparkline over the range.
//!
//! Every figure is for the page's range: a cell shows the value at the range's end (a value older
//! than the lookback is shown as "last" and greyed), its `title` the minimum, average and maximum
//! over the range; the state is the state at the end. A permalink with a fixed window shows the
//! same table whenever it is opened.

use super::{EnsembleHealth, ZkServer, ensemble_health, zk_servers};
use crate::analysis;
use crate::model::{MatchOp, Matcher};
use crate::store::SeriesInfo;
use crate::store::{SeriesId, SeriesRange};
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, urlencode};
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::events::EventRow;
use crate::web::pages::{
    Charter, RangeQuery, by_metric, clusters, fetch_ranges_points, range_events, require_cluster,
    selector_text,
};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use std::collections::{BTreeMap, HashMap};

/// `min / avg / max over the range: 1 / 2.5 / 4 ms` for a gauge's cell title.
fn stats_title(r: Option<&SeriesRange>, fmt: ValueFormat) -> String {
    match r.and_then(analysis::range_stats) {
        Some(st) if r.is_some_and(|r| r.series.kind == crate::model::MetricKind::Gauge) => format!(
            "min / avg / max over the range: {}",
            fmt.format_joined(&[Some(st.min), Some(st.avg), Some(st.max)], st.max)
        ),
        _ => String::new(),
    }
}

/// Request latency over the range: the average from the read and update latency sums and counts
/// (ZooKeeper 3.6+) with the worst p99 of the range; before 3.6, the server's average since it
/// started (or `srst`), labelled as such.
fn latency_cell(
    m: &BTreeMap<String, Vec<SeriesInfo>>,
    data: &HashMap<SeriesId, SeriesRange>,
    charter: &Charter<'_>,
    labels: &[(&str, &str)],
    range: &TimeRange,
    ctx: &Ctx,
) -> Cell {
    let ranges = |names: &[&str]| -> Vec<&SeriesRange> {
        names
            .iter()
            .filter_map(|n| m.get(*n).and_then(|v| v.first()))
            .filter_map(|i| data.get(&i.id))
            .collect()
    };
    let ms = ValueFormat::new(
        ctx.catalogue.unit(LATENCY_SUMS[0]),
        crate::model::MetricKind::Gauge,
    );
    let sums = ranges(&LATENCY_SUMS);
    let counts = ranges(&LATENCY_COUNTS);
    if !counts.is_empty() {
        let avg = analysis::mean_from_counters(&sums, &counts);
        let p99 = ranges(&LATENCY_P99)
            .into_iter()
            .filter_map(analysis::range_stats)
            .map(|s| s.max)
            .reduce(f64::max);
        let link_names: Vec<&str> = LATENCY_SUMS
            .iter()
            .chain(&LATENCY_COUNTS)
            .copied()
            .collect();
        return Cell {
            value: match (avg, p99) {
                (None, None) => "no requests".into(),
                (a, p) => ms.format_joined(&[a, p], p.or(a).unwrap_or(0.0)),
            },
            title: "average of read and update requests over the range / highest p99 of the range"
                .into(),
            stale: false,
            spark: charter
                .spark(m.get(LATENCY_P99[0]).and_then(|v| v.first()))
                .map(|mut sp| {
                    sp.link = metric_link(&selector_text(&link_names, labels), range);
                    sp
                }),
        };
    }
    // ZooKeeper before 3.6: the lifetime average, at the range's end.
    let info = m.get(LIFETIME_AVG).and_then(|v| v.first());
    let v = info
        .and_then(|i| data.get(&i.id))
        .and_then(|r| analysis::value_at(r, range.to, super::lookback_ms(ctx, labels[0].1)));
    Cell {
        value: match v {
            Some(v) => format!("{} since start", ms.format(v.value)),
            None => "–".into(),
        },
        title: "ZooKeeper before 3.6 reports only the average since the server started or its statistics were reset".into(),
        stale: v.is_some_and(|v| !v.fresh),
        spark: charter.spark(info),
    }
}

/// Single-metric columns, in table order: (metric, header).
const COLUMNS: [(&str, &str); 5] = [
    ("zk_outstanding_requests", "Outstanding"),
    ("zk_num_alive_connections", "Connections"),
    ("zk_znode_count", "Znodes"),
    ("zk_watch_count", "Watches"),
    ("zk_ephemerals_count", "Ephemerals"),
];
/// Request latency over the range, ZooKeeper 3.6+: sums and counts of read and update latency.
const LATENCY_SUMS: [&str; 2] = ["zk_sum_readlatency", "zk_sum_updatelatency"];
const LATENCY_COUNTS: [&str; 2] = ["zk_cnt_readlatency", "zk_cnt_updatelatency"];
const LATENCY_P99: [&str; 2] = ["zk_p99_readlatency", "zk_p99_updatelatency"];
/// Before 3.6 only the average since the server started (or `srst`) exists.
const LIFETIME_AVG: &str = "zk_avg_latency";
const FDS: [&str; 2] = [
    "zk_open_file_descriptor_count",
    "zk_max_file_descriptor_count",
];
/// The leader's followers cell: followers (`zk_learners` is the 3.6+ name of `zk_followers`),
/// synced followers, pending syncs.
const LEADER: [&[&str]; 3] = [
    &["zk_learners", "zk_followers"],
    &["zk_synced_followers"],
    &["zk_pending_syncs"],
];
/// Table sparklines are narrower than elsewhere so that the ten columns fit 1280 px.
const SPARK: (u32, u32) = (76, 22);

/// A table cell: the value at the range's end, its statistics over the range (as a `title`) and
/// a sparkline over the range.
pub struct Cell {
    pub value: String,
    pub title: String,
    /// The value is older than the lookback at the range's end: the last known one.
    pub stale: bool,
    pub spark: Option<Sparkline>,
}

impl Cell {
    fn empty() -> Cell {
        Cell {
            value: "—".into(),
            title: String::new(),
            stale: false,
            spark: None,
        }
    }
}

pub struct ServerRow {
    pub s: ZkServer,
    pub latency: Cell,
    pub cells: Vec<Cell>,
    pub fds: Cell,
    /// Followers / synced / pending syncs, on the leader only.
    pub leader: Cell,
}

pub struct Ensemble {
    pub cluster: String,
    pub link: String,
    pub rows: Vec<ServerRow>,
    pub summary: String,
    pub health: EnsembleHealth,
    pub events: Vec<EventRow>,
}

#[derive(Template)]
#[template(path = "zookeeper/cluster.html")]
pub struct ZookeeperPage {
    pub page: PageCtx,
    pub ensembles: Vec<Ensemble>,
    pub columns: Vec<&'static str>,
}

pub(crate) async fn all(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let names = clusters(&ctx);
    render(&ctx, range, names, "/zookeeper".into()).await
}

pub(crate) async fn one(
    State(ctx): State<Ctx>,
    Path(cluster): Path<String>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    require_cluster(&ctx, &cluster)?;
    let path = format!("/zookeeper/{}", urlencode(&cluster));
    render(&ctx, range, vec![cluster], path).await
}

async fn render(
    ctx: &Ctx,
    range: TimeRange,
    names: Vec<String>,
    path: String,
) -> WebResult<Html<String>> {
    let wanted: Vec<&str> = COLUMNS
        .iter()
        .map(|c| c.0)
        .chain(LATENCY_SUMS)
        .chain(LATENCY_COUNTS)
        .chain(LATENCY_P99)
        .chain([LIFETIME_AVG])
        .chain(FDS)
        .chain(LEADER.iter().flat_map(|l| l.iter().copied()))
        .collect();
    let name_re = Matcher::new("__name__", MatchOp::Regex, wanted.join("|"))
        .map_err(|e| crate::web::error::WebError::Internal(e.to_string()))?;
    // (cluster, servers, per server: metric -> series)
    // Per cluster: its servers and, per server, its series by metric name.
    type PerServer = Vec<BTreeMap<String, Vec<SeriesInfo>>>;
    let mut per_cluster: Vec<(String, Vec<ZkServer>, PerServer)> = Vec::new();
    let mut ids = Vec::new();
    for cluster in names {
        let servers = zk_servers(ctx, &cluster, &range).await?;
        let maps: Vec<_> = servers
            .iter()
            .map(|s| {
                let infos = ctx.store.select(
                    None,
                    &[
                        name_re.clone(),
                        Matcher::eq("cluster", &cluster),
                        Matcher::eq("server", &s.server),
                    ],
                );
                ids.extend(infos.iter().map(|i| i.id));
                by_metric(infos)
            })
            .collect();
        per_cluster.push((cluster, servers, maps));
    }
    // About one bucket per 2 px of a table sparkline.
    let data = fetch_ranges_points(ctx, &ids, &range, SPARK.0 as usize / 2).await?;
    let charter = Charter {
        catalogue: &ctx.catalogue,
        range: &range,
        data: &data,
        ghost: None,
        events: &[],
        size: SPARK,
        hover_px: 2.0,
    };
    let mut ensembles = Vec::new();
    for (cluster, servers, maps) in per_cluster {
        let lookback = super::lookback_ms(ctx, &cluster);
        let mut rows = Vec::new();
        for (s, m) in servers.into_iter().zip(maps) {
            let first = |metric: &str| m.get(metric).and_then(|v| v.first());
            let data_of = |i: Option<&SeriesInfo>| i.and_then(|i| data.get(&i.id));
            // The value at the range's end, fresh or the last known one.
            let at_end = |i: Option<&SeriesInfo>| {
                data_of(i).and_then(|r| analysis::value_at(r, range.to, lookback))
            };
            let cell = |metric: &str| -> Cell {
                let info = first(metric);
                let Some(i) = info else {
                    return Cell::empty();
                };
                let fmt = ctx.format_of(i);
                let v = at_end(info);
                Cell {
                    value: match v {
                        Some(v) if v.fresh => fmt.format(v.value),
                        Some(v) => format!("last {}", fmt.format(v.value)),
                        None => "–".into(),
                    },
                    stale: v.is_some_and(|v| !v.fresh),
                    title: stats_title(data_of(info), fmt),
                    spark: charter.spark(info),
                }
            };
            let labels = [("cluster", cluster.as_str()), ("server", s.server.as_str())];
            let latency = latency_cell(&m, &data, &charter, &labels, &range, ctx);
            let fd_values: Vec<Option<f64>> = FDS
                .iter()
                .map(|f| at_end(first(f)).filter(|v| v.fresh).map(|v| v.value))
                .collect();
            let fds = Cell {
                value: if fd_values.iter().all(Option::is_none) {
                    "–".into()
                } else {
                    ValueFormat::plain().format_joined(&fd_values, fd_values[0].unwrap_or(0.0))
                },
                title: stats_title(data_of(first(FDS[0])), ValueFormat::plain()),
                stale: false,
                spark: charter.spark(first(FDS[0])),
            };
            let leader = if s.is_leader() {
                let infos: Vec<Option<&SeriesInfo>> = LEADER
                    .iter()
                    .map(|names| names.iter().find_map(|n| first(n)))
                    .collect();
                let values: Vec<Option<f64>> = infos
                    .iter()
                    .map(|i| at_end(*i).filter(|v| v.fresh).map(|v| v.value))
                    .collect();
                Cell {
                    value: ValueFormat::plain().format_joined(&values, 0.0),
                    title: String::new(),
                    stale: false,
                    spark: charter.spark(infos[1].or(infos[0])),
                }
            } else {
                Cell::empty()
            };
            rows.push(ServerRow {
                cells: COLUMNS.iter().map(|(metric, _)| cell(metric)).collect(),
                latency,
                fds,
                leader,
                s,
            });
        }
        let up = rows.iter().filter(|r| r.s.up == Some(true)).count();
        let leaders: Vec<&str> = rows
            .iter()
            .filter(|r| r.s.is_leader())
            .map(|r| r.s.server.as_str())
            .collect();
        let servers: Vec<ZkServer> = rows.iter().map(|r| r.s.clone()).collect();
        let health = ensemble_health(&servers);
        let summary = if health.standalone {
            format!(
                "{up} of 1 server up at the end of the range · standalone (no leader by design)"
            )
        } else {
            format!(
                "{up} of {} servers up at the end of the range · leader: {}",
                rows.len(),
                if leaders.is_empty() {
                    "none".to_string()
                } else {
                    leaders.join(", ")
                }
            )
        };
        let events = range_events(ctx, &range, Some(&cluster), 20).await?;
        ensembles.push(Ensemble {
            link: format!("/zookeeper/{}?{}", urlencode(&cluster), range.query()),
            cluster,
            rows,
            summary,
            health,
            events: events.iter().map(EventRow::new).collect(),
        });
    }
    let mut page_ctx = PageCtx::new(ctx, "ZooKeeper", "zookeeper", path, range);
    if let [only] = ensembles.as_slice() {
        page_ctx = page_ctx.in_cluster(&only.cluster);
    }
    let page = ZookeeperPage {
        page: page_ctx,
        ensembles,
        columns: COLUMNS.iter().map(|c| c.1).collect(),
    };
    Ok(Html(page.render()?))
}
