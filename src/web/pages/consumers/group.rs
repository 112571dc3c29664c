//! `/consumers/{cluster}/{group}`: why is this group lagging? Lag and lag in seconds over time per
//! partition, consume rate against produce rate on one chart, the Burrow status with the window
//! each partition was judged on, members and their assignments, and the group's events.

use super::{Evaluated, evaluate, group_path, rate_text, seconds_text};
use crate::lag::Status;
use crate::lag::evaluator::human_ms;
use crate::lag::seconds::{History, bucket_points};
use crate::lag::storage::{COMMITTED, Docs, LAG, LOG_END};
use crate::model::{Matcher, Timestamp};
use crate::store::{SeriesId, SeriesInfo, SeriesRange};
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartSpec, SeriesData};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, format_number, utc};
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::events::EventRow;
use crate::web::pages::{
    Charter, RangeQuery, event_marks, fetch_ranges, range_events, selector_text,
};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use std::collections::{BTreeMap, HashMap};

/// Chart size on this page (wide: one chart per row).
const CHART: (u32, u32) = (860, 190);

/// One entry of a partition's evaluated window.
pub struct WindowRow {
    pub time: String,
    pub offset: i64,
    pub lag: String,
}

/// A partition's status with the window that explains it.
pub struct PartRow {
    pub topic: String,
    pub partition: i32,
    pub owner: String,
    pub client_id: String,
    pub status: Status,
    pub reason: String,
    pub current_lag: u64,
    pub seconds: String,
    pub complete: String,
    /// Share of the retained log left to read (and records lost), the log's offsets.
    pub retention: String,
    pub log_range: String,
    pub data_lost: bool,
    pub window: Vec<WindowRow>,
}

pub struct MemberRow {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    pub assignments: String,
}

#[derive(Template)]
#[template(path = "consumers/group.html")]
pub struct GroupPage {
    pub page: PageCtx,
    pub cluster: String,
    pub group: String,
    pub status: Status,
    pub complete: String,
    pub inferred: bool,
    pub commits_source: String,
    pub state: String,
    pub members_count: String,
    pub generation: String,
    pub protocol: String,
    pub total_lag: String,
    pub max_seconds: String,
    pub direction: String,
    pub rates: String,
    pub eta: String,
    /// Thresholds the group is over and data retention deleted before it was read.
    pub evidence: Vec<String>,
    pub charts: Vec<Chart>,
    pub partitions: Vec<PartRow>,
    pub members: Vec<MemberRow>,
    pub events: Vec<EventRow>,
}

fn part_label(i: &SeriesInfo) -> String {
    format!(
        "{} [{}]",
        i.key.labels.get("topic").unwrap_or("?"),
        i.key.labels.get("partition").unwrap_or("?")
    )
}

fn key_of(i: &SeriesInfo) -> Option<(String, i32)> {
    Some((
        i.key.labels.get("topic")?.to_string(),
        i.key.labels.get("partition")?.parse().ok()?,
    ))
}

/// Per bucket, the increase of each series' last value since the adjacent bucket before,
/// per second, summed over the series: a rate from offsets stored as gauges.
fn summed_rate(ranges: &[&SeriesRange]) -> Vec<(Timestamp, f64)> {
    let mut sum: BTreeMap<Timestamp, f64> = BTreeMap::new();
    for r in ranges {
        let step_s = r.step_ms.max(1) as f64 / 1000.0;
        for pair in r.buckets.windows(2) {
            if pair[1].ts - pair[0].ts == r.step_ms {
                *sum.entry(pair[1].ts).or_insert(0.0) +=
                    (pair[1].last - pair[0].last).max(0.0) / step_s;
            }
        }
    }
    sum.into_iter().collect()
}

/// Lag in seconds per bucket of one partition: each bucket's last committed offset against the
/// log-end history up to the bucket's end.
fn seconds_series(
    committed: &SeriesRange,
    history: &History,
    to: Timestamp,
) -> Vec<(Timestamp, f64)> {
    committed
        .buckets
        .iter()
        .filter_map(|b| {
            let at = (b.ts + committed.step_ms - 1).min(to);
            history
                .lag_seconds(b.last as i64, at)
                .map(|v| (b.ts, v.value()))
        })
        .collect()
}

/// The lowest committed offset per partition over `ranges`: how deep its log-end history must
/// reach.
fn lowest_commits(
    committed_infos: &[SeriesInfo],
    ranges: &HashMap<SeriesId, SeriesRange>,
) -> HashMap<(String, i32), i64> {
    committed_infos
        .iter()
        .filter_map(|c| {
            let min = ranges
                .get(&c.id)?
                .buckets
                .iter()
                .map(|b| b.min as i64)
                .min()?;
            Some((key_of(c)?, min))
        })
        .collect()
}

/// Lag in seconds per partition over one window: each partition's committed-offset buckets
/// against its log-end history as of the window's end `to` (the deep history, the window's
/// log-end buckets, then the `recent` raw points).
fn lag_seconds_lines(
    committed_infos: &[SeriesInfo],
    log_end_infos: &[SeriesInfo],
    ranges: &HashMap<SeriesId, SeriesRange>,
    deep: &HashMap<(String, i32), History>,
    recent: &HashMap<(String, i32), crate::lag::storage::LogEnds>,
    to: Timestamp,
) -> Vec<SeriesData> {
    let mut lines = Vec::new();
    for c in committed_infos {
        let (Some(k), Some(r)) = (key_of(c), ranges.get(&c.id)) else {
            continue;
        };
        let le = log_end_infos
            .iter()
            .find(|i| key_of(i).as_ref() == Some(&k))
            .and_then(|i| ranges.get(&i.id));
        let Some(le) = le else { continue };
        let buckets: Vec<(i64, i64, f64, f64)> = le
            .buckets
            .iter()
            .map(|b| (b.ts, le.step_ms, b.min, b.max))
            .collect();
        let history = History::layered(&[
            deep.get(&k)
                .map(|h| h.points().to_vec())
                .unwrap_or_default(),
            bucket_points(&buckets),
            recent.get(&k).map(|r| r.to_vec()).unwrap_or_default(),
        ]);
        let values = seconds_series(r, &history, to);
        lines.push(SeriesData::from_values(part_label(c), &values, r.step_ms));
    }
    lines
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, group)): Path<(String, String)>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let intervals = super::lag_settings(&ctx)?.eval.intervals;
    let mut evaluated = evaluate(
        &ctx,
        &cluster,
        Some(vec![group.clone()]),
        range.to,
        Docs::Each,
    )
    .await?;
    let e: Evaluated = evaluated.pop().ok_or_else(|| {
        WebError::NotFound(format!(
            "Cluster {cluster:?} has no consumer group {group:?} with a commit in the week before {}.",
            utc(range.to)
        ))
    })?;

    // Series of the group and of the partitions it reads.
    let on = |metric: &str| {
        ctx.store.select(
            Some(metric),
            &[
                Matcher::eq("cluster", &cluster),
                Matcher::eq("consumergroup", &group),
            ],
        )
    };
    let lag_infos = on(LAG);
    let committed_infos = on(COMMITTED);
    let parts: Vec<(String, i32)> = committed_infos.iter().filter_map(key_of).collect();
    let log_end_infos: Vec<SeriesInfo> = ctx
        .store
        .select(Some(LOG_END), &[Matcher::eq("cluster", &cluster)])
        .into_iter()
        .filter(|i| key_of(i).is_some_and(|k| parts.contains(&k)))
        .collect();
    let ids: Vec<SeriesId> = lag_infos
        .iter()
        .chain(&committed_infos)
        .chain(&log_end_infos)
        .map(|i| i.id)
        .collect();
    let data = fetch_ranges(&ctx, &ids, &range, CHART.0).await?;
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    let own: Vec<_> = events
        .into_iter()
        .filter(|ev| ev.event.subject == group || ev.event.subject.is_empty())
        .collect();
    let marks = event_marks(&own);
    let charter = Charter {
        catalogue: &ctx.catalogue,
        range: &range,
        data: &data,
        ghost: Some(&data.ghost),
        events: &marks,
        size: CHART,
        hover_px: 6.0,
    };
    let labels = [
        ("cluster", cluster.as_str()),
        ("consumergroup", group.as_str()),
    ];
    let mut charts = Vec::new();
    let lag_refs: Vec<&SeriesInfo> = lag_infos.iter().collect();
    charts.push(charter.chart(
        "Lag per partition (messages)".into(),
        metric_link(&selector_text(&[LAG], &labels), &range),
        &lag_refs,
        part_label,
        false,
    ));

    // Lag in seconds over time: the range's log-end buckets over the deep history the
    // evaluation read, with the recent raw points last.
    // One read of the deep history for all partitions: deep enough for the lowest commit of
    // the range.
    let deep = crate::lag::storage::histories(
        &ctx.store,
        &cluster,
        &e.data.recent_log_ends,
        &lowest_commits(&committed_infos, &data.now),
        range.to,
    )
    .await
    .map_err(super::lag_err)?;
    let seconds_lines = lag_seconds_lines(
        &committed_infos,
        &log_end_infos,
        &data.now,
        &deep,
        &e.data.recent_log_ends,
        range.to,
    );
    // The earlier window's lag in seconds when the page compares: its commits against the
    // log-end history as it stood at that window's end (no raw points newer than it).
    let seconds_ghosts = match range.compared() {
        Some((earlier, _)) if !data.ghost.is_empty() => {
            let no_recent = HashMap::new();
            let deep = crate::lag::storage::histories(
                &ctx.store,
                &cluster,
                &no_recent,
                &lowest_commits(&committed_infos, &data.ghost),
                earlier.to,
            )
            .await
            .map_err(super::lag_err)?;
            lag_seconds_lines(
                &committed_infos,
                &log_end_infos,
                &data.ghost,
                &deep,
                &no_recent,
                earlier.to,
            )
        }
        _ => Vec::new(),
    };
    let step = committed_infos
        .iter()
        .filter(|c| key_of(c).is_some())
        .filter_map(|c| data.get(&c.id))
        .map(|r| r.step_ms)
        .next_back()
        .unwrap_or(range.len_ms().max(1));
    charts.push(
        ChartSpec::new(
            "Lag in seconds per partition (time since the log end stood at the committed offset)",
            format!("{}?{}", group_path(&cluster, &group), range.query()),
            CHART,
            (range.from, range.to),
            ValueFormat::new(
                crate::catalogue::Unit::Seconds,
                crate::model::MetricKind::Gauge,
            ),
            seconds_lines,
        )
        .ghosts(seconds_ghosts, range.compare.as_ref())
        .events(marks.clone())
        .bands(false)
        .render(),
    );

    // Consume rate against produce rate.
    let committed_ranges: Vec<&SeriesRange> = committed_infos
        .iter()
        .filter_map(|i| data.get(&i.id))
        .collect();
    let log_end_ranges: Vec<&SeriesRange> = log_end_infos
        .iter()
        .filter_map(|i| data.get(&i.id))
        .collect();
    let rate_lines = vec![
        SeriesData::from_values(
            "consumed (committed offsets)",
            &summed_rate(&committed_ranges),
            step,
        ),
        SeriesData::from_values("produced (log ends)", &summed_rate(&log_end_ranges), step),
    ];
    // The same sums over the earlier window when the page compares.
    let earlier = |infos: &[SeriesInfo]| -> Vec<&SeriesRange> {
        infos.iter().filter_map(|i| data.ghost.get(&i.id)).collect()
    };
    let rate_ghosts = vec![
        SeriesData::from_values(
            "consumed (committed offsets)",
            &summed_rate(&earlier(&committed_infos)),
            step,
        ),
        SeriesData::from_values(
            "produced (log ends)",
            &summed_rate(&earlier(&log_end_infos)),
            step,
        ),
    ];
    charts.push(
        ChartSpec::new(
            "Consume rate vs produce rate (messages/s)",
            metric_link(&selector_text(&[COMMITTED], &labels), &range),
            CHART,
            (range.from, range.to),
            ValueFormat::plain(),
            rate_lines,
        )
        .ghosts(rate_ghosts, range.compare.as_ref())
        .events(marks.clone())
        .bands(false)
        .render(),
    );

    let partitions = e
        .status
        .partitions
        .iter()
        .map(|p| PartRow {
            topic: p.topic.clone(),
            partition: p.partition,
            owner: p.owner.clone(),
            client_id: p.client_id.clone(),
            status: p.status,
            reason: p.reason.clone(),
            current_lag: p.current_lag,
            seconds: seconds_text(
                e.seconds
                    .get(&(p.topic.clone(), p.partition))
                    .copied()
                    .flatten(),
            ),
            complete: format!("{}/{}", p.window.len(), intervals),
            retention: p.retention.map_or_else(|| "–".into(), |r| r.text()),
            log_range: p.retention.map_or_else(
                || "no earliest offset stored for this partition".into(),
                |r| format!("offsets {}..{} kept by the broker", r.log_start, r.log_end),
            ),
            data_lost: p.retention.is_some_and(|r| r.lost > 0),
            window: p
                .window
                .iter()
                .map(|o| WindowRow {
                    time: utc(o.timestamp),
                    offset: o.offset,
                    lag: o.lag.map_or_else(|| "–".into(), |l| l.to_string()),
                })
                .collect(),
        })
        .collect();
    let doc = e.data.doc.as_ref();
    let members = doc
        .map(|d| {
            d.members
                .iter()
                .map(|m| MemberRow {
                    member_id: m.member_id.clone(),
                    client_id: m.client_id.clone(),
                    host: m.client_host.clone(),
                    assignments: m
                        .assignments
                        .iter()
                        .map(|a| {
                            let ps: Vec<String> = a.partitions.iter().map(i32::to_string).collect();
                            format!("{} [{}]", a.topic, ps.join(", "))
                        })
                        .collect::<Vec<_>>()
                        .join(" · "),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = GroupPage {
        page: PageCtx::new(
            &ctx,
            format!("{group} · {cluster}"),
            "consumers",
            group_path(&cluster, &group),
            range.clone(),
        )
        .in_cluster(&cluster),
        status: e.status.status,
        complete: format!("{:.0} %", e.status.complete * 100.0),
        inferred: e.inferred(),
        commits_source: e
            .data
            .commits
            .map_or("unknown (no group document)", |c| c.as_str())
            .to_string(),
        state: e.data.state.clone().unwrap_or_else(|| "–".into()),
        members_count: e.data.members.map_or_else(|| "–".into(), |m| m.to_string()),
        generation: doc
            .and_then(|d| d.generation)
            .map_or_else(|| "–".into(), |g| g.to_string()),
        protocol: doc
            .map(|d| {
                format!("{} {}", d.protocol_type, d.protocol)
                    .trim()
                    .to_string()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "–".into()),
        total_lag: format_number(e.status.totallag as f64),
        max_seconds: seconds_text(e.max_seconds),
        direction: e
            .direction
            .map_or_else(|| "–".into(), |d| format!("{} {}", d.arrow(), d.as_str())),
        rates: e.rates.map_or_else(
            || "–".into(),
            |r| {
                format!(
                    "consumed {} · produced {}",
                    rate_text(r.consume),
                    rate_text(r.produce)
                )
            },
        ),
        eta: match (e.eta_s, e.status.totallag) {
            (_, 0) => "no lag".into(),
            (Some(s), _) => human_ms((s * 1000.0) as i64),
            (None, _) => "not draining at the current rates".into(),
        },
        evidence: e.status.evidence.clone(),
        charts,
        partitions,
        members,
        events: own.iter().take(50).map(EventRow::new).collect(),
        cluster,
        group,
    };
    Ok(Html(page.render()?))
}
