//! `/consumers`: every consumer group of every Kafka cluster at the end of the range — Burrow
//! status, state, members, total and max lag, max lag in seconds, direction, drain ETA and a
//! 24 h lag sparkline — worst first, or sorted by `?sort=`.

use super::{Evaluated, evaluate, group_path, kafka_clusters, rate_text, seconds_text};
use crate::lag::Status;
use crate::lag::evaluator::human_ms;
use crate::lag::storage::{Docs, LAG_SUM};
use crate::model::{Matcher, Timestamp};
use crate::store::SeriesId;
use crate::web::Ctx;
use crate::web::chart::{SeriesData, Sparkline};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, format_number};
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::{RangeQuery, fetch_ranges_points, selector_text};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::{BTreeMap, HashMap};

/// The sparkline's span, ending at the range's end.
const SPARK_MS: i64 = 24 * 3_600_000;
/// Hourly points: the 1 h tier answers (one bucket per hour and series), the cheapest read.
const SPARK_POINTS: usize = 24;
/// Rows a page of the table shows by default (`&per=` changes it): every row shown gets its
/// sparkline, and a page of 2,000 rows would be 1.5 MB of HTML.
pub const PAGE_ROWS: usize = 200;
/// The most rows `&per=` may ask for.
const MAX_PAGE_ROWS: usize = 5_000;
/// Groups of a cluster up to which the list reads every group's document.
const EACH_DOC_UP_TO: usize = 200;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub sort: Option<String>,
    /// 1-based page of the sorted table.
    pub page: Option<usize>,
    /// Rows per page.
    pub per: Option<usize>,
}

/// Which rows of the sorted table a request shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    pub page: usize,
    pub per: usize,
}

impl Paging {
    pub fn parse(page: Option<usize>, per: Option<usize>) -> WebResult<Paging> {
        let per = per.unwrap_or(PAGE_ROWS);
        if !(1..=MAX_PAGE_ROWS).contains(&per) {
            return Err(WebError::BadRequest(format!(
                "per: {per} rows per page is not between 1 and {MAX_PAGE_ROWS}"
            )));
        }
        let page = page.unwrap_or(1);
        if page == 0 {
            return Err(WebError::BadRequest("page: pages start at 1".into()));
        }
        Ok(Paging { page, per })
    }

    /// The pages `total` rows fill (at least one, so an empty table has page 1).
    pub fn pages(self, total: usize) -> usize {
        total.div_ceil(self.per).max(1)
    }

    /// The index range of this page's rows, or an error naming the last page.
    pub fn rows(self, total: usize) -> WebResult<std::ops::Range<usize>> {
        if self.page > self.pages(total) {
            return Err(WebError::BadRequest(format!(
                "page: {} is past the last page, {} ({total} groups, {} per page)",
                self.page,
                self.pages(total),
                self.per
            )));
        }
        let start = (self.page - 1) * self.per;
        Ok(start..(start + self.per).min(total))
    }
}

/// How the table is ordered: worst status first (then most lag) by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Status,
    Group,
    Lag,
    Seconds,
    Eta,
    Members,
    Retention,
}

impl Sort {
    pub const ALL: [(Sort, &'static str); 7] = [
        (Sort::Status, "status"),
        (Sort::Group, "group"),
        (Sort::Lag, "lag"),
        (Sort::Seconds, "seconds"),
        (Sort::Eta, "eta"),
        (Sort::Members, "members"),
        (Sort::Retention, "retention"),
    ];

    pub fn parse(text: Option<&str>) -> WebResult<Sort> {
        match text {
            None | Some("") => Ok(Sort::Status),
            Some(t) => Sort::ALL
                .iter()
                .find(|(_, name)| *name == t)
                .map(|(s, _)| *s)
                .ok_or_else(|| {
                    WebError::BadRequest(format!(
                        "sort: {t:?} is not one of {}",
                        Sort::ALL.map(|(_, n)| n).join(", ")
                    ))
                }),
        }
    }

    pub fn name(self) -> &'static str {
        Sort::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("status", |(_, n)| n)
    }
}

/// One row of the table.
pub struct Row {
    pub cluster: String,
    pub group: String,
    pub link: String,
    pub status: Status,
    pub inferred: bool,
    pub reason: String,
    pub state: String,
    pub members: String,
    pub partitions: usize,
    pub total_lag: u64,
    pub max_lag: u64,
    pub max_seconds: f64,
    pub max_seconds_text: String,
    pub direction: String,
    pub direction_class: &'static str,
    pub rates: String,
    pub eta_s: Option<f64>,
    pub eta: String,
    /// The partition closest to losing data: its share of retention left to read (and records
    /// already lost), which partition, and the rank the column sorts by.
    pub retention: String,
    pub retention_of: String,
    pub retention_rank: f64,
    pub data_lost: bool,
    pub spark: Option<Sparkline>,
}

impl Row {
    fn new(e: &Evaluated, range: &TimeRange) -> Row {
        let worst = e.worst_retention();
        // Thresholds and lost data first: they are what Burrow's rules do not say.
        let reason = e
            .status
            .evidence
            .iter()
            .cloned()
            .chain(Some(e.worst_reason()).filter(|r| !r.is_empty()))
            .collect::<Vec<_>>()
            .join(" · ");
        Row {
            cluster: e.cluster.clone(),
            group: e.data.group.clone(),
            link: format!(
                "{}?{}",
                group_path(&e.cluster, &e.data.group),
                range.query()
            ),
            status: e.status.status,
            inferred: e.inferred(),
            reason,
            state: e.data.state.clone().unwrap_or_else(|| "–".into()),
            members: e.data.members.map_or_else(|| "–".into(), |m| m.to_string()),
            partitions: e.status.partition_count,
            total_lag: e.status.totallag,
            max_lag: e.status.maxlag.as_ref().map_or(0, |m| m.current_lag),
            max_seconds: e.max_seconds.map_or(-1.0, |s| s.value()),
            max_seconds_text: seconds_text(e.max_seconds),
            direction: e
                .direction
                .map_or_else(|| "–".into(), |d| format!("{} {}", d.arrow(), d.as_str())),
            direction_class: e.direction.map_or("", |d| d.as_str()),
            rates: e.rates.map_or_else(String::new, |r| {
                format!(
                    "consumed {} · produced {}",
                    rate_text(r.consume),
                    rate_text(r.produce)
                )
            }),
            eta_s: e.eta_s,
            eta: match (e.eta_s, e.status.totallag) {
                (_, 0) => "–".into(),
                (Some(s), _) => human_ms((s * 1000.0) as i64),
                (None, _) => "not draining".into(),
            },
            retention: worst.map_or_else(|| "–".into(), |(_, r)| r.text()),
            retention_of: worst.map_or_else(String::new, |(p, r)| {
                format!(
                    "{} [{}]: committed {} in a log of {}..{}",
                    p.topic,
                    p.partition,
                    p.end.map_or(0, |o| o.offset),
                    r.log_start,
                    r.log_end
                )
            }),
            retention_rank: worst.map_or(-1.0, |(_, r)| r.rank()),
            data_lost: worst.is_some_and(|(_, r)| r.lost > 0),
            spark: None,
        }
    }

    pub fn total_text(&self) -> String {
        format_number(self.total_lag as f64)
    }

    pub fn max_text(&self) -> String {
        format_number(self.max_lag as f64)
    }
}

fn sort_rows(rows: &mut [Row], sort: Sort) {
    let worst = |a: &Row, b: &Row| {
        b.status
            .cmp(&a.status)
            .then(b.total_lag.cmp(&a.total_lag))
            .then_with(|| (&a.cluster, &a.group).cmp(&(&b.cluster, &b.group)))
    };
    match sort {
        Sort::Status => rows.sort_by(worst),
        Sort::Group => rows.sort_by(|a, b| (&a.group, &a.cluster).cmp(&(&b.group, &b.cluster))),
        Sort::Lag => rows.sort_by(|a, b| b.total_lag.cmp(&a.total_lag).then_with(|| worst(a, b))),
        Sort::Seconds => rows.sort_by(|a, b| {
            b.max_seconds
                .total_cmp(&a.max_seconds)
                .then_with(|| worst(a, b))
        }),
        // Longest drain first; groups that do not drain (with lag) before all of them.
        Sort::Eta => rows.sort_by(|a, b| {
            let key = |r: &Row| match (r.total_lag, r.eta_s) {
                (0, _) => -1.0,
                (_, None) => f64::INFINITY,
                (_, Some(s)) => s,
            };
            key(b).total_cmp(&key(a)).then_with(|| worst(a, b))
        }),
        Sort::Members => rows.sort_by(|a, b| a.members.cmp(&b.members).then_with(|| worst(a, b))),
        // Lost data first, then the largest share of retention left to read.
        Sort::Retention => rows.sort_by(|a, b| {
            b.retention_rank
                .total_cmp(&a.retention_rank)
                .then_with(|| worst(a, b))
        }),
    }
}

#[derive(Template)]
#[template(path = "consumers/list.html")]
pub struct ListPage {
    pub page: PageCtx,
    /// This page's rows.
    pub rows: Vec<Row>,
    pub sort: Sort,
    pub clusters: usize,
    pub counts: Vec<(Status, usize)>,
    pub any_inferred: bool,
    /// Groups over all pages, and the 1-based number of this page's first row.
    pub total: usize,
    pub first: usize,
    pub paging: Paging,
    /// Burrow's window length and the number of `[lag]` thresholds, for the explanation.
    pub intervals: usize,
    pub thresholds: usize,
}

impl ListPage {
    pub fn sort_href(&self, name: &str) -> String {
        format!("/consumers{}&sort={name}", self.page.rq())
    }

    /// Page `n` of the table in the same order and range.
    pub fn page_href(&self, n: usize) -> String {
        let mut q = format!("/consumers{}", self.page.rq());
        if self.sort != Sort::Status {
            q.push_str(&format!("&sort={}", self.sort.name()));
        }
        if self.paging.per != PAGE_ROWS {
            q.push_str(&format!("&per={}", self.paging.per));
        }
        q.push_str(&format!("&page={n}"));
        q
    }

    pub fn pages(&self) -> usize {
        self.paging.pages(self.total)
    }

    /// The last row number of this page.
    pub fn last(&self) -> usize {
        self.first + self.rows.len().saturating_sub(1)
    }

    pub fn sort_class(&self, name: &str) -> &'static str {
        if self.sort.name() == name {
            "sorted"
        } else {
            ""
        }
    }
}

/// Sums the lag-sum series of each group into one 24 h sparkline.
async fn sparklines(
    ctx: &Ctx,
    cluster: &str,
    groups: &[String],
    to: Timestamp,
) -> WebResult<HashMap<String, Sparkline>> {
    let wanted: std::collections::BTreeSet<&str> = groups.iter().map(String::as_str).collect();
    let mut ids_of: BTreeMap<&str, Vec<SeriesId>> = BTreeMap::new();
    ctx.store
        .visit(Some(LAG_SUM), &[Matcher::eq("cluster", cluster)], |i| {
            if let Some(g) = i.key.labels.get("consumergroup")
                && let Some(g) = wanted.get(g)
            {
                ids_of.entry(g).or_default().push(i.id);
            }
        });
    let ids: Vec<SeriesId> = ids_of.values().flatten().copied().collect();
    let range = TimeRange::fixed(to - SPARK_MS, to);
    let data = fetch_ranges_points(ctx, &ids, &range, SPARK_POINTS).await?;
    let mut out = HashMap::new();
    for (g, ids) in ids_of {
        let mut sum: BTreeMap<Timestamp, f64> = BTreeMap::new();
        let mut step = 1;
        for id in ids {
            if let Some(r) = data.get(&id) {
                step = r.step_ms;
                for b in &r.buckets {
                    *sum.entry(b.ts).or_insert(0.0) += b.last;
                }
            }
        }
        if sum.is_empty() {
            continue;
        }
        let values: Vec<(Timestamp, f64)> = sum.into_iter().collect();
        let s = SeriesData::from_values(format!("{g} lag"), &values, step);
        let link = metric_link(
            &format!(
                "sum({})",
                selector_text(&[LAG_SUM], &[("cluster", cluster), ("consumergroup", g)])
            ),
            &range,
        );
        out.insert(
            g.to_string(),
            Sparkline::sized(
                &s,
                range.from,
                range.to,
                ValueFormat::plain(),
                link,
                (120, 24),
            ),
        );
    }
    Ok(out)
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<ListQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let sort = Sort::parse(q.sort.as_deref())?;
    let paging = Paging::parse(q.page, q.per)?;
    let clusters = kafka_clusters(&ctx);
    let settings = super::lag_settings(&ctx)?;
    let mut rows = Vec::new();
    for cluster in &clusters {
        let groups = crate::lag::storage::groups(&ctx.store, cluster);
        // Owners, members and state from each group's document while that stays cheap; past
        // that, from the series (one document tells the cluster's commits source).
        let docs = if groups.len() <= EACH_DOC_UP_TO {
            Docs::Each
        } else {
            Docs::ClusterMode
        };
        let evaluated = evaluate(&ctx, cluster, Some(groups), range.to, docs).await?;
        rows.extend(evaluated.iter().map(|e| Row::new(e, &range)));
    }
    sort_rows(&mut rows, sort);
    let counts = [Status::Err, Status::Warn, Status::Ok]
        .into_iter()
        .map(|s| (s, rows.iter().filter(|r| r.status == s).count()))
        .collect();
    let any_inferred = rows.iter().any(|r| r.inferred);
    // The export has every row; the page shows one page of them.
    crate::web::export::offer_table("consumers", || export_table(&rows));
    let total = rows.len();
    let shown = paging.rows(total)?;
    let first = shown.start + 1;
    let mut rows: Vec<Row> = rows.drain(shown).collect();
    // Sparklines for the rows shown (reading 24 h of every group of a large cluster costs more
    // than the rest of the page).
    let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        wanted
            .entry(r.cluster.clone())
            .or_default()
            .push(r.group.clone());
    }
    for (cluster, groups) in wanted {
        let mut sparks = sparklines(&ctx, &cluster, &groups, range.to).await?;
        for r in rows.iter_mut() {
            if r.cluster == cluster {
                r.spark = sparks.remove(&r.group);
            }
        }
    }
    let page = ListPage {
        page: PageCtx::new(&ctx, "Consumer groups", "consumers", "/consumers", range)
            .keep(
                "sort",
                if sort == Sort::Status {
                    ""
                } else {
                    sort.name()
                },
            )
            .keep(
                "per",
                &if paging.per == PAGE_ROWS {
                    String::new()
                } else {
                    paging.per.to_string()
                },
            )
            .keep(
                "page",
                &if paging.page == 1 {
                    String::new()
                } else {
                    paging.page.to_string()
                },
            ),
        rows,
        sort,
        clusters: clusters.len(),
        counts,
        any_inferred,
        total,
        first,
        paging,
        intervals: settings.eval.intervals,
        thresholds: settings.thresholds.len(),
    };
    Ok(Html(page.render()?))
}

/// The groups table for `&format=csv|json&table=consumers` (see [`crate::web::export`]).
fn export_table(rows: &[Row]) -> crate::web::export::Table {
    use crate::web::export::{Cell as C, Table};
    let mut t = Table::new(
        "consumers",
        vec![
            "cluster",
            "group",
            "status",
            "reason",
            "state",
            "members",
            "partitions",
            "total_lag",
            "max_lag",
            "max_lag_seconds",
            "direction",
            "rates",
            "drain_eta_seconds",
        ],
    );
    for r in rows {
        t.row(vec![
            r.cluster.as_str().into(),
            r.group.as_str().into(),
            r.status.to_string().into(),
            r.reason.as_str().into(),
            r.state.as_str().into(),
            r.members.as_str().into(),
            C::from(r.partitions as f64),
            C::from(r.total_lag as f64),
            C::from(r.max_lag as f64),
            C::from(r.max_seconds),
            r.direction.as_str().into(),
            r.rates.as_str().into(),
            C::from(r.eta_s),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_names_round_trip_and_unknown_ones_are_refused() {
        for (s, name) in Sort::ALL {
            assert_eq!(Sort::parse(Some(name)).unwrap(), s);
            assert_eq!(s.name(), name);
        }
        assert_eq!(Sort::parse(None).unwrap(), Sort::Status);
        let err = Sort::parse(Some("colour")).unwrap_err().to_string();
        assert!(err.contains("status, group, lag"), "{err}");
        assert!(err.contains("retention"), "{err}");
    }

    #[test]
    fn paging_splits_the_rows_and_names_the_last_page() {
        let p = Paging::parse(None, None).unwrap();
        assert_eq!(
            p,
            Paging {
                page: 1,
                per: PAGE_ROWS
            }
        );
        assert_eq!(p.rows(0).unwrap(), 0..0, "an empty table has a page 1");
        let p = Paging::parse(Some(3), Some(2)).unwrap();
        assert_eq!(p.pages(5), 3);
        assert_eq!(p.rows(5).unwrap(), 4..5);
        let err = Paging::parse(Some(4), Some(2))
            .unwrap()
            .rows(5)
            .unwrap_err();
        assert!(err.to_string().contains("last page, 3"), "{err}");
        assert!(Paging::parse(Some(0), None).is_err());
        let err = Paging::parse(None, Some(0)).unwrap_err().to_string();
        assert!(err.contains("per"), "{err}");
        assert!(Paging::parse(None, Some(MAX_PAGE_ROWS + 1)).is_err());
    }
}
