//! `/`: is every cluster healthy? Per cluster: the worst health of its sources with their reasons,
//! its targets up and down, and each configured source's tile (facts and charts over the range,
//! see [`crate::web::sources::Tile`]); then the latest events everywhere.

use super::events::EventRow;
use super::{RangeQuery, clusters, range_events};
use crate::web::Ctx;
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::page::PageCtx;
use crate::web::sources::{self, Tile, class_rank};
use askama::Template;
use axum::extract::State;
use axum::response::Html;

pub struct ClusterRow {
    pub name: String,
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

/// One cluster's health over the range: every configured source's tile, the worst of their
/// classes with every reason, and its targets up and down (the overview's row, the portal card).
pub async fn cluster_row(
    ctx: &Ctx,
    name: String,
    range: &crate::web::timerange::TimeRange,
    events: &[crate::store::StoredEvent],
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
    let class = tiles
        .iter()
        .map(|t| t.class)
        .max_by_key(|c| class_rank(c))
        .unwrap_or("unknown");
    let reasons = tiles
        .iter()
        .flat_map(|t| t.reasons.iter().map(move |r| format!("{}: {r}", t.title)))
        .collect();
    Ok(ClusterRow {
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
        rows.push(cluster_row(&ctx, name, &range, &events).await?);
    }
    let latest = events.iter().take(20).map(EventRow::new).collect();
    let page = OverviewPage {
        page: PageCtx::new(&ctx, "Overview", "overview", "/", range),
        clusters: rows,
        events: latest,
    };
    Ok(Html(page.render()?))
}
