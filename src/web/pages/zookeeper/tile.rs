//! The ZooKeeper tile of the overview, all for the page's range: the ensemble's health with its
//! reasons, servers up, leader (or "standalone") and modes at the range's end; the average
//! request latency and the most outstanding requests over the range; and four charts.

use super::{ensemble_health, zk_servers};
use crate::analysis;
use crate::model::{Matcher, MetricKind};
use crate::store::{SeriesInfo, StoredEvent};
use crate::web::Ctx;
use crate::web::chart::{ChartSpec, SeriesData};
use crate::web::format::{ValueFormat, urlencode};
use crate::web::page::metric_link;
use crate::web::pages::{Charter, event_marks, fetch_ranges, selector_text};
use crate::web::sources::{Tile, TileFuture};
use crate::web::timerange::TimeRange;
use std::collections::BTreeMap;

/// The overview's charts are narrower than the other pages' so that four fit a row.
const CHART: (u32, u32) = (340, 130);

/// Request latency over time (ZooKeeper 3.6+): read and update latency sums and counts.
const LATENCY_SUMS: [&str; 2] = ["zk_sum_readlatency", "zk_sum_updatelatency"];
const LATENCY_COUNTS: [&str; 2] = ["zk_cnt_readlatency", "zk_cnt_updatelatency"];

/// The charts drawn from stored series as they are: (metric, title).
const CHARTS: [(&str, &str); 3] = [
    ("zk_outstanding_requests", "ZooKeeper outstanding requests"),
    ("zk_znode_count", "ZooKeeper znodes"),
    (
        "zk_packets_received",
        "ZooKeeper packets received per second",
    ),
];

pub(super) fn tile<'a>(
    ctx: &'a Ctx,
    cluster: &'a str,
    range: &'a TimeRange,
    events: &'a [StoredEvent],
) -> TileFuture<'a> {
    Box::pin(async move {
        let servers = zk_servers(ctx, cluster, range).await?;
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
        } else if up == 0 {
            "–".to_string()
        } else if leaders.is_empty() {
            "no leader".to_string()
        } else {
            leaders.join(", ")
        };
        let cl = [Matcher::eq("cluster", cluster)];
        let select = |metrics: &[&str]| -> Vec<SeriesInfo> {
            metrics
                .iter()
                .flat_map(|m| ctx.store.select(Some(m), &cl))
                .collect()
        };
        let chart_infos: Vec<Vec<SeriesInfo>> = CHARTS.iter().map(|(m, _)| select(&[m])).collect();
        let sums = select(&LATENCY_SUMS);
        let counts = select(&LATENCY_COUNTS);
        let outstanding = select(&["zk_outstanding_requests"]);
        let ids: Vec<_> = chart_infos
            .iter()
            .flatten()
            .chain(&sums)
            .chain(&counts)
            .map(|i| i.id)
            .collect();
        let data = fetch_ranges(ctx, &ids, range, CHART.0).await?;
        let ranges = |infos: &[SeriesInfo]| -> Vec<&crate::store::SeriesRange> {
            infos.iter().filter_map(|i| data.get(&i.id)).collect()
        };
        let ms = ValueFormat::new(ctx.catalogue.unit(LATENCY_SUMS[0]), MetricKind::Gauge);
        let latency = analysis::mean_from_counters(&ranges(&sums), &ranges(&counts));
        let worst_outstanding = ranges(&outstanding)
            .into_iter()
            .filter_map(analysis::range_stats)
            .map(|s| s.max)
            .reduce(f64::max);
        let facts = vec![
            (
                "Servers up".to_string(),
                format!("{up} / {}", servers.len()),
            ),
            ("Leader".to_string(), leader),
            ("Modes".to_string(), modes),
            (
                "Request latency, range average".to_string(),
                match latency {
                    Some(v) => ms.format(v),
                    None if counts.is_empty() => "not reported (ZooKeeper < 3.6)".into(),
                    None => "no requests".into(),
                },
            ),
            (
                "Most outstanding requests in range".to_string(),
                worst_outstanding.map_or_else(|| "–".into(), |v| ValueFormat::plain().format(v)),
            ),
        ];

        let marks = event_marks(events);
        let charter = Charter {
            catalogue: &ctx.catalogue,
            range,
            data: &data,
            ghost: Some(&data.ghost),
            events: &marks,
            size: CHART,
            hover_px: 2.0,
        };
        let server = |i: &SeriesInfo| i.key.labels.get("server").unwrap_or("?").to_string();
        let labels = [("cluster", cluster)];
        let mut charts = Vec::new();
        // Average request latency per server over time, from the counters (3.6+).
        if !counts.is_empty() {
            // One line per server, from the ranges in `map` (this window's or the earlier one's).
            let lines_of = |map: &std::collections::HashMap<_, crate::store::SeriesRange>| {
                let mut lines = Vec::new();
                for s in &servers {
                    let of = |infos: &[SeriesInfo]| -> Vec<&crate::store::SeriesRange> {
                        infos
                            .iter()
                            .filter(|i| i.key.labels.get("server") == Some(s.server.as_str()))
                            .filter_map(|i| map.get(&i.id))
                            .collect()
                    };
                    let (sr, cr) = (of(&sums), of(&counts));
                    let Some(step) = cr.first().map(|r| r.step_ms) else {
                        continue;
                    };
                    let points = analysis::mean_series_from_counters(&sr, &cr);
                    lines.push(SeriesData::from_values(s.server.clone(), &points, step));
                }
                lines
            };
            let lines = lines_of(&data.now);
            let ghosts = lines_of(&data.ghost);
            let names: Vec<&str> = LATENCY_SUMS
                .iter()
                .chain(&LATENCY_COUNTS)
                .copied()
                .collect();
            charts.push(
                ChartSpec::new(
                    "ZooKeeper request latency (read and update average)",
                    metric_link(&selector_text(&names, &labels), range),
                    CHART,
                    (range.from, range.to),
                    ms,
                    lines,
                )
                .ghosts(ghosts, range.compare.as_ref())
                .events(marks.clone())
                .hover_px(2.0)
                .render(),
            );
        }
        charts.extend(
            CHARTS
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
                }),
        );
        Ok(Some(Tile {
            title: "ZooKeeper".into(),
            link: format!("/zookeeper/{}?{}", urlencode(cluster), range.query()),
            class: health.class,
            reasons: health.reasons,
            facts,
            charts,
            strip: vec![],
        }))
    })
}
