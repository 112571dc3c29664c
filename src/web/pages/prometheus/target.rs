//! `/prometheus` and `/prometheus/{cluster}/{job}`.

use super::{Endpoint, endpoints};
use crate::catalogue::MetricType;
use crate::model::Matcher;
use crate::store::{SeriesId, SeriesInfo};
use crate::web::Ctx;
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::urlencode;
use crate::web::page::PageCtx;
use crate::web::pages::events::EventRow;
use crate::web::pages::{
    RangeQuery, SMALL_W, event_marks, fetch_ranges, range_events, require_cluster,
};
use crate::web::planner::{
    self, Draw, EntityQuery, Group, KeyChart, Layout, StateChart, StateDef, StateKind,
};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use std::collections::BTreeSet;

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

/// `node_memory_MemFree_bytes` → `node_memory`; `go_goroutines` → `go`.
fn prefix_of(metric: &str) -> String {
    let parts: Vec<&str> = metric.splitn(3, '_').collect();
    match parts.as_slice() {
        [a, b, _] => format!("{a}_{b}"),
        [a, ..] => a.to_string(),
        [] => String::new(),
    }
}

/// A quantile label as a statistic name: `0.99` → `p99`.
fn quantile_stat(q: &str) -> Option<&'static str> {
    Some(match q {
        "0.5" => "p50",
        "0.9" => "p90",
        "0.95" => "p95",
        "0.99" => "p99",
        "0.999" => "p999",
        _ => return None,
    })
}

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

    // Groups: the scrape's own health, then one per metric prefix.
    let prefixes: BTreeSet<String> = infos
        .iter()
        .map(|i| i.key.metric.as_str())
        .filter(|m| !KEY.iter().any(|k| k.members[0].0 == *m) && *m != "up")
        .map(prefix_of)
        .collect();
    let prefixes: Vec<String> = prefixes.into_iter().collect();
    let mut groups = vec!["Scrape".to_string()];
    groups.extend(prefixes.iter().cloned());
    let group_of = |m: &str| {
        let p = prefix_of(m);
        prefixes.iter().position(|x| *x == p).map_or(0, |i| i + 1)
    };
    let catalogue = ctx.catalogue.clone();
    // A summary's quantiles, sum and count, or a histogram's buckets, sum and count, go together
    // when the target declared the family's type.
    let family_of = move |i: &SeriesInfo| -> Option<(String, String)> {
        let m = i.key.metric.as_str();
        let typed = |base: &str, kinds: &[MetricType]| {
            catalogue
                .get(base)
                .is_some_and(|meta| kinds.contains(&meta.kind))
        };
        if let Some(q) = i.key.labels.get("quantile") {
            return typed(m, &[MetricType::Summary])
                .then(|| quantile_stat(q))
                .flatten()
                .map(|s| (s.to_string(), m.to_string()));
        }
        let both = [MetricType::Summary, MetricType::Histogram];
        if let Some(base) = m.strip_suffix("_bucket") {
            let le = i.key.labels.get("le")?;
            return typed(base, &[MetricType::Histogram])
                .then(|| (format!("le={le}"), base.to_string()));
        }
        for (suffix, stat) in [("_sum", "sum"), ("_count", "cnt")] {
            if let Some(base) = m.strip_suffix(suffix)
                && typed(base, &both)
            {
                return Some((stat.to_string(), base.to_string()));
            }
        }
        None
    };
    let layout = Layout {
        groups,
        key: &KEY,
        states: &STATES,
        group_of: &group_of,
        family_group: 0,
        family_of: &family_of,
        own_labels: &["cluster", "job", "instance"],
    };
    let (state_infos, infos): (Vec<SeriesInfo>, Vec<SeriesInfo>) = infos
        .into_iter()
        .partition(|i| STATES.iter().any(|d| d.metric == i.key.metric));
    let plans = planner::plan(&infos, &layout);
    // Families go to the group of their prefix (the layout's family group is the first).
    let plans: Vec<_> = plans
        .into_iter()
        .map(|mut p| {
            if p.group == 0
                && !KEY.iter().any(|k| k.title == p.title)
                && let Some((first, _)) = p.members.first()
            {
                p.group = group_of(&first.key.metric);
            }
            p
        })
        .collect();

    let ids: Vec<SeriesId> = infos.iter().chain(&state_infos).map(|i| i.id).collect();
    let data = fetch_ranges(&ctx, &ids, &range, SMALL_W).await?;
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    let own: Vec<_> = events
        .iter()
        .filter(|e| e.event.subject == endpoint.target || e.event.subject.is_empty())
        .cloned()
        .collect();
    let marks = event_marks(&own);
    let labels = [("cluster", cluster.as_str()), ("job", job.as_str())];
    let draw = Draw::new(&ctx.catalogue, &range, &data, &marks, &labels);
    let groups = planner::draw_groups(&plans, &layout, &draw, open_all);
    let (_, states) = planner::state_strips(
        &layout,
        &state_infos,
        &data,
        &range,
        &labels,
        5 * 60_000,
        true,
    );
    let page = TargetPage {
        page: PageCtx::new(
            &ctx,
            format!("{job} · {cluster}"),
            "prometheus",
            format!("/prometheus/{}/{}", urlencode(&cluster), urlencode(&job)),
            range.clone(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_the_first_two_words() {
        assert_eq!(prefix_of("node_memory_MemFree_bytes"), "node_memory");
        assert_eq!(prefix_of("go_goroutines"), "go");
        assert_eq!(prefix_of("up"), "up");
        assert_eq!(quantile_stat("0.99"), Some("p99"));
        assert_eq!(quantile_stat("0.75"), None);
    }
}
