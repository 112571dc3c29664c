//! The layout of "every series of one entity" pages (a ZooKeeper server, a scraped target, a
//! broker): a header of states at the range's end with state strips over the range, key charts
//! first, then collapsed groups in which a metric that changed in the range gets a chart, a
//! summary family (`avg/min/max/pNN/cnt/sum` statistics, or a Prometheus summary's quantiles, or
//! a histogram's buckets) one chart, and series that did not change go to a compact table.
//!
//! A page describes its entity with a [`Layout`]; this module decides where every series goes
//! ([`plan`]) and draws it ([`draw_groups`], [`state_strips`]).

use crate::analysis;
use crate::model::{MetricKind, Timestamp};
use crate::store::{SeriesId, SeriesInfo, SeriesRange};
use crate::web::chart::{Chart, ChartSpec, SeriesData, Sparkline};
use crate::web::format::{ValueFormat, short_version};
use crate::web::page::metric_link;
use crate::web::pages::{Charter, labels_without, selector_text, series_data};
pub use crate::web::strip::StateChart;
use crate::web::strip::{StateAt, StripSpec};
use crate::web::timerange::{Compare, TimeRange};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The parameters of an entity page: the range, and `open=all` to expand every group (for
/// printing, or a link in an incident note that should show everything).
#[derive(Debug, Default, serde::Deserialize)]
pub struct EntityQuery {
    #[serde(flatten)]
    pub range: crate::web::pages::RangeQuery,
    pub open: Option<String>,
}

impl EntityQuery {
    /// Whether every group is expanded.
    pub fn open_all(&self) -> crate::web::error::WebResult<bool> {
        match self.open.as_deref() {
            None | Some("") => Ok(false),
            Some("all") => Ok(true),
            Some(other) => Err(crate::web::error::WebError::BadRequest(format!(
                "open: {other:?} is not \"all\" (the only value: every group expanded)"
            ))),
        }
    }
}

impl<'a> Draw<'a> {
    /// Charts of an entity page: small charts with its events, and sparklines for its tables.
    pub fn new(
        catalogue: &'a crate::catalogue::Catalogue,
        range: &'a TimeRange,
        data: &'a crate::web::pages::Fetched,
        events: &'a [crate::web::chart::EventMark],
        labels: &'a [(&'a str, &'a str)],
    ) -> Self {
        use crate::web::pages::{SMALL_H, SMALL_W};
        Draw {
            charter: Charter {
                catalogue,
                range,
                data: &data.now,
                ghost: Some(&data.ghost),
                events,
                size: (SMALL_W, SMALL_H),
                hover_px: 8.0,
            },
            spark: Charter {
                catalogue,
                range,
                data: &data.now,
                ghost: None,
                events: &[],
                size: (96, 22),
                hover_px: 8.0,
            },
            labels,
        }
    }
}

/// A key-metrics chart: its title, its metrics with line labels, and whether the lines are
/// statistics of one quantity (then no min–max bands).
pub struct KeyChart {
    pub title: &'static str,
    pub members: &'static [(&'static str, &'static str)],
    pub stats: bool,
}

/// How a state-like series encodes its state.
#[derive(Clone, Copy)]
pub enum StateKind {
    /// An info gauge: the series whose value is 1 names the state in this label.
    Info(&'static str),
    /// A 0/1 gauge: (name of 1, name of 0).
    Bool(&'static str, &'static str),
}

/// A state-like series: drawn as a state strip, never as a line chart.
pub struct StateDef {
    pub metric: &'static str,
    pub kind: StateKind,
    pub label: &'static str,
}

/// Statistics of a summary family, in line order; `cnt` and `sum` go to the counts table.
pub const STATS: [&str; 9] = [
    "avg", "min", "max", "p50", "p90", "p95", "p99", "p999", "cnt",
];
const QUANTILES: [&str; 5] = ["p50", "p90", "p95", "p99", "p999"];

/// How one kind of entity lays out its series.
pub struct Layout<'a> {
    /// Group names in page order; the first holds the key charts and is open by default.
    pub groups: Vec<String>,
    pub key: &'a [KeyChart],
    pub states: &'a [StateDef],
    /// The group of a metric that is neither a key metric, a state nor part of a family.
    pub group_of: &'a (dyn Fn(&str) -> usize + Sync),
    /// The group of summary families.
    pub family_group: usize,
    /// A series' place in a summary family: (statistic, family name), the statistic one of
    /// [`STATS`], `sum`, or `le=<bound>` for a histogram bucket.
    pub family_of: &'a (dyn Fn(&SeriesInfo) -> Option<(String, String)> + Sync),
    /// Labels every series of the entity shares (cluster, server …): left out of line labels.
    pub own_labels: &'a [&'a str],
}

/// A row of a group's compact table: a series (or a whole summary family) that did not change.
pub struct FlatRow {
    pub name: String,
    pub note: String,
    pub link: String,
    pub value: String,
    pub spark: Option<Sparkline>,
}

pub struct CountRow {
    pub family: String,
    pub link: String,
    pub cnt: Option<Sparkline>,
    pub sum: Option<Sparkline>,
}

pub struct Group {
    pub name: String,
    pub open: bool,
    pub charts: Vec<Chart>,
    pub counts: Vec<CountRow>,
    pub flat: Vec<FlatRow>,
}

impl Group {
    /// The group's anchor: `quorum-replication` for "Quorum & replication".
    pub fn id(&self) -> String {
        let mut out = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_string()
    }

    /// `12 charts · 30 unchanged series`, for the collapsed header.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.charts.is_empty() {
            parts.push(format!(
                "{} chart{}",
                self.charts.len(),
                if self.charts.len() == 1 { "" } else { "s" }
            ));
        }
        if !self.flat.is_empty() {
            parts.push(format!("{} unchanged", self.flat.len()));
        }
        parts.join(" · ")
    }
}

/// A current state for the header: (label, value, CSS class).
pub struct StateNow {
    pub label: &'static str,
    pub value: String,
    pub class: String,
}

/// What a plan draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PlanKind {
    /// A key-metrics chart (always a chart, even when flat).
    Key { stats: bool },
    /// All series of one metric.
    Metric,
    /// One summary family (one label set).
    Family,
    /// One histogram (one label set): its buckets, drawn as quantile lines.
    Histogram,
}

/// One chart (or, when nothing in it changed, rows of the compact table) and its series.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub kind: PlanKind,
    pub group: usize,
    order: (usize, String),
    pub title: String,
    /// Series with their line label (the statistic, for families).
    pub members: Vec<(SeriesInfo, String)>,
}

/// Whether a series changed in the range: a gauge whose values were not all equal, a counter
/// that increased. A series without data in the range did not change.
fn changed(r: Option<&SeriesRange>) -> bool {
    let Some(r) = r else { return false };
    if r.series.kind == MetricKind::Counter {
        return r.buckets.iter().any(|b| b.increase != 0.0);
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for b in &r.buckets {
        if b.min.is_finite() {
            lo = lo.min(b.min);
        }
        if b.max.is_finite() {
            hi = hi.max(b.max);
        }
    }
    lo < hi
}

/// The stored value of the newest bucket: a counter's total, not its rate.
fn last_value(r: Option<&SeriesRange>, info: &SeriesInfo, format: ValueFormat) -> String {
    let Some(b) = r.and_then(|r| r.buckets.last()) else {
        return "no data in this range".into();
    };
    let fmt = ValueFormat {
        per_second: false,
        ..format
    };
    if info.kind == MetricKind::Counter {
        format!("{} total, no increase", fmt.format(b.last))
    } else {
        fmt.format(b.last)
    }
}

/// Places plans on the page: charts, family charts and compact-table rows.
#[derive(Clone, Copy)]
pub struct Draw<'a> {
    pub charter: Charter<'a>,
    pub spark: Charter<'a>,
    /// The entity's own labels and values (`cluster="lab"`, `server="zk1:2181"`).
    pub labels: &'a [(&'a str, &'a str)],
}

impl Draw<'_> {
    fn data(&self, info: &SeriesInfo) -> Option<&SeriesRange> {
        self.charter.data.get(&info.id)
    }

    fn range(&self) -> &TimeRange {
        self.charter.range
    }

    /// The `/metric` link of a plan: all its series.
    fn link(&self, p: &Plan) -> String {
        if let [(only, _)] = p.members.as_slice() {
            return metric_link(&only.key.to_string(), self.range());
        }
        let metrics: BTreeSet<&str> = p
            .members
            .iter()
            .map(|(i, _)| i.key.metric.as_str())
            .collect();
        let metrics: Vec<&str> = metrics.into_iter().collect();
        // The labels every member has with the same value: a family's label set, or the
        // entity's own labels; a chart whose members share less links to its first series.
        let first = &p.members[0].0;
        let common: Vec<(&str, &str)> = first
            .key
            .labels
            .iter()
            .filter(|(k, v)| {
                p.members
                    .iter()
                    .all(|(i, _)| i.key.labels.get(k) == Some(*v))
            })
            .collect();
        let has_entity = self
            .labels
            .iter()
            .all(|(k, v)| common.iter().any(|(ck, cv)| ck == k && cv == v));
        if !has_entity {
            return metric_link(&first.key.to_string(), self.range());
        }
        metric_link(&selector_text(&metrics, &common), self.range())
    }

    fn place(&self, p: &Plan, group: &mut Group) {
        let any_changed = p.members.iter().any(|(i, _)| changed(self.data(i)));
        match p.kind {
            PlanKind::Key { stats } => group.charts.push(self.chart(p, !stats)),
            PlanKind::Metric if any_changed => group.charts.push(self.chart(p, true)),
            PlanKind::Metric => {
                for (info, _) in &p.members {
                    group.flat.push(FlatRow {
                        name: labels_series_name(
                            info,
                            &self.labels.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
                        ),
                        note: String::new(),
                        link: metric_link(&info.key.to_string(), self.range()),
                        value: last_value(self.data(info), info, self.charter.format_of(info)),
                        spark: self.spark.spark(Some(info)),
                    });
                }
            }
            PlanKind::Histogram => {
                let stat = |name: &str| p.members.iter().find(|(_, s)| s == name).map(|(i, _)| i);
                let observed = p.members.iter().any(|(i, _)| changed(self.data(i)));
                if observed {
                    group.charts.push(self.histogram_chart(p));
                    group.counts.push(CountRow {
                        family: p.title.clone(),
                        link: self.link(p),
                        cnt: self.spark.spark(stat("cnt")),
                        sum: self.spark.spark(stat("sum")),
                    });
                } else {
                    let buckets = p
                        .members
                        .iter()
                        .filter(|(_, s)| s.starts_with("le="))
                        .count();
                    group.flat.push(FlatRow {
                        name: p.title.clone(),
                        note: format!("histogram, {buckets} buckets"),
                        link: self.link(p),
                        value: "no observations in this range".into(),
                        spark: None,
                    });
                }
            }
            PlanKind::Family => {
                let stat = |name: &str| p.members.iter().find(|(_, s)| s == name).map(|(i, _)| i);
                let shape_changed = p
                    .members
                    .iter()
                    .filter(|(_, s)| s != "cnt" && s != "sum")
                    .any(|(i, _)| changed(self.data(i)));
                let counted = ["cnt", "sum"]
                    .iter()
                    .any(|s| stat(s).is_some_and(|i| changed(self.data(i))));
                if shape_changed || counted {
                    group.charts.push(self.family_chart(p));
                    if stat("cnt").is_some() || stat("sum").is_some() {
                        group.counts.push(CountRow {
                            family: p.title.clone(),
                            link: self.link(p),
                            cnt: self.spark.spark(stat("cnt")),
                            sum: self.spark.spark(stat("sum")),
                        });
                    }
                } else {
                    let shown = stat("avg").or(p.members.first().map(|(i, _)| i));
                    let value = shown
                        .map(|i| {
                            let v = last_value(self.data(i), i, self.charter.format_of(i));
                            if stat("avg").is_some_and(|a| a.id == i.id) {
                                format!("avg {v}")
                            } else {
                                v
                            }
                        })
                        .unwrap_or_default();
                    group.flat.push(FlatRow {
                        name: p.title.clone(),
                        note: format!(
                            "summary family, {} series: {}",
                            p.members.len(),
                            p.members
                                .iter()
                                .map(|(_, s)| s.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        link: self.link(p),
                        value,
                        spark: self.spark.spark(shown),
                    });
                }
            }
        }
    }

    /// The earlier window's ranges and the comparison, when the page compares.
    fn ghost_data(&self) -> Option<(&HashMap<SeriesId, SeriesRange>, TimeRange, &Compare)> {
        let (earlier, c) = self.range().compared()?;
        Some((self.charter.ghost?, earlier, c))
    }

    /// A histogram: its p50, p90 and p99 per bucket of time, from the increases of its bucket
    /// counters (as `histogram_quantile` over `rate(x_bucket)` does).
    fn histogram_chart(&self, p: &Plan) -> Chart {
        let range = self.range();
        let series = histogram_series(p, self.charter.data);
        let (ghosts, compare) = match self.ghost_data() {
            Some((g, _, c)) => (histogram_series(p, g), Some(c)),
            None => (Vec::new(), None),
        };
        let unit = p
            .members
            .iter()
            .find(|(_, s)| s == "sum")
            .map(|(i, _)| self.charter.catalogue.unit(&i.key.metric))
            .unwrap_or_default();
        ChartSpec::new(
            p.title.clone(),
            self.link(p),
            self.charter.size,
            (range.from, range.to),
            ValueFormat::new(unit, MetricKind::Gauge),
            series,
        )
        .ghosts(ghosts, compare)
        .events(self.charter.events.to_vec())
        .hover_px(self.charter.hover_px)
        .render()
    }

    /// One line per series; min–max bands unless the lines are statistics.
    fn chart(&self, p: &Plan, bands: bool) -> Chart {
        let refs: Vec<&SeriesInfo> = p.members.iter().map(|(i, _)| i).collect();
        let label_of = |i: &SeriesInfo| {
            p.members
                .iter()
                .find(|(m, _)| m.id == i.id)
                .map(|(_, l)| l.clone())
                .unwrap_or_default()
        };
        self.charter
            .chart(p.title.clone(), self.link(p), &refs, label_of, bands)
    }

    /// A summary family: the average as a line with the band from the family's min to its max
    /// in each bucket, and the quantiles as extra lines (without bands of their own).
    fn family_chart(&self, p: &Plan) -> Chart {
        let range = self.range();
        let format = p
            .members
            .iter()
            .find(|(_, s)| s == "avg")
            .or_else(|| p.members.first())
            .map(|(i, _)| self.charter.format_of(i))
            .unwrap_or_else(ValueFormat::plain);
        let series = family_series(p, self.charter.data, range);
        let (ghosts, compare) = match self.ghost_data() {
            Some((g, earlier, c)) => (family_series(p, g, &earlier), Some(c)),
            None => (Vec::new(), None),
        };
        ChartSpec::new(
            p.title.clone(),
            self.link(p),
            self.charter.size,
            (range.from, range.to),
            format,
            series,
        )
        .ghosts(ghosts, compare)
        .events(self.charter.events.to_vec())
        .hover_px(self.charter.hover_px)
        .render()
    }
}

/// A histogram plan's p50, p90 and p99 lines from the ranges of its bucket counters in `data`.
fn histogram_series(p: &Plan, data: &HashMap<SeriesId, SeriesRange>) -> Vec<SeriesData> {
    let buckets: Vec<(f64, &SeriesRange)> = p
        .members
        .iter()
        .filter_map(|(i, s)| {
            let bound = match s.strip_prefix("le=")? {
                "+Inf" => f64::INFINITY,
                b => b.parse().ok()?,
            };
            Some((bound, data.get(&i.id)?))
        })
        .collect();
    let step = buckets.first().map(|(_, r)| r.step_ms).unwrap_or(60_000);
    [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")]
        .iter()
        .map(|(q, name)| {
            SeriesData::from_values(
                *name,
                &analysis::histogram_quantile_series(*q, &buckets),
                step,
            )
        })
        .collect()
}

/// A summary family's lines from the ranges in `data` over `range`: the average with the
/// family's min–max band (or min and max lines without an average), then the quantiles.
fn family_series(
    p: &Plan,
    data: &HashMap<SeriesId, SeriesRange>,
    range: &TimeRange,
) -> Vec<SeriesData> {
    let stat = |name: &str| p.members.iter().find(|(_, s)| s == name).map(|(i, _)| i);
    let data_of = |name: &str| stat(name).and_then(|i| data.get(&i.id));
    let mut series: Vec<SeriesData> = Vec::new();
    if let Some(avg) = data_of("avg") {
        let mut s = series_data(avg, "avg, min–max band".into(), range);
        widen_band(&mut s, data_of("min"), data_of("max"));
        series.push(s);
    } else {
        for name in ["min", "max"] {
            if let Some(r) = data_of(name) {
                series.push(flat_line(series_data(r, name.into(), range)));
            }
        }
    }
    for q in QUANTILES {
        if let Some(r) = data_of(q) {
            series.push(flat_line(series_data(r, q.into(), range)));
        }
    }
    series
}

/// Widens each point's band to the family's min and max statistics of the same bucket.
fn widen_band(s: &mut SeriesData, min: Option<&SeriesRange>, max: Option<&SeriesRange>) {
    let by_ts = |r: Option<&SeriesRange>| -> HashMap<Timestamp, (f64, f64)> {
        r.map(|r| r.buckets.iter().map(|b| (b.ts, (b.min, b.max))).collect())
            .unwrap_or_default()
    };
    let (mins, maxs) = (by_ts(min), by_ts(max));
    for p in &mut s.points {
        if let Some((lo, _)) = mins.get(&p.ts) {
            p.min = p.min.min(*lo);
        }
        if let Some((_, hi)) = maxs.get(&p.ts) {
            p.max = p.max.max(*hi);
        }
    }
}

/// A line without a band of its own (min = max = the average).
fn flat_line(mut s: SeriesData) -> SeriesData {
    for p in &mut s.points {
        p.min = p.avg;
        p.max = p.avg;
    }
    s
}

/// `metric` or `metric{learner_type="observer"}`: the series without the page's own labels.
fn labels_series_name(info: &SeriesInfo, own: &[&str]) -> String {
    let mut drop: Vec<&str> = own.to_vec();
    drop.extend(["target", "source"]);
    let rest = labels_without(&info.key, &drop);
    if rest == info.key.metric {
        rest
    } else {
        format!("{}{{{rest}}}", info.key.metric)
    }
}

/// The state strips and the header's states at the range's end. An entity that is not `up` then
/// has no current state: its header says unknown, and the strips show where its states end.
pub fn state_strips(
    layout: &Layout<'_>,
    infos: &[SeriesInfo],
    data: &HashMap<SeriesId, SeriesRange>,
    range: &TimeRange,
    labels: &[(&str, &str)],
    lookback: i64,
    up: bool,
) -> (Vec<StateNow>, Option<StateChart>) {
    let mut specs = Vec::new();
    let mut now = Vec::new();
    let mut version_classes: HashMap<String, String> = HashMap::new();
    let step = data.values().map(|r| r.step_ms).next().unwrap_or(60_000);
    for def in layout.states {
        let (metric, kind, label) = (def.metric, def.kind, def.label);
        let members: Vec<&SeriesInfo> = infos.iter().filter(|i| i.key.metric == metric).collect();
        if members.is_empty() {
            continue;
        }
        // Each member's value at the range's end, if fresh then and the server is up.
        let at_end: Vec<Option<(Timestamp, f64)>> = members
            .iter()
            .map(|i| {
                data.get(&i.id)
                    .and_then(|r| crate::analysis::value_at(r, range.to, lookback))
                    .filter(|v| v.fresh && (up || metric == "up"))
                    .map(|v| (v.at, v.value))
            })
            .collect();
        match kind {
            StateKind::Info(state_label) => {
                // Versions without build details: the full text is in the header.
                let state_of = |i: &SeriesInfo| {
                    let v = i.key.labels.get(state_label).unwrap_or("?");
                    if state_label == "version" {
                        short_version(v).to_string()
                    } else {
                        v.to_string()
                    }
                };
                // The current state: the series at 1 with the newest sample.
                let current = members
                    .iter()
                    .zip(&at_end)
                    .filter_map(|(i, l)| l.filter(|l| l.1 >= 1.0).map(|l| (l.0, state_of(i))))
                    .max_by_key(|(ts, _)| *ts)
                    .map(|(_, s)| s);
                let mut per_bucket: BTreeMap<Timestamp, (Vec<String>, Option<String>)> =
                    BTreeMap::new();
                for i in &members {
                    for b in data.get(&i.id).map(|r| r.buckets.as_slice()).unwrap_or(&[]) {
                        let e = per_bucket.entry(b.ts).or_default();
                        if b.max >= 1.0 {
                            e.0.push(state_of(i));
                        }
                        if b.last >= 1.0 {
                            e.1 = Some(state_of(i));
                        }
                    }
                }
                let buckets: Vec<StateAt> = per_bucket
                    .into_iter()
                    .map(|(ts, (seen, last))| {
                        let state = last.unwrap_or_else(|| "none".into());
                        let also: Vec<String> = seen.into_iter().filter(|s| *s != state).collect();
                        StateAt { ts, state, also }
                    })
                    .collect();
                if state_label == "version" {
                    for b in &buckets {
                        let n = version_classes.len();
                        version_classes
                            .entry(b.state.clone())
                            .or_insert_with(|| format!("s-c{}", n % 6));
                    }
                }
                let current_text = current.clone().unwrap_or_else(|| "unknown".into());
                now.push(StateNow {
                    label,
                    class: state_class(&current_text, &version_classes),
                    value: current_text,
                });
                specs.push(StripSpec {
                    label: label.to_string(),
                    hint: selector_text(&[metric], labels),
                    link: metric_link(&selector_text(&[metric], labels), range),
                    current,
                    buckets,
                    step_ms: step,
                });
            }
            StateKind::Bool(one, zero) => {
                let name = |v: f64| if v >= 1.0 { one } else { zero };
                for (i, l) in members.iter().zip(&at_end) {
                    let buckets: Vec<StateAt> = data
                        .get(&i.id)
                        .map(|r| r.buckets.as_slice())
                        .unwrap_or(&[])
                        .iter()
                        .map(|b| StateAt {
                            ts: b.ts,
                            state: name(b.last).to_string(),
                            also: if name(b.min) != name(b.max) {
                                vec![name(if b.last >= 1.0 { b.min } else { b.max }).to_string()]
                            } else {
                                Vec::new()
                            },
                        })
                        .collect();
                    let current = l.map(|l| name(l.1).to_string());
                    let row_label = match i.key.labels.get("target") {
                        Some(t) => format!("{label} · {t}"),
                        None => label.to_string(),
                    };
                    if metric != "up" {
                        now.push(StateNow {
                            label,
                            class: state_class(
                                current.as_deref().unwrap_or("unknown"),
                                &version_classes,
                            ),
                            value: current.clone().unwrap_or_else(|| "unknown".into()),
                        });
                    }
                    specs.push(StripSpec {
                        label: row_label,
                        hint: i.key.to_string(),
                        link: metric_link(&i.key.to_string(), range),
                        current,
                        buckets,
                        step_ms: step,
                    });
                }
            }
        }
    }
    if specs.is_empty() {
        return (now, None);
    }
    let chart = StateChart::new(specs, (range.from, range.to), |_, state| {
        state_class(state, &version_classes)
    });
    (now, Some(chart))
}

/// The colour class of a state: healthy roles green/blue, transitional ones orange, failures red.
fn state_class(state: &str, versions: &HashMap<String, String>) -> String {
    if let Some(c) = versions.get(state) {
        return c.clone();
    }
    let s = state.to_ascii_lowercase();
    let class = if s == "leader" || s.starts_with("leading") {
        "s-leader"
    } else if s == "follower" || s == "standalone" || s.starts_with("following") {
        "s-follower"
    } else if s == "observer" || s.starts_with("observing") {
        "s-observer"
    } else if s.contains("looking") || s.contains("sync") || s == "read-only" {
        "s-warn"
    } else if s == "up" || s == "imok" || s == "read-write" {
        "s-ok"
    } else if s == "down" || s == "no answer" {
        "s-bad"
    } else {
        "s-other"
    };
    class.to_string()
}

/// Decides where every (non-state) series goes: key-metrics charts, one chart per summary family
/// (per label set), or one chart per metric in its group.
pub(crate) fn plan(infos: &[SeriesInfo], layout: &Layout<'_>) -> Vec<Plan> {
    let mut plans: BTreeMap<String, Plan> = BTreeMap::new();
    let key_of = |m: &str| {
        layout.key.iter().enumerate().find_map(|(k, c)| {
            c.members
                .iter()
                .find(|(x, _)| *x == m)
                .map(|(_, label)| (k, c, *label))
        })
    };
    // (family, label set without quantile and bucket bounds) → members; two or more make a
    // family (so that zk_max_file_descriptor_count alone is not one).
    let family_key = |i: &SeriesInfo, fam: &str| {
        format!(
            "f:{fam}{{{}}}",
            labels_without(&i.key, &["quantile", "le", "__name__"])
        )
    };
    let mut family_sizes: HashMap<String, usize> = HashMap::new();
    for i in infos {
        if key_of(&i.key.metric).is_none()
            && let Some((_, fam)) = (layout.family_of)(i)
        {
            *family_sizes.entry(family_key(i, &fam)).or_default() += 1;
        }
    }
    let mut own: Vec<&str> = layout.own_labels.to_vec();
    own.extend(["target", "source"]);
    for i in infos {
        let m = i.key.metric.as_str();
        if let Some((k, chart, label)) = key_of(m) {
            plans
                .entry(format!("k:{k:02}"))
                .or_insert_with(|| Plan {
                    kind: PlanKind::Key { stats: chart.stats },
                    group: 0,
                    order: (k, String::new()),
                    title: chart.title.to_string(),
                    members: Vec::new(),
                })
                .members
                .push((i.clone(), label.to_string()));
            continue;
        }
        if let Some((stat, fam)) = (layout.family_of)(i)
            && family_sizes.get(&family_key(i, &fam)).copied().unwrap_or(0) >= 2
        {
            let mut drop = layout.own_labels.to_vec();
            drop.extend(["quantile", "le"]);
            let extra = labels_without(&i.key, &drop);
            let title = if extra == i.key.metric {
                fam.clone()
            } else {
                format!("{fam} {{{extra}}}")
            };
            let histogram = stat.starts_with("le=");
            let plan = plans.entry(family_key(i, &fam)).or_insert_with(|| Plan {
                kind: PlanKind::Family,
                group: layout.family_group,
                order: (100, title.clone()),
                title,
                members: Vec::new(),
            });
            if histogram {
                plan.kind = PlanKind::Histogram;
            }
            plan.members.push((i.clone(), stat));
            plan.members
                .sort_by(|(_, a), (_, b)| stat_order(a).total_cmp(&stat_order(b)));
            continue;
        }
        let label = labels_without(&i.key, &own);
        plans
            .entry(format!("m:{m}"))
            .or_insert_with(|| Plan {
                kind: PlanKind::Metric,
                group: (layout.group_of)(m),
                order: (100, m.to_string()),
                title: m.to_string(),
                members: Vec::new(),
            })
            .members
            .push((i.clone(), label));
    }
    let mut out: Vec<Plan> = plans.into_values().collect();
    for p in &mut out {
        // Key charts keep their lines in the layout's order.
        if let PlanKind::Key { .. } = p.kind {
            p.members.sort_by_key(|(i, _)| {
                key_of(&i.key.metric).map(|(_, c, _)| {
                    c.members
                        .iter()
                        .position(|(x, _)| *x == i.key.metric)
                        .unwrap_or(usize::MAX)
                })
            });
        }
    }
    out.sort_by(|a, b| (a.group, &a.order).cmp(&(b.group, &b.order)));
    out
}

/// Line order of family members: the statistics in [`STATS`] order, then `sum`, then buckets by
/// their bound.
fn stat_order(stat: &str) -> f64 {
    if let Some(p) = STATS.iter().position(|s| *s == stat) {
        return p as f64 - 1e12;
    }
    if stat == "sum" {
        return -1.0;
    }
    match stat.strip_prefix("le=") {
        Some("+Inf") => f64::MAX,
        Some(b) => b.parse().unwrap_or(f64::MAX / 2.0),
        None => f64::MAX,
    }
}

/// Where a page's series go, drawn: the groups in page order, empty ones left out.
pub fn draw_groups(
    plans: &[Plan],
    layout: &Layout<'_>,
    draw: &Draw<'_>,
    open_all: bool,
) -> Vec<Group> {
    let mut groups: Vec<Group> = layout
        .groups
        .iter()
        .enumerate()
        .map(|(i, name)| Group {
            name: name.clone(),
            open: open_all || i == 0,
            charts: Vec::new(),
            counts: Vec::new(),
            flat: Vec::new(),
        })
        .collect();
    // Collapsed groups get coarser hover columns (each still reports its buckets' min and max):
    // they hold most of the charts, and their tooltips most of the page's bytes.
    let coarse = Draw {
        charter: Charter {
            hover_px: draw.charter.hover_px * 2.0,
            ..draw.charter
        },
        ..*draw
    };
    for p in plans {
        let d = if p.group == 0 { draw } else { &coarse };
        if let Some(g) = groups.get_mut(p.group) {
            d.place(p, g);
        }
    }
    for g in &mut groups {
        g.flat.sort_by(|a, b| a.name.cmp(&b.name));
    }
    groups.retain(|g| !g.charts.is_empty() || !g.flat.is_empty());
    groups
}

/// An entity page whose series are grouped by metric prefix (`node_memory`, `go`, `process` …):
/// its key charts and states, and the labels all its series share.
pub struct PrefixLayout<'a> {
    /// The name of the first group, which holds the key charts.
    pub key_group: &'a str,
    pub key: &'a [KeyChart],
    pub states: &'a [StateDef],
    pub own_labels: &'a [&'a str],
}

/// What [`prefix_groups`] draws.
pub struct PrefixGroups {
    pub groups: Vec<Group>,
    pub states: Option<StateChart>,
}

/// `node_memory_MemFree_bytes` → `node_memory`; `go_goroutines` → `go`.
pub fn prefix_of(metric: &str) -> String {
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

/// Every series of an entity drawn in groups by metric prefix: key charts first, a summary's
/// quantiles or a histogram's buckets as one chart when the catalogue knows the family's type,
/// unchanged series in each group's table, state strips for the layout's states.
#[allow(clippy::too_many_arguments)]
pub async fn prefix_groups(
    ctx: &crate::web::Ctx,
    infos: Vec<SeriesInfo>,
    p: PrefixLayout<'_>,
    range: &TimeRange,
    marks: &[crate::web::chart::EventMark],
    labels: &[(&str, &str)],
    open_all: bool,
) -> crate::web::error::WebResult<PrefixGroups> {
    use crate::catalogue::MetricType;
    let key = p.key;
    let prefixes: BTreeSet<String> = infos
        .iter()
        .map(|i| i.key.metric.as_str())
        .filter(|m| {
            !key.iter().any(|k| k.members[0].0 == *m) && !p.states.iter().any(|s| s.metric == *m)
        })
        .map(prefix_of)
        .collect();
    let prefixes: Vec<String> = prefixes.into_iter().collect();
    let mut groups = vec![p.key_group.to_string()];
    groups.extend(prefixes.iter().cloned());
    let group_of = |m: &str| {
        let pre = prefix_of(m);
        prefixes.iter().position(|x| *x == pre).map_or(0, |i| i + 1)
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
        key,
        states: p.states,
        group_of: &group_of,
        family_group: 0,
        family_of: &family_of,
        own_labels: p.own_labels,
    };
    let (state_infos, infos): (Vec<SeriesInfo>, Vec<SeriesInfo>) = infos
        .into_iter()
        .partition(|i| p.states.iter().any(|d| d.metric == i.key.metric));
    let plans = plan(&infos, &layout);
    // Families go to the group of their prefix (the layout's family group is the first).
    let plans: Vec<_> = plans
        .into_iter()
        .map(|mut pl| {
            if pl.group == 0
                && !key.iter().any(|k| k.title == pl.title)
                && let Some((first, _)) = pl.members.first()
            {
                pl.group = group_of(&first.key.metric);
            }
            pl
        })
        .collect();
    let ids: Vec<SeriesId> = infos.iter().chain(&state_infos).map(|i| i.id).collect();
    let data =
        crate::web::pages::fetch_ranges(ctx, &ids, range, crate::web::pages::SMALL_W).await?;
    let draw = Draw::new(&ctx.catalogue, range, &data, marks, labels);
    let groups = draw_groups(&plans, &layout, &draw, open_all);
    let (_, states) = state_strips(
        &layout,
        &state_infos,
        &data,
        range,
        labels,
        5 * 60_000,
        true,
    );
    Ok(PrefixGroups { groups, states })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, SeriesKey};
    use crate::store::{Bucket, Tier};

    fn info_kind(id: u32, metric: &str, kind: MetricKind, extra: &[(&str, &str)]) -> SeriesInfo {
        let mut labels = Labels::from_pairs([("job", "node"), ("instance", "h:9100")]);
        for (k, v) in extra {
            labels.insert(*k, *v);
        }
        SeriesInfo {
            id,
            key: SeriesKey::new(metric, labels),
            kind,
        }
    }

    fn range_of(info: SeriesInfo, values: &[f64]) -> SeriesRange {
        let mut total = 0.0;
        SeriesRange {
            series: info,
            tier: Tier::Raw,
            step_ms: 60_000,
            buckets: values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let inc = if i == 0 { 0.0 } else { (v - total).max(0.0) };
                    total = v;
                    Bucket {
                        ts: i as i64 * 60_000,
                        count: 1,
                        sum: v,
                        min: v,
                        max: v,
                        last: v,
                        increase: inc,
                    }
                })
                .collect(),
        }
    }

    /// A layout like a scraped target's: Prometheus summaries and histograms as families.
    fn prom_family(i: &SeriesInfo) -> Option<(String, String)> {
        let m = i.key.metric.as_str();
        if let Some(q) = i.key.labels.get("quantile") {
            let stat = match q {
                "0.5" => "p50",
                "0.9" => "p90",
                "0.99" => "p99",
                _ => return None,
            };
            return Some((stat.into(), m.into()));
        }
        if let Some(base) = m.strip_suffix("_bucket") {
            return Some((format!("le={}", i.key.labels.get("le")?), base.into()));
        }
        for (suffix, stat) in [("_sum", "sum"), ("_count", "cnt")] {
            if let Some(base) = m.strip_suffix(suffix) {
                return Some((stat.into(), base.into()));
            }
        }
        None
    }

    fn layout() -> Layout<'static> {
        Layout {
            groups: vec!["Key".into(), "Families".into(), "Other".into()],
            key: &[],
            states: &[],
            group_of: &|_| 2,
            family_group: 1,
            family_of: &prom_family,
            own_labels: &["job", "instance"],
        }
    }

    #[test]
    fn summaries_and_histograms_become_one_family_each_per_label_set() {
        let c = MetricKind::Counter;
        let g = MetricKind::Gauge;
        let infos = vec![
            info_kind(1, "rpc_seconds", g, &[("quantile", "0.5")]),
            info_kind(2, "rpc_seconds", g, &[("quantile", "0.99")]),
            info_kind(3, "rpc_seconds_sum", c, &[]),
            info_kind(4, "rpc_seconds_count", c, &[]),
            info_kind(
                5,
                "req_seconds_bucket",
                c,
                &[("le", "+Inf"), ("path", "/a")],
            ),
            info_kind(6, "req_seconds_bucket", c, &[("le", "0.1"), ("path", "/a")]),
            info_kind(7, "req_seconds_bucket", c, &[("le", "1"), ("path", "/a")]),
            info_kind(8, "req_seconds_count", c, &[("path", "/a")]),
            info_kind(9, "req_seconds_bucket", c, &[("le", "0.1"), ("path", "/b")]),
            info_kind(
                10,
                "req_seconds_bucket",
                c,
                &[("le", "+Inf"), ("path", "/b")],
            ),
            info_kind(11, "node_load1", g, &[]),
        ];
        let plans = plan(&infos, &layout());
        let find = |title: &str| {
            plans
                .iter()
                .find(|p| p.title == title)
                .unwrap_or_else(|| panic!("no plan {title}: {plans:?}"))
        };
        let rpc = find("rpc_seconds");
        assert_eq!(rpc.kind, PlanKind::Family);
        assert_eq!(
            rpc.members.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            vec!["p50", "p99", "cnt", "sum"]
        );
        let a = find("req_seconds {path=\"/a\"}");
        assert_eq!(a.kind, PlanKind::Histogram);
        assert_eq!(
            a.members.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            vec!["cnt", "le=0.1", "le=1", "le=+Inf"]
        );
        assert_eq!(find("req_seconds {path=\"/b\"}").members.len(), 2);
        assert_eq!(find("node_load1").group, 2);
        let total: usize = plans.iter().map(|p| p.members.len()).sum();
        assert_eq!(total, infos.len(), "every series is planned exactly once");
    }

    #[test]
    fn unchanged_means_constant_gauge_or_counter_without_increase() {
        let g = info_kind(1, "limit", MetricKind::Gauge, &[]);
        assert!(!changed(Some(&range_of(g.clone(), &[20000.0, 20000.0]))));
        assert!(changed(Some(&range_of(g.clone(), &[20000.0, 19000.0]))));
        assert!(!changed(None), "no data is no change");
        let c = info_kind(2, "failures_total", MetricKind::Counter, &[]);
        assert!(!changed(Some(&range_of(c.clone(), &[17.0, 17.0, 17.0]))));
        assert!(changed(Some(&range_of(c.clone(), &[17.0, 18.0]))));
        assert_eq!(
            last_value(
                Some(&range_of(c.clone(), &[17.0, 17.0])),
                &c,
                ValueFormat::plain()
            ),
            "17 total, no increase"
        );
        assert_eq!(
            last_value(None, &c, ValueFormat::plain()),
            "no data in this range"
        );
    }

    #[test]
    fn family_bands_span_the_family_min_and_max() {
        let g = MetricKind::Gauge;
        let avg = range_of(info_kind(1, "a", g, &[]), &[2.0, 3.0]);
        let min = range_of(info_kind(2, "b", g, &[]), &[1.0, 1.0]);
        let max = range_of(info_kind(3, "c", g, &[]), &[9.0, 12.0]);
        let mut s = SeriesData::from_buckets("avg", &avg.buckets, 60_000, false);
        widen_band(&mut s, Some(&min), Some(&max));
        assert_eq!(
            s.points
                .iter()
                .map(|p| (p.min, p.avg, p.max))
                .collect::<Vec<_>>(),
            vec![(1.0, 2.0, 9.0), (1.0, 3.0, 12.0)]
        );
        let q = flat_line(SeriesData::from_buckets("p99", &max.buckets, 60_000, false));
        assert!(q.points.iter().all(|p| p.min == p.avg && p.max == p.avg));
    }

    #[test]
    fn prefix_groups_are_the_first_two_words() {
        assert_eq!(prefix_of("node_memory_MemFree_bytes"), "node_memory");
        assert_eq!(prefix_of("go_goroutines"), "go");
        assert_eq!(prefix_of("up"), "up");
        assert_eq!(quantile_stat("0.99"), Some("p99"));
        assert_eq!(quantile_stat("0.75"), None);
    }

    #[test]
    fn states_are_coloured_by_meaning() {
        let none = HashMap::new();
        assert_eq!(state_class("leader", &none), "s-leader");
        assert_eq!(state_class("leading - broadcast", &none), "s-leader");
        assert_eq!(state_class("following - broadcast", &none), "s-follower");
        assert_eq!(state_class("looking", &none), "s-warn");
        assert_eq!(state_class("down", &none), "s-bad");
        assert_eq!(state_class("imok", &none), "s-ok");
        let v = HashMap::from([("3.8.0".to_string(), "s-c0".to_string())]);
        assert_eq!(state_class("3.8.0", &v), "s-c0");
    }
}
