//! Query panels: charts defined by a PromQL query, from one typed catalogue per page (title,
//! query, unit, what it means). A panel's query names its entity through `{sel}` (the entity's
//! label matchers, e.g. `cluster="lab",instance="broker-1"`) and its rate window through `{w}`;
//! [`query_series`] evaluates it over the page's range at the charts' step and
//! [`Panel::chart`] draws it. The `/metric` page uses the same evaluation for typed-in queries,
//! so a panel's title links to exactly the query it draws.

use super::Ctx;
use super::chart::{Chart, ChartPoint, ChartSpec, EventMark, SeriesData, Sparkline};
use super::error::{WebError, WebResult};
use super::format::ValueFormat;
use super::page::metric_link;
use super::pages::{chart_step, points_for};
use super::timerange::TimeRange;
use crate::catalogue::Unit;
use crate::model::Timestamp;
use crate::query::{Limits, QueryError, SeriesValues, eval_instant, eval_range};

/// A panel for a page's `const` catalogue, fields in the order pages write them.
pub const fn panel(
    title: &'static str,
    query: &'static str,
    legend: &'static str,
    strip: &'static str,
    unit: Unit,
    per_second: bool,
    help: &'static str,
) -> Panel {
    Panel {
        title,
        query,
        legend,
        strip,
        unit,
        per_second,
        help,
    }
}

/// One chart of a page's catalogue.
#[derive(Clone, Copy, Debug)]
pub struct Panel {
    pub title: &'static str,
    /// PromQL with `{sel}` for the entity's matchers and `{w}` for the rate window.
    pub query: &'static str,
    /// The label whose value names each line (`mode`, `device`); `__name__` names lines by
    /// metric (with `strip` cut from the front); empty: the whole label set.
    pub legend: &'static str,
    pub strip: &'static str,
    pub unit: Unit,
    /// The values are per second (a rate).
    pub per_second: bool,
    /// What it means, shown under the chart's title.
    pub help: &'static str,
}

impl Panel {
    /// The query for one entity and rate window.
    pub fn text(&self, sel: &str, window_ms: i64) -> String {
        self.query
            .replace("{sel}", sel)
            .replace("{w}", &format!("{}s", (window_ms / 1000).max(1)))
    }

    pub fn format(&self) -> ValueFormat {
        ValueFormat {
            unit: self.unit,
            per_second: self.per_second,
        }
    }

    /// The chart of this panel for one entity.
    pub async fn chart(
        &self,
        ctx: &Ctx,
        sel: &str,
        range: &TimeRange,
        size: (u32, u32),
        events: &[EventMark],
    ) -> WebResult<Chart> {
        self.chart_with(ctx, sel, &[], range, size, events).await
    }

    /// The chart with more substitutions in its query (`{host}` with a host-name regex, say).
    pub async fn chart_with(
        &self,
        ctx: &Ctx,
        sel: &str,
        extra: &[(&str, &str)],
        range: &TimeRange,
        size: (u32, u32),
        events: &[EventMark],
    ) -> WebResult<Chart> {
        let step = chart_step(ctx, range, points_for(size.0));
        let mut text = self.text(sel, rate_window(step));
        for (k, v) in extra {
            text = text.replace(k, v);
        }
        let named = |series: Vec<(SeriesValues, SeriesData)>| -> Vec<SeriesData> {
            series
                .into_iter()
                .map(|(s, data)| SeriesData {
                    label: self.line_name(&s),
                    ..data
                })
                .collect()
        };
        let series = named(query_series(ctx, &text, range, step).await?);
        // The same query over the earlier window, at the same step, for the ghost lines.
        let ghosts = match range.compared() {
            Some((earlier, _)) => named(query_series(ctx, &text, &earlier, step).await?),
            None => Vec::new(),
        };
        Ok(ChartSpec::new(
            self.title,
            metric_link(&text, range),
            size,
            (range.from, range.to),
            self.format(),
            series,
        )
        .ghosts(ghosts, range.compare.as_ref())
        .events(events.to_vec())
        .hover_px(8.0)
        .render())
    }

    fn line_name(&self, s: &SeriesValues) -> String {
        match self.legend {
            "" => s.display_name(),
            "__name__" => s
                .metric
                .as_deref()
                .map(|m| {
                    let m = m.strip_prefix(self.strip).unwrap_or(m);
                    m.strip_suffix("_bytes").unwrap_or(m).to_string()
                })
                .unwrap_or_else(|| s.display_name()),
            l => s
                .labels
                .get(l)
                .map(str::to_string)
                .unwrap_or_else(|| s.display_name()),
        }
    }
}

/// The rate window for a chart step: at least a minute (four scrapes at 15 s), and at least two
/// steps so every point's window holds samples.
pub fn rate_window(step_ms: i64) -> i64 {
    (2 * step_ms).max(60_000)
}

/// A query's error as a page error, worded for a page ("query: …", not the API's parameter name).
pub fn query_error(e: QueryError) -> WebError {
    match crate::web::api::query_error(e) {
        crate::web::error::ApiError(WebError::BadRequest(m)) => {
            WebError::BadRequest(m.replacen("invalid parameter \"query\"", "query", 1))
        }
        crate::web::error::ApiError(other) => other,
    }
}

/// Evaluates `text` over `range` at `step` (start aligned to the step, as Grafana does) into
/// drawable series: each value describes the step ending at its time, and non-finite values are
/// gaps. Returns each output series with its line.
pub async fn query_series(
    ctx: &Ctx,
    text: &str,
    range: &TimeRange,
    step: i64,
) -> WebResult<Vec<(SeriesValues, SeriesData)>> {
    let start = range.from.div_euclid(step) * step;
    let r = eval_range(&ctx.store, text, start, range.to, step, &Limits::default())
        .await
        .map_err(query_error)?;
    let tier = r
        .tiers
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let times = r.times.clone();
    Ok(r.into_series()
        .into_iter()
        .map(|s| {
            let points = times
                .iter()
                .zip(&s.values)
                .filter_map(|(t, v)| {
                    v.filter(|v| v.is_finite()).map(|v| ChartPoint {
                        ts: t - step,
                        avg: v,
                        min: v,
                        max: v,
                        last: v,
                    })
                })
                .collect();
            let data = SeriesData {
                link: metric_link(&s.display_name(), range),
                label: s.display_name(),
                points,
                step_ms: step,
                interval_ms: step,
                tier: tier.clone(),
            };
            (s, data)
        })
        .collect())
}

/// The value of `text` at `at`, per output series.
pub async fn instant(ctx: &Ctx, text: &str, at: Timestamp) -> WebResult<Vec<SeriesValues>> {
    let r = eval_instant(&ctx.store, text, at, &Limits::default())
        .await
        .map_err(query_error)?;
    Ok(r.into_series())
}

/// A sparkline of one series' line.
pub fn spark(data: &SeriesData, range: &TimeRange, format: ValueFormat, link: String) -> Sparkline {
    Sparkline::sized(data, range.from, range.to, format, link, (96, 22))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_gets_its_entity_and_window() {
        let p = Panel {
            title: "t",
            query: "rate(x{{sel}}[{w}])",
            legend: "",
            strip: "",
            unit: Unit::None,
            per_second: true,
            help: "",
        };
        assert_eq!(p.text("a=\"b\"", 90_000), "rate(x{a=\"b\"}[90s])");
        assert_eq!(rate_window(10_000), 60_000);
        assert_eq!(rate_window(300_000), 600_000);
    }
}
