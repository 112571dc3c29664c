//! Chart geometry: turns store buckets into the numbers an SVG template draws. Pure and
//! unit-tested; the templates (`templates/partials/chart.html`) only place what this computes.
//!
//! * One bucket is one point: the average as a line, min–max as a light band (so spikes that an
//!   average would hide stay visible). Counters are drawn as per-second rates of the buckets'
//!   reset-aware increases, without a band.
//! * Missing buckets break the line: consecutive points further apart than
//!   1.1 × (bucket step + sample interval) are not joined, so a scrape outage shows as a gap.
//! * Every bucket also gets an invisible column with a native `<title>` tooltip, so values can be
//!   read without JavaScript.

use super::format::{Scale, ValueFormat, utc, utc_fmt, utc_minutes};
use crate::model::Timestamp;
use crate::store::Bucket;
use std::fmt::Write as _;

/// Distinct line colours (Tableau 10), in legend order.
pub const COLORS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Events drawn per chart at most (the newest are kept); the events page lists them all.
const MAX_EVENT_TICKS: usize = 200;

/// One drawn point, in the series' own unit (a rate per second for counters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChartPoint {
    /// Start of the bucket.
    pub ts: Timestamp,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    pub last: f64,
}

/// A series ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    pub label: String,
    pub points: Vec<ChartPoint>,
    pub step_ms: i64,
    /// Typical time between samples, estimated from the buckets' sample counts.
    pub interval_ms: i64,
    /// Which storage tier answered: `raw`, `1m`, `5m`, `1h`, `1d`.
    pub tier: String,
    /// The `/metric` page of exactly this series.
    pub link: String,
}

impl SeriesData {
    /// Builds the drawn points from buckets (ascending, non-empty only).
    pub fn from_buckets(
        label: impl Into<String>,
        buckets: &[Bucket],
        step_ms: i64,
        counter: bool,
    ) -> Self {
        let step_ms = step_ms.max(1);
        let interval_ms = sample_interval(buckets, step_ms);
        let mut points = Vec::with_capacity(buckets.len());
        let mut prev_ts: Option<Timestamp> = None;
        for b in buckets {
            let p = if counter {
                // The increase covers the time since the sample before the bucket's first one:
                // the empty time since the previous bucket (a gap, or sparse buckets) plus the
                // filled part of this bucket — less than a step for the newest, partial bucket.
                let filled = (i64::from(b.count) * interval_ms).min(step_ms.max(interval_ms));
                let covered = match prev_ts {
                    Some(p) => (b.ts - p - step_ms).max(0) + filled.min(step_ms).max(1),
                    None => filled.max(1),
                };
                let rate = b.increase / (covered as f64 / 1000.0);
                ChartPoint {
                    ts: b.ts,
                    avg: rate,
                    min: rate,
                    max: rate,
                    last: rate,
                }
            } else {
                let avg = if b.count > 0 {
                    b.sum / f64::from(b.count)
                } else {
                    b.last
                };
                ChartPoint {
                    ts: b.ts,
                    avg,
                    min: b.min,
                    max: b.max,
                    last: b.last,
                }
            };
            prev_ts = Some(b.ts);
            points.push(p);
        }
        SeriesData {
            label: label.into(),
            points,
            step_ms,
            interval_ms,
            tier: String::new(),
            link: String::new(),
        }
    }

    /// A line of derived values, one per bucket (no band).
    pub fn from_values(
        label: impl Into<String>,
        values: &[(Timestamp, f64)],
        step_ms: i64,
    ) -> Self {
        SeriesData {
            label: label.into(),
            points: values
                .iter()
                .map(|&(ts, v)| ChartPoint {
                    ts,
                    avg: v,
                    min: v,
                    max: v,
                    last: v,
                })
                .collect(),
            step_ms: step_ms.max(1),
            interval_ms: step_ms.max(1),
            tier: String::new(),
            link: String::new(),
        }
    }

    pub fn with_tier(mut self, tier: &str) -> Self {
        self.tier = tier.to_string();
        self
    }

    pub fn with_link(mut self, link: String) -> Self {
        self.link = link;
        self
    }

    /// The same series moved forward in time (a week-ago series drawn on this week's axis).
    pub fn shifted_forward(mut self, ms: i64) -> Self {
        for p in &mut self.points {
            p.ts += ms;
        }
        self
    }

    /// Largest distance between two points that are still joined by a line.
    pub fn gap_threshold_ms(&self) -> i64 {
        ((self.step_ms + self.interval_ms) as f64 * 1.1) as i64
    }

    /// Index ranges of runs of points that are joined (split at gaps).
    pub fn segments(&self) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let limit = self.gap_threshold_ms();
        let mut start = 0;
        for i in 1..=self.points.len() {
            if i == self.points.len() || self.points[i].ts - self.points[i - 1].ts > limit {
                if start < i {
                    out.push(start..i);
                }
                start = i;
            }
        }
        out
    }

    pub fn last(&self) -> Option<f64> {
        self.points.last().map(|p| p.last)
    }

    pub fn min(&self) -> Option<f64> {
        self.points
            .iter()
            .map(|p| p.min)
            .filter(|v| v.is_finite())
            .reduce(f64::min)
    }

    pub fn max(&self) -> Option<f64> {
        self.points
            .iter()
            .map(|p| p.max)
            .filter(|v| v.is_finite())
            .reduce(f64::max)
    }

    /// Time-weighted average of the bucket averages.
    pub fn avg(&self) -> Option<f64> {
        let vals: Vec<f64> = self
            .points
            .iter()
            .map(|p| p.avg)
            .filter(|v| v.is_finite())
            .collect();
        (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
    }
}

/// The typical time between samples: a step divided by the median samples per bucket when buckets
/// hold several samples (robust to a partial newest bucket and to gaps), else the time spanned per
/// sample (buckets finer than the scrape interval).
fn sample_interval(buckets: &[Bucket], step_ms: i64) -> i64 {
    let mut counts: Vec<u32> = buckets.iter().map(|b| b.count).collect();
    counts.sort_unstable();
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0);
    if median >= 2 {
        return (step_ms / i64::from(median)).max(1);
    }
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    match (buckets.first(), buckets.last()) {
        (Some(first), Some(last)) if total > 1 => {
            ((last.ts + step_ms - first.ts) / total as i64).max(1)
        }
        _ => step_ms,
    }
}

/// A moment drawn as a vertical tick with a hover text.
#[derive(Clone, Debug, PartialEq)]
pub struct EventMark {
    pub ts: Timestamp,
    pub text: String,
    pub severity: &'static str,
}

/// What to draw.
#[derive(Clone, Debug)]
pub struct ChartSpec {
    pub title: String,
    /// Where the chart's title and body link to (its `/metric` page).
    pub link: String,
    pub width: u32,
    pub height: u32,
    pub from: Timestamp,
    pub to: Timestamp,
    pub format: ValueFormat,
    pub series: Vec<SeriesData>,
    pub ghost: Option<SeriesData>,
    pub events: Vec<EventMark>,
    /// Narrowest hover column in px: 2 gives one per bucket; pages with dozens of small charts
    /// use wider columns (each aggregating several buckets) to keep the page light.
    pub hover_px: f64,
    /// Draw min–max bands (off for charts whose lines already are min / avg / max statistics).
    pub bands: bool,
}

impl ChartSpec {
    /// A chart of `series` over `[from, to)` with one hover column per bucket and bands on.
    pub fn new(
        title: impl Into<String>,
        link: impl Into<String>,
        (width, height): (u32, u32),
        (from, to): (Timestamp, Timestamp),
        format: ValueFormat,
        series: Vec<SeriesData>,
    ) -> ChartSpec {
        ChartSpec {
            title: title.into(),
            link: link.into(),
            width,
            height,
            from,
            to,
            format,
            series,
            ghost: None,
            events: Vec::new(),
            hover_px: 2.0,
            bands: true,
        }
    }

    pub fn events(mut self, events: Vec<EventMark>) -> Self {
        self.events = events;
        self
    }

    pub fn ghost(mut self, ghost: Option<SeriesData>) -> Self {
        self.ghost = ghost;
        self
    }

    pub fn hover_px(mut self, px: f64) -> Self {
        self.hover_px = px.max(1.0);
        self
    }

    pub fn bands(mut self, on: bool) -> Self {
        self.bands = on;
        self
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub pos: f64,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: String,
    pub color: &'static str,
    /// SVG path of the average.
    pub d: String,
    /// SVG path of the min–max band (empty when there is none).
    pub band: String,
    pub last: String,
    pub min: String,
    pub max: String,
    pub link: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventTick {
    pub x: f64,
    pub title: String,
    pub severity: &'static str,
}

/// An invisible hover column over one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub x: f64,
    pub w: f64,
    pub title: String,
}

/// Everything the chart partial renders.
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub link: String,
    pub width: u32,
    pub height: u32,
    pub from: Timestamp,
    pub to: Timestamp,
    pub plot_x: f64,
    pub plot_y: f64,
    pub plot_w: f64,
    pub plot_h: f64,
    pub lines: Vec<Line>,
    pub ghost: Option<String>,
    pub ghost_label: String,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub events: Vec<EventTick>,
    pub columns: Vec<Column>,
    /// `raw`, `1m`, … of the answering tier(s), and the bucket step.
    pub tier: String,
    pub step: String,
    pub unit: &'static str,
    pub empty: bool,
    pub multi: bool,
}

impl Chart {
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.width, self.height)
    }

    pub fn plot_bottom(&self) -> f64 {
        self.plot_y + self.plot_h
    }

    pub fn plot_right(&self) -> f64 {
        self.plot_x + self.plot_w
    }

    /// The first line, for single-series footers.
    pub fn main(&self) -> Option<&Line> {
        self.lines.first()
    }
}

const MARGIN_LEFT: f64 = 58.0;
const MARGIN_RIGHT: f64 = 8.0;
const MARGIN_TOP: f64 = 6.0;
const MARGIN_BOTTOM: f64 = 18.0;

/// Rounds to one decimal for compact path text.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

struct Mapper {
    from: f64,
    to: f64,
    x0: f64,
    w: f64,
    lo: f64,
    hi: f64,
    y0: f64,
    h: f64,
}

impl Mapper {
    fn x(&self, ts: f64) -> f64 {
        r1(self.x0 + (ts - self.from) / (self.to - self.from) * self.w)
    }

    fn y(&self, v: f64) -> f64 {
        let f = if self.hi > self.lo {
            (v - self.lo) / (self.hi - self.lo)
        } else {
            0.5
        };
        r1(self.y0 + (1.0 - f.clamp(-0.02, 1.02)) * self.h)
    }
}

/// "Nice" axis ticks covering `[lo, hi]`: steps of 1, 2, 2.5 or 5 × 10^k, about `target` of them.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let n = ((last - first) as usize).min(50);
    (0..=n)
        .map(|i| {
            let v = (first + i as f64) * step;
            // Clean floating noise such as 0.30000000000000004.
            (v / step).round() * step
        })
        .collect()
}

/// The value range an axis covers for data in `[lo, hi]`: zero is always included, so a series
/// of non-negative values starts at 0 (a constant 1 is drawn on 0…1, not 0.9…1.1) and negative
/// ticks appear only for negative values; an all-zero series gets 0…1.
pub fn y_domain(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if lo == hi { (0.0, 1.0) } else { (lo, hi) }
}

/// Time-axis tick interval for a range: about 4–8 labels, on UTC-aligned boundaries.
fn time_tick_interval(range_ms: i64, width_px: f64) -> i64 {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    let max_labels = (width_px / 90.0).clamp(2.0, 10.0) as i64;
    let candidates = [
        MIN,
        5 * MIN,
        10 * MIN,
        15 * MIN,
        30 * MIN,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        30 * DAY,
        60 * DAY,
        90 * DAY,
        180 * DAY,
        365 * DAY,
    ];
    candidates
        .into_iter()
        .find(|c| range_ms / c <= max_labels)
        .unwrap_or(365 * DAY)
}

/// Time-axis ticks with labels that suit the range: `10:00`, `05-01 10:00`, `05-01`, `2024-05-01`.
pub fn time_ticks(from: Timestamp, to: Timestamp, width_px: f64) -> Vec<(Timestamp, String)> {
    let range = (to - from).max(1);
    let every = time_tick_interval(range, width_px);
    let pattern = if range <= 36 * 3_600_000 {
        "%H:%M"
    } else if every < 86_400_000 {
        "%m-%d %H:%M"
    } else if range <= 200 * 86_400_000 {
        "%m-%d"
    } else {
        "%Y-%m-%d"
    };
    let mut t = from.div_euclid(every) * every;
    if t < from {
        t += every;
    }
    let mut out = Vec::new();
    while t <= to && out.len() < 20 {
        out.push((t, utc_fmt(t, pattern)));
        t += every;
    }
    out
}

fn step_text(ms: i64) -> String {
    crate::duration::format_signed_ms(ms)
}

impl ChartSpec {
    pub fn render(self) -> Chart {
        let width = f64::from(self.width.max(120));
        let height = f64::from(self.height.max(60));
        let (plot_x, plot_y) = (MARGIN_LEFT, MARGIN_TOP);
        let plot_w = width - MARGIN_LEFT - MARGIN_RIGHT;
        let plot_h = height - MARGIN_TOP - MARGIN_BOTTOM;
        let (from, to) = (self.from, self.to.max(self.from + 1));

        // Value range over everything drawn, including the ghost line.
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for s in self.series.iter().chain(self.ghost.iter()) {
            for p in &s.points {
                for v in [p.min, p.max, p.avg] {
                    if v.is_finite() {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
        }
        let empty = !lo.is_finite();
        if empty {
            (lo, hi) = (0.0, 1.0);
        }
        (lo, hi) = y_domain(lo, hi);
        let scale: Scale = self.format.scale_for(lo.abs().max(hi.abs()));
        let scaled = nice_ticks(
            lo / scale.factor,
            hi / scale.factor,
            ((plot_h / 28.0) as usize).max(2),
        );
        let y_lo = scaled.first().copied().unwrap_or(0.0) * scale.factor;
        let y_hi = scaled.last().copied().unwrap_or(1.0) * scale.factor;
        let m = Mapper {
            from: from as f64,
            to: to as f64,
            x0: plot_x,
            w: plot_w,
            lo: y_lo,
            hi: y_hi,
            y0: plot_y,
            h: plot_h,
        };
        let tick_step = match scaled.as_slice() {
            [a, b, ..] => (b - a) * scale.factor,
            _ => 0.0,
        };
        let y_ticks = scaled
            .iter()
            .map(|v| Tick {
                pos: m.y(v * scale.factor),
                label: scale.format_tick(v * scale.factor, tick_step),
            })
            .collect();
        let x_ticks = time_ticks(from, to, plot_w)
            .into_iter()
            .map(|(t, label)| Tick {
                pos: m.x(t as f64),
                label,
            })
            .collect();

        let lines: Vec<Line> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| Line {
                label: s.label.clone(),
                color: COLORS[i % COLORS.len()],
                d: line_path(s, &m),
                band: if self.bands {
                    band_path(s, &m)
                } else {
                    String::new()
                },
                last: s
                    .last()
                    .map(|v| self.format.format(v))
                    .unwrap_or_else(|| "–".into()),
                min: s
                    .min()
                    .map(|v| self.format.format(v))
                    .unwrap_or_else(|| "–".into()),
                max: s
                    .max()
                    .map(|v| self.format.format(v))
                    .unwrap_or_else(|| "–".into()),
                link: s.link.clone(),
            })
            .collect();
        let ghost = self.ghost.as_ref().map(|g| line_path(g, &m));

        let mut events: Vec<&EventMark> = self
            .events
            .iter()
            .filter(|e| e.ts >= from && e.ts <= to)
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.ts));
        events.truncate(MAX_EVENT_TICKS);
        let events = events
            .into_iter()
            .map(|e| EventTick {
                x: m.x(e.ts as f64),
                title: format!("{} — {}", utc(e.ts), e.text),
                severity: e.severity,
            })
            .collect();

        let columns = hover_columns(&self.series, &m, self.format, self.hover_px, self.bands);
        let mut tiers: Vec<&str> = self
            .series
            .iter()
            .map(|s| s.tier.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        tiers.sort_unstable();
        tiers.dedup();
        let step = self
            .series
            .iter()
            .map(|s| s.step_ms)
            .min()
            .map(step_text)
            .unwrap_or_default();
        let unit = self.format.unit.as_str();
        let multi = self.series.len() > 1;
        Chart {
            title: self.title,
            link: self.link,
            width: width as u32,
            height: height as u32,
            from,
            to,
            plot_x,
            plot_y,
            plot_w,
            plot_h,
            lines,
            ghost,
            ghost_label: String::new(),
            y_ticks,
            x_ticks,
            events,
            columns,
            tier: tiers.join("+"),
            step,
            unit,
            empty,
            multi,
        }
    }
}

/// Appends `{cmd}{x} {y}` with one decimal, through integer formatting: paths hold most of a
/// page's numbers, and float formatting was a tenth of the render time.
fn push_point(d: &mut String, cmd: char, x: f64, y: f64) {
    d.push(cmd);
    push_tenths(d, x);
    d.push(' ');
    push_tenths(d, y);
}

fn push_tenths(d: &mut String, v: f64) {
    let t = (v * 10.0).round() as i64;
    if t < 0 {
        d.push('-');
    }
    let t = t.unsigned_abs();
    let _ = write!(d, "{}", t / 10);
    if !t.is_multiple_of(10) {
        d.push('.');
        d.push(char::from(b'0' + (t % 10) as u8));
    }
}

/// The average line: `M` at the start of each joined run, `L` within it. A run of one point
/// gets a short horizontal stroke so it stays visible. Points inside a horizontal stretch (same
/// y as both neighbours) are left out: they draw nothing, and flat series are most of a page.
fn line_path(s: &SeriesData, m: &Mapper) -> String {
    let mut d = String::new();
    let half = s.step_ms as f64 / 2.0;
    let mut xy: Vec<(f64, f64)> = Vec::new();
    for seg in s.segments() {
        xy.clear();
        xy.extend(
            s.points[seg]
                .iter()
                .filter(|p| p.avg.is_finite())
                .map(|p| (m.x(p.ts as f64 + half), m.y(p.avg))),
        );
        let n = xy.len();
        for i in 0..n {
            let flat_inside =
                i > 0 && i + 1 < n && xy[i - 1].1 == xy[i].1 && xy[i + 1].1 == xy[i].1;
            if flat_inside {
                continue;
            }
            push_point(&mut d, if i == 0 { 'M' } else { 'L' }, xy[i].0, xy[i].1);
        }
        if n == 1 {
            d.push_str("h1");
        }
    }
    d
}

/// The min–max band as one closed polygon per joined run; empty when min = max everywhere. As
/// for lines, points inside a horizontal stretch of an edge are left out.
fn band_path(s: &SeriesData, m: &Mapper) -> String {
    if s.points.iter().all(|p| p.min == p.max) {
        return String::new();
    }
    let mut d = String::new();
    let half = s.step_ms as f64 / 2.0;
    let mut top: Vec<(f64, f64)> = Vec::new();
    let mut bottom: Vec<(f64, f64)> = Vec::new();
    for seg in s.segments() {
        let pts = &s.points[seg];
        if pts.len() < 2 {
            continue;
        }
        top.clear();
        bottom.clear();
        for p in pts {
            let x = m.x(p.ts as f64 + half);
            top.push((x, m.y(p.max)));
            bottom.push((x, m.y(p.min)));
        }
        bottom.reverse();
        for (edge, first) in [(&top, 'M'), (&bottom, 'L')] {
            let n = edge.len();
            for i in 0..n {
                let flat_inside =
                    i > 0 && i + 1 < n && edge[i - 1].1 == edge[i].1 && edge[i + 1].1 == edge[i].1;
                if !flat_inside {
                    push_point(
                        &mut d,
                        if i == 0 { first } else { 'L' },
                        edge[i].0,
                        edge[i].1,
                    );
                }
            }
        }
        d.push('Z');
    }
    d
}

/// Invisible hover columns over the union of the series' bucket starts, each at least `min_px`
/// wide. A column spanning several buckets reports their aggregate: the mean of the averages, the
/// lowest minimum and the highest maximum of each series, so no spike is hidden by the tooltip.
/// Without `spread` (charts whose lines are themselves statistics) only the average is written.
fn hover_columns(
    series: &[SeriesData],
    m: &Mapper,
    fmt: ValueFormat,
    min_px: f64,
    spread: bool,
) -> Vec<Column> {
    let Some(step) = series.iter().map(|s| s.step_ms).min() else {
        return Vec::new();
    };
    let mut starts: Vec<Timestamp> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.ts))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let max_cols = (m.w / min_px.max(1.0)).max(1.0) as usize;
    let stride = starts.len().div_ceil(max_cols).max(1);
    let multi = series.len() > 1;
    starts
        .chunks(stride)
        .filter_map(|chunk| {
            let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
            let end = last + step;
            let x = m.x(first as f64).max(m.x0);
            let right = m.x(end as f64).min(m.x0 + m.w);
            if right <= x {
                return None;
            }
            let mut title = if chunk.len() == 1 {
                utc_minutes(first)
            } else if first.div_euclid(86_400_000) == (end - 1).div_euclid(86_400_000) {
                format!(
                    "{} – {} UTC",
                    utc_fmt(first, "%Y-%m-%d %H:%M"),
                    utc_fmt(end, "%H:%M")
                )
            } else {
                format!(
                    "{} – {}",
                    utc_fmt(first, "%Y-%m-%d %H:%M"),
                    utc_minutes(end)
                )
            };
            for s in series {
                let lo = s.points.partition_point(|p| p.ts < first);
                let hi = s.points.partition_point(|p| p.ts < end);
                let pts = &s.points[lo..hi];
                if pts.is_empty() {
                    continue;
                }
                let avg = pts.iter().map(|p| p.avg).sum::<f64>() / pts.len() as f64;
                let min = pts.iter().map(|p| p.min).fold(f64::INFINITY, f64::min);
                let max = pts.iter().map(|p| p.max).fold(f64::NEG_INFINITY, f64::max);
                title.push('\n');
                if multi {
                    title.push_str(&s.label);
                    title.push_str(": ");
                }
                title.push_str(&fmt.format(avg));
                if spread && min != max {
                    let _ = write!(title, " (min {}, max {})", fmt.format(min), fmt.format(max));
                }
            }
            Some(Column {
                x,
                w: r1(right - x),
                title,
            })
        })
        .collect()
}

/// A ~120×28 sparkline for tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparkline {
    pub width: u32,
    pub height: u32,
    pub d: String,
    pub band: String,
    pub title: String,
    pub link: String,
    pub empty: bool,
}

impl Sparkline {
    pub const WIDTH: u32 = 120;
    pub const HEIGHT: u32 = 28;

    pub fn new(
        s: &SeriesData,
        from: Timestamp,
        to: Timestamp,
        fmt: ValueFormat,
        link: String,
    ) -> Sparkline {
        Self::sized(s, from, to, fmt, link, (Self::WIDTH, Self::HEIGHT))
    }

    /// A sparkline of `width × height` (tables with many columns use narrower ones).
    pub fn sized(
        s: &SeriesData,
        from: Timestamp,
        to: Timestamp,
        fmt: ValueFormat,
        link: String,
        (width, height): (u32, u32),
    ) -> Sparkline {
        let (width, height) = (width.max(8), height.max(4));
        let (w, h) = (f64::from(width), f64::from(height));
        let lo = s.min().unwrap_or(0.0);
        let hi = s.max().unwrap_or(1.0);
        let m = Mapper {
            from: from as f64,
            to: to.max(from + 1) as f64,
            x0: 0.0,
            w,
            lo,
            hi,
            y0: 1.0,
            h: h - 2.0,
        };
        let empty = s.points.is_empty();
        let title = if empty {
            "no data in this range".to_string()
        } else {
            format!(
                "last {} · min {} · max {}{}",
                s.last().map(|v| fmt.format(v)).unwrap_or_default(),
                s.min().map(|v| fmt.format(v)).unwrap_or_default(),
                s.max().map(|v| fmt.format(v)).unwrap_or_default(),
                if s.tier.is_empty() {
                    String::new()
                } else {
                    format!(" · tier {}", s.tier)
                }
            )
        };
        Sparkline {
            width,
            height,
            d: line_path(s, &m),
            band: band_path(s, &m),
            title,
            link,
            empty,
        }
    }

    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::format::Unit;

    fn gauge(ts: Timestamp, v: f64) -> Bucket {
        Bucket {
            ts,
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
            increase: 0.0,
        }
    }

    fn spec(series: Vec<SeriesData>) -> ChartSpec {
        ChartSpec::new(
            "t",
            "/metric",
            (600, 160),
            (0, 600_000),
            ValueFormat::plain(),
            series,
        )
    }

    #[test]
    fn gauge_points_average_each_bucket_and_keep_the_band() {
        let b = Bucket {
            ts: 0,
            count: 4,
            sum: 20.0,
            min: 1.0,
            max: 9.0,
            last: 3.0,
            increase: 0.0,
        };
        let s = SeriesData::from_buckets("x", &[b], 60_000, false);
        assert_eq!(
            s.points[0],
            ChartPoint {
                ts: 0,
                avg: 5.0,
                min: 1.0,
                max: 9.0,
                last: 3.0
            }
        );
        assert_eq!(s.interval_ms, 15_000, "four samples per minute");
    }

    #[test]
    fn counters_become_per_second_rates_even_across_sparse_buckets() {
        let mk = |ts, inc| Bucket {
            ts,
            count: 4,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            last: 0.0,
            increase: inc,
        };
        // 60 per minute = 1/s in dense buckets.
        let s = SeriesData::from_buckets("c", &[mk(0, 60.0), mk(60_000, 60.0)], 60_000, true);
        assert_eq!(s.points[1].avg, 1.0);
        assert_eq!(s.points[1].min, s.points[1].max, "no band for counters");
        // After a 10-minute outage the increase covers the whole gap, not one bucket.
        let s = SeriesData::from_buckets("c", &[mk(0, 60.0), mk(600_000, 600.0)], 60_000, true);
        assert_eq!(s.points[1].avg, 1.0);
    }

    #[test]
    fn the_newest_partial_bucket_is_not_drawn_as_a_drop() {
        let mk = |ts, count, inc| Bucket {
            ts,
            count,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            last: 0.0,
            increase: inc,
        };
        // 15 s scrapes at 1/s in 60 s buckets; the newest bucket has only two samples yet.
        let s = SeriesData::from_buckets(
            "c",
            &[mk(0, 4, 60.0), mk(60_000, 4, 60.0), mk(120_000, 2, 30.0)],
            60_000,
            true,
        );
        assert_eq!(
            s.points.iter().map(|p| p.avg).collect::<Vec<_>>(),
            vec![1.0, 1.0, 1.0]
        );
    }

    #[test]
    fn missing_buckets_break_the_line() {
        let buckets: Vec<Bucket> = [0, 60_000, 120_000, 420_000, 480_000]
            .iter()
            .map(|&t| Bucket {
                count: 4,
                ..gauge(t, 1.0)
            })
            .collect();
        let s = SeriesData::from_buckets("x", &buckets, 60_000, false);
        assert_eq!(s.segments(), vec![0..3, 3..5]);
        let chart = spec(vec![s]).render();
        assert_eq!(
            chart.lines[0].d.matches('M').count(),
            2,
            "{}",
            chart.lines[0].d
        );
    }

    #[test]
    fn sparse_buckets_with_jitter_are_not_gaps() {
        // 15 s scrapes seen through 12 s buckets: every fifth bucket is empty.
        let ts: Vec<i64> = (0..40).map(|i| i * 15_000 / 12_000 * 12_000).collect();
        let mut buckets: Vec<Bucket> = ts.iter().map(|&t| gauge(t, 2.0)).collect();
        buckets.dedup_by_key(|b| b.ts);
        let s = SeriesData::from_buckets("x", &buckets, 12_000, false);
        assert_eq!(s.segments().len(), 1, "interval {}", s.interval_ms);
    }

    #[test]
    fn single_point_runs_stay_visible() {
        let s = SeriesData::from_buckets("x", &[gauge(0, 1.0)], 60_000, false);
        let chart = spec(vec![s]).render();
        assert!(chart.lines[0].d.ends_with("h1"), "{}", chart.lines[0].d);
    }

    #[test]
    fn nice_ticks_cover_the_data_with_round_steps() {
        assert_eq!(nice_ticks(0.0, 97.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(nice_ticks(0.0, 0.9, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let t = nice_ticks(3.0, 3.0, 4);
        assert!(t.first().unwrap() <= &3.0 && t.last().unwrap() >= &3.0 && t.len() >= 2);
        let t = nice_ticks(-5.0, 12.0, 4);
        assert_eq!(t, vec![-5.0, 0.0, 5.0, 10.0, 15.0]);
    }

    #[test]
    fn y_axis_uses_units_and_starts_at_zero_when_zero_is_near() {
        let s = SeriesData::from_buckets(
            "x",
            &[
                gauge(0, 100.0 * 1024.0 * 1024.0),
                gauge(60_000, 500.0 * 1024.0 * 1024.0),
            ],
            60_000,
            false,
        );
        let mut sp = spec(vec![s]);
        sp.format = ValueFormat {
            unit: Unit::Bytes,
            per_second: false,
        };
        let chart = sp.render();
        let labels: Vec<&str> = chart.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels.first(), Some(&"0 MiB"), "{labels:?}");
        assert!(labels.iter().any(|l| l.ends_with("MiB")), "{labels:?}");
        // Higher values are drawn higher (smaller y).
        assert!(chart.y_ticks[0].pos > chart.y_ticks[chart.y_ticks.len() - 1].pos);
    }

    fn tick_labels(chart: &Chart) -> Vec<&str> {
        chart.y_ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn a_constant_series_is_drawn_from_zero_not_around_its_value() {
        let s = SeriesData::from_buckets("x", &[gauge(0, 1.0), gauge(60_000, 1.0)], 60_000, false);
        let chart = spec(vec![s]).render();
        let labels = tick_labels(&chart);
        assert_eq!(labels.first(), Some(&"0"), "{labels:?}");
        assert_eq!(labels.last(), Some(&"1"), "{labels:?}");
        let s =
            SeriesData::from_buckets("x", &[gauge(0, 415.0), gauge(60_000, 416.0)], 60_000, false);
        assert_eq!(tick_labels(&spec(vec![s]).render()).first(), Some(&"0"));
    }

    #[test]
    fn an_all_zero_series_gets_zero_to_one_without_negative_ticks() {
        let zero =
            SeriesData::from_buckets("x", &[gauge(0, 0.0), gauge(60_000, 0.0)], 60_000, false);
        let labels: Vec<String> = tick_labels(&spec(vec![zero]).render())
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(labels.first().map(String::as_str), Some("0"));
        assert_eq!(labels.last().map(String::as_str), Some("1"));
        // A counter that never increased: rates of 0/s, never "-1/s".
        let flat = |ts| Bucket {
            count: 4,
            ..gauge(ts, 5.0)
        };
        let counter = SeriesData::from_buckets("c", &[flat(0), flat(60_000)], 60_000, true);
        let mut sp = spec(vec![counter]);
        sp.format = ValueFormat {
            unit: Unit::None,
            per_second: true,
        };
        let chart = sp.render();
        let labels = tick_labels(&chart);
        assert_eq!(labels.first(), Some(&"0/s"), "{labels:?}");
        assert!(labels.iter().all(|l| !l.starts_with('-')), "{labels:?}");
    }

    #[test]
    fn negative_ticks_appear_only_for_negative_values() {
        let s = SeriesData::from_buckets("x", &[gauge(0, -4.0), gauge(60_000, 9.0)], 60_000, false);
        let labels = tick_labels(&spec(vec![s]).render()).join(" ");
        assert!(labels.starts_with('-'), "{labels}");
        let s =
            SeriesData::from_buckets("x", &[gauge(0, -4.0), gauge(60_000, -2.0)], 60_000, false);
        let labels = tick_labels(&spec(vec![s]).render()).join(" ");
        assert!(
            labels.ends_with(" 0"),
            "an all-negative axis ends at 0: {labels}"
        );
        assert_eq!(y_domain(3.0, 3.0), (0.0, 3.0));
        assert_eq!(y_domain(0.0, 0.0), (0.0, 1.0));
        assert_eq!(y_domain(-2.0, -2.0), (-2.0, 0.0));
    }

    #[test]
    fn flat_stretches_are_drawn_with_their_end_points_only() {
        let buckets: Vec<Bucket> = (0..10)
            .map(|i| gauge(i * 60_000, if i == 5 { 3.0 } else { 1.0 }))
            .collect();
        let s = SeriesData::from_buckets("x", &buckets, 60_000, false);
        let d = spec(vec![s]).render().lines[0].d.clone();
        // 0 … 4 flat (two points), up to 5, down to 6, 6 … 9 flat (one more point).
        assert_eq!(d.matches(['M', 'L']).count(), 5, "{d}");
    }

    #[test]
    fn x_ticks_are_utc_aligned_and_labelled_for_the_range() {
        let ticks = time_ticks(0, 6 * 3_600_000, 540.0);
        assert_eq!(ticks.first().map(|t| t.1.as_str()), Some("00:00"));
        assert!(ticks.len() >= 3 && ticks.len() <= 8, "{ticks:?}");
        let week = time_ticks(0, 7 * 86_400_000, 540.0);
        assert!(week.iter().all(|t| t.0 % 86_400_000 == 0), "{week:?}");
        assert_eq!(week[1].1, "01-03", "two-day steps fit 540 px");
        let year = time_ticks(0, 365 * 86_400_000, 540.0);
        assert!(year[0].1.starts_with("1970-"), "{year:?}");
    }

    #[test]
    fn events_in_range_become_ticks_with_titles() {
        let sp = spec(vec![]).events(vec![
            EventMark {
                ts: 300_000,
                text: "zk_mode_change: zk1 became leader".into(),
                severity: "warning",
            },
            EventMark {
                ts: 9_000_000,
                text: "outside".into(),
                severity: "info",
            },
        ]);
        let chart = sp.render();
        assert!(chart.empty);
        assert_eq!(chart.events.len(), 1);
        assert_eq!(chart.events[0].x, 58.0 + 267.0);
        assert!(chart.events[0].title.contains("became leader"));
        assert!(chart.events[0].title.contains("UTC"));
    }

    #[test]
    fn multi_series_get_distinct_colours_and_shared_hover_columns() {
        let a =
            SeriesData::from_buckets("zk1", &[gauge(0, 1.0), gauge(60_000, 2.0)], 60_000, false);
        let b =
            SeriesData::from_buckets("zk2", &[gauge(0, 3.0), gauge(60_000, 4.0)], 60_000, false);
        let chart = spec(vec![a, b]).render();
        assert!(chart.multi);
        assert_ne!(chart.lines[0].color, chart.lines[1].color);
        assert_eq!(chart.columns.len(), 2);
        assert!(
            chart.columns[0].title.contains("zk1: 1"),
            "{}",
            chart.columns[0].title
        );
        assert!(
            chart.columns[0].title.contains("zk2: 3"),
            "{}",
            chart.columns[0].title
        );
        assert_eq!(chart.lines[1].last, "4");
    }

    #[test]
    fn hover_columns_are_capped_at_one_per_two_pixels() {
        let buckets: Vec<Bucket> = (0..2000).map(|i| gauge(i * 300, 1.0)).collect();
        let s = SeriesData::from_buckets("x", &buckets, 300, false);
        let chart = spec(vec![s]).render();
        assert!(
            chart.columns.len() as f64 <= chart.plot_w / 2.0 + 1.0,
            "{}",
            chart.columns.len()
        );
    }

    #[test]
    fn wide_hover_columns_aggregate_their_buckets_without_hiding_spikes() {
        let buckets: Vec<Bucket> = (0..60)
            .map(|i| gauge(i * 10_000, if i == 7 { 50.0 } else { 1.0 }))
            .collect();
        let s = SeriesData::from_buckets("x", &buckets, 10_000, false);
        let chart = spec(vec![s]).hover_px(60.0).render();
        assert!(chart.columns.len() <= 9, "{}", chart.columns.len());
        let spike = chart
            .columns
            .iter()
            .find(|c| c.title.contains("max 50"))
            .expect("the spike is reported");
        assert!(
            spike.title.contains(" – "),
            "a column names its time span: {}",
            spike.title
        );
    }

    #[test]
    fn bands_can_be_switched_off() {
        let s = SeriesData::from_buckets(
            "x",
            &[
                gauge(0, 5.0),
                Bucket {
                    min: 1.0,
                    max: 9.0,
                    ..gauge(60_000, 4.0)
                },
            ],
            60_000,
            false,
        );
        assert!(!spec(vec![s.clone()]).render().lines[0].band.is_empty());
        assert!(spec(vec![s]).bands(false).render().lines[0].band.is_empty());
    }

    #[test]
    fn footer_values_and_tier_come_from_the_series() {
        let s = SeriesData::from_buckets(
            "x",
            &[
                gauge(0, 5.0),
                Bucket {
                    min: 1.0,
                    max: 9.0,
                    count: 2,
                    sum: 8.0,
                    ..gauge(60_000, 4.0)
                },
            ],
            60_000,
            false,
        )
        .with_tier("1m");
        let chart = spec(vec![s]).render();
        let main = chart.main().unwrap();
        assert_eq!(
            (main.last.as_str(), main.min.as_str(), main.max.as_str()),
            ("4", "1", "9")
        );
        assert_eq!(chart.tier, "1m");
        assert_eq!(chart.step, "1m");
        assert!(!chart.lines[0].band.is_empty());
    }

    #[test]
    fn ghost_is_drawn_on_the_same_axis() {
        let now =
            SeriesData::from_buckets("x", &[gauge(0, 1.0), gauge(60_000, 1.0)], 60_000, false);
        let ghost = SeriesData::from_buckets(
            "x",
            &[gauge(-604_800_000, 10.0), gauge(-604_740_000, 10.0)],
            60_000,
            false,
        )
        .shifted_forward(604_800_000);
        let chart = spec(vec![now]).ghost(Some(ghost)).render();
        let ghost = chart.ghost.unwrap();
        assert!(ghost.starts_with('M'), "{ghost}");
        assert!(
            chart.y_ticks.iter().any(|t| t.label == "10"),
            "axis covers the ghost"
        );
    }

    #[test]
    fn path_coordinates_have_one_decimal_at_most() {
        let mut d = String::new();
        push_point(&mut d, 'M', 12.34, -0.06);
        push_point(&mut d, 'L', 7.0, 0.95);
        assert_eq!(d, "M12.3 -0.1L7 1");
    }

    #[test]
    fn sparkline_fits_its_box() {
        let s = SeriesData::from_buckets("x", &[gauge(0, 1.0), gauge(60_000, 3.0)], 60_000, false);
        let sp = Sparkline::new(&s, 0, 120_000, ValueFormat::plain(), "/metric".into());
        assert_eq!(sp.d, "M30 27L90 1");
        assert!(sp.title.contains("last 3"));
        let empty = SeriesData::from_buckets("x", &[], 60_000, false);
        assert!(Sparkline::new(&empty, 0, 1, ValueFormat::plain(), String::new()).empty);
    }
}
