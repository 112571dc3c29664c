//! `/prometheus` and `/prometheus/{cluster}/{job}`.

use super::{Endpoint, endpoints};
use crate::model::Matcher;
use crate::web::Ctx;
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::urlencode;
use crate::web::page::PageCtx;
use crate::web::pages::events::EventRow;
use crate::web::pages::{RangeQuery, event_marks, range_events, require_cluster};
use crate::web::planner::{self, EntityQuery, Group, KeyChart, StateChart, StateDef, StateKind};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

#[derive(Template)]
#[template(path = "prometheus/list.html")]
pub struct ListPage {
    pub page: PageCtx,
    pub endpoints: Vec<Endpoint>,
}

pub(crate) async fn list(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let endpoints = endpoints(&ctx, None, &range).await?;
    let page = ListPage {
        page: PageCtx::new(
            &ctx,
            "Prometheus endpoints",
            "prometheus",
            "/prometheus",
            range,
        ),
        endpoints,
    };
    Ok(Html(page.render()?))
}

/// The collector's series of a target: its health, charted first.
const KEY: [KeyChart; 2] = [
    KeyChart {
        title: "Scrape duration",
        members: &[("scrape_duration_seconds", "duration")],
        stats: false,
    },
    KeyChart {
        title: "Samples per scrape",
        members: &[("scrape_samples_scraped", "samples")],
        stats: false,
    },
];

const STATES: [StateDef; 1] = [StateDef {
    metric: "up",
    kind: StateKind::Bool("up", "down"),
    label: "Scrape up",
}];

#[derive(Template)]
#[template(path = "prometheus/target.html")]
pub struct TargetPage {
    pub page: PageCtx,
    pub endpoint: Endpoint,
    pub open_all: bool,
    pub states: Option<StateChart>,
    pub groups: Vec<Group>,
    pub events: Vec<EventRow>,
    pub series_count: usize,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, job)): Path<(String, String)>,
    PageQuery(q): PageQuery<EntityQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let open_all = q.open_all()?;
    require_cluster(&ctx, &cluster)?;
    let endpoint = endpoints(&ctx, Some(&cluster), &range)
        .await?
        .into_iter()
        .find(|e| e.job == job)
        .ok_or_else(|| {
            WebError::NotFound(format!(
                "Cluster {cluster:?} has no Prometheus endpoint named {job:?}."
            ))
        })?;

    let mut infos = ctx.store.select(
        None,
        &[Matcher::eq("cluster", &cluster), Matcher::eq("job", &job)],
    );
    for metric in ["up", "scrape_duration_seconds", "scrape_samples_scraped"] {
        infos.extend(ctx.store.select(
            Some(metric),
            &[
                Matcher::eq("cluster", &cluster),
                Matcher::eq("target", &endpoint.target),
            ],
        ));
    }
    infos.sort_by(|a, b| a.key.cmp(&b.key));
    infos.dedup_by_key(|i| i.id);
    let series_count = infos.len();

    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    let own: Vec<_> = events
        .iter()
        .filter(|e| e.event.subject == endpoint.target || e.event.subject.is_empty())
        .cloned()
        .collect();
    let marks = event_marks(&own);
    let labels = [("cluster", cluster.as_str()), ("job", job.as_str())];
    let planner::PrefixGroups { groups, states } = planner::prefix_groups(
        &ctx,
        infos,
        planner::PrefixLayout {
            key_group: "Scrape",
            key: &KEY,
            states: &STATES,
            own_labels: &["cluster", "job", "instance"],
        },
        &range,
        &marks,
        &labels,
        open_all,
    )
    .await?;
    let page = TargetPage {
        page: PageCtx::new(
            &ctx,
            format!("{job} · {cluster}"),
            "prometheus",
            format!("/prometheus/{}/{}", urlencode(&cluster), urlencode(&job)),
            range.clone(),
        )
        .in_cluster(&cluster)
        .keep("open", if open_all { "all" } else { "" }),
        endpoint,
        open_all,
        states,
        groups,
        events: own.iter().take(30).map(EventRow::new).collect(),
        series_count,
    };
    Ok(Html(page.render()?))
}
