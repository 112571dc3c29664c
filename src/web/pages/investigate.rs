//! `/investigate?from=&to=[&baseline=4x][&cluster=][&method=ks|volume][&top=12][&query=][&with=]`:
//! "what changed together". The range is the window under investigation; the baseline is the
//! period just before it, `baseline` times as long. Every stored series of the cluster (the
//! collector's own `scrape_*` series left out; counters as rates, gauges as values) is read in
//! one batched store read over baseline and window at one step (~100 points per window), scored
//! by [`crate::analysis::correlate`] (Netdata's KS2 or volume method) and the top N are drawn as
//! small multiples with the baseline shaded and the window's events. With `query=<series>` the
//! page adds Pearson's r and the best lagged cross-correlation between that series and every
//! other top series; with `with=<series>` too, both are overlaid on one chart, normalised.

use super::{RangeQuery, clusters, event_marks, points_for, range_events, series_data};
use crate::analysis::correlate::{self, Candidate, Method, VolumeKind};
use crate::duration::format_signed_ms;
use crate::model::{Matcher, now_ms};
use crate::query::parse_selector;
use crate::store::{SeriesId, SeriesInfo, SeriesRange};
use crate::web::Ctx;
use crate::web::chart::{Before, Chart, ChartPoint, ChartSpec, EventMark, SeriesData};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, urlencode, utc_minutes};
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::events::EventRow;
use crate::web::steps::{Resolution, nice_step};
use crate::web::timerange::{Compare, TimeRange};
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::HashMap;

/// Points the window is divided into (the step is the nicest one near this; 60–125 points).
const WINDOW_POINTS: usize = 100;
const DEFAULT_TOP: usize = 12;
const MAX_TOP: usize = 100;
const DEFAULT_BASELINE: u32 = 4;
const MAX_BASELINE: u32 = 16;
const SMALL: (u32, u32) = (420, 130);
const BIG: (u32, u32) = (1000, 260);
/// Events listed and ticked at most.
const MAX_EVENTS: usize = 200;

#[derive(Debug, Default, serde::Deserialize)]
pub struct InvestigateQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub baseline: Option<String>,
    pub cluster: Option<String>,
    pub method: Option<String>,
    pub top: Option<String>,
    pub query: Option<String>,
    pub with: Option<String>,
}

/// The page's parameters, checked: every bad one is a 400 that names it.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub baseline: u32,
    pub method: Method,
    pub top: usize,
    pub query: String,
    pub with: String,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Params {
    pub fn parse(q: &InvestigateQuery) -> WebResult<Params> {
        let bad = |m: String| WebError::BadRequest(m);
        let baseline = match nonempty(&q.baseline) {
            None => DEFAULT_BASELINE,
            Some(t) => t
                .strip_suffix('x')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=MAX_BASELINE).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "baseline: {t:?} is not a multiple of the window like 4x (1x to {MAX_BASELINE}x)"
                    ))
                })?,
        };
        let method = match nonempty(&q.method) {
            None => Method::Ks,
            Some(t) => Method::parse(t)
                .ok_or_else(|| bad(format!("method: {t:?} is not one of ks, volume")))?,
        };
        let top = match nonempty(&q.top) {
            None => DEFAULT_TOP,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_TOP).contains(n))
                .ok_or_else(|| bad(format!("top: {t:?} is not a number from 1 to {MAX_TOP}")))?,
        };
        let with = nonempty(&q.with).unwrap_or_default().to_string();
        let query = nonempty(&q.query).unwrap_or_default().to_string();
        if !with.is_empty() && query.is_empty() {
            return Err(bad(
                "with: needs query= too (the series to compare it with)".into(),
            ));
        }
        Ok(Params {
            baseline,
            method,
            top,
            query,
            with,
        })
    }
}

/// One ranked series.
pub struct ResultRow {
    pub rank: usize,
    pub name: String,
    pub chart: Chart,
    pub score: String,
    pub weight: String,
    pub kind: &'static str,
    pub baseline_mean: String,
    pub window_mean: String,
    pub metric_link: String,
    pub focus_link: String,
}

/// A top series against the `query` series.
pub struct CorrRow {
    pub name: String,
    pub r: String,
    pub lag: String,
    pub lag_r: String,
    pub with_link: String,
    pub metric_link: String,
    pub selected: bool,
}

/// The `query` series and how the top series move with it.
pub struct Focus {
    pub name: String,
    pub chart: Chart,
    pub rows: Vec<CorrRow>,
    pub max_lag: String,
    pub clear_link: String,
}

/// `query` and `with` overlaid.
pub struct Pair {
    pub chart: Chart,
    pub r: String,
    pub lag: String,
    pub lag_r: String,
}

#[derive(Template)]
#[template(path = "investigate.html")]
pub struct InvestigatePage {
    pub page: PageCtx,
    pub clusters: Vec<String>,
    pub cluster: String,
    pub method: &'static str,
    pub baseline: u32,
    pub baselines: Vec<u32>,
    pub top: usize,
    pub window_text: String,
    pub baseline_text: String,
    pub step_text: String,
    pub tier: String,
    /// Series of the cluster considered, scored (enough data), and ranked (changed at all).
    pub candidates: usize,
    pub scored: usize,
    pub ranked: usize,
    /// Why there is nothing to rank, when there is not.
    pub nothing: String,
    pub results: Vec<ResultRow>,
    pub events: Vec<EventRow>,
    pub focus: Option<Focus>,
    pub pair: Option<Pair>,
}

/// The series of one cluster that the ranking considers: everything stored with its `cluster`
/// label except the collector's own bookkeeping (`scrape_*`), whose changes say nothing about
/// Kafka or ZooKeeper.
pub fn candidates(ctx: &Ctx, cluster: &str) -> Vec<SeriesInfo> {
    ctx.store
        .select(None, &[Matcher::eq("cluster", cluster)])
        .into_iter()
        .filter(|i| !i.key.metric.starts_with("scrape_"))
        .collect()
}

/// Baseline and window on one grid of `step`: `start` is aligned down to the step, the window
/// begins at bucket `split`.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub split: usize,
    pub len: usize,
}

impl Grid {
    pub fn new(window: &TimeRange, baseline: u32, step: i64) -> Grid {
        let align = |t: i64| t - t.rem_euclid(step);
        let start = align(window.from - i64::from(baseline) * window.len_ms());
        let boundary = align(window.from);
        let len = ((window.to - start) / step + 1) as usize;
        Grid {
            start,
            end: window.to,
            step,
            split: ((boundary - start) / step) as usize,
            len,
        }
    }

    /// The drawn values (rates for counters) of a series on the grid, NaN where it has none.
    fn values(&self, data: &SeriesData) -> Vec<f64> {
        let mut out = vec![f64::NAN; self.len];
        for p in &data.points {
            let i = (p.ts - self.start).div_euclid(self.step);
            if (0..self.len as i64).contains(&i) && p.avg.is_finite() {
                out[i as usize] = p.avg;
            }
        }
        out
    }
}

/// One series read over the grid: its chart data and its values.
struct Read {
    info: SeriesInfo,
    data: SeriesData,
    values: Vec<f64>,
}

/// The one batched read: all candidates over baseline and window at the grid's step. When the
/// store answers from a tier coarser than the step (retention dropped the finer one), the grid
/// is rebuilt at a step that tier can fill and read again.
async fn read_all(
    ctx: &Ctx,
    infos: Vec<SeriesInfo>,
    window: &TimeRange,
    baseline: u32,
) -> WebResult<(Grid, Vec<Read>, String)> {
    let now = now_ms();
    let span_from = window.from - i64::from(baseline) * window.len_ms();
    let finest = Resolution::from_config(&ctx.config).finest_at(span_from, now);
    let mut grid = Grid::new(
        window,
        baseline,
        nice_step(window.len_ms(), WINDOW_POINTS, finest),
    );
    let ids: Vec<_> = infos.iter().map(|i| i.id).collect();
    let span = |g: &Grid| TimeRange::fixed(g.start, g.end);
    let mut ranges: Vec<SeriesRange> = if ids.is_empty() {
        Vec::new()
    } else {
        super::query_parallel(ctx, &ids, &span(&grid), grid.step).await?
    };
    let coarsest = ranges
        .iter()
        .filter_map(|r| r.tier.resolution_ms())
        .max()
        .unwrap_or(0);
    if coarsest > grid.step {
        grid = Grid::new(
            window,
            baseline,
            nice_step(window.len_ms(), WINDOW_POINTS, coarsest),
        );
        ranges = super::query_parallel(ctx, &ids, &span(&grid), grid.step).await?;
    }
    let mut tiers: Vec<&str> = ranges.iter().map(|r| r.tier.as_str()).collect();
    tiers.sort_unstable();
    tiers.dedup();
    let tier = tiers.join(", ");
    let span_range = span(&grid);
    let by_id: std::collections::HashMap<_, _> = ranges.iter().map(|r| (r.series.id, r)).collect();
    let reads = infos
        .into_iter()
        .filter_map(|info| {
            let r = by_id.get(&info.id)?;
            let data = series_data(r, info.key.to_string(), &span_range);
            let values = grid.values(&data);
            Some(Read { info, data, values })
        })
        .collect();
    Ok((grid, reads, tier))
}

fn mean(v: &[f64]) -> Option<f64> {
    let (s, n) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// What every chart of the page shares: the span's grid, the event ticks, the baseline factor,
/// and with `compare=` the earlier span's data of the drawn series (at their own times).
struct Frame<'a> {
    grid: &'a Grid,
    marks: &'a [EventMark],
    baseline: u32,
    compare: Option<&'a Compare>,
    earlier: &'a HashMap<SeriesId, SeriesData>,
}

/// The span `compare` earlier of the series `reads` (for ghost lines), at the grid's step.
async fn read_earlier(
    ctx: &Ctx,
    reads: &[&Read],
    grid: &Grid,
    window: &TimeRange,
) -> WebResult<HashMap<SeriesId, SeriesData>> {
    let Some(c) = &window.compare else {
        return Ok(HashMap::new());
    };
    let ids: Vec<SeriesId> = reads.iter().map(|r| r.info.id).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let span = TimeRange::fixed(grid.start - c.ms, grid.end - c.ms);
    let ranges = super::query_parallel(ctx, &ids, &span, grid.step).await?;
    Ok(ranges
        .iter()
        .map(|r| (r.series.id, series_data(r, r.series.key.to_string(), &span)))
        .collect())
}

impl Frame<'_> {
    /// A chart of the whole span with the baseline shaded and labelled.
    fn chart(
        &self,
        title: String,
        link: String,
        size: (u32, u32),
        format: ValueFormat,
        lines: Vec<SeriesData>,
        ghost_of: &[SeriesId],
    ) -> Chart {
        let earlier = ghost_of
            .iter()
            .filter_map(|id| self.earlier.get(id))
            .cloned()
            .collect();
        self.chart_with_ghosts(title, link, size, format, lines, earlier)
    }

    /// [`Frame::chart`] with the ghosts' data given (at their own, earlier times).
    fn chart_with_ghosts(
        &self,
        title: String,
        link: String,
        size: (u32, u32),
        format: ValueFormat,
        lines: Vec<SeriesData>,
        earlier: Vec<SeriesData>,
    ) -> Chart {
        let g = self.grid;
        let lines = lines
            .iter()
            .map(|l| coarsen(l, g, points_for(size.0)))
            .collect();
        // Ghosts are coarsened on this span's grid (moved onto it and back).
        let ghosts = match self.compare {
            Some(c) => earlier
                .into_iter()
                .map(|e| {
                    coarsen(&e.shifted_forward(c.ms), g, points_for(size.0)).shifted_forward(-c.ms)
                })
                .collect(),
            None => Vec::new(),
        };
        // The ranked small multiples are dozens on one page: wider hover columns (each still
        // reporting its buckets' min and max) keep it light.
        let hover_px = if size.0 <= SMALL.0 { 20.0 } else { 8.0 };
        let mut chart = ChartSpec::new(title, link, size, (g.start, g.end), format, lines)
            .ghosts(ghosts, self.compare)
            .events(self.marks.to_vec())
            .hover_px(hover_px)
            .render();
        let frac = g.split as f64 * g.step as f64 / (g.end - g.start).max(1) as f64;
        chart.before = Some(Before {
            x: chart.plot_w * frac,
            pct: frac * 100.0,
            text: format!("baseline ({}× the window)", self.baseline),
            label: frac > 0.3,
        });
        chart
    }
}

/// The analysis step gives ~100 points per window, so 500 over a 4× baseline: more than a small
/// chart has pixels. For drawing, merge runs of `k` grid buckets (average of the averages, the
/// extremes of the extremes, the last last) so a chart gets at most `max_points`.
fn coarsen(data: &SeriesData, grid: &Grid, max_points: usize) -> SeriesData {
    let k = grid.len.div_ceil(max_points.max(1)).max(1) as i64;
    if k == 1 {
        return data.clone();
    }
    let wide = grid.step * k;
    let mut points: Vec<ChartPoint> = Vec::new();
    let mut n = 0.0;
    for p in &data.points {
        let ts = grid.start + (p.ts - grid.start).div_euclid(wide) * wide;
        match points.last_mut() {
            Some(last) if last.ts == ts => {
                n += 1.0;
                last.avg += (p.avg - last.avg) / n;
                last.min = last.min.min(p.min);
                last.max = last.max.max(p.max);
                last.last = p.last;
            }
            _ => {
                n = 1.0;
                points.push(ChartPoint { ts, ..*p });
            }
        }
    }
    SeriesData {
        points,
        step_ms: wide,
        ..data.clone()
    }
}

/// Min–max normalised copy of a series' values (0 = its lowest, 1 = its highest in the span).
fn normalised(values: &[f64]) -> Vec<f64> {
    let scale = Scale::of(values);
    values.iter().map(|x| scale.apply(*x)).collect()
}

/// The lowest and highest finite value of a span, mapped to 0 and 1.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
}

impl Scale {
    fn of(values: &[f64]) -> Scale {
        let (lo, hi) = values
            .iter()
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
                (l.min(*x), h.max(*x))
            });
        Scale { lo, hi }
    }

    fn apply(&self, x: f64) -> f64 {
        let span = self.hi - self.lo;
        if !x.is_finite() {
            f64::NAN
        } else if span > 0.0 && span.is_finite() {
            (x - self.lo) / span
        } else {
            0.5
        }
    }

    /// An earlier span's line on this span's scale (so a ghost above 1 was higher than
    /// anything in this span).
    fn line(&self, data: &SeriesData, label: &str) -> SeriesData {
        SeriesData {
            label: label.to_string(),
            points: data
                .points
                .iter()
                .map(|p| ChartPoint {
                    ts: p.ts,
                    avg: self.apply(p.avg),
                    min: self.apply(p.min),
                    max: self.apply(p.max),
                    last: self.apply(p.last),
                })
                .collect(),
            ..data.clone()
        }
    }
}

fn fmt_r(r: Option<f64>) -> String {
    r.map(|r| format!("{r:+.3}")).unwrap_or_else(|| "–".into())
}

fn lag_text(lag: isize, step: i64) -> String {
    if lag == 0 {
        "0 (together)".into()
    } else {
        let ms = lag as i64 * step;
        format!(
            "{}{} ({} {})",
            if ms > 0 { "+" } else { "" },
            format_signed_ms(ms),
            lag.unsigned_abs(),
            if lag.unsigned_abs() == 1 {
                "step"
            } else {
                "steps"
            }
        )
    }
}

/// A series named by a selector among the candidates: exactly one must match.
fn pick<'a>(reads: &'a [Read], param: &str, text: &str, cluster: &str) -> WebResult<&'a Read> {
    let sel = parse_selector(text).map_err(|e| WebError::BadRequest(format!("{param}: {e}")))?;
    let found: Vec<&Read> = reads
        .iter()
        .filter(|r| {
            sel.metric.as_deref().is_none_or(|m| m == r.info.key.metric)
                && sel.matchers.iter().all(|m| m.matches_key(&r.info.key))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(WebError::BadRequest(format!(
            "{param}: {text:?} names no series of cluster {cluster:?} with data in this range"
        ))),
        many => Err(WebError::BadRequest(format!(
            "{param}: {text:?} matches {} series of cluster {cluster:?}; name one (e.g. {})",
            many.len(),
            many[0].info.key
        ))),
    }
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<InvestigateQuery>,
) -> WebResult<Html<String>> {
    let window = q.range.resolve()?;
    let p = Params::parse(&q)?;
    let all_clusters = clusters(&ctx);
    let cluster = match nonempty(&q.cluster) {
        Some(c) => {
            super::require_cluster(&ctx, c)?;
            c.to_string()
        }
        None => all_clusters.first().cloned().unwrap_or_default(),
    };
    let mut page = PageCtx::new(
        &ctx,
        "Investigate",
        "investigate",
        "/investigate",
        window.clone(),
    )
    .keep("cluster", &cluster)
    .keep("method", p.method.as_str())
    .keep("baseline", &format!("{}x", p.baseline))
    .keep("top", &p.top.to_string());
    // Links from this page: its own parameters, the range as written, and the extras.
    let base = {
        let mut parts: Vec<String> = page
            .keep
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect();
        let rq = window.query();
        if !rq.is_empty() {
            parts.push(rq);
        }
        format!("/investigate?{}", parts.join("&"))
    };
    let focus_link = |key: &str| format!("{base}&query={}", urlencode(key));

    let infos = if cluster.is_empty() {
        Vec::new()
    } else {
        candidates(&ctx, &cluster)
    };
    let n_candidates = infos.len();
    let (grid, reads, tier) = read_all(&ctx, infos, &window, p.baseline).await?;
    let span = TimeRange::fixed(grid.start, grid.end);
    let span_events = if cluster.is_empty() {
        Vec::new()
    } else {
        range_events(&ctx, &span, Some(&cluster), MAX_EVENTS).await?
    };
    let marks = event_marks(&span_events);
    let events: Vec<EventRow> = span_events
        .iter()
        .filter(|e| e.event.ts >= window.from && e.event.ts <= window.to)
        .map(EventRow::new)
        .collect();

    let cands: Vec<Candidate> = reads
        .iter()
        .map(|r| Candidate {
            baseline: &r.values[..grid.split],
            window: &r.values[grid.split..],
        })
        .collect();
    let scored = reads
        .iter()
        .filter(|r| match p.method {
            Method::Ks => {
                correlate::ks_score(&r.values[..grid.split], &r.values[grid.split..]).is_some()
            }
            Method::Volume => r.values[grid.split..].iter().any(|v| v.is_finite()),
        })
        .count();
    let ranked = correlate::rank(&cands, p.method);
    let top: Vec<&correlate::Ranked> = ranked.iter().take(p.top).collect();
    // The drawn series' earlier span, for `compare=`: the top ones and the query's.
    let mut drawn: Vec<&Read> = top.iter().map(|rk| &reads[rk.index]).collect();
    if !p.query.is_empty()
        && let Ok(q) = pick(&reads, "query", &p.query, &cluster)
    {
        drawn.push(q);
        if !p.with.is_empty()
            && let Ok(w) = pick(&reads, "with", &p.with, &cluster)
        {
            drawn.push(w);
        }
    }
    let earlier = read_earlier(&ctx, &drawn, &grid, &window).await?;
    let frame = Frame {
        grid: &grid,
        marks: &marks,
        baseline: p.baseline,
        compare: window.compare.as_ref(),
        earlier: &earlier,
    };
    let results: Vec<ResultRow> = top
        .iter()
        .enumerate()
        .map(|(n, rk)| {
            let r = &reads[rk.index];
            let key = r.info.key.to_string();
            let fmt = ctx.format_of(&r.info);
            let link = metric_link(&key, &span);
            ResultRow {
                rank: n + 1,
                name: key.clone(),
                chart: frame.chart(
                    key.clone(),
                    link.clone(),
                    SMALL,
                    fmt,
                    vec![r.data.clone()],
                    &[r.info.id],
                ),
                score: format!("{:.4}", rk.score),
                weight: format!("{:.3}", rk.weight),
                kind: match rk.volume_kind {
                    None => "1 − p",
                    Some(VolumeKind::Ratio) => "ratio",
                    Some(VolumeKind::ShareOfTime) => "share of time",
                },
                baseline_mean: mean(&r.values[..grid.split])
                    .map(|v| fmt.format(v))
                    .unwrap_or_else(|| "–".into()),
                window_mean: mean(&r.values[grid.split..])
                    .map(|v| fmt.format(v))
                    .unwrap_or_else(|| "–".into()),
                metric_link: link,
                focus_link: focus_link(&key),
            }
        })
        .collect();

    let window_points = grid.len - grid.split;
    let max_lag = (window_points / 4).max(1);
    let (focus, pair) = if p.query.is_empty() {
        (None, None)
    } else {
        let qr = pick(&reads, "query", &p.query, &cluster)?;
        let wr = if p.with.is_empty() {
            None
        } else {
            Some(pick(&reads, "with", &p.with, &cluster)?)
        };
        let qkey = qr.info.key.to_string();
        page = page.keep("query", &qkey);
        let with_link = |key: &str| format!("{}&with={}", focus_link(&qkey), urlencode(key));
        let rows = top
            .iter()
            .map(|rk| &reads[rk.index])
            .filter(|r| r.info.id != qr.info.id)
            .map(|r| {
                let key = r.info.key.to_string();
                let xc = correlate::cross_correlation(&qr.values, &r.values, max_lag);
                CorrRow {
                    r: fmt_r(correlate::pearson(&qr.values, &r.values)),
                    lag: xc
                        .map(|(l, _)| lag_text(l, grid.step))
                        .unwrap_or_else(|| "–".into()),
                    lag_r: fmt_r(xc.map(|x| x.1)),
                    with_link: with_link(&key),
                    metric_link: metric_link(&key, &span),
                    selected: wr.is_some_and(|w| w.info.id == r.info.id),
                    name: key,
                }
            })
            .collect();
        let focus = Focus {
            chart: frame.chart(
                qkey.clone(),
                metric_link(&qkey, &span),
                BIG,
                ctx.format_of(&qr.info),
                vec![qr.data.clone()],
                &[qr.info.id],
            ),
            name: qkey.clone(),
            rows,
            max_lag: format_signed_ms(max_lag as i64 * grid.step)
                .trim_start_matches('+')
                .to_string(),
            clear_link: base.clone(),
        };
        let pair = wr.map(|w| {
            let wkey = w.info.key.to_string();
            let ts: Vec<i64> = (0..grid.len)
                .map(|i| grid.start + i as i64 * grid.step)
                .collect();
            let line = |label: &str, v: &[f64], link: String| {
                let pts: Vec<(i64, f64)> = ts
                    .iter()
                    .zip(normalised(v))
                    .filter(|(_, y)| y.is_finite())
                    .map(|(t, y)| (*t, y))
                    .collect();
                SeriesData::from_values(label, &pts, grid.step)
                    .with_tier(&qr.data.tier)
                    .with_link(link)
            };
            let xc = correlate::cross_correlation(&qr.values, &w.values, max_lag);
            // The earlier span of both, on this span's scales: the same 0 and 1 as the lines.
            let ghosts = [(qr, &qkey), (w, &wkey)]
                .into_iter()
                .filter_map(|(r, key)| {
                    let e = earlier.get(&r.info.id)?;
                    Some(Scale::of(&r.values).line(e, key))
                })
                .collect();
            Pair {
                chart: frame.chart_with_ghosts(
                    "both normalised (0 = lowest, 1 = highest in the span)".into(),
                    String::new(),
                    BIG,
                    ValueFormat::plain(),
                    vec![
                        line(&qkey, &qr.values, metric_link(&qkey, &span)),
                        line(&wkey, &w.values, metric_link(&wkey, &span)),
                    ],
                    ghosts,
                ),
                r: fmt_r(correlate::pearson(&qr.values, &w.values)),
                lag: xc
                    .map(|(l, _)| lag_text(l, grid.step))
                    .unwrap_or_else(|| "–".into()),
                lag_r: fmt_r(xc.map(|x| x.1)),
            }
        });
        if let Some(w) = wr {
            page = page.keep("with", &w.info.key.to_string());
        }
        (Some(focus), pair)
    };

    let nothing = if cluster.is_empty() {
        "No cluster is configured and no stored series carries a cluster label: there is nothing to rank.".to_string()
    } else if n_candidates == 0 {
        format!("Cluster {cluster:?} has no stored series: there is nothing to rank.")
    } else if ranked.is_empty() {
        format!(
            "None of the {n_candidates} series of cluster {cluster:?} changed between the baseline and the window by this method: there is nothing to rank."
        )
    } else {
        String::new()
    };
    let page = InvestigatePage {
        page,
        clusters: all_clusters,
        cluster,
        method: p.method.as_str(),
        baseline: p.baseline,
        baselines: vec![1, 2, 4, 8, 16],
        top: p.top,
        window_text: format!("{} – {}", utc_minutes(window.from), utc_minutes(window.to)),
        baseline_text: format!(
            "{} – {}",
            utc_minutes(grid.start),
            utc_minutes(grid.start + grid.split as i64 * grid.step)
        ),
        step_text: format_signed_ms(grid.step)
            .trim_start_matches('+')
            .to_string(),
        tier,
        candidates: n_candidates,
        scored,
        ranked: ranked.len(),
        nothing,
        results,
        events,
        focus,
        pair,
    };
    Ok(Html(page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> InvestigateQuery {
        let get = |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_string());
        InvestigateQuery {
            baseline: get("baseline"),
            method: get("method"),
            top: get("top"),
            query: get("query"),
            with: get("with"),
            ..Default::default()
        }
    }

    #[test]
    fn parameters_default_and_bad_ones_are_named() {
        let p = Params::parse(&q(&[])).unwrap();
        assert_eq!((p.baseline, p.method, p.top), (4, Method::Ks, 12));
        let p = Params::parse(&q(&[
            ("baseline", "2x"),
            ("method", "volume"),
            ("top", "3"),
        ]))
        .unwrap();
        assert_eq!((p.baseline, p.method, p.top), (2, Method::Volume, 3));
        for (k, v) in [
            ("baseline", "4"),
            ("baseline", "0x"),
            ("baseline", "17x"),
            ("method", "pearson"),
            ("top", "0"),
            ("top", "many"),
        ] {
            let e = Params::parse(&q(&[(k, v)])).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{k}: ")), "{k}={v}: {e}");
        }
        let e = Params::parse(&q(&[("with", "up")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("with: "), "{e}");
    }

    #[test]
    fn the_grid_puts_the_baseline_before_the_window() {
        let w = TimeRange::fixed(10 * 3_600_000, 11 * 3_600_000);
        let g = Grid::new(&w, 4, 60_000);
        assert_eq!(g.start, 6 * 3_600_000);
        assert_eq!(g.split, 240);
        assert_eq!(g.len, 301, "both ends included");
        // A window not aligned to the step: the window starts in the bucket holding `from`.
        let w = TimeRange::fixed(10 * 3_600_000 + 30_000, 11 * 3_600_000);
        // The baseline (as long as the window, 59.5 min) starts at 9:01, its bucket too.
        let g = Grid::new(&w, 1, 60_000);
        assert_eq!(g.start, 9 * 3_600_000 + 60_000);
        assert_eq!(g.split, 59);
    }

    #[test]
    fn coarsened_lines_merge_whole_runs_of_buckets() {
        let w = TimeRange::fixed(600_000, 1_200_000);
        let g = Grid::new(&w, 1, 60_000);
        assert_eq!((g.start, g.len), (0, 21));
        let pts: Vec<(i64, f64)> = (0..21).map(|i| (i * 60_000, i as f64)).collect();
        let d = SeriesData::from_values("x", &pts, 60_000);
        let c = coarsen(&d, &g, 10);
        assert_eq!(
            c.step_ms, 180_000,
            "21 buckets in at most 10 points: runs of 3"
        );
        assert_eq!(c.points.len(), 7);
        let p = c.points[1];
        assert_eq!(
            (p.ts, p.avg, p.min, p.max, p.last),
            (180_000, 4.0, 3.0, 5.0, 5.0)
        );
        assert_eq!(
            coarsen(&d, &g, 100).points.len(),
            21,
            "small enough already"
        );
    }

    #[test]
    fn normalised_values_span_zero_to_one() {
        assert_eq!(normalised(&[2.0, 4.0, f64::NAN, 3.0])[..2], [0.0, 1.0]);
        assert!(normalised(&[2.0, 4.0, f64::NAN])[2].is_nan());
        assert_eq!(normalised(&[5.0, 5.0]), vec![0.5, 0.5], "constant: middle");
    }
}
