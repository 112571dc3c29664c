//! `/metric?query=<expr>&range=…`: one large chart, a min / avg / max / last table, the tier that
//! answered, CSV download (`&format=csv`), "compare with last week" (`&compare=1w`: a ghost line
//! of the same range shifted back, and the change of each series' average), and the events of
//! the range. Without a query it lists the stored metric names.

use super::{RangeQuery, event_marks, range_events, series_data};
use crate::duration::{format_signed_ms, parse_i64_ms as parse_duration};
use crate::model::{Labels, SeriesKey};
use crate::query::{self, Shape};
use crate::store::SeriesInfo;
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartSpec, SeriesData};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, rfc3339, urlencode};
use crate::web::page::PageCtx;
use crate::web::pages::events::EventRow;
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

/// Series drawn at most (the table lists up to `MAX_TABLE`).
const MAX_LINES: usize = 30;
const MAX_TABLE: usize = 500;
const BIG_W: u32 = 1000;
const BIG_H: u32 = 320;

#[derive(Debug, Default, serde::Deserialize)]
pub struct MetricQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub query: Option<String>,
    pub compare: Option<String>,
    pub format: Option<String>,
    /// Without a query: show only metrics whose name or help contains this (any case).
    pub filter: Option<String>,
}

/// Metrics of one family on the list page: a summary's statistics, a histogram's buckets, a
/// counter's `_total` and `_created` together.
pub struct Family {
    pub name: String,
    pub help: String,
    pub members: Vec<String>,
}

/// Families that share a first word (`zk`, `node`, `kafka`), for the list page's headings.
pub struct NameGroup {
    pub prefix: String,
    pub families: Vec<Family>,
}

/// The list page's groups: families of the stored metrics that match `filter`.
fn name_groups(ctx: &Ctx, filter: &str) -> Vec<NameGroup> {
    let needle = filter.trim().to_lowercase();
    let mut families: std::collections::BTreeMap<String, Family> = Default::default();
    for name in ctx.store.label_values("__name__") {
        let fam = ctx.catalogue.family(&name);
        let help = ctx
            .catalogue
            .get(&name)
            .or_else(|| ctx.catalogue.get(&fam))
            .map(|m| m.help)
            .unwrap_or_default();
        if !needle.is_empty()
            && !name.to_lowercase().contains(&needle)
            && !help.to_lowercase().contains(&needle)
        {
            continue;
        }
        let f = families.entry(fam.clone()).or_insert_with(|| Family {
            name: fam,
            help: String::new(),
            members: Vec::new(),
        });
        if f.help.is_empty() {
            f.help = help;
        }
        f.members.push(name);
    }
    let mut groups: Vec<NameGroup> = Vec::new();
    for (_, f) in families {
        let prefix = f.name.split('_').next().unwrap_or("").to_string();
        match groups.last_mut() {
            Some(g) if g.prefix == prefix => g.families.push(f),
            _ => groups.push(NameGroup {
                prefix,
                families: vec![f],
            }),
        }
    }
    groups
}

pub struct StatRow {
    pub name: String,
    pub link: String,
    pub min: String,
    pub avg: String,
    pub max: String,
    pub last: String,
    pub tier: String,
    pub delta: Option<(String, &'static str)>,
}

#[derive(Template)]
#[template(path = "metric.html")]
pub struct MetricPage {
    pub page: PageCtx,
    pub query: String,
    pub compare: String,
    pub compare_link: String,
    pub csv_link: String,
    /// One chart per unit among the series.
    pub charts: Vec<Chart>,
    pub rows: Vec<StatRow>,
    pub total_series: usize,
    pub events: Vec<EventRow>,
    /// Without a query: the stored metrics by family, and the filter that chose them.
    pub name_groups: Vec<NameGroup>,
    pub name_count: usize,
    pub filter: String,
}

/// The series of a query over a range: stored buckets (with min–max bands) for a plain selector,
/// evaluated values for any other expression.
struct Answer {
    series: Vec<SeriesData>,
    /// The chart's legend entry of each series: only what tells them apart.
    legends: Vec<String>,
    /// How each series' values are shown: its own unit from the catalogue, as a rate when it is a
    /// counter. Series with different units go on different charts.
    formats: Vec<ValueFormat>,
    total: usize,
    /// The single cluster all series belong to, for the events list.
    cluster: Option<String>,
}

async fn answer(
    ctx: &Ctx,
    text: &str,
    shape: &Shape,
    range: &TimeRange,
    width: u32,
) -> WebResult<Answer> {
    if let Some(sel) = &shape.selector {
        let infos: Vec<SeriesInfo> = ctx.store.select(sel.metric.as_deref(), &sel.matchers);
        let total = infos.len();
        let shown: Vec<&SeriesInfo> = infos.iter().take(MAX_TABLE).collect();
        let ids: Vec<_> = shown.iter().map(|i| i.id).collect();
        let ranges = super::fetch_ranges(ctx, &ids, range, width).await?;
        let fetched: Vec<&SeriesInfo> = shown
            .iter()
            .copied()
            .filter(|i| ranges.contains_key(&i.id))
            .collect();
        let legends = distinguishing_names(&fetched.iter().map(|i| &i.key).collect::<Vec<_>>());
        let series = fetched
            .iter()
            .filter_map(|i| {
                ranges
                    .get(&i.id)
                    .map(|r| series_data(r, i.key.to_string(), range))
            })
            .collect();
        let formats = fetched.iter().map(|i| ctx.format_of(i)).collect();
        let mut clusters: Vec<&str> = infos
            .iter()
            .filter_map(|i| i.key.labels.get("cluster"))
            .collect();
        clusters.dedup();
        let cluster = (clusters.len() == 1).then(|| clusters[0].to_string());
        return Ok(Answer {
            series,
            legends,
            formats,
            total,
            cluster,
        });
    }
    // Evaluated expression: the pages' nice step for one point per 2 px, start aligned to it
    // like Grafana does.
    let step = super::chart_step(ctx, range, super::points_for(width));
    let series = crate::web::panels::query_series(ctx, text, range, step).await?;
    let format = shape
        .first_metric
        .as_ref()
        .map(|name| ValueFormat {
            unit: ctx.catalogue.unit(name),
            per_second: shape.per_second,
        })
        .unwrap_or_else(ValueFormat::plain);
    let total = series.len();
    let data: Vec<SeriesData> = series.into_iter().take(MAX_TABLE).map(|(_, d)| d).collect();
    Ok(Answer {
        legends: data.iter().map(|s| s.label.clone()).collect(),
        formats: vec![format; data.len()],
        series: data,
        total,
        cluster: None,
    })
}

/// Legend names that keep only what tells the series apart: `server="zk1:2181"` rather than
/// `zk_avg_latency{cluster="lab",server="zk1:2181"}` three times. The metric name stays when the
/// names differ; a single series keeps its full name.
fn distinguishing_names(keys: &[&SeriesKey]) -> Vec<String> {
    if keys.len() < 2 {
        return keys.iter().map(|k| k.to_string()).collect();
    }
    let same_metric = keys.iter().all(|k| k.metric == keys[0].metric);
    let varies = |name: &str| {
        let first = keys[0].labels.get(name);
        keys.iter().any(|k| k.labels.get(name) != first)
    };
    keys.iter()
        .map(|k| {
            let labels = Labels::from_pairs(k.labels.iter().filter(|(n, _)| varies(n)));
            match (same_metric, labels.is_empty()) {
                (true, false) => labels.canonical(),
                (true, true) => k.to_string(),
                (false, true) => k.metric.clone(),
                (false, false) => format!("{}{{{}}}", k.metric, labels.canonical()),
            }
        })
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per series and bucket. `values` says what the numbers are: `rate per second` of a
/// counter (its stored total is not in the file) or `value`; `unit` is the unit of the values
/// (`bytes`, `milliseconds`, … or empty), per second for rates.
fn csv(series: &[SeriesData], formats: &[ValueFormat]) -> String {
    let mut out = String::from("series,time,timestamp_ms,avg,min,max,last,values,unit,tier\n");
    for (s, f) in series.iter().zip(formats) {
        let name = csv_field(&s.label);
        let values = if f.per_second {
            "rate per second"
        } else {
            "value"
        };
        let unit = f.unit.as_str();
        for p in &s.points {
            out.push_str(&format!(
                "{name},{},{},{},{},{},{},{values},{unit},{}\n",
                rfc3339(p.ts),
                p.ts,
                p.avg,
                p.min,
                p.max,
                p.last,
                s.tier
            ));
        }
    }
    out
}

/// A chart title's unit part: `milliseconds`, `bytes per second`, `no unit`.
fn unit_title(f: ValueFormat) -> String {
    let unit = match f.unit.as_str() {
        "" => "no unit",
        u => u,
    };
    if f.per_second {
        format!("{unit} per second")
    } else {
        unit.to_string()
    }
}

/// The relative change of `now` against `then`, as text and a CSS class.
fn delta(now: Option<f64>, then: Option<f64>) -> Option<(String, &'static str)> {
    let (n, t) = (now?, then?);
    if t == 0.0 {
        return None;
    }
    let pct = (n - t) / t.abs() * 100.0;
    Some((
        format!("{pct:+.1} %"),
        if pct >= 0.0 { "up" } else { "down" },
    ))
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<MetricQuery>,
) -> WebResult<Response> {
    let range = q.range.resolve()?;
    let text = q.query.clone().unwrap_or_default().trim().to_string();
    let compare = q.compare.clone().unwrap_or_default();
    let shift: Option<i64> = if compare.is_empty() {
        None
    } else {
        Some(parse_duration(&compare).map_err(|e| WebError::BadRequest(format!("compare: {e}")))?)
    };
    let page = PageCtx::new(
        &ctx,
        if text.is_empty() {
            "Metrics".to_string()
        } else {
            text.clone()
        },
        "metric",
        "/metric",
        range.clone(),
    )
    .keep("query", &text)
    .keep("compare", &compare);
    if text.is_empty() {
        let filter = q.filter.clone().unwrap_or_default();
        let name_groups = name_groups(&ctx, &filter);
        let name_count = name_groups
            .iter()
            .flat_map(|g| &g.families)
            .map(|f| f.members.len())
            .sum();
        let page = MetricPage {
            page: page.keep("filter", &filter),
            query: text,
            compare,
            compare_link: String::new(),
            csv_link: String::new(),
            charts: Vec::new(),
            rows: Vec::new(),
            total_series: 0,
            events: Vec::new(),
            name_count,
            name_groups,
            filter,
        };
        return Ok(Html(page.render()?).into_response());
    }
    let shape = query::shape(&text)
        .await
        .map_err(crate::web::panels::query_error)?;
    let now = answer(&ctx, &text, &shape, &range, BIG_W).await?;
    if q.format.as_deref() == Some("csv") {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"kafkascope-metric.csv\"".to_string(),
                ),
            ],
            csv(&now.series, &now.formats),
        )
            .into_response());
    } else if let Some(f) = q
        .format
        .as_deref()
        .filter(|f| !f.is_empty() && *f != "html")
    {
        return Err(WebError::BadRequest(format!(
            "format: {f:?} is not one of html, csv"
        )));
    }
    let then = match shift {
        Some(ms) => Some(answer(&ctx, &text, &shape, &range.shifted_back(ms), BIG_W).await?),
        None => None,
    };
    let events = range_events(&ctx, &range, now.cluster.as_deref(), 500).await?;
    let rows = now
        .series
        .iter()
        .zip(&now.formats)
        .map(|(s, fmt)| {
            let before = then
                .as_ref()
                .and_then(|t| t.series.iter().find(|b| b.label == s.label));
            StatRow {
                name: s.label.clone(),
                link: s.link.clone(),
                min: s.min().map(|v| fmt.format(v)).unwrap_or_else(|| "–".into()),
                avg: s.avg().map(|v| fmt.format(v)).unwrap_or_else(|| "–".into()),
                max: s.max().map(|v| fmt.format(v)).unwrap_or_else(|| "–".into()),
                last: s
                    .last()
                    .map(|v| fmt.format(v))
                    .unwrap_or_else(|| "–".into()),
                tier: s.tier.clone(),
                delta: before.and_then(|b| delta(s.avg(), b.avg())),
            }
        })
        .collect();
    let ghost = then.as_ref().and_then(|t| {
        let first = now.series.first()?;
        let g = t.series.iter().find(|b| b.label == first.label)?;
        Some(g.clone().shifted_forward(shift.unwrap_or(0)))
    });
    let ghost_label = match (&ghost, shift) {
        (Some(_), Some(ms)) => format!("{} earlier", format_signed_ms(ms)),
        _ => String::new(),
    };
    let base = format!("/metric?query={}&{}", urlencode(&text), range.query());
    let link = format!(
        "{base}{}",
        if compare.is_empty() {
            String::new()
        } else {
            format!("&compare={}", urlencode(&compare))
        }
    );
    // One chart per unit: a count and a latency on one axis would flatten one of them.
    let mut units: Vec<ValueFormat> = Vec::new();
    for f in now.formats.iter().take(MAX_LINES) {
        if !units.contains(f) {
            units.push(*f);
        }
    }
    if units.is_empty() {
        units.push(ValueFormat::plain());
    }
    let several = units.len() > 1;
    let mut charts = Vec::new();
    for (n, fmt) in units.iter().enumerate() {
        let lines: Vec<SeriesData> = now
            .series
            .iter()
            .zip(&now.legends)
            .zip(&now.formats)
            .take(MAX_LINES)
            .filter(|(_, f)| *f == fmt)
            .map(|((s, legend), _)| SeriesData {
                label: legend.clone(),
                ..s.clone()
            })
            .collect();
        let title = if several {
            format!("{text} — {}", unit_title(*fmt))
        } else {
            text.clone()
        };
        // The ghost of last week belongs to the chart of the first series.
        let ghost = if n == 0 { ghost.clone() } else { None };
        let mut chart = ChartSpec::new(
            title,
            link.clone(),
            (BIG_W, BIG_H),
            (range.from, range.to),
            *fmt,
            lines,
        )
        .ghost(ghost)
        .events(event_marks(&events))
        .render();
        if n == 0 {
            chart.ghost_label = ghost_label.clone();
        }
        charts.push(chart);
    }
    let page = MetricPage {
        page,
        compare_link: if compare.is_empty() {
            format!("{base}&compare=1w")
        } else {
            base.clone()
        },
        csv_link: format!("{base}&format=csv"),
        query: text,
        compare,
        charts,
        rows,
        total_series: now.total,
        events: events.iter().take(50).map(EventRow::new).collect(),
        name_groups: Vec::new(),
        name_count: 0,
        filter: String::new(),
    };
    Ok(Html(page.render()?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::chart::ChartPoint;

    #[test]
    fn csv_quotes_series_names_with_commas_and_quotes() {
        let s = SeriesData {
            label: r#"up{a="1",b="2"}"#.into(),
            points: vec![ChartPoint {
                ts: 0,
                avg: 1.5,
                min: 1.0,
                max: 2.0,
                last: 2.0,
            }],
            step_ms: 1000,
            interval_ms: 1000,
            tier: "raw".into(),
            link: String::new(),
        };
        assert_eq!(
            csv(std::slice::from_ref(&s), &[ValueFormat::plain()]),
            "series,time,timestamp_ms,avg,min,max,last,values,unit,tier\n\"up{a=\"\"1\"\",b=\"\"2\"\"}\",1970-01-01T00:00:00Z,0,1.5,1,2,2,value,,raw\n"
        );
        let rate = ValueFormat::new(
            crate::catalogue::Unit::Bytes,
            crate::model::MetricKind::Counter,
        );
        assert!(
            csv(&[s], &[rate]).contains(",rate per second,bytes,raw\n"),
            "a counter's column says it is a rate, with its unit"
        );
    }

    #[test]
    fn legends_keep_what_tells_series_apart() {
        let k = |m: &str, s: &str| {
            SeriesKey::new(m, Labels::from_pairs([("cluster", "lab"), ("server", s)]))
        };
        let (a, b) = (k("zk_avg_latency", "zk1"), k("zk_avg_latency", "zk2"));
        assert_eq!(
            distinguishing_names(&[&a, &b]),
            vec![r#"server="zk1""#, r#"server="zk2""#]
        );
        let c = k("zk_max_latency", "zk1");
        assert_eq!(
            distinguishing_names(&[&a, &c]),
            vec!["zk_avg_latency", "zk_max_latency"]
        );
        assert_eq!(
            distinguishing_names(&[&a]),
            vec![r#"zk_avg_latency{cluster="lab",server="zk1"}"#]
        );
    }

    #[test]
    fn delta_is_relative_to_the_earlier_value() {
        assert_eq!(
            delta(Some(112.0), Some(100.0)),
            Some(("+12.0 %".into(), "up"))
        );
        assert_eq!(
            delta(Some(50.0), Some(100.0)),
            Some(("-50.0 %".into(), "down"))
        );
        assert_eq!(delta(Some(1.0), Some(0.0)), None);
    }
}
