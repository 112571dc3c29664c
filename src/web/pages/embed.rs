//! For the internal portal, without frames or scripts:
//!
//! - `/embed.svg?query=&from=&to=&w=&h=&title=` — a self-contained SVG image (title, the latest
//!   value in its unit, a sparkline over the range, the range) of a PromQL query's first series,
//!   for an `<img>` on any page;
//! - `/embed/status/{cluster}` — a compact cluster status card (health, reasons, targets, each
//!   source's facts) as an HTML fragment with inline styles for server-side includes, or with
//!   `&format=svg` as an image.
//!
//! Both are cacheable: `Cache-Control: public, max-age=60` for a relative range (`range=1h`, the
//! default) and a day for an absolute range that has ended; every response has an `ETag`.

use super::overview::{ClusterRow, cluster_row};
use super::{RangeQuery, range_events, require_cluster};
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::ValueFormat;
use crate::web::page::metric_link;
use crate::web::panels::query_series;
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Default, serde::Deserialize)]
pub struct ChartQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub query: Option<String>,
    pub title: Option<String>,
    pub w: Option<String>,
    pub h: Option<String>,
}

#[derive(Template)]
#[template(path = "embed/chart.svg", escape = "html")]
pub struct ChartSvg {
    pub w: u32,
    pub h: u32,
    pub title: String,
    pub value: String,
    pub note: String,
    pub caption: String,
    pub spark: Option<Sparkline>,
    pub color: &'static str,
}

fn size(v: Option<&str>, name: &'static str, default: u32, lo: u32, hi: u32) -> WebResult<u32> {
    match v {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| {
                WebError::BadRequest(format!(
                    "{name}: {s:?} is not a whole number of pixels from {lo} to {hi}"
                ))
            }),
    }
}

/// How long a response for `range` may be kept: a day once its window has ended, else a minute.
fn cache_control(range: &TimeRange) -> HeaderValue {
    if !range.is_relative() && range.to < crate::model::now_ms() {
        HeaderValue::from_static("public, max-age=86400")
    } else {
        HeaderValue::from_static("public, max-age=60")
    }
}

fn respond(body: String, content_type: &'static str, range: &TimeRange) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, cache_control(range)),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn chart(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<ChartQuery>,
) -> WebResult<Response> {
    let text = q
        .query
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| WebError::BadRequest("query: a PromQL query is required".into()))?;
    let range = q.range.resolve()?;
    let w = size(q.w.as_deref(), "w", 320, 120, 1200)?;
    let h = size(q.h.as_deref(), "h", 90, 60, 400)?;
    let shape = crate::query::shape(text)
        .await
        .map_err(crate::web::panels::query_error)?;
    let format = shape
        .first_metric
        .as_ref()
        .map(|name| ValueFormat {
            unit: ctx.catalogue.unit(name),
            per_second: shape.per_second,
        })
        .unwrap_or_else(ValueFormat::plain);
    let step = super::chart_step(&ctx, &range, (w as usize / 2).max(10));
    let series = query_series(&ctx, text, &range, step).await?;
    let count = series.len();
    let first = series.into_iter().next();
    let (value, spark) = match &first {
        Some((_, data)) => (
            data.last().map_or("no data".into(), |v| format.format(v)),
            Some(Sparkline::sized(
                data,
                range.from,
                range.to,
                format,
                metric_link(text, &range),
                (w - 16, h.saturating_sub(56).max(12)),
            )),
        ),
        None => ("no data".into(), None),
    };
    let note = match (count, &first) {
        (0, _) => "the query returned no series in this range".to_string(),
        (1, _) => String::new(),
        (n, Some((s, _))) => format!("first of {n} series: {}", s.display_name()),
        (n, None) => format!("{n} series"),
    };
    let svg = ChartSvg {
        w,
        h,
        title: q.title.clone().unwrap_or_else(|| text.to_string()),
        value,
        note,
        caption: range_caption(&range),
        spark,
        color: crate::web::chart::COLORS[0],
    };
    Ok(respond(
        svg.render()?,
        "image/svg+xml; charset=utf-8",
        &range,
    ))
}

fn range_caption(range: &TimeRange) -> String {
    match range.preset() {
        Some(p) => format!("last {p}"),
        None => format!(
            "{} – {}",
            crate::web::format::utc(range.from),
            crate::web::format::utc(range.to)
        ),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StatusQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub format: Option<String>,
}

#[derive(Template)]
#[template(path = "embed/status.html")]
pub struct StatusHtml {
    pub row: ClusterRow,
    pub caption: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "embed/status.svg", escape = "html")]
pub struct StatusSvg {
    pub row: ClusterRow,
    pub caption: String,
    pub lines: Vec<String>,
    pub h: u32,
}

/// This server's address as the client reached it (`Host`, and `X-Forwarded-Proto` from a proxy),
/// with the configured base path: a card shown on another site needs absolute links.
fn origin(ctx: &Ctx, headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let base = ctx.config.server.base_path.clone().unwrap_or_default();
    format!("{scheme}://{host}{base}")
}

pub(crate) async fn status(
    State(ctx): State<Ctx>,
    Path(cluster): Path<String>,
    headers: axum::http::HeaderMap,
    PageQuery(q): PageQuery<StatusQuery>,
) -> WebResult<Response> {
    require_cluster(&ctx, &cluster)?;
    let range = q.range.resolve()?;
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    let row = cluster_row(&ctx, cluster, &range, &events, false).await?;
    let caption = range_caption(&range);
    match q.format.as_deref() {
        None | Some("") | Some("html") => {
            let link = format!("{}/?{}", origin(&ctx, &headers), range.query());
            let html = StatusHtml { row, caption, link };
            Ok(respond(html.render()?, "text/html; charset=utf-8", &range))
        }
        Some("svg") => {
            let mut lines: Vec<String> = row.reasons.iter().take(4).cloned().collect();
            if row.reasons.len() > 4 {
                lines.push(format!("… {} more", row.reasons.len() - 4));
            }
            let h = 58 + 16 * lines.len() as u32;
            let svg = StatusSvg {
                row,
                caption,
                lines,
                h,
            };
            Ok(respond(
                svg.render()?,
                "image/svg+xml; charset=utf-8",
                &range,
            ))
        }
        Some(other) => Err(WebError::BadRequest(format!(
            "format: {other:?} is not html or svg"
        ))),
    }
}
