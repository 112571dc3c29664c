//! What a page knows of the stored data while it resolves its time range: since when the
//! collector has been writing (so that a young installation's default range fits its data, and
//! pages say "collecting since 06:14"), and each cluster's configured sample interval (so that a
//! counter's rate over a partial bucket is exact however little data there is).
//!
//! A middleware in front of the pages computes it (at most every few seconds; one read of the
//! `up` series) and runs the handler inside a task-local scope, where `RangeQuery::resolve`
//! (`web::pages`) picks it up into the [`TimeRange`](super::timerange::TimeRange). Handlers need
//! no extra argument, and a range
//! resolved outside a request (tests, tools) simply has no data context.

use super::Ctx;
use super::timerange::DEFAULT_RANGE;
use crate::model::{SeriesKey, Timestamp, now_ms};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};

/// How long a computed context is reused.
const REUSE_MS: i64 = 5_000;
/// Bucket width of the probe for where collection starts (the precision of "collecting since").
const PROBE_STEP_MS: i64 = 60_000;

tokio::task_local! {
    static CURRENT: Arc<DataContext>;
}

/// See the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataContext {
    /// When it was computed.
    pub at: Timestamp,
    /// The start of the default range ([`DEFAULT_RANGE`]) before `at`.
    pub window_from: Timestamp,
    /// The first minute with an `up` sample (every scrape attempt writes one) within the default
    /// range, when that is after the range's start: collection started (or resumed) then.
    pub collecting_since: Option<Timestamp>,
    /// Configured sample interval per cluster, in ms.
    pub intervals: Vec<(String, i64)>,
    /// Each target's own interval (a source section may set one), with the labels its series
    /// carry: (cluster, `target` label of its own series, identity labels, interval ms).
    pub targets: Vec<(String, String, crate::model::Labels, i64)>,
    /// The interval of series of no configured cluster.
    pub default_interval_ms: i64,
}

impl DataContext {
    /// The context of the request being handled, if any.
    pub fn current() -> Option<Arc<DataContext>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// The configured sample interval of a series: its target's (the target whose `up` it is,
    /// or whose identity labels it carries), else its cluster's, else the collector's default.
    pub fn interval_of(&self, key: &SeriesKey) -> i64 {
        let cluster = key.labels.get("cluster");
        let own = self.targets.iter().find(|(c, target, identity, _)| {
            Some(c.as_str()) == cluster
                && (key.labels.get("target") == Some(target.as_str())
                    || !identity.is_empty()
                        && identity.iter().all(|(k, v)| key.labels.get(k) == Some(v)))
        });
        if let Some((_, _, _, ms)) = own {
            return *ms;
        }
        cluster
            .and_then(|c| self.intervals.iter().find(|(name, _)| name == c))
            .map_or(self.default_interval_ms, |(_, ms)| *ms)
    }
}

/// The cached context of a server.
#[derive(Default)]
pub(crate) struct ContextCache(Mutex<Option<Arc<DataContext>>>);

impl ContextCache {
    async fn get(&self, ctx: &Ctx) -> Arc<DataContext> {
        let now = now_ms();
        if let Some(c) = self.0.lock().ok().and_then(|g| g.clone())
            && now - c.at < REUSE_MS
            && now >= c.at
        {
            return c;
        }
        let fresh = Arc::new(compute(ctx, now).await);
        if let Ok(mut g) = self.0.lock() {
            *g = Some(fresh.clone());
        }
        fresh
    }
}

async fn compute(ctx: &Ctx, now: Timestamp) -> DataContext {
    let window = crate::duration::parse_i64_ms(DEFAULT_RANGE).unwrap_or(86_400_000);
    let window_from = now - window;
    let ms = |d: std::time::Duration| d.as_millis().min(i64::MAX as u128) as i64;
    let c = &ctx.config;
    DataContext {
        at: now,
        window_from,
        collecting_since: collecting_since(ctx, window_from, now).await,
        intervals: c
            .clusters
            .iter()
            .map(|cl| (cl.name.clone(), ms(cl.interval(&c.collector))))
            .collect(),
        default_interval_ms: ms(c.collector.interval.0),
        targets: ctx
            .targets
            .snapshot()
            .into_iter()
            .map(|t| (t.cluster, t.target, t.identity, t.interval_ms))
            .collect(),
    }
}

/// The first minute with an `up` sample in `[from, now]`, when that is more than a probe step
/// after `from`.
async fn collecting_since(ctx: &Ctx, from: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let ids: Vec<_> = ctx
        .store
        .select(Some("up"), &[])
        .into_iter()
        .map(|i| i.id)
        .collect();
    if ids.is_empty() {
        return None;
    }
    let ranges = match ctx
        .store
        .query_range_step(&ids, from, now, PROBE_STEP_MS, None)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "Reading the up series to find where collection starts failed.");
            return None;
        }
    };
    let first = ranges
        .iter()
        .filter_map(|r| r.buckets.first())
        .map(|b| b.ts)
        .min()?;
    (first > from + PROBE_STEP_MS).then_some(first)
}

/// Paths that are no page (they resolve no range).
fn is_page(path: &str) -> bool {
    !["/api/", "/static/", "/healthz", "/metrics"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Runs a page handler with the data context in scope.
pub(crate) async fn scope(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    if !is_page(req.uri().path()) {
        return next.run(req).await;
    }
    let data = ctx.data_context.get(&ctx).await;
    CURRENT.scope(data, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    #[test]
    fn a_series_gets_its_clusters_interval_or_the_default() {
        let c = DataContext {
            intervals: vec![("a".into(), 10_000), ("b".into(), 30_000)],
            default_interval_ms: 15_000,
            ..Default::default()
        };
        let key = |cluster: &str| SeriesKey::new("x", Labels::from_pairs([("cluster", cluster)]));
        assert_eq!(c.interval_of(&key("b")), 30_000);
        assert_eq!(c.interval_of(&key("zz")), 15_000);
        assert_eq!(c.interval_of(&SeriesKey::new("x", Labels::new())), 15_000);
        assert!(DataContext::current().is_none(), "no request, no context");
    }

    #[test]
    fn a_target_with_its_own_interval_keeps_it() {
        let node = Labels::from_pairs([("job", "node"), ("instance", "h:9100")]);
        let c = DataContext {
            intervals: vec![("a".into(), 15_000)],
            default_interval_ms: 15_000,
            targets: vec![("a".into(), "http://h:9100/metrics".into(), node, 60_000)],
            ..Default::default()
        };
        let series = SeriesKey::new(
            "node_load1",
            Labels::from_pairs([("cluster", "a"), ("job", "node"), ("instance", "h:9100")]),
        );
        assert_eq!(c.interval_of(&series), 60_000, "its endpoint's interval");
        let up = SeriesKey::new(
            "up",
            Labels::from_pairs([("cluster", "a"), ("target", "http://h:9100/metrics")]),
        );
        assert_eq!(c.interval_of(&up), 60_000, "the endpoint's own up series");
        let other = SeriesKey::new("zk_znode_count", Labels::from_pairs([("cluster", "a")]));
        assert_eq!(c.interval_of(&other), 15_000, "the cluster's");
    }

    #[test]
    fn only_pages_get_a_context() {
        assert!(is_page("/") && is_page("/zookeeper/lab") && is_page("/metric"));
        assert!(!is_page("/api/v1/query") && !is_page("/static/app.css") && !is_page("/metrics"));
    }
}
