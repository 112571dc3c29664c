//! One handler module per page, plus what several pages share: reading the range from the URL,
//! ZooKeeper ensemble facts (servers, modes, zxid, up/down), charts and sparklines from the store.

pub mod brokers;
pub mod catalogue;
pub mod clients;
pub mod consumers;
pub mod embed;
pub mod events;
pub mod explore;
pub mod host;
pub mod investigate;
pub mod metric;
pub mod overview;
pub mod prometheus;
pub mod targets;
pub mod topics;
pub mod trends;
pub mod zookeeper;

use super::Ctx;
use super::chart::{ChartSpec, EventMark, RateHints, SeriesData, Sparkline};
use super::error::{WebError, WebResult};
use super::format::ValueFormat;
use super::page::metric_link;
use super::steps::{Resolution, nice_step};
use super::timerange::TimeRange;
use crate::model::{Labels, MatchOp, Matcher, MetricKind, SeriesKey, now_ms};
use crate::query::Selector;
use crate::store::{EventQuery, SeriesId, SeriesInfo, SeriesRange, StoredEvent};
use std::collections::{BTreeMap, HashMap};

/// The range parameters every page accepts.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RangeQuery {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `refresh=30s`: reload the page this often (live viewing, no JavaScript needed).
    pub refresh: Option<String>,
    /// `compare=1w`: ghost lines of the same window a week (`1d`, `4w`, …) earlier on every chart.
    pub compare: Option<String>,
}

impl RangeQuery {
    /// The range of a page: without a range in the URL, the default fitted to the data (see
    /// [`TimeRange::parse_in`] and [`crate::web::context`]).
    pub fn resolve(&self) -> WebResult<TimeRange> {
        Ok(TimeRange::parse_in(
            self.range.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            now_ms(),
            crate::web::context::DataContext::current(),
        )?
        .with_refresh(self.refresh.as_deref())?
        .with_compare(self.compare.as_deref())?)
    }
}

/// Size of the small charts in grids, in SVG units.
pub const SMALL_W: u32 = 420;
pub const SMALL_H: u32 = 130;

/// Buckets for a chart of `width`: about one per 2 px of the plot.
pub fn points_for(width: u32) -> usize {
    ((width as usize).saturating_sub(66) / 2).max(10)
}

/// The text of a selector for exactly these metrics and labels, e.g. `zk_avg_latency{cluster="lab"}`
/// or `{__name__=~"zk_min_latency|zk_max_latency", cluster="lab"}`.
pub fn selector_text(metrics: &[&str], labels: &[(&str, &str)]) -> String {
    let mut matchers: Vec<Matcher> = Vec::new();
    let metric = match metrics {
        [one] => Some(one.to_string()),
        many => {
            let alt = many
                .iter()
                .map(|m| regex::escape(m))
                .collect::<Vec<_>>()
                .join("|");
            if let Ok(m) = Matcher::new("__name__", MatchOp::Regex, alt) {
                matchers.push(m);
            }
            None
        }
    };
    matchers.extend(labels.iter().map(|(k, v)| Matcher::eq(*k, *v)));
    Selector {
        metric,
        matchers,
        offset_ms: 0,
    }
    .to_string()
}

/// Every cluster: configured ones first, then any other seen in the data.
pub fn clusters(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = ctx.config.clusters.iter().map(|c| c.name.clone()).collect();
    for c in ctx.store.label_values("cluster") {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

pub fn require_cluster(ctx: &Ctx, cluster: &str) -> WebResult<()> {
    if clusters(ctx).iter().any(|c| c == cluster) {
        Ok(())
    } else {
        Err(WebError::NotFound(format!(
            "There is no cluster named {cluster:?}: it is neither configured nor present in the stored data."
        )))
    }
}

/// Chart-ready series from a store range: counters as rates (over partial buckets up to the
/// range's end, with the configured sample interval when the page knows it), labelled by
/// `label`.
pub fn series_data(r: &SeriesRange, label: String, range: &TimeRange) -> SeriesData {
    SeriesData::from_buckets_with(
        label,
        &r.buckets,
        r.step_ms,
        r.series.kind == MetricKind::Counter,
        RateHints {
            interval_ms: range.interval_hint(&r.series.key),
            to: Some(range.to),
        },
    )
    .with_tier(r.tier.as_str())
    .with_link(metric_link(&r.series.key.to_string(), range))
}

/// Events of a range as chart ticks.
pub fn event_marks(events: &[StoredEvent]) -> Vec<EventMark> {
    events
        .iter()
        .map(|e| EventMark {
            ts: e.event.ts,
            text: format!(
                "{}{}: {}",
                e.event.kind,
                if e.event.subject.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.event.subject)
                },
                e.event.message
            ),
            severity: e.event.severity.as_str(),
        })
        .collect()
}

/// Events in the range for a cluster (all clusters when None), newest first.
pub async fn range_events(
    ctx: &Ctx,
    range: &TimeRange,
    cluster: Option<&str>,
    limit: usize,
) -> WebResult<Vec<StoredEvent>> {
    ctx.store
        .events(&EventQuery {
            start: range.from,
            end: range.to,
            cluster: cluster.map(str::to_string),
            limit,
            ..Default::default()
        })
        .await
        .map_err(|e| WebError::Store(e.to_string()))
}

/// Stored series of one page's charts: the range's buckets by series id and, when the page
/// compares (`compare=1w`), the same series' buckets of the earlier window (at their own times).
#[derive(Default)]
pub struct Fetched {
    pub now: HashMap<SeriesId, SeriesRange>,
    pub ghost: HashMap<SeriesId, SeriesRange>,
}

impl std::ops::Deref for Fetched {
    type Target = HashMap<SeriesId, SeriesRange>;
    fn deref(&self) -> &Self::Target {
        &self.now
    }
}

/// Store ranges for `ids` at one bucket per 2 px of `width`, by series id, with the earlier
/// window's when the range compares.
pub async fn fetch_ranges(
    ctx: &Ctx,
    ids: &[SeriesId],
    range: &TimeRange,
    width: u32,
) -> WebResult<Fetched> {
    let now = fetch_ranges_points(ctx, ids, range, points_for(width)).await?;
    let ghost = match range.compared() {
        Some((earlier, _)) => {
            // Only the series drawn now: a series that did not exist then has no ghost.
            let ids: Vec<SeriesId> = ids
                .iter()
                .copied()
                .filter(|i| now.contains_key(i))
                .collect();
            fetch_ranges_points(ctx, &ids, &earlier, points_for(width)).await?
        }
        None => HashMap::new(),
    };
    Ok(Fetched { now, ghost })
}

/// The nice step (see [`steps`](crate::web::steps)) of a chart of `max_points` over `range`.
pub fn chart_step(ctx: &Ctx, range: &TimeRange, max_points: usize) -> i64 {
    Resolution::from_config(&ctx.config).chart_step(range.from, range.to, max_points, now_ms())
}

/// Store ranges for `ids` at the nice step for about `max_points` buckets, by series id.
pub async fn fetch_ranges_points(
    ctx: &Ctx,
    ids: &[SeriesId],
    range: &TimeRange,
    max_points: usize,
) -> WebResult<HashMap<SeriesId, SeriesRange>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let step = chart_step(ctx, range, max_points);
    let mut ranges = query_parallel(ctx, ids, range, step).await?;
    // The store's own retention may be shorter than the configured one: when it had to answer
    // from a tier coarser than the step, ask again at a nice step that tier can fill.
    let coarsest = ranges
        .iter()
        .filter_map(|r| r.tier.resolution_ms())
        .max()
        .unwrap_or(0);
    if coarsest > step {
        let step = nice_step(range.len_ms(), max_points, coarsest);
        ranges = query_parallel(ctx, ids, range, step).await?;
    }
    Ok(ranges.into_iter().map(|r| (r.series.id, r)).collect())
}

/// Series per store query below which a page's read is not split.
const PARALLEL_MIN_SERIES: usize = 128;

/// `query_range_step` of many series split over up to four tasks: a page of hundreds of series
/// (a ZooKeeper server's) spends most of its time decoding chunks, which the store does on the
/// task that asked.
async fn query_parallel(
    ctx: &Ctx,
    ids: &[SeriesId],
    range: &TimeRange,
    step: i64,
) -> WebResult<Vec<SeriesRange>> {
    let store_err = |e: crate::store::StoreError| WebError::Store(e.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores
        .min(4)
        .min(ids.len() / (PARALLEL_MIN_SERIES / 2))
        .max(1);
    if parts == 1 {
        return ctx
            .store
            .query_range_step(ids, range.from, range.to, step, None)
            .await
            .map_err(store_err);
    }
    let (from, to) = (range.from, range.to);
    let tasks: Vec<_> = ids
        .chunks(ids.len().div_ceil(parts))
        .map(|chunk| {
            let store = ctx.store.clone();
            let chunk = chunk.to_vec();
            tokio::spawn(async move { store.query_range_step(&chunk, from, to, step, None).await })
        })
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for t in tasks {
        let part = t
            .await
            .map_err(|e| WebError::Internal(format!("a range read task failed: {e}")))?
            .map_err(store_err)?;
        out.extend(part);
    }
    Ok(out)
}

/// Draws charts and sparklines of stored series fetched for one page and range.
#[derive(Clone, Copy)]
pub struct Charter<'a> {
    /// Where units come from.
    pub catalogue: &'a crate::catalogue::Catalogue,
    pub range: &'a TimeRange,
    pub data: &'a HashMap<SeriesId, SeriesRange>,
    /// The earlier window's ranges when the page compares (see [`Fetched`]).
    pub ghost: Option<&'a HashMap<SeriesId, SeriesRange>>,
    pub events: &'a [EventMark],
    pub size: (u32, u32),
    /// Narrowest hover column (see [`ChartSpec::hover_px`]).
    pub hover_px: f64,
}

impl Charter<'_> {
    /// A series' unit from the catalogue, as a rate when it is a counter.
    pub fn format_of(&self, info: &SeriesInfo) -> ValueFormat {
        ValueFormat::new(self.catalogue.unit(&info.key.metric), info.kind)
    }

    /// A chart with one line per series (in the given order), unit from the first series; min–max
    /// bands unless `bands` is false.
    pub fn chart(
        &self,
        title: String,
        link: String,
        infos: &[&SeriesInfo],
        label_of: impl Fn(&SeriesInfo) -> String,
        bands: bool,
    ) -> super::chart::Chart {
        let format = infos
            .first()
            .map(|i| self.format_of(i))
            .unwrap_or_else(ValueFormat::plain);
        let series = infos
            .iter()
            .filter_map(|i| {
                self.data
                    .get(&i.id)
                    .map(|r| series_data(r, label_of(i), self.range))
            })
            .collect();
        let (ghosts, compare) = match (self.ghost, self.range.compared()) {
            (Some(g), Some((earlier, c))) => (
                infos
                    .iter()
                    .filter_map(|i| g.get(&i.id).map(|r| series_data(r, label_of(i), &earlier)))
                    .collect(),
                Some(c),
            ),
            _ => (Vec::new(), None),
        };
        ChartSpec::new(
            title,
            link,
            self.size,
            (self.range.from, self.range.to),
            format,
            series,
        )
        .ghosts(ghosts, compare)
        .events(self.events.to_vec())
        .hover_px(self.hover_px)
        .bands(bands)
        .render()
    }

    /// A sparkline of one stored series (None when it was not fetched).
    pub fn spark(&self, info: Option<&SeriesInfo>) -> Option<Sparkline> {
        let info = info?;
        let r = self.data.get(&info.id)?;
        let s = series_data(r, info.key.metric.clone(), self.range);
        let fmt = self.format_of(info);
        Some(Sparkline::sized(
            &s,
            self.range.from,
            self.range.to,
            fmt,
            metric_link(&info.key.to_string(), self.range),
            self.size,
        ))
    }
}

/// Series of one ZooKeeper server (or any subject) by metric name.
pub fn by_metric(infos: Vec<SeriesInfo>) -> BTreeMap<String, Vec<SeriesInfo>> {
    let mut m: BTreeMap<String, Vec<SeriesInfo>> = BTreeMap::new();
    for i in infos {
        m.entry(i.key.metric.clone()).or_default().push(i);
    }
    m
}

/// A label set without the given names, for legends (`state="leader"`).
pub fn labels_without(key: &SeriesKey, drop: &[&str]) -> String {
    let l = Labels::from_pairs(key.labels.iter().filter(|(k, _)| !drop.contains(k)));
    if l.is_empty() {
        key.metric.clone()
    } else {
        l.canonical()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_text_parses_back() {
        let one = selector_text(&["zk_avg_latency"], &[("cluster", "lab \"a\"")]);
        assert_eq!(one, r#"zk_avg_latency{cluster="lab \"a\""}"#);
        let many = selector_text(
            &["zk_min_latency", "zk_max_latency"],
            &[("server", "zk1:2181")],
        );
        let sel = crate::query::parse_selector(&many).unwrap();
        assert_eq!(sel.matchers.len(), 2);
        assert!(sel.matchers[0].matches(Some("zk_min_latency")));
        assert!(!sel.matchers[0].matches(Some("zk_avg_latency")));
    }

    #[test]
    fn points_follow_the_width() {
        assert_eq!(points_for(600), 267);
        assert_eq!(points_for(10), 10);
    }
}
