//! `/zookeeper` and `/zookeeper/{cluster}`: the ensemble like zktop, with history. One row per
//! configured server (also those never reached, shown down with the registry's error): mode,
//! zxid, latency min/avg/max, outstanding requests, connections, znodes, watches, ephemerals,
//! file descriptors, and on the leader followers / synced followers / pending syncs; every number
//! with a sparkline over the range.

use super::events::EventRow;
use super::{
    Charter, RangeQuery, ZkServer, by_metric, clusters, fetch_ranges, range_events,
    require_cluster, selector_text, series_data, zk_servers,
};
use crate::model::{MatchOp, Matcher};
use crate::store::{SeriesId, SeriesInfo, SeriesRange};
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::WebResult;
use crate::web::format::{ValueFormat, urlencode};
use crate::web::page::{PageCtx, metric_link};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use std::collections::{BTreeMap, HashMap};

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
/// Leader-only columns; `zk_learners` is the 3.6+ name of `zk_followers`.
const LEADER: [(&[&str], &str); 3] = [
    (&["zk_learners", "zk_followers"], "Followers"),
    (&["zk_synced_followers"], "Synced"),
    (&["zk_pending_syncs"], "Pending syncs"),
];

/// A table cell: the newest value and a sparkline over the range.
pub struct Cell {
    pub value: String,
    pub spark: Option<Sparkline>,
}

impl Cell {
    fn empty() -> Cell {
        Cell {
            value: "–".into(),
            spark: None,
        }
    }
}

pub struct ServerRow {
    pub s: ZkServer,
    pub latency: Cell,
    pub cells: Vec<Cell>,
    pub fds: Cell,
    pub leader: Vec<Cell>,
}

pub struct Ensemble {
    pub cluster: String,
    pub link: String,
    pub rows: Vec<ServerRow>,
    pub summary: String,
    pub events: Vec<EventRow>,
}

#[derive(Template)]
#[template(path = "zookeeper.html")]
pub struct ZookeeperPage {
    pub page: PageCtx,
    pub ensembles: Vec<Ensemble>,
    pub columns: Vec<&'static str>,
    pub leader_columns: Vec<&'static str>,
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

fn latest_text(ctx: &Ctx, info: Option<&SeriesInfo>) -> String {
    let Some(info) = info else {
        return "–".into();
    };
    match ctx.store.latest(&[info.id]).first().copied().flatten() {
        Some((_, v)) => ValueFormat::for_series(&info.key.metric, info.kind).format(v),
        None => "–".into(),
    }
}

/// One sparkline drawing avg latency with the band from min latency's minimum to max latency's
/// maximum in each bucket.
fn latency_spark(
    infos: [Option<&SeriesInfo>; 3],
    data: &HashMap<SeriesId, SeriesRange>,
    range: &TimeRange,
    link: String,
) -> Option<Sparkline> {
    let avg = data.get(&infos[1]?.id)?;
    let mut s = series_data(avg, "latency".into(), range);
    let lookup = |i: Option<&SeriesInfo>| -> HashMap<i64, (f64, f64)> {
        i.and_then(|i| data.get(&i.id))
            .map(|r| r.buckets.iter().map(|b| (b.ts, (b.min, b.max))).collect())
            .unwrap_or_default()
    };
    let (mins, maxs) = (lookup(infos[0]), lookup(infos[2]));
    for p in &mut s.points {
        if let Some((lo, _)) = mins.get(&p.ts) {
            p.min = p.min.min(*lo);
        }
        if let Some((_, hi)) = maxs.get(&p.ts) {
            p.max = p.max.max(*hi);
        }
    }
    Some(Sparkline::new(
        &s,
        range.from,
        range.to,
        ValueFormat::for_series("zk_avg_latency", avg.series.kind),
        link,
    ))
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
        .chain(LEADER.iter().flat_map(|l| l.0.iter().copied()))
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
    let data = fetch_ranges(ctx, &ids, &range, Sparkline::WIDTH).await?;
    let charter = Charter {
        range: &range,
        data: &data,
        events: &[],
        size: (Sparkline::WIDTH, Sparkline::HEIGHT),
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
            let latency = Cell {
                value: lat_infos
                    .iter()
                    .map(|i| latest_text(ctx, *i))
                    .collect::<Vec<_>>()
                    .join(" / "),
                spark: latency_spark(
                    lat_infos,
                    &data,
                    &range,
                    metric_link(&selector_text(&LATENCY, &labels), &range),
                ),
            };
            let fds = Cell {
                value: format!(
                    "{} / {}",
                    latest_text(ctx, first(FDS[0])),
                    latest_text(ctx, first(FDS[1]))
                ),
                spark: charter.spark(first(FDS[0])),
            };
            let leader = if s.is_leader() {
                LEADER
                    .iter()
                    .map(|(names, _)| {
                        names
                            .iter()
                            .find(|n| first(n).is_some())
                            .map(|n| cell(n))
                            .unwrap_or_else(Cell::empty)
                    })
                    .collect()
            } else {
                Vec::new()
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
        let summary = format!(
            "{up} of {} servers up · leader: {}",
            rows.len(),
            if leaders.is_empty() {
                "none".to_string()
            } else {
                leaders.join(", ")
            }
        );
        let events = range_events(ctx, &range, Some(&cluster), 20).await?;
        ensembles.push(Ensemble {
            link: format!("/zookeeper/{}?{}", urlencode(&cluster), range.query()),
            cluster,
            rows,
            summary,
            events: events.iter().map(EventRow::new).collect(),
        });
    }
    let page = ZookeeperPage {
        page: PageCtx::new("ZooKeeper", "zookeeper", path, range),
        ensembles,
        columns: COLUMNS.iter().map(|c| c.1).collect(),
        leader_columns: LEADER.iter().map(|c| c.1).collect(),
    };
    Ok(Html(page.render()?))
}
