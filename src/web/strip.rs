//! State strips: series whose value is a state (a ZooKeeper server's mode, its peer state, its
//! version, `ruok`, read-only, `up`) drawn as coloured segments over time instead of line charts,
//! one row per state series, all rows on one time axis. Each segment carries a native `<title>`
//! ("leader · 10:00 – 10:45 UTC (45m)"), so state changes are readable without JavaScript.
//!
//! Input is one [`StateAt`] per bucket (what the state was in that bucket); consecutive buckets
//! in the same state merge into one segment, missing buckets leave a gap ("no data"), and a bucket
//! in which the state changed is drawn as its own "changed" segment naming the states seen.

use super::chart::{Tick, time_ticks};
use super::format::{utc_fmt, utc_minutes};
use crate::model::Timestamp;

/// The state of one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct StateAt {
    /// Start of the bucket.
    pub ts: Timestamp,
    /// The state at the end of the bucket.
    pub state: String,
    /// Other states seen within the bucket (the state changed inside it); empty when steady.
    pub also: Vec<String>,
}

/// A stretch of time in one state, in time units (not yet placed on an axis).
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub from: Timestamp,
    pub to: Timestamp,
    pub state: String,
    /// The state changed within this span (a single bucket): `also` lists the other states.
    pub also: Vec<String>,
}

/// Merges per-bucket states into spans; buckets further apart than one step leave a gap.
pub fn spans(buckets: &[StateAt], step_ms: i64) -> Vec<Span> {
    let step_ms = step_ms.max(1);
    let mut out: Vec<Span> = Vec::new();
    for b in buckets {
        let end = b.ts + step_ms;
        match out.last_mut() {
            Some(last)
                if last.to >= b.ts
                    && last.state == b.state
                    && last.also.is_empty()
                    && b.also.is_empty() =>
            {
                last.to = end;
            }
            _ => out.push(Span {
                from: b.ts,
                to: end,
                state: b.state.clone(),
                also: b.also.clone(),
            }),
        }
    }
    out
}

/// How many times the state changed: between adjacent spans in different states (also across a
/// gap: the state before and after an outage differ), plus changes inside single buckets.
pub fn changes(spans: &[Span]) -> usize {
    let inside = spans.iter().filter(|s| !s.also.is_empty()).count();
    let between = spans
        .windows(2)
        .filter(|w| w[0].state != w[1].state && w[0].also.is_empty() && w[1].also.is_empty())
        .count();
    inside + between
}

/// One drawn segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub x: f64,
    pub w: f64,
    /// CSS class that colours the state (`s-leader`, `s-ok`, `s-bad`, `s-mixed`, …).
    pub class: String,
    pub title: String,
}

/// One row: a state series with its current value and its segments.
#[derive(Clone, Debug)]
pub struct StripRow {
    pub label: String,
    /// The series behind the row (a tooltip on the label).
    pub hint: String,
    pub link: String,
    pub current: String,
    pub current_class: String,
    pub changes: usize,
    pub segments: Vec<Segment>,
    /// Top of the row's bar.
    pub y: f64,
}

/// A state series to draw: its label, link, current value and per-bucket states.
#[derive(Clone, Debug)]
pub struct StripSpec {
    pub label: String,
    pub hint: String,
    pub link: String,
    pub current: Option<String>,
    pub buckets: Vec<StateAt>,
    pub step_ms: i64,
}

/// All strips of a page on one time axis.
#[derive(Clone, Debug)]
pub struct StateChart {
    pub width: u32,
    pub height: u32,
    pub from: Timestamp,
    pub to: Timestamp,
    pub plot_x: f64,
    pub plot_w: f64,
    pub bar_h: f64,
    pub rows: Vec<StripRow>,
    pub x_ticks: Vec<Tick>,
    /// Baseline of the time labels.
    pub axis_y: f64,
}

impl StateChart {
    pub const WIDTH: u32 = 1000;
    const LABEL_W: f64 = 300.0;
    const ROW_H: f64 = 20.0;
    const BAR_H: f64 = 13.0;

    /// Lays out `specs` over `[from, to)`; `class_of(label, state)` picks each state's colour.
    pub fn new(
        specs: Vec<StripSpec>,
        (from, to): (Timestamp, Timestamp),
        class_of: impl Fn(&str, &str) -> String,
    ) -> StateChart {
        let to = to.max(from + 1);
        let plot_x = Self::LABEL_W;
        let plot_w = f64::from(Self::WIDTH) - plot_x - 6.0;
        let x = |t: Timestamp| {
            let f = (t.clamp(from, to) - from) as f64 / (to - from) as f64;
            ((plot_x + f * plot_w) * 10.0).round() / 10.0
        };
        let rows: Vec<StripRow> = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let spans = spans(&spec.buckets, spec.step_ms);
                let changes = changes(&spans);
                let segments = spans
                    .iter()
                    .filter(|s| s.to > from && s.from < to)
                    .map(|s| {
                        let (x0, x1) = (x(s.from), x(s.to));
                        let mut title = if s.also.is_empty() {
                            s.state.clone()
                        } else {
                            format!("changed: {} → {}", s.also.join(", "), s.state)
                        };
                        title.push_str(" · ");
                        title.push_str(&span_text(s.from.max(from), s.to.min(to)));
                        Segment {
                            x: x0,
                            w: ((x1 - x0) * 10.0).round().max(3.0) / 10.0,
                            class: if s.also.is_empty() {
                                class_of(&spec.label, &s.state)
                            } else {
                                "s-mixed".to_string()
                            },
                            title,
                        }
                    })
                    .collect();
                let current = spec.current.unwrap_or_else(|| "–".into());
                StripRow {
                    current_class: class_of(&spec.label, &current),
                    label: spec.label,
                    hint: spec.hint,
                    link: spec.link,
                    current,
                    changes,
                    segments,
                    y: 4.0 + i as f64 * Self::ROW_H,
                }
            })
            .collect();
        let axis_y = 4.0 + rows.len() as f64 * Self::ROW_H + 8.0;
        let x_ticks = time_ticks(from, to, plot_w)
            .into_iter()
            .map(|(t, label)| Tick {
                pos: x(t),
                pct: 0.0,
                // A label that would be cut at the right edge keeps only its place.
                label: if x(t) + label.chars().count() as f64 * 3.5 > f64::from(Self::WIDTH) {
                    String::new()
                } else {
                    label
                },
            })
            .collect();
        StateChart {
            width: Self::WIDTH,
            height: (axis_y + 4.0) as u32,
            from,
            to,
            plot_x,
            plot_w,
            bar_h: Self::BAR_H,
            rows,
            x_ticks,
            axis_y,
        }
    }

    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.width, self.height)
    }

    pub fn plot_right(&self) -> f64 {
        self.plot_x + self.plot_w
    }
}

/// `2024-05-01 10:00 – 10:45 UTC (45m)`.
fn span_text(from: Timestamp, to: Timestamp) -> String {
    let same_day = from.div_euclid(86_400_000) == (to - 1).div_euclid(86_400_000);
    let len = crate::duration::format_signed_ms(to - from);
    if same_day {
        format!(
            "{} – {} UTC ({len})",
            utc_fmt(from, "%Y-%m-%d %H:%M"),
            utc_fmt(to, "%H:%M")
        )
    } else {
        format!(
            "{} – {} ({len})",
            utc_fmt(from, "%Y-%m-%d %H:%M"),
            utc_minutes(to)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: Timestamp, state: &str) -> StateAt {
        StateAt {
            ts,
            state: state.into(),
            also: Vec::new(),
        }
    }

    #[test]
    fn steady_buckets_merge_and_gaps_split() {
        let b = [
            at(0, "follower"),
            at(60_000, "follower"),
            at(120_000, "leader"),
            // 180 000 missing: an outage.
            at(240_000, "leader"),
        ];
        let s = spans(&b, 60_000);
        assert_eq!(
            s.iter()
                .map(|s| (s.from, s.to, s.state.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (0, 120_000, "follower"),
                (120_000, 180_000, "leader"),
                (240_000, 300_000, "leader")
            ]
        );
        assert_eq!(changes(&s), 1, "the gap is not a change of state");
    }

    #[test]
    fn a_change_inside_a_bucket_is_its_own_segment() {
        let b = [
            at(0, "follower"),
            StateAt {
                ts: 60_000,
                state: "leader".into(),
                also: vec!["follower".into()],
            },
            at(120_000, "leader"),
        ];
        let s = spans(&b, 60_000);
        assert_eq!(s.len(), 3);
        assert_eq!(changes(&s), 1);
        let chart = StateChart::new(
            vec![StripSpec {
                label: "mode".into(),
                hint: "zk_server_state".into(),
                link: "/metric".into(),
                current: Some("leader".into()),
                buckets: b.to_vec(),
                step_ms: 60_000,
            }],
            (0, 180_000),
            |_, st| format!("s-{st}"),
        );
        let row = &chart.rows[0];
        assert_eq!(row.changes, 1);
        assert_eq!(row.current_class, "s-leader");
        let classes: Vec<&str> = row.segments.iter().map(|s| s.class.as_str()).collect();
        assert_eq!(classes, vec!["s-follower", "s-mixed", "s-leader"]);
        assert!(
            row.segments[1]
                .title
                .starts_with("changed: follower → leader · 1970-01-01 00:01 – 00:02 UTC (1m)"),
            "{}",
            row.segments[1].title
        );
        // Segments tile the plot: the first starts at its left edge, the last ends at its right.
        assert_eq!(row.segments[0].x, chart.plot_x);
        let last = &row.segments[2];
        assert!((last.x + last.w - chart.plot_right()).abs() < 0.2);
    }

    #[test]
    fn segments_are_clipped_to_the_range() {
        let b = [at(-60_000, "up"), at(0, "up"), at(60_000, "down")];
        let chart = StateChart::new(
            vec![StripSpec {
                label: "up".into(),
                hint: String::new(),
                link: String::new(),
                current: None,
                buckets: b.to_vec(),
                step_ms: 60_000,
            }],
            (0, 90_000),
            |_, _| "s".into(),
        );
        let segs = &chart.rows[0].segments;
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].x, chart.plot_x);
        assert!(segs[1].title.contains("00:01 – 00:01"), "{}", segs[1].title);
        assert_eq!(chart.rows[0].current, "–");
    }
}
