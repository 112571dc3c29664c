//! `/metric?query=<expr>&range=…`: one large chart, a min / avg / max / last table, the tier that
//! answered, CSV download (`&format=csv`), "compare with last week" (`&compare=1w`: a ghost line
//! of the same range shifted back, and the change of each series' average), and the events of
//! the range. Without a query it lists the stored metric names.

use super::{RangeQuery, event_marks, range_events, series_data};
use crate::model::{Labels, SeriesKey};
use crate::query::{self, Shape};
use crate::store::SeriesInfo;
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartSpec, SeriesData};
use crate::web::error::{WebError, WebResult};
use crate::web::export;
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, urlencode};
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

/// All series of the page, one row per series and bucket (see [`export::series_csv`]).
fn csv(series: &[SeriesData], formats: &[ValueFormat]) -> String {
    let mut out = String::from(export::SERIES_CSV_HEADER);
    for (s, f) in series.iter().zip(formats) {
        export::series_csv(&mut out, s, *f);
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
    let compare = range
        .compare
        .as_ref()
        .map(|c| c.text.clone())
        .unwrap_or_default();
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
    .keep("query", &text);
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
    let then = match range.compared() {
        Some((earlier, _)) => Some(answer(&ctx, &text, &shape, &earlier, BIG_W).await?),
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
    let link = format!("/metric?query={}&{}", urlencode(&text), range.query());
    let base = format!(
        "/metric?query={}&{}",
        urlencode(&text),
        range.compare_query("")
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
    for fmt in &units {
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
        // Each line's ghost: the earlier window's series of the same name, under its legend.
        let ghosts: Vec<SeriesData> = now
            .series
            .iter()
            .zip(&now.legends)
            .zip(&now.formats)
            .take(MAX_LINES)
            .filter(|(_, f)| *f == fmt)
            .filter_map(|((s, legend), _)| {
                let g = then.as_ref()?.series.iter().find(|b| b.label == s.label)?;
                Some(SeriesData {
                    label: legend.clone(),
                    ..g.clone()
                })
            })
            .collect();
        let title = if several {
            format!("{text} — {}", unit_title(*fmt))
        } else {
            text.clone()
        };
        let chart = ChartSpec::new(
            title,
            link.clone(),
            (BIG_W, BIG_H),
            (range.from, range.to),
            *fmt,
            lines,
        )
        .ghosts(ghosts, range.compare.as_ref())
        .events(event_marks(&events))
        .render();
        charts.push(chart);
    }
    let page = MetricPage {
        page,
        compare_link: if compare.is_empty() {
            format!("{base}&compare=1w")
        } else {
            base.clone()
        },
        csv_link: format!("{link}&format=csv"),
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
