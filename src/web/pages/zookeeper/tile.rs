//! The ZooKeeper tile of the overview: the ensemble's health with its reasons, servers up, leader
//! (or "standalone"), modes, worst latency and outstanding requests, and four charts.

use super::{ensemble_health, zk_servers};
use crate::model::Matcher;
use crate::store::{SeriesInfo, StoredEvent};
use crate::web::Ctx;
use crate::web::format::urlencode;
use crate::web::page::metric_link;
use crate::web::pages::{Charter, event_marks, fetch_ranges, selector_text};
use crate::web::sources::{Tile, TileFuture};
use crate::web::timerange::TimeRange;
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

pub(super) fn tile<'a>(
    ctx: &'a Ctx,
    cluster: &'a str,
    range: &'a TimeRange,
    events: &'a [StoredEvent],
) -> TileFuture<'a> {
    Box::pin(async move {
        let servers = zk_servers(ctx, cluster);
        if servers.is_empty() {
            return Ok(None);
        }
        let health = ensemble_health(&servers);
        let up = servers.iter().filter(|s| s.up == Some(true)).count();
        let leaders: Vec<&str> = servers
            .iter()
            .filter(|s| s.is_leader())
            .map(|s| s.server.as_str())
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
        let leader = if health.standalone {
            "standalone".to_string()
        } else if leaders.is_empty() {
            "no leader".to_string()
        } else {
            leaders.join(", ")
        };
        let facts = vec![
            (
                "Servers up".to_string(),
                format!("{up} / {}", servers.len()),
            ),
            ("Leader".to_string(), leader),
            ("Modes".to_string(), modes),
            (
                "Max avg latency".to_string(),
                max_latest(ctx, "zk_avg_latency", cluster),
            ),
            (
                "Max outstanding".to_string(),
                max_latest(ctx, "zk_outstanding_requests", cluster),
            ),
        ];

        let cl = [Matcher::eq("cluster", cluster)];
        let chart_infos: Vec<Vec<SeriesInfo>> = CHARTS
            .iter()
            .map(|(metric, _)| ctx.store.select(Some(metric), &cl))
            .collect();
        let ids: Vec<_> = chart_infos.iter().flatten().map(|i| i.id).collect();
        let data = fetch_ranges(ctx, &ids, range, CHART.0).await?;
        let marks = event_marks(events);
        let charter = Charter {
            catalogue: &ctx.catalogue,
            range,
            data: &data,
            events: &marks,
            size: CHART,
            hover_px: 2.0,
        };
        let server = |i: &SeriesInfo| i.key.labels.get("server").unwrap_or("?").to_string();
        let labels = [("cluster", cluster)];
        let charts = CHARTS
            .iter()
            .zip(&chart_infos)
            .map(|((metric, title), infos)| {
                charter.chart(
                    title.to_string(),
                    metric_link(&selector_text(&[metric], &labels), range),
                    &infos.iter().collect::<Vec<_>>(),
                    server,
                    true,
                )
            })
            .collect();
        Ok(Some(Tile {
            title: "ZooKeeper".into(),
            link: format!("/zookeeper/{}?{}", urlencode(cluster), range.query()),
            class: health.class,
            reasons: health.reasons,
            facts,
            charts,
        }))
    })
}
