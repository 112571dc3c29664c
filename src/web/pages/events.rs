//! `/events`: the event timeline of the range, filterable by cluster and kind; each event links to
//! the page that explains it, around its time.

use super::{RangeQuery, clusters, event_marks, selector_text};
use crate::store::{EventQuery, StoredEvent};
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartSpec};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, urlencode, utc};
use crate::web::page::{PageCtx, metric_link};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

/// Events listed per page at most (the timeline and the filters narrow it down).
const LIMIT: usize = 2000;
/// Kinds offered in the filter even before they occur: the collector's, operator annotations, and
/// what every source kind of this build declares.
fn known_kinds() -> Vec<String> {
    let mut out: Vec<String> = [
        crate::collector::TARGET_DOWN,
        crate::collector::TARGET_UP,
        "annotation",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    for kind in crate::sources::KINDS {
        out.extend(kind.events.iter().map(|e| e.kind.to_string()));
    }
    out
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct EventsQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub cluster: Option<String>,
    pub kind: Option<String>,
}

pub struct EventRow {
    pub time: String,
    pub severity: &'static str,
    pub cluster: String,
    pub kind: String,
    pub subject: String,
    pub message: String,
    pub link: String,
    /// `/investigate` on the window around the event, for its cluster.
    pub investigate: String,
}

impl EventRow {
    pub fn new(e: &StoredEvent) -> Self {
        EventRow {
            time: utc(e.event.ts),
            severity: e.event.severity.as_str(),
            cluster: e.event.cluster.clone(),
            kind: e.event.kind.clone(),
            subject: e.event.subject.clone(),
            message: e.event.message.clone(),
            link: event_link(e),
            investigate: investigate_link(e),
        }
    }
}

#[derive(Template)]
#[template(path = "events.html")]
pub struct EventsPage {
    pub page: PageCtx,
    pub timeline: Chart,
    pub rows: Vec<EventRow>,
    pub clusters: Vec<String>,
    pub kinds: Vec<String>,
    pub cluster: String,
    pub kind: String,
    pub truncated: bool,
}

/// Where an event is explained, one hour either side of it: the page its source names, the `up`
/// series of a target, or the overview.
pub fn event_link(e: &StoredEvent) -> String {
    let ev = &e.event;
    let around = TimeRange::fixed(ev.ts - 3_600_000, ev.ts + 3_600_000);
    let q = around.query();
    if let Some(link) = crate::web::sources::WEB_SOURCES
        .iter()
        .find_map(|w| (w.event_link)(e, &around))
    {
        link
    } else if ev.kind.starts_with("target_") && !ev.subject.is_empty() {
        let mut labels = vec![("target", ev.subject.as_str())];
        if !ev.cluster.is_empty() {
            labels.push(("cluster", ev.cluster.as_str()));
        }
        metric_link(&selector_text(&["up"], &labels), &around)
    } else if !ev.cluster.is_empty() {
        format!("/?{q}#cluster-{}", urlencode(&ev.cluster))
    } else {
        format!("/?{q}")
    }
}

/// Half the window `/investigate` looks at around an event: long enough for ~100 points at a
/// 15 s scrape, short enough that the event dominates it; the baseline is the 4× longer
/// period before, as in Netdata's metric correlations.
const INVESTIGATE_HALF_MS: i64 = 15 * 60_000;

/// `/investigate` on the event ± 15 min, for the event's cluster when it has one.
pub fn investigate_link(e: &StoredEvent) -> String {
    let ev = &e.event;
    let around = TimeRange::fixed(ev.ts - INVESTIGATE_HALF_MS, ev.ts + INVESTIGATE_HALF_MS);
    if ev.cluster.is_empty() {
        format!("/investigate?{}", around.query())
    } else {
        format!(
            "/investigate?cluster={}&{}",
            urlencode(&ev.cluster),
            around.query()
        )
    }
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<EventsQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let cluster = q.cluster.clone().unwrap_or_default();
    if !cluster.is_empty() {
        super::require_cluster(&ctx, &cluster)?;
    }
    let kind = q.kind.clone().unwrap_or_default();
    let events = ctx
        .store
        .events(&EventQuery {
            start: range.from,
            end: range.to,
            cluster: (!cluster.is_empty()).then(|| cluster.clone()),
            kinds: if kind.is_empty() {
                vec![]
            } else {
                vec![kind.clone()]
            },
            limit: LIMIT + 1,
            ..Default::default()
        })
        .await
        .map_err(|e| WebError::Store(e.to_string()))?;
    let truncated = events.len() > LIMIT;
    let events = &events[..events.len().min(LIMIT)];
    let mut kinds = known_kinds();
    for e in events {
        if !kinds.contains(&e.event.kind) {
            kinds.push(e.event.kind.clone());
        }
    }
    kinds.sort();
    let mut timeline = ChartSpec::new(
        format!("{} events", events.len()),
        format!("/events?{}", range.query()),
        (1000, 70),
        (range.from, range.to),
        ValueFormat::plain(),
        vec![],
    )
    .events(event_marks(events))
    .render();
    // A timeline of ticks only: no value axis, and no "no data" notice over the ticks.
    timeline.y_ticks.clear();
    timeline.empty = events.is_empty();
    crate::web::export::offer_table("events", || {
        use crate::web::export::{Cell, Table};
        let mut t = Table::new(
            "events",
            vec![
                "time",
                "timestamp_ms",
                "severity",
                "cluster",
                "kind",
                "subject",
                "message",
            ],
        );
        for e in events {
            let ev = &e.event;
            t.row(vec![
                crate::web::format::rfc3339(ev.ts).into(),
                Cell::from(ev.ts as f64),
                ev.severity.as_str().into(),
                ev.cluster.as_str().into(),
                ev.kind.as_str().into(),
                ev.subject.as_str().into(),
                ev.message.as_str().into(),
            ]);
        }
        t
    });
    let rows = events.iter().map(EventRow::new).collect();
    let page = EventsPage {
        page: PageCtx::new(&ctx, "Events", "events", "/events", range)
            .keep("cluster", &cluster)
            .keep("kind", &kind),
        timeline,
        rows,
        clusters: clusters(&ctx),
        kinds,
        cluster,
        kind,
        truncated,
    };
    Ok(Html(page.render()?))
}
