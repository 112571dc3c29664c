//! `/zookeeper` and `/zookeeper/{cluster}`: the ensemble like zktop, with history. One row per
//! configured server (also those never reached, shown down with the registry's error): state and
//! mode, zxid, latency min / avg / max, outstanding requests, connections, znodes, watches,
//! ephemerals, open / max file descriptors, and on the leader followers / synced / pending syncs;
//! every cell with a sparkline over the range. The table fits 1280 px: merged cells, the short
//! version (the full one is in a `title` and on the server page).

use super::{EnsembleHealth, ZkServer, ensemble_health, zk_servers};
use crate::model::{MatchOp, Matcher};
use crate::store::SeriesInfo;
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::WebResult;
use crate::web::format::{ValueFormat, urlencode};
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::events::EventRow;
use crate::web::pages::{
    Charter, RangeQuery, by_metric, clusters, fetch_ranges_points, range_events, require_cluster,
    selector_text,
};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use std::collections::BTreeMap;

/// Single-metric columns, in table order: (metric, header).
const COLUMNS: [(&str, &str); 5] = [
    ("zk_outstanding_requests", "Outstanding"),
    ("zk_num_alive_connections", "Connections"),
    ("zk_znode_count", "Znodes"),
    ("zk_watch_count", "Watches"),
    ("zk_ephemerals_count", "Ephemerals"),
];
const LATENCY: [&str; 3] = ["zk_min_latency", "zk_avg_latency", "zk_max_latency"];
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

/// A table cell: the newest value and a sparkline over the range.
pub struct Cell {
    pub value: String,
    pub spark: Option<Sparkline>,
}

impl Cell {
    fn empty() -> Cell {
        Cell {
            value: "—".into(),
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
    Query(q): Query<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let names = clusters(&ctx);
    render(&ctx, range, names, "/zookeeper".into()).await
}

pub(crate) async fn one(
    State(ctx): State<Ctx>,
    Path(cluster): Path<String>,
    Query(q): Query<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    require_cluster(&ctx, &cluster)?;
    let path = format!("/zookeeper/{}", urlencode(&cluster));
    render(&ctx, range, vec![cluster], path).await
}

/// The newest value of a series.
fn latest(ctx: &Ctx, info: Option<&SeriesInfo>) -> Option<f64> {
    let info = info?;
    ctx.store
        .latest(&[info.id])
        .first()
        .copied()
        .flatten()
        .map(|l| l.1)
}

fn latest_text(ctx: &Ctx, info: Option<&SeriesInfo>) -> String {
    match (info, latest(ctx, info)) {
        (Some(i), Some(v)) => ctx.format_of(i).format(v),
        _ => "–".into(),
    }
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
        .chain(LATENCY)
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
        let servers = zk_servers(ctx, &cluster);
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
        events: &[],
        size: SPARK,
        hover_px: 2.0,
    };
    let mut ensembles = Vec::new();
    for (cluster, servers, maps) in per_cluster {
        let mut rows = Vec::new();
        for (s, m) in servers.into_iter().zip(maps) {
            let first = |metric: &str| m.get(metric).and_then(|v| v.first());
            let cell = |metric: &str| -> Cell {
                let info = first(metric);
                Cell {
                    value: latest_text(ctx, info),
                    spark: charter.spark(info),
                }
            };
            let labels = [("cluster", cluster.as_str()), ("server", s.server.as_str())];
            let lat_infos = [first(LATENCY[0]), first(LATENCY[1]), first(LATENCY[2])];
            let lat_values = lat_infos.map(|i| latest(ctx, i));
            let ms = ValueFormat::new(
                ctx.catalogue.unit(LATENCY[1]),
                crate::model::MetricKind::Gauge,
            );
            let latency = Cell {
                value: if lat_values.iter().all(Option::is_none) {
                    "–".into()
                } else {
                    ms.format_joined(&lat_values, lat_values[1].unwrap_or(0.0))
                },
                // The average only: ZooKeeper's min and max latency are kept since the last
                // stats reset, not per interval, so as a band they would only draw a block.
                spark: charter.spark(lat_infos[1]).map(|mut sp| {
                    sp.link = metric_link(&selector_text(&LATENCY, &labels), &range);
                    sp
                }),
            };
            let fd_values = [latest(ctx, first(FDS[0])), latest(ctx, first(FDS[1]))];
            let fds = Cell {
                value: if fd_values.iter().all(Option::is_none) {
                    "–".into()
                } else {
                    ValueFormat::plain().format_joined(&fd_values, fd_values[0].unwrap_or(0.0))
                },
                spark: charter.spark(first(FDS[0])),
            };
            let leader = if s.is_leader() {
                let infos: Vec<Option<&SeriesInfo>> = LEADER
                    .iter()
                    .map(|names| names.iter().find_map(|n| first(n)))
                    .collect();
                let values: Vec<Option<f64>> = infos.iter().map(|i| latest(ctx, *i)).collect();
                Cell {
                    value: ValueFormat::plain().format_joined(&values, 0.0),
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
            format!("{up} of 1 server up · standalone (no leader by design)")
        } else {
            format!(
                "{up} of {} servers up · leader: {}",
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
    let page = ZookeeperPage {
        page: PageCtx::new(ctx, "ZooKeeper", "zookeeper", path, range),
        ensembles,
        columns: COLUMNS.iter().map(|c| c.1).collect(),
    };
    Ok(Html(page.render()?))
}
