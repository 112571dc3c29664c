//! `/`: is every cluster healthy now? Per cluster: its ZooKeeper ensemble (health with its
//! reasons, servers up, leader — or "standalone" —, modes, worst latency, outstanding requests),
//! its targets up/down, four charts over the range (latency, outstanding requests, znodes,
//! packets received per second); and the latest events everywhere.

use super::events::EventRow;
use super::{
    Charter, EnsembleHealth, RangeQuery, ZkServer, clusters, ensemble_health, event_marks,
    fetch_ranges, range_events, selector_text, zk_servers,
};
use crate::model::Matcher;
use crate::store::SeriesInfo;
use crate::web::Ctx;
use crate::web::chart::Chart;
use crate::web::error::WebResult;
use crate::web::format::urlencode;
use crate::web::page::{PageCtx, metric_link};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use std::collections::BTreeMap;

/// The overview's charts are narrower than the other pages' so that four fit a row.
const CHART: (u32, u32) = (340, 130);

/// The charts of each cluster: (metric, title).
const CHARTS: [(&str, &str); 4] = [
    ("zk_avg_latency", "ZooKeeper average latency"),
    ("zk_outstanding_requests", "ZooKeeper outstanding requests"),
    ("zk_znode_count", "ZooKeeper znodes"),
    (
        "zk_packets_received",
        "ZooKeeper packets received per second",
    ),
];

pub struct ClusterRow {
    pub name: String,
    pub link: String,
    pub servers: Vec<ZkServer>,
    pub servers_up: usize,
    pub leaders: Vec<String>,
    pub modes: String,
    pub max_latency: String,
    pub max_outstanding: String,
    pub targets_up: usize,
    pub targets_down: usize,
    pub health: EnsembleHealth,
    pub charts: Vec<Chart>,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub page: PageCtx,
    pub clusters: Vec<ClusterRow>,
    pub events: Vec<EventRow>,
}

/// The largest newest value of `metric` across a cluster's series, formatted.
fn max_latest(ctx: &Ctx, metric: &str, cluster: &str) -> String {
    let infos = ctx
        .store
        .select(Some(metric), &[Matcher::eq("cluster", cluster)]);
    let ids: Vec<_> = infos.iter().map(|i| i.id).collect();
    let max = ctx
        .store
        .latest(&ids)
        .into_iter()
        .flatten()
        .map(|l| l.1)
        .reduce(f64::max);
    match (max, infos.first()) {
        (Some(v), Some(i)) => ctx.format_of(i).format(v),
        _ => "–".into(),
    }
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Query(q): Query<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let events = range_events(&ctx, &range, None, 500).await?;
    let registry = ctx.targets.snapshot();
    let mut rows = Vec::new();
    let mut chart_series: Vec<(String, Vec<Vec<SeriesInfo>>)> = Vec::new();
    for name in clusters(&ctx) {
        let servers = zk_servers(&ctx, &name);
        let servers_up = servers.iter().filter(|s| s.up == Some(true)).count();
        let leaders: Vec<String> = servers
            .iter()
            .filter(|s| s.is_leader())
            .map(|s| s.server.clone())
            .collect();
        let mut modes: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &servers {
            *modes.entry(s.mode_class()).or_default() += 1;
        }
        let modes = modes
            .iter()
            .map(|(m, n)| format!("{n} {m}"))
            .collect::<Vec<_>>()
            .join(" · ");
        let targets: Vec<_> = registry.iter().filter(|t| t.cluster == name).collect();
        let targets_up = targets.iter().filter(|t| t.up == Some(true)).count();
        let targets_down = targets.iter().filter(|t| t.up == Some(false)).count();
        let health = ensemble_health(&servers);
        let cl = [Matcher::eq("cluster", &name)];
        chart_series.push((
            name.clone(),
            CHARTS
                .iter()
                .map(|(metric, _)| ctx.store.select(Some(metric), &cl))
                .collect(),
        ));
        rows.push(ClusterRow {
            link: format!("/zookeeper/{}?{}", urlencode(&name), range.query()),
            max_latency: max_latest(&ctx, "zk_avg_latency", &name),
            max_outstanding: max_latest(&ctx, "zk_outstanding_requests", &name),
            name,
            servers_up,
            leaders,
            modes,
            targets_up,
            targets_down,
            health,
            servers,
            charts: Vec::new(),
        });
    }
    let ids: Vec<_> = chart_series
        .iter()
        .flat_map(|(_, charts)| charts.iter().flatten().map(|i| i.id))
        .collect();
    let data = fetch_ranges(&ctx, &ids, &range, CHART.0).await?;
    for (row, (name, charts)) in rows.iter_mut().zip(&chart_series) {
        let marks = event_marks(
            &events
                .iter()
                .filter(|e| e.event.cluster == *name)
                .cloned()
                .collect::<Vec<_>>(),
        );
        let charter = Charter {
            catalogue: &ctx.catalogue,
            range: &range,
            data: &data,
            events: &marks,
            size: CHART,
            hover_px: 2.0,
        };
        let server = |i: &SeriesInfo| i.key.labels.get("server").unwrap_or("?").to_string();
        let cl = [("cluster", name.as_str())];
        for ((metric, title), infos) in CHARTS.iter().zip(charts) {
            row.charts.push(charter.chart(
                title.to_string(),
                metric_link(&selector_text(&[metric], &cl), &range),
                &infos.iter().collect::<Vec<_>>(),
                server,
                true,
            ));
        }
    }
    let latest = events.iter().take(20).map(EventRow::new).collect();
    let page = OverviewPage {
        page: PageCtx::new("Overview", "overview", "/", range),
        clusters: rows,
        events: latest,
    };
    Ok(Html(page.render()?))
}
