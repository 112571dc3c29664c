//! Chart geometry: turns store buckets into the numbers an SVG template draws. Pure and
//! unit-tested; the templates (`templates/partials/chart.html`) only place what this computes.
//!
//! * One bucket is one point: the average as a line, min–max as a light band (so spikes that an
//!   average would hide stay visible; as two thin edge lines where a band would fill the plot).
//!   Counters are drawn as per-second rates of the buckets' reset-aware increases over the time
//!   each increase covers (see `counter_rates`), without a band.
//! * The plot is an SVG of its own, stretched to the width it gets; chart text and event markers
//!   are in unstretched SVGs beside and over it, placed by percentages, so they keep one size at
//!   every window width.
//! * Missing buckets break the line: consecutive points further apart than
//!   1.1 × (bucket step + sample interval) are not joined, so a scrape outage shows as a gap.
//! * Every bucket also gets an invisible column with a native `<title>` tooltip, so values can be
//!   read without JavaScript.

use super::export::{ChartData, chart_id, offer_chart};
use super::format::{Scale, ValueFormat, utc, utc_fmt, utc_minutes};
use super::timerange::Compare;
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
/// Ghost lines drawn per chart at most (those of the first lines).
const MAX_GHOSTS: usize = 8;

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

/// What a counter's rates need besides its buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateHints {
    /// The configured sample interval of the series' source, when known (the collector stamps
    /// samples at multiples of it).
    pub interval_ms: Option<i64>,
    /// The end of the range: a newest bucket reaching past it has only had time for the samples
    /// up to it.
    pub to: Option<Timestamp>,
}

impl SeriesData {
    /// Builds the drawn points from buckets (ascending, non-empty only), without hints: the
    /// sample interval is estimated from the buckets alone.
    pub fn from_buckets(
        label: impl Into<String>,
        buckets: &[Bucket],
        step_ms: i64,
        counter: bool,
    ) -> Self {
        Self::from_buckets_with(label, buckets, step_ms, counter, RateHints::default())
    }

    /// Builds the drawn points from buckets (ascending, non-empty only). Counters become
    /// per-second rates, see `counter_rates`.
    pub fn from_buckets_with(
        label: impl Into<String>,
        buckets: &[Bucket],
        step_ms: i64,
        counter: bool,
        hints: RateHints,
    ) -> Self {
        let step_ms = step_ms.max(1);
        let interval_ms = estimate_interval(buckets, step_ms, hints.interval_ms);
        let points = if counter {
            counter_rates(buckets, step_ms, interval_ms, hints.to)
        } else {
            buckets
                .iter()
                .map(|b| ChartPoint {
                    ts: b.ts,
                    avg: if b.count > 0 {
                        b.sum / f64::from(b.count)
                    } else {
                        b.last
                    },
                    min: b.min,
                    max: b.max,
                    last: b.last,
                })
                .collect()
        };
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
        gap_limit(self.step_ms, self.interval_ms)
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

/// Largest distance between the starts of two buckets that are still one stretch of data: a line
/// joins them, and a counter's rate runs on across them. Further apart, the series was
/// interrupted — more than a bucket plus a sample interval without a sample — and the line
/// breaks.
fn gap_limit(step_ms: i64, interval_ms: i64) -> i64 {
    ((step_ms + interval_ms) as f64 * 1.1) as i64
}

/// A rough typical time between samples from the buckets alone: a step divided by the median
/// samples per bucket when buckets hold several samples, else the time spanned per sample
/// (buckets finer than the scrape interval). Only a prior for [`estimate_interval`]: with few
/// buckets a partial one skews it (twelve minutes of 15 s samples in one 6 h bucket read as one
/// sample every 7.5 minutes).
fn rough_interval(buckets: &[Bucket], step_ms: i64) -> i64 {
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

/// Interior buckets a data estimate of the interval needs at least.
const MIN_INTERIOR: usize = 3;
/// Interior buckets per run of the interval estimate without a configured interval.
const INTERVAL_RUN: usize = 6;

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// The time between samples. Measured on interior buckets — joined to a bucket on both sides, so
/// neither the partial first or newest bucket of a stretch nor one next to a gap — as the time to
/// the next bucket over the samples, the smallest over runs of buckets. The configured interval
/// (`hint`) unless such a measurement contradicts it by more than 10 % (data written at another
/// interval); without a hint, the measurement, over fewer interior buckets if need be, else the
/// rough estimate.
fn estimate_interval(buckets: &[Bucket], step_ms: i64, hint: Option<i64>) -> i64 {
    let hint = hint.filter(|h| *h > 0);
    let prior = hint.unwrap_or_else(|| rough_interval(buckets, step_ms));
    let limit = gap_limit(step_ms, prior);
    // (time to the next bucket, samples) of each interior bucket.
    let interior: Vec<(i64, u64)> = buckets
        .windows(3)
        .filter(|w| w[1].ts - w[0].ts <= limit && w[2].ts - w[1].ts <= limit)
        .map(|w| (w[2].ts - w[1].ts, u64::from(w[1].count)))
        .collect();
    let ratio = |part: &[(i64, u64)]| {
        let samples: u64 = part.iter().map(|p| p.1).sum();
        (samples > 0).then(|| part.iter().map(|p| p.0).sum::<i64>() as f64 / samples as f64)
    };
    // The smallest over runs of buckets: missing samples (outages) only ever make a run's time
    // per sample longer. A run is as many buckets as hold a whole number of configured
    // intervals (one where the step is a multiple of it; two for 10 s samples in 15 s buckets,
    // which hold two, then one), or six without a configured interval.
    let run = hint.map_or(INTERVAL_RUN, |h| {
        usize::try_from(h / gcd(step_ms, h)).map_or(INTERVAL_RUN, |n| n.clamp(1, 12))
    });
    let robust = (interior.len() >= MIN_INTERIOR)
        .then(|| {
            interior
                .windows(run)
                .filter_map(ratio)
                .min_by(f64::total_cmp)
        })
        .flatten()
        .map(|r| (r.round() as i64).max(1));
    match (robust, hint) {
        (Some(m), Some(h)) if (m - h).abs() * 10 > h => m,
        (_, Some(h)) => h,
        (Some(m), None) => m,
        (None, None) => (interior.len() >= MIN_INTERIOR)
            .then(|| ratio(&interior))
            .flatten()
            .map_or(prior, |r| (r.round() as i64).max(1)),
    }
}

/// Per-second rates of a counter's buckets: each bucket's reset-aware increase divided by the time
/// that increase covers. The store's increase of a bucket covers the steps from the sample before
/// it to each of its samples, so that time runs from the newest sample before the bucket to the
/// bucket's own newest sample; buckets do not keep sample times, so these are estimated from the
/// bucket's place, its sample count and the sample interval `interval_ms` (I):
///
/// * A full bucket's newest sample is one interval before its end, and so is that of an
///   under-filled first bucket of a stretch (the series started inside it). Any other
///   under-filled one (an outage) holds the samples from its start when the next bucket is
///   under-filled too (the outage runs across their boundary); between full neighbours, its
///   newest sample's place is
///   interpolated from how far the counter had grown by then (exact for a steady counter, and
///   never outside the bucket's possible range).
/// * The newest bucket of a stretch holds the samples from its start (a partial bucket at the
///   end of the range, or the last before the series stopped): its newest is (count − 1)·I in.
/// * The first bucket of a stretch — the first of the range, or the first after a gap (see
///   [`gap_limit`]) — has no usable sample before it: the step from the last sample before the
///   gap (or before the series' start) is dropped, and only the growth between its own samples
///   counts, (last − min) over (count − 1)·I. With a single sample there is no rate: no false 0
///   where collection starts, no spike where it resumes. A counter reset inside such a bucket is
///   not seen (its growth is then undercounted, never overcounted), nor is an outage inside the
///   bucket where a series starts (its growth is then spread over too short a time). The range's
///   first bucket of a series that ran on from before the range is the exception: there the
///   step into it is an ordinary one and counts.
/// * Where the step is no multiple of the interval (a 15 s step over 10 s samples holds two,
///   then one), a full bucket's newest sample is counted on from the bucket before, so the rates
///   do not alternate.
fn counter_rates(
    buckets: &[Bucket],
    step_ms: i64,
    interval_ms: i64,
    to: Option<Timestamp>,
) -> Vec<ChartPoint> {
    let (s, i) = (step_ms as f64, interval_ms.max(1) as f64);
    let limit = gap_limit(step_ms, interval_ms);
    let joined = |a: &Bucket, b: &Bucket| b.ts - a.ts <= limit;
    // Samples a bucket holds when none is missing: a full step's worth, or for a bucket reaching
    // past the range's end, the slots up to it less the newest, which may not be written yet (a
    // scrape is stamped with its slot's start and written when it is done).
    let expected = |b: &Bucket| match to {
        Some(t) if b.ts + step_ms > t => ((t - b.ts) as f64 / i).floor().max(1.0),
        _ => s / i,
    };
    let full = |b: &Bucket| f64::from(b.count) + 1.0 >= expected(b);
    let n = buckets.len();
    let mut newest: Vec<f64> = Vec::with_capacity(n);
    for k in 0..n {
        let b = &buckets[k];
        let prev = k
            .checked_sub(1)
            .map(|p| &buckets[p])
            .filter(|pb| joined(pb, b));
        let next = buckets.get(k + 1).filter(|nb| joined(b, nb));
        // The bucket's samples, when none is missing, run from `from_start` (the first at the
        // bucket's start) to `to_end` (the last one interval before its end).
        let from_start = b.ts as f64 + (f64::from(b.count).min(s / i) - 1.0).max(0.0) * i;
        let to_end = (b.ts as f64 + s - i).max(from_start);
        let at = if full(b) {
            match prev.map(|_| newest[k - 1]) {
                // A step that is no multiple of the interval holds, say, two 10 s samples, then
                // one: count on from the bucket before.
                Some(before) if step_ms % interval_ms != 0 => (before + f64::from(b.count) * i)
                    .clamp(from_start, b.ts as f64 + s - 1.0)
                    .max(from_start),
                _ if next.is_none() => from_start,
                _ => to_end,
            }
        } else {
            match next {
                None => from_start,
                // The first bucket of a stretch: the series started (or resumed) inside it.
                Some(_) if prev.is_none() => to_end,
                Some(nb) if !full(nb) => from_start,
                // Missing samples with full buckets on both sides: where the outage sits inside
                // the bucket follows from how far the counter had grown by the bucket's newest
                // sample, between the full neighbours' samples next to it (exact for a steady
                // counter, within the bucket's possible range otherwise).
                Some(nb) => match prev {
                    Some(pb)
                        if full(pb) && b.min >= pb.last && nb.min >= b.last && nb.min > pb.last =>
                    {
                        let span = (nb.ts - b.ts) as f64 + i;
                        let at = b.ts as f64 - i + span * (b.last - pb.last) / (nb.min - pb.last);
                        at.clamp(from_start, to_end)
                    }
                    _ => to_end,
                },
            }
        };
        // No sample is newer than the range's end.
        newest.push(to.map_or(at, |t| at.min(t as f64)));
    }
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let b = &buckets[k];
        let first = k == 0 || !joined(&buckets[k - 1], b);
        let (increase, covered_ms) = if first {
            if b.count < 2 {
                continue;
            }
            let own = (b.last - b.min).max(0.0).min(b.increase.max(0.0));
            // The step into the bucket from the sample before it: in the range's first bucket
            // of a series that ran on from before the range it is an ordinary step (about one
            // interval's growth, no gap, no restart), and the whole increase counts, from one
            // interval before the bucket (right also with an outage inside the bucket).
            let into = b.increase - own;
            let per_step = own / f64::from(b.count - 1);
            let ran_on =
                k == 0 && into >= 0.0 && into <= 2.0 * per_step && (into > 0.0 || own == 0.0);
            if ran_on {
                (b.increase, newest[k] - (b.ts as f64 - i))
            } else {
                (own, (f64::from(b.count - 1) * i).min(s))
            }
        } else {
            (b.increase, newest[k] - newest[k - 1])
        };
        if covered_ms <= 0.0 {
            continue;
        }
        let rate = increase / (covered_ms / 1000.0);
        out.push(ChartPoint {
            ts: b.ts,
            avg: rate,
            min: rate,
            max: rate,
            last: rate,
        });
    }
    out
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
    /// Ghost lines (`compare=`): earlier data moved forward onto this range, each labelled like
    /// the line it belongs to (it takes that line's colour).
    pub ghosts: Vec<SeriesData>,
    /// The shift of the ghosts (for their legend and the export's original times).
    pub compare: Option<Compare>,
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
            ghosts: Vec::new(),
            compare: None,
            events: Vec::new(),
            hover_px: 2.0,
            bands: true,
        }
    }

    pub fn events(mut self, events: Vec<EventMark>) -> Self {
        self.events = events;
        self
    }

    /// Ghost lines of the same window `compare` earlier, at their own (earlier) times: they are
    /// moved forward here. Only those labelled like one of the chart's lines are kept.
    pub fn ghosts(mut self, ghosts: Vec<SeriesData>, compare: Option<&Compare>) -> Self {
        let Some(c) = compare else {
            return self;
        };
        self.ghosts = ghosts
            .into_iter()
            .filter(|g| self.series.iter().any(|s| s.label == g.label))
            .take(MAX_GHOSTS)
            .map(|g| g.shifted_forward(c.ms))
            .collect();
        self.compare = Some(c.clone());
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
    /// Position in plot units (x from the plot's left edge, y from its top).
    pub pos: f64,
    /// For x ticks, the same position as a percentage of the plot's width (for text, which is
    /// placed outside the stretched plot so that it keeps its size).
    pub pct: f64,
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
    /// The band's upper and lower edges as thin lines, drawn instead of a filled band when the
    /// band would fill most of the plot (a series that swings over its whole axis in every
    /// bucket): a solid block hides the average and tells nothing the edges do not.
    pub envelope: String,
    /// The label of an earlier line this one draws exactly over, if any: it is then dashed so
    /// the one under it shows, and the legend says so.
    pub same_as: Option<String>,
    /// Where to draw a dot on the newest point (x as a percentage of the plot's width, y in the
    /// overlay's units), when all data is in a sliver at the end of the range.
    pub dot: Option<(f64, f64)>,
    pub last: String,
    pub min: String,
    pub max: String,
    pub link: String,
}

impl Line {
    /// CSS classes of the line's path.
    pub fn class(&self) -> &'static str {
        if self.same_as.is_some() {
            "line same"
        } else {
            "line"
        }
    }
}

/// A ghost line: the path of an earlier window's line, in the colour of the line it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Ghost {
    pub d: String,
    pub color: &'static str,
    /// `bytes in (1w earlier)`, its hover text.
    pub title: String,
}

/// An event: a short tick on the time axis and a marker below it whose shape says the severity.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTick {
    /// Position in plot units, and as a percentage of the plot's width.
    pub x: f64,
    pub pct: f64,
    pub title: String,
    pub severity: &'static str,
}

impl EventTick {
    /// The marker, one shape per severity defined once per page (`templates/partials/defs.html`):
    /// a tick up into the plot and under it a circle for info, a triangle for a warning, a
    /// diamond for critical.
    pub fn shape(&self) -> &'static str {
        match self.severity {
            "critical" => "#ev-critical",
            "warning" => "#ev-warning",
            _ => "#ev-info",
        }
    }
}

/// An invisible hover column over one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub x: f64,
    pub w: f64,
    pub title: String,
}

/// The part of a chart before its first data, when data starts well inside the range.
#[derive(Clone, Debug, PartialEq)]
pub struct Before {
    /// Where data starts, in plot units and as a percentage of the plot's width.
    pub x: f64,
    pub pct: f64,
    /// `no data before 06:14` (with the date when it is not the range's last day).
    pub text: String,
    /// Whether the text fits in the shaded part (else it is only the shading's tooltip).
    pub label: bool,
}

/// Everything the chart partial renders. The plot (`svg.ch`) is stretched to the width it is
/// given, so it holds only shapes (lines keep their stroke width); its text — axis labels, the
/// "no data" notes — and the event markers sit in unstretched SVGs beside and over it, placed
/// by percentages, so chart text has one size at every window width.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Stable id on its page (see [`chart_id`]): the `chart=` of its export links.
    pub id: String,
    pub title: String,
    pub link: String,
    /// The nominal size the chart was laid out for (SVG units ≈ CSS px).
    pub width: u32,
    pub height: u32,
    pub from: Timestamp,
    pub to: Timestamp,
    /// The plot's origin in its own units (always 0: the plot is its own SVG).
    pub plot_x: f64,
    pub plot_y: f64,
    pub plot_w: f64,
    pub plot_h: f64,
    pub lines: Vec<Line>,
    pub ghosts: Vec<Ghost>,
    /// `1w earlier` when the chart has ghost lines' data asked for (even if there was none).
    pub ghost_label: String,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub events: Vec<EventTick>,
    pub columns: Vec<Column>,
    pub before: Option<Before>,
    /// `raw`, `1m`, … of the answering tier(s), and the bucket step.
    pub tier: String,
    pub step: String,
    pub unit: &'static str,
    pub empty: bool,
    pub multi: bool,
}

impl Chart {
    /// The plot's own coordinates.
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.plot_w, self.plot_h)
    }

    pub fn plot_bottom(&self) -> f64 {
        self.plot_y + self.plot_h
    }

    pub fn plot_right(&self) -> f64 {
        self.plot_x + self.plot_w
    }

    /// Height of the axis SVGs: the plot with the margins above and below it (a row of event
    /// markers makes the lower margin taller).
    pub fn box_h(&self) -> f64 {
        MARGIN_TOP + self.plot_h + self.bottom()
    }

    fn bottom(&self) -> f64 {
        if self.events.is_empty() {
            MARGIN_BOTTOM
        } else {
            MARGIN_BOTTOM + EVENT_ROW
        }
    }

    /// Baseline of a y-axis label at plot position `pos`.
    pub fn y_label(&self, pos: &f64) -> f64 {
        MARGIN_TOP + pos + 4.0
    }

    /// Baseline of the x-axis labels.
    pub fn x_label_y(&self) -> f64 {
        self.box_h() - 5.0
    }

    /// Top of the event markers, just below the plot.
    pub fn event_y(&self) -> f64 {
        MARGIN_TOP + self.plot_h + 2.0
    }

    /// Vertical middle of the plot in the overlay's units.
    pub fn mid_y(&self) -> f64 {
        MARGIN_TOP + self.plot_h / 2.0 + 4.0
    }

    /// The value grid (one horizontal line per y tick) as one path: a page of small charts
    /// would otherwise spend a tenth of its bytes on `<line>` elements.
    pub fn y_grid(&self) -> String {
        let mut d = String::new();
        for t in &self.y_ticks {
            d.push('M');
            push_tenths_int(&mut d, 0);
            d.push(' ');
            push_tenths_int(&mut d, (t.pos * 10.0).round() as i64);
            d.push('h');
            push_tenths_int(&mut d, (self.plot_w * 10.0).round() as i64);
        }
        d
    }

    /// The time grid (one vertical line per x tick) as one path.
    pub fn x_grid(&self) -> String {
        let mut d = String::new();
        for t in &self.x_ticks {
            d.push('M');
            push_tenths_int(&mut d, (t.pos * 10.0).round() as i64);
            d.push_str(" 0v");
            push_tenths_int(&mut d, (self.plot_h * 10.0).round() as i64);
        }
        d
    }

    /// The first line, for single-series footers.
    pub fn main(&self) -> Option<&Line> {
        self.lines.first()
    }
}

/// Room left of the plot for the y-axis labels (in CSS px, see `static/app.css`).
pub const MARGIN_LEFT: f64 = 58.0;
/// Room right of the plot, so that the last x label is not cut.
pub const MARGIN_RIGHT: f64 = 8.0;
const MARGIN_TOP: f64 = 6.0;
const MARGIN_BOTTOM: f64 = 18.0;
/// Extra room under the plot for a row of event markers.
const EVENT_ROW: f64 = 11.0;
/// Chart text size (CSS px), and the width of one character of axis text at that size.
const CHAR_PX: f64 = 6.4;

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

/// Tick intervals of the time axis, ascending; ticks fall on UTC multiples of them.
const TICK_INTERVALS: [i64; 19] = {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    [
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
    ]
};

/// Space kept free between two x-axis labels, in CSS px.
const LABEL_GAP_PX: f64 = 16.0;

/// How tick labels `every` apart read over a range of `range_ms`.
fn tick_pattern(range_ms: i64, every: i64) -> &'static str {
    if range_ms <= 36 * 3_600_000 {
        "%H:%M"
    } else if every < 86_400_000 {
        "%m-%d %H:%M"
    } else if range_ms <= 200 * 86_400_000 {
        "%m-%d"
    } else {
        "%Y-%m-%d"
    }
}

/// Width of a tick label written with `pattern`, in CSS px at the chart text size.
fn label_px(pattern: &str) -> f64 {
    let chars = pattern
        .split('%')
        .skip(1)
        .map(|p| if p.starts_with('Y') { 4 } else { 2 } + p.len() - 1)
        .sum::<usize>();
    chars as f64 * CHAR_PX
}

/// Time-axis ticks with labels that suit the range (`10:00`, `05-01 10:00`, `05-01`,
/// `2024-05-01`), on UTC-aligned boundaries: the shortest interval whose labels, at the chart
/// text size, fit a plot of `width_px` with room between them — a 24 h chart of 270 px gets
/// 6-hourly ticks, not two.
pub fn time_ticks(from: Timestamp, to: Timestamp, width_px: f64) -> Vec<(Timestamp, String)> {
    let range = (to - from).max(1);
    let (every, pattern) = TICK_INTERVALS
        .iter()
        .map(|&every| (every, tick_pattern(range, every)))
        .find(|(every, pattern)| {
            width_px * *every as f64 / range as f64 >= label_px(pattern) + LABEL_GAP_PX
        })
        .unwrap_or((TICK_INTERVALS[TICK_INTERVALS.len() - 1], "%Y-%m-%d"));
    let mut t = from.div_euclid(every) * every;
    if t < from {
        t += every;
    }
    let mut out = Vec::new();
    while t <= to && out.len() < 40 {
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
        let id = chart_id(&self.title, &self.link);
        offer_chart(&id, || ChartData {
            id: id.clone(),
            title: self.title.clone(),
            from: self.from,
            to: self.to,
            format: self.format,
            series: self.series.clone(),
            ghosts: self
                .ghosts
                .iter()
                .map(|g| {
                    let back = self.compare.as_ref().map_or(0, |c| c.ms);
                    SeriesData {
                        label: format!(
                            "{} ({})",
                            g.label,
                            self.compare
                                .as_ref()
                                .map(Compare::label)
                                .unwrap_or_default()
                        ),
                        ..g.clone().shifted_forward(-back)
                    }
                })
                .collect(),
            compare: self.compare.clone(),
        });
        let width = f64::from(self.width.max(120));
        let height = f64::from(self.height.max(60));
        let (plot_x, plot_y) = (0.0, 0.0);
        let plot_w = width - MARGIN_LEFT - MARGIN_RIGHT;
        let plot_h = height - MARGIN_TOP - MARGIN_BOTTOM;
        let (from, to) = (self.from, self.to.max(self.from + 1));

        // Value range over everything drawn, including the ghost line.
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for s in self.series.iter().chain(self.ghosts.iter()) {
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
        let pct = |x: f64| (x / plot_w * 10_000.0).round() / 100.0;
        let tick_step = match scaled.as_slice() {
            [a, b, ..] => (b - a) * scale.factor,
            _ => 0.0,
        };
        let y_ticks = scaled
            .iter()
            .map(|v| {
                let pos = m.y(v * scale.factor);
                Tick {
                    pos,
                    pct: 0.0,
                    label: scale.format_tick(v * scale.factor, tick_step),
                }
            })
            .collect();
        let x_ticks = time_ticks(from, to, plot_w)
            .into_iter()
            .map(|(t, label)| {
                let pos = m.x(t as f64);
                // A label that would stick out past the plot's right margin keeps its grid line.
                let fits =
                    pos + label.chars().count() as f64 * CHAR_PX / 2.0 <= plot_w + MARGIN_RIGHT;
                Tick {
                    pos,
                    pct: pct(pos),
                    label: if fits { label } else { String::new() },
                }
            })
            .collect();

        let mut lines: Vec<Line> = Vec::with_capacity(self.series.len());
        for (i, s) in self.series.iter().enumerate() {
            let d = line_path(s, &m, XUnits::Tenths);
            let same_as = lines
                .iter()
                .find(|l| !d.is_empty() && l.d == d)
                .map(|l| l.label.clone());
            let (band, envelope) = if !self.bands {
                (String::new(), String::new())
            } else if band_fills_plot(s, y_hi - y_lo) {
                (String::new(), envelope_path(s, &m, XUnits::Tenths))
            } else {
                (band_path(s, &m, XUnits::Tenths), String::new())
            };
            let shown = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| self.format.format(v));
            lines.push(Line {
                label: s.label.clone(),
                color: COLORS[i % COLORS.len()],
                d,
                band,
                envelope,
                same_as,
                dot: None,
                last: shown(s.last()),
                min: shown(s.min()),
                max: shown(s.max()),
                link: s.link.clone(),
            });
        }
        let ghost_label = self
            .compare
            .as_ref()
            .map(Compare::label)
            .unwrap_or_default();
        let ghosts = self
            .ghosts
            .iter()
            .filter_map(|g| {
                let i = self.series.iter().position(|s| s.label == g.label)?;
                Some(Ghost {
                    d: line_path(g, &m, XUnits::Tenths),
                    color: COLORS[i % COLORS.len()],
                    title: format!("{} ({ghost_label})", g.label),
                })
            })
            .collect();

        let mut events: Vec<&EventMark> = self
            .events
            .iter()
            .filter(|e| e.ts >= from && e.ts <= to)
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.ts));
        events.truncate(MAX_EVENT_TICKS);
        // Drawn in order of severity, so that where markers overlap the gravest is on top.
        let rank = |sev: &str| match sev {
            "critical" => 2,
            "warning" => 1,
            _ => 0,
        };
        events.sort_by_key(|e| (rank(e.severity), e.ts));
        let events = events
            .into_iter()
            .map(|e| {
                let x = m.x(e.ts as f64);
                EventTick {
                    x,
                    pct: pct(x),
                    title: format!("{} — {}", utc(e.ts), e.text),
                    severity: e.severity,
                }
            })
            .collect();

        let before = data_start(&self.series, from, to).map(|start| {
            let x = m.x(start as f64).clamp(0.0, plot_w);
            let same_day = start.div_euclid(86_400_000) == (to - 1).div_euclid(86_400_000);
            let text = format!(
                "no data before {}",
                utc_fmt(start, if same_day { "%H:%M" } else { "%Y-%m-%d %H:%M" })
            );
            Before {
                x,
                pct: pct(x),
                label: x >= (text.chars().count() as f64 + 2.0) * CHAR_PX,
                text,
            }
        });

        // Data in a sliver at the end of the range (a server that started minutes ago): a dot
        // on each line's newest point, so that it reads at all.
        if before.as_ref().is_some_and(|b| b.pct >= 90.0) {
            for (l, s) in lines.iter_mut().zip(&self.series) {
                l.dot = s.points.iter().rev().find(|p| p.avg.is_finite()).map(|p| {
                    let x = m.x(p.ts as f64 + s.step_ms as f64 / 2.0).clamp(0.0, plot_w);
                    (pct(x), MARGIN_TOP + m.y(p.avg))
                });
            }
        }

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
            id,
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
            ghosts,
            ghost_label,
            y_ticks,
            x_ticks,
            events,
            columns,
            before,
            tier: tiers.join("+"),
            step,
            unit,
            empty,
            multi,
        }
    }
}

/// Where a chart's data starts, when that is well inside its range (more than two buckets and
/// 2 % of the range after its start): the earliest first point of its series.
fn data_start(series: &[SeriesData], from: Timestamp, to: Timestamp) -> Option<Timestamp> {
    let first = series
        .iter()
        .filter_map(|s| s.points.first().map(|p| p.ts))
        .min()?;
    let step = series.iter().map(|s| s.step_ms).min().unwrap_or(0);
    let slack = (2 * step).max((to - from) / 50);
    (first > from + slack).then_some(first)
}

/// Whether a min–max band would fill most of the plot: in at least half of the buckets it spans
/// more than half of the axis. Such a band is a solid block (a value that swings between its
/// extremes within every bucket); its edges say the same without hiding the average.
fn band_fills_plot(s: &SeriesData, axis_span: f64) -> bool {
    if axis_span <= 0.0 {
        return false;
    }
    let wide = s
        .points
        .iter()
        .filter(|p| (p.max - p.min) / axis_span > 0.5)
        .count();
    !s.points.is_empty() && wide * 2 >= s.points.len()
}

/// Appends tenths `t` as a decimal with at most one digit after the point, through integer
/// formatting: paths hold most of a page's numbers, and float formatting was a tenth of the
/// render time.
fn push_tenths_int(d: &mut String, t: i64) {
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

/// How a path writes x.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum XUnits {
    /// In plot units with one decimal (sparklines).
    Plot,
    /// In whole tenths of a plot unit, without the decimal point: the chart partial draws its
    /// lines, bands and ghosts in a group scaled by 1/10 horizontally (`scale(.1 1)`; strokes
    /// do not scale), which saves a byte or two on nearly every number of a page's paths.
    Tenths,
}

/// Writes a path compactly, as most of a page's bytes are path numbers: each run starts with an
/// absolute `M`, then relative `l` steps between the rounded points (so rounding never adds up),
/// the `l` written once per run (SVG repeats it), x to a tenth (see [`XUnits`]) and y in whole units (one unit is
/// one CSS pixel of plot height; x is stretched to the plot's width, so it keeps a decimal).
struct PathWriter {
    d: String,
    /// The previous point in tenths, and whether an `l` run is open.
    prev: (i64, i64),
    in_run: bool,
    x: XUnits,
}

impl PathWriter {
    fn new(x: XUnits) -> Self {
        PathWriter {
            d: String::new(),
            prev: (0, 0),
            in_run: false,
            x,
        }
    }

    fn tenths(x: f64, y: f64) -> (i64, i64) {
        ((x * 10.0).round() as i64, (y.round() * 10.0) as i64)
    }

    fn push_x(&mut self, tenths: i64) {
        match self.x {
            XUnits::Plot => push_tenths_int(&mut self.d, tenths),
            XUnits::Tenths => {
                let _ = write!(self.d, "{tenths}");
            }
        }
    }

    fn move_to(&mut self, x: f64, y: f64) {
        let p = Self::tenths(x, y);
        self.d.push('M');
        self.push_x(p.0);
        self.d.push(' ');
        push_tenths_int(&mut self.d, p.1);
        self.prev = p;
        self.in_run = false;
    }

    fn line_to(&mut self, x: f64, y: f64) {
        let p = Self::tenths(x, y);
        let (dx, dy) = (p.0 - self.prev.0, p.1 - self.prev.1);
        // A level step as `h` (one number): series with a step in every other bucket have many.
        if dy == 0 {
            self.d.push('h');
            self.push_x(dx);
            self.in_run = false;
            self.prev = p;
            return;
        }
        if self.in_run {
            if dx >= 0 {
                self.d.push(' ');
            }
        } else {
            self.d.push('l');
            self.in_run = true;
        }
        self.push_x(dx);
        if dy >= 0 {
            self.d.push(' ');
        }
        push_tenths_int(&mut self.d, dy);
        self.prev = p;
    }

    fn push(&mut self, raw: &str) {
        self.d.push_str(raw);
        self.in_run = false;
    }
}

/// The average line: `M` at the start of each joined run, `L` within it. A run of one point
/// gets a short horizontal stroke so it stays visible. Points inside a horizontal stretch (same
/// y as both neighbours) are left out: they draw nothing, and flat series are most of a page.
fn line_path(s: &SeriesData, m: &Mapper, x: XUnits) -> String {
    let mut d = PathWriter::new(x);
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
            if i == 0 {
                d.move_to(xy[i].0, xy[i].1);
            } else {
                d.line_to(xy[i].0, xy[i].1);
            }
        }
        if n == 1 {
            d.push(if x == XUnits::Tenths { "h10" } else { "h1" });
        }
    }
    d.d
}

/// The min–max band as one closed polygon per joined run; empty when min = max everywhere. As
/// for lines, points inside a horizontal stretch of an edge are left out.
fn band_path(s: &SeriesData, m: &Mapper, x: XUnits) -> String {
    band_edges(s, m, x, true)
}

/// The band's upper and lower edges as two open lines per joined run (see [`Line::envelope`]).
fn envelope_path(s: &SeriesData, m: &Mapper, x: XUnits) -> String {
    band_edges(s, m, x, false)
}

fn band_edges(s: &SeriesData, m: &Mapper, x_units: XUnits, closed: bool) -> String {
    if s.points.iter().all(|p| p.min == p.max) {
        return String::new();
    }
    let mut d = PathWriter::new(x_units);
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
        if closed {
            bottom.reverse();
        }
        for (k, edge) in [&top, &bottom].into_iter().enumerate() {
            let n = edge.len();
            for i in 0..n {
                let flat_inside =
                    i > 0 && i + 1 < n && edge[i - 1].1 == edge[i].1 && edge[i + 1].1 == edge[i].1;
                if flat_inside {
                    continue;
                }
                // A closed band runs on from the top edge into the (reversed) bottom one; open
                // edges are two separate lines.
                if i == 0 && (k == 0 || !closed) {
                    d.move_to(edge[i].0, edge[i].1);
                } else {
                    d.line_to(edge[i].0, edge[i].1);
                }
            }
        }
        if closed {
            d.push("Z");
        }
    }
    d.d
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
                let (min, max) = (fmt.format(min), fmt.format(max));
                if spread && min != max {
                    let _ = write!(title, " ({min}…{max})");
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
            d: line_path(s, &m, XUnits::Plot),
            band: band_path(s, &m, XUnits::Plot),
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

    /// Folds samples into `step` buckets over `[lo, hi)` as the store does: a counter's
    /// increase is reset-aware and its first sample in the window also counts the step from the
    /// sample before the window.
    fn fold(samples: &[(Timestamp, f64)], step: i64, lo: Timestamp, hi: Timestamp) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = Vec::new();
        let mut prev: Option<f64> = None;
        for &(ts, v) in samples {
            let inc = match prev {
                Some(p) if v >= p => v - p,
                Some(_) => v,
                None => 0.0,
            };
            prev = Some(v);
            if ts < lo || ts >= hi {
                continue;
            }
            let bts = ts.div_euclid(step) * step;
            match out.last_mut() {
                Some(b) if b.ts == bts => {
                    b.count += 1;
                    b.sum += v;
                    b.min = b.min.min(v);
                    b.max = b.max.max(v);
                    b.last = v;
                    b.increase += inc;
                }
                _ => out.push(Bucket {
                    ts: bts,
                    count: 1,
                    sum: v,
                    min: v,
                    max: v,
                    last: v,
                    increase: inc,
                }),
            }
        }
        out
    }

    /// A counter growing by `rate` per second, sampled every `every` ms from `from` to `to`
    /// (inclusive), except in `gaps` (while it keeps counting).
    fn counter_samples(
        rate: f64,
        every: i64,
        (from, to): (Timestamp, Timestamp),
        gaps: &[(Timestamp, Timestamp)],
    ) -> Vec<(Timestamp, f64)> {
        (0..)
            .map(|k| from + k * every)
            .take_while(|t| *t <= to)
            .filter(|t| !gaps.iter().any(|(a, b)| t >= a && t < b))
            .map(|t| (t, 1e6 + rate * (t - from) as f64 / 1000.0))
            .collect()
    }

    fn rates(s: &SeriesData) -> Vec<f64> {
        s.points.iter().map(|p| p.avg).collect()
    }

    fn assert_all_near(s: &SeriesData, want: f64, what: &str) {
        assert!(!s.points.is_empty(), "{what}: no points");
        for p in &s.points {
            assert!(
                (p.avg - want).abs() <= want * 1e-9,
                "{what}: {} at {} (all: {:?})",
                p.avg,
                p.ts,
                rates(s)
            );
        }
    }

    const S15: i64 = 15_000;
    const DAY: i64 = 86_400_000;
    /// A `to` that is no multiple of any step: 3 days, 1 h, 7 min and 22.5 s after the epoch.
    const TO: Timestamp = 3 * DAY + 3_600_000 + 7 * 60_000 + 22_500;

    fn hints(interval_ms: Option<i64>) -> RateHints {
        RateHints {
            interval_ms,
            to: Some(TO),
        }
    }

    #[test]
    fn a_steady_counter_has_one_rate_at_every_step_and_every_history_length() {
        // The case: with twelve minutes of data, 6 h buckets read the interval as
        // 7.5 minutes and drew the newest rate at a fraction of the truth.
        for history in [2 * 60_000, 12 * 60_000, 3 * 3_600_000, 3 * DAY] {
            let samples = counter_samples(7.9, S15, (TO - history - TO % S15, TO), &[]);
            for step in [S15, 30_000, 120_000, 600_000, 3_600_000, 6 * 3_600_000] {
                let lo = (TO - 30 * DAY).div_euclid(step) * step;
                let buckets = fold(&samples, step, lo, TO + 1);
                let s = SeriesData::from_buckets_with("c", &buckets, step, true, hints(Some(S15)));
                assert_all_near(&s, 7.9, &format!("history {history}, step {step}"));
            }
        }
    }

    #[test]
    fn a_step_that_is_no_multiple_of_the_interval_gives_no_alternating_rates() {
        // 10 s samples in 15 s buckets (two, then one), 45 s samples in 2 min buckets.
        for (every, step) in [(10_000, 15_000), (45_000, 120_000), (60_000, 90_000)] {
            let samples = counter_samples(5.0, every, (TO - 2 * 3_600_000, TO), &[]);
            let buckets = fold(&samples, step, TO - 3_600_000, TO + 1);
            let s = SeriesData::from_buckets_with("c", &buckets, step, true, hints(Some(every)));
            assert_all_near(&s, 5.0, &format!("every {every}, step {step}"));
        }
    }

    #[test]
    fn without_a_configured_interval_it_is_measured_on_interior_buckets() {
        let samples = counter_samples(2.0, 10_000, (TO - DAY, TO), &[]);
        for step in [60_000, 600_000, 3_600_000] {
            let buckets = fold(&samples, step, 0, TO + 1);
            let s = SeriesData::from_buckets_with("c", &buckets, step, true, hints(None));
            assert_eq!(s.interval_ms, 10_000, "step {step}");
            assert_all_near(&s, 2.0, &format!("step {step}"));
        }
        // A configured interval the data contradicts (written every 10 s, configured 60 s)
        // gives way to the measurement.
        let buckets = fold(&samples, 600_000, 0, TO + 1);
        let s = SeriesData::from_buckets_with("c", &buckets, 600_000, true, hints(Some(60_000)));
        assert_eq!(s.interval_ms, 10_000);
    }

    #[test]
    fn the_first_sample_and_the_first_after_a_gap_make_no_rate() {
        // Collection starts at `start`; the store has an older sample a week before (the
        // counter kept counting in between): the first bucket must not carry that week.
        let start = TO - 3_600_000 - TO % S15;
        let mut samples = vec![(start - 7 * DAY, 1e6 - 7.0 * 86_400.0)];
        samples.extend(counter_samples(1.0, S15, (start, TO), &[]));
        for step in [S15, 30_000, 120_000, 600_000] {
            let buckets = fold(&samples, step, start - 3_600_000, TO + 1);
            let s = SeriesData::from_buckets_with("c", &buckets, step, true, hints(Some(S15)));
            assert_all_near(&s, 1.0, &format!("step {step}"));
            if step == S15 {
                assert_eq!(
                    s.points.first().map(|p| p.ts),
                    Some(start + S15),
                    "one sample alone has no rate"
                );
            }
        }
        // Outages of several lengths at several phases, while the counter keeps counting: no
        // spike after them, and the newest point is the true rate.
        for step in [60_000, 600_000] {
            for len in [2 * S15, 3 * S15, 10 * 60_000, 45 * 60_000] {
                for at in [0, 7 * S15, 17 * S15, 39 * S15] {
                    let a = start + 600_000 + at;
                    let samples = counter_samples(1.0, S15, (start, TO), &[(a, a + len)]);
                    let buckets = fold(&samples, step, start, TO + 1);
                    let s =
                        SeriesData::from_buckets_with("c", &buckets, step, true, hints(Some(S15)));
                    for p in &s.points {
                        assert!(
                            p.avg <= 1.0 + 1e-9,
                            "step {step}, outage {len} at {at}: spike {p:?} in {:?}",
                            rates(&s)
                        );
                    }
                    let last = s.points.last().map(|p| p.avg);
                    assert!(
                        last.is_some_and(|v| (v - 1.0).abs() < 1e-9),
                        "step {step}, outage {len} at {at}: newest {last:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_outage_in_the_ranges_first_bucket_is_no_spike() {
        // A series running for days; a 7 d chart's first hour holds a 10-minute outage.
        let lo = TO - 7 * DAY - (TO - 7 * DAY).rem_euclid(3_600_000);
        let gap = (lo + 1_200_000, lo + 1_800_000);
        let samples = counter_samples(2.0, S15, (TO - 9 * DAY - TO % S15, TO), &[gap]);
        let buckets = fold(&samples, 3_600_000, lo, TO + 1);
        let s = SeriesData::from_buckets_with("c", &buckets, 3_600_000, true, hints(Some(S15)));
        assert_all_near(&s, 2.0, "outage in the first bucket");
    }

    #[test]
    fn an_outage_across_a_bucket_boundary_is_charged_to_neither_bucket() {
        let start = TO - 3_600_000 - TO % 600_000;
        // From 7.5 minutes into a 10-minute bucket to 2.5 minutes into the next one.
        let gap = (start + 1_200_000 + 450_000, start + 1_800_000 + 150_000);
        let samples = counter_samples(3.0, S15, (start, TO), &[gap]);
        let buckets = fold(&samples, 600_000, start, TO + 1);
        let s = SeriesData::from_buckets_with("c", &buckets, 600_000, true, hints(Some(S15)));
        assert_all_near(&s, 3.0, "outage across a boundary");
        // And inside one bucket.
        let gap = (start + 1_200_000 + 150_000, start + 1_200_000 + 450_000);
        let samples = counter_samples(3.0, S15, (start, TO), &[gap]);
        let buckets = fold(&samples, 600_000, start, TO + 1);
        let s = SeriesData::from_buckets_with("c", &buckets, 600_000, true, hints(Some(S15)));
        assert_all_near(&s, 3.0, "outage inside a bucket");
    }

    #[test]
    fn a_counter_reset_is_no_drop_to_zero_or_negative() {
        let start = TO - 3_600_000 - TO % 600_000;
        let reset = start + 1_800_000;
        let samples: Vec<(Timestamp, f64)> = counter_samples(4.0, S15, (start, TO), &[])
            .into_iter()
            .map(|(t, v)| {
                if t >= reset {
                    (t, 4.0 * (t - reset) as f64 / 1000.0)
                } else {
                    (t, v)
                }
            })
            .collect();
        let buckets = fold(&samples, 600_000, start, TO + 1);
        let s = SeriesData::from_buckets_with("c", &buckets, 600_000, true, hints(Some(S15)));
        // The restart loses the growth of one 15 s step in its bucket: 39 of 40 steps.
        for p in &s.points {
            let want = if p.ts == reset {
                4.0 * 39.0 / 40.0
            } else {
                4.0
            };
            assert!((p.avg - want).abs() < 1e-9, "{p:?} in {:?}", rates(&s));
        }
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
        // A tenth of a plot unit ten times over: one unit in the scaled group.
        assert!(chart.lines[0].d.ends_with("h10"), "{}", chart.lines[0].d);
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
        // 0 … 4 flat (two points), up to 5, down to 6, 6 … 9 flat (one more point): the
        // start, a level step (`h`, one number), two relative steps, a level step.
        assert!(d.starts_with('M') && d.matches('l').count() == 1, "{d}");
        assert_eq!(d.matches('h').count(), 2, "{d}");
        let numbers = d
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ' || c == '-')
            .filter(|n| !n.is_empty())
            .count();
        assert_eq!(numbers, 8, "{d}");
    }

    #[test]
    fn x_ticks_are_utc_aligned_and_labelled_for_the_range() {
        let ticks = time_ticks(0, 6 * 3_600_000, 540.0);
        assert_eq!(ticks.first().map(|t| t.1.as_str()), Some("00:00"));
        assert!(ticks.len() >= 3 && ticks.len() <= 8, "{ticks:?}");
        let week = time_ticks(0, 7 * 86_400_000, 540.0);
        assert!(week.iter().all(|t| t.0 % 86_400_000 == 0), "{week:?}");
        assert_eq!(week[1].1, "01-02", "daily ticks fit 540 px");
        let year = time_ticks(0, 365 * 86_400_000, 540.0);
        assert!(year[0].1.starts_with("1970-"), "{year:?}");
    }

    #[test]
    fn a_day_on_a_small_chart_gets_more_than_two_ticks_and_labels_never_touch() {
        // The overview's 340-unit charts have a 274-unit plot: 24 h had ticks at 12:00 and
        // 00:00 only.
        let day = time_ticks(0, 86_400_000, 274.0);
        assert!(day.len() >= 4, "{day:?}");
        for (span, width) in [
            (3_600_000, 274.0),
            (86_400_000, 274.0),
            (3 * 86_400_000, 354.0),
            (7 * 86_400_000, 274.0),
            (30 * 86_400_000, 934.0),
            (365 * 86_400_000, 274.0),
        ] {
            let ticks = time_ticks(0, span, width);
            assert!(ticks.len() >= 2, "{span}: {ticks:?}");
            let gap = width * (ticks[1].0 - ticks[0].0) as f64 / span as f64;
            let widest = ticks.iter().map(|t| t.1.len()).max().unwrap_or(0) as f64 * CHAR_PX;
            assert!(
                gap >= widest + LABEL_GAP_PX,
                "{span} on {width}: labels {widest} px wide, {gap} px apart: {ticks:?}"
            );
        }
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
        assert_eq!(chart.events[0].x, 267.0);
        assert_eq!(chart.events[0].pct, 50.0);
        assert!(chart.events[0].title.contains("became leader"));
        assert!(chart.events[0].title.contains("UTC"));
        // One marker shape per severity (a short tick on the axis and a circle, triangle or
        // diamond below it; never a line through the data).
        let shapes: Vec<&str> = ["info", "warning", "critical"]
            .iter()
            .map(|&severity| {
                EventTick {
                    x: 0.0,
                    pct: 0.0,
                    title: String::new(),
                    severity,
                }
                .shape()
            })
            .collect();
        assert!(
            shapes[0] != shapes[1] && shapes[1] != shapes[2] && shapes[0] != shapes[2],
            "{shapes:?}"
        );
        assert!(
            chart.box_h() > spec(vec![]).render().box_h(),
            "a row for the markers"
        );
    }

    #[test]
    fn identical_lines_are_found_dashed_and_named() {
        let mk = |label| {
            SeriesData::from_buckets(label, &[gauge(0, 1.0), gauge(60_000, 2.0)], 60_000, false)
        };
        let other =
            SeriesData::from_buckets("zk3", &[gauge(0, 1.0), gauge(60_000, 3.0)], 60_000, false);
        let chart = spec(vec![mk("zk1"), mk("zk2"), other]).render();
        assert_eq!(chart.lines[0].same_as, None);
        assert_eq!(chart.lines[1].same_as.as_deref(), Some("zk1"));
        assert_eq!(chart.lines[1].class(), "line same");
        assert_eq!(
            chart.lines[2].same_as, None,
            "a different line is not marked"
        );
        assert_eq!(chart.lines[2].class(), "line");
    }

    #[test]
    fn a_chart_marks_where_its_data_starts() {
        // Ten minutes of data at the end of a 24 h range.
        let day = 86_400_000;
        let buckets: Vec<Bucket> = (0..2)
            .map(|i| gauge(day - 600_000 + i * 300_000, 1.0))
            .collect();
        let s = SeriesData::from_buckets("x", &buckets, 300_000, false);
        let mut sp = spec(vec![s]);
        (sp.from, sp.to) = (0, day);
        let chart = sp.render();
        let before = chart.before.expect("data starts inside the range");
        assert_eq!(before.text, "no data before 23:50");
        assert!(before.pct > 98.0 && before.label, "{before:?}");
        assert!(
            chart.lines[0].dot.is_some_and(|(x, _)| x > 99.0),
            "the sliver of data gets a dot: {:?}",
            chart.lines[0].dot
        );
        // Data from the start of the range: nothing to mark.
        let buckets: Vec<Bucket> = (0..288).map(|i| gauge(i * 300_000, 1.0)).collect();
        let s = SeriesData::from_buckets("x", &buckets, 300_000, false);
        let mut sp = spec(vec![s]);
        (sp.from, sp.to) = (0, day);
        let chart = sp.render();
        assert_eq!(chart.before, None);
        assert_eq!(chart.lines[0].dot, None);
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
            .find(|c| c.title.contains("…50)"))
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
                    min: 4.0,
                    max: 6.0,
                    ..gauge(60_000, 5.0)
                },
            ],
            60_000,
            false,
        );
        assert!(!spec(vec![s.clone()]).render().lines[0].band.is_empty());
        assert!(spec(vec![s]).bands(false).render().lines[0].band.is_empty());
    }

    #[test]
    fn a_band_that_would_fill_the_plot_is_drawn_as_its_edges() {
        // Outstanding requests cycling 0, 1, 2, 3 at every scrape: every 10-minute bucket spans
        // the whole axis; a filled band was a solid block over three days.
        let swinging: Vec<Bucket> = (0..40)
            .map(|i| Bucket {
                count: 40,
                sum: 60.0,
                min: 0.0,
                max: 3.0,
                ..gauge(i * 600_000, 1.5)
            })
            .collect();
        let chart = spec(vec![SeriesData::from_buckets(
            "x", &swinging, 600_000, false,
        )])
        .render();
        assert!(chart.lines[0].band.is_empty());
        assert_eq!(
            chart.lines[0].envelope.matches('M').count(),
            2,
            "top and bottom"
        );
        // A band around a moving average stays a band.
        let moving: Vec<Bucket> = (0..40)
            .map(|i| Bucket {
                min: i as f64 - 1.0,
                max: i as f64 + 1.0,
                ..gauge(i * 600_000, i as f64)
            })
            .collect();
        let chart = spec(vec![SeriesData::from_buckets("x", &moving, 600_000, false)]).render();
        assert!(!chart.lines[0].band.is_empty() && chart.lines[0].envelope.is_empty());
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
        assert!(!chart.lines[0].envelope.is_empty(), "the spread is drawn");
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
        );
        let week = Compare::parse(Some("1w")).unwrap();
        let chart = spec(vec![now.clone()])
            .ghosts(vec![ghost.clone()], week.as_ref())
            .render();
        let g = &chart.ghosts[0];
        assert!(g.d.starts_with('M'), "{}", g.d);
        assert_eq!(g.color, COLORS[0], "the ghost takes its line's colour");
        assert_eq!(chart.ghost_label, "1w earlier");
        assert!(
            chart.y_ticks.iter().any(|t| t.label == "10"),
            "axis covers the ghost"
        );
        // Positive control: without a comparison, or for a line the chart does not have, none.
        assert!(
            spec(vec![now.clone()])
                .ghosts(vec![ghost.clone()], None)
                .render()
                .ghosts
                .is_empty()
        );
        let other = SeriesData {
            label: "y".into(),
            ..ghost
        };
        assert!(
            spec(vec![now])
                .ghosts(vec![other], week.as_ref())
                .render()
                .ghosts
                .is_empty()
        );
    }

    #[test]
    fn path_coordinates_have_one_decimal_at_most() {
        // Chart paths: x in tenths, y whole, steps relative to the rounded points.
        let mut w = PathWriter::new(XUnits::Plot);
        w.move_to(12.34, 3.6);
        w.line_to(14.0, 1.2);
        w.line_to(15.55, 9.0);
        w.line_to(15.0, 9.4);
        w.push("Z");
        assert_eq!(w.d, "M12.3 4l1.7-3 1.6 8h-0.6Z");
        // Chart paths: the same points with x in whole tenths (drawn scaled by 1/10).
        let mut w = PathWriter::new(XUnits::Tenths);
        w.move_to(12.34, 3.6);
        w.line_to(14.0, 1.2);
        w.line_to(15.55, 9.0);
        w.line_to(15.0, 9.4);
        w.push("Z");
        assert_eq!(w.d, "M123 4l17-3 16 8h-6Z");
    }

    #[test]
    fn sparkline_fits_its_box() {
        let s = SeriesData::from_buckets("x", &[gauge(0, 1.0), gauge(60_000, 3.0)], 60_000, false);
        let sp = Sparkline::new(&s, 0, 120_000, ValueFormat::plain(), "/metric".into());
        assert_eq!(sp.d, "M30 27l60-26");
        assert!(sp.title.contains("last 3"));
        let empty = SeriesData::from_buckets("x", &[], 60_000, false);
        assert!(Sparkline::new(&empty, 0, 1, ValueFormat::plain(), String::new()).empty);
    }
}
