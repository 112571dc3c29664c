//! The pages of scraped Prometheus endpoints: `/prometheus` lists every endpoint of every cluster
//! (up at the range's end, series, last failure), and `/prometheus/{cluster}/{job}` shows every
//! series of one endpoint with the shared entity layout ([`crate::web::planner`]): its scrape
//! health first, then a group per metric prefix (`node_memory`, `go`, `process` …), summaries as
//! quantile lines, histograms as p50/p90/p99 from their buckets, unchanged series in tables.

mod target;

use super::Ctx;
use crate::analysis;
use crate::model::Matcher;
use crate::store::{SeriesInfo, StoredEvent};
use crate::targets::TargetStatus;
use crate::web::error::WebResult;
use crate::web::format::urlencode;
use crate::web::pages::fetch_ranges_points;
use crate::web::sources::{Tile, TileFuture, WebSource};
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;

/// The Prometheus endpoint pages, their navigation entry and overview tile.
pub const WEB: WebSource = WebSource {
    key: "prometheus",
    nav: Some(("prometheus", "Endpoints", "/prometheus")),
    routes,
    overview: tile,
    event_link: |_, _| None,
};

fn routes(router: Router<Ctx>) -> Router<Ctx> {
    router
        .route("/prometheus", get(target::list))
        .route("/prometheus/{cluster}/{job}", get(target::show))
}

/// One scraped endpoint at the end of a range.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub cluster: String,
    pub job: String,
    pub instance: String,
    /// The URL (credentials never appear in it: the config refuses them).
    pub target: String,
    /// Up at the range's end (None: no scrape recorded near it).
    pub up: Option<bool>,
    pub error: Option<String>,
    /// Series stored for it.
    pub series: usize,
}

impl Endpoint {
    pub fn page_path(&self) -> String {
        format!(
            "/prometheus/{}/{}",
            urlencode(&self.cluster),
            urlencode(&self.job)
        )
    }

    pub fn up_class(&self) -> &'static str {
        crate::web::format::up_class(self.up)
    }

    pub fn up_text(&self) -> &'static str {
        crate::web::format::up_text(self.up)
    }
}

fn is_prometheus(t: &TargetStatus) -> bool {
    t.source == "prometheus"
}

/// Every configured endpoint of `cluster` (all clusters when None), with up at the range's end
/// from the stored `up` series.
pub async fn endpoints(
    ctx: &Ctx,
    cluster: Option<&str>,
    range: &TimeRange,
) -> WebResult<Vec<Endpoint>> {
    let registry = ctx.targets.snapshot();
    let targets: Vec<&TargetStatus> = registry
        .iter()
        .filter(|t| is_prometheus(t) && cluster.is_none_or(|c| t.cluster == c))
        .collect();
    let ups: Vec<Vec<SeriesInfo>> = targets
        .iter()
        .map(|t| {
            ctx.store.select(
                Some("up"),
                &[
                    Matcher::eq("cluster", &t.cluster),
                    Matcher::eq("target", &t.target),
                ],
            )
        })
        .collect();
    let ids: Vec<_> = ups.iter().flatten().map(|i| i.id).collect();
    let data = fetch_ranges_points(ctx, &ids, range, 60).await?;
    let lookback = 5 * 60_000;
    let mut out = Vec::new();
    for (t, up) in targets.iter().zip(&ups) {
        let job = t.identity.get("job").unwrap_or(&t.target).to_string();
        let at_end = up
            .iter()
            .filter_map(|i| data.get(&i.id))
            .filter_map(|r| analysis::value_at(r, range.to, lookback.max(3 * t.interval_ms)))
            .find(|v| v.fresh);
        let series = ctx
            .store
            .select(
                None,
                &[Matcher::eq("cluster", &t.cluster), Matcher::eq("job", &job)],
            )
            .len();
        out.push(Endpoint {
            cluster: t.cluster.clone(),
            instance: t.identity.get("instance").unwrap_or("").to_string(),
            target: t.target.clone(),
            up: at_end.map(|v| v.value >= 1.0),
            error: (at_end.is_some_and(|v| v.value < 1.0))
                .then(|| t.last_error.clone())
                .flatten(),
            series,
            job,
        });
    }
    Ok(out)
}

fn tile<'a>(
    ctx: &'a Ctx,
    cluster: &'a str,
    range: &'a TimeRange,
    _events: &'a [StoredEvent],
) -> TileFuture<'a> {
    Box::pin(async move {
        let eps = endpoints(ctx, Some(cluster), range).await?;
        if eps.is_empty() {
            return Ok(None);
        }
        let up = eps.iter().filter(|e| e.up == Some(true)).count();
        let down: Vec<&str> = eps
            .iter()
            .filter(|e| e.up == Some(false))
            .map(|e| e.job.as_str())
            .collect();
        let unknown = eps.iter().filter(|e| e.up.is_none()).count();
        let mut reasons = Vec::new();
        if !down.is_empty() {
            reasons.push(format!("{} down: {}", down.len(), down.join(", ")));
        }
        if unknown > 0 {
            reasons.push(format!(
                "{unknown} without a scrape near the end of the range"
            ));
        }
        let class = if !down.is_empty() && up == 0 {
            "critical"
        } else if !down.is_empty() {
            "warning"
        } else if up == 0 {
            "unknown"
        } else {
            "ok"
        };
        Ok(Some(Tile {
            title: "Prometheus endpoints".into(),
            link: format!("/prometheus?{}", range.query()),
            class,
            reasons,
            facts: vec![
                ("Endpoints up".into(), format!("{up} / {}", eps.len())),
                (
                    "Series".into(),
                    eps.iter().map(|e| e.series).sum::<usize>().to_string(),
                ),
            ],
            charts: vec![],
            strip: vec![],
        }))
    })
}
