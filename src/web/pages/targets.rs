//! `/targets`: every scrape target with up/down, last success and next scrape, scrape duration
//! (now and over the range), samples, scrapes and failures, the identity labels it reported, and
//! its last error and warnings on a row of their own (so long texts do not widen the table).

use super::{Charter, RangeQuery, fetch_ranges_points};

/// The scrape-duration sparkline: narrow, so that the table fits 1280 px.
const SPARK: (u32, u32) = (90, 22);
use crate::model::{Matcher, now_ms};
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::format::{age, short_version, utc};
use crate::web::page::PageCtx;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

pub struct IdentityLabel {
    pub name: String,
    pub shown: String,
    pub full: String,
}

pub struct TargetRow {
    pub cluster: String,
    pub source: &'static str,
    pub target: String,
    /// The labels the target reported about itself: (name, shown value, full value); versions
    /// are shown without their build details.
    pub identity: Vec<IdentityLabel>,
    pub up_class: &'static str,
    pub up_text: &'static str,
    pub last_success: String,
    pub last_success_utc: String,
    pub last_error: Option<String>,
    pub warnings: Vec<String>,
    pub duration: String,
    pub next: String,
    pub interval: String,
    pub failing_for: u32,
    pub scrapes_total: u64,
    pub failures_total: u64,
    pub samples: usize,
    pub spark: Option<Sparkline>,
}

#[derive(Template)]
#[template(path = "targets.html")]
pub struct TargetsPage {
    pub page: PageCtx,
    pub rows: Vec<TargetRow>,
    pub up: usize,
    pub down: usize,
    pub unknown: usize,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let now = now_ms();
    let mut targets = ctx.targets.snapshot();
    targets
        .sort_by(|a, b| (&a.cluster, a.source, &a.target).cmp(&(&b.cluster, b.source, &b.target)));
    let durations: Vec<_> = targets
        .iter()
        .map(|t| {
            ctx.store
                .select(
                    Some("scrape_duration_seconds"),
                    &[
                        Matcher::eq("cluster", &t.cluster),
                        Matcher::eq("target", &t.target),
                        Matcher::eq("source", t.source),
                    ],
                )
                .into_iter()
                .next()
        })
        .collect();
    let ids: Vec<_> = durations.iter().flatten().map(|i| i.id).collect();
    let data = fetch_ranges_points(&ctx, &ids, &range, SPARK.0 as usize / 2).await?;
    let charter = Charter {
        catalogue: &ctx.catalogue,
        range: &range,
        data: &data,
        ghost: None,
        events: &[],
        size: SPARK,
        hover_px: 2.0,
    };
    let rows: Vec<TargetRow> = targets
        .into_iter()
        .zip(durations)
        .map(|(t, dur)| TargetRow {
            up_class: match t.up {
                Some(true) => "up",
                Some(false) => "down",
                None => "unknown",
            },
            up_text: match t.up {
                Some(true) => "up",
                Some(false) => "down",
                None => "pending",
            },
            identity: t
                .identity
                .iter()
                .map(|(k, v)| IdentityLabel {
                    name: k.to_string(),
                    shown: if k == "version" {
                        short_version(v).to_string()
                    } else {
                        v.to_string()
                    },
                    full: v.to_string(),
                })
                .collect(),
            last_success: t
                .last_success
                .map(|s| format!("{} ago", age(now - s)))
                .unwrap_or_else(|| "never".into()),
            last_success_utc: t.last_success.map(utc).unwrap_or_default(),
            last_error: t.last_error.clone().filter(|_| t.up != Some(true)),
            warnings: t.warnings.clone(),
            duration: t
                .last_duration_ms
                .map(|d| format!("{d:.1} ms"))
                .unwrap_or_else(|| "–".into()),
            next: t
                .next_scrape
                .map(|n| {
                    if n > now {
                        format!("in {}", age(n - now))
                    } else {
                        "due".into()
                    }
                })
                .unwrap_or_else(|| "–".into()),
            interval: crate::duration::format_signed_ms(t.interval_ms),
            failing_for: t.consecutive_failures,
            scrapes_total: t.scrapes_total,
            failures_total: t.failures_total,
            samples: t.last_samples,
            spark: charter.spark(dur.as_ref()),
            cluster: t.cluster,
            source: t.source,
            target: t.target,
        })
        .collect();
    let up = rows.iter().filter(|r| r.up_class == "up").count();
    let down = rows.iter().filter(|r| r.up_class == "down").count();
    let unknown = rows.len() - up - down;
    let page = TargetsPage {
        page: PageCtx::new(&ctx, "Targets", "targets", "/targets", range),
        rows,
        up,
        down,
        unknown,
    };
    Ok(Html(page.render()?))
}
