//! `/events`: the event timeline of the range, filterable by cluster and kind; each event links to
//! the page that explains it, around its time.

use super::{RangeQuery, chart_step, clusters, event_marks, points_for, selector_text};
use crate::model::Timestamp;
use crate::store::{EventQuery, StoredEvent};
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartSpec, SeriesData};
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
/// The timeline chart's size.
const TIMELINE: (u32, u32) = (1000, 100);
/// The timeline's line (and its ghost's) label.
const COUNT_LINE: &str = "events per bucket";

/// Events per bucket of `step` over `[from, to]` (buckets aligned to the step, empty ones 0),
/// from `events` read newest first with `LIMIT + 1` at most. When that read was cut, the buckets
/// before the oldest one read are left out (gaps) rather than counted short.
fn bucket_counts(
    events: &[StoredEvent],
    from: Timestamp,
    to: Timestamp,
    step: i64,
) -> Vec<(Timestamp, f64)> {
    let step = step.max(1);
    let bucket = |ts: Timestamp| ts.div_euclid(step) * step;
    let first = match events.last() {
        // The oldest event read may share its bucket with events not read: skip that bucket.
        Some(oldest) if events.len() > LIMIT => bucket(oldest.event.ts) + step,
        _ => bucket(from),
    };
    let mut counts: std::collections::BTreeMap<Timestamp, f64> = (0..)
        .map(|i| first + i * step)
        .take_while(|b| *b <= to)
        .map(|b| (b, 0.0))
        .collect();
    for e in events {
        if let Some(n) = counts.get_mut(&bucket(e.event.ts)) {
            *n += 1.0;
        }
    }
    counts.into_iter().collect()
}
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
    let store = &ctx.store;
    let read = |start, end| {
        let q = EventQuery {
            start,
            end,
            cluster: (!cluster.is_empty()).then(|| cluster.clone()),
            kinds: if kind.is_empty() {
                vec![]
            } else {
                vec![kind.clone()]
            },
            limit: LIMIT + 1,
            ..Default::default()
        };
        async move { store.events(&q).await }
    };
    let store_err = |e: crate::store::StoreError| WebError::Store(e.to_string());
    let events = read(range.from, range.to).await.map_err(store_err)?;
    // The timeline's line: events per bucket; with `compare=` the earlier window's counts are
    // its ghost.
    let step = chart_step(&ctx, &range, points_for(TIMELINE.0));
    let counts = SeriesData::from_values(
        COUNT_LINE,
        &bucket_counts(&events, range.from, range.to, step),
        step,
    );
    let ghosts = match range.compared() {
        Some((earlier, _)) => {
            let before = read(earlier.from, earlier.to).await.map_err(store_err)?;
            vec![SeriesData::from_values(
                COUNT_LINE,
                &bucket_counts(&before, earlier.from, earlier.to, step),
                step,
            )]
        }
        None => Vec::new(),
    };
    let truncated = events.len() > LIMIT;
    let events = &events[..events.len().min(LIMIT)];
    let mut kinds = known_kinds();
    for e in events {
        if !kinds.contains(&e.event.kind) {
            kinds.push(e.event.kind.clone());
        }
    }
    kinds.sort();
    let timeline = ChartSpec::new(
        format!("{} events", events.len()),
        format!("/events?{}", range.query()),
        TIMELINE,
        (range.from, range.to),
        ValueFormat::plain(),
        vec![counts],
    )
    .ghosts(ghosts, range.compare.as_ref())
    .events(event_marks(events))
    .bands(false)
    .render();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Severity};

    fn at(ts: Timestamp) -> StoredEvent {
        StoredEvent {
            id: ts,
            event: Event {
                ts,
                kind: "k".into(),
                severity: Severity::Info,
                cluster: "c".into(),
                subject: String::new(),
                message: String::new(),
            },
        }
    }

    #[test]
    fn events_are_counted_per_bucket_with_empty_buckets_zero() {
        // Newest first, as the store answers.
        let evs = [at(250), at(120), at(110)];
        assert_eq!(
            bucket_counts(&evs, 50, 300, 100),
            vec![(0, 0.0), (100, 2.0), (200, 1.0), (300, 0.0)]
        );
    }

    #[test]
    fn a_cut_read_leaves_out_the_buckets_it_did_not_read_whole() {
        // LIMIT + 1 events, the oldest in bucket 100: buckets 0 and 100 are left out.
        let evs: Vec<StoredEvent> = (0..=LIMIT as i64).rev().map(|i| at(150 + i)).collect();
        let counts = bucket_counts(&evs, 0, 2_300, 100);
        assert_eq!(counts[0].0, 200, "starts after the oldest read bucket");
        // Control: the same events not cut count from the range's first bucket.
        let whole = bucket_counts(&evs[..LIMIT], 0, 2_300, 100);
        assert_eq!(whole[0], (0, 0.0));
    }
}
