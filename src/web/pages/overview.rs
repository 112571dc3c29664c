//! `/`: is every cluster healthy? Per cluster: the health strip (brokers online, active
//! controller, offline/under-replicated/under-min-ISR partitions, unclean elections, ZooKeeper and
//! KRaft quorums, consumer groups by status — [`crate::analysis::health`]), a grid of key charts
//! from [`KEY_PANELS`] (those with data), the top movers against the same range a week earlier
//! ([`crate::analysis::movers`]), the worst health of its sources with their reasons, its targets
//! up and down, and each configured source's tile (see [`crate::web::sources::Tile`]); then the
//! latest events everywhere.

use super::events::EventRow;
use super::{RangeQuery, clusters, range_events};
use crate::analysis::health::{self, Strip};
use crate::analysis::movers::{self, Mover};
use crate::catalogue::Unit;
use crate::web::Ctx;
use crate::web::chart::{Chart, EventMark};
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::format::ValueFormat;
use crate::web::page::PageCtx;
use crate::web::page::metric_link;
use crate::web::panels::{Panel, panel};
use crate::web::sources::{self, Tile, class_rank};
use askama::Template;
use axum::extract::State;
use axum::response::Html;

pub struct ClusterRow {
    pub name: String,
    pub strip: Strip,
    /// The key panels with data, drawn over the range.
    pub charts: Vec<Chart>,
    pub movers: Vec<MoverRow>,
    /// The worst class of its tiles (`unknown` without any).
    pub class: &'static str,
    /// Every tile's reasons, prefixed with the tile's title.
    pub reasons: Vec<String>,
    pub targets_up: usize,
    pub targets_down: usize,
    pub tiles: Vec<Tile>,
}

impl ClusterRow {
    pub fn reasons_text(&self) -> String {
        self.reasons.join(" · ")
    }
}

/// One cluster's health over the range: its health strip, every configured source's tile, the
/// worst of their classes with every reason, and its targets up and down (the overview's row, the
/// portal card); with `detail`, also the key charts and the top movers (the overview only).
pub async fn cluster_row(
    ctx: &Ctx,
    name: String,
    range: &crate::web::timerange::TimeRange,
    events: &[crate::store::StoredEvent],
    detail: bool,
) -> WebResult<ClusterRow> {
    let registry = ctx.targets.snapshot();
    let own: Vec<_> = events
        .iter()
        .filter(|e| e.event.cluster == name)
        .cloned()
        .collect();
    let mut tiles = Vec::new();
    for w in sources::configured(ctx) {
        if let Some(t) = (w.overview)(ctx, &name, range, &own).await? {
            tiles.push(t);
        }
    }
    let targets: Vec<_> = registry.iter().filter(|t| t.cluster == name).collect();
    let strip = health::strip(&ctx.store, &name, range.from, range.to)
        .await
        .map_err(crate::web::panels::query_error)?
        .with(tiles.iter().flat_map(|t| t.strip.iter().cloned()));
    let class = tiles
        .iter()
        .map(|t| t.class)
        .chain(strip.worst().map(|l| l.class()))
        .max_by_key(|c| class_rank(c))
        .unwrap_or("unknown");
    let reasons = tiles
        .iter()
        .flat_map(|t| t.reasons.iter().map(move |r| format!("{}: {r}", t.title)))
        .collect();
    let marks: Vec<EventMark> = super::event_marks(&own);
    let sel = format!("cluster=\"{}\"", crate::web::pages::brokers::q(&name));
    let mut charts = Vec::new();
    if detail {
        for p in KEY_PANELS {
            let c = p.chart(ctx, &sel, range, (300, 90), &marks).await?;
            if !c.empty {
                charts.push(c);
            }
        }
    }
    let movers = if detail {
        movers::top_movers(&ctx.store, &name, range.from, range.to, WEEK_MS, 8)
            .await
            .map_err(crate::web::panels::query_error)?
            .into_iter()
            .map(|m| MoverRow::new(m, &name, range))
            .collect()
    } else {
        Vec::new()
    };
    Ok(ClusterRow {
        strip,
        charts,
        movers,
        targets_up: targets.iter().filter(|t| t.up == Some(true)).count(),
        targets_down: targets.iter().filter(|t| t.up == Some(false)).count(),
        name,
        class,
        reasons,
        tiles,
    })
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub page: PageCtx,
    pub clusters: Vec<ClusterRow>,
    pub events: Vec<EventRow>,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let events = range_events(&ctx, &range, None, 500).await?;
    let mut rows = Vec::new();
    for name in clusters(&ctx) {
        rows.push(cluster_row(&ctx, name, &range, &events, true).await?);
    }
    let latest = events.iter().take(20).map(EventRow::new).collect();
    let page = OverviewPage {
        page: PageCtx::new(&ctx, "Overview", "overview", "/", range),
        clusters: rows,
        events: latest,
    };
    Ok(Html(page.render()?))
}

const WEEK_MS: i64 = 7 * 86_400_000;

/// The overview's key charts of a cluster (`{sel}` is the cluster's matcher); a chart is shown
/// only when its series exist, so a cluster without broker JMX shows the offsets-based ones.
/// ZooKeeper's latency is not among them: the ZooKeeper tile below draws it.
pub const KEY_PANELS: &[Panel] = &[
    panel(
        "Bytes in and out",
        "label_replace(sum(rate(kafka_server_brokertopicmetrics_bytesin_total{{sel},topic=\"\"}[{w}])), \"what\", \"in\", \"\", \"\") or label_replace(sum(rate(kafka_server_brokertopicmetrics_bytesout_total{{sel},topic=\"\"}[{w}])), \"what\", \"out\", \"\", \"\")",
        "what",
        "",
        Unit::Bytes,
        true,
        "All brokers' bytes from producers and to consumers and followers (broker JMX)",
    ),
    panel(
        "Messages in",
        "sum(rate(kafka_server_brokertopicmetrics_messagesin_total{{sel},topic=\"\"}[{w}])) or sum(rate(kafka_topic_partition_current_offset{{sel}}[{w}]))",
        "",
        "",
        Unit::None,
        true,
        "Records produced per second: broker JMX, else the growth of the log-end offsets",
    ),
    panel(
        "Request latency p99",
        "max by (request) (kafka_network_requestmetrics_totaltimems{{sel},request=~\"Produce|FetchConsumer\",quantile=\"0.99\"})",
        "request",
        "",
        Unit::Milliseconds,
        false,
        "The slowest broker's 99th percentile of total request time",
    ),
    panel(
        "Request handler idle (busiest broker)",
        "min(kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent{{sel}})",
        "",
        "",
        Unit::Ratio,
        false,
        "Below 0.3 the broker's request threads are saturated",
    ),
    panel(
        "Total consumer lag",
        "sum(kafka_consumergroup_lag{{sel}})",
        "",
        "",
        Unit::None,
        false,
        "Records not yet consumed, summed over every group and partition",
    ),
    panel(
        "Max consumer lag in seconds",
        "max(kafka_consumergroup_group_max_lag_seconds{{sel}})",
        "",
        "",
        Unit::Seconds,
        false,
        "How far behind the worst group is in time: when the log end was at its committed offset",
    ),
    panel(
        "Page-cache hit ratio",
        "sum(rate(kafkascope_cachestat_hits_total{{sel}}[{w}])) / (sum(rate(kafkascope_cachestat_hits_total{{sel}}[{w}])) + sum(rate(kafkascope_cachestat_misses_total{{sel}}[{w}])))",
        "",
        "",
        Unit::Ratio,
        false,
        "Page-cache lookups that hit, over every host (cachestat)",
    ),
    panel(
        "Reads from disk (page-cache misses)",
        "sum(rate(node_vmstat_pgpgin{{sel}}[{w}])) * 1024",
        "",
        "",
        Unit::Bytes,
        true,
        "Bytes paged in from disk over every host: consumers reading cold data show here",
    ),
    panel(
        "Least free disk space",
        "min(node_filesystem_avail_bytes{{sel}} / node_filesystem_size_bytes{{sel}})",
        "",
        "",
        Unit::Ratio,
        false,
        "The fullest file system of any host, as the share still free",
    ),
];

/// A mover as the page shows it.
pub struct MoverRow {
    pub title: &'static str,
    pub entity_label: &'static str,
    pub entity: String,
    pub now: String,
    pub then: String,
    pub change: String,
    pub up: bool,
    /// The entity's series over the range with last week's as a ghost.
    pub link: String,
}

impl MoverRow {
    fn new(m: Mover, cluster: &str, range: &crate::web::timerange::TimeRange) -> MoverRow {
        let fmt = ValueFormat {
            unit: m.family.unit,
            per_second: m.family.per_second,
        };
        let sel = format!(
            "cluster=\"{}\",{}=\"{}\"",
            crate::web::pages::brokers::q(cluster),
            m.family.entity,
            crate::web::pages::brokers::q(&m.entity)
        );
        let text = m.family.text(&sel, 300);
        MoverRow {
            title: m.family.title,
            entity_label: m.family.entity,
            now: fmt.format(m.now),
            then: m.then.map_or_else(|| "–".into(), |v| fmt.format(v)),
            change: match m.change_pct() {
                Some(p) => format!("{p:+.0} %"),
                None => "new".into(),
            },
            up: m.then.is_none_or(|t| m.now > t),
            link: format!("{}&compare=1w", metric_link(&text, range)),
            entity: m.entity,
        }
    }
}
